//! `spurion audit`: the method on any classifier and any probe set.
//!
//! The classifier is anything that gives class probabilities ([`ProbabilityModel`]): one of
//! spurion's checkpoints or an ONNX file from the command line; the probes are a built-in
//! family or a folder of images ([`crate::probes`]). A VAE is trained on (up to
//! `vae_train_probes` of) the probes; then every probe streams through the classifier and the
//! encoder in bounded batches, keeping only its probabilities and latent, so probe sets far
//! larger than memory work. Step 4 and the analysis follow as in `reproduce` (the crate's
//! `pipeline` module).

use std::time::Instant;

use rand::seq::index;

use crate::config::{AuditConfig, DEFAULT_PROBES, ProbeChoice};
use crate::data::{Images, plant};
use crate::error::Result;
use crate::method::Latents;
use crate::method::causal::CausalInput;
use crate::method::latent::fit_vae;
use crate::metrics::Probabilities;
use crate::model::{LoadedModel, ProbabilityModel};
use crate::nn::vae;
use crate::pipeline::{self, Space};
use crate::probes::{ProbeSource, ProbeSpec};
use crate::progress::Progress;
use crate::results::{AuditResults, AuditTimings, SavedModel};
use crate::seed::{self, SeedPath, Stream};

/// Held-out real images for the causal check, and what they are.
pub struct Holdout {
    pub images: Images,
    pub description: String,
}

/// Most held-out images the causal check uses.
pub const CAUSAL_IMAGES: usize = 500;

/// Held-out real images at the model's input size, for the causal check.
fn holdout_images(
    config: &AuditConfig,
    model: &LoadedModel,
    h: usize,
    w: usize,
    warnings: &mut Vec<String>,
) -> Result<Option<Holdout>> {
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
        None => match match model {
            LoadedModel::Checkpoint(c) => c.held_out_images()?,
            LoadedModel::Onnx(_) => None,
        } {
            Some(val) => (
                val.images,
                "the model's validation images, nothing planted".to_string(),
            ),
            None => return Ok(None),
        },
    };
    if images.count == 0 {
        warnings.push(format!("{what}: no images, so no causal check"));
        return Ok(None);
    }
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
    Ok(Some(Holdout {
        images,
        description: what,
    }))
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
    let s = config.vae.size;
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
            "probes-count",
            probes as f64 * (200.0 + 32.0 * classes as f64),
            format!("{probes} probes' probabilities and report rows"),
        ),
        (
            "latent-dim",
            probes as f64 * config.latent_dim as f64 * F32 * 3.0,
            format!("{probes} latents of {} dimensions", config.latent_dim),
        ),
        (
            "vae-size",
            vae_probes as f64 * 3.0 * (s * s) as f64 * F32
                + vae_training_bytes(s, config.vae.hidden, config.vae.training.batch_size),
            format!("a VAE trained on {vae_probes} probes as {s}x{s} thumbnails"),
        ),
    ])
}

/// The probes of an audit, at the model's input size.
pub fn probe_source(config: &AuditConfig, [h, w]: [usize; 2]) -> Result<ProbeSource> {
    Ok(match &config.probes {
        ProbeChoice::Family(family) => ProbeSource::Generated(ProbeSpec::new(
            *family,
            config.probes_count.unwrap_or(DEFAULT_PROBES),
            [h, w],
            seed::derive(config.seed, Stream::Probes, &[]),
        )),
        ProbeChoice::Folder(dir) => ProbeSource::folder(
            dir,
            h,
            w,
            config.probes_count,
            &mut seed::rng(config.seed, Stream::Probes, &[1]),
        )?,
    })
}

/// Audits `model` on the probes of `source`, with hold-out images for the causal check, and
/// returns the results with everything the report's files are made from; nothing is written
/// ([`crate::report::write_audit`] writes the report folder).
pub fn audit(
    model: &dyn ProbabilityModel,
    source: &ProbeSource,
    holdout: Option<&Holdout>,
    config: &AuditConfig,
    progress: &Progress,
) -> Result<AuditResults> {
    let started = Instant::now();
    let mut timings = AuditTimings::default();
    let device = config.device.device()?;
    let class_names = model.class_names();
    let classes = class_names.len();
    let n = source.count();
    config.method.k.check(n)?;
    let seeds = SeedPath::root(config.seed);

    // The VAE trains on a seeded sample of the probes (all of them when there are few).
    let m = n.min(config.vae_train_probes);
    let mut ids: Vec<usize> = if m == n {
        (0..n).collect()
    } else {
        index::sample(&mut seeds.child(1).rng(Stream::VaeTraining), n, m).into_vec()
    };
    ids.sort_unstable();
    let vconf = config.vae.config(config.latent_dim, classes);

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
        train_x.extend(vae::thumbnails(&images.select(&local), config.vae.size));
        sampled = upto;
        bar.set_position(end as u64);
    }
    bar.finish_and_clear();
    let probs = Probabilities::new(classes, probs)?;
    timings.inference = t.elapsed().as_secs_f64();

    // Step 2: the VAE, guided by its sample's probabilities.
    let t = Instant::now();
    let train_p: Vec<f32> = ids
        .iter()
        .flat_map(|&i| &probs.values[i * classes..(i + 1) * classes])
        .copied()
        .collect();
    let (vae_model, vae_training) = fit_vae(
        &vconf,
        &train_x,
        Some(&train_p),
        &config.vae.training,
        &device,
        (
            seeds.derive(Stream::VaeInit),
            &mut seeds.child(0).rng(Stream::VaeTraining),
        ),
        progress,
        "training VAE".into(),
    )?;
    timings.vae = t.elapsed().as_secs_f64();

    // Every probe's latent: from the thumbnails at hand when the VAE saw every probe, else
    // from a second pass over the probes in bounded batches.
    let t = Instant::now();
    let mut rng = seeds.rng(Stream::LatentSample);
    let encode = |x: &[f32], rng: &mut _| {
        vae::encode(
            &vae_model,
            &vconf,
            x,
            config.method.latent,
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
            let x = vae::thumbnails(&source.batch(start, end)?, config.vae.size);
            latents.extend(encode(&x, &mut rng)?);
            bar.set_position(end as u64);
        }
        bar.finish_and_clear();
        latents
    };
    timings.inference += t.elapsed().as_secs_f64();

    // Step 4 and the analysis.
    let probe_images = |ids: &[usize]| source.get(ids);
    let predict = |imgs: &Images| model.predict(imgs);
    let causal_input = holdout
        .map(|h| CausalInput::new(&h.images, h.description.clone(), &predict))
        .transpose()?;
    let decode = |z: &[f32]| vae::decode(&vae_model, &vconf, z, &device);
    let (run, times) = pipeline::run_space(Space {
        rel: String::new(),
        label: format!("latent dim {}", config.latent_dim),
        class_names,
        probs: &probs,
        latents: Latents::new(config.latent_dim, latents)?,
        method: &config.method,
        seeds,
        decode: &decode,
        probe_images: &probe_images,
        causal: causal_input.as_ref(),
        vae: SavedModel::of(&vae_model, &vconf, "vae")?,
        vae_training,
    })?;
    timings.clustering = times.search;
    timings.report = times.analysis;
    let mut argmax = vec![0usize; classes];
    for i in 0..n {
        argmax[probs.argmax(i)] += 1;
    }
    timings.total = started.elapsed().as_secs_f64();
    Ok(AuditResults {
        spurion_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: config.seed,
        settings: config.clone(),
        model: model.info(),
        probes: source.describe(),
        probe_count: n,
        class_names: class_names.to_vec(),
        probe_mean_probability: (0..classes).map(|c| probs.mean(c)).collect(),
        probe_argmax_counts: argmax,
        run,
        warnings: source.skipped().to_vec(),
        timings_s: config.record_timings.then_some(timings),
    })
}

/// Loads the model, probes and hold-out images of `config`, audits, and writes the report
/// folder to `config.out`.
pub fn run(config: &AuditConfig, progress: &Progress) -> Result<AuditResults> {
    config.check()?;
    let device = config.device.device()?;
    let model = LoadedModel::load(&config.model, &config.onnx, &device)?;
    let [h, w] = model.input_size();
    let source = probe_source(config, [h, w])?;
    config.method.k.check(source.count())?;
    check_memory(config, source.count(), model.class_names().len(), [h, w])?;
    // Loaded before any training, so that a bad --holdout fails early.
    let mut warnings = Vec::new();
    let holdout = holdout_images(config, &model, h, w, &mut warnings)?;
    let mut results = audit(&model, &source, holdout.as_ref(), config, progress)?;
    results.warnings.extend(warnings);
    crate::report::write_audit(&results, &config.output())?;
    Ok(results)
}
