//! Fuzz target: NAR: parse, restore into a temporary directory and dump back. The properties live in `checks/store.rs`, shared with the
//! bounded smoke tests `cargo test` runs.
#![no_main]

#[path = "../checks/store.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::nar(data));
