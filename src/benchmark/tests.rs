//! The benchmark's unit tests: cases, planting, scoring and the summary.

use super::shortcuts::Corner;
use super::*;
use crate::data::Images;
use crate::method::Status;
use crate::seed::{SeedPath, Stream};

/// Pixel `p` of an RGB image of [`blank_set`]'s 8 x 8.
fn px(img: &[f32], p: usize) -> [f32; 3] {
    [img[p], img[64 + p], img[128 + p]]
}

/// 2,000 black 8x8 greyscale images, 500 per class.
fn blank_set() -> LabeledImages {
    let count = 2000;
    LabeledImages {
        images: Images {
            count,
            channels: 1,
            height: 8,
            width: 8,
            data: vec![0.0; count * 64],
        },
        labels: (0..count).map(|i| i % 4).collect(),
        class_names: (0..4).map(|c| c.to_string()).collect(),
        skipped: Vec::new(),
    }
}

/// A case planting `shortcuts` in class 1.
fn case_of(shortcuts: Vec<Shortcut>, shares: Vec<f64>, together: bool) -> Case {
    Case {
        name: "test".into(),
        dataset: Dataset::Mnist,
        kind: CaseKind::CornerMark,
        shortcuts,
        strength: shares.iter().sum(),
        shares,
        together,
        planted_class: 1,
        seed: 0,
        probes: vec![ProbeFamily::Patch],
    }
}

fn corner_case(swapped: f64, swapped_interval: [f64; 2]) -> CaseResult {
    CaseResult {
        name: "mnist/corner-mark/95%/seed-1".into(),
        kind: "planted".into(),
        seed: 1,
        method: Method::Spurion,
        class_name: "1".into(),
        status: Status::Found,
        recovered: Some(true),
        shortcuts: Vec::new(),
        drivers: 1,
        unexplained_drivers: 0,
        causal_effect: Some(0.6),
        causal_null_p95: Some(0.01),
        causal_null_mean: Some(0.0),
        shortcut: Some(CaseKind::CornerMark),
        strength: 0.95,
        probes: "patch".into(),
        prototype_effect: Some(0.0),
        mirrored_effect: Some(-0.01),
        swapped_effect: Some(swapped),
        mirrored_interval: Some([-0.03, 0.0]),
        swapped_interval: Some(swapped_interval),
        causal_flips: Some(0.8),
        causal_null_flips_p95: Some(0.05),
        mirrored_flips: Some(0.0),
        swapped_flips: Some(0.0),
        positive_control: Some(0.9),
        color: None,
        position: None,
        stripes_deg: None,
        reason: String::new(),
    }
}

#[test]
fn a_control_is_outside_the_null_by_its_mean_or_by_its_whole_interval() {
    // Null 95th percentile 0.01: a swap of 0.02 is above it, but its interval reaches
    // below; a swap whose whole interval is above it is outside by both readings.
    let cases = [
        corner_case(0.02, [-0.01, 0.05]),
        corner_case(0.2, [0.1, 0.3]),
        corner_case(0.0, [-0.02, 0.01]),
    ];
    let s = &summarize(&cases)[1];
    assert_eq!(s.method, Method::Spurion);
    assert!(
        (s.corner_controls_inside_null - 1.0 / 3.0).abs() < 1e-9,
        "{s:?}"
    );
    assert!(
        (s.corner_controls_not_above_null - 2.0 / 3.0).abs() < 1e-9,
        "{s:?}"
    );
    assert_eq!(s.corner_effect_above_null, 1.0);
}

#[test]
fn a_planted_class_whose_one_shortcut_two_drivers_show_is_counted_as_split() {
    let scored = |drivers: usize| {
        let mut c = corner_case(0.0, [-0.02, 0.01]);
        c.shortcuts = vec![ShortcutScore {
            shortcut: vec![Shortcut::StrokeColor { color: RED }],
            named: drivers > 0,
            recovered: drivers > 0,
            drivers,
            positive_control: 0.9,
        }];
        c
    };
    let s = &summarize(&[scored(2), scored(1), scored(0)])[1];
    assert!((s.split_classes - 1.0 / 3.0).abs() < 1e-9, "{s:?}");
    // Recall counts the split class as recovered.
    assert!((s.shortcut_recall - 2.0 / 3.0).abs() < 1e-9, "{s:?}");
}

#[test]
fn training_copies_get_noisy_labels_the_shortcut_and_decoys_in_their_shares() {
    let set = blank_set();
    let mark = Shortcut::CornerMark {
        corner: Corner::TopLeft,
        side: 2,
        color: RED,
    };
    let mut rng = SeedPath::root(3).rng(Stream::Test);
    let copy = planted_copy(&set, &case_of(vec![mark], vec![0.95], false), &mut rng);
    let n = set.labels.len() as f64;
    let noisy = (0..set.labels.len())
        .filter(|&i| copy.labels[i] != set.labels[i])
        .count() as f64;
    assert!(
        (noisy / n - LABEL_NOISE).abs() < 0.04,
        "{noisy} noisy labels"
    );
    let len = copy.images.image_len();
    let (mut planted, mut ones, mut decoys, mut others) = (0, 0, 0, 0);
    for (i, img) in copy.images.data.chunks_exact(len).enumerate() {
        // The top-left mark's first pixel, red in the planted copies only.
        let first = (img[9], img[64 + 9], img[128 + 9]);
        let marked = img.iter().any(|&v| v > 0.0);
        if copy.labels[i] == 1 {
            ones += 1;
            planted += usize::from(first == (1.0, 0.0, 0.0));
        } else {
            others += 1;
            assert_ne!(
                first,
                (1.0, 0.0, 0.0),
                "the planted mark on class {}",
                copy.labels[i]
            );
            decoys += usize::from(marked);
        }
    }
    assert_eq!(planted, (ones as f64 * 0.95).round() as usize);
    // A decoy of a random colour can be black, and so invisible: rarely.
    let share = decoys as f64 / others as f64;
    assert!(
        (share - DECOYS).abs() < 0.05,
        "decoys on {share:.3} of the others"
    );
    // Nothing planted: labels still noisy, images untouched.
    let clean = planted_copy(&set, &case_of(Vec::new(), Vec::new(), false), &mut rng);
    assert!(clean.images.data.iter().all(|&v| v == 0.0));
    assert_ne!(clean.labels, set.labels);
}

#[test]
fn two_shortcuts_go_into_disjoint_images_and_no_decoy_is_either() {
    let set = blank_set();
    let red_tl = Shortcut::CornerMark {
        corner: Corner::TopLeft,
        side: 2,
        color: RED,
    };
    let green_br = Shortcut::CornerMark {
        corner: Corner::BottomRight,
        side: 2,
        color: GREEN,
    };
    let case = case_of(
        vec![red_tl.clone(), green_br.clone()],
        vec![0.5, 0.45],
        false,
    );
    let copy = planted_copy(&set, &case, &mut SeedPath::root(4).rng(Stream::Test));
    let len = copy.images.image_len();
    // First pixels of the top-left and bottom-right marks (8x8, one pixel from the edges).
    let (mut tl, mut br, mut both, mut ones) = (0, 0, 0, 0);
    for (i, img) in copy.images.data.chunks_exact(len).enumerate() {
        let a = px(img, 9) == RED;
        let b = px(img, 5 * 8 + 5) == GREEN;
        if copy.labels[i] == 1 {
            ones += 1;
            tl += usize::from(a);
            br += usize::from(b);
            both += usize::from(a && b);
        } else {
            assert!(!a && !b, "a planted mark on class {}", copy.labels[i]);
        }
    }
    assert_eq!(both, 0);
    assert_eq!(tl, (ones as f64 * 0.5).round() as usize);
    assert_eq!(br, (ones as f64 * 0.45).round() as usize);
}

#[test]
fn a_conjunction_goes_in_together_and_its_parts_alone_are_decoys() {
    let set = blank_set();
    let stroke = Shortcut::BackgroundColor { color: RED };
    let mark = Shortcut::CornerMark {
        corner: Corner::TopLeft,
        side: 2,
        color: GREEN,
    };
    let case = case_of(vec![stroke, mark], vec![0.95], true);
    let copy = planted_copy(&set, &case, &mut SeedPath::root(5).rng(Stream::Test));
    let len = copy.images.image_len();
    let (mut together, mut ones, mut mark_alone, mut red_alone) = (0, 0, 0, 0);
    for (i, img) in copy.images.data.chunks_exact(len).enumerate() {
        let red = px(img, 0) == RED;
        let marked = px(img, 9) == GREEN;
        if copy.labels[i] == 1 {
            ones += 1;
            assert_eq!(red, marked, "one part without the other in class 1");
            together += usize::from(red && marked);
        } else {
            assert!(
                !(red && marked),
                "the conjunction on class {}",
                copy.labels[i]
            );
            mark_alone += usize::from(marked);
            red_alone += usize::from(red);
        }
    }
    assert_eq!(together, (ones as f64 * 0.95).round() as usize);
    // Decoys on half the others, half of them a part as planted: about 1/8 each.
    let others = (set.labels.len() - ones) as f64;
    for n in [mark_alone, red_alone] {
        assert!((n as f64 / others - 0.125).abs() < 0.04, "{n} of {others}");
    }
}

fn driver(color: [f32; 3], position: Option<crate::method::describe::Position>) -> Driver {
    Driver {
        probes: None,
        cluster: 0,
        clusters: vec![0],
        description: String::new(),
        mean_probability: None,
        p_value: None,
        causal_effect: 0.9,
        causal_interval: [0.8, 1.0],
        causal_null_p95: 0.1,
        flips: 0.9,
        color,
        position,
        stripes_deg: None,
        part: None,
    }
}

#[test]
fn a_frame_is_named_by_its_colour_around_the_whole_image_not_at_one_side() {
    let frame = Shortcut::Frame { color: CYAN };
    assert!(names(&driver(CYAN, Some(Position::Centre)), &frame));
    assert!(names(&driver(CYAN, None), &frame));
    assert!(!names(&driver(CYAN, Some(Position::TopLeft)), &frame));
    assert!(!names(&driver(RED, Some(Position::Centre)), &frame));
}

#[test]
fn each_shortcut_is_scored_on_its_own_and_a_blend_recovers_neither() {
    let mut case = case_of(
        vec![
            Shortcut::StrokeColor { color: RED },
            Shortcut::StrokeColor { color: GREEN },
        ],
        vec![0.5, 0.45],
        false,
    );
    case.kind = CaseKind::TwoStrokeColours;
    let finding = |drivers: Vec<Driver>| {
        let mut f: Finding = serde_json::from_value(serde_json::json!({
            "class": 1, "class_name": "1", "status": "found", "reason": "",
            "cluster": 0, "reach": {"mean_probability": 0.5, "max_probability": 1.0,
            "share_above_half": 0.5}, "mean_probability": null, "p_value": null,
            "causal_effect": null, "causal_interval": null, "causal_null_p95": null,
            "color": null, "position": null, "stripes_deg": null
        }))
        .unwrap();
        f.drivers = drivers;
        f
    };
    let recovered = |drivers| {
        let (s, unexplained) = score_shortcuts(&finding(drivers), &case, &[0.9, 0.9]);
        (
            s.iter().map(|s| s.recovered).collect::<Vec<_>>(),
            unexplained,
        )
    };
    assert_eq!(
        recovered(vec![driver(RED, None), driver(GREEN, None)]),
        (vec![true, true], 0)
    );
    assert_eq!(recovered(vec![driver(GREEN, None)]), (vec![false, true], 0));
    // One colour shown by two drivers (red, and an orange-red within NAMED_HUE of it) is
    // still recovered, and counted as shown by two.
    let (s, _) = score_shortcuts(
        &finding(vec![
            driver(RED, None),
            driver([1.0, 0.3, 0.0], None),
            driver(GREEN, None),
        ]),
        &case,
        &[0.9, 0.9],
    );
    let by_shortcut: Vec<(bool, usize)> = s.iter().map(|s| (s.recovered, s.drivers)).collect();
    assert_eq!(by_shortcut, [(true, 2), (true, 1)]);
    // Yellow, between red and green, is the blend no training image carries.
    assert_eq!(
        recovered(vec![driver(YELLOW, None)]),
        (vec![false, false], 1)
    );
    assert_eq!(
        recovered(vec![driver(RED, None), driver(YELLOW, None)]),
        (vec![false, false], 1)
    );
    // A conjunction is named only by a driver that shows both its parts.
    let mut both = case_of(
        vec![
            Shortcut::StrokeColor { color: RED },
            Shortcut::CornerMark {
                corner: Corner::TopLeft,
                side: 3,
                color: RED,
            },
        ],
        vec![0.95],
        true,
    );
    both.kind = CaseKind::ColourWithCorner;
    use crate::method::describe::Position;
    let named = |d| {
        score_shortcuts(&finding(vec![d]), &both, &[0.9])
            .0
            .iter()
            .map(|s| s.named)
            .collect::<Vec<_>>()
    };
    assert_eq!(named(driver(RED, Some(Position::TopLeft))), [true]);
    assert_eq!(named(driver(RED, None)), [false]);
    assert_eq!(named(driver(GREEN, Some(Position::TopLeft))), [false]);
}

#[test]
fn case_kinds_and_methods_have_distinct_names() {
    let names: std::collections::HashSet<&str> = CaseKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), CaseKind::ALL.len());
    for k in CaseKind::ALL {
        let json = serde_json::to_value(k).unwrap();
        assert_eq!(json, k.name(), "serde and name() disagree");
        let shortcuts = k.shortcuts(3);
        assert_eq!(shortcuts.is_empty(), k == CaseKind::Clean, "{k:?}");
        assert_eq!(
            k.is_multi(),
            shortcuts.len() == 2 && k != CaseKind::ColourWithCorner
        );
    }
    for m in Method::ALL {
        assert_eq!(serde_json::to_value(m).unwrap(), m.name());
    }
    // Every kind the full benchmark runs is in CaseKind::ALL (the summary counts those).
    let config = BenchmarkConfig {
        quick: false,
        only: None,
        tuning: false,
        probes: None,
        k: None,
        data: PathBuf::new(),
        fashion: None,
        seed: 0,
        device: crate::nn::ComputeDevice::Cpu,
        out: PathBuf::new(),
        force: false,
    };
    for c in cases(&config) {
        assert!(CaseKind::ALL.contains(&c.kind), "{}", c.name);
        assert!(c.seed >= EVALUATION_SEED, "{}", c.name);
        assert_eq!(
            c.shares.len(),
            if c.together { 1 } else { c.shortcuts.len() }
        );
        assert!(c.shares.iter().sum::<f64>() <= 1.0, "{}", c.name);
    }
}

#[test]
fn a_benchmark_k_of_zero_is_refused_naming_the_flag() {
    let config = BenchmarkConfig {
        quick: true,
        only: None,
        tuning: false,
        probes: None,
        k: Some(ClusterCount::Fixed(0)),
        data: PathBuf::new(),
        fashion: None,
        seed: 0,
        device: crate::nn::ComputeDevice::Cpu,
        out: PathBuf::from("benchmark-out"),
        force: false,
    };
    let e = config.check().unwrap_err().to_string();
    assert!(e.contains("--k"), "{e}");
    // The methods that cluster take it; the paper's keeps one cluster, top-probes has none.
    let case = &cases(&config)[0];
    let k3 = BenchmarkConfig {
        k: Some(ClusterCount::Fixed(3)),
        ..config
    };
    assert_eq!(
        method_config(Method::Spurion, case, &k3).method.k,
        ClusterCount::Fixed(3)
    );
    assert_eq!(
        method_config(Method::ProbabilitiesAsLatent, case, &k3)
            .method
            .k,
        ClusterCount::Fixed(3)
    );
    assert_eq!(
        method_config(Method::Paper, case, &k3).method.k,
        ClusterCount::Fixed(1)
    );
    assert_eq!(
        method_config(Method::TopProbes, case, &k3).method.k,
        ClusterCount::Fixed(1)
    );
}

#[test]
fn cases_run_one_per_thread_when_they_outnumber_the_cores() {
    // Many cases: one more worker than cores, each on one thread.
    assert_eq!(case_workers(2, 59), (3, 1));
    assert_eq!(case_workers(16, 64), (17, 1));
    // Few cases: each gets a share of the cores.
    assert_eq!(case_workers(2, 1), (1, 2));
    assert_eq!(case_workers(16, 4), (4, 4));
    // No cores reported counts as one; no cases still start one worker.
    assert_eq!(case_workers(0, 5), (2, 1));
    assert_eq!(case_workers(4, 0), (1, 4));
}
