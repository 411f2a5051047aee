//! Probe families: shapes, ranges, parts, and probe folders.

use super::*;

fn spec() -> ProbeSpec {
    ProbeSpec {
        family: ProbeFamily::Solid,
        count: 500,
        height: 4,
        width: 4,
        seed: 9,
    }
}

#[test]
fn solid_probes_are_uniform_images_covering_the_colour_cube() {
    let set = spec().generate();
    assert_eq!((set.count, set.channels), (500, 3));
    let mut mean = [0.0f32; 3];
    for i in 0..set.count {
        let img = set.image(i);
        for c in 0..3 {
            let plane = &img[c * 16..(c + 1) * 16];
            assert!(plane.iter().all(|&v| v == plane[0]));
            assert!((0.0..=1.0).contains(&plane[0]));
            mean[c] += plane[0] / set.count as f32;
        }
    }
    for m in mean {
        assert!((m - 0.5).abs() < 0.05, "channel mean {m}");
    }
}

#[test]
fn batches_match_the_whole_set() {
    let s = spec();
    let whole = s.generate();
    assert_eq!(s.batch(100, 200), whole.slice(100, 200));
    assert_ne!(s.probe(0), s.probe(1));
}

fn family(f: ProbeFamily) -> ProbeSpec {
    ProbeSpec {
        family: f,
        count: 50,
        height: 20,
        width: 20,
        seed: 1,
    }
}

#[test]
fn every_family_stays_in_range_and_varies() {
    for f in ProbeFamily::ALL {
        let s = family(f);
        let a = s.probe(0);
        assert_eq!(a.len(), 3 * 400);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)), "{f:?}");
        assert_ne!(a, s.probe(1), "{f:?}");
    }
}

/// The lit pixels (any channel above 0) of a 20 x 20 probe, as (row, column).
fn lit(img: &[f32]) -> Vec<(usize, usize)> {
    (0..400)
        .filter(|&p| (0..3).any(|c| img[c * 400 + p] > 0.0))
        .map(|p| (p / 20, p % 20))
        .collect()
}

/// The lit pixels' bounding box `(y0, y1, x0, x1)`, inclusive (None when none is lit),
/// checked to be filled: the pixels are a rectangle.
fn rectangle(lit: &[(usize, usize)], what: &str) -> Option<(usize, usize, usize, usize)> {
    let y0 = lit.iter().map(|p| p.0).min()?;
    let y1 = lit.iter().map(|p| p.0).max()?;
    let x0 = lit.iter().map(|p| p.1).min()?;
    let x1 = lit.iter().map(|p| p.1).max()?;
    assert_eq!(
        lit.len(),
        (y1 - y0 + 1) * (x1 - x0 + 1),
        "{what} is not a rectangle"
    );
    Some((y0, y1, x0, x1))
}

#[test]
fn a_patch_is_a_square_on_black_that_only_the_border_cuts() {
    let spec = family(ProbeFamily::Patch);
    let mut in_a_corner = 0;
    for i in 0..200 {
        let Some((y0, y1, x0, x1)) = rectangle(&lit(&spec.probe(i)), &format!("probe {i}")) else {
            continue; // a black patch
        };
        let (h, w) = (y1 - y0 + 1, x1 - x0 + 1);
        assert!(h <= 7 && w <= 7, "probe {i}: {h} x {w}");
        // Uncut, it is a square of side 15-35% of 20 pixels.
        if y0 > 0 && y1 < 19 {
            assert!((3..=7).contains(&h), "probe {i}: height {h}");
        }
        if y0 > 0 && y1 < 19 && x0 > 0 && x1 < 19 {
            assert_eq!(h, w, "probe {i}");
        }
        in_a_corner += usize::from((y0 == 0 || y1 == 19) && (x0 == 0 || x1 == 19));
    }
    // A mark in a corner has probes that fit it: the centre is anywhere in the image.
    assert!(
        in_a_corner >= 10,
        "{in_a_corner} of 200 patches in a corner"
    );
}

#[test]
fn gratings_alternate_along_a_line() {
    let img = family(ProbeFamily::Gratings).probe(5);
    let (lo, hi) = img[..400]
        .iter()
        .fold((1.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(hi - lo > 0.0, "flat grating");
}

#[test]
fn gratings_reach_a_period_of_a_few_pixels_at_any_size() {
    assert_eq!(max_cycles(28, 28), 8.0);
    assert_eq!(max_cycles(224, 224), 64.0);
    assert_eq!(max_cycles(48, 192), 48.0 / FINEST_PERIOD);
    // The finest period along a 224-pixel image's middle row, over 40 probes: the pixels
    // between two crossings of the row's mean luminance, twice.
    let spec = ProbeSpec::new(ProbeFamily::Gratings, 40, [224, 224], 3);
    let hw = 224 * 224;
    let finest = (0..40)
        .filter_map(|i| {
            let img = spec.probe(i);
            let row: Vec<f32> = (0..224)
                .map(|x| (0..3).map(|c| img[c * hw + 112 * 224 + x]).sum())
                .collect();
            let mean = row.iter().sum::<f32>() / 224.0;
            let crossings = row
                .windows(2)
                .filter(|p| (p[0] > mean) != (p[1] > mean))
                .count();
            (crossings > 0).then(|| 2.0 * 224.0 / crossings as f32)
        })
        .fold(f32::MAX, f32::min);
    assert!(finest < 10.0, "finest period {finest} px");
}

#[test]
fn half_the_gratings_are_stripes_on_black() {
    let spec = family(ProbeFamily::Gratings);
    let on_black = (0..200)
        .filter(|&i| {
            let img = spec.probe(i);
            // The darkest pixel, by its brightest channel.
            let darkest = (0..400)
                .map(|p| (0..3).map(|c| img[c * 400 + p]).fold(0.0, f32::max))
                .fold(1.0, f32::min);
            darkest < 0.05
        })
        .count();
    assert!((70..=130).contains(&on_black), "{on_black} of 200 on black");
}

#[test]
fn noise_is_smooth() {
    let img = family(ProbeFamily::Noise).probe(2);
    // Neighbouring pixels differ far less than the range.
    let max_step = (0..19)
        .map(|x| (img[x + 1] - img[x]).abs())
        .fold(0.0, f32::max);
    assert!(max_step < 0.2, "step {max_step}");
}

#[test]
fn a_frame_is_a_ring_along_the_border() {
    let spec = family(ProbeFamily::Frame);
    let mut widths = std::collections::BTreeSet::new();
    for i in 0..50 {
        let lit = lit(&spec.probe(i));
        // A ring of width 1 or 2 (a tenth of 20 pixels at most): 76 or 144 pixels.
        let width = match lit.len() {
            76 => 1,
            144 => 2,
            n => panic!("probe {i}: {n} pixels lit"),
        };
        let from_border = |(y, x): (usize, usize)| y.min(x).min(19 - y).min(19 - x);
        assert!(lit.iter().all(|&p| from_border(p) < width), "probe {i}");
        widths.insert(width);
    }
    assert_eq!(widths.len(), 2, "{widths:?}");
}

#[test]
fn a_glyph_is_a_thin_bar_or_a_dot_anywhere() {
    let spec = family(ProbeFamily::Glyph);
    let (mut bars, mut dots, mut rows) = (0, 0, std::collections::BTreeSet::new());
    for i in 0..300 {
        let Some((y0, y1, x0, x1)) = rectangle(&lit(&spec.probe(i)), &format!("probe {i}")) else {
            continue; // a black glyph
        };
        let (h, w) = (y1 - y0 + 1, x1 - x0 + 1);
        let (thin, long) = (h.min(w), h.max(w));
        if thin == long && thin <= 3 {
            dots += 1;
        } else {
            // 10-40% of 20 pixels long, 1-2 thick.
            assert!(thin <= 2 && (2..=8).contains(&long), "probe {i}: {h} x {w}");
            bars += 1;
        }
        rows.insert(y0);
    }
    assert!(bars > 150 && dots > 60, "{bars} bars, {dots} dots");
    // Anywhere: from the first row to the last ones.
    assert!(
        rows.first() == Some(&0) && rows.last() >= Some(&17),
        "{rows:?}"
    );
}

#[test]
fn a_mixed_probe_is_a_probe_of_the_part_it_records() {
    let spec = family(ProbeFamily::Mixed);
    let mut counts = [0usize; MIXED_PARTS.len()];
    for i in 0..600 {
        let part = spec.part(i);
        counts[MIXED_PARTS.iter().position(|&p| p == part).unwrap()] += 1;
        let img = spec.probe(i);
        assert_eq!(img, spec.probe(i));
        match part {
            ProbeFamily::Solid => {
                assert!((0..3).all(|c| {
                    img[c * 400..(c + 1) * 400]
                        .iter()
                        .all(|&v| v == img[c * 400])
                }));
            }
            ProbeFamily::Frame | ProbeFamily::Glyph | ProbeFamily::Patch => {
                // On black: most of the image is off.
                assert!(lit(&img).len() < 200, "probe {i}, {part:?}");
            }
            _ => assert!(lit(&img).len() > 300, "probe {i}, {part:?}"),
        }
        assert_eq!(spec.part_name(i), format!("mixed:{}", part.name()));
    }
    // Each of the six parts about a sixth of the time.
    assert!(
        counts.iter().all(|&n| (70..=130).contains(&n)),
        "{counts:?}"
    );
    assert_eq!(family(ProbeFamily::Glyph).part(3), ProbeFamily::Glyph);
    assert_eq!(family(ProbeFamily::Glyph).part_name(3), "glyph");
}

#[test]
fn only_a_generated_mixed_set_records_its_parts() {
    let mixed = ProbeSource::Generated(family(ProbeFamily::Mixed));
    let spec = family(ProbeFamily::Mixed);
    assert_eq!(mixed.mixed_part(7), Some(spec.part(7)));
    assert_eq!(
        ProbeSource::Generated(family(ProbeFamily::Solid)).mixed_part(7),
        None
    );
}

#[test]
fn empty_probe_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = ProbeSource::folder(dir.path(), 4, 4, None, &mut seed::rng(0, Stream::Test, &[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty probe folder"), "{e}");
}

#[test]
fn manifests_that_point_outside_or_repeat_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_manifest(dir.path()).unwrap(), None);
    std::fs::write(dir.path().join("a.png"), b"").unwrap();
    for (text, expect) in [
        (
            "id,file,family,seed\n0,../x.png,solid,1\n",
            "not a plain name",
        ),
        (
            "id,file,family,seed\n0,/etc/passwd,solid,1\n",
            "not a plain name",
        ),
        (
            "id,file,family,seed\n0,a.png,solid,1\n0,a.png,solid,1\n",
            "appears twice",
        ),
        ("id,file\n0,a.png\n", "header"),
        (
            "id,file,family,seed\n0,a.png,solid,x\n",
            "not a whole number",
        ),
        ("id,file,family,seed\n", "no probes"),
    ] {
        std::fs::write(dir.path().join(MANIFEST), text).unwrap();
        let e = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(e.contains(expect) && e.contains(MANIFEST), "{text:?}: {e}");
    }
    std::fs::write(
        dir.path().join(MANIFEST),
        "id,file,family,seed\n0,a.png,solid,1\n1,b.png,solid,1\n",
    )
    .unwrap();
    assert_eq!(read_manifest(dir.path()).unwrap().unwrap().len(), 2);
    let e = ProbeSource::folder(dir.path(), 4, 4, None, &mut Rng::seed_from_u64(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("b.png") && e.contains("not a file"), "{e}");
}
