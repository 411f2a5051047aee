//! `spurion benchmark`: the method's own report card. Shortcuts with known answers are
//! planted in real digits, spurion's CNN is trained on them, each model is audited three ways,
//! and every finding is scored against the truth.
//!
//! - **Planted cases**: one class of a four-class model (digits 0-3) carries a shortcut in a
//!   share of its training images (100%, 95% or 80%): its strokes in a colour, its background
//!   in a colour, a small mark in a corner, a stripe overlay, scattered coloured pixels, or a
//!   text-like stamp near an edge ([`shortcuts`]). Some classes carry **two shortcuts**, each
//!   in part of their images: two stroke colours, marks in two corners, or a stroke colour and
//!   a corner mark; one carries a **conjunction**, a stroke colour and a corner mark together,
//!   where either alone predicts nothing. The other three classes are the distractors: half
//!   their images carry a *decoy*, the same kind of shortcut with another value (another
//!   colour, corner or angle; for a conjunction, also one part alone) drawn at random, so
//!   nothing predicts them but their shape, and only the planted value predicts the planted
//!   class. A quarter of the training labels are noisy ([`LABEL_NOISE`]), so that the shortcut
//!   predicts its class better than the shape does.
//! - **Clean cases**: the same data (noisy labels included) with nothing planted.
//! - **Methods** ([`Method`]): the paper's (a plain VAE, sampled latents, one cluster per
//!   class, `p^2`), spurion's default, and two baselines: clustering the classifier's
//!   probabilities themselves, and no clustering at all (each class's most probable probes).
//! - **Scores**: each planted shortcut is scored on its own ([`ShortcutScore`]): it is
//!   *named* when one of the class's drivers shows its colour (hue within 40 degrees), its
//!   place (the mask's ninth of the image: corner marks, stamps) or its stripe angle (within
//!   20 degrees), and a conjunction when one driver shows all its parts; it is *recovered*
//!   when it is named and no driver of the class names none of the class's shortcuts (a
//!   blend of two, or something never planted). A class is recovered when all its shortcuts
//!   are; a *false finding* is "found" on a class with nothing planted. A shortcut shown by
//!   more than one driver (one colour reported as two hues) is still recovered; the summary
//!   counts such classes on their own (`split_classes`).
//!   Each case also records the causal effect beside its null, the controls, and a positive
//!   control: the true shortcut pasted into the held-out images.
//!
//! The cases are in [`cases`](mod@cases), the shortcuts in [`shortcuts`], what a run measured in
//! [`results`] and its table in [`table`]; this module plants, trains, audits and scores.

pub mod cases;
pub mod results;
pub mod shortcuts;
pub mod table;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use rand::seq::SliceRandom;

use crate::audit::{self, Holdout};
use crate::config::{AuditConfig, ProbeChoice, Representation};
use crate::data::{self, LabeledImages, idx::Transpose, plant};
use crate::error::{Error, Result};
use crate::method::causal::CausalSettings;
use crate::method::describe::{Position, same_angle};
use crate::method::verdict::Driver;
use crate::method::{ClusterCount, Finding, VaeKind};
use crate::model::{Checkpoint, ProbabilityModel};
use crate::nn::ComputeDevice;
use crate::nn::classifier::{self, ClassifierConfig, TrainParams};
use crate::nn::vae::LatentMode;
use crate::output::{self, OutputTarget, StagedDir};
use crate::probes::ProbeFamily;
use crate::progress::Progress;
use crate::seed::{SeedPath, Stream};
use shortcuts::{Shortcut, same_color};

pub use cases::*;
pub use results::*;
pub use table::format_table;

/// Settings of `spurion benchmark`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BenchmarkConfig {
    /// A handful of cases that fit in a CI run, instead of the whole grid.
    pub quick: bool,
    /// Only the cases whose name contains this ("corner-mark", "95%", "seed-101").
    pub only: Option<String>,
    /// The tuning seeds (cases from seed 0) instead of the evaluation seeds (from
    /// [`EVALUATION_SEED`]): what settings are chosen on.
    #[serde(default)]
    pub tuning: bool,
    /// One probe family for every case instead of the family each kind of shortcut is
    /// audited with (how `mixed` compares with the specialised families).
    #[serde(default)]
    pub probes: Option<ProbeFamily>,
    /// Clusters per class of the `spurion` and `probabilities-as-latent` audits (None: the
    /// audit's default).
    #[serde(default)]
    pub k: Option<ClusterCount>,
    /// The shipped MNIST sample.
    pub data: PathBuf,
    /// Fashion-MNIST, used beside it when the folder exists.
    pub fashion: Option<PathBuf>,
    pub seed: u64,
    pub device: ComputeDevice,
    pub out: PathBuf,
    pub force: bool,
}

impl BenchmarkConfig {
    /// Where benchmark.json goes, and the data it must not replace.
    pub fn output(&self) -> OutputTarget {
        let mut t = OutputTarget::new(&self.out, self.force).input("data", &self.data);
        if let Some(f) = &self.fashion {
            t = t.input("data", f);
        }
        t
    }

    pub fn check(&self) -> Result<()> {
        self.device.device()?;
        if let Some(k) = self.k {
            // Each case audits 2,000 or 8,000 probes, half of them fitted.
            k.check(1000)?;
        }
        if let Some(only) = &self.only
            && selected_cases(self).is_empty()
        {
            return Err(Error::param(
                "only",
                format!(
                    "no benchmark case's name contains '{only}' (names look like \
                     mnist/corner-mark/95%/seed-100)"
                ),
            ));
        }
        self.output().check()
    }
}

/// The four classes of a dataset: digits 0-3, or the first four Fashion-MNIST classes.
const CLASSES: [u8; 4] = [0, 1, 2, 3];

/// Held-out real images the causal test uses.
const HOLDOUT_IMAGES: usize = 60;

/// Share of the training labels replaced by another class at random. Digits' shapes predict
/// their class almost perfectly, so without noise a shortcut present in 95% of a class is a
/// *worse* predictor than the shape and a model has little reason to rely on it. With a
/// quarter of the labels noisy, the shape predicts 75% and the shortcut stays the better
/// signal, as a shortcut is in the wild (the recipe of Coloured MNIST, Arjovsky et al. 2019).
/// The held-out images keep their true labels.
pub const LABEL_NOISE: f64 = 0.25;

/// Share of the other classes' training images that carry a decoy: the same kind of shortcut
/// with another value ([`Shortcut::decoy`]). Without decoys the models learn "a mark in the
/// corner" or "a coloured background", whatever its colour.
pub const DECOYS: f64 = 0.5;

/// A copy of `set` as RGB with noisy labels ([`LABEL_NOISE`]), the case's shortcuts planted
/// in their shares of the images labelled with its class and decoys in [`DECOYS`] of the
/// others (for a class with several shortcuts, each decoy is of one of them, drawn at random;
/// for a conjunction, half the decoys are one of its parts, as planted, alone).
fn planted_copy(set: &LabeledImages, case: &Case, rng: &mut crate::seed::Rng) -> LabeledImages {
    use rand::Rng as _;
    let mut images = plant::to_rgb(&set.images);
    let classes = set.class_names.len();
    let class = case.planted_class;
    let labels: Vec<usize> = set
        .labels
        .iter()
        .map(|&l| {
            if classes > 1 && rng.random_bool(LABEL_NOISE) {
                (l + rng.random_range(1..classes)) % classes
            } else {
                l
            }
        })
        .collect();
    let planted = &case.shortcuts;
    if !planted.is_empty() {
        let (h, w) = (images.height, images.width);
        let len = images.image_len();
        let mut ids: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        ids.shuffle(rng);
        let mut from = 0;
        for (j, share) in case.shares.iter().enumerate() {
            let k = ((ids.len() as f64 * share).round() as usize).min(ids.len() - from);
            let carried = if case.together {
                &planted[..]
            } else {
                &planted[j..=j]
            };
            for &i in &ids[from..from + k] {
                for s in carried {
                    s.apply(&mut images.data[i * len..(i + 1) * len], h, w);
                }
            }
            from += k;
        }
        for i in (0..labels.len()).filter(|&i| labels[i] != class) {
            if rng.random_bool(DECOYS) {
                let s = match planted.len() {
                    1 => &planted[0],
                    n => &planted[rng.random_range(0..n)],
                };
                let d = if case.together && rng.random_bool(0.5) {
                    s.clone()
                } else {
                    s.decoy_among(planted, rng)
                };
                d.apply(&mut images.data[i * len..(i + 1) * len], h, w);
            }
        }
    }
    LabeledImages {
        images,
        labels,
        class_names: set.class_names.clone(),
        skipped: Vec::new(),
    }
}

/// The audit settings of `method`.
fn method_config(method: Method, case: &Case, config: &BenchmarkConfig) -> AuditConfig {
    let mut c = AuditConfig {
        probes: case
            .probes
            .iter()
            .map(|&f| ProbeChoice::Family(f))
            .collect(),
        probes_count: Some(if config.quick { 2000 } else { 8000 }),
        seed: config.seed ^ (case.seed << 16),
        causal: CausalSettings {
            images: HOLDOUT_IMAGES,
            ..CausalSettings::default()
        },
        record_timings: false,
        device: config.device,
        ..AuditConfig::default()
    };
    if let Some(k) = config.k {
        c.method.k = k;
    }
    match method {
        Method::Paper => {
            c.vae.kind = VaeKind::Plain;
            c.method.latent = LatentMode::Sample;
            c.method.k = ClusterCount::Fixed(1);
            c.method.weight_exponent = 2.0;
        }
        Method::ProbabilitiesAsLatent => c.representation = Representation::ProbabilitiesAsLatent,
        Method::TopProbes => {
            c.representation = Representation::TopProbes;
            c.method.k = ClusterCount::Fixed(1);
        }
        Method::Spurion => {}
    }
    c
}

/// How close in hue (degrees) a driver's colour must be to the planted one to name it.
const NAMED_HUE: f32 = 40.0;
/// How close (degrees) a driver's stripe angle must be to the planted one to name it.
const NAMED_ANGLE: f64 = 20.0;

/// Whether `d` shows `shortcut`: its colour (hue within [`NAMED_HUE`]: stroke and background
/// colour, scattered pixels), its place (corner marks and stamps: the mask's ninth; the
/// mark's colour is reported, not scored), its stripe angle (within [`NAMED_ANGLE`]), or for a
/// frame its colour on a mask around the centre or over the whole image (not a mark at a side).
fn names(d: &Driver, shortcut: &Shortcut) -> bool {
    match shortcut {
        Shortcut::Frame { color } => {
            same_color(d.color, *color, NAMED_HUE)
                && matches!(d.position, None | Some(Position::Centre))
        }
        Shortcut::CornerMark { .. } | Shortcut::Stamp { .. } => d.position == shortcut.position(),
        Shortcut::Stripes { angle_deg, .. } => d
            .stripes_deg
            .is_some_and(|a| same_angle(a, *angle_deg as f64, NAMED_ANGLE)),
        Shortcut::StrokeColor { .. }
        | Shortcut::BackgroundColor { .. }
        | Shortcut::ScatteredPixels { .. } => same_color(d.color, shortcut.color(), NAMED_HUE),
    }
}

/// Each unit of `case` (a shortcut, or a conjunction) scored against the finding's drivers,
/// with its positive control; and how many drivers name no unit.
fn score_shortcuts(f: &Finding, case: &Case, positive: &[f64]) -> (Vec<ShortcutScore>, usize) {
    let units = case.units();
    let shows = |d: &Driver, unit: &[Shortcut]| unit.iter().all(|s| names(d, s));
    let unexplained = f
        .drivers
        .iter()
        .filter(|d| !units.iter().any(|u| shows(d, u)))
        .count();
    let scores = units
        .into_iter()
        .zip(positive)
        .map(|(unit, &p)| {
            let drivers = f.drivers.iter().filter(|d| shows(d, &unit)).count();
            ShortcutScore {
                shortcut: unit,
                named: drivers > 0,
                recovered: drivers > 0 && unexplained == 0,
                drivers,
                positive_control: p,
            }
        })
        .collect();
    (scores, unexplained)
}

/// The change of `class`'s probability when the true shortcuts (one unit) are put into the
/// images.
fn positive_control(
    model: &dyn ProbabilityModel,
    images: &data::Images,
    unit: &[Shortcut],
    class: usize,
) -> Result<f64> {
    let base = model.predict(images)?;
    let mut x = images.clone();
    let (h, w, len) = (x.height, x.width, x.image_len());
    for img in x.data.chunks_exact_mut(len) {
        for s in unit {
            s.apply(img, h, w);
        }
    }
    let after = model.predict(&x)?;
    Ok((0..images.count)
        .map(|i| after.get(i, class) as f64 - base.get(i, class) as f64)
        .sum::<f64>()
        / images.count.max(1) as f64)
}

/// Trains the case's model and audits it every way; one result per class and method.
fn run_case(
    case: &Case,
    base: &LabeledImages,
    config: &BenchmarkConfig,
    progress: &Progress,
) -> Result<Vec<CaseResult>> {
    let device = config.device.device()?;
    let seeds = SeedPath::root(config.seed).child(case.seed);
    let (train, val) = base.split(0.8, &mut seeds.rng(Stream::DataSplit));
    let train = planted_copy(&train, case, &mut seeds.rng(Stream::Test));
    let cconf = ClassifierConfig::new(
        3,
        base.images.height,
        base.images.width,
        base.class_names.clone(),
    );
    let params = TrainParams {
        epochs: 2,
        batch_size: 32,
        learning_rate: 1e-3,
    };
    let model = classifier::fit(
        &cconf,
        &train,
        &params,
        &device,
        &seeds,
        progress,
        format!("{}: classifier", case.name),
    )?;
    let model = Checkpoint::in_memory(model, cconf, &device, &case.name);
    // Held-out real images, nothing planted.
    let clean_val = plant::to_rgb(&val.images.slice(0, val.images.count.min(HOLDOUT_IMAGES)));
    let holdout = Holdout::new(clean_val.clone(), "held-out digits, nothing planted");
    let positive: Vec<f64> = case
        .units()
        .iter()
        .map(|u| positive_control(&model, &clean_val, u, case.planted_class))
        .collect::<Result<_>>()?;
    let mut out = Vec::new();
    for method in Method::ALL {
        let ac = method_config(method, case, config);
        let sources: Vec<_> = (0..ac.probes.len())
            .map(|k| audit::probe_source(&ac, k, model.input_size()))
            .collect::<Result<_>>()?;
        let r = audit::audit(&model, &sources, Some(&holdout), &ac, &Progress::hidden())?;
        for f in &r.findings {
            let planted = !case.shortcuts.is_empty() && f.class == case.planted_class;
            let run = r
                .runs
                .iter()
                .find(|run| f.probes.as_deref() == Some(run.family.as_str()))
                .unwrap_or(&r.runs[0]);
            let cluster = f.cluster.and_then(|j| run.run.clusters.get(j));
            let test = cluster.and_then(|c| c.causal.as_ref());
            let (shortcuts, unexplained) = if planted {
                score_shortcuts(f, case, &positive)
            } else {
                (Vec::new(), 0)
            };
            out.push(CaseResult {
                name: case.name.clone(),
                kind: if planted { "planted" } else { "clean" }.into(),
                seed: case.seed,
                method,
                class_name: f.class_name.clone(),
                status: f.status,
                recovered: planted.then(|| shortcuts.iter().all(|s| s.recovered)),
                shortcuts,
                drivers: f.drivers.len(),
                unexplained_drivers: unexplained,
                causal_effect: f.causal_effect,
                causal_null_p95: f.causal_null_p95,
                causal_null_mean: test.map(|t| t.null_mean),
                shortcut: (case.kind != CaseKind::Clean).then_some(case.kind),
                strength: case.strength,
                probes: case
                    .probes
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join("+"),
                prototype_effect: test.map(|t| t.prototype_effect),
                mirrored_effect: test.and_then(|t| t.mirrored),
                swapped_effect: test.map(|t| t.color_swapped),
                mirrored_interval: test.and_then(|t| t.mirrored_interval),
                swapped_interval: test.and_then(|t| t.swapped_interval),
                causal_flips: test.map(|t| t.flips),
                causal_null_flips_p95: test.map(|t| t.null_flips_p95),
                mirrored_flips: test.and_then(|t| t.mirrored_flips),
                swapped_flips: test.map(|t| t.swapped_flips),
                positive_control: planted
                    .then(|| positive.iter().copied().fold(f64::INFINITY, f64::min)),
                color: f.color,
                position: f.position,
                stripes_deg: f.stripes_deg,
                reason: f.reason.clone(),
            });
        }
    }
    Ok(out)
}

/// How cases share the machine: `(workers, threads)`, so many cases at once, each on its own
/// pool of so many threads. Much of a case is serial (the VAE's small steps) or made of
/// small parallel steps whose hand-offs leave cores idle, so with more cases than cores each
/// runs on one thread, and one case more than there are cores keeps them all busy while a
/// case waits. Fewer cases than cores share the cores out. Threads do not change results:
/// every case draws from its own seeds, and its numbers are the same on any pool.
pub fn case_workers(cores: usize, cases: usize) -> (usize, usize) {
    let cores = cores.max(1);
    let workers = (cores + 1).min(cases).max(1);
    (workers, (cores / workers).max(1))
}

/// Runs every case and writes benchmark.json to `config.out`.
pub fn run(config: &BenchmarkConfig, progress: &Progress) -> Result<BenchmarkResults> {
    config.check()?;
    let started = Instant::now();
    let mnist = data::load_idx_classes(&config.data, Some(&CLASSES), Transpose::Auto)?;
    let fashion = match &config.fashion {
        Some(f) if f.exists() => Some(data::load_idx_classes(f, Some(&CLASSES), Transpose::Auto)?),
        _ => None,
    };
    let all = selected_cases(config);
    let bar = progress.bar(all.len() as u64, "benchmark cases");
    // Cases run several at a time ([`case_workers`]) and are reported in their order; the
    // first error in that order stops the run.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (workers, threads) = case_workers(cores, all.len());
    let pools = (0..workers)
        .map(|_| rayon::ThreadPoolBuilder::new().num_threads(threads).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Invalid(format!("could not start the benchmark's threads: {e}")))?;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let done: Vec<Mutex<Option<Result<Vec<CaseResult>>>>> =
        all.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for pool in &pools {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = all.get(i) else { break };
                    let result = pool
                        .install(|| match (case.dataset, &fashion) {
                            (Dataset::FashionMnist, Some(f)) => {
                                run_case(case, f, config, &Progress::hidden())
                            }
                            (Dataset::FashionMnist, None) => Ok(Vec::new()),
                            (Dataset::Mnist, _) => {
                                run_case(case, &mnist, config, &Progress::hidden())
                            }
                        })
                        .and_then(|r| bar.inc(1).map(|()| r));
                    stop.fetch_or(result.is_err(), Ordering::SeqCst);
                    *done[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                }
            });
        }
    });
    let mut results = Vec::new();
    for slot in done {
        // A case left unrun (an earlier one failed) has nothing; a panic ended the scope above.
        if let Some(r) = slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            results.extend(r?);
        }
    }
    bar.finish_and_clear();
    let out = BenchmarkResults {
        spurion_version: env!("CARGO_PKG_VERSION").to_string(),
        settings: config.clone(),
        label_noise: LABEL_NOISE,
        decoys: DECOYS,
        summary: summarize(&results),
        cases: results,
        seconds: started.elapsed().as_secs_f64(),
    };
    let staged = StagedDir::create(&config.output())?;
    output::write_json(&staged.path().join("benchmark.json"), &out)?;
    output::write(
        &staged.path().join("benchmark.txt"),
        format_table(&out).as_bytes(),
    )?;
    staged.commit()?;
    Ok(out)
}
