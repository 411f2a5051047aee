//! `spurion audit`: the method on any classifier and any probe set.
//!
//! The classifier is anything that gives class probabilities ([`ProbabilityModel`]): one of
//! spurion's checkpoints or an ONNX file from the command line, or probabilities computed
//! elsewhere; the probes are a built-in family or a folder of images ([`crate::probes`]).
//! Three parts: what the audit reads ([`inputs`]: probe sets, hold-out images, checks,
//! seeds), each probe set's run of the method ([`family`]), and the merge of the sets'
//! findings into one per class ([`merge`]).

mod family;
mod inputs;
mod merge;

use std::time::Instant;

use family::FamilyRun;
pub use inputs::{CAUSAL_IMAGES, probe_source};
use inputs::{check_count, check_memory, family_seeds, holdout_images};
use merge::{merge_findings, run_names};

use crate::config::{AuditConfig, ProbeChoice};
use crate::data::Images;
use crate::error::{Error, Result};
use crate::memo::Memo;
use crate::method::causal::EffectCache;
use crate::metrics::Probabilities;
use crate::model::{LoadedModel, ProbabilityModel};
use crate::nn::vae::{TrainedVae, VaeTraining};
use crate::probes::{MANIFEST, ProbeSource, ProbeSpec, read_manifest};
use crate::progress::Progress;
use crate::results::{AuditResults, AuditTimings};
use crate::scores::GivenScores;

/// Held-out real images for the causal test, and what they are, with what audits on them
/// have already measured. The measurements are kept by classifier, known by its answers on
/// a few fixed images ([`Holdout::new`]), so audits of several models may share one.
///
/// The images are fixed once made: the caches hold what was measured on them.
pub struct Holdout {
    images: Images,
    description: String,
    caches: HoldoutCaches,
}

impl Holdout {
    /// `images`, described by `description` in the report, with nothing measured yet.
    ///
    /// A classifier is known to the caches by a hash of its answers on the first
    /// [`MODEL_KEY_IMAGES`] of `images` and as many images of seeded uniform noise (one
    /// extra pass of 16 images per audit): two classifiers that give bit-identical answers
    /// on all of those share measurements.
    pub fn new(images: Images, description: impl Into<String>) -> Self {
        Holdout {
            images,
            description: description.into(),
            caches: HoldoutCaches::default(),
        }
    }

    /// The images, at the classifier's input size.
    pub fn images(&self) -> &Images {
        &self.images
    }

    /// What the images are, as the report says it.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Which classifier `model` is, to the caches (see [`Holdout::new`]).
    fn model_key(&self, model: &dyn ProbabilityModel) -> Result<u64> {
        use rand::{Rng as _, SeedableRng};
        use std::hash::{Hash, Hasher};
        let n = self.images.count.min(MODEL_KEY_IMAGES);
        let mut x = self.images.slice(0, n);
        // Real images alone may not tell models apart (a confident model's answers saturate
        // to exactly 0 and 1); noise is off every training distribution.
        let mut rng = crate::Rng::seed_from_u64(MODEL_KEY_NOISE_SEED);
        for _ in 0..MODEL_KEY_IMAGES {
            let noise: Vec<f32> = (0..x.image_len()).map(|_| rng.random()).collect();
            x.push(&noise);
        }
        let answers = model.predict(&x)?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        answers.classes.hash(&mut h);
        answers.values.iter().for_each(|p| p.to_bits().hash(&mut h));
        Ok(h.finish())
    }
}

/// How many hold-out images, and as many of noise, tell one classifier from another in
/// [`Holdout`]'s caches.
pub const MODEL_KEY_IMAGES: usize = 8;

/// The noise images' seed: fixed, as they only name the classifier and change no result.
const MODEL_KEY_NOISE_SEED: u64 = 0x5eed_0fc1_a551_f1e5;

/// What audits on one [`Holdout`] have measured. The benchmark audits each model four ways
/// on the same probes, and `--k tested` tests a class's unchanged cluster again in its second
/// round; these let each thing be measured once.
#[derive(Clone, Default)]
struct HoldoutCaches {
    /// Effects of patterns on the images, by classifier.
    effects: Memo<u64, EffectCache>,
    /// Trained VAEs: the paper's and spurion's methods differ only in how they read the
    /// latents off one VAE, so it is trained once.
    vaes: Memo<VaeKey, (TrainedVae, VaeTraining)>,
    /// Generated probe sets already classified, by the model, the set and the batch size
    /// (folders of probes are read afresh each time).
    probabilities: Memo<(u64, ProbeSpec, usize), Probabilities>,
}

/// Model, probe set, the VAE's settings as JSON, latent dimension, seeds, the probes
/// trained on: everything a VAE's training reads.
type VaeKey = (u64, String, String, usize, [u64; 2], Vec<usize>);

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
    // The caches are the hold-out's, and only a model spurion runs is cached.
    let caches = match (classifier, holdout) {
        (Classifier::Model(m), Some(h)) => Some((&h.caches, h.model_key(m)?)),
        _ => None,
    };
    for ((k, source), family) in sources.iter().enumerate().zip(names) {
        // Several families write their files in a folder each.
        let rel = if sources.len() > 1 {
            format!("probes-{family}")
        } else {
            String::new()
        };
        let run = FamilyRun {
            classifier,
            source,
            holdout,
            caches,
            config,
            seeds: family_seeds(config.seed, k),
            name: family,
            rel,
        };
        runs.push(run.run(progress, &mut timings)?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ComputeDevice;
    use crate::nn::vae::{self, VaeConfig, VaeTrainParams};
    use crate::seed::{Stream, rng};

    fn tiny_vae(init_seed: u64) -> Result<(TrainedVae, VaeTraining)> {
        let config = VaeConfig {
            channels: 3,
            size: 2,
            latent_dim: 2,
            hidden: 4,
            guide_classes: None,
        };
        let x: Vec<f32> = (0..8 * 12).map(|i| (i % 7) as f32 / 7.0).collect();
        let device = ComputeDevice::Cpu.device()?;
        let mut r = rng(init_seed, Stream::VaeTraining, &[]);
        vae::train(
            &config,
            &x,
            None,
            &VaeTrainParams::fixed_epochs(1),
            &device,
            init_seed,
            &mut r,
            |_, _| Ok(()),
        )
    }

    /// "Red" when the red channel is brighter than the blue one; counts the images it sees.
    struct CountedRedOrBlue(std::sync::atomic::AtomicUsize, Vec<String>);

    impl ProbabilityModel for CountedRedOrBlue {
        fn class_names(&self) -> &[String] {
            &self.1
        }
        fn input_size(&self) -> [usize; 2] {
            [4, 4]
        }
        fn predict(&self, images: &Images) -> Result<crate::metrics::Probabilities> {
            self.0
                .fetch_add(images.count, std::sync::atomic::Ordering::Relaxed);
            let mut p = Vec::new();
            for i in 0..images.count {
                let img = images.image(i);
                let red: f32 = img[..16].iter().sum();
                let blue: f32 = img[32..].iter().sum();
                let p_red = 1.0 / (1.0 + (blue - red).exp());
                p.extend([p_red, 1.0 - p_red]);
            }
            crate::metrics::Probabilities::new(2, p)
        }
    }

    /// The same model with its two classes' answers swapped.
    struct Swapped(CountedRedOrBlue);

    impl ProbabilityModel for Swapped {
        fn class_names(&self) -> &[String] {
            self.0.class_names()
        }
        fn input_size(&self) -> [usize; 2] {
            self.0.input_size()
        }
        fn predict(&self, images: &Images) -> Result<crate::metrics::Probabilities> {
            let p = self.0.predict(images)?;
            let values = p.values.chunks(2).flat_map(|r| [r[1], r[0]]).collect();
            crate::metrics::Probabilities::new(2, values)
        }
    }

    #[test]
    fn a_second_audit_of_one_model_on_its_holdout_reuses_probabilities_and_effects() {
        let model = CountedRedOrBlue(Default::default(), vec!["red".into(), "blue".into()]);
        let seen = || model.0.load(std::sync::atomic::Ordering::Relaxed);
        let mut x = Images::empty(3, 4, 4);
        for i in 0..30 {
            x.push(&[(i % 5) as f32 / 5.0; 48]);
        }
        let holdout = Holdout::new(x, "grey levels");
        let config = AuditConfig {
            probes_count: Some(300),
            representation: crate::config::Representation::TopProbes,
            record_timings: false,
            ..AuditConfig::default()
        };
        let sources = [probe_source(&config, 0, [4, 4]).unwrap()];
        let run = |model: &dyn ProbabilityModel, holdout: &Holdout| {
            audit(model, &sources, Some(holdout), &config, &Progress::hidden()).unwrap()
        };
        let first = run(&model, &holdout);
        let after_first = seen();
        assert!(after_first > 300 + 30, "{after_first}");
        let second = run(&model, &holdout);
        // Only the model's key, the untouched hold-out images again, and each tested
        // cluster's prototype (its whole per-image changes are not kept): the probes'
        // probabilities, the null and the heaviest probes' effects come from the caches.
        let tested = first.runs[0]
            .run
            .clusters
            .iter()
            .filter(|c| c.causal.is_some())
            .count();
        assert!(tested > 0);
        assert_eq!(
            seen() - after_first,
            2 * MODEL_KEY_IMAGES + 30 * (1 + tested)
        );
        assert_eq!(first, second);
        assert!(first.findings.iter().any(|f| f.causal_effect.is_some()));
        // Without the hold-out's caches, an audit measures everything afresh: the same.
        let fresh = || Holdout::new(holdout.images().clone(), holdout.description());
        let before = seen();
        assert_eq!(first, run(&model, &fresh()));
        assert_eq!(seen() - before, after_first);

        // Another model on the same hold-out gets its own measurements, as on a fresh one.
        let swapped = Swapped(CountedRedOrBlue(Default::default(), model.1.clone()));
        let shared = run(&swapped, &holdout);
        let alone = run(&swapped, &fresh());
        assert_eq!(shared, alone);
        assert_ne!(shared.runs[0].run, first.runs[0].run);
    }

    #[test]
    fn a_cached_vae_is_the_trained_one() {
        let cache: Memo<u64, (TrainedVae, VaeTraining)> = Memo::default();
        let first = cache.get_or_try_insert(5, || tiny_vae(5)).unwrap().0;
        let again = cache.get(&5).unwrap().0;
        let other = tiny_vae(6).unwrap().0;
        let bytes = |v: &TrainedVae| v.save().unwrap().weights;
        assert_eq!(bytes(&first), bytes(&again));
        assert_ne!(bytes(&first), bytes(&other));
    }
}
