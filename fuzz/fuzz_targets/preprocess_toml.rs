//! The ONNX preprocessing file parser on arbitrary text: it may refuse it, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = spurion::model::OnnxSettings::parse_toml(text, std::path::Path::new("fuzz.toml"));
    }
});
