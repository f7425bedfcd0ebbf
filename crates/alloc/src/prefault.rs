//! Faulting in the allocator's fresh memory on a helper thread.
//!
//! Evaluation allocates fast: `e-modules` touches 180 MiB in 0.7 s. The first
//! write to each fresh 4 KiB page traps into the kernel, which allocates and
//! zeroes a page; on this kind of machine (a VM) that is about 1.3 µs a page,
//! even when pages are faulted in bulk, so 10 % of such a run is spent in the
//! kernel on the evaluating thread. CppNix hides part of its memory
//! management on a second core (parallel marking); this module does the same
//! for page faults: a thread watches the allocator's arena and, a little
//! ahead of where the allocator is writing, asks the kernel to populate the
//! pages (`madvise(MADV_POPULATE_WRITE)`, which never changes what the pages
//! hold). The evaluating thread then finds them ready.
//!
//! How far ahead: mimalloc hands out its arena (one reserved region) from
//! the bottom up, so the allocator's frontier is the highest resident page.
//! The thread looks (`mincore`) for resident pages above the part it has
//! populated; when the allocator has reached past it, it populates up to
//! [`AHEAD`] beyond that frontier and waits again. So at most [`AHEAD`]
//! bytes (plus pages the allocator skipped) are populated and never used:
//! peak memory grows by about that much.
//!
//! It is an optimisation only: any failure (no such arena, a kernel without
//! `MADV_POPULATE_WRITE`, running under valgrind) ends the thread, and the
//! allocator faults its pages itself as before. `NIXKIT_PREFAULT=0` turns it
//! off. The thread checks every 0.2 ms while the process allocates and every
//! 20 ms once it has stopped for a while (waiting on a builder).
//!
//! The thread runs in the idle scheduling class (`SCHED_IDLE`): it only gets
//! a core that would otherwise sit idle, so on a busy machine it takes no
//! time from the evaluation, which then simply faults its own pages.
//!
//! The `unsafe` here: three system calls (on memory the process owns, and
//! on the thread's own scheduling), and one query of the allocator
//! (`mi_arena_area`, from the mimalloc v2 library this crate links).
#![allow(unsafe_code)]

use std::time::Duration;

/// How far beyond the allocator's frontier pages are populated.
const AHEAD: usize = 512 << 10;

/// How much above the populated part is checked for the allocator's pages.
const SCAN: usize = 64 << 20;

/// Pages further below the frontier than this are left to the allocator:
/// the frontier jumped (a new segment), and what it skipped may stay unused.
const BEHIND: usize = 256 << 10;

/// Populate in steps of this size, so that a frontier that moves on while
/// the thread works is seen soon.
const STEP: usize = 256 << 10;

/// The pause between checks while the allocator has not caught up: short
/// enough that the allocator rarely outruns [`AHEAD`] in between (at
/// 300 MB/s it takes 10 ms to use 3 MiB).
const POLL: Duration = Duration::from_micros(200);

/// After this many checks in a row without progress (about 0.2 s), the
/// process has stopped allocating for now: check rarely until it resumes.
const IDLE_POLLS: u32 = 1000;
const IDLE_POLL: Duration = Duration::from_millis(20);

const PAGE: usize = 4096;

/// The largest block the kernel may back anonymous memory with (a
/// transparent huge page).
const FOLIO_MAX: usize = 2 << 20;

extern "C" {
    /// mimalloc (v2, the variant this crate is built with: arena ids are
    /// `int`s there): the start and size of arena `id` (ids count from 1),
    /// or null if there is no such arena.
    fn mi_arena_area(id: libc::c_int, size: *mut usize) -> *mut libc::c_void;
}

/// Starts the helper thread (once per call: call it once per process),
/// unless turned off (`NIXKIT_PREFAULT=0`) or unsupported here.
pub fn start() {
    if !cfg!(target_os = "linux") || std::env::var_os("NIXKIT_PREFAULT").is_some_and(|v| v == "0") {
        return;
    }
    // Starting a thread fails only when the system is out of resources; the
    // optimisation is then simply skipped.
    let _ = std::thread::Builder::new()
        .name("prefault".into())
        .stack_size(128 << 10)
        .spawn(run);
}

/// The allocator's arena with the highest id (the one it fills now).
fn current_arena() -> Option<(usize, usize, libc::c_int)> {
    let mut found = None;
    for id in 1..=64 {
        let mut size = 0usize;
        // SAFETY: a query of the allocator's bookkeeping; `size` is a valid
        // place for the result.
        let start = unsafe { mi_arena_area(id, &mut size) };
        if start.is_null() || size == 0 {
            break;
        }
        found = Some((start as usize, size, id));
    }
    found
}

/// Offset of the highest resident page in `[from, to)` of the arena, if any.
/// (`to - from` is at most [`SCAN`].)
fn highest_resident(
    base: usize,
    from: usize,
    to: usize,
    vec: &mut [u8; SCAN / PAGE],
) -> Result<Option<usize>, ()> {
    let pages = ((to - from) / PAGE).min(vec.len());
    let vec = &mut vec[..pages];
    // SAFETY: `mincore` only reads page tables; the range lies in the
    // arena (mapped by the allocator for the life of the process), is page
    // aligned, and `vec` has one byte per page.
    let rc = unsafe {
        libc::mincore(
            (base + from) as *mut libc::c_void,
            pages * PAGE,
            vec.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(());
    }
    Ok(vec
        .iter()
        .rposition(|b| b & 1 != 0)
        .map(|i| from + i * PAGE))
}

/// Populates `[from, to)` of the arena.
fn populate(base: usize, from: usize, to: usize) -> Result<(), ()> {
    // SAFETY: MADV_POPULATE_WRITE faults pages in as if written, without
    // changing their contents (resident pages are left as they are); the
    // range lies in the arena and is page aligned.
    let rc = unsafe {
        libc::madvise(
            (base + from) as *mut libc::c_void,
            to - from,
            libc::MADV_POPULATE_WRITE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(())
    }
}

/// The helper's state: how far the current arena is populated.
struct Prefaulter {
    arena: Option<libc::c_int>,
    /// Offset below which the current arena is populated (or left to the
    /// allocator).
    done: usize,
    /// `mincore`'s answer, one byte per page. Inline: the helper thread
    /// allocates nothing, so the allocator gives it no heap (and no segment
    /// of its own in the arena to chase).
    residency: [u8; SCAN / PAGE],
}

/// What one [`Prefaulter::step`] did.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Populated `[from, to)` (arena offsets).
    Populated { from: usize, to: usize },
    /// The allocator has not reached past the populated part.
    Idle,
}

/// The helper cannot work here (no arena, or a system call failed).
#[derive(Debug)]
struct Unsupported;

impl Prefaulter {
    fn new() -> Prefaulter {
        Prefaulter {
            arena: None,
            done: 0,
            residency: [0; SCAN / PAGE],
        }
    }

    /// Looks for the allocator's frontier above the populated part and, if
    /// it moved past it, populates up to [`AHEAD`] beyond it.
    fn step(&mut self) -> Result<Step, Unsupported> {
        let (base, size, id) = current_arena().ok_or(Unsupported)?;
        self.step_in(base, size, id)
    }

    /// [`Prefaulter::step`] on the region `[base, base + size)` known as
    /// arena `id`.
    fn step_in(&mut self, base: usize, size: usize, id: libc::c_int) -> Result<Step, Unsupported> {
        if self.arena != Some(id) {
            // A new arena (the previous one is full): start at its bottom.
            self.arena = Some(id);
            self.done = 0;
        }
        let scan_end = (self.done + SCAN).min(size);
        if self.done >= scan_end {
            return Ok(Step::Idle);
        }
        let Some(page) = highest_resident(base, self.done, scan_end, &mut self.residency)
            .map_err(|()| Unsupported)?
        else {
            return Ok(Step::Idle);
        };
        let target = (page + PAGE + AHEAD).min(size);
        let from = self.done.max(page.saturating_sub(BEHIND));
        self.done = from;
        while self.done < target {
            let end = (self.done + STEP).min(target);
            populate(base, self.done, end).map_err(|()| Unsupported)?;
            self.done = end;
        }
        // The kernel may have backed the last pages with a larger folio (a
        // transparent huge page) reaching past `target`: those pages are
        // ours, not the allocator's frontier, or the next look would chase
        // them and populate the whole arena.
        let folio_end = (target + FOLIO_MAX).min(size);
        if target < folio_end {
            if let Some(p) = highest_resident(base, target, folio_end, &mut self.residency)
                .map_err(|()| Unsupported)?
            {
                self.done = p + PAGE;
            }
        }
        Ok(Step::Populated { from, to: target })
    }
}

/// Lowers the calling thread to the idle scheduling class: it runs only on
/// a core with nothing else to do, so on a busy machine it takes no time
/// from the evaluating thread (which then faults its pages itself).
fn become_idle_class() -> Result<(), Unsupported> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: changes the scheduling policy of the calling thread (pid 0);
    // `param` is a valid, initialised parameter block.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Unsupported)
    }
}

fn run() {
    if become_idle_class().is_err() {
        return;
    }
    let mut prefaulter = Prefaulter::new();
    let mut idle = 0u32;
    loop {
        match prefaulter.step() {
            Ok(Step::Populated { .. }) => idle = 0,
            Ok(Step::Idle) => {
                idle = idle.saturating_add(1);
                std::thread::sleep(if idle < IDLE_POLLS { POLL } else { IDLE_POLL });
            }
            Err(Unsupported) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether every page of `[from, to)` (absolute addresses) is resident.
    fn all_resident(from: usize, to: usize) -> bool {
        let mut vec = vec![0u8; (to - from) / PAGE];
        // SAFETY: `mincore` only reads page tables; the range is mapped by
        // the test.
        let rc = unsafe { libc::mincore(from as *mut libc::c_void, to - from, vec.as_mut_ptr()) };
        rc == 0 && vec.iter().all(|b| b & 1 != 0)
    }

    /// A private anonymous mapping standing in for the allocator's arena,
    /// so that nothing else in the process writes to it.
    struct Region {
        base: usize,
        size: usize,
    }

    impl Region {
        fn new(size: usize) -> Region {
            // SAFETY: a fresh private anonymous mapping, unmapped on drop.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            Region {
                base: p as usize,
                size,
            }
        }

        /// Writes a byte at `offset`, as the allocator would.
        fn touch(&self, offset: usize) {
            assert!(offset < self.size);
            // SAFETY: in bounds of the mapping, which is writable.
            unsafe { ((self.base + offset) as *mut u8).write_volatile(1) };
        }
    }

    impl Drop for Region {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `new`, no longer used.
            unsafe { libc::munmap(self.base as *mut libc::c_void, self.size) };
        }
    }

    #[test]
    fn follows_the_frontier_and_stays_just_ahead() {
        let region = Region::new(128 << 20);
        let (base, size) = (region.base, region.size);
        let mut p = Prefaulter::new();
        // Nothing written yet: nothing to do.
        assert_eq!(p.step_in(base, size, 1).ok(), Some(Step::Idle));
        // The "allocator" writes at 5 MiB: populated from just below that
        // page to AHEAD beyond it, and no further.
        let page = 5 << 20;
        region.touch(page + 100);
        match p.step_in(base, size, 1) {
            Ok(Step::Populated { from, to }) => {
                assert_eq!(from, page - BEHIND);
                assert_eq!(to, page + PAGE + AHEAD);
            }
            other => panic!("expected the write to be seen, got {other:?}"),
        }
        assert!(all_resident(
            base + page - BEHIND,
            base + page + PAGE + AHEAD
        ));
        assert!(!all_resident(
            base + page + PAGE + AHEAD,
            base + page + 2 * PAGE + AHEAD
        ));
        // Writes inside the populated part are not progress.
        region.touch(page + AHEAD / 2);
        assert_eq!(p.step_in(base, size, 1).ok(), Some(Step::Idle));
        // A write past it is.
        let later = 40 << 20;
        region.touch(later);
        match p.step_in(base, size, 1) {
            Ok(Step::Populated { from, to }) => {
                assert_eq!((from, to), (later - BEHIND, later + PAGE + AHEAD))
            }
            other => panic!("expected the second write to be seen, got {other:?}"),
        }
        // A new arena starts again from its bottom.
        let other = Region::new(16 << 20);
        other.touch(PAGE);
        match p.step_in(other.base, other.size, 2) {
            Ok(Step::Populated { from, to }) => assert_eq!((from, to), (0, 2 * PAGE + AHEAD)),
            other => panic!("expected the new arena's write to be seen, got {other:?}"),
        }
    }

    #[test]
    fn finds_the_allocators_arena() {
        // The crate's tests run on `Mimalloc` (see lib.rs): its arena exists.
        let (base, size, id) = current_arena().expect("mimalloc v2 has an arena");
        assert!(size > 0 && base % PAGE == 0 && id >= 1);
    }
}
