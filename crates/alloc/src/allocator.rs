//! [`Mimalloc`]: mimalloc as the global allocator, called the short way for
//! ordinary alignments.
//!
//! The evaluator allocates many small, short-lived objects (thunks, scopes),
//! about 11 million in `e-modules`. The `mimalloc` crate's allocator passes
//! every request through `mi_malloc_aligned`, a chain of three calls that
//! costs about 25 instructions more than `mi_malloc` (callgrind: 46 against
//! about 20 per allocation, 6 % of that run's instructions). Every mimalloc
//! block is aligned to at least a word (its size classes are multiples of 8
//! bytes), so a layout asking for no more than that is served by the plain
//! functions; larger alignments still go through the aligned ones.
//!
//! The `unsafe` here is the `GlobalAlloc` contract, forwarded unchanged to
//! the library: each function receives exactly what Rust's allocator
//! interface gives it and returns what mimalloc returns.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every mimalloc block has.
const WORD: usize = std::mem::size_of::<usize>();

/// mimalloc as the global allocator (see the module documentation).
pub struct Mimalloc;

// SAFETY: mimalloc is a general-purpose, thread-safe allocator; blocks from
// `mi_malloc`/`mi_zalloc`/`mi_realloc` are word aligned, and those from the
// `_aligned` variants have the requested alignment; `mi_free` takes any of
// them. Layouts of size zero are never passed by `GlobalAlloc`'s callers
// for `alloc` (and mimalloc handles them anyway).
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (the caller's contract).
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout` (the caller's
        // contract); the new block keeps the alignment.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The crate's tests run on this allocator; check the alignments
    /// it promises, and that blocks grow and shrink keeping their contents.
    #[test]
    fn blocks_are_aligned_and_keep_their_contents() {
        for size in [1usize, 7, 8, 9, 24, 40, 100, 4096, 1 << 20] {
            let small: Vec<u8> = (0..size).map(|i| i as u8).collect();
            assert_eq!(small.as_ptr() as usize % super::WORD, 0);
            let mut grown = small.clone();
            grown.extend_from_slice(&small);
            assert_eq!(&grown[..size], &small[..]);
            grown.truncate(1);
            grown.shrink_to_fit();
            assert_eq!(grown[0], 0);
        }
        #[repr(align(64))]
        struct Wide([u8; 64]);
        let boxes: Vec<Box<Wide>> = (0..100).map(|_| Box::new(Wide([1; 64]))).collect();
        assert!(boxes
            .iter()
            .all(|b| (&**b as *const Wide as usize) % 64 == 0 && b.0[63] == 1));
        let zeroed = vec![0u64; 1000];
        assert!(zeroed.iter().all(|&x| x == 0));
    }
}
