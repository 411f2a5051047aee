//! `spurion reproduce`: the paper's experiment end to end.
//!
//! Digits of two classes (0 and 1) get their strokes coloured by class (green, blue); a CNN
//! trained one epoch on them learns colour, not shape, which its accuracy on a monochrome twin
//! of the validation digits shows. Solid-colour probes are run through it, a VAE is trained on
//! the probes for each latent dimension, and per-class weighted k-means over the latents finds
//! the regions that drive each class. The score is ACP (see [`crate::metrics`]), printed beside
//! the paper's Table 1. Each trial has its own classifier and probe set, each (trial, dim) its
//! own VAE; every random choice derives from `seed`.

use std::path::PathBuf;
use std::time::Instant;

use std::path::Path;

use crate::analysis::{self, ClusterSettings, RunInput};
use crate::atomic::{self, StagedDir};
use crate::data::{self, LabeledImages, idx::Transpose, plant};
use crate::error::{Error, Result};
use crate::kmeans::KMeansParams;
use crate::nn::ComputeDevice;
use crate::nn::classifier::{self, ClassifierConfig, TrainParams};
use crate::nn::vae::{self, LatentMode, VaeConfig, VaeTrainParams};
use crate::probes::{ProbeFamily, ProbeSpec};
use crate::progress::Progress;
use crate::report::{self, ReproduceResults, Timings, TrialResult};
use crate::seed::{self, Stream};

/// Validated settings of `spurion reproduce`. Field names match the command-line flags.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReproduceConfig {
    /// IDX folder or image file.
    pub data: PathBuf,
    #[serde(skip)]
    pub transpose: Transpose,
    /// Digit labels to keep, in class order.
    pub classes: Vec<u8>,
    /// Stroke colour of each class.
    pub colors: Vec<[f32; 3]>,
    /// Latent dimensions to sweep.
    pub dims: Vec<usize>,
    pub trials: usize,
    /// Clusters per class.
    pub k: usize,
    pub seed: u64,
    /// Number of solid-colour probes per trial.
    pub probes: usize,
    pub latent: LatentMode,
    /// Probes are weighted by `p_c(x)^weight_exponent` in class c's k-means.
    pub weight_exponent: f64,
    pub kmeans_restarts: usize,
    pub classifier: TrainParams,
    pub vae: VaeTrainParams,
    /// VAE thumbnail side.
    pub vae_size: usize,
    pub vae_hidden: usize,
    /// Images per inference batch.
    pub batch_size: usize,
    pub device: ComputeDevice,
    /// Output folder.
    pub out: PathBuf,
}

impl Default for ReproduceConfig {
    fn default() -> Self {
        ReproduceConfig {
            data: PathBuf::from(data::SHIPPED_MNIST),
            transpose: Transpose::Auto,
            classes: vec![0, 1],
            colors: plant::default_colors(2),
            dims: vec![2, 3, 5, 10],
            trials: 5,
            k: 1,
            seed: 0,
            probes: 10_000,
            latent: LatentMode::Mean,
            weight_exponent: 2.0,
            kmeans_restarts: 10,
            classifier: TrainParams {
                epochs: 1,
                batch_size: 32,
                learning_rate: 1e-3,
            },
            vae: VaeTrainParams::default(),
            vae_size: 16,
            vae_hidden: 128,
            batch_size: 1024,
            device: ComputeDevice::Cpu,
            out: PathBuf::from("spurion-out"),
        }
    }
}

fn positive(param: &'static str, v: usize) -> Result<()> {
    if v == 0 {
        return Err(Error::param(param, "expected a positive integer, got 0"));
    }
    Ok(())
}

fn positive_f(param: &'static str, v: f64) -> Result<()> {
    if !v.is_finite() || v <= 0.0 {
        return Err(Error::param(
            param,
            format!("expected a positive number, got {v}"),
        ));
    }
    Ok(())
}

impl ReproduceConfig {
    /// Checks every setting; the error names the flag and what it expects.
    pub fn check(&self) -> Result<()> {
        if self.classes.len() < 2 {
            return Err(Error::param(
                "classes",
                format!("expected at least 2 classes, got {}", self.classes.len()),
            ));
        }
        let mut seen = self.classes.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != self.classes.len() {
            return Err(Error::param("classes", "classes must be distinct"));
        }
        if self.colors.len() != self.classes.len() {
            return Err(Error::param(
                "colors",
                format!(
                    "expected one colour per class ({}), got {}",
                    self.classes.len(),
                    self.colors.len()
                ),
            ));
        }
        if self.dims.is_empty() {
            return Err(Error::param(
                "dims",
                "expected at least one latent dimension",
            ));
        }
        if self.dims.contains(&0) {
            return Err(Error::param(
                "dims",
                "latent dimensions must be at least 1, got 0",
            ));
        }
        positive("trials", self.trials)?;
        positive("k", self.k)?;
        positive("probes", self.probes)?;
        if self.k > self.probes {
            return Err(Error::param(
                "k",
                format!(
                    "k = {} is larger than the number of probes ({})",
                    self.k, self.probes
                ),
            ));
        }
        if !self.weight_exponent.is_finite() || self.weight_exponent < 0.0 {
            return Err(Error::param(
                "weight-exponent",
                format!("expected a number >= 0, got {}", self.weight_exponent),
            ));
        }
        positive("kmeans-restarts", self.kmeans_restarts)?;
        positive("epochs", self.classifier.epochs)?;
        positive("vae-epochs", self.vae.max_epochs)?;
        positive("batch-size", self.classifier.batch_size)?;
        positive("batch-size", self.vae.batch_size)?;
        positive("batch-size", self.batch_size)?;
        positive_f("lr", self.classifier.learning_rate)?;
        positive_f("vae-lr", self.vae.learning_rate)?;
        positive("vae-size", self.vae_size)?;
        positive("vae-hidden", self.vae_hidden)?;
        self.device.device()?;
        Ok(())
    }
}

fn run_trial(
    config: &ReproduceConfig,
    out: &Path,
    base: &LabeledImages,
    trial: usize,
    progress: &Progress,
    timings: &mut Timings,
) -> Result<TrialResult> {
    let device = config.device.device()?;
    let t = trial as u64;
    let started = Instant::now();
    let (train, val) = base.split(0.8, &mut seed::rng(config.seed, Stream::DataSplit, &[t]));
    let train_rgb = plant::colorize(&train.images, &train.labels, &config.colors);
    let val_rgb = plant::colorize(&val.images, &val.labels, &config.colors);
    let val_mono = plant::monochrome(&val.images);
    // Each class in the next class's colour: colour and shape now disagree.
    let mut swapped_colors = config.colors.clone();
    swapped_colors.rotate_left(1);
    let val_swapped = plant::colorize(&val.images, &val.labels, &swapped_colors);
    let train_set = LabeledImages {
        images: train_rgb,
        labels: train.labels.clone(),
        class_names: base.class_names.clone(),
    };
    timings.data += started.elapsed().as_secs_f64();

    // Classifier.
    let started = Instant::now();
    let cconf = ClassifierConfig::new(
        3,
        base.images.height,
        base.images.width,
        base.class_names.clone(),
    );
    let steps = config.classifier.epochs
        * train_set
            .images
            .count
            .div_ceil(config.classifier.batch_size);
    let bar = progress.bar(steps as u64, format!("trial {trial}: classifier"));
    let model = classifier::train(
        &cconf,
        &train_set,
        &config.classifier,
        &device,
        seed::derive(config.seed, Stream::ClassifierInit, &[t]),
        &mut seed::rng(config.seed, Stream::ClassifierBatches, &[t]),
        |loss| {
            bar.set_message(format!("loss {loss:.4}"));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    let colored = classifier::predict(&model, &cconf, &val_rgb, config.batch_size, &device)?;
    let mono = classifier::predict(&model, &cconf, &val_mono, config.batch_size, &device)?;
    let colored_accuracy = classifier::accuracy(&colored, &val.labels);
    let monochrome_accuracy = classifier::accuracy(&mono, &val.labels);
    let swapped = classifier::predict(&model, &cconf, &val_swapped, config.batch_size, &device)?;
    let swapped_accuracy = classifier::accuracy(&swapped, &val.labels);
    let trial_dir = format!("trial-{trial}");
    let classifier_weights = format!("{trial_dir}/classifier.safetensors");
    let classifier_config = format!("{trial_dir}/classifier.json");
    crate::nn::save_weights(
        &model,
        &out.join(&classifier_weights),
        &[("spurion", "classifier")],
    )?;
    atomic::write_json(&out.join(&classifier_config), &cconf)?;
    timings.classifier += started.elapsed().as_secs_f64();

    // Probes through the classifier.
    let started = Instant::now();
    let spec = ProbeSpec {
        family: ProbeFamily::Solid,
        count: config.probes,
        height: base.images.height,
        width: base.images.width,
        seed: seed::derive(config.seed, Stream::Probes, &[t]),
    };
    let probe_images = spec.generate();
    let probs = classifier::predict(&model, &cconf, &probe_images, config.batch_size, &device)?;
    let x = vae::thumbnails(&probe_images, config.vae_size);
    drop(probe_images);
    timings.probes += started.elapsed().as_secs_f64();

    let kmeans = KMeansParams {
        k: config.k,
        restarts: config.kmeans_restarts,
        ..KMeansParams::default()
    };
    let mut runs = Vec::new();
    for &dim in &config.dims {
        let started = Instant::now();
        let vconf = VaeConfig {
            channels: 3,
            size: config.vae_size,
            latent_dim: dim,
            hidden: config.vae_hidden,
        };
        let bar = progress.bar(
            vae::epoch_estimate(&config.vae, config.probes),
            format!("trial {trial}: VAE dim {dim}"),
        );
        let mut rng = seed::rng(config.seed, Stream::VaeTraining, &[t, dim as u64]);
        let (model, vae_training) = vae::train(
            &vconf,
            &x,
            &config.vae,
            &device,
            seed::derive(config.seed, Stream::VaeInit, &[t, dim as u64]),
            &mut rng,
            |_, loss| {
                bar.set_message(format!("-ELBO {loss:.2}"));
                bar.inc(1);
            },
        )?;
        bar.finish_and_clear();
        let mut rng = seed::rng(config.seed, Stream::LatentSample, &[t, dim as u64]);
        let latents = vae::encode(
            &model,
            &vconf,
            &x,
            config.latent,
            config.batch_size,
            &device,
            &mut rng,
        )?;
        timings.vae += started.elapsed().as_secs_f64();

        let started = Instant::now();
        let clustering = analysis::cluster_and_score(
            &latents,
            dim,
            &probs,
            &base.class_names,
            &ClusterSettings {
                kmeans: &kmeans,
                weight_exponent: config.weight_exponent,
                seed: config.seed,
                seed_path: &[t, dim as u64],
            },
        )?;
        timings.clustering += started.elapsed().as_secs_f64();
        let s = &clustering.score;
        progress.println(format!(
            "trial {trial} dim {dim}: ACP {:.1}% (chance {:.1}%, ceiling {:.1}%)",
            100.0 * s.acp,
            100.0 * s.chance,
            100.0 * s.ceiling
        ));
        let started = Instant::now();
        let probe_images = |ids: &[usize]| -> Result<data::Images> {
            let mut imgs = data::Images::empty(3, spec.height, spec.width);
            for &i in ids {
                imgs.push(&spec.probe(i));
            }
            Ok(imgs)
        };
        runs.push(analysis::write_run(&RunInput {
            root: out,
            rel: format!("{trial_dir}/dim-{dim}"),
            label: format!("trial {trial}, latent dim {dim}"),
            class_names: &base.class_names,
            probs: &probs,
            latents: &latents,
            dim,
            clustering: &clustering,
            weight_exponent: config.weight_exponent,
            vae: &model,
            vae_config: &vconf,
            vae_training,
            device: &device,
            probe_images: &probe_images,
        })?);
        timings.report += started.elapsed().as_secs_f64();
    }
    Ok(TrialResult {
        trial,
        colored_accuracy,
        monochrome_accuracy,
        swapped_accuracy,
        classifier_weights,
        classifier_config,
        probe_mean_probability: (0..probs.classes).map(|c| probs.mean(c)).collect(),
        runs,
    })
}

/// Runs the whole sweep and writes the report into `config.out`: results.json,
/// report.html, and per trial and latent dimension the prototypes, plots, probes.csv,
/// latents.npz and trained models. The folder appears only when complete.
pub fn run(config: &ReproduceConfig, progress: &Progress) -> Result<ReproduceResults> {
    config.check()?;
    let started = Instant::now();
    let mut timings = Timings::default();
    let base = data::load_idx_classes(&config.data, &config.classes, config.transpose)?;
    let staged = StagedDir::create(&config.out)?;
    timings.data += started.elapsed().as_secs_f64();
    let mut trials = Vec::with_capacity(config.trials);
    for trial in 0..config.trials {
        trials.push(run_trial(
            config,
            staged.path(),
            &base,
            trial,
            progress,
            &mut timings,
        )?);
    }
    timings.total = started.elapsed().as_secs_f64();
    let results = ReproduceResults {
        spurion_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: config.seed,
        settings: config.clone(),
        class_names: base.class_names.clone(),
        summary: report::summarize(&config.dims, &trials),
        trials,
        paper: report::paper_table(),
        timings_s: timings,
    };
    results.write_json(staged.path())?;
    results.write_html(staged.path())?;
    staged.commit()?;
    Ok(results)
}
