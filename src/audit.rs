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

use crate::analysis::{self, CausalInput, ClusterCount, ClusterSettings, RunInput};
use crate::atomic::{OutputTarget, StagedDir};
use crate::data::{Images, plant};
use crate::error::Result;
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
    /// The preprocessing file `onnx` was read from, if any.
    #[serde(default)]
    pub preprocess: Option<PathBuf>,
    pub probes: ProbeChoice,
    /// Generated probes; for a folder, the most images used (None: all).
    pub probes_count: Option<usize>,
    pub latent_dim: usize,
    /// Clusters per class: a number, or chosen per class by held-out ACP.
    pub k: ClusterCount,
    pub seed: u64,
    pub latent: LatentMode,
    pub weight_exponent: f64,
    pub kmeans_restarts: usize,
    pub vae: VaeTrainParams,
    pub vae_size: usize,
    pub vae_hidden: usize,
    /// Guide the VAE with the classifier's probabilities (see `nn::vae`); false: the paper's
    /// plain VAE.
    pub vae_guided: bool,
    /// Write wall-clock timings into results.json (leave out for byte-identical files).
    pub record_timings: bool,
    /// The VAE trains on at most this many probes (a seeded sample when there are more).
    pub vae_train_probes: usize,
    /// Probes per inference batch: bounds memory for large probe sets.
    pub batch_size: usize,
    /// Permutations of each cluster's significance test (0: none).
    pub permutations: usize,
    /// Held-out real images for the causal check: an IDX pair, an ImageFolder or a folder of
    /// images. Default for spurion checkpoints: the validation split of their training data.
    pub holdout: Option<PathBuf>,
    pub device: ComputeDevice,
    pub out: PathBuf,
    /// Replace `out` even when spurion did not write it (never an input).
    #[serde(default)]
    pub force: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            model: PathBuf::new(),
            onnx: OnnxSettings::default(),
            preprocess: None,
            probes: ProbeChoice::Family(ProbeFamily::Solid),
            probes_count: None,
            latent_dim: 3,
            k: ClusterCount::Fixed(1),
            seed: 0,
            latent: LatentMode::Mean,
            weight_exponent: 2.0,
            kmeans_restarts: 10,
            vae: VaeTrainParams::default(),
            vae_size: 16,
            vae_hidden: 128,
            vae_guided: true,
            record_timings: true,
            vae_train_probes: 20_000,
            batch_size: 512,
            permutations: 1000,
            holdout: None,
            device: ComputeDevice::Cpu,
            out: PathBuf::from("spurion-audit"),
            force: false,
        }
    }
}

/// Generated probes when `--probes-count` is not given.
pub const DEFAULT_PROBES: usize = 10_000;

impl AuditConfig {
    pub fn check(&self) -> Result<()> {
        use crate::check::{self, positive};
        positive("latent-dim", self.latent_dim)?;
        if let Some(n) = self.probes_count {
            positive("probes-count", n)?;
            // Probe ids are stored as u32 by the significance test.
            crate::budget::count_at_most("probes-count", n, u32::MAX as u64)?;
        }
        check::k(self.k, self.probes_count.unwrap_or(usize::MAX))?;
        positive("kmeans-restarts", self.kmeans_restarts)?;
        check::vae(&self.vae)?;
        positive("batch-size", self.batch_size)?;
        check::at_most("permutations", self.permutations, check::MAX_PERMUTATIONS)?;
        positive("vae-size", self.vae_size)?;
        positive("vae-hidden", self.vae_hidden)?;
        positive("vae-train-probes", self.vae_train_probes)?;
        check::weight_exponent(self.weight_exponent)?;
        self.device.device()?;
        self.output().check()
    }

    /// Where the report goes, and every input it must not replace: the model (and, for a
    /// spurion checkpoint, the data it was trained on), the probe and hold-out folders, the
    /// preprocessing and labels files.
    pub fn output(&self) -> OutputTarget {
        let mut t = OutputTarget::new(&self.out, self.force).input("model", &self.model);
        let model_dir = if self.model.is_dir() {
            Some(self.model.as_path())
        } else {
            self.model.parent()
        };
        if let Some(data) = model_dir.and_then(crate::train::recorded_data) {
            t = t.input("model", &data);
        }
        if let ProbeChoice::Folder(p) = &self.probes {
            t = t.input("probes", p);
        }
        for (flag, path) in [
            ("holdout", &self.holdout),
            ("preprocess", &self.preprocess),
            ("labels", &self.onnx.labels),
        ] {
            if let Some(p) = path {
                t = t.input(flag, p);
            }
        }
        t
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
    /// What the run passed over (special files or broken links in a probe or hold-out
    /// folder), one line each.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Wall-clock seconds; differ between runs with the same seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings_s: Option<AuditTimings>,
}

/// Most held-out images the causal check uses.
pub const CAUSAL_IMAGES: usize = 500;

/// Held-out real images at the model's input size, for the causal check.
fn holdout_images(
    config: &AuditConfig,
    model: &AuditedModel,
    h: usize,
    w: usize,
    warnings: &mut Vec<String>,
) -> Result<Option<(Images, String)>> {
    let (images, what) = match &config.holdout {
        // A folder of images, with or without class subfolders (labels are not needed): a
        // seeded sample, each image decoded straight to the model's size.
        Some(path) if path.is_dir() && crate::data::idx::locate_pair(path).is_err() => {
            let src = ProbeSource::folder(
                path,
                h,
                w,
                Some(CAUSAL_IMAGES),
                &mut seed::rng(config.seed, Stream::Holdout, &[1]),
            )?;
            warnings.extend_from_slice(src.skipped());
            (
                src.batch(0, src.count())?,
                format!("held-out images from {}", path.display()),
            )
        }
        // An IDX pair, read at its own size (sampled and resized below).
        Some(path) => {
            let set = crate::data::load_idx_classes(path, None, crate::data::idx::Transpose::Auto)?;
            (
                set.images,
                format!("held-out images from {}", path.display()),
            )
        }
        None => match model
            .checkpoint_dir()
            .map(crate::train::held_out_images)
            .transpose()?
            .flatten()
        {
            Some(val) => (
                val.images,
                "the model's validation images, nothing planted".to_string(),
            ),
            None => return Ok(None),
        },
    };
    let keep: Vec<usize> = if images.count > CAUSAL_IMAGES {
        let mut ids = index::sample(
            &mut seed::rng(config.seed, Stream::Holdout, &[]),
            images.count,
            CAUSAL_IMAGES,
        )
        .into_vec();
        ids.sort_unstable();
        ids
    } else {
        (0..images.count).collect()
    };
    let images = plant::to_rgb(&images.select(&keep)).resize(h, w);
    Ok(Some((images, what)))
}

/// Checks, before any work, that the audit's largest buffers fit in memory.
fn check_memory(
    config: &AuditConfig,
    probes: usize,
    classes: usize,
    [h, w]: [usize; 2],
) -> Result<()> {
    use crate::budget::{Budget, F32, vae_training_bytes};
    let image = 3.0 * h as f64 * w as f64 * F32;
    let batch = config.batch_size.min(probes);
    let vae_probes = probes.min(config.vae_train_probes);
    let s = config.vae_size;
    // Images are held as probes, as the model's input and as a tensor: about 3 copies; the
    // model's own activations come on top.
    Budget::of_machine().need_all(&[
        ("input-size", image * 4.0, format!("one {h}x{w} image")),
        (
            "batch-size",
            batch as f64 * image * 3.0,
            format!("batches of {batch} {h}x{w} probes"),
        ),
        (
            "input-size",
            CAUSAL_IMAGES as f64 * image * 3.0,
            format!("the causal check's {CAUSAL_IMAGES} held-out images at {h}x{w}"),
        ),
        (
            "latent-dim",
            probes as f64 * config.latent_dim as f64 * F32 * 3.0,
            format!("{probes} latents of {} dimensions", config.latent_dim),
        ),
        (
            "probes-count",
            probes as f64 * (200.0 + 32.0 * classes as f64),
            format!("{probes} probes' probabilities and report rows"),
        ),
        (
            "vae-size",
            vae_probes as f64 * 3.0 * (s * s) as f64 * F32
                + vae_training_bytes(s, config.vae_hidden, config.vae.batch_size),
            format!("a VAE trained on {vae_probes} probes as {s}x{s} thumbnails"),
        ),
    ])
}

/// Runs an audit and writes the report folder.
pub fn run(config: &AuditConfig, progress: &Progress) -> Result<AuditResults> {
    config.check()?;
    let started = Instant::now();
    let mut timings = AuditTimings::default();
    let device = config.device.device()?;
    let model = AuditedModel::load(&config.model, &config.onnx, &device)?;
    let [h, w] = model.input_size();
    let classes = model.class_names.len();
    let source = match &config.probes {
        ProbeChoice::Family(family) => ProbeSource::Generated(ProbeSpec {
            family: *family,
            count: config.probes_count.unwrap_or(DEFAULT_PROBES),
            height: h,
            width: w,
            seed: seed::derive(config.seed, Stream::Probes, &[]),
        }),
        ProbeChoice::Folder(dir) => ProbeSource::folder(
            dir,
            h,
            w,
            config.probes_count,
            &mut seed::rng(config.seed, Stream::Probes, &[1]),
        )?,
    };
    let n = source.count();
    crate::check::k(config.k, n)?;
    check_memory(config, n, classes, [h, w])?;
    // Loaded before any training, so that a bad --holdout fails early.
    let mut warnings = source.skipped().to_vec();
    let holdout = holdout_images(config, &model, h, w, &mut warnings)?;
    let staged = StagedDir::create(&config.output())?;

    // The VAE trains on a seeded sample of the probes (all of them when there are few).
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
        guide_classes: if config.vae_guided { classes } else { 0 },
    };

    // Step 3 for every probe, in bounded batches: keep the probabilities, and the thumbnails
    // of the VAE's sample.
    let t = Instant::now();
    let mut probs = Vec::with_capacity(n * classes);
    let mut train_x = Vec::with_capacity(m * vconf.input_len());
    let mut sampled = 0; // ids[..sampled] have their thumbnails
    let bar = progress.bar(n as u64, "classifying probes");
    for start in (0..n).step_by(config.batch_size) {
        let end = start + config.batch_size.min(n - start);
        let images = source.batch(start, end)?;
        probs.extend(model.predict(&images)?.values);
        let upto = sampled + ids[sampled..].partition_point(|&i| i < end);
        let local: Vec<usize> = ids[sampled..upto].iter().map(|&i| i - start).collect();
        train_x.extend(vae::thumbnails(&images.select(&local), config.vae_size));
        sampled = upto;
        bar.set_position(end as u64);
    }
    bar.finish_and_clear();
    let probs = Probabilities::new(classes, probs)?;
    timings.inference = t.elapsed().as_secs_f64();

    // Step 2: the VAE.
    let t = Instant::now();
    let train_p: Vec<f32> = if config.vae_guided {
        ids.iter()
            .flat_map(|&i| &probs.values[i * classes..(i + 1) * classes])
            .copied()
            .collect()
    } else {
        Vec::new()
    };
    let bar = progress.bar(epoch_estimate(&config.vae, m), "training VAE");
    let (vae_model, vae_training) = vae::train(
        &vconf,
        &train_x,
        config.vae_guided.then_some(train_p.as_slice()),
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
    timings.vae = t.elapsed().as_secs_f64();

    // Every probe's latent: from the thumbnails at hand when the VAE saw every probe, else
    // from a second pass over the probes in bounded batches.
    let t = Instant::now();
    let mut rng = seed::rng(config.seed, Stream::LatentSample, &[]);
    let encode = |x: &[f32], rng: &mut _| {
        vae::encode(
            &vae_model,
            &vconf,
            x,
            config.latent,
            config.batch_size,
            &device,
            rng,
        )
    };
    let latents = if m == n {
        encode(&train_x, &mut rng)?
    } else {
        drop(train_x);
        let mut latents = Vec::with_capacity(n * config.latent_dim);
        let bar = progress.bar(n as u64, "encoding probes");
        for start in (0..n).step_by(config.batch_size) {
            let end = start + config.batch_size.min(n - start);
            let x = vae::thumbnails(&source.batch(start, end)?, config.vae_size);
            latents.extend(encode(&x, &mut rng)?);
            bar.set_position(end as u64);
        }
        bar.finish_and_clear();
        latents
    };
    timings.inference += t.elapsed().as_secs_f64();

    // Step 4.
    let t = Instant::now();
    let kmeans = KMeansParams {
        restarts: config.kmeans_restarts,
        ..KMeansParams::default()
    };
    let template = ClusterSettings {
        kmeans: &kmeans,
        ks: &vec![1; classes],
        weight_exponent: config.weight_exponent,
        seed: config.seed,
        seed_path: &[],
    };
    let ks = config.k.resolve(
        &latents,
        config.latent_dim,
        &probs,
        &model.class_names,
        &template,
    )?;
    let clustering = analysis::cluster_and_score(
        &latents,
        config.latent_dim,
        &probs,
        &model.class_names,
        &ClusterSettings {
            ks: &ks,
            ..template
        },
    )?;
    timings.clustering = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let probe_images = |ids: &[usize]| source.get(ids);
    let predict = |imgs: &Images| model.predict(imgs);
    let causal_input = holdout
        .as_ref()
        .map(|(images, description)| CausalInput::new(images, description.clone(), &predict))
        .transpose()?;
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
        permutations: config.permutations,
        seed: config.seed,
        seed_path: &[],
        causal: causal_input.as_ref(),
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
        warnings,
        timings_s: config.record_timings.then_some(timings),
    };
    crate::atomic::write_json(&staged.path().join("results.json"), &results)?;
    let html = crate::report::render_audit_html(&results, staged.path())?;
    crate::atomic::write(&staged.path().join("report.html"), html.as_bytes())?;
    staged.commit()?;
    Ok(results)
}
