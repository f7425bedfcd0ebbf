//! Properties of the `.drv` ATerm parser, shared by the cargo-fuzz target and the bounded
//! smoke test `cargo test` runs (`crates/derivation/tests/fuzz_smoke.rs`).
#![allow(dead_code)]

use nixkit_derivation::parse_derivation;
use nixkit_store::StoreDir;

/// Any bytes parse to a located error or to a derivation whose ATerm text parses back to
/// the same derivation and prints the same again.
pub(crate) fn derivation(data: &[u8]) {
    let dir = StoreDir::default();
    let Ok(drv) = parse_derivation(&dir, "fuzz", data) else {
        return;
    };
    let Ok(text) = drv.to_aterm(&dir) else {
        return;
    };
    let again = parse_derivation(&dir, "fuzz", text.as_bytes()).expect("printed .drv parses");
    assert_eq!(again, drv);
    assert_eq!(again.to_aterm(&dir).ok(), Some(text));
}
