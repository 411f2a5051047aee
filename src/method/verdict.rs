//! From numbers to words: one finding per class, and "nothing found" when nothing is.
//!
//! A class is **driven by** a pattern only when one of its clusters is significant on the
//! held-out probes *and* its heaviest probes, put into held-out real images, raise the class's
//! probability and turn other images into the class by clear margins over 95% of random
//! probes (see [`super::causal`]).
//! Otherwise the finding says why not: no probe (or too few) reaches the class; its clusters
//! are no better than chance; or the pattern the probes suggest does nothing special to real
//! images; or there were no real images to test it on.
//!
//! A class can have several shortcuts (red strokes in some of its images, green in others), so
//! every cluster that passes both tests is a **driver** of its own, and clusters that show the
//! same pattern (the same colour, the same place, the same stripes: k-means split one region
//! in two) are merged into one. A finding lists its class's drivers, strongest first; each is
//! described from its own cluster's heaviest probes, never from a mean over two drivers.

use super::causal::CausalTest;
use super::cluster::{ClusterStats, SIGNIFICANCE_LEVEL};
use super::describe::{Position, same_angle, same_color};
use crate::metrics::Probabilities;

/// Share of the held-out probes that must reach a class (`p_c >= 0.5`) for the probes to
/// say anything about it.
pub const MIN_REACH: f64 = 0.01;

/// How the held-out probes reach one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassReach {
    /// Mean `p_c` over the held-out probes.
    pub mean_probability: f64,
    /// The largest `p_c`.
    pub max_probability: f64,
    /// Share of held-out probes with `p_c >= 0.5`.
    pub share_above_half: f64,
}

impl ClassReach {
    pub fn of(probs: &Probabilities, c: usize) -> Self {
        let col = probs.column(c);
        let n = col.len().max(1) as f64;
        ClassReach {
            mean_probability: col.iter().map(|&p| p as f64).sum::<f64>() / n,
            max_probability: col.iter().copied().fold(0.0f32, f32::max) as f64,
            share_above_half: col.iter().filter(|&&p| p >= 0.5).count() as f64 / n,
        }
    }

    pub fn reached(&self) -> bool {
        self.share_above_half >= MIN_REACH
    }
}

/// Whether a class is driven by something the probes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A significant cluster whose prototype acts on real images.
    Found,
    /// Nothing found.
    None,
}

/// One pattern that drives a class: a cluster that passed both tests, with the passing
/// clusters of the class that show the same pattern merged into it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Driver {
    /// The probe family it comes from (audits with several families).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<String>,
    /// The cluster that speaks for it (the strongest of those merged), and every merged one:
    /// indices in the run's clusters (of the run of `probes`).
    pub cluster: usize,
    pub clusters: Vec<usize>,
    /// The cluster in words.
    pub description: String,
    /// Its held-out mean probability and permutation p-value.
    pub mean_probability: Option<f64>,
    pub p_value: Option<f64>,
    /// The causal test: effect, its interval, the null's 95th percentile, the share of other
    /// images turned into the class.
    pub causal_effect: f64,
    pub causal_interval: [f64; 2],
    pub causal_null_p95: f64,
    pub flips: f64,
    /// What its heaviest probes show (see [`Finding`]).
    pub color: [f32; 3],
    pub position: Option<Position>,
    pub stripes_deg: Option<f64>,
    /// The kind of probe most of its weight comes from, where the probes mix several (see
    /// [`super::describe::ClusterDescription::part`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
}

/// Largest hue difference (degrees) between two drivers that count as one colour.
pub const SAME_HUE: f32 = 40.0;
/// Largest stripe-angle difference (degrees) between two drivers that count as one pattern.
pub const SAME_ANGLE: f64 = 20.0;

impl Driver {
    /// Whether `self` and `other` show the same pattern: the same place (or both the whole
    /// image), the same stripes (or neither has any), the same colour (hues within
    /// [`SAME_HUE`], or both without a hue and of like brightness), and the same kind of
    /// probe where both know theirs (a frame and a patch of one colour are two patterns).
    pub fn looks_like(&self, other: &Driver) -> bool {
        let hued = |c: [f32; 3]| super::describe::hue_saturation(c).1 >= 0.2;
        let bright = |c: [f32; 3]| c.iter().copied().fold(0.0f32, f32::max);
        let color = match (hued(self.color), hued(other.color)) {
            (true, true) => same_color(self.color, other.color, SAME_HUE),
            (false, false) => (bright(self.color) - bright(other.color)).abs() <= 0.3,
            _ => false,
        };
        self.same_shape(other) && color
    }

    /// Whether `self` and `other` show the same kind of pattern, colour aside: the same place
    /// (or both the whole image), the same stripes (or neither has any), and the same kind of
    /// probe where both know theirs.
    fn same_shape(&self, other: &Driver) -> bool {
        let stripes = match (self.stripes_deg, other.stripes_deg) {
            (None, None) => true,
            (Some(a), Some(b)) => same_angle(a, b, SAME_ANGLE),
            _ => false,
        };
        let part = match (&self.part, &other.part) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.position == other.position && stripes && part
    }

    /// Whether this driver's colour is a blend of `a`'s and `b`'s: the same kind of pattern,
    /// all three with a hue, `a` and `b` two colours (more than [`SAME_HUE`] apart), and this
    /// hue strictly inside the shorter arc between theirs (yellow between red and green).
    pub fn blend_of(&self, a: &Driver, b: &Driver) -> bool {
        let hue = |d: &Driver| {
            let (h, s) = super::describe::hue_saturation(d.color);
            (s >= 0.2).then_some(h)
        };
        let (Some(h), Some(ha), Some(hb)) = (hue(self), hue(a), hue(b)) else {
            return false;
        };
        let apart = |x: f32, y: f32| {
            let d = (x - y).abs();
            d.min(360.0 - d)
        };
        self.same_shape(a)
            && self.same_shape(b)
            && apart(ha, hb) > SAME_HUE
            && apart(ha, h) > 0.0
            && apart(h, hb) > 0.0
            && (apart(ha, h) + apart(h, hb) - apart(ha, hb)).abs() < 0.5
    }
}

/// Takes out of `drivers`, and returns, those whose colour is a blend of two others'
/// ([`Driver::blend_of`]) that are themselves no blend. A class that red and green strokes
/// drive is also raised by yellow probes, which carry both; named as a driver, yellow would be
/// a colour no training image needs to carry, so it is reported as a blend of the two instead.
pub fn fold_blends(drivers: &mut Vec<Driver>) -> Vec<Driver> {
    let blend_of_two = |i: usize, among: &[usize]| {
        among.iter().enumerate().any(|(x, &a)| {
            among[x + 1..]
                .iter()
                .any(|&b| a != i && b != i && drivers[i].blend_of(&drivers[a], &drivers[b]))
        })
    };
    let all: Vec<usize> = (0..drivers.len()).collect();
    let extremes: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| !blend_of_two(i, &all))
        .collect();
    let folded: Vec<bool> = all
        .iter()
        .map(|&i| !extremes.contains(&i) && blend_of_two(i, &extremes))
        .collect();
    let mut blends = Vec::new();
    let mut kept = Vec::new();
    for (d, is_blend) in drivers.drain(..).zip(folded) {
        if is_blend { &mut blends } else { &mut kept }.push(d);
    }
    *drivers = kept;
    blends
}

/// The drivers folded as blends, in words, after the drivers.
pub fn blends_in_words(name: &str, blends: &[Driver]) -> String {
    blends
        .iter()
        .map(|d| {
            format!(
                "; probes like {} raise p({name}) too (by {:+.3}), a blend of two of the colours \
                 above, not a driver of its own",
                d.description, d.causal_effect
            )
        })
        .collect()
}

/// Adds `more`, strongest first (by the effect's margin over the null), to `drivers`, each
/// merged into the first that looks like it (its clusters recorded there when both come from
/// the same run).
pub fn merge_drivers(drivers: &mut Vec<Driver>, mut more: Vec<Driver>) {
    more.sort_by(|a, b| {
        (b.causal_effect - b.causal_null_p95).total_cmp(&(a.causal_effect - a.causal_null_p95))
    });
    for d in more {
        match drivers.iter_mut().find(|e| e.looks_like(&d)) {
            Some(e) if e.probes == d.probes => e.clusters.extend(d.clusters),
            Some(_) => {}
            None => drivers.push(d),
        }
    }
}

/// What the method concludes about one class, and the numbers behind it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    pub class: usize,
    pub class_name: String,
    /// The probe family the finding comes from (audits with several families).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<String>,
    pub status: Status,
    /// The finding in words.
    pub reason: String,
    /// The cluster the finding speaks of (its index in the run's clusters).
    pub cluster: Option<usize>,
    /// How the held-out probes reach the class.
    pub reach: ClassReach,
    /// The cluster's held-out mean probability and permutation p-value.
    pub mean_probability: Option<f64>,
    pub p_value: Option<f64>,
    /// The causal test's effect, its interval, and the null's 95th percentile.
    pub causal_effect: Option<f64>,
    pub causal_interval: Option<[f64; 2]>,
    pub causal_null_p95: Option<f64>,
    /// What the prototype shows: its colour inside its mask, where the mask sits (None when
    /// it covers most of the image), and the angle of its stripes, if any.
    pub color: Option<[f32; 3]>,
    pub position: Option<Position>,
    pub stripes_deg: Option<f64>,
    /// Every pattern found to drive the class, strongest first; the fields above speak of
    /// the first. Empty unless the status is found.
    #[serde(default)]
    pub drivers: Vec<Driver>,
    /// Patterns that passed both tests but whose colour is a blend of two drivers'
    /// ([`fold_blends`]): reported in the reason, not as drivers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blends: Vec<Driver>,
}

impl Finding {
    /// The same finding with every reference to cluster `from` (its own, its drivers' and
    /// blends') moved to `to`: the finding of a run whose clusters were numbered otherwise.
    pub fn at_cluster(&self, from: usize, to: usize) -> Finding {
        let moved = |j: &mut usize| {
            if *j == from {
                *j = to;
            }
        };
        let mut f = self.clone();
        if let Some(j) = f.cluster.as_mut() {
            moved(j);
        }
        for d in f.drivers.iter_mut().chain(f.blends.iter_mut()) {
            moved(&mut d.cluster);
            d.clusters.iter_mut().for_each(moved);
        }
        f
    }
}

/// A cluster that passed both tests, as a driver of its class.
fn driver_of(j: usize, s: &ClusterStats) -> Option<Driver> {
    let t = s.causal.as_ref().filter(|t| t.passes && s.significant)?;
    Some(Driver {
        probes: None,
        cluster: j,
        clusters: vec![j],
        description: s.description.text.clone(),
        mean_probability: s.mean_probability,
        p_value: s.p_value,
        causal_effect: t.effect,
        causal_interval: t.interval,
        causal_null_p95: t.null_p95,
        flips: t.flips,
        color: s.mask.color,
        position: s.mask.position.filter(|_| s.mask.share <= 0.5),
        stripes_deg: s.description.stripes_deg,
        part: s.description.part.clone(),
    })
}

/// "; and separately by probes like cluster 2's prototype (...), p = ..., +0.61 against
/// +0.05": `drivers` (those after a finding's first) in one clause each.
pub fn more_drivers_in_words(name: &str, drivers: &[Driver]) -> String {
    drivers
        .iter()
        .map(|d| {
            format!(
                "; and separately by probes like {}{} (p = {}; put into real images they change \
                 p({name}) by {:+.3} against a 95th percentile of {:+.3} for random probes and \
                 turn {} of the other images into class {name})",
                d.description,
                d.probes
                    .as_ref()
                    .map_or(String::new(), |f| format!(", {f} probes")),
                d.p_value.map_or("-".into(), |p| format!("{p:.3}")),
                d.causal_effect,
                d.causal_null_p95,
                pct(d.flips),
            )
        })
        .collect()
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The causal test in words, up to the random probes' flips, the parenthesis left open:
/// "put into real images they change p(X) by ... (random probes: 3.0%".
fn causal_numbers(name: &str, t: &CausalTest) -> String {
    let how = t.way_in_words().map_or(String::new(), |w| format!(" {w}"));
    format!(
        "put into real images{how} they change p({name}) by {:+.3} (95% {:+.3} to {:+.3}) against \
         {:+.3} for probes at random (95th percentile of as many: {:+.3}) and turn {} of the \
         other images into class {name} (random probes: {}",
        t.effect,
        t.interval[0],
        t.interval[1],
        t.null_mean,
        t.null_p95,
        pct(t.flips),
        pct(t.null_flips),
    )
}

/// The finding for each class from its clusters' statistics; `min_effect` is the causal
/// test's smallest margins that count (effect, flip share), None when there were no real images to test on.
pub fn findings(
    class_names: &[String],
    clusters: &[ClusterStats],
    reach: &[ClassReach],
    min_effect: Option<(f64, f64)>,
) -> Vec<Finding> {
    let causal_tested = min_effect.is_some();
    class_names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let mine: Vec<(usize, &ClusterStats)> = clusters
                .iter()
                .enumerate()
                .filter(|(_, s)| s.class == c)
                .collect();
            let mut drivers = Vec::new();
            merge_drivers(
                &mut drivers,
                mine.iter().filter_map(|(j, s)| driver_of(*j, s)).collect(),
            );
            let blends = fold_blends(&mut drivers);
            // The cluster spoken of: the strongest driver, else the strongest cluster.
            let passing = drivers
                .first()
                .and_then(|d| mine.iter().find(|(j, _)| *j == d.cluster));
            let heaviest = mine
                .iter()
                .max_by(|a, b| a.1.weight_share.total_cmp(&b.1.weight_share));
            let best = passing.or_else(|| {
                mine.iter()
                    .filter(|(_, s)| s.significant)
                    .max_by(|a, b| {
                        let e = |s: &ClusterStats| s.causal.as_ref().map_or(f64::MIN, |t| t.effect);
                        e(a.1).total_cmp(&e(b.1))
                    })
                    .or(heaviest)
            });
            let r = &reach[c];
            let (status, reason) = match (best, passing.is_some()) {
                // Evidence that passed both tests stands however few probes reached the class.
                _ if !r.reached() && passing.is_none() => (
                    Status::None,
                    if r.max_probability >= 0.5 {
                        format!(
                            "too few probes reach class {name} ({} of the held-out probes above \
                             50%, mean probability {}, highest {}) and none of its clusters \
                             passed: try another probe family, or more probes",
                            pct(r.share_above_half),
                            pct(r.mean_probability),
                            pct(r.max_probability)
                        )
                    } else {
                        format!(
                            "no probe reaches class {name} (mean probability {}, highest {}): \
                             try another probe family",
                            pct(r.mean_probability),
                            pct(r.max_probability)
                        )
                    },
                ),
                (Some((_, s)), true) => {
                    let t = s.causal.as_ref().expect("a passing cluster was tested");
                    (
                        Status::Found,
                        format!(
                            "class {name} is driven by probes like its prototype ({}): held-out \
                             probes like it are class {name} with mean probability {} against \
                             {} by chance (p = {}), and {}){}",
                            s.description.text,
                            s.mean_probability.map_or("-".into(), pct),
                            pct(s.chance),
                            s.p_value.map_or("-".into(), |p| format!("{p:.3}")),
                            causal_numbers(name, t),
                            more_drivers_in_words(name, drivers.get(1..).unwrap_or_default()),
                        ) + &blends_in_words(name, &blends),
                    )
                }
                (Some((_, s)), false) if !s.significant => (
                    Status::None,
                    format!(
                        "no shortcut found for class {name}: its clusters are no more likely \
                         to be class {name} than probes at random (held-out mean probability \
                         {} against {}; p = {}, level {SIGNIFICANCE_LEVEL})",
                        s.mean_probability.map_or("-".into(), pct),
                        pct(s.chance),
                        s.p_value.map_or("not tested".into(), |p| format!("{p:.3}"))
                    ),
                ),
                (Some((_, s)), false) => match &s.causal {
                    Some(t) => (
                        Status::None,
                        format!(
                            "no shortcut found for class {name}: probes like its prototype \
                             ({}) are class {name} more often than chance, but {}, 95th \
                             percentile {}): a shortcut would beat the 95th percentiles by {:.2} \
                             and {} points{}",
                            s.description.text,
                            causal_numbers(name, t),
                            pct(t.null_flips_p95),
                            min_effect.map_or(0.0, |m| m.0),
                            min_effect.map_or(0.0, |m| 100.0 * m.1),
                            if min_effect.is_some_and(|m| t.null_mean >= m.0) {
                                format!(
                                    ". Probes of this family at random already raise p({name}) \
                                     by {:+.3}: what drives class {name} is common to the whole \
                                     family, so this family cannot single it out; try one that \
                                     varies what you suspect",
                                    t.null_mean
                                )
                            } else {
                                String::new()
                            }
                        ),
                    ),
                    None => (
                        Status::None,
                        if causal_tested {
                            format!(
                                "no shortcut found for class {name}: its prototype differs \
                                 from no part of the probes' background"
                            )
                        } else {
                            format!(
                                "not tested on real images, so no finding for class {name}: \
                                 probes like {} are class {name} more often than chance, but \
                                 only the model run on real images (--model with --holdout) shows whether \
                                 it drives the class",
                                s.description.text
                            )
                        },
                    ),
                },
                (None, _) => (
                    Status::None,
                    format!("no shortcut found for class {name}: no cluster"),
                ),
            };
            let s = best.map(|(_, s)| *s);
            let t = s.and_then(|s| s.causal.as_ref());
            let local = s.is_some_and(|s| s.mask.share <= 0.5);
            Finding {
                class: c,
                class_name: name.clone(),
                probes: None,
                status,
                reason,
                cluster: best.map(|(j, _)| *j),
                reach: r.clone(),
                mean_probability: s.and_then(|s| s.mean_probability),
                p_value: s.and_then(|s| s.p_value),
                causal_effect: t.map(|t| t.effect),
                causal_interval: t.map(|t| t.interval),
                causal_null_p95: t.map(|t| t.null_p95),
                color: s.map(|s| s.mask.color),
                position: s.and_then(|s| s.mask.position).filter(|_| local),
                stripes_deg: s.and_then(|s| s.description.stripes_deg),
                drivers,
                blends,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One cluster of class 0: significant or not, and with a causal test that passes or not.
    fn cluster(significant: bool, passes: bool) -> ClusterStats {
        let causal = serde_json::json!({
            "images": "digits", "n": 60, "intervention": "paste", "blend": null,
            "mask_share": 0.02, "members": 16, "probes": 100, "effect": 0.5,
            "interval": [0.4, 0.6], "null_mean": 0.01, "null_p95": 0.05,
            "prototype_effect": 0.3, "prototype_interval": [0.2, 0.4], "mirrored": 0.0,
            "color_swapped": 0.0, "flips": 0.5, "null_flips": 0.01, "null_flips_p95": 0.05,
            "prototype_flips": 0.3, "mirrored_flips": 0.0, "swapped_flips": 0.0,
            "passes": passes
        });
        serde_json::from_value(serde_json::json!({
            "class": 0, "class_name": "a", "index": 0, "size": 10,
            "mean_probability": 0.9, "interval": [0.8, 1.0], "chance": 0.1,
            "weight_share": 1.0, "centroid": [0.0], "nearest_probes": [0],
            "z": 5.0, "p_value": if significant { 0.001 } else { 0.5 },
            "p_interval": [0.0, 0.01], "significant": significant,
            "mask": {"share": 0.02, "centre": [2.0, 2.0], "position": "top-left",
                     "color": [1.0, 0.0, 0.0]},
            "causal": causal,
            "description": {"color": "red", "color_share": 1.0, "prototype_color": "red",
                            "prototype_channel": "red", "position": "top-left",
                            "stripes_deg": null, "text": "red mark at top-left"}
        }))
        .unwrap()
    }

    fn reach(share_above_half: f64, max_probability: f64) -> ClassReach {
        ClassReach {
            mean_probability: 0.03,
            max_probability,
            share_above_half,
        }
    }

    fn one(stats: ClusterStats, r: ClassReach) -> Finding {
        findings(&["a".to_string()], &[stats], &[r], Some((0.3, 0.3))).remove(0)
    }

    /// The finding of class "a" from `clusters`, all its own, reached by half the probes.
    fn of_class(clusters: &[ClusterStats]) -> Finding {
        findings(
            &["a".to_string()],
            clusters,
            &[reach(0.5, 1.0)],
            Some((0.3, 0.3)),
        )
        .remove(0)
    }

    #[test]
    fn found_needs_significance_and_the_causal_test() {
        assert_eq!(
            one(cluster(true, true), reach(0.5, 1.0)).status,
            Status::Found
        );
        let f = one(cluster(false, true), reach(0.5, 1.0));
        assert_eq!(f.status, Status::None);
        assert!(f.reason.contains("no more likely"), "{}", f.reason);
        let f = one(cluster(true, false), reach(0.5, 1.0));
        assert_eq!(f.status, Status::None);
        assert!(f.reason.contains("put into real images"), "{}", f.reason);
    }

    #[test]
    fn both_verdicts_give_the_causal_numbers_in_whole_sentences() {
        let numbers = "change p(a) by +0.500 (95% +0.400 to +0.600) against +0.010 for probes \
                       at random (95th percentile of as many: +0.050) and turn 50.0% of the \
                       other images into class a (random probes: 1.0%";
        for (passes, tail) in [
            (true, ")"),
            (false, ", 95th percentile 5.0%): a shortcut would beat"),
        ] {
            let f = one(cluster(true, passes), reach(0.5, 1.0));
            assert!(
                f.reason.contains(&format!("{numbers}{tail}")),
                "{}",
                f.reason
            );
            let open = f.reason.matches('(').count();
            assert_eq!(open, f.reason.matches(')').count(), "{}", f.reason);
        }
        // A whole-image test says how its probes went in.
        let mut tinted = cluster(true, true);
        if let Some(t) = tinted.causal.as_mut() {
            t.intervention = "whole".into();
            t.way = Some("tint".into());
        }
        let f = one(tinted, reach(0.5, 1.0));
        assert!(
            f.reason
                .contains(&format!("put into real images as a tint they {numbers}")),
            "{}",
            f.reason
        );
    }

    #[test]
    fn a_class_no_probe_reaches_gets_nothing_found_in_words() {
        let f = one(cluster(true, false), reach(0.0, 0.2));
        assert_eq!(f.status, Status::None);
        assert!(
            f.reason.starts_with("no probe reaches class a"),
            "{}",
            f.reason
        );
        let f = one(cluster(true, false), reach(0.004, 0.99));
        assert!(
            f.reason.starts_with("too few probes reach class a"),
            "{}",
            f.reason
        );
    }

    #[test]
    fn evidence_that_passes_stands_however_few_probes_reach_the_class() {
        assert_eq!(
            one(cluster(true, true), reach(0.004, 0.99)).status,
            Status::Found
        );
    }

    /// `cluster(true, true)` in another colour, place and effect.
    fn passing(color: [f32; 3], position: Option<&str>, effect: f64) -> ClusterStats {
        let mut s = cluster(true, true);
        s.mask.color = color;
        s.mask.position = position.map(|p| serde_json::from_value(p.into()).unwrap());
        s.mask.share = if position.is_some() { 0.02 } else { 0.9 };
        s.description.text = format!("{color:?} at {position:?}");
        if let Some(t) = s.causal.as_mut() {
            t.effect = effect;
        }
        s
    }

    #[test]
    fn every_passing_cluster_that_looks_different_is_a_driver_strongest_first() {
        let red = [1.0, 0.0, 0.0];
        let orange_red = [1.0, 0.3, 0.0];
        let green = [0.0, 1.0, 0.0];
        let f = of_class(&[
            passing(red, None, 0.6),
            passing(green, None, 0.9),
            passing(orange_red, None, 0.7),
            cluster(true, false),
        ]);
        assert_eq!(f.status, Status::Found);
        // Green first (the strongest); the two reds are one driver, spoken for by the
        // stronger (cluster 2), cluster 0 merged into it.
        let clusters: Vec<Vec<usize>> = f.drivers.iter().map(|d| d.clusters.clone()).collect();
        assert_eq!(clusters, [vec![1], vec![2, 0]]);
        assert_eq!(f.cluster, Some(1));
        assert_eq!(f.color, Some(green));
        assert!(
            f.reason.contains("; and separately by probes like"),
            "{}",
            f.reason
        );
        // The same colour in another place is another driver; nothing passing, none.
        let f = of_class(&[
            passing(red, Some("top-left"), 0.6),
            passing(red, Some("bottom-right"), 0.5),
        ]);
        assert_eq!(f.drivers.len(), 2);
        let f = one(cluster(true, false), reach(0.5, 1.0));
        assert!(f.drivers.is_empty());
    }

    #[test]
    fn a_finding_moved_to_another_cluster_number_speaks_of_it_everywhere() {
        let red = [1.0, 0.0, 0.0];
        let f = findings(
            &["a".to_string(), "b".to_string()],
            &[cluster(true, false), {
                let mut s = passing(red, None, 0.6);
                s.class = 1;
                s
            }],
            &[reach(0.5, 1.0), reach(0.5, 1.0)],
            Some((0.3, 0.3)),
        )
        .remove(1);
        assert_eq!((f.cluster, f.drivers[0].cluster), (Some(1), 1));
        let moved = f.at_cluster(1, 4);
        assert_eq!(moved.cluster, Some(4));
        assert_eq!(
            (moved.drivers[0].cluster, moved.drivers[0].clusters.clone()),
            (4, vec![4])
        );
        // Nothing else changes, and other numbers stay.
        assert_eq!(moved.at_cluster(4, 1), f);
        assert_eq!(f.at_cluster(0, 4), f);
    }

    #[test]
    fn a_driver_whose_colour_is_a_blend_of_two_others_is_folded_into_them() {
        let red = [1.0, 0.0, 0.0];
        let yellow = [1.0, 1.0, 0.0];
        let green = [0.0, 1.0, 0.0];
        let blue = [0.0, 0.0, 1.0];
        let f = of_class(&[
            passing(yellow, None, 0.95),
            passing(red, None, 0.9),
            passing(green, None, 0.8),
        ]);
        // Yellow, the strongest, lies between red and green: not a driver, and not the
        // colour the finding speaks of.
        let colors: Vec<[f32; 3]> = f.drivers.iter().map(|d| d.color).collect();
        assert_eq!(colors, [red, green]);
        assert_eq!(f.color, Some(red));
        assert_eq!(f.blends.len(), 1);
        assert!(
            f.reason.contains("a blend of two of the colours"),
            "{}",
            f.reason
        );
        // Blue is not between red and green (the shorter arc runs through yellow); the same
        // colours in different places are no blend either.
        let f = of_class(&[
            passing(red, None, 0.9),
            passing(blue, None, 0.85),
            passing(green, None, 0.8),
        ]);
        assert_eq!(f.drivers.len(), 3);
        assert!(f.blends.is_empty());
        let f = of_class(&[
            passing(red, Some("top-left"), 0.9),
            passing(yellow, None, 0.85),
            passing(green, Some("bottom-right"), 0.8),
        ]);
        assert_eq!(f.drivers.len(), 3);
        // Four hues a quarter turn apart: each lies between two others, none between two
        // that are no blend, so none is folded.
        let mut four: Vec<Driver> = [red, [0.5, 1.0, 0.0], [0.0, 1.0, 1.0], [0.5, 0.0, 1.0]]
            .iter()
            .enumerate()
            .map(|(j, &c)| driver_of(j, &passing(c, None, 0.9)).unwrap())
            .collect();
        assert!(fold_blends(&mut four).is_empty());
        assert_eq!(four.len(), 4);
    }
}
