//! The causal test: masks, interventions, the null and the controls.

use super::*;
use rand::SeedableRng;
use std::sync::atomic::{AtomicUsize, Ordering};

fn images(count: usize, h: usize, w: usize, v: f32) -> Images {
    Images {
        count,
        channels: 3,
        height: h,
        width: w,
        data: vec![v; count * 3 * h * w],
    }
}

#[test]
fn a_corner_blob_makes_a_small_mask_and_a_colour_the_whole_image() {
    let (h, w) = (8, 8);
    let background = vec![0.0; 3 * 64];
    let mut blob = background.clone();
    for y in 0..2 {
        for x in 0..2 {
            blob[y * 8 + x] = 1.0; // red, top-left
        }
    }
    let m = Mask::find(&blob, &background, h, w);
    assert_eq!(m.share(), 4.0 / 64.0);
    let (cy, cx) = m.centre().unwrap();
    assert!(cy < 0.3 && cx < 0.3);
    assert_eq!(m.mean_color(&blob), [1.0, 0.0, 0.0]);
    assert!(m.mirrored().pixels[7] && !m.mirrored().pixels[0]);
    let green: Vec<f32> = (0..3 * 64)
        .map(|i| if i / 64 == 1 { 0.9 } else { 0.1 })
        .collect();
    let grey = vec![0.5; 3 * 64];
    assert_eq!(Mask::find(&green, &grey, h, w).share(), 1.0);
    // A pattern no different from the background claims nothing.
    assert_eq!(Mask::find(&grey, &grey, h, w).share(), 0.0);
}

#[test]
fn a_clusters_mask_is_where_its_probes_are_not_its_blurred_prototype() {
    let (h, w) = (8, 8);
    let background = vec![0.0; 3 * 64];
    // A decoded centroid: a faint red blur over the middle.
    let mut prototype = background.clone();
    for y in 2..6 {
        for x in 2..6 {
            prototype[y * 8 + x] = 0.6;
        }
    }
    // Its heaviest probes' mean: a bright red mark at the bottom left.
    let mut members = background.clone();
    for y in 6..8 {
        for x in 0..2 {
            members[y * 8 + x] = 1.0;
        }
    }
    let m = Mask::of_cluster(&prototype, Some(&members), &background, h, w);
    assert_eq!(m, Mask::find(&members, &background, h, w));
    let (cy, cx) = m.centre().unwrap();
    assert!(cy > 0.7 && cx < 0.3, "{cy} {cx}");
    // With no members, the prototype's.
    let m = Mask::of_cluster(&prototype, None, &background, h, w);
    assert_eq!(m.share(), 16.0 / 64.0);
}

#[test]
fn colours_swap_to_their_complement() {
    let mut p = vec![0.0f32; 3];
    p[1] = 1.0; // one green pixel
    assert_eq!(swap_colors(&p, 1), vec![1.0, 0.0, 1.0]);
}

/// [`corner_model`], counting its passes in `calls`.
fn counting(calls: &AtomicUsize) -> impl Fn(&Images) -> Result<Probabilities> + Sync + '_ {
    |imgs: &Images| {
        calls.fetch_add(1, Ordering::Relaxed);
        corner_model(imgs)
    }
}

#[test]
fn the_null_runs_once_for_every_class_with_the_same_mask() {
    let (h, w) = (8, 8);
    let calls = AtomicUsize::new(0);
    let counted = counting(&calls);
    let mut rng = Rng::seed_from_u64(5);
    let mut drawn = images(100, h, w, 0.0);
    for v in drawn.data.iter_mut() {
        *v = rng.random();
    }
    let input = CausalInput::new(
        &images(20, h, w, 0.0),
        "test images".into(),
        &counted,
        ((0..100).collect(), drawn.clone()),
        CausalSettings::default(),
        EffectCache::default(),
    )
    .unwrap();
    let proto = vec![0.7; 3 * 64];
    let mut members = images(0, h, w, 0.0);
    for _ in 0..16 {
        members.push(&proto);
    }
    let mask = Mask::find(&proto, &vec![0.0; 3 * 64], h, w);
    let mut runs = Vec::new();
    let mut tests = Vec::new();
    for class in [1, 0] {
        let before = calls.load(Ordering::Relaxed);
        tests.push(
            input
                .test(&proto, &members, &mask, class, &mut Rng::seed_from_u64(0))
                .unwrap(),
        );
        runs.push(calls.load(Ordering::Relaxed) - before);
    }
    // Class 1: the members and the 100 random probes in each of three ways (blended, as a
    // tint and as a screen), and the prototype in the way chosen. The 16 members are one
    // pattern, measured once a way; swapped, that grey is itself, so already measured. Class
    // 0 reuses the random probes' passes and measures the members' pattern for its own class.
    assert_eq!(tests[0].intervention, "whole");
    assert_eq!(runs, [3 * (1 + 100) + 1, 3 + 1]);
    // And its null is what measuring it afresh for class 0 gives.
    let fresh = CausalInput::new(
        &images(20, h, w, 0.0),
        "test images".into(),
        &corner_model,
        ((0..100).collect(), drawn),
        CausalSettings::default(),
        EffectCache::default(),
    )
    .unwrap()
    .test(&proto, &members, &mask, 0, &mut Rng::seed_from_u64(0))
    .unwrap();
    assert_eq!(
        (fresh.null_mean, fresh.null_p95, fresh.null_flips),
        (tests[1].null_mean, tests[1].null_p95, tests[1].null_flips)
    );
}

#[test]
fn a_pattern_is_measured_once_per_class_and_pasted_pixels() {
    let (h, w) = (8, 8);
    let calls = AtomicUsize::new(0);
    let counted = counting(&calls);
    let cache = EffectCache::default();
    let held = images(20, h, w, 0.0);
    let input = |cache: EffectCache| {
        CausalInput::new(
            &held,
            "test images".into(),
            &counted,
            (vec![0], images(1, h, w, 0.0)),
            CausalSettings::default(),
            cache,
        )
        .unwrap()
    };
    let first = input(cache.clone());
    // Red in the top-left quarter, pasted there.
    let mut red = vec![0.0f32; 3 * 64];
    for y in 0..4 {
        for x in 0..4 {
            red[y * 8 + x] = 1.0;
        }
    }
    let mask = Mask::find(&red, &[0.0; 3 * 64], h, w);
    let measured = first.effect(&red, &mask, Way::Paste, 1).unwrap();
    let after_first = calls.load(Ordering::Relaxed);
    // Again, and from another test on the same cache: no pass of the classifier.
    assert_eq!(first.effect(&red, &mask, Way::Paste, 1).unwrap(), measured);
    assert_eq!(
        input(cache.clone())
            .effect(&red, &mask, Way::Paste, 1)
            .unwrap(),
        measured
    );
    // One pass for the second input's untouched images, none for the pattern.
    assert_eq!(calls.load(Ordering::Relaxed), after_first + 1);
    // Pixels outside a pasted mask are not put in: the same measurement.
    let mut outside = red.clone();
    outside[63] = 1.0;
    assert_eq!(
        first.effect(&outside, &mask, Way::Paste, 1).unwrap(),
        measured
    );
    assert_eq!(calls.load(Ordering::Relaxed), after_first + 1);
    // Another class, another pixel inside the mask, or another way: measured afresh, and
    // equal to what a fresh cache measures.
    let mut inside = red.clone();
    inside[0] = 0.5;
    for (pattern, way, class) in [
        (&red, Way::Paste, 0),
        (&inside, Way::Paste, 1),
        (&red, Way::Tint, 1),
    ] {
        let before = calls.load(Ordering::Relaxed);
        let got = first.effect(pattern, &mask, way, class).unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), before + 1);
        let fresh = input(EffectCache::default())
            .effect(pattern, &mask, way, class)
            .unwrap();
        assert_eq!(got, fresh);
    }
    assert_ne!(
        first.effect(&inside, &mask, Way::Paste, 1).unwrap(),
        measured
    );
}

/// A "classifier" whose p_1 is the mean red of the top-left quarter: a corner shortcut.
fn corner_model(imgs: &Images) -> Result<Probabilities> {
    let (h, w) = (imgs.height, imgs.width);
    let mut p = Vec::new();
    for i in 0..imgs.count {
        let img = imgs.image(i);
        let mut red = 0.0;
        for y in 0..h / 2 {
            for x in 0..w / 2 {
                red += img[y * w + x];
            }
        }
        let p1 = (red / (h * w / 4) as f32).clamp(0.0, 1.0);
        p.extend([1.0 - p1, p1]);
    }
    Probabilities::new(2, p)
}

#[test]
fn a_corner_shortcut_passes_and_its_controls_do_not() {
    let (h, w) = (8, 8);
    let held = images(20, h, w, 0.0);
    // Random probes: grey levels on the right half.
    let mut rng = Rng::seed_from_u64(3);
    let mut drawn = images(100, h, w, 0.0);
    for k in 0..100 {
        let v: f32 = rng.random();
        for c in 0..3 {
            for y in 0..h {
                for x in w / 2..w {
                    drawn.data[k * 3 * 64 + c * 64 + y * w + x] = v;
                }
            }
        }
    }
    let input = CausalInput::new(
        &held,
        "test images".into(),
        &corner_model,
        ((0..100).collect(), drawn),
        CausalSettings::default(),
        EffectCache::default(),
    )
    .unwrap();
    let background = vec![0.0; 3 * 64];
    // The cluster's probes: red in the top-left quarter.
    let mut proto = background.clone();
    for y in 0..4 {
        for x in 0..4 {
            proto[y * 8 + x] = 1.0;
        }
    }
    let mut members = images(0, h, w, 0.0);
    for _ in 0..16 {
        members.push(&proto);
    }
    let mask = Mask::find(&proto, &background, h, w);
    let t = input
        .test(&proto, &members, &mask, 1, &mut Rng::seed_from_u64(0))
        .unwrap();
    assert_eq!((t.intervention.as_str(), t.members), ("paste", 16));
    assert!(
        t.passes && t.effect > 0.9 && t.prototype_effect > 0.9,
        "{t:?}"
    );
    assert!(t.mirrored.unwrap() <= t.null_p95 + 1e-9, "{t:?}");
    // Swapped, red becomes cyan: no red left.
    assert!(t.color_swapped <= t.null_p95 + 1e-9, "{t:?}");
    // The same probes tested for the other class do not pass.
    let t0 = input
        .test(&proto, &members, &mask, 0, &mut Rng::seed_from_u64(0))
        .unwrap();
    assert!(!t0.passes, "{t0:?}");
    // Nor do random probes taken for a cluster's.
    let random = input.null_patterns.slice(0, 16);
    let tr = input
        .test(&proto, &random, &mask, 1, &mut Rng::seed_from_u64(0))
        .unwrap();
    assert!(!tr.passes, "{tr:?}");
}

/// A "classifier" of stroke colour: p_1 is the mean redness `r - (g + b) / 2` of the bright
/// pixels (some channel above 0.5).
fn red_stroke_model(imgs: &Images) -> Result<Probabilities> {
    let hw = imgs.height * imgs.width;
    let mut p = Vec::new();
    for i in 0..imgs.count {
        let img = imgs.image(i);
        let (mut red, mut bright) = (0.0f32, 0usize);
        for q in 0..hw {
            let (r, g, b) = (img[q], img[hw + q], img[2 * hw + q]);
            if r.max(g).max(b) > 0.5 {
                red += r - (g + b) / 2.0;
                bright += 1;
            }
        }
        let p1 = (red / bright.max(1) as f32).clamp(0.0, 1.0);
        p.extend([1.0 - p1, p1]);
    }
    Probabilities::new(2, p)
}

#[test]
fn a_whole_image_pattern_counts_by_the_way_that_moves_the_class_most() {
    let (h, w) = (4, 4);
    // White strokes (the top half) on black.
    let mut held = images(10, h, w, 0.0);
    for img in held.data.chunks_exact_mut(3 * h * w) {
        for c in 0..3 {
            img[c * 16..c * 16 + 8].fill(1.0);
        }
    }
    let input = CausalInput::new(
        &held,
        "strokes".into(),
        &red_stroke_model,
        (vec![0], images(1, h, w, 0.5)),
        CausalSettings::default(),
        EffectCache::default(),
    )
    .unwrap();
    let red: Vec<f32> = (0..3 * 16)
        .map(|i| if i < 16 { 1.0 } else { 0.0 })
        .collect();
    let mask = Mask::find(&red, &[0.0; 48], h, w);
    let how = input.settings.intervention(&mask);
    assert_eq!(how, Intervention::Whole(0.5));
    assert_eq!(how.ways(), [Way::Blend(0.5), Way::Tint, Way::Screen]);
    let mean = |how| {
        let (d, _) = input.changes(&red, &mask, how, 1).unwrap();
        d.iter().sum::<f64>() / d.len() as f64
    };
    // A half blend makes the strokes pink (redness 0.5), a screen leaves them white and
    // turns the background red (0.5), a tint makes the strokes red (1.0).
    let (blend, tint, screen) = (mean(Way::Blend(0.5)), mean(Way::Tint), mean(Way::Screen));
    assert!(
        (blend - 0.5).abs() < 1e-6 && (screen - 0.5).abs() < 1e-6,
        "{blend} {screen}"
    );
    assert!((tint - 1.0).abs() < 1e-6, "{tint}");
    // The test puts the cluster's probes, the null's and the prototype in the way where the
    // cluster beats the null most: the null's grey probe does nothing in any way, so the
    // tint.
    let mut members = images(0, h, w, 0.0);
    for _ in 0..16 {
        members.push(&red);
    }
    let t = input
        .test(&red, &members, &mask, 1, &mut Rng::seed_from_u64(1))
        .unwrap();
    assert_eq!(
        (t.intervention.as_str(), t.way.as_deref()),
        ("whole", Some("tint"))
    );
    assert_eq!(
        (t.effect, t.prototype_effect, t.null_mean),
        (tint, tint, 0.0)
    );
}

#[test]
fn medians_ignore_rare_values() {
    let mut imgs = images(5, 1, 1, 0.0);
    imgs.data[0] = 1.0;
    assert_eq!(median_image(&imgs), vec![0.0; 3]);
}
