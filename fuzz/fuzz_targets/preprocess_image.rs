//! The path an ONNX model's input takes: preprocessing settings (TOML) and image bytes in,
//! the model's input values out. Input: the TOML text, a zero byte, then the image file.
//! It may refuse anything; it must never panic, hang, or allocate beyond its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spurion::model::{OnnxSettings, Preprocess};

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let path = std::path::Path::new("fuzz.toml");
    let Ok(settings) = OnnxSettings::parse_toml(text, path) else {
        return;
    };
    let Ok(pre) = Preprocess::from_settings(&settings) else {
        return;
    };
    if let Ok(values) = pre.image_bytes_to_input(&data[split + 1..]) {
        let channels = if settings.channels == Some(spurion::model::Channels::Gray) {
            1
        } else {
            3
        };
        assert_eq!(values.len(), channels * pre.height * pre.width);
    }
});
