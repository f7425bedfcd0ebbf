//! A per-thread cache of freed small blocks in front of mimalloc, one LIFO
//! list per size class of 8 to [`MAX_SMALL`] bytes.
//!
//! Rust tells `dealloc` the size of the block it frees, so a small block can
//! go back to a list of its class without the lookup `mi_free` makes (the
//! page of the pointer, the owning thread), and the next allocation of that
//! class takes the block freed last, still in the first-level cache.
//! mimalloc itself makes a freed block reusable only after its page's free
//! list runs out. The evaluator frees most of its thunks and scopes soon
//! after allocating them, so most small allocations are served here.
//!
//! Invariants:
//! - every block in class `c` is a mimalloc block of at least
//!   `class_size(c)` bytes, word aligned (small blocks are always requested
//!   from mimalloc at their class size, and a cached block is only handed
//!   out for a request of its class);
//! - each list holds at most [`CAP`] blocks, so a thread keeps at most
//!   `CAP` blocks of each class away from mimalloc, and gives them all back
//!   when it ends (the cache's destructor); after that destructor has run, and
//!   in a thread whose cache cannot be reached, blocks go straight to
//!   mimalloc;
//! - the cache is only touched by its own thread (a thread-local), so no
//!   synchronisation is needed; a block freed by another thread than the one
//!   that allocated it joins the freeing thread's cache, which is sound for
//!   mimalloc (the block is still allocated as far as mimalloc knows, and
//!   `mi_free` takes blocks from any thread).
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::ptr;

use libmimalloc_sys as mi;

/// Largest size (bytes) served by the cache.
pub(crate) const MAX_SMALL: usize = 64;

/// Granularity of the size classes (every class is a multiple of a word).
const STEP: usize = 8;

/// Number of size classes: 8, 16, ..., [`MAX_SMALL`] bytes.
const CLASSES: usize = MAX_SMALL / STEP;

/// Most blocks kept per class and thread.
const CAP: u32 = 256;

/// A cached block: its first word links to the next one.
struct Free {
    next: *mut Free,
}

/// One thread's lists. It has no destructor of its own, so reaching it never
/// registers one (registering may allocate, and would re-enter the
/// allocator); [`Flush`] gives the blocks back when the thread ends.
struct Cache {
    heads: [*mut Free; CLASSES],
    counts: [u32; CLASSES],
    state: State,
}

/// Whether a thread's cache keeps freed blocks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// No block kept yet: the first one registers [`Flush`].
    New,
    /// Registering [`Flush`]: blocks freed meanwhile go to mimalloc.
    Registering,
    /// Keeping blocks; [`Flush`] will give them back.
    Keeping,
    /// The thread is ending: every block goes to mimalloc.
    Gone,
}

thread_local! {
    static CACHE: UnsafeCell<Cache> = const {
        UnsafeCell::new(Cache {
            heads: [ptr::null_mut(); CLASSES],
            counts: [0; CLASSES],
            state: State::New,
        })
    };
    static FLUSH: Flush = const { Flush };
}

/// Gives a thread's cached blocks back to mimalloc when the thread ends.
struct Flush;

impl Drop for Flush {
    fn drop(&mut self) {
        CACHE.with(|cache| {
            // SAFETY: the cache is this thread's own; nothing else holds a
            // reference to it while this runs (mimalloc does not call back).
            let cache = unsafe { &mut *cache.get() };
            cache.state = State::Gone;
            for head in &mut cache.heads {
                let mut block = std::mem::replace(head, ptr::null_mut());
                while !block.is_null() {
                    // SAFETY: a block in the list is a live mimalloc block
                    // this cache owns (module invariants); its first word
                    // is the link.
                    unsafe {
                        let next = (*block).next;
                        mi::mi_free(block.cast::<c_void>());
                        block = next;
                    }
                }
            }
            cache.counts = [0; CLASSES];
        });
    }
}

/// The class of a small size (`1..=MAX_SMALL`; a size of zero shares the
/// first class).
#[inline(always)]
fn class_of(size: usize) -> usize {
    size.saturating_sub(1) / STEP
}

/// The size of the blocks of class `c`.
#[inline(always)]
fn class_size(c: usize) -> usize {
    (c + 1) * STEP
}

/// A block for `size <= MAX_SMALL` bytes, word aligned: the last one freed
/// of its class on this thread, else a new one from mimalloc.
#[inline(always)]
pub(crate) fn alloc_small(size: usize) -> *mut u8 {
    let c = class_of(size);
    let cached = CACHE.with(|cache| {
        // SAFETY: the cache is this thread's own, and no reference to it
        // outlives this closure (nothing here re-enters the allocator).
        let cache = unsafe { &mut *cache.get() };
        let head = cache.heads[c];
        if !head.is_null() {
            // SAFETY: `head` is a live block of the list (invariants).
            cache.heads[c] = unsafe { (*head).next };
            cache.counts[c] -= 1;
        }
        head
    });
    if !cached.is_null() {
        return cached.cast();
    }
    // SAFETY: mimalloc's malloc takes any size; the class size keeps the
    // invariant that every small block holds its whole class.
    unsafe { mi::mi_malloc(class_size(c)).cast() }
}

/// Frees a block of `size <= MAX_SMALL` bytes from [`alloc_small`].
///
/// # Safety
/// `block` came from [`alloc_small`] with a size of the same class, and is
/// not used after this call.
#[inline(always)]
pub(crate) unsafe fn free_small(block: *mut u8, size: usize) {
    let c = class_of(size);
    // `None` when the cache kept the block, else the cache's state.
    let refused = CACHE.with(|cache| {
        // SAFETY: as in `alloc_small`.
        let cache = unsafe { &mut *cache.get() };
        if cache.state != State::Keeping || cache.counts[c] >= CAP {
            return Some(cache.state);
        }
        let block = block.cast::<Free>();
        // SAFETY: the block is at least a word, word aligned and ours now
        // (the caller's contract).
        unsafe {
            block.write(Free {
                next: cache.heads[c],
            })
        };
        cache.heads[c] = block;
        cache.counts[c] += 1;
        None
    });
    if let Some(state) = refused {
        // SAFETY: a mimalloc block (invariants), freed once (the contract).
        unsafe { mi::mi_free(block.cast::<c_void>()) };
        if state == State::New {
            start_keeping();
        }
    }
}

/// On a thread's first small free: registers [`Flush`], then lets the cache
/// keep blocks. Registering may allocate and free; those calls see
/// [`State::Registering`] and go to mimalloc.
#[cold]
fn start_keeping() {
    let start = CACHE.with(|cache| {
        // SAFETY: as in `alloc_small`; the reference ends with the closure.
        let cache = unsafe { &mut *cache.get() };
        let start = cache.state == State::New;
        if start {
            cache.state = State::Registering;
        }
        start
    });
    if !start {
        return;
    }
    // Reaching `FLUSH` registers its destructor; it fails only while the
    // thread's destructors run, and then the cache stays unused.
    let registered = FLUSH.try_with(|_| ()).is_ok();
    CACHE.with(|cache| {
        // SAFETY: as above.
        let cache = unsafe { &mut *cache.get() };
        if cache.state == State::Registering {
            cache.state = if registered {
                State::Keeping
            } else {
                State::Gone
            };
        }
    });
}
