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

use crate::analysis::{self, CausalInput, ClusterCount, ClusterSettings, RunInput};
use crate::atomic::{self, OutputTarget, StagedDir};
use crate::data::{self, LabeledImages, idx::Transpose, plant};
use crate::error::{Error, Result};
use crate::kmeans::KMeansParams;
use crate::metrics::Probabilities;
use crate::nn::ComputeDevice;
use crate::nn::classifier::Classifier;
use crate::nn::classifier::{self, ClassifierConfig, TrainParams};
use crate::nn::vae::{self, LatentMode, Vae, VaeConfig, VaeTrainParams, VaeTraining};
use crate::probes::{ProbeFamily, ProbeSource, ProbeSpec};
use crate::progress::Progress;
use crate::report::{self, MethodScore, ReproduceResults, RunResult, Timings, TrialResult};
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
    /// Clusters per class: a number, or chosen per class by held-out ACP.
    pub k: ClusterCount,
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
    /// Guide the VAE with the classifier's probabilities (see `nn::vae`); false: the paper's
    /// plain VAE.
    pub vae_guided: bool,
    /// Also run the paper's whole method (a plain VAE, sampled latents, k = 1, p^2) on the
    /// same probes, for comparison.
    pub paper_baseline: bool,
    /// Images per inference batch.
    pub batch_size: usize,
    /// Write wall-clock timings into results.json (they are all that differs between two runs
    /// with the same seed; leave them out for byte-identical files).
    pub record_timings: bool,
    /// Trials run at the same time (default: the machine's cores). Results do not depend on it.
    #[serde(skip)]
    pub threads: usize,
    /// Permutations of each cluster's significance test (0: none).
    pub permutations: usize,
    pub device: ComputeDevice,
    /// Output folder.
    pub out: PathBuf,
    /// Replace `out` even when spurion did not write it (never an input).
    #[serde(default)]
    pub force: bool,
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
            k: ClusterCount::Fixed(1),
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
            vae_size: 8,
            vae_hidden: 128,
            vae_guided: true,
            paper_baseline: true,
            batch_size: 1024,
            record_timings: true,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            permutations: 1000,
            device: ComputeDevice::Cpu,
            out: PathBuf::from("spurion-out"),
            force: false,
        }
    }
}

impl ReproduceConfig {
    /// Checks every setting; the error names the flag and what it expects.
    pub fn check(&self) -> Result<()> {
        use crate::check::{self, positive};
        check::classes(&self.classes)?;
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
        positive("probes", self.probes)?;
        positive("trials", self.trials)?;
        check::at_most("trials", self.trials, check::MAX_TRIALS)?;
        check::at_most("epochs", self.classifier.epochs, check::MAX_EPOCHS)?;
        check::at_most("permutations", self.permutations, check::MAX_PERMUTATIONS)?;
        check::k(self.k, self.probes)?;
        check::weight_exponent(self.weight_exponent)?;
        positive("kmeans-restarts", self.kmeans_restarts)?;
        positive("epochs", self.classifier.epochs)?;
        check::vae(&self.vae)?;
        positive("batch-size", self.classifier.batch_size)?;
        positive("batch-size", self.batch_size)?;
        check::positive_f("lr", self.classifier.learning_rate)?;
        positive("vae-size", self.vae_size)?;
        positive("vae-hidden", self.vae_hidden)?;
        self.device.device()?;
        self.output().check()
    }

    /// Where the report goes, and the input it must not replace.
    pub fn output(&self) -> OutputTarget {
        OutputTarget::new(&self.out, self.force).input("data", &self.data)
    }
}

/// One trial's classifier and probes: everything that does not depend on the latent dim.
pub struct TrialSetup {
    pub trial: usize,
    pub classifier: Classifier,
    pub classifier_config: ClassifierConfig,
    pub colored_accuracy: f64,
    pub monochrome_accuracy: f64,
    pub swapped_accuracy: f64,
    /// Held-out digits in monochrome (white strokes), for causal checks.
    pub held_out: data::Images,
    /// The classifier's prediction on each of them.
    pub held_out_pred: Vec<usize>,
    pub probes: ProbeSpec,
    pub probs: Probabilities,
    /// The probes as flattened VAE thumbnails.
    pub thumbnails: Vec<f32>,
}

/// Splits the data, trains the classifier on coloured digits, measures it, and runs the
/// trial's probes through it.
pub fn prepare_trial(
    config: &ReproduceConfig,
    base: &LabeledImages,
    trial: usize,
    progress: &Progress,
    timings: &mut Timings,
) -> Result<TrialSetup> {
    let device = config.device.device()?;
    let t = trial as u64;
    let started = Instant::now();
    let (train, val) = base.split(0.8, &mut seed::rng(config.seed, Stream::DataSplit, &[t]));
    let train_set = LabeledImages {
        images: plant::colorize(&train.images, &train.labels, &config.colors),
        labels: train.labels.clone(),
        class_names: base.class_names.clone(),
        skipped: Vec::new(),
    };
    let val_rgb = plant::colorize(&val.images, &val.labels, &config.colors);
    let val_mono = plant::monochrome(&val.images);
    // Each class in the next class's colour: colour and shape now disagree.
    let mut swapped_colors = config.colors.clone();
    swapped_colors.rotate_left(1);
    let val_swapped = plant::colorize(&val.images, &val.labels, &swapped_colors);
    timings.data += started.elapsed().as_secs_f64();

    let started = Instant::now();
    let cconf = ClassifierConfig::new(
        3,
        base.images.height,
        base.images.width,
        base.class_names.clone(),
    );
    let model = crate::train::fit_classifier(
        &cconf,
        &train_set,
        &config.classifier,
        &device,
        (config.seed, &[t]),
        progress,
        format!("trial {trial}: classifier"),
    )?;
    let predict = |images: &data::Images| {
        classifier::predict(&model, &cconf, images, config.batch_size, &device)
    };
    let colored_accuracy = classifier::accuracy(&predict(&val_rgb)?, &val.labels);
    let mono = predict(&val_mono)?;
    let monochrome_accuracy = classifier::accuracy(&mono, &val.labels);
    let held_out_pred = (0..val_mono.count).map(|i| mono.argmax(i)).collect();
    let swapped_accuracy = classifier::accuracy(&predict(&val_swapped)?, &val.labels);
    timings.classifier += started.elapsed().as_secs_f64();

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
    let thumbnails = vae::thumbnails(&probe_images, config.vae_size);
    timings.probes += started.elapsed().as_secs_f64();
    Ok(TrialSetup {
        trial,
        classifier: model,
        classifier_config: cconf,
        colored_accuracy,
        monochrome_accuracy,
        swapped_accuracy,
        held_out: val_mono,
        held_out_pred,
        probes: spec,
        probs,
        thumbnails,
    })
}

/// A trained VAE and the probes' latents in its space.
pub struct LatentSpace {
    pub dim: usize,
    pub vae: Vae,
    pub config: VaeConfig,
    pub training: VaeTraining,
    /// Encoder means, `probes x dim`.
    pub means: Vec<f32>,
    /// One draw `mu + sigma * eps` per probe (the paper's latents).
    pub samples: Vec<f32>,
}

impl LatentSpace {
    pub fn latents(&self, mode: LatentMode) -> &[f32] {
        match mode {
            LatentMode::Mean => &self.means,
            LatentMode::Sample => &self.samples,
        }
    }
}

/// Trains the VAE of (trial, dim) on the trial's probes and encodes them: guided by the
/// classifier's probabilities, or plain as in the paper.
pub fn fit_vae(
    config: &ReproduceConfig,
    setup: &TrialSetup,
    dim: usize,
    guided: bool,
    progress: &Progress,
) -> Result<LatentSpace> {
    let device = config.device.device()?;
    let path = [setup.trial as u64, dim as u64, guided as u64];
    let vconf = VaeConfig {
        channels: 3,
        size: config.vae_size,
        latent_dim: dim,
        hidden: config.vae_hidden,
        guide_classes: if guided { setup.probs.classes } else { 0 },
    };
    let bar = progress.bar(
        vae::epoch_estimate(&config.vae, config.probes),
        format!(
            "trial {}: {} VAE dim {dim}",
            setup.trial,
            if guided { "guided" } else { "plain" }
        ),
    );
    let (model, training) = vae::train(
        &vconf,
        &setup.thumbnails,
        guided.then_some(setup.probs.values.as_slice()),
        &config.vae,
        &device,
        seed::derive(config.seed, Stream::VaeInit, &path),
        &mut seed::rng(config.seed, Stream::VaeTraining, &path),
        |_, loss| {
            bar.set_message(format!("-ELBO {loss:.2}"));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    let mut rng = seed::rng(config.seed, Stream::LatentSample, &path);
    let x = &setup.thumbnails;
    let means = vae::encode(
        &model,
        &vconf,
        x,
        LatentMode::Mean,
        config.batch_size,
        &device,
        &mut rng,
    )?;
    let samples = vae::encode(
        &model,
        &vconf,
        x,
        LatentMode::Sample,
        config.batch_size,
        &device,
        &mut rng,
    )?;
    Ok(LatentSpace {
        dim,
        vae: model,
        config: vconf,
        training,
        means,
        samples,
    })
}

/// Saves a trial's classifier; returns the paths of its weights and config.
fn save_classifier(out: &Path, setup: &TrialSetup) -> Result<(String, String)> {
    let trial_dir = format!("trial-{}", setup.trial);
    let weights = format!("{trial_dir}/classifier.safetensors");
    let config = format!("{trial_dir}/classifier.json");
    crate::nn::save_weights(
        &setup.classifier,
        &out.join(&weights),
        &[("spurion", "classifier")],
    )?;
    atomic::write_json(&out.join(&config), &setup.classifier_config)?;
    Ok((weights, config))
}

/// One (trial, latent dim): the VAE(s), the clustering, the scores and the run's files.
fn run_dim(
    config: &ReproduceConfig,
    out: &Path,
    setup: &TrialSetup,
    dim: usize,
    progress: &Progress,
    timings: &mut Timings,
) -> Result<RunResult> {
    let device = config.device.device()?;
    let trial = setup.trial;
    let t = trial as u64;
    let trial_dir = format!("trial-{trial}");
    let class_names = &setup.classifier_config.class_names;
    let kmeans = KMeansParams {
        restarts: config.kmeans_restarts,
        ..KMeansParams::default()
    };
    let probs = &setup.probs;
    let started = Instant::now();
    let space = fit_vae(config, setup, dim, config.vae_guided, progress)?;
    // The paper's whole method: a plain VAE (ours, when ours is plain), sampled latents, one
    // cluster per class, p^2.
    let plain_space = if config.paper_baseline && config.vae_guided {
        Some(fit_vae(config, setup, dim, false, progress)?)
    } else {
        None
    };
    let paper_space = config
        .paper_baseline
        .then(|| plain_space.as_ref().unwrap_or(&space));
    timings.vae += started.elapsed().as_secs_f64();

    let started = Instant::now();
    let latents = space.latents(config.latent);
    let classes = class_names.len();
    let template = ClusterSettings {
        kmeans: &kmeans,
        ks: &vec![1; classes],
        weight_exponent: config.weight_exponent,
        seed: config.seed,
        seed_path: &[t, dim as u64],
    };
    let ks = config
        .k
        .resolve(latents, dim, probs, class_names, &template)?;
    let clustering = analysis::cluster_and_score(
        latents,
        dim,
        probs,
        class_names,
        &ClusterSettings {
            ks: &ks,
            ..template
        },
    )?;
    let paper = match paper_space {
        Some(ps) => Some(
            analysis::cluster_and_score(
                &ps.samples,
                dim,
                probs,
                class_names,
                &ClusterSettings {
                    weight_exponent: 2.0,
                    ..template
                },
            )?
            .score,
        ),
        None => None,
    };
    timings.clustering += started.elapsed().as_secs_f64();
    let s = &clustering.score;
    progress.println(format!(
        "trial {trial} dim {dim}: ACP {:.1}% (chance {:.1}%, ceiling {:.1}%)",
        100.0 * s.acp,
        100.0 * s.chance,
        100.0 * s.ceiling
    ));
    let started = Instant::now();
    let spec = &setup.probes;
    let probe_images = |ids: &[usize]| ProbeSource::Generated(spec.clone()).get(ids);
    let predict = |imgs: &data::Images| {
        classifier::predict(
            &setup.classifier,
            &setup.classifier_config,
            imgs,
            config.batch_size,
            &device,
        )
    };
    let causal = CausalInput {
        images: &setup.held_out,
        description: "held-out monochrome digits".to_string(),
        predict: &predict,
        base_pred: setup.held_out_pred.clone(),
    };
    let mut run = analysis::write_run(&RunInput {
        root: out,
        rel: format!("{trial_dir}/dim-{dim}"),
        label: format!("trial {trial}, latent dim {dim}"),
        class_names,
        probs,
        latents,
        dim,
        clustering: &clustering,
        weight_exponent: config.weight_exponent,
        vae: &space.vae,
        vae_config: &space.config,
        vae_training: space.training.clone(),
        device: &device,
        probe_images: &probe_images,
        permutations: config.permutations,
        seed: config.seed,
        seed_path: &[t, dim as u64],
        causal: Some(&causal),
    })?;
    run.paper_method = paper.as_ref().map(MethodScore::from);
    timings.report += started.elapsed().as_secs_f64();
    Ok(run)
}

/// Checks, before any work, that the sweep's largest buffers fit in memory.
fn check_memory(config: &ReproduceConfig, base: &LabeledImages) -> Result<()> {
    use crate::budget::{Budget, F32, vae_training_bytes};
    let (n, s) = (config.probes as f64, config.vae_size);
    let trials = config.trials as f64;
    let parallel_trials = config.threads.clamp(1, config.trials) as f64;
    let jobs = config.threads.clamp(1, config.trials * config.dims.len()) as f64;
    let image = 3.0 * (base.images.height * base.images.width) as f64 * F32;
    let max_dim = config.dims.iter().copied().max().unwrap_or(1) as f64;
    let classes = config.classes.len() as f64;
    // Every trial keeps its probes' thumbnails and probabilities; the trials being set up
    // hold their probe images; each (trial, dim) job trains a VAE and holds its latents.
    Budget::of_machine().need_all(&[
        (
            "probes",
            parallel_trials * n * image + trials * n * (classes * F32 + 200.0),
            format!(
                "{} probes in each of {} trials",
                config.probes, config.trials
            ),
        ),
        (
            "vae-size",
            trials * n * 3.0 * (s * s) as f64 * F32
                + jobs * vae_training_bytes(s, config.vae_hidden, config.vae.batch_size),
            format!("{} probes as {s}x{s} VAE thumbnails", config.probes),
        ),
        (
            "dims",
            jobs * n * max_dim * F32 * 4.0,
            format!("latents of up to {max_dim} dimensions"),
        ),
    ])
}

/// Runs `f(0..n)` on `workers` threads; results in index order, or the first error.
fn parallel_map<T: Send>(
    n: usize,
    workers: usize,
    f: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::with_capacity(n));
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    let lock_failed = || failed.lock().unwrap_or_else(|e| e.into_inner());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, n.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n || lock_failed().is_some() {
                        break;
                    }
                    match f(i) {
                        Ok(v) => results
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((i, v)),
                        Err(e) => {
                            lock_failed().get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, v)| v).collect())
}

/// Runs the whole sweep and writes the report into `config.out`: results.json,
/// report.html, and per trial and latent dimension the prototypes, plots, probes.csv,
/// latents.npz and trained models. The folder appears only when complete.
pub fn run(config: &ReproduceConfig, progress: &Progress) -> Result<ReproduceResults> {
    config.check()?;
    let started = Instant::now();
    let mut timings = Timings::default();
    let base = data::load_idx_classes(&config.data, Some(&config.classes), config.transpose)?;
    check_memory(config, &base)?;
    let staged = StagedDir::create(&config.output())?;
    timings.data += started.elapsed().as_secs_f64();
    // Trials, and the latent dims within them, are independent (each derives its own seeds),
    // so they run side by side: the backend keeps about one core busy per network on these
    // small layers. Work is split into trial set-ups, then (trial, dim) jobs.
    let timing = std::sync::Mutex::new(Timings::default());
    let add = |t: &Timings| timing.lock().unwrap_or_else(|e| e.into_inner()).add(t);
    let out = staged.path();
    let setups = parallel_map(config.trials, config.threads, |trial| {
        let mut t = Timings::default();
        let setup = prepare_trial(config, &base, trial, progress, &mut t)?;
        add(&t);
        Ok(setup)
    })?;
    let files = setups
        .iter()
        .map(|s| save_classifier(out, s))
        .collect::<Result<Vec<_>>>()?;
    let dims = config.dims.len();
    let mut runs = parallel_map(config.trials * dims, config.threads, |job| {
        let mut t = Timings::default();
        let run = run_dim(
            config,
            out,
            &setups[job / dims],
            config.dims[job % dims],
            progress,
            &mut t,
        )?;
        add(&t);
        Ok(run)
    })?
    .into_iter();
    let trials: Vec<TrialResult> = setups
        .iter()
        .zip(files)
        .map(
            |(setup, (classifier_weights, classifier_config))| TrialResult {
                trial: setup.trial,
                colored_accuracy: setup.colored_accuracy,
                monochrome_accuracy: setup.monochrome_accuracy,
                swapped_accuracy: setup.swapped_accuracy,
                classifier_weights,
                classifier_config,
                probe_mean_probability: (0..setup.probs.classes)
                    .map(|c| setup.probs.mean(c))
                    .collect(),
                runs: runs.by_ref().take(dims).collect(),
            },
        )
        .collect();
    timings.add(&timing.into_inner().unwrap_or_else(|e| e.into_inner()));
    timings.total = started.elapsed().as_secs_f64();
    let results = ReproduceResults {
        spurion_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: config.seed,
        settings: config.clone(),
        class_names: base.class_names.clone(),
        summary: report::summarize(&config.dims, &trials),
        trials,
        paper: report::paper_table(),
        timings_s: config.record_timings.then_some(timings),
    };
    results.write_json(staged.path())?;
    results.write_html(staged.path())?;
    staged.commit()?;
    Ok(results)
}
