//! The IDX reader on arbitrary bytes: it may refuse them, never panic or over-allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = data;
    let _ = spurion::data::idx::parse(&mut reader, std::path::Path::new("fuzz-input"));
});
