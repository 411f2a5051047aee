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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use family::FamilyRun;
pub use inputs::{CAUSAL_IMAGES, probe_source};
use inputs::{check_count, check_memory, family_seeds, holdout_images};
use merge::{merge_findings, run_names};

use crate::config::{AuditConfig, ProbeChoice};
use crate::data::Images;
use crate::error::{Error, Result};
use crate::method::causal::EffectCache;
use crate::metrics::Probabilities;
use crate::model::{LoadedModel, ProbabilityModel};
use crate::nn::vae::{TrainedVae, VaeTraining};
use crate::probes::{MANIFEST, ProbeSource, read_manifest};
use crate::progress::Progress;
use crate::results::{AuditResults, AuditTimings};
use crate::scores::GivenScores;

/// Held-out real images for the causal test, and what they are, with what audits of one
/// model on them have already measured. The caches assume that one model (and its
/// preprocessing): to audit another, start from empty caches (`Default::default()`).
pub struct Holdout {
    pub images: Images,
    pub description: String,
    /// Effects already measured on these images, for audits of the same model.
    pub cache: EffectCache,
    /// VAEs already trained, for audits of the same model with the same probes and VAE
    /// settings (the benchmark's paper and spurion methods differ only in how they read the
    /// latents off one VAE, so it is trained once).
    pub vaes: VaeCache,
    /// Probe sets already classified by this model (the benchmark audits one model four
    /// ways, each on the same generated probes).
    pub probabilities: ProbabilityCache,
}

/// Every probe's probabilities by the generated probe set (its family, count, size and
/// seed) and the inference batch size. The classifier is the [`Holdout`]'s model, so the
/// cache lives there. Folders of probes are read afresh each time.
#[derive(Clone, Default)]
pub struct ProbabilityCache(Arc<Mutex<HashMap<String, Probabilities>>>);

impl ProbabilityCache {
    /// The probabilities stored under `key`, if any.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Probabilities>> {
        Ok(self
            .0
            .lock()
            .map_err(|_| Error::Invalid("the probability cache was poisoned".into()))?
            .get(key)
            .cloned())
    }

    /// Stores `probs` under `key`.
    pub(crate) fn insert(&self, key: String, probs: &Probabilities) -> Result<()> {
        self.0
            .lock()
            .map_err(|_| Error::Invalid("the probability cache was poisoned".into()))?
            .insert(key, probs.clone());
        Ok(())
    }
}

/// Trained VAEs by everything their training reads: the probe set, the probes trained on,
/// the VAE's settings and its two seeds. The classifier (which gives the guided VAE its
/// targets) is the [`Holdout`]'s model, so the cache lives there.
#[derive(Clone, Default)]
pub struct VaeCache(Arc<Mutex<HashMap<VaeKey, (TrainedVae, VaeTraining)>>>);

/// Probe set, the VAE's settings as JSON, latent dimension, seeds, the probes trained on.
type VaeKey = (String, String, usize, [u64; 2], Vec<usize>);

impl VaeCache {
    /// The VAE trained under `key`, training it with `train` the first time.
    pub(crate) fn get_or_train(
        &self,
        key: VaeKey,
        train: impl FnOnce() -> Result<(TrainedVae, VaeTraining)>,
    ) -> Result<(TrainedVae, VaeTraining)> {
        let cached = self
            .0
            .lock()
            .map_err(|_| Error::Invalid("the VAE cache was poisoned".into()))?
            .get(&key)
            .cloned();
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let trained = train()?;
        self.0
            .lock()
            .map_err(|_| Error::Invalid("the VAE cache was poisoned".into()))?
            .insert(key, trained.clone());
        Ok(trained)
    }
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
        let run = FamilyRun {
            classifier,
            source,
            holdout,
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

    #[test]
    fn a_second_audit_of_one_model_on_its_holdout_reuses_probabilities_and_effects() {
        let model = CountedRedOrBlue(Default::default(), vec!["red".into(), "blue".into()]);
        let seen = || model.0.load(std::sync::atomic::Ordering::Relaxed);
        let mut x = Images::empty(3, 4, 4);
        for i in 0..30 {
            x.push(&[(i % 5) as f32 / 5.0; 48]);
        }
        let holdout = Holdout {
            images: x,
            description: "grey levels".into(),
            cache: EffectCache::default(),
            vaes: VaeCache::default(),
            probabilities: ProbabilityCache::default(),
        };
        let config = AuditConfig {
            probes_count: Some(300),
            representation: crate::config::Representation::TopProbes,
            record_timings: false,
            ..AuditConfig::default()
        };
        let sources = [probe_source(&config, 0, [4, 4]).unwrap()];
        let run = || {
            audit(
                &model,
                &sources,
                Some(&holdout),
                &config,
                &Progress::hidden(),
            )
        };
        let first = run().unwrap();
        let after_first = seen();
        assert!(after_first > 300 + 30, "{after_first}");
        let second = run().unwrap();
        // Only the untouched hold-out images again, and each tested cluster's prototype
        // (its whole per-image changes are not kept): the probes' probabilities, the null
        // and the heaviest probes' effects come from the caches, unchanged.
        let tested = first.runs[0]
            .run
            .clusters
            .iter()
            .filter(|c| c.causal.is_some())
            .count();
        assert!(tested > 0);
        assert_eq!(seen() - after_first, 30 * (1 + tested));
        assert_eq!(first, second);
        assert!(first.findings.iter().any(|f| f.causal_effect.is_some()));
        // Without the hold-out's caches, an audit measures everything afresh: the same.
        let fresh = Holdout {
            images: holdout.images.clone(),
            description: holdout.description.clone(),
            cache: EffectCache::default(),
            vaes: VaeCache::default(),
            probabilities: ProbabilityCache::default(),
        };
        let before = seen();
        let third = audit(&model, &sources, Some(&fresh), &config, &Progress::hidden()).unwrap();
        assert_eq!(seen() - before, after_first);
        assert_eq!(first, third);
    }

    #[test]
    fn a_vae_is_trained_once_per_key_and_the_copy_is_the_trained_one() {
        let cache = VaeCache::default();
        let key = |seed: u64| {
            (
                "solid".to_string(),
                "{}".to_string(),
                2,
                [seed, 1],
                vec![0, 1],
            )
        };
        let mut trained = 0;
        let mut train = |seed| {
            trained += 1;
            tiny_vae(seed)
        };
        let (first, _) = cache.get_or_train(key(5), || train(5)).unwrap();
        let (again, _) = cache
            .get_or_train(key(5), || panic!("trained twice"))
            .unwrap();
        let (other, _) = cache.get_or_train(key(6), || train(6)).unwrap();
        assert_eq!(trained, 2);
        let bytes = |v: &TrainedVae| v.save().unwrap().weights;
        assert_eq!(bytes(&first), bytes(&again));
        assert_ne!(bytes(&first), bytes(&other));
    }
}
