//! The C library's POSIX regular expressions (`regcomp`/`regexec`), the
//! crate's only `unsafe` code.
//!
//! Patterns are compiled with `REG_EXTENDED` and matched with
//! `REG_STARTEND`, so the input is a byte slice (no NUL terminator needed,
//! NUL bytes are ordinary). The process's locale is never changed by nixkit,
//! so the C library runs in the "C" locale: one byte is one character.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::ops::Range;

/// A compiled pattern owned by the C library (freed on drop).
pub(crate) struct Compiled {
    raw: Box<libc::regex_t>,
}

// SAFETY: a `regex_t` holds no thread-bound state: glibc's `regexec` takes
// the pattern's internal lock around the state it mutates, and only `Drop`
// (which has `&mut self`) frees it. So a compiled pattern may move to and be
// matched from any thread.
unsafe impl Send for Compiled {}
// SAFETY: see `Send`: concurrent `regexec` calls on one pattern are
// serialised by glibc itself.
unsafe impl Sync for Compiled {}

impl Compiled {
    /// Compiles `pattern` (already checked and spelled by `syntax`); `None`
    /// when the C library rejects it or it holds a NUL byte.
    pub(crate) fn new(pattern: &[u8]) -> Option<Compiled> {
        let pattern = CString::new(pattern).ok()?;
        let mut raw: Box<MaybeUninit<libc::regex_t>> = Box::new(MaybeUninit::uninit());
        // SAFETY: `raw` points to writable memory for one `regex_t`, and
        // `pattern` is NUL-terminated and outlives the call.
        let rc = unsafe { libc::regcomp(raw.as_mut_ptr(), pattern.as_ptr(), libc::REG_EXTENDED) };
        if rc != 0 {
            // `regcomp` frees what it allocated when it fails.
            return None;
        }
        // SAFETY: `regcomp` returned 0, so it initialised the `regex_t`.
        let raw = unsafe { Box::from_raw(Box::into_raw(raw).cast::<libc::regex_t>()) };
        Some(Compiled { raw })
    }

    /// The leftmost-longest match in `input[start..]` and its groups
    /// (`groups` of them), as byte ranges of `input`. `not_bol`: `^` does
    /// not match at `start` (there is input before it).
    pub(crate) fn find_at(
        &self,
        input: &[u8],
        start: usize,
        not_bol: bool,
        groups: usize,
    ) -> Option<Vec<Option<Range<usize>>>> {
        let so = libc::regoff_t::try_from(start).ok()?;
        let eo = libc::regoff_t::try_from(input.len()).ok()?;
        let mut slots = vec![
            libc::regmatch_t {
                rm_so: -1,
                rm_eo: -1
            };
            groups + 1
        ];
        slots[0] = libc::regmatch_t {
            rm_so: so,
            rm_eo: eo,
        };
        let mut flags = libc::REG_STARTEND;
        if not_bol {
            flags |= libc::REG_NOTBOL;
        }
        // SAFETY: `self.raw` is a compiled pattern; with `REG_STARTEND`
        // glibc reads only `input[slots[0].rm_so..slots[0].rm_eo]` (both
        // within `input`, checked above), and writes at most `slots.len()`
        // entries of `slots`.
        let rc = unsafe {
            libc::regexec(
                &*self.raw,
                input.as_ptr().cast::<libc::c_char>(),
                slots.len(),
                slots.as_mut_ptr(),
                flags,
            )
        };
        if rc != 0 {
            return None;
        }
        Some(
            slots
                .iter()
                .map(|m| {
                    let so = usize::try_from(m.rm_so).ok()?;
                    let eo = usize::try_from(m.rm_eo).ok()?;
                    (so <= eo && eo <= input.len()).then_some(so..eo)
                })
                .collect(),
        )
    }
}

impl Drop for Compiled {
    fn drop(&mut self) {
        // SAFETY: the pattern was compiled by `regcomp` and is freed once.
        unsafe { libc::regfree(&mut *self.raw) };
    }
}
