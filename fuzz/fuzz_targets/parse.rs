//! Fuzz target: parsing arbitrary bytes never panics, and every error is
//! located inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nixkit_syntax::{parse_bytes, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_bytes(data, &ParseOptions::new("/fuzz").with_home("/home"));
    let len = parsed.text().len() as u32;
    for e in parsed.errors() {
        assert!(e.span.start <= len, "error outside the input: {e:?}");
    }
    if parsed.errors().is_empty() {
        let _ = parsed.to_cppnix_string();
    }
});
