//! The memory allocator the `nixkit` binary runs on: mimalloc, called the
//! short way, with a per-thread cache of small freed blocks ([`Mimalloc`]),
//! and a helper thread that faults in the allocator's fresh memory ahead of
//! use on an idle core ([`start_prefault`]).
//!
//! ```
//! #[global_allocator]
//! static GLOBAL: nixkit_alloc::Mimalloc = nixkit_alloc::Mimalloc;
//!
//! fn main() {
//!     // Before an allocation-heavy phase (an evaluation); optional.
//!     nixkit_alloc::start_prefault();
//!     let v: Vec<u64> = (0..1000).collect();
//!     assert_eq!(v.iter().sum::<u64>(), 499_500);
//! }
//! ```
//!
//! Both are process-level choices, so they live here rather than in the
//! library crates: an embedder of `nixkit-eval` picks its own allocator.
//! The prefault thread only works with [`Mimalloc`] (it watches mimalloc's
//! arena) and does nothing otherwise.

mod allocator;
mod prefault;
mod thread_cache;

pub use allocator::Mimalloc;
pub use prefault::start as start_prefault;

// The crate's own tests run on the allocator they test.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: Mimalloc = Mimalloc;
