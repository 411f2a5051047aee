//! spurion's own checkpoints (`spurion train`): a folder holding `classifier.safetensors`
//! (weights), `classifier.json` (class names, input size) and usually `training.json` (what
//! was planted, and the data the validation split comes from).

use std::path::{Path, PathBuf};

use super::{ModelFormat, ModelInfo, OutputKind, ProbabilityModel};
use crate::data::{self, Images, LabeledImages, idx, plant};
use crate::error::{Error, Result};
use crate::metrics::Probabilities;
use crate::nn::classifier::{self, Classifier, ClassifierConfig};
use crate::seed::{self, Stream};

/// What `spurion train` did, saved as training.json in the checkpoint and printed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainSummary {
    pub data: String,
    pub class_names: Vec<String>,
    pub plant: plant::Plant,
    pub colors: Vec<[f32; 3]>,
    pub train_images: usize,
    pub validation_images: usize,
    /// Validation accuracy with the shortcut planted, as in training.
    pub planted_accuracy: f64,
    /// Validation accuracy on the unaltered images.
    pub clean_accuracy: f64,
    /// Validation accuracy with every class given the next class's shortcut: low when the
    /// shortcut, not the content, decides. Absent when nothing was planted.
    pub swapped_accuracy: Option<f64>,
    pub seed: u64,
    /// `--size`, if given (to rebuild the validation split).
    #[serde(default)]
    pub size: Option<usize>,
    /// What reading the data passed over (special files, broken links), one line each.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Share of the data `spurion train` trains on; the rest is its validation split.
pub const TRAIN_FRACTION: f64 = 0.8;

/// The training summary of the checkpoint folder `dir`: None without a training.json, an
/// error when it is unreadable.
fn training_summary(dir: &Path) -> Result<Option<TrainSummary>> {
    let path = dir.join("training.json");
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let text = data::read_file(&path)?;
    let s: TrainSummary = serde_json::from_slice(&text)
        .map_err(|e| Error::data(&path, format!("not a spurion training summary: {e}")))?;
    if s.size.is_some_and(|v| v < 4) {
        return Err(Error::data(
            &path,
            "size must be at least 4 pixels (spurion train's --size)",
        ));
    }
    Ok(Some(s))
}

/// The training data a checkpoint folder records in its training.json, if any: read
/// leniently (only the `data` field), so that a damaged file still names what must not be
/// overwritten.
pub fn recorded_data(dir: &Path) -> Option<PathBuf> {
    let text = data::read_file(&dir.join("training.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let data = v.get("data")?.as_str()?;
    (!data.is_empty()).then(|| PathBuf::from(data))
}

/// A spurion CNN loaded from its checkpoint folder.
pub struct Checkpoint {
    model: Classifier,
    config: ClassifierConfig,
    device: burn::prelude::Device,
    /// The checkpoint folder (it may also hold training.json).
    dir: PathBuf,
    /// The path the user gave (the folder or one of its files).
    path: PathBuf,
}

impl Checkpoint {
    /// Loads a checkpoint from its folder, or from one of the files in it.
    pub fn load(path: &Path, device: &burn::prelude::Device) -> Result<Self> {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        };
        let config_path = dir.join("classifier.json");
        let weights_path = dir.join("classifier.safetensors");
        // A folder that cannot be read says so, rather than seem empty.
        for p in [&config_path, &weights_path] {
            if let Err(e) = std::fs::metadata(p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(Error::io(p, e));
            }
        }
        if !config_path.is_file() || !weights_path.is_file() {
            return Err(Error::data(
                path,
                "expected an .onnx file or a spurion model folder holding classifier.json and \
                 classifier.safetensors",
            ));
        }
        let text = crate::data::read_file(&config_path)?;
        let config: ClassifierConfig = serde_json::from_slice(&text).map_err(|e| {
            Error::data(
                &config_path,
                format!("not a spurion classifier config: {e}"),
            )
        })?;
        if config.class_names.len() < 2 || config.channels != 3 {
            return Err(Error::data(
                &config_path,
                "expected at least 2 class names and 3 input channels",
            ));
        }
        let model = crate::nn::load_weights(Classifier::new(&config, device), &weights_path)?;
        Ok(Checkpoint {
            model,
            config,
            device: device.clone(),
            dir,
            path: path.to_path_buf(),
        })
    }

    /// A classifier trained in this process, named `name` in reports.
    pub(crate) fn in_memory(
        model: Classifier,
        config: ClassifierConfig,
        device: &burn::prelude::Device,
        name: &str,
    ) -> Self {
        Checkpoint {
            model,
            config,
            device: device.clone(),
            dir: PathBuf::new(),
            path: PathBuf::from(name),
        }
    }

    /// The checkpoint folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The validation images of a checkpoint trained by `spurion train`, unaltered (nothing
    /// planted), from the data and seed recorded in its training.json. None when there is no
    /// training.json or its data is no longer where it was; an error when training.json is
    /// unreadable.
    pub fn held_out_images(&self) -> Result<Option<LabeledImages>> {
        let Some(s) = training_summary(&self.dir)? else {
            return Ok(None);
        };
        let classes: Option<Vec<u8>> = s.class_names.iter().map(|c| c.parse().ok()).collect();
        let data = Path::new(&s.data);
        let Ok(set) = data::load_labeled(data, classes.as_deref(), s.size, idx::Transpose::Auto)
        else {
            return Ok(None);
        };
        let (_, val) = set.split(
            TRAIN_FRACTION,
            &mut seed::rng(s.seed, Stream::DataSplit, &[]),
        );
        Ok(Some(val))
    }
}

impl ProbabilityModel for Checkpoint {
    fn class_names(&self) -> &[String] {
        &self.config.class_names
    }

    fn input_size(&self) -> [usize; 2] {
        [self.config.height, self.config.width]
    }

    fn predict(&self, images: &Images) -> Result<Probabilities> {
        classifier::predict(
            &self.model,
            &self.config,
            images,
            images.count.max(1),
            &self.device,
        )
    }

    fn info(&self) -> ModelInfo {
        ModelInfo {
            path: self.path.display().to_string(),
            format: ModelFormat::Spurion,
            class_names: self.config.class_names.clone(),
            class_names_source: "checkpoint".into(),
            input_height: self.config.height,
            input_width: self.config.width,
            output: OutputKind::Sigmoid,
            probability: if self.config.class_names.len() == 2 {
                "p_c is the sigmoid output (one output: p_1 = sigmoid, p_0 = 1 - p_1)"
            } else {
                "p_c is the sigmoid output of class c (one-vs-rest)"
            }
            .into(),
            preprocess: None,
            runtime: "spurion (burn)".into(),
        }
    }
}
