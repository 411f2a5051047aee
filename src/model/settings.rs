//! How an ONNX model wants its input and what its output is: the settings a user gives by
//! flags or in a TOML file (`--preprocess FILE`, the same keys), before they are resolved
//! against what the model declares ([`super::preprocess`]).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What a model's output values are.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// Raw scores: spurion applies a softmax across classes (a sigmoid for one output).
    Logits,
    /// Per-class sigmoid probabilities (one output = binary model, p_1).
    Sigmoid,
    /// Softmax probabilities.
    Softmax,
}

/// Channel order a model expects.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Channels {
    Rgb,
    Bgr,
    /// One channel: the mean of R, G and B.
    Gray,
}

/// Tensor layout a model expects.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// ONNX input and output settings as given by flags or a TOML file; unset values fall back on
/// what the model declares, then on defaults (RGB, mean 0, std 1, range 1, logits).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxSettings {
    /// Input `[height, width]`.
    #[serde(default, deserialize_with = "two_values")]
    pub size: Option<[usize; 2]>,
    pub channels: Option<Channels>,
    pub layout: Option<Layout>,
    /// Per-channel mean subtracted after scaling (one value or one per channel).
    pub mean: Option<Vec<f32>>,
    /// Per-channel standard deviation divided by (one value or one per channel).
    pub std: Option<Vec<f32>>,
    /// Pixel values are `[0, range]` before mean/std: 1 (PyTorch style) or 255.
    pub range: Option<f32>,
    pub output: Option<OutputKind>,
    /// Which output holds the class scores, for a model with several.
    #[serde(default)]
    pub output_name: Option<String>,
    /// Class names, one per line.
    pub labels: Option<PathBuf>,
}

impl OnnxSettings {
    /// Reads settings from a TOML file (keys as the fields above).
    pub fn from_toml(path: &Path) -> Result<Self> {
        let text = crate::data::read_text(path)?;
        Self::parse_toml(&text, path)
    }

    /// Parses TOML text; `path` names it in errors and anchors a relative labels path.
    pub fn parse_toml(text: &str, path: &Path) -> Result<Self> {
        let mut s: OnnxSettings = toml::from_str(text).map_err(|e| {
            Error::data(
                path,
                format!("not a valid preprocessing file: {}", e.message()),
            )
        })?;
        if let (Some(l), Some(dir)) = (&s.labels, path.parent())
            && l.is_relative()
        {
            s.labels = Some(dir.join(l));
        }
        Ok(s)
    }

    /// The flag of the first setting given, if any.
    pub fn first_set(&self) -> Option<&'static str> {
        [
            ("input-size", self.size.is_some()),
            ("channels", self.channels.is_some()),
            ("layout", self.layout.is_some()),
            ("mean", self.mean.is_some()),
            ("std", self.std.is_some()),
            ("range", self.range.is_some()),
            ("output", self.output.is_some()),
            ("output-name", self.output_name.is_some()),
            ("labels", self.labels.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, set)| set.then_some(flag))
    }

    /// Values set here win over `base`.
    pub fn over(self, base: OnnxSettings) -> OnnxSettings {
        OnnxSettings {
            size: self.size.or(base.size),
            channels: self.channels.or(base.channels),
            layout: self.layout.or(base.layout),
            mean: self.mean.or(base.mean),
            std: self.std.or(base.std),
            range: self.range.or(base.range),
            output: self.output.or(base.output),
            output_name: self.output_name.or(base.output_name),
            labels: self.labels.or(base.labels),
        }
    }
}

/// `[height, width]`: exactly two values (serde's arrays would drop a third).
fn two_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<[usize; 2]>, D::Error> {
    use serde::Deserialize;
    let v: Option<Vec<usize>> = Option::deserialize(d)?;
    match v.as_deref() {
        None => Ok(None),
        Some(&[h, w]) => Ok(Some([h, w])),
        Some(other) => Err(serde::de::Error::custom(format!(
            "size: expected [height, width], got {} values",
            other.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_settings_parse_and_unknown_keys_are_rejected() {
        let s = OnnxSettings::parse_toml(
            "size = [32, 32]\nchannels = \"bgr\"\nmean = [0.5]\noutput = \"softmax\"\nlabels = \"l.txt\"\n",
            Path::new("/m/pre.toml"),
        )
        .unwrap();
        assert_eq!(s.size, Some([32, 32]));
        assert_eq!(s.channels, Some(Channels::Bgr));
        assert_eq!(s.labels, Some(PathBuf::from("/m/l.txt")));
        let e = OnnxSettings::parse_toml("sizes = [1, 2]", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml") && e.contains("sizes"), "{e}");
        let e = OnnxSettings::parse_toml("size = [8, 8, 8]", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml") && e.contains("got 3 values"), "{e}");
        let e = OnnxSettings::parse_toml("size = [32", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml"), "{e}");
    }
}
