//! `spurion audit`: the method on any classifier and any probe set.
//!
//! The classifier is one of spurion's checkpoints or an ONNX file ([`crate::model`]); the
//! probes are a built-in family or a folder of images ([`crate::probes`]). A VAE is trained on
//! (up to `vae_train_probes` of) the probes; then every probe streams through the classifier
//! and the encoder in bounded batches, keeping only its probabilities and latent, so probe sets
//! far larger than memory work. Weighted k-means per class, ACP and the report follow as in
//! `reproduce`.

use std::path::PathBuf;
use std::time::Instant;

use rand::seq::index;

use crate::analysis::{self, ClusterSettings, RunInput};
use crate::atomic::StagedDir;
use crate::error::{Error, Result};
use crate::kmeans::KMeansParams;
use crate::metrics::Probabilities;
use crate::model::{AuditedModel, ModelInfo, OnnxSettings};
use crate::nn::ComputeDevice;
use crate::nn::vae::{self, LatentMode, VaeConfig, VaeTrainParams, epoch_estimate};
use crate::probes::{ProbeFamily, ProbeSource, ProbeSpec};
use crate::progress::Progress;
use crate::report::RunResult;
use crate::seed::{self, Stream};

/// Which probes to use.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeChoice {
    Family(ProbeFamily),
    Folder(PathBuf),
}

/// Validated settings of `spurion audit`. Field names match the flags.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditConfig {
    pub model: PathBuf,
    /// ONNX input/output settings (ignored for spurion checkpoints).
    pub onnx: OnnxSettings,
    pub probes: ProbeChoice,
    /// Generated probes; for a folder, the most images used (None: all).
    pub probes_count: Option<usize>,
    pub latent_dim: usize,
    pub k: usize,
    pub seed: u64,
    pub latent: LatentMode,
    pub weight_exponent: f64,
    pub kmeans_restarts: usize,
    pub vae: VaeTrainParams,
    pub vae_size: usize,
    pub vae_hidden: usize,
    /// The VAE trains on at most this many probes (a seeded sample when there are more).
    pub vae_train_probes: usize,
    /// Probes per inference batch: bounds memory for large probe sets.
    pub batch_size: usize,
    pub device: ComputeDevice,
    pub out: PathBuf,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            model: PathBuf::new(),
            onnx: OnnxSettings::default(),
            probes: ProbeChoice::Family(ProbeFamily::Solid),
            probes_count: None,
            latent_dim: 3,
            k: 1,
            seed: 0,
            latent: LatentMode::Mean,
            weight_exponent: 2.0,
            kmeans_restarts: 10,
            vae: VaeTrainParams::default(),
            vae_size: 16,
            vae_hidden: 128,
            vae_train_probes: 20_000,
            batch_size: 512,
            device: ComputeDevice::Cpu,
            out: PathBuf::from("spurion-audit"),
        }
    }
}

/// Generated probes when `--probes-count` is not given.
pub const DEFAULT_PROBES: usize = 10_000;

impl AuditConfig {
    pub fn check(&self) -> Result<()> {
        let positive = |flag: &'static str, v: usize| {
            if v == 0 {
                Err(Error::param(flag, "expected a positive integer, got 0"))
            } else {
                Ok(())
            }
        };
        positive("latent-dim", self.latent_dim)?;
        positive("k", self.k)?;
        if let Some(n) = self.probes_count {
            positive("probes-count", n)?;
            if self.k > n {
                return Err(Error::param(
                    "k",
                    format!("k = {} is larger than the number of probes ({n})", self.k),
                ));
            }
        }
        positive("kmeans-restarts", self.kmeans_restarts)?;
        positive("vae-epochs", self.vae.max_epochs)?;
        positive("batch-size", self.batch_size)?;
        positive("vae-size", self.vae_size)?;
        positive("vae-train-probes", self.vae_train_probes)?;
        if !self.weight_exponent.is_finite() || self.weight_exponent < 0.0 {
            return Err(Error::param("weight-exponent", "expected a number >= 0"));
        }
        self.device.device()?;
        Ok(())
    }
}

/// Seconds per stage.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditTimings {
    pub total: f64,
    pub vae: f64,
    pub inference: f64,
    pub clustering: f64,
    pub report: f64,
}

/// Everything `spurion audit` found; results.json is its serialisation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditResults {
    pub spurion_version: String,
    pub seed: u64,
    pub settings: AuditConfig,
    pub model: ModelInfo,
    /// What the probes were.
    pub probes: String,
    pub probe_count: usize,
    pub class_names: Vec<String>,
    /// Mean `p_c` over the probes, per class.
    pub probe_mean_probability: Vec<f64>,
    /// Probes whose most probable class is c, per class.
    pub probe_argmax_counts: Vec<usize>,
    pub run: RunResult,
    /// Wall-clock seconds; differ between runs with the same seed.
    pub timings_s: AuditTimings,
}

/// Runs an audit and writes the report folder.
pub fn run(config: &AuditConfig, progress: &Progress) -> Result<AuditResults> {
    config.check()?;
    let started = Instant::now();
    let mut timings = AuditTimings::default();
    let device = config.device.device()?;
    let model = AuditedModel::load(&config.model, &config.onnx, &device)?;
    let [h, w] = model.input_size();
    let source = match &config.probes {
        ProbeChoice::Family(family) => ProbeSource::Generated(ProbeSpec {
            family: *family,
            count: config.probes_count.unwrap_or(DEFAULT_PROBES),
            height: h,
            width: w,
            seed: seed::derive(config.seed, Stream::Probes, &[]),
        }),
        ProbeChoice::Folder(dir) => ProbeSource::folder(dir, h, w, config.probes_count)?,
    };
    let n = source.count();
    if config.k > n {
        return Err(Error::param(
            "k",
            format!("k = {} is larger than the number of probes ({n})", config.k),
        ));
    }
    let staged = StagedDir::create(&config.out)?;

    // Step 2: the VAE, on (a seeded sample of) the probes.
    let t = Instant::now();
    let m = n.min(config.vae_train_probes);
    let mut ids: Vec<usize> = if m == n {
        (0..n).collect()
    } else {
        index::sample(&mut seed::rng(config.seed, Stream::VaeTraining, &[1]), n, m).into_vec()
    };
    ids.sort_unstable();
    let vconf = VaeConfig {
        channels: 3,
        size: config.vae_size,
        latent_dim: config.latent_dim,
        hidden: config.vae_hidden,
    };
    let mut train_x = Vec::with_capacity(m * vconf.input_len());
    for chunk in ids.chunks(config.batch_size) {
        train_x.extend(vae::thumbnails(&source.get(chunk)?, config.vae_size));
    }
    let bar = progress.bar(epoch_estimate(&config.vae, m), "training VAE");
    let (vae_model, vae_training) = vae::train(
        &vconf,
        &train_x,
        &config.vae,
        &device,
        seed::derive(config.seed, Stream::VaeInit, &[]),
        &mut seed::rng(config.seed, Stream::VaeTraining, &[0]),
        |_, loss| {
            bar.set_message(format!("-ELBO {loss:.2}"));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    drop(train_x);
    timings.vae = t.elapsed().as_secs_f64();

    // Steps 2-3 for every probe, in bounded batches: keep probabilities and latents only.
    let t = Instant::now();
    let classes = model.class_names.len();
    let mut probs = Vec::with_capacity(n * classes);
    let mut latents = Vec::with_capacity(n * config.latent_dim);
    let mut rng = seed::rng(config.seed, Stream::LatentSample, &[]);
    let bar = progress.bar(n as u64, "classifying and encoding probes");
    for start in (0..n).step_by(config.batch_size) {
        let end = (start + config.batch_size).min(n);
        let images = source.batch(start, end)?;
        probs.extend(model.predict(&images)?.values);
        let x = vae::thumbnails(&images, config.vae_size);
        latents.extend(vae::encode(
            &vae_model,
            &vconf,
            &x,
            config.latent,
            config.batch_size,
            &device,
            &mut rng,
        )?);
        bar.set_position(end as u64);
    }
    bar.finish_and_clear();
    let probs = Probabilities::new(classes, probs)?;
    timings.inference = t.elapsed().as_secs_f64();

    // Step 4.
    let t = Instant::now();
    let kmeans = KMeansParams {
        k: config.k,
        restarts: config.kmeans_restarts,
        ..KMeansParams::default()
    };
    let clustering = analysis::cluster_and_score(
        &latents,
        config.latent_dim,
        &probs,
        &model.class_names,
        &ClusterSettings {
            kmeans: &kmeans,
            weight_exponent: config.weight_exponent,
            seed: config.seed,
            seed_path: &[],
        },
    )?;
    timings.clustering = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let probe_images = |ids: &[usize]| source.get(ids);
    let run = analysis::write_run(&RunInput {
        root: staged.path(),
        rel: String::new(),
        label: format!("latent dim {}", config.latent_dim),
        class_names: &model.class_names,
        probs: &probs,
        latents: &latents,
        dim: config.latent_dim,
        clustering: &clustering,
        weight_exponent: config.weight_exponent,
        vae: &vae_model,
        vae_config: &vconf,
        vae_training,
        device: &device,
        probe_images: &probe_images,
    })?;
    let mut argmax = vec![0usize; classes];
    for i in 0..n {
        argmax[probs.argmax(i)] += 1;
    }
    timings.report = t.elapsed().as_secs_f64();
    timings.total = started.elapsed().as_secs_f64();
    let results = AuditResults {
        spurion_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: config.seed,
        settings: config.clone(),
        model: model.info(),
        probes: source.describe(),
        probe_count: n,
        class_names: model.class_names.clone(),
        probe_mean_probability: (0..classes).map(|c| probs.mean(c)).collect(),
        probe_argmax_counts: argmax,
        run,
        timings_s: timings,
    };
    crate::atomic::write_json(&staged.path().join("results.json"), &results)?;
    let html = crate::report::render_audit_html(&results, staged.path())?;
    crate::atomic::write(&staged.path().join("report.html"), html.as_bytes())?;
    staged.commit()?;
    Ok(results)
}
