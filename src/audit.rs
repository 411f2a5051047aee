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

use crate::config::{AuditConfig, DEFAULT_PROBES, ProbeChoice, Representation};
use crate::data::{Images, plant};
use crate::error::{Error, Result};
use crate::method::causal::{CausalInput, NullCache, draw_probes};
use crate::method::latent::fit_vae;
use crate::method::split::{HELD_SHARE, Split};
use crate::method::{Finding, Latents, Status};
use crate::metrics::Probabilities;
use crate::model::{LoadedModel, ProbabilityModel};
use crate::nn::vae;
use crate::pipeline::{self, Space};
use crate::probes::{MANIFEST, ProbeFamily, ProbeSource, ProbeSpec, read_manifest};
use crate::progress::Progress;
use crate::results::{AuditResults, AuditTimings, SavedModel};
use crate::scores::GivenScores;
use crate::seed::{self, SeedPath, Stream};

/// Held-out real images for the causal test, and what they are.
pub struct Holdout {
    pub images: Images,
    pub description: String,
    /// Effects already measured on these images, for audits of the same model.
    pub cache: NullCache,
}

/// Held-out images sampled for the causal check when `--causal-images` asks for fewer (the
/// test uses the first of them), so that smaller values take the first images of one sample.
pub const CAUSAL_IMAGES: usize = 500;

/// Held-out images sampled for the causal check: [`CAUSAL_IMAGES`], or `--causal-images`
/// where it asks for more.
fn holdout_count(config: &AuditConfig) -> usize {
    CAUSAL_IMAGES.max(config.causal.images)
}

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
                Some(holdout_count(config)),
                &mut seed::rng(config.seed, Stream::Holdout, &[branch::HOLDOUT_FOLDER]),
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
    let keep: Vec<usize> = if images.count > holdout_count(config) {
        let mut ids = index::sample(
            &mut seed::rng(config.seed, Stream::Holdout, &[]),
            images.count,
            holdout_count(config),
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
        cache: NullCache::default(),
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
    let batch = config.batch_for([h, w]).min(probes);
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
            holdout_count(config) as f64 * image * 3.0,
            format!(
                "the causal check's {} held-out images at {h}x{w}",
                holdout_count(config)
            ),
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

/// The branches of an audit's seed path, each its own generator (the numbers are what every
/// documented run used: changing one changes every result).
mod branch {
    /// Under a family's path: the VAE's training batches.
    pub const VAE_BATCHES: u64 = 0;
    /// Under a family's path: which probes the VAE trains on, and which images of a probe
    /// folder are used.
    pub const SAMPLE: u64 = 1;
    /// The `k`-th probe family (k >= 1) is the root's child `FAMILY + k`.
    pub const FAMILY: u64 = 1000;
    /// Under the hold-out stream: which images of a hold-out folder are used.
    pub const HOLDOUT_FOLDER: u64 = 1;
}

/// The generators of the `k`-th probe family of an audit: the first family's are those of
/// the seed itself, so that adding families leaves its results as they were.
fn family_seeds(seed: u64, k: usize) -> SeedPath {
    let root = SeedPath::root(seed);
    if k == 0 {
        root
    } else {
        root.child(branch::FAMILY + k as u64)
    }
}

/// The probes of an audit's `k`-th probe choice, at the model's input size.
pub fn probe_source(config: &AuditConfig, k: usize, [h, w]: [usize; 2]) -> Result<ProbeSource> {
    let seeds = family_seeds(config.seed, k);
    Ok(match &config.probes[k] {
        ProbeChoice::Family(family) => ProbeSource::Generated(ProbeSpec::new(
            *family,
            config.probes_count.unwrap_or(DEFAULT_PROBES),
            [h, w],
            seeds.derive(Stream::Probes),
        )),
        ProbeChoice::Folder(dir) => ProbeSource::folder(
            dir,
            h,
            w,
            config.probes_count,
            &mut seeds.child(branch::SAMPLE).rng(Stream::Probes),
        )?,
    })
}

pub use crate::results::AuditRun;

/// Where an audit's probabilities come from.
#[derive(Clone, Copy)]
enum Classifier<'a> {
    /// A model spurion runs on the probes (and on hold-out images, for the causal test).
    Model(&'a dyn ProbabilityModel),
    /// Probabilities computed elsewhere, one row per probe in the source's order.
    Scores(&'a GivenScores),
}

impl Classifier<'_> {
    fn class_names(&self) -> &[String] {
        match self {
            Classifier::Model(m) => m.class_names(),
            Classifier::Scores(s) => &s.class_names,
        }
    }
}

/// Audits `model` with each probe source in turn, with hold-out images for the causal test,
/// and returns the results with everything the report's files are made from; nothing is
/// written ([`crate::report::write_audit`] writes the report folder).
pub fn audit(
    model: &dyn ProbabilityModel,
    sources: &[ProbeSource],
    holdout: Option<&Holdout>,
    config: &AuditConfig,
    progress: &Progress,
) -> Result<AuditResults> {
    audit_with(Classifier::Model(model), sources, holdout, config, progress)
}

/// Audits probabilities computed elsewhere (`scores`, one row per probe of `source`, in its
/// order). With no model to run on real images there is no causal test, so no class gets a
/// "found" verdict; clusters, ACP and significance are as with a model.
pub fn audit_scores(
    scores: &GivenScores,
    source: &ProbeSource,
    config: &AuditConfig,
    progress: &Progress,
) -> Result<AuditResults> {
    if scores.probs.count() != source.count() {
        return Err(Error::data(
            &scores.path,
            format!(
                "{} rows of scores for {}",
                scores.probs.count(),
                source.describe()
            ),
        ));
    }
    audit_with(
        Classifier::Scores(scores),
        std::slice::from_ref(source),
        None,
        config,
        progress,
    )
}

fn audit_with(
    classifier: Classifier,
    sources: &[ProbeSource],
    holdout: Option<&Holdout>,
    config: &AuditConfig,
    progress: &Progress,
) -> Result<AuditResults> {
    let started = Instant::now();
    let mut timings = AuditTimings::default();
    let mut runs = Vec::with_capacity(sources.len());
    let names = run_names(&config.probes, sources.len());
    for ((k, source), family) in sources.iter().enumerate().zip(names) {
        // Several families write their files in a folder each.
        let rel = if sources.len() > 1 {
            format!("probes-{family}")
        } else {
            String::new()
        };
        runs.push(audit_family(
            classifier,
            source,
            holdout,
            config,
            &family_seeds(config.seed, k),
            (family, rel),
            progress,
            &mut timings,
        )?);
    }
    let class_names = classifier.class_names().to_vec();
    let findings = merge_findings(&class_names, &runs);
    let info = match classifier {
        Classifier::Model(m) => m.info(),
        Classifier::Scores(s) => s.info(sources.first().map_or([0, 0], ProbeSource::size)),
    };
    timings.total = started.elapsed().as_secs_f64();
    Ok(AuditResults {
        spurion_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: config.seed,
        settings: config.clone(),
        model: info,
        class_names,
        findings,
        warnings: sources.iter().flat_map(|s| s.skipped().to_vec()).collect(),
        runs,
        timings_s: config.record_timings.then_some(timings),
    })
}

/// The name of each probe set's run (its family, or "folder"), made unique by a number where
/// two sets share one ("folder", "folder-2"): each run writes its files in `probes-<name>/`
/// and findings name their run by it.
fn run_names(probes: &[ProbeChoice], count: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(count);
    for k in 0..count {
        let base = match probes.get(k) {
            Some(ProbeChoice::Family(f)) => f.name(),
            _ => "folder",
        };
        let mut name = base.to_string();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        names.push(name);
    }
    names
}

/// Per class, the finding of the first family that found something, with the drivers the
/// other families found beside its own; else the finding of the family that reached the class
/// best, its reason naming every family tried.
fn merge_findings(class_names: &[String], runs: &[AuditRun]) -> Vec<Finding> {
    (0..class_names.len())
        .filter_map(|c| {
            let of = |r: &AuditRun| {
                r.run
                    .findings
                    .get(c)
                    .cloned()
                    .map(|f| (r.family.clone(), f))
            };
            let found = runs
                .iter()
                .filter_map(of)
                .find(|(_, f)| f.status == Status::Found);
            let (family, mut f) = found.or_else(|| {
                runs.iter().filter_map(of).max_by(|a, b| {
                    a.1.reach
                        .share_above_half
                        .total_cmp(&b.1.reach.share_above_half)
                })
            })?;
            for d in &mut f.drivers {
                d.probes = Some(family.clone());
            }
            // The other families' drivers of the class, where they show another pattern; the
            // reason already names the family's own.
            let own = f.drivers.len().max(1);
            for r in runs.iter().filter(|r| r.family != family) {
                if let Some((other, g)) = of(r).filter(|(_, g)| g.status == Status::Found) {
                    let more = g
                        .drivers
                        .into_iter()
                        .map(|mut d| {
                            d.probes = Some(other.clone());
                            d
                        })
                        .collect();
                    crate::method::verdict::merge_drivers(&mut f.drivers, more);
                }
            }
            if let Some(more) = f.drivers.get(own..) {
                let words = crate::method::verdict::more_drivers_in_words(&f.class_name, more);
                f.reason.push_str(&words);
            }
            if runs.len() > 1 {
                f.reason = format!("{} (probes: {family})", f.reason);
            }
            f.probes = Some(family);
            Some(f)
        })
        .collect()
}

/// At least two probes (one fitted, one held out), and `--k` no larger than the fitted part.
fn check_count(source: &ProbeSource, config: &AuditConfig) -> Result<()> {
    let n = source.count();
    if n < 2 {
        return Err(Error::param(
            "probes-count",
            format!(
                "{} has {n} probe(s); spurion needs at least 2: half fit the VAE and the \
                 clusters, half are held out",
                source.describe()
            ),
        ));
    }
    config.method.k.check(n / 2)
}

/// One probe family: classify, fit the VAE on one part, encode, search and test.
#[allow(clippy::too_many_arguments)]
fn audit_family(
    classifier: Classifier,
    source: &ProbeSource,
    holdout: Option<&Holdout>,
    config: &AuditConfig,
    seeds: &SeedPath,
    (family, rel): (String, String),
    progress: &Progress,
    timings: &mut AuditTimings,
) -> Result<AuditRun> {
    let device = config.device.device()?;
    let class_names = classifier.class_names();
    let classes = class_names.len();
    let n = source.count();
    check_count(source, config)?;
    let batch_size = config.batch_for(source.size());
    let split = Split::new(n, HELD_SHARE, seeds);
    let use_vae = config.representation == Representation::Vae;

    // The VAE trains on a seeded sample of the fitted part (all of it when it is small).
    let m = if use_vae {
        split.fit.len().min(config.vae_train_probes)
    } else {
        0
    };
    let mut ids: Vec<usize> = if m == split.fit.len() {
        split.fit.clone()
    } else {
        index::sample(
            &mut seeds.child(branch::SAMPLE).rng(Stream::VaeTraining),
            split.fit.len(),
            m,
        )
        .into_iter()
        .map(|i| split.fit[i])
        .collect()
    };
    ids.sort_unstable();
    let vconf = config.vae.config(config.latent_dim, classes);

    // Step 3 for every probe, in bounded batches: keep the probabilities, and the thumbnails
    // of the VAE's sample.
    let t = Instant::now();
    let mut probs = Vec::with_capacity(n * classes);
    let mut train_x = Vec::with_capacity(m * vconf.input_len());
    let mut sampled = 0; // ids[..sampled] have their thumbnails
    let bar = progress.bar(n as u64, format!("classifying {family} probes"));
    for start in (0..n).step_by(batch_size) {
        let end = start + batch_size.min(n - start);
        let images = source.batch(start, end)?;
        match classifier {
            Classifier::Model(model) => probs.extend(model.predict(&images)?.values),
            Classifier::Scores(s) => {
                probs.extend_from_slice(&s.probs.values[start * classes..end * classes])
            }
        }
        let upto = sampled + ids[sampled..].partition_point(|&i| i < end);
        if upto > sampled {
            let local: Vec<usize> = ids[sampled..upto].iter().map(|&i| i - start).collect();
            train_x.extend(vae::thumbnails(&images.select(&local), config.vae.size));
        }
        sampled = upto;
        bar.set_position(end as u64)?;
    }
    bar.finish_and_clear();
    let probs = Probabilities::new(classes, probs)?;
    timings.inference += t.elapsed().as_secs_f64();

    // Step 2: the VAE on the fitted part (plain by default; `--vae guided` also learns to
    // predict their probabilities); then every probe's latent (a second pass over the probes in bounded batches). The baseline skips both.
    let t = Instant::now();
    let trained = if use_vae {
        let train_p: Vec<f32> = ids
            .iter()
            .flat_map(|&i| &probs.values[i * classes..(i + 1) * classes])
            .copied()
            .collect();
        Some(fit_vae(
            &vconf,
            &train_x,
            Some(&train_p),
            &config.vae.training,
            &device,
            (
                seeds.derive(Stream::VaeInit),
                &mut seeds.child(branch::VAE_BATCHES).rng(Stream::VaeTraining),
            ),
            progress,
            format!("training VAE on {family} probes"),
        )?)
    } else {
        None
    };
    drop(train_x);
    timings.vae += t.elapsed().as_secs_f64();
    let t = Instant::now();
    let latents = match &trained {
        Some((vae_model, _)) => {
            let mut rng = seeds.rng(Stream::LatentSample);
            let mut latents = Vec::with_capacity(n * config.latent_dim);
            let bar = progress.bar(n as u64, format!("encoding {family} probes"));
            for start in (0..n).step_by(batch_size) {
                let end = start + batch_size.min(n - start);
                let x = vae::thumbnails(&source.batch(start, end)?, config.vae.size);
                latents.extend(vae::encode(
                    vae_model,
                    &vconf,
                    &x,
                    config.method.latent,
                    batch_size,
                    &device,
                    &mut rng,
                )?);
                bar.set_position(end as u64)?;
            }
            bar.finish_and_clear();
            Latents::new(config.latent_dim, latents)?
        }
        None => Latents::new(classes, probs.values.clone())?,
    };
    timings.inference += t.elapsed().as_secs_f64();

    // Step 4 and the analysis, on the held-out part.
    progress.check()?;
    let probe_images = |ids: &[usize]| source.get(ids);
    let predict = |imgs: &Images| match classifier {
        Classifier::Model(model) => model.predict(imgs),
        Classifier::Scores(_) => Err(Error::Invalid("no model to run: scores were given".into())),
    };
    let causal_input = match holdout.filter(|_| matches!(classifier, Classifier::Model(_))) {
        Some(h) => Some(CausalInput::new(
            &h.images,
            h.description.clone(),
            &predict,
            {
                let ids = draw_probes(
                    &split.held,
                    config.causal.null_probes,
                    &mut seeds.rng(Stream::CausalNull),
                );
                let images = source.get(&ids)?;
                (ids, images)
            },
            config.causal.clone(),
            h.cache.clone(),
        )?),
        None => None,
    };
    let decode = |z: &[f32]| match &trained {
        Some((vae_model, _)) => vae::decode(vae_model, &vconf, z, &device),
        None => Err(crate::Error::Invalid("no decoder".into())),
    };
    let (run, times) = pipeline::run_space(Space {
        rel,
        label: format!("{family} probes, latent dim {}", latents.dim()),
        class_names,
        probs: &probs,
        latents,
        split: &split,
        method: &config.method,
        top_probes: config.representation == Representation::TopProbes,
        seeds: seeds.clone(),
        decode: trained
            .as_ref()
            .map(|_| &decode as &dyn Fn(&[f32]) -> Result<Images>),
        probe_images: &probe_images,
        probe_part: &|i| source.mixed_part(i).map(ProbeFamily::name),
        causal: causal_input.as_ref(),
        vae: match &trained {
            Some((vae_model, _)) => Some(SavedModel::of(vae_model, &vconf, "vae")?),
            None => None,
        },
        vae_training: trained.as_ref().map(|(_, t)| t.clone()),
    })?;
    timings.clustering += times.search;
    timings.report += times.analysis;
    let mut argmax = vec![0usize; classes];
    for i in 0..n {
        argmax[probs.argmax(i)] += 1;
    }
    Ok(AuditRun {
        family,
        probes: source.describe(),
        probe_count: n,
        probe_mean_probability: (0..classes).map(|c| probs.mean(c)).collect(),
        probe_argmax_counts: argmax,
        run,
    })
}

/// Loads the model, probes and hold-out images of `config`, audits, and writes the report
/// folder to `config.out`.
pub fn run(config: &AuditConfig, progress: &Progress) -> Result<AuditResults> {
    config.check()?;
    if let Some(scores) = &config.scores {
        let results = run_scores(config, scores, progress)?;
        crate::report::write_audit(&results, &config.output())?;
        return Ok(results);
    }
    let device = config.device.device()?;
    let model = LoadedModel::load_with(
        &config.model,
        &config.onnx,
        &config.runtime,
        config.device == crate::nn::ComputeDevice::Cuda,
        &device,
    )?;
    let [h, w] = model.input_size();
    let sources: Vec<ProbeSource> = (0..config.probes.len())
        .map(|k| probe_source(config, k, [h, w]))
        .collect::<Result<_>>()?;
    for source in &sources {
        check_count(source, config)?;
        check_memory(config, source.count(), model.class_names().len(), [h, w])?;
    }
    // Loaded before any training, so that a bad --holdout fails early.
    let mut warnings = Vec::new();
    let holdout = holdout_images(config, &model, h, w, &mut warnings)?;
    let mut results = audit(&model, &sources, holdout.as_ref(), config, progress)?;
    results.warnings.extend(warnings);
    crate::report::write_audit(&results, &config.output())?;
    Ok(results)
}

/// `audit --probes DIR --scores FILE`: the probe folder's manifest, the probabilities given for
/// it, both checked before any work; then the audit without a model.
fn run_scores(
    config: &AuditConfig,
    scores: &std::path::Path,
    progress: &Progress,
) -> Result<AuditResults> {
    let Some(ProbeChoice::Folder(dir)) = config.probes.first() else {
        return Err(Error::param("scores", "needs --probes DIR, a probe folder"));
    };
    let manifest = read_manifest(dir)?.ok_or_else(|| {
        Error::data(
            dir,
            format!(
                "no {MANIFEST}: --scores needs a probe folder written by `spurion probes`, \
                 whose manifest gives the probes' ids and order"
            ),
        )
    })?;
    let first = dir.join(&manifest[0].file);
    let (w, h) = image::image_dimensions(&first)
        .map_err(|e| Error::data(&first, format!("not a readable image: {e}")))?;
    let labels = match &config.onnx.labels {
        Some(p) => Some(crate::model::read_labels(p)?),
        None => None,
    };
    let given = GivenScores::read(scores, &manifest, labels.as_deref())?;
    let size = [h as usize, w as usize];
    let source = probe_source(config, 0, size)?;
    check_count(&source, config)?;
    check_memory(config, source.count(), given.class_names.len(), size)?;
    audit_scores(&given, &source, config, progress)
}
