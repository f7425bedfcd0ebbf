//! Write-once cells for the evaluator: a thunk's pending work, then its value
//! or failure, under one atomic state byte ([`Lazy`]), and a slot filled once
//! ([`SetOnce`]).
//!
//! `std::sync::OnceLock` costs two atomic read-modify-writes and an
//! out-of-line call to be set, and cannot hold the pending work beside the
//! value (an evaluator kept it in a separate box, one more allocation per
//! thunk). A [`Lazy`] holds either in one union: claiming the work is one
//! compare-and-swap, publishing the value one release store, reading it one
//! acquire load. A claim made while another runs is refused, not waited
//! for, which is how the evaluator reports infinite recursion.
//!
//! ```
//! use nixkit_once::{Lazy, Unclaimed};
//!
//! let cell: Lazy<u32, String, String> = Lazy::new(21);
//! let (claim, work) = cell.claim().ok().unwrap();
//! // While it runs, a second claim is refused (a black hole).
//! assert!(matches!(cell.claim(), Err(Unclaimed::Running)));
//! assert_eq!(claim.finish((work * 2).to_string()), "42");
//! assert_eq!(cell.get().map(String::as_str), Some("42"));
//! ```
//!
//! The crate's only `unsafe` is in `lazy.rs`, each block justified by the
//! state protocol described there.

mod lazy;

pub use lazy::{Claim, Claimed, Lazy, Unclaimed};

/// A slot filled once, by whichever thread comes first ([`Lazy::set`]) and
/// read with one acquire load ([`Lazy::get`]).
pub type SetOnce<T> = Lazy<std::convert::Infallible, T, std::convert::Infallible>;
