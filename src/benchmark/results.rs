//! What the benchmark measured: each class's scored finding, and the rates per method
//! ([`summarize`]); benchmark.json is [`BenchmarkResults`] serialised.

use super::shortcuts::Shortcut;
use super::*;
use crate::method::Status;

/// One planted shortcut (or conjunction) of a class, scored on its own.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShortcutScore {
    /// The shortcut (several for a conjunction).
    pub shortcut: Vec<Shortcut>,
    /// One of the class's drivers shows it (its colour, place or angle; all parts of a
    /// conjunction).
    pub named: bool,
    /// Named, and no driver of the class names none of its shortcuts.
    pub recovered: bool,
    /// How many of the class's drivers show it. More than one is one shortcut reported as
    /// several patterns (one colour as two hues), which `recovered` does not count against.
    #[serde(default)]
    pub drivers: usize,
    /// The shortcut itself pasted into the held-out images: the change of the class's
    /// probability.
    pub positive_control: f64,
}

/// The scored finding for one class of one case under one method.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CaseResult {
    pub name: String,
    /// `planted` for the class carrying the shortcut, `clean` for the others.
    pub kind: String,
    pub seed: u64,
    pub method: Method,
    pub class_name: String,
    pub status: Status,
    /// Every planted shortcut of the class recovered; null for a clean class.
    pub recovered: Option<bool>,
    /// The planted class's shortcuts, each scored (empty for a clean class).
    pub shortcuts: Vec<ShortcutScore>,
    /// Drivers the finding lists, and those of a planted class that name none of its
    /// shortcuts.
    pub drivers: usize,
    pub unexplained_drivers: usize,
    pub causal_effect: Option<f64>,
    pub causal_null_p95: Option<f64>,
    /// The null's mean effect.
    pub causal_null_mean: Option<f64>,
    /// The case's kind ("stroke-colour", "two-corner-marks"; none for a clean model),
    /// strength and probe families.
    pub shortcut: Option<CaseKind>,
    pub strength: f64,
    pub probes: String,
    /// The prototype's effect and the controls (the heaviest probes mirrored, and with their
    /// colours swapped), against the same null; the planted class only.
    pub prototype_effect: Option<f64>,
    pub mirrored_effect: Option<f64>,
    pub swapped_effect: Option<f64>,
    /// The controls' 95% bootstrap intervals (over the probes).
    pub mirrored_interval: Option<[f64; 2]>,
    pub swapped_interval: Option<[f64; 2]>,
    /// Share of the other held-out images the heaviest probes turn into the class, the
    /// null's 95th percentile of it, and the same for the controls.
    pub causal_flips: Option<f64>,
    pub causal_null_flips_p95: Option<f64>,
    pub mirrored_flips: Option<f64>,
    pub swapped_flips: Option<f64>,
    /// The true shortcuts pasted into the held-out images: the smallest change of the planted
    /// class's probability over them (shows the test can see an effect there is).
    pub positive_control: Option<f64>,
    /// What the finding shows: colour, place, stripe angle (of its first driver).
    pub color: Option<[f32; 3]>,
    pub position: Option<crate::method::describe::Position>,
    pub stripes_deg: Option<f64>,
    /// The finding's own words.
    pub reason: String,
}

/// Rates per method.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MethodSummary {
    pub method: Method,
    /// Planted classes recovered, of all planted classes.
    pub recovery_rate: f64,
    /// The same at strength >= 95%, for colour shortcuts and corner marks.
    pub recovery_rate_colour_95: f64,
    pub recovery_rate_corner_95: f64,
    /// Planted classes recovered, of those whose model learned the shortcut: the planted
    /// shortcut itself, pasted into the held-out images, raises the class's probability by at
    /// least [`LEARNED`] (the positive control).
    pub recovery_rate_learned: f64,
    pub planted_learned: usize,
    /// Clean classes with a "found" finding, of all clean classes.
    pub false_finding_rate: f64,
    /// Models with nothing planted whose every class got "no shortcut found", of all of them.
    pub clean_models_nothing_found: f64,
    /// Corner marks at strength >= 95%: share of seeds whose heaviest probes' effect is above
    /// the null's 95th percentile, and share whose mirrored and colour-swapped controls both
    /// stay at or below it.
    pub corner_effect_above_null: f64,
    pub corner_controls_inside_null: f64,
    /// The same with the controls' intervals: share of seeds where neither control's 95%
    /// interval lies wholly above the null's 95th percentile (neither is shown to act beyond
    /// random probes).
    pub corner_controls_not_above_null: f64,
    /// Planted shortcuts recovered, each counted on its own (a conjunction as one): over
    /// every case, over the new kinds (stamps, two shortcuts, conjunctions), and over the
    /// classes with two shortcuts; and the share of those classes with both recovered.
    pub shortcut_recall: f64,
    pub shortcut_recall_new: f64,
    pub shortcut_recall_multi: f64,
    pub both_recovered: f64,
    /// Planted classes in which one shortcut is shown by more than one driver (reported as
    /// several patterns where one was planted), of all planted classes.
    #[serde(default)]
    pub split_classes: f64,
    /// Per case kind: the shortcuts recovered and planted.
    pub by_kind: Vec<KindRecall>,
    /// Class results counted (planted and clean).
    pub cases: usize,
}

/// Shortcuts recovered, of those planted, for one case kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KindRecall {
    pub kind: CaseKind,
    pub recovered: usize,
    pub planted: usize,
}

/// What `spurion benchmark` measured; benchmark.json is its serialisation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BenchmarkResults {
    pub spurion_version: String,
    pub settings: BenchmarkConfig,
    /// Share of the training labels made noisy ([`LABEL_NOISE`]) and of the distractor classes'
    /// training images that carry a decoy ([`DECOYS`]).
    pub label_noise: f64,
    pub decoys: f64,
    pub cases: Vec<CaseResult>,
    pub summary: Vec<MethodSummary>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Smallest positive control that counts as the model having learned its shortcut.
pub const LEARNED: f64 = 0.3;

/// Per method: recovery and false-finding rates.
pub fn summarize(cases: &[CaseResult]) -> Vec<MethodSummary> {
    let rate = |v: Vec<bool>| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().filter(|&&b| b).count() as f64 / v.len() as f64
        }
    };
    Method::ALL
        .iter()
        .map(|&m| {
            let mine: Vec<&CaseResult> = cases.iter().filter(|c| c.method == m).collect();
            let units = |pred: &dyn Fn(&CaseResult) -> bool| -> Vec<bool> {
                mine.iter()
                    .filter(|c| c.kind == "planted" && pred(c))
                    .flat_map(|c| c.shortcuts.iter().map(|s| s.recovered))
                    .collect()
            };
            let kinds = CaseKind::ALL.into_iter().filter(|&k| {
                mine.iter()
                    .any(|c| c.kind == "planted" && c.shortcut == Some(k))
            });
            let by_kind = kinds
                .map(|k| {
                    let v = units(&|c| c.shortcut == Some(k));
                    KindRecall {
                        kind: k,
                        recovered: v.iter().filter(|&&b| b).count(),
                        planted: v.len(),
                    }
                })
                .collect();
            let planted = |pred: &dyn Fn(&CaseResult) -> bool| {
                rate(
                    mine.iter()
                        .filter(|c| c.kind == "planted" && pred(c))
                        .map(|c| c.recovered == Some(true))
                        .collect(),
                )
            };
            let colour = |c: &CaseResult| {
                c.strength >= 0.95
                    && matches!(
                        c.shortcut,
                        Some(CaseKind::StrokeColour | CaseKind::BackgroundColour)
                    )
            };
            let corner =
                |c: &CaseResult| c.strength >= 0.95 && c.shortcut == Some(CaseKind::CornerMark);
            let corner_cases: Vec<&&CaseResult> = mine
                .iter()
                .filter(|c| c.kind == "planted" && corner(c))
                .collect();
            let above = |e: Option<f64>, c: &CaseResult| {
                e.zip(c.causal_null_p95).is_some_and(|(e, n)| e > n)
            };
            let mut clean_models: Vec<&str> = mine
                .iter()
                .filter(|c| c.shortcut.is_none())
                .map(|c| c.name.as_str())
                .collect();
            clean_models.dedup();
            let learned: Vec<bool> = mine
                .iter()
                .filter(|c| c.kind == "planted" && c.positive_control.is_some_and(|p| p >= LEARNED))
                .map(|c| c.recovered == Some(true))
                .collect();
            MethodSummary {
                method: m,
                planted_learned: learned.len(),
                recovery_rate_learned: rate(learned),
                clean_models_nothing_found: rate(
                    clean_models
                        .iter()
                        .map(|n| {
                            mine.iter()
                                .filter(|c| c.name == *n)
                                .all(|c| c.status == Status::None)
                        })
                        .collect(),
                ),
                corner_effect_above_null: rate(
                    corner_cases
                        .iter()
                        .map(|c| above(c.causal_effect, c))
                        .collect(),
                ),
                corner_controls_inside_null: rate(
                    corner_cases
                        .iter()
                        .map(|c| !above(c.mirrored_effect, c) && !above(c.swapped_effect, c))
                        .collect(),
                ),
                corner_controls_not_above_null: rate(
                    corner_cases
                        .iter()
                        .map(|c| {
                            !above(c.mirrored_interval.map(|i| i[0]), c)
                                && !above(c.swapped_interval.map(|i| i[0]), c)
                        })
                        .collect(),
                ),
                shortcut_recall: rate(units(&|_| true)),
                shortcut_recall_new: rate(units(&|c| c.shortcut.is_some_and(CaseKind::is_new))),
                shortcut_recall_multi: rate(units(&|c| c.shortcut.is_some_and(CaseKind::is_multi))),
                both_recovered: planted(&|c| c.shortcut.is_some_and(CaseKind::is_multi)),
                split_classes: rate(
                    mine.iter()
                        .filter(|c| c.kind == "planted")
                        .map(|c| c.shortcuts.iter().any(|s| s.drivers > 1))
                        .collect(),
                ),
                by_kind,
                recovery_rate: planted(&|_| true),
                recovery_rate_colour_95: planted(&colour),
                recovery_rate_corner_95: planted(&corner),
                false_finding_rate: rate(
                    mine.iter()
                        .filter(|c| c.kind == "clean")
                        .map(|c| c.status == Status::Found)
                        .collect(),
                ),
                cases: mine.len(),
            }
        })
        .collect()
}
