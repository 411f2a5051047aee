//! `spurion reproduce`: the paper's experiment end to end.
//!
//! Digits of two classes (0 and 1) get their strokes coloured by class (green, blue); a CNN
//! trained one epoch on them learns colour, not shape, which its accuracy on a monochrome twin
//! of the validation digits shows. Solid-colour probes are run through it, a VAE is trained on
//! the probes for each latent dimension, and per-class weighted k-means over the latents finds
//! the regions that drive each class. The score is ACP (see [`crate::metrics`]), printed beside
//! the paper's Table 1. Each trial has its own classifier and probe set, each (trial, dim) its
//! own VAE; every random choice derives from `seed`.

use std::time::Instant;

use crate::config::ReproduceConfig;
use crate::data::{self, LabeledImages, plant};
use crate::error::{Error, Result};
use crate::method::causal::{CausalInput, EffectCache, draw_probes};
use crate::method::split::{HELD_SHARE, Split};
use crate::method::{LatentSpace, Latents, VaeKind};
use crate::metrics::Probabilities;
use crate::nn::classifier::{self, Classifier, ClassifierConfig};
use crate::nn::vae;
use crate::pipeline::{self, Space};
use crate::probes::{ProbeFamily, ProbeSource, ProbeSpec};
use crate::progress::Progress;
use crate::results::{
    MethodScore, ReproduceResults, RunResult, SavedModel, Timings, TrialResult, paper_table,
    summarize,
};
use crate::seed::{self, SeedPath, Stream};

/// One trial's classifier and probes: everything that does not depend on the latent dim.
pub struct TrialSetup {
    pub trial: usize,
    pub classifier: Classifier,
    pub classifier_config: ClassifierConfig,
    pub colored_accuracy: f64,
    pub monochrome_accuracy: f64,
    pub swapped_accuracy: f64,
    /// Held-out digits in monochrome (white strokes), for causal tests.
    pub held_out: data::Images,
    pub probes: ProbeSpec,
    /// The probes the VAEs and clusters are fitted on, and those held out.
    pub split: Split,
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
        class_names: train.class_names.clone(),
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
    let model = classifier::fit(
        &cconf,
        &train_set,
        &config.classifier,
        &device,
        &SeedPath::root(config.seed).child(t),
        progress,
        format!("trial {trial}: classifier"),
    )?;
    let predict = |images: &data::Images| {
        classifier::predict(&model, &cconf, images, config.batch_size, &device)
    };
    let colored_accuracy = classifier::accuracy(&predict(&val_rgb)?, &val.labels);
    let mono = predict(&val_mono)?;
    let monochrome_accuracy = classifier::accuracy(&mono, &val.labels);
    let swapped_accuracy = classifier::accuracy(&predict(&val_swapped)?, &val.labels);
    timings.classifier += started.elapsed().as_secs_f64();

    let started = Instant::now();
    let spec = ProbeSpec::new(
        ProbeFamily::Solid,
        config.probes,
        [base.images.height, base.images.width],
        seed::derive(config.seed, Stream::Probes, &[t]),
    );
    let probe_images = spec.generate();
    let probs = predict(&probe_images)?;
    let thumbnails = vae::thumbnails(&probe_images, config.vae.size);
    timings.probes += started.elapsed().as_secs_f64();
    Ok(TrialSetup {
        trial,
        classifier: model,
        classifier_config: cconf,
        colored_accuracy,
        monochrome_accuracy,
        swapped_accuracy,
        held_out: val_mono,
        probes: spec,
        split: Split::new(
            config.probes,
            HELD_SHARE,
            &SeedPath::root(config.seed).child(t),
        ),
        probs,
        thumbnails,
    })
}

/// Trains the VAE of (trial, dim) on the trial's probes and encodes them: guided by the
/// classifier's probabilities, or plain as in the paper.
pub fn fit_space(
    config: &ReproduceConfig,
    setup: &TrialSetup,
    dim: usize,
    kind: VaeKind,
    progress: &Progress,
) -> Result<LatentSpace> {
    let guided = kind == VaeKind::Guided;
    let vae = crate::method::VaeSettings {
        kind,
        ..config.vae.clone()
    };
    LatentSpace::fit(
        vae.config(dim, setup.probs.classes),
        &setup.thumbnails,
        guided.then_some(setup.probs.values.as_slice()),
        &setup.split.fit,
        &config.vae.training,
        config.batch_size,
        &config.device.device()?,
        &SeedPath::root(config.seed)
            .child(setup.trial as u64)
            .child(dim as u64)
            .child(guided as u64),
        progress,
        format!(
            "trial {}: {} VAE dim {dim}",
            setup.trial,
            if guided { "guided" } else { "plain" }
        ),
    )
}

/// One (trial, latent dim): the VAE(s), the clustering, the scores and the run's record.
fn run_dim(
    config: &ReproduceConfig,
    setup: &TrialSetup,
    causal: &CausalInput,
    dim: usize,
    progress: &Progress,
    timings: &mut Timings,
) -> Result<RunResult> {
    let trial = setup.trial;
    let class_names = &setup.classifier_config.class_names;
    let probs = &setup.probs;
    let seeds = SeedPath::root(config.seed)
        .child(trial as u64)
        .child(dim as u64);
    let started = Instant::now();
    let space = fit_space(config, setup, dim, config.vae.kind, progress)?;
    // The paper's whole method: a plain VAE (ours, when ours is plain), sampled latents, one
    // cluster per class, p^2.
    let plain = if config.paper_baseline && config.vae.kind == VaeKind::Guided {
        Some(fit_space(config, setup, dim, VaeKind::Plain, progress)?)
    } else {
        None
    };
    let paper_space = config
        .paper_baseline
        .then(|| plain.as_ref().unwrap_or(&space));
    timings.vae += started.elapsed().as_secs_f64();

    let started = Instant::now();
    // The paper's search: one cluster per class, p^2.
    let paper_search = crate::config::MethodSettings {
        k: crate::method::ClusterCount::Fixed(1),
        weight_exponent: 2.0,
        ..config.method.clone()
    }
    .search()?;
    let paper = match paper_space {
        Some(ps) => Some(pipeline::held_out_score(
            &paper_search,
            &Latents::new(dim, ps.samples.clone())?,
            probs,
            &setup.split,
            &seeds,
        )?),
        None => None,
    };
    // The trivial baseline: the classifier's probabilities as the latent space.
    let as_latent = pipeline::held_out_score(
        &config.method.search()?,
        &Latents::new(probs.classes, probs.values.clone())?,
        probs,
        &setup.split,
        &seeds,
    )?;
    timings.clustering += started.elapsed().as_secs_f64();

    let spec = &setup.probes;
    let probe_images = |ids: &[usize]| ProbeSource::Generated(spec.clone()).get(ids);
    let decode = |z: &[f32]| space.vae.decode(z);
    let (mut run, times) = pipeline::run_space(Space {
        rel: format!("trial-{trial}/dim-{dim}"),
        label: format!("trial {trial}, latent dim {dim}"),
        class_names,
        probs,
        latents: Latents::new(dim, space.latents(config.method.latent).to_vec())?,
        split: &setup.split,
        method: &config.method,
        top_probes: false,
        seeds,
        decode: Some(&decode),
        probe_images: &probe_images,
        probe_part: &|_| None,
        causal: Some(causal),
        vae: Some(space.vae.save()?),
        vae_training: Some(space.training.clone()),
    })?;
    run.paper_method = paper.as_ref().map(MethodScore::from);
    run.probabilities_as_latent = Some(MethodScore::from(&as_latent));
    timings.clustering += times.search;
    timings.report += times.analysis;
    progress.println(format!(
        "trial {trial} dim {dim}: ACP {:.1}% (chance {:.1}%, ceiling {:.1}%)",
        100.0 * run.acp,
        100.0 * run.chance,
        100.0 * run.ceiling
    ));
    Ok(run)
}

/// Checks, before any work, that the sweep's largest buffers fit in memory.
fn check_memory(config: &ReproduceConfig, base: &LabeledImages) -> Result<()> {
    use crate::budget::{Budget, F32, vae_training_bytes};
    let (n, s) = (config.probes as f64, config.vae.size);
    let trials = config.trials as f64;
    let parallel_trials = config.threads.clamp(1, config.trials) as f64;
    let runs = trials * config.dims.len() as f64;
    let jobs = config.threads.clamp(1, config.trials * config.dims.len()) as f64;
    let image = 3.0 * (base.images.height * base.images.width) as f64 * F32;
    let max_dim = config.dims.iter().copied().max().unwrap_or(1) as f64;
    let classes = config.classes.len() as f64;
    // Every trial keeps its probes' thumbnails and probabilities; the trials being set up
    // hold their probe images; each (trial, dim) job trains a VAE, and every run keeps its
    // latents, probabilities and 2-D view until the report is written.
    Budget::of_machine().need_all(&[
        (
            "probes",
            parallel_trials * n * image + (trials + runs) * n * (classes * F32 + 200.0),
            format!(
                "{} probes in each of {} trials",
                config.probes, config.trials
            ),
        ),
        (
            "vae-size",
            trials * n * 3.0 * (s * s) as f64 * F32
                + jobs * vae_training_bytes(s, config.vae.hidden, config.vae.training.batch_size),
            format!("{} probes as {s}x{s} VAE thumbnails", config.probes),
        ),
        (
            "dims",
            (jobs * 4.0 + runs) * n * max_dim * F32,
            format!("latents of up to {max_dim} dimensions"),
        ),
    ])
}

/// A trial's classifier as a function of images.
type Predictor<'a> = Box<dyn Fn(&data::Images) -> Result<Probabilities> + Sync + 'a>;

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

/// Runs the whole sweep and returns its results, with everything the report's files are made
/// from; nothing is written ([`crate::report::write_reproduce`] writes the report folder).
pub fn reproduce(config: &ReproduceConfig, progress: &Progress) -> Result<ReproduceResults> {
    config.check()?;
    let started = Instant::now();
    let mut timings = Timings::default();
    let base = data::load_idx_classes(&config.data, Some(&config.classes), config.transpose)?;
    data::trainable(&base, &config.data)?;
    check_memory(config, &base)?;
    timings.data += started.elapsed().as_secs_f64();
    // Trials, and the latent dims within them, are independent (each derives its own seeds),
    // so they run side by side: the backend keeps about one core busy per network on these
    // small layers. Work is split into trial set-ups, then (trial, dim) jobs.
    let timing = std::sync::Mutex::new(Timings::default());
    let add = |t: &Timings| timing.lock().unwrap_or_else(|e| e.into_inner()).add(t);
    let setups = parallel_map(config.trials, config.threads, |trial| {
        let mut t = Timings::default();
        let setup = prepare_trial(config, &base, trial, progress, &mut t)?;
        add(&t);
        Ok(setup)
    })?;
    // Each trial's causal tests: its held-out digits, its classifier, and random probes for
    // the null, shared by its latent dimensions (the null of a mask is measured once).
    let device = config.device.device()?;
    let predictors: Vec<Predictor> = setups
        .iter()
        .map(|s| -> Predictor {
            let device = device.clone();
            Box::new(move |imgs: &data::Images| {
                classifier::predict(
                    &s.classifier,
                    &s.classifier_config,
                    imgs,
                    config.batch_size,
                    &device,
                )
            })
        })
        .collect();
    let causal: Vec<CausalInput> = setups
        .iter()
        .zip(&predictors)
        .map(|(s, predict)| {
            let ids = draw_probes(
                &s.split.held,
                config.causal.null_probes,
                &mut seed::rng(config.seed, Stream::CausalNull, &[s.trial as u64]),
            );
            let images = ProbeSource::Generated(s.probes.clone()).get(&ids)?;
            CausalInput::new(
                &s.held_out,
                "held-out monochrome digits".into(),
                predict.as_ref(),
                (ids, images),
                config.causal.clone(),
                EffectCache::default(),
            )
        })
        .collect::<Result<_>>()?;
    let dims = config.dims.len();
    let mut runs = parallel_map(config.trials * dims, config.threads, |job| {
        let mut t = Timings::default();
        let run = run_dim(
            config,
            &setups[job / dims],
            &causal[job / dims],
            config.dims[job % dims],
            progress,
            &mut t,
        )?;
        add(&t);
        Ok(run)
    })?
    .into_iter();
    let trials = setups
        .iter()
        .map(|setup| {
            let dir = format!("trial-{}", setup.trial);
            Ok(TrialResult {
                trial: setup.trial,
                colored_accuracy: setup.colored_accuracy,
                monochrome_accuracy: setup.monochrome_accuracy,
                swapped_accuracy: setup.swapped_accuracy,
                classifier_weights: format!("{dir}/classifier.safetensors"),
                classifier_config: format!("{dir}/classifier.json"),
                probe_mean_probability: (0..setup.probs.classes)
                    .map(|c| setup.probs.mean(c))
                    .collect(),
                runs: runs.by_ref().take(dims).collect(),
                classifier: Some(Box::new(SavedModel::of(
                    &setup.classifier,
                    &setup.classifier_config,
                    "classifier",
                )?)),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    timings.add(&timing.into_inner().unwrap_or_else(|e| e.into_inner()));
    timings.total = started.elapsed().as_secs_f64();
    Ok(ReproduceResults {
        spurion_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: config.seed,
        settings: config.clone(),
        class_names: base.class_names.clone(),
        summary: summarize(&config.dims, &trials),
        trials,
        paper: paper_table(),
        timings_s: config.record_timings.then_some(timings),
    })
}

/// Runs the sweep and writes the report folder to `config.out`.
pub fn run(config: &ReproduceConfig, progress: &Progress) -> Result<ReproduceResults> {
    let results = reproduce(config, progress)?;
    crate::report::write_reproduce(&results, &config.output())?;
    Ok(results)
}
