//! `spurion train`: trains spurion's CNN on an IDX pair or an ImageFolder, optionally with a
//! planted shortcut, so that users can try the audit on a model whose shortcut is known.
//!
//! The checkpoint is a folder: `classifier.safetensors` (weights), `classifier.json` (class
//! names, input size) and `training.json` (what was planted and the accuracies that show
//! whether the shortcut was learned; see [`TrainSummary`]).

use crate::config::TrainConfig;
use crate::data::{self, LabeledImages, plant};
use crate::error::{Error, Result};
use crate::model::{TRAIN_FRACTION, TrainSummary};
use crate::nn::classifier::{self, Classifier, ClassifierConfig};
use crate::output::{self, StagedDir};
use crate::progress::Progress;
use crate::results::SavedModel;
use crate::seed::{SeedPath, Stream};

/// A trained classifier and what training it found.
pub struct Trained {
    pub model: Classifier,
    pub config: ClassifierConfig,
    pub summary: TrainSummary,
}

/// Trains the classifier; nothing is written.
pub fn train(config: &TrainConfig, progress: &Progress) -> Result<Trained> {
    config.check()?;
    let device = config.device.device()?;
    let set = data::load_labeled(
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
    let seeds = SeedPath::root(config.seed);
    let (train, val) = set.split(TRAIN_FRACTION, &mut seeds.rng(Stream::DataSplit));
    if val.images.count == 0 || train.images.count == 0 {
        return Err(Error::data(
            &config.data,
            format!(
                "{} images leave none to train on or to validate with: spurion train keeps \
                 {:.0}% for validation and needs at least 5 images",
                set.images.count,
                100.0 * (1.0 - TRAIN_FRACTION)
            ),
        ));
    }
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
    let model = classifier::fit(
        &cconf,
        &train_set,
        &config.train,
        &device,
        &seeds,
        progress,
        "training classifier".into(),
    )?;

    let accuracy = |images: &data::Images| -> Result<f64> {
        let p = classifier::predict(&model, &cconf, images, 512, &device)?;
        Ok(classifier::accuracy(&p, &val.labels))
    };
    let planted = plant::apply(config.plant, &val.images, &val.labels, &colors);
    let planted_accuracy = accuracy(&planted)?;
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
    Ok(Trained {
        model,
        config: cconf,
        summary,
    })
}

/// Trains and writes the checkpoint folder to `config.out`.
pub fn run(config: &TrainConfig, progress: &Progress) -> Result<TrainSummary> {
    let trained = train(config, progress)?;
    let saved = SavedModel::of(&trained.model, &trained.config, "classifier")?;
    let staged = StagedDir::create(&config.output())?;
    let dir = staged.path();
    output::write(&dir.join("classifier.safetensors"), &saved.weights)?;
    output::write(&dir.join("classifier.json"), &saved.config_json)?;
    output::write_json(&dir.join("training.json"), &trained.summary)?;
    staged.commit()?;
    Ok(trained.summary)
}
