//! `spurion train`: trains spurion's CNN on an IDX pair or an ImageFolder, optionally with a
//! planted shortcut, so that users can try the audit on a model whose shortcut is known.
//!
//! The checkpoint is a folder: `classifier.safetensors` (weights), `classifier.json` (class
//! names, input size, preprocessing) and `training.json` (what was planted and the accuracies
//! that show whether the shortcut was learned).

use std::path::PathBuf;

use crate::atomic::{self, OutputTarget, StagedDir};
use crate::check;
use crate::data::{self, LabeledImages, folder, idx, plant};
use crate::error::{Error, Result};
use crate::nn::ComputeDevice;
use crate::nn::classifier::{self, Classifier, ClassifierConfig, TrainParams};
use crate::progress::Progress;
use crate::seed::{self, Stream};

/// Validated settings of `spurion train`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// IDX folder or image file, or an ImageFolder root.
    pub data: PathBuf,
    #[serde(skip)]
    pub transpose: idx::Transpose,
    /// IDX labels to keep (default: all); ignored for ImageFolders.
    pub classes: Option<Vec<u8>>,
    /// Side images are resized to (ImageFolder; IDX images keep their size unless given).
    pub size: Option<usize>,
    pub plant: plant::Plant,
    /// Colour per class for the planted shortcut (default: the palette).
    pub colors: Option<Vec<[f32; 3]>>,
    pub train: TrainParams,
    pub seed: u64,
    pub device: ComputeDevice,
    pub out: PathBuf,
    /// Replace `out` even when spurion did not write it (never an input).
    #[serde(default)]
    pub force: bool,
}

impl TrainConfig {
    /// Where the checkpoint goes, and the input it must not replace.
    pub fn output(&self) -> OutputTarget {
        OutputTarget::new(&self.out, self.force).input("data", &self.data)
    }

    pub fn check(&self) -> Result<()> {
        check::positive("epochs", self.train.epochs)?;
        check::at_most("epochs", self.train.epochs, check::MAX_EPOCHS)?;
        check::positive("batch-size", self.train.batch_size)?;
        check::positive_f("lr", self.train.learning_rate)?;
        if self.size.is_some_and(|s| s < 4) {
            return Err(Error::param("size", "expected at least 4 pixels"));
        }
        if let Some(c) = &self.classes {
            check::classes(c)?;
        }
        self.device.device()?;
        self.output().check()
    }
}

/// What `spurion train` reports (also saved as training.json).
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

/// Loads labelled data: an IDX pair (keeping `classes`, default all) or an ImageFolder
/// (resized to `size`, default 32).
pub fn load_labeled(
    path: &std::path::Path,
    classes: Option<&[u8]>,
    size: Option<usize>,
    transpose: idx::Transpose,
) -> Result<LabeledImages> {
    let set = if path.is_dir() && idx::locate_pair(path).is_err() && folder::is_image_folder(path) {
        folder::load_image_folder(path, size.unwrap_or(32))?
    } else {
        let d = data::load_idx_classes(path, classes, transpose)?;
        match size {
            Some(s) => {
                folder::labeled_images_fit(d.images.count, s)?;
                LabeledImages {
                    images: d.images.resize(s, s),
                    ..d
                }
            }
            None => d,
        }
    };
    if set.class_names.len() < 2 {
        return Err(Error::data(path, "expected at least 2 classes"));
    }
    Ok(set)
}

/// The validation images of a checkpoint trained by `spurion train`, unaltered (nothing
/// planted), from the data and seed recorded in its training.json. None when the checkpoint
/// has no training.json or its data is no longer where it was; an error when training.json is
/// unreadable.
pub fn held_out_images(model_dir: &std::path::Path) -> Result<Option<LabeledImages>> {
    let path = model_dir.join("training.json");
    let Ok(text) = std::fs::read(&path) else {
        return Ok(None);
    };
    let s: TrainSummary = serde_json::from_slice(&text)
        .map_err(|e| Error::data(&path, format!("not a spurion training summary: {e}")))?;
    let classes: Option<Vec<u8>> = s.class_names.iter().map(|c| c.parse().ok()).collect();
    let data = std::path::Path::new(&s.data);
    let Ok(set) = load_labeled(data, classes.as_deref(), s.size, idx::Transpose::Auto) else {
        return Ok(None);
    };
    let (_, val) = set.split(0.8, &mut seed::rng(s.seed, Stream::DataSplit, &[]));
    Ok(Some(val))
}

/// The training data a checkpoint folder records in its training.json, if any.
pub fn recorded_data(model_dir: &std::path::Path) -> Option<PathBuf> {
    let text = std::fs::read(model_dir.join("training.json")).ok()?;
    let s: TrainSummary = serde_json::from_slice(&text).ok()?;
    Some(PathBuf::from(s.data))
}

/// Trains a classifier with a progress bar labelled `label`, its random streams derived from
/// `(seed, path)`.
pub(crate) fn fit_classifier(
    cconf: &ClassifierConfig,
    train_set: &LabeledImages,
    params: &TrainParams,
    device: &burn::prelude::Device,
    (seed, path): (u64, &[u64]),
    progress: &Progress,
    label: String,
) -> Result<Classifier> {
    let steps = params.epochs * train_set.images.count.div_ceil(params.batch_size);
    let bar = progress.bar(steps as u64, label);
    let model = classifier::train(
        cconf,
        train_set,
        params,
        device,
        seed::derive(seed, Stream::ClassifierInit, path),
        &mut seed::rng(seed, Stream::ClassifierBatches, path),
        |loss| {
            bar.set_message(format!("loss {loss:.4}"));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    Ok(model)
}

/// Trains and writes the checkpoint folder.
pub fn run(config: &TrainConfig, progress: &Progress) -> Result<TrainSummary> {
    config.check()?;
    let device = config.device.device()?;
    let set = load_labeled(
        &config.data,
        config.classes.as_deref(),
        config.size,
        config.transpose,
    )?;
    let n_classes = set.class_names.len();
    let colors = match &config.colors {
        Some(c) if c.len() != n_classes => {
            return Err(Error::param(
                "colors",
                format!(
                    "expected one colour per class ({n_classes}), got {}",
                    c.len()
                ),
            ));
        }
        Some(c) => c.clone(),
        None => plant::default_colors(n_classes),
    };
    let staged = StagedDir::create(&config.output())?;
    let (train, val) = set.split(0.8, &mut seed::rng(config.seed, Stream::DataSplit, &[]));
    let train_set = LabeledImages {
        images: plant::apply(config.plant, &train.images, &train.labels, &colors),
        labels: train.labels.clone(),
        class_names: train.class_names.clone(),
        skipped: Vec::new(),
    };
    let cconf = ClassifierConfig::new(
        3,
        set.images.height,
        set.images.width,
        set.class_names.clone(),
    );
    let model = fit_classifier(
        &cconf,
        &train_set,
        &config.train,
        &device,
        (config.seed, &[]),
        progress,
        "training classifier".into(),
    )?;

    let accuracy = |images: &data::Images| -> Result<f64> {
        let p = classifier::predict(&model, &cconf, images, 512, &device)?;
        Ok(classifier::accuracy(&p, &val.labels))
    };
    let planted_accuracy = accuracy(&plant::apply(
        config.plant,
        &val.images,
        &val.labels,
        &colors,
    ))?;
    let clean_accuracy = accuracy(&plant::to_rgb(&val.images))?;
    let swapped_accuracy = if config.plant == plant::Plant::None {
        None
    } else {
        let next: Vec<usize> = val.labels.iter().map(|&l| (l + 1) % n_classes).collect();
        Some(accuracy(&plant::apply(
            config.plant,
            &val.images,
            &next,
            &colors,
        ))?)
    };

    let summary = TrainSummary {
        data: std::fs::canonicalize(&config.data)
            .unwrap_or_else(|_| config.data.clone())
            .display()
            .to_string(),
        class_names: set.class_names.clone(),
        plant: config.plant,
        colors,
        train_images: train.images.count,
        validation_images: val.images.count,
        planted_accuracy,
        clean_accuracy,
        swapped_accuracy,
        seed: config.seed,
        size: config.size,
        warnings: set.skipped.clone(),
    };
    let dir = staged.path();
    crate::nn::save_weights(
        &model,
        &dir.join("classifier.safetensors"),
        &[("spurion", "classifier")],
    )?;
    atomic::write_json(&dir.join("classifier.json"), &cconf)?;
    atomic::write_json(&dir.join("training.json"), &summary)?;
    staged.commit()?;
    Ok(summary)
}
