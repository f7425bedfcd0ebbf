//! Fuzz target: `.drv` ATerm: parse and print back. The properties live in `checks/drv.rs`, shared with the
//! bounded smoke tests `cargo test` runs.
#![no_main]

#[path = "../checks/drv.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::derivation(data));
