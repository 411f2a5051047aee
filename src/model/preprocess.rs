//! The preprocessing of an ONNX model's input, resolved: how a probe (RGB, `[0, 1]`, NCHW)
//! becomes the values the model takes (size, channel order, value range, mean and standard
//! deviation, layout, element type).

use super::settings::{Channels, Layout, OnnxSettings};
use crate::data::Images;
use crate::error::{Error, Result};

/// Resolved preprocessing of an ONNX model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocess {
    pub height: usize,
    pub width: usize,
    pub channels: Channels,
    pub layout: Layout,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub range: f32,
}

impl Preprocess {
    /// The preprocessing `settings` ask for at `size`, with `channels` and `layout` already
    /// decided; unset values take their defaults (mean 0, std 1, range 1, or 255 for a
    /// uint8 input). Each bad value names its flag.
    pub fn resolve(
        settings: &OnnxSettings,
        size: [usize; 2],
        channels: Channels,
        layout: Layout,
        input_type: InputType,
    ) -> Result<Self> {
        if size[0] == 0 || size[1] == 0 {
            return Err(Error::param(
                "input-size",
                "height and width must be positive",
            ));
        }
        let n = if channels == Channels::Gray { 1 } else { 3 };
        let preprocess = Preprocess {
            height: size[0],
            width: size[1],
            channels,
            layout,
            mean: per_channel(settings.mean.clone(), n, 0.0, "mean")?,
            std: per_channel(settings.std.clone(), n, 1.0, "std")?,
            // A uint8 input takes pixel values 0-255.
            range: settings.range.unwrap_or(if input_type == InputType::Uint8 {
                255.0
            } else {
                1.0
            }),
        };
        if preprocess.mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::param("mean", "means must be finite numbers"));
        }
        if preprocess.std.iter().any(|&s| s <= 0.0 || !s.is_finite()) {
            return Err(Error::param(
                "std",
                "standard deviations must be finite and positive",
            ));
        }
        if !(preprocess.range > 0.0 && preprocess.range.is_finite()) {
            return Err(Error::param(
                "range",
                "expected a positive number such as 1 or 255",
            ));
        }
        if input_type == InputType::Uint8 {
            let plain = |v: &[f32], x: f32| v.iter().all(|&m| m == x);
            if preprocess.range != 255.0 {
                return Err(Error::param(
                    "range",
                    "the model takes uint8 pixel values (0-255): the range must be 255",
                ));
            }
            if !plain(&preprocess.mean, 0.0) || !plain(&preprocess.std, 1.0) {
                let flag = if plain(&preprocess.mean, 0.0) {
                    "std"
                } else {
                    "mean"
                };
                return Err(Error::param(
                    flag,
                    "the model takes uint8 pixel values (0-255), which --mean and --std \
                     would turn into fractions: leave them out (the model normalises itself)",
                ));
            }
        }
        crate::budget::Budget::of_machine().need(
            "input-size",
            3.0 * size[0] as f64 * size[1] as f64 * crate::budget::F32 * 4.0,
            format!("one {}x{} image", size[0], size[1]),
        )?;
        Ok(preprocess)
    }

    /// The preprocessing a settings file asks for on its own (no model to fill gaps): the
    /// size must be given; channels default to RGB, layout to NCHW, input to float32.
    pub fn from_settings(settings: &OnnxSettings) -> Result<Self> {
        let size = settings.size.ok_or_else(|| {
            Error::param("input-size", "no model to take it from: give it as HxW")
        })?;
        Self::resolve(
            settings,
            size,
            settings.channels.unwrap_or(Channels::Rgb),
            settings.layout.unwrap_or(Layout::Nchw),
            InputType::Float32,
        )
    }

    /// The model's input values for one encoded image (PNG or JPEG bytes): decoded within the
    /// image memory limit, resized, then preprocessed. The path a probe image takes.
    pub fn image_bytes_to_input(&self, bytes: &[u8]) -> Result<Vec<f32>> {
        let rgb = crate::data::folder::image_from_bytes(bytes, self.height, self.width)?;
        let mut images = Images::empty(3, self.height, self.width);
        images.push(&rgb);
        Ok(self.apply(&images))
    }

    /// Channels the model takes: 1 for gray, else 3.
    pub fn channel_count(&self) -> usize {
        if self.channels == Channels::Gray {
            1
        } else {
            3
        }
    }

    /// Probe images (RGB, NCHW, `[0, 1]`) as the model's input values.
    pub fn apply(&self, images: &Images) -> Vec<f32> {
        let (h, w) = (self.height, self.width);
        let hw = h * w;
        let cc = self.channel_count();
        let mut out = vec![0.0f32; images.count * cc * hw];
        for i in 0..images.count {
            let img = images.image(i);
            for p in 0..hw {
                let rgb = [img[p], img[hw + p], img[2 * hw + p]];
                for c in 0..cc {
                    let v = match self.channels {
                        Channels::Rgb => rgb[c],
                        Channels::Bgr => rgb[2 - c],
                        Channels::Gray => (rgb[0] + rgb[1] + rgb[2]) / 3.0,
                    };
                    let v = (v * self.range - self.mean[c]) / self.std[c];
                    let o = match self.layout {
                        Layout::Nchw => i * cc * hw + c * hw + p,
                        Layout::Nhwc => i * cc * hw + p * cc + c,
                    };
                    out[o] = v;
                }
            }
        }
        out
    }
}

/// The element type an ONNX model takes its image in; spurion computes in `f32` and converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    Float32,
    Float16,
    Float64,
    /// Pixel values 0-255, rounded.
    Uint8,
}

impl InputType {
    pub(crate) fn datum(self) -> tract_onnx::prelude::DatumType {
        use tract_onnx::prelude::DatumType;
        match self {
            InputType::Float32 => DatumType::F32,
            InputType::Float16 => DatumType::F16,
            InputType::Float64 => DatumType::F64,
            InputType::Uint8 => DatumType::U8,
        }
    }
}

fn per_channel(
    v: Option<Vec<f32>>,
    n: usize,
    default: f32,
    flag: &'static str,
) -> Result<Vec<f32>> {
    match v {
        None => Ok(vec![default; n]),
        Some(v) if v.len() == 1 => Ok(vec![v[0]; n]),
        Some(v) if v.len() == n => Ok(v),
        Some(v) => Err(Error::param(
            flag,
            format!(
                "expected 1 or {n} values (one per channel), got {}",
                v.len()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn preprocessing_orders_scales_and_lays_out() {
        let img = Images {
            count: 1,
            channels: 3,
            height: 1,
            width: 2,
            data: vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        };
        let pre = Preprocess {
            height: 1,
            width: 2,
            channels: Channels::Bgr,
            layout: Layout::Nhwc,
            mean: vec![0.0; 3],
            std: vec![1.0, 1.0, 0.5],
            range: 255.0,
        };
        let v = pre.apply(&img);
        // pixel 0: B, G, R = 0.5, 0.3, 0.1 (x255, last channel / 0.5)
        let want = [
            0.5 * 255.0,
            0.3 * 255.0,
            0.1 * 255.0 / 0.5,
            0.6 * 255.0,
            0.4 * 255.0,
            0.2 * 255.0 / 0.5,
        ];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-3, "{v:?}");
        }
    }

    #[test]
    fn the_fuzz_corpus_preprocesses_to_the_settings_shape() {
        // The inputs the `preprocess_image` fuzz target starts from: settings, 0, PNG bytes.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/preprocess_image");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let split = bytes.iter().position(|&b| b == 0).unwrap();
            let text = std::str::from_utf8(&bytes[..split]).unwrap();
            let settings = OnnxSettings::parse_toml(text, Path::new("c.toml")).unwrap();
            let pre = Preprocess::from_settings(&settings).unwrap();
            let v = pre.image_bytes_to_input(&bytes[split + 1..]).unwrap();
            assert_eq!(v.len(), pre.channel_count() * pre.height * pre.width);
            assert!(v.iter().all(|x| x.is_finite()));
            seen += 1;
        }
        assert!(seen >= 3);
        // Cut image bytes and absurd sizes are errors, not panics.
        let s = OnnxSettings {
            size: Some([8, 8]),
            ..OnnxSettings::default()
        };
        let pre = Preprocess::from_settings(&s).unwrap();
        assert!(pre.image_bytes_to_input(b"\x89PNG\r\n\x1a\n").is_err());
        let huge = OnnxSettings {
            size: Some([1 << 40, 1 << 40]),
            ..OnnxSettings::default()
        };
        let e = Preprocess::from_settings(&huge).unwrap_err().to_string();
        assert!(e.contains("--input-size"), "{e}");
    }
}
