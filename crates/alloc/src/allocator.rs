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
//! Blocks of up to [`MAX_SMALL`] bytes go through a per-thread cache of
//! freed blocks ([`crate::thread_cache`]) first.
//!
//! The `unsafe` here is the `GlobalAlloc` contract, forwarded unchanged to
//! the library: each function receives exactly what Rust's allocator
//! interface gives it and returns what mimalloc returns.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

use crate::thread_cache::{alloc_small, free_small, MAX_SMALL};

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
                if layout.size() <= MAX_SMALL {
                    return alloc_small(layout.size());
                }
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
                if layout.size() <= MAX_SMALL {
                    let block = alloc_small(layout.size());
                    if !block.is_null() {
                        std::ptr::write_bytes(block, 0, layout.size());
                    }
                    return block;
                }
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with `layout` (the caller's
        // contract), so a small one from `alloc_small` with its size.
        unsafe {
            if layout.align() <= WORD && layout.size() <= MAX_SMALL {
                free_small(ptr, layout.size());
            } else {
                mi::mi_free(ptr.cast::<c_void>())
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout` (the caller's
        // contract); the new block keeps the alignment.
        unsafe {
            if layout.align() <= WORD {
                if layout.size() <= MAX_SMALL || new_size <= MAX_SMALL {
                    // A small block stays in its class: moved by hand.
                    return realloc_small(self, ptr, layout, new_size);
                }
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

/// `realloc` where the old or the new size is small: the same block if both
/// are of one class, else a new block with the contents copied.
///
/// # Safety
/// `GlobalAlloc::realloc`'s contract, with an alignment of at most a word.
#[inline(never)]
unsafe fn realloc_small(a: &Mimalloc, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    let old = layout.size();
    if old <= MAX_SMALL
        && new_size <= MAX_SMALL
        && (old.max(1) - 1) / 8 == (new_size.max(1) - 1) / 8
    {
        return ptr;
    }
    // SAFETY: the new layout is valid (the caller's contract: `new_size`
    // rounded to the alignment does not overflow); `ptr` holds `old` bytes.
    unsafe {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = a.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, old.min(new_size));
            a.dealloc(ptr, layout);
        }
        new
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

    /// Small blocks pass through the thread cache: every size keeps its
    /// contents through growth and shrinking across classes and into large
    /// blocks, blocks freed by another thread are reused safely, and threads
    /// that end give their cached blocks back (nothing here may crash or
    /// read another block's bytes).
    #[test]
    fn small_blocks_keep_their_contents_across_classes_and_threads() {
        for size in 0usize..=80 {
            let mut v: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
            v.shrink_to_fit();
            for grow in [1usize, 8, 9, 57, 100] {
                let mut g = v.clone();
                g.reserve_exact(grow);
                g.extend((0..grow).map(|i| i as u8));
                assert_eq!(&g[..size], &v[..]);
                g.truncate(size / 2);
                g.shrink_to_fit();
                assert_eq!(&g[..], &v[..size / 2]);
            }
        }
        let zeroed: Vec<Box<[u64; 3]>> = (0..1000).map(|_| Box::new([0u64; 3])).collect();
        assert!(zeroed.iter().all(|b| **b == [0, 0, 0]));
        drop(zeroed);
        // Allocated here, freed in other threads (into their caches), which
        // then end; then reused here.
        for _ in 0..4 {
            let blocks: Vec<Box<[u64; 4]>> = (0..2000).map(|i| Box::new([i; 4])).collect();
            std::thread::spawn(move || {
                for (i, b) in blocks.iter().enumerate() {
                    assert_eq!(**b, [i as u64; 4]);
                }
                drop(blocks);
                let mine: Vec<Box<[u64; 4]>> = (0..500).map(|i| Box::new([i; 4])).collect();
                assert!(mine.iter().enumerate().all(|(i, b)| **b == [i as u64; 4]));
            })
            .join()
            .unwrap();
            let again: Vec<Box<[u64; 4]>> = (0..3000).map(|i| Box::new([i + 1; 4])).collect();
            assert!(again
                .iter()
                .enumerate()
                .all(|(i, b)| **b == [i as u64 + 1; 4]));
        }
    }
}
