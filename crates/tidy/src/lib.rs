//! Repository hygiene checks in the manner of rust-analyzer's `tidy`: run by
//! `cargo test` (see `tests/tidy.rs`), they keep the rules of `ARCHITECTURE.md`
//! true as the code changes. The library itself is empty.
