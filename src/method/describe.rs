//! Prototypes in words, so the report can say what drives a class ("class 1: mostly blue
//! probes") and a program can check it: the dominant colour name of a cluster's probes and its
//! share, and, for structured probes (patches, gratings), where the heaviest probes' energy sits
//! and which way the prototype's stripes run.

use crate::data::Images;
use crate::error::Result;

/// A cluster in words: what colour its probes mostly are, and where their structure sits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterDescription {
    /// Most common colour name among the cluster's probes, weighted by `p^e`.
    pub color: String,
    /// That colour's share of the weight.
    pub color_share: f64,
    /// Colour name of the prototype's mean colour.
    pub prototype_color: String,
    /// The prototype's strongest channel.
    pub prototype_channel: Channel,
    /// Where the mean of the cluster's heaviest probes (the prototype, for a cluster without
    /// any) departs most from its median colour (None when uniform). A decoded centroid can
    /// blur a small mark towards the centre; the probes show where it is.
    pub position: Option<Position>,
    /// Stripe angle in degrees from horizontal, when the prototype has clear stripes.
    pub stripes_deg: Option<f64>,
    /// For probes of several kinds (the `mixed` family): the kind most of the weight comes
    /// from ("frame", "glyph", ...) and its share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_share: Option<f64>,
    /// One line for people: "mostly blue probes (91% of the weight)".
    pub text: String,
}

/// A colour channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Red,
    Green,
    Blue,
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Channel::Red => "red",
            Channel::Green => "green",
            Channel::Blue => "blue",
        })
    }
}

/// A ninth of an image: where a cluster's structure or mask sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    TopLeft,
    Top,
    TopRight,
    Left,
    Centre,
    Right,
    BottomLeft,
    Bottom,
    BottomRight,
}

impl Position {
    /// The ninth holding the point `(y, x)`, each in `[0, 1]` from the top-left corner.
    pub fn of(y: f32, x: f32) -> Self {
        let third = |t: f32| ((t * 3.0) as usize).min(2);
        use Position::*;
        [
            [TopLeft, Top, TopRight],
            [Left, Centre, Right],
            [BottomLeft, Bottom, BottomRight],
        ][third(y)][third(x)]
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Position::*;
        f.write_str(match self {
            TopLeft => "top-left",
            Top => "top",
            TopRight => "top-right",
            Left => "left",
            Centre => "centre",
            Right => "right",
            BottomLeft => "bottom-left",
            Bottom => "bottom",
            BottomRight => "bottom-right",
        })
    }
}

/// Colour names, in the order hue ranges are tested.
pub const COLOR_NAMES: [&str; 11] = [
    "black", "white", "grey", "red", "orange", "yellow", "green", "cyan", "blue", "purple",
    "magenta",
];

/// A plain colour name for an RGB value in `[0, 1]` (HSV thresholds).
pub fn color_name(rgb: [f32; 3]) -> &'static str {
    let [r, g, b] = rgb.map(|v| v.clamp(0.0, 1.0));
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    if max < 0.2 {
        return "black";
    }
    let s = (max - min) / max;
    if s < 0.2 {
        return if max > 0.8 { "white" } else { "grey" };
    }
    let d = max - min;
    let h = if max == r {
        60.0 * (((g - b) / d).rem_euclid(6.0))
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    match h {
        h if !(15.0..345.0).contains(&h) => "red",
        h if h < 45.0 => "orange",
        h if h < 70.0 => "yellow",
        h if h < 160.0 => "green",
        h if h < 195.0 => "cyan",
        h if h < 260.0 => "blue",
        h if h < 290.0 => "purple",
        _ => "magenta",
    }
}

/// Hue in degrees (0-360) and saturation (0-1) of an RGB value.
pub fn hue_saturation(rgb: [f32; 3]) -> (f32, f32) {
    let [r, g, b] = rgb.map(|v| v.clamp(0.0, 1.0));
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    if max <= 0.0 || d <= 0.0 {
        return (0.0, 0.0);
    }
    let h = if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    (h, d / max)
}

/// Whether `found` is the planted colour `truth` within `tolerance` degrees of hue (both
/// saturated enough to have a hue).
pub fn same_color(found: [f32; 3], truth: [f32; 3], tolerance: f32) -> bool {
    let (hf, sf) = hue_saturation(found);
    let (ht, st) = hue_saturation(truth);
    let d = (hf - ht).abs();
    sf >= 0.2 && st >= 0.2 && d.min(360.0 - d) <= tolerance
}

/// Whether two stripe angles (degrees; a line at `a` is the line at `a + 180`) are within
/// `tolerance` degrees of each other.
pub fn same_angle(a: f64, b: f64, tolerance: f64) -> bool {
    let d = (a - b).rem_euclid(180.0);
    d.min(180.0 - d) <= tolerance
}

/// The strongest of an RGB value's channels.
pub fn dominant_channel(rgb: [f32; 3]) -> Channel {
    let mut best = 0;
    for c in 1..3 {
        if rgb[c] > rgb[best] {
            best = c;
        }
    }
    [Channel::Red, Channel::Green, Channel::Blue][best]
}

/// Mean RGB of image `i` (3-channel images).
pub fn mean_rgb(images: &Images, i: usize) -> [f32; 3] {
    let hw = images.height * images.width;
    let img = images.image(i);
    let mut m = [0.0f32; 3];
    for (c, v) in m.iter_mut().enumerate() {
        *v = img[c * hw..(c + 1) * hw].iter().sum::<f32>() / hw as f32;
    }
    m
}

/// The most common colour name among weighted images, and its share of the weight.
pub fn dominant_color(images: &Images, weights: &[f32]) -> (String, f64) {
    let mut totals = [0.0f64; COLOR_NAMES.len()];
    for i in 0..images.count {
        let name = color_name(mean_rgb(images, i));
        let k = COLOR_NAMES.iter().position(|n| *n == name).unwrap_or(0);
        totals[k] += weights.get(i).copied().unwrap_or(1.0) as f64;
    }
    let sum: f64 = totals.iter().sum();
    let (k, best) = totals
        .iter()
        .enumerate()
        .fold((0, 0.0), |b, (k, &t)| if t > b.1 { (k, t) } else { b });
    (
        COLOR_NAMES[k].to_string(),
        if sum > 0.0 { best / sum } else { 0.0 },
    )
}

/// Where a prototype differs most from its own median colour. None when the image is nearly
/// uniform.
pub fn energy_position(images: &Images, i: usize) -> Option<Position> {
    let (h, w) = (images.height, images.width);
    let hw = h * w;
    let img = images.image(i);
    let median = |c: usize| {
        let mut v = img[c * hw..(c + 1) * hw].to_vec();
        v.sort_by(f32::total_cmp);
        v[hw / 2]
    };
    let med = [median(0), median(1), median(2)];
    let mut energy = vec![0.0f32; hw];
    for (p, e) in energy.iter_mut().enumerate() {
        *e = (0..3).map(|c| (img[c * hw + p] - med[c]).powi(2)).sum();
    }
    let total: f32 = energy.iter().sum();
    let peak = energy.iter().copied().fold(0.0, f32::max);
    if total <= 0.0 || peak < 0.01 {
        return None;
    }
    let (mut cy, mut cx) = (0.0f32, 0.0f32);
    for (p, &e) in energy.iter().enumerate() {
        cy += e * ((p / w) as f32 + 0.5) / h as f32;
        cx += e * ((p % w) as f32 + 0.5) / w as f32;
    }
    Some(Position::of(cy / total, cx / total))
}

/// Orientation of stripes in an image, from the structure tensor of its luminance:
/// `(angle of the stripes in degrees from horizontal, 0-180, coherence 0-1)`.
pub fn stripe_orientation(images: &Images, i: usize) -> Option<(f64, f64)> {
    orientation(structure_tensor(images, i)?)
}

/// Orientation of the stripes that a set of probes share: each image's structure tensor,
/// normalised to unit trace (so every probe counts by its weight, not its contrast), summed
/// with `weights`. Stripes at random phases cancel in a mean image; their orientations do
/// not cancel here. None when no image has structure.
pub fn shared_stripe_orientation(images: &Images, weights: &[f32]) -> Option<(f64, f64)> {
    let mut sum = [0.0f64; 3];
    for (i, &wi) in weights.iter().enumerate().take(images.count) {
        if let Some(t) = structure_tensor(images, i) {
            let trace = t[0] + t[1];
            for (s, v) in sum.iter_mut().zip(t) {
                *s += wi as f64 * v / trace;
            }
        }
    }
    orientation(sum)
}

/// `(angle of the stripes, coherence)` of a structure tensor `[jxx, jyy, jxy]`.
fn orientation([jxx, jyy, jxy]: [f64; 3]) -> Option<(f64, f64)> {
    let trace = jxx + jyy;
    if trace < 1e-6 {
        return None;
    }
    let coherence = ((jxx - jyy).powi(2) + 4.0 * jxy * jxy).sqrt() / trace;
    // Dominant gradient direction; stripes run perpendicular to it. Image y points down, so
    // flip it to report angles counter-clockwise from horizontal.
    let gradient = 0.5 * (2.0 * -jxy).atan2(jxx - jyy);
    let stripes = (gradient.to_degrees() + 90.0).rem_euclid(180.0);
    Some((stripes, coherence))
}

/// The structure tensor `[jxx, jyy, jxy]` of image `i`'s luminance (central differences),
/// None when it is flat.
fn structure_tensor(images: &Images, i: usize) -> Option<[f64; 3]> {
    let (h, w) = (images.height, images.width);
    if h < 3 || w < 3 {
        return None;
    }
    let hw = h * w;
    let img = images.image(i);
    // Each pixel's luminance once: a description takes up to 400 probes' tensors.
    let lum: Vec<f64> = (0..hw)
        .map(|p| (0..3).map(|c| img[c * hw + p] as f64).sum::<f64>() / 3.0)
        .collect();
    let (mut jxx, mut jyy, mut jxy) = (0.0, 0.0, 0.0);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let p = y * w + x;
            let gx = (lum[p + 1] - lum[p - 1]) / 2.0;
            let gy = (lum[p + w] - lum[p - w]) / 2.0;
            jxx += gx * gx;
            jyy += gy * gy;
            jxy += gx * gy;
        }
    }
    (jxx + jyy >= 1e-6).then_some([jxx, jyy, jxy])
}

/// Most probes a description looks at per cluster (the heaviest ones).
const DESCRIBED_PROBES: usize = 400;

/// Describes cluster `j`: the colours of its heaviest members (`members`, probe ids with
/// `weights` indexed by probe id, images from `probe_images`), where the mean of its heaviest
/// probes has structure (`heaviest`, one image; the prototype when None) and which way the
/// stripes its heaviest members share run (the prototype's, image `j` of `prototypes`, for a
/// cluster without members).
pub fn describe_cluster(
    mut members: Vec<usize>,
    weights: &[f32],
    probe_images: &dyn Fn(&[usize]) -> Result<Images>,
    probe_part: &dyn Fn(usize) -> Option<&'static str>,
    prototypes: &Images,
    j: usize,
    heaviest: Option<&Images>,
) -> Result<ClusterDescription> {
    members.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
    members.truncate(DESCRIBED_PROBES);
    let images = probe_images(&members)?;
    let w: Vec<f32> = members.iter().map(|&i| weights[i]).collect();
    let (color, color_share) = dominant_color(&images, &w);
    let part = dominant_part(&members, &w, probe_part);
    let mean = mean_rgb(prototypes, j);
    let position = match heaviest {
        Some(h) => energy_position(h, 0),
        None => energy_position(prototypes, j),
    };
    // From the probes themselves: a decoded centroid blurs fine stripes away.
    let stripes = if members.is_empty() {
        stripe_orientation(prototypes, j)
    } else {
        shared_stripe_orientation(&images, &w)
    };
    let stripes_deg = stripes
        .filter(|&(_, coherence)| coherence > 0.5)
        .map(|(angle, _)| angle.round());
    let mut text = match part {
        _ if members.is_empty() => "no probes".to_string(),
        Some((part, share)) => format!(
            "mostly {part} probes ({:.0}% of the weight), mostly {color} ({:.0}%)",
            100.0 * share,
            100.0 * color_share
        ),
        None => format!(
            "mostly {color} probes ({:.0}% of the weight)",
            100.0 * color_share
        ),
    };
    if let Some(p) = &position {
        text.push_str(&format!("; structure at {p}"));
    }
    if let Some(a) = stripes_deg {
        text.push_str(&format!("; stripes at {a:.0}°"));
    }
    Ok(ClusterDescription {
        color,
        color_share,
        prototype_color: color_name(mean).to_string(),
        prototype_channel: dominant_channel(mean),
        position,
        stripes_deg,
        part: part.map(|(p, _)| p.to_string()),
        part_share: part.map(|(_, s)| s),
        text,
    })
}

/// The kind of probe (see [`ClusterDescription::part`]) most of `w` sits on, and its share;
/// None when the probes' kinds are not known.
fn dominant_part(
    members: &[usize],
    w: &[f32],
    probe_part: &dyn Fn(usize) -> Option<&'static str>,
) -> Option<(&'static str, f64)> {
    let mut by_part: Vec<(&'static str, f64)> = Vec::new();
    for (&i, &wi) in members.iter().zip(w) {
        let part = probe_part(i)?;
        match by_part.iter_mut().find(|(p, _)| *p == part) {
            Some((_, total)) => *total += wi as f64,
            None => by_part.push((part, wi as f64)),
        }
    }
    let total: f64 = by_part.iter().map(|(_, t)| t).sum();
    by_part
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, t)| (p, if total > 0.0 { t / total } else { 0.0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_get_plain_names() {
        assert_eq!(color_name([0.1, 0.9, 0.2]), "green");
        assert_eq!(color_name([0.1, 0.2, 0.9]), "blue");
        assert_eq!(color_name([0.9, 0.1, 0.1]), "red");
        assert_eq!(color_name([0.9, 0.9, 0.1]), "yellow");
        assert_eq!(color_name([0.5, 0.5, 0.52]), "grey");
        assert_eq!(color_name([0.05, 0.1, 0.05]), "black");
        assert_eq!(color_name([0.95, 0.95, 0.95]), "white");
        assert_eq!(color_name([0.1, 0.8, 0.8]), "cyan");
        assert_eq!(color_name([0.9, 0.1, 0.8]), "magenta");
    }

    fn solid(colors: &[[f32; 3]]) -> Images {
        let mut imgs = Images::empty(3, 2, 2);
        for c in colors {
            let v: Vec<f32> = c.iter().flat_map(|&x| [x; 4]).collect();
            imgs.push(&v);
        }
        imgs
    }

    #[test]
    fn purple_is_blue_dominant() {
        assert_eq!(dominant_channel([0.5, 0.1, 0.9]), Channel::Blue);
        assert_eq!(dominant_channel([0.2, 0.8, 0.3]), Channel::Green);
    }

    #[test]
    fn dominant_colour_is_weighted() {
        let imgs = solid(&[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]);
        let (name, share) = dominant_color(&imgs, &[0.8, 0.1, 0.1]);
        assert_eq!(name, "green");
        assert!((share - 0.8).abs() < 1e-6);
    }

    #[test]
    fn patch_energy_is_located() {
        let mut img = vec![0.5f32; 3 * 64];
        for c in 0..3 {
            for y in 0..2 {
                for x in 6..8 {
                    img[c * 64 + y * 8 + x] = if c == 2 { 1.0 } else { 0.0 };
                }
            }
        }
        let mut imgs = Images::empty(3, 8, 8);
        imgs.push(&img);
        assert_eq!(energy_position(&imgs, 0), Some(Position::TopRight));
        assert_eq!(Position::TopRight.to_string(), "top-right");
        assert_eq!(
            serde_json::to_string(&Position::BottomLeft).unwrap(),
            "\"bottom-left\""
        );
        assert_eq!(energy_position(&solid(&[[0.3, 0.3, 0.3]]), 0), None);
    }

    #[test]
    fn a_cluster_is_placed_where_its_heaviest_probes_are() {
        // A blurred prototype: grey with a faint bright middle. Its probes: a red mark at the
        // bottom left.
        let mut blur = vec![0.3f32; 3 * 64];
        for c in 0..3 {
            for p in [27, 28, 35, 36] {
                blur[c * 64 + p] = 0.5;
            }
        }
        let mut prototypes = Images::empty(3, 8, 8);
        prototypes.push(&blur);
        let mut mark = vec![0.0f32; 3 * 64];
        for p in [48, 49, 56, 57] {
            mark[p] = 1.0;
        }
        let mut heaviest = Images::empty(3, 8, 8);
        heaviest.push(&mark);
        let mut probes = heaviest.clone();
        probes.push(&mark);
        let get = |ids: &[usize]| Ok(probes.select(ids));
        let describe = |heaviest| {
            describe_cluster(
                vec![0, 1],
                &[1.0, 1.0],
                &get,
                &|_| None,
                &prototypes,
                0,
                heaviest,
            )
            .unwrap()
        };
        let d = describe(Some(&heaviest));
        assert_eq!(d.position, Some(Position::BottomLeft));
        assert!(d.text.ends_with("structure at bottom-left"), "{}", d.text);
        assert_eq!(d.part, None);
        assert_eq!(describe(None).position, Some(Position::Centre));
    }

    #[test]
    fn the_kind_of_probe_that_carries_the_weight_is_named() {
        let probes = solid(&[[0.9, 0.1, 0.1], [0.9, 0.1, 0.1], [0.1, 0.1, 0.9]]);
        let get = |ids: &[usize]| Ok(probes.select(ids));
        let part = |i: usize| Some(["frame", "frame", "glyph"][i]);
        // The glyph probe alone outweighs the two frames.
        let d = describe_cluster(
            vec![0, 1, 2],
            &[0.1, 0.2, 0.7],
            &get,
            &part,
            &probes,
            0,
            None,
        )
        .unwrap();
        assert_eq!(d.part.as_deref(), Some("glyph"));
        assert!((d.part_share.unwrap() - 0.7).abs() < 1e-6);
        assert!(
            d.text
                .starts_with("mostly glyph probes (70% of the weight), mostly blue"),
            "{}",
            d.text
        );
        let d = describe_cluster(
            vec![0, 1, 2],
            &[0.4, 0.4, 0.2],
            &get,
            &part,
            &probes,
            0,
            None,
        )
        .unwrap();
        assert_eq!(d.part.as_deref(), Some("frame"));
        assert!(
            d.text
                .starts_with("mostly frame probes (80% of the weight), mostly red"),
            "{}",
            d.text
        );
    }

    #[test]
    fn stripe_orientation_is_measured() {
        // Vertical stripes: luminance varies along x only.
        let (h, w) = (16, 16);
        let mut img = vec![0.0f32; 3 * h * w];
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    img[c * h * w + y * w + x] = if (x / 2) % 2 == 0 { 1.0 } else { 0.0 };
                }
            }
        }
        let mut imgs = Images::empty(3, h, w);
        imgs.push(&img);
        let (angle, coherence) = stripe_orientation(&imgs, 0).unwrap();
        assert!((angle - 90.0).abs() < 1.0, "{angle}");
        assert!(coherence > 0.9);
    }

    /// Stripes at `deg` (counter-clockwise from horizontal), period 4 px, shifted by `phase`.
    fn stripes(deg: f32, phase: f32) -> Vec<f32> {
        let (h, w) = (16, 16);
        let a = deg.to_radians();
        let (nx, ny) = (-a.sin(), -a.cos());
        let mut img = vec![0.0f32; 3 * h * w];
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let u = x as f32 * nx + y as f32 * ny;
                    let on = (std::f32::consts::PI * u / 2.0 + phase).sin() > 0.0;
                    img[c * h * w + y * w + x] = if on { 1.0 } else { 0.0 };
                }
            }
        }
        img
    }

    #[test]
    fn probes_share_stripes_that_their_mean_blurs_away() {
        let mut probes = Images::empty(3, 16, 16);
        for phase in [0.0, std::f32::consts::PI] {
            probes.push(&stripes(45.0, phase));
        }
        // Opposite phases: the mean is flat grey, the orientation is still shared.
        let mut mean = Images::empty(3, 16, 16);
        mean.push(&probes.mean());
        assert!(stripe_orientation(&mean, 0).is_none_or(|(_, c)| c < 0.5));
        let (angle, coherence) = shared_stripe_orientation(&probes, &[1.0, 1.0]).unwrap();
        assert!((angle - 45.0).abs() < 3.0, "{angle}");
        assert!(coherence > 0.9, "{coherence}");
        // Stripes across each other share none, unless one outweighs the other.
        let mut crossed = Images::empty(3, 16, 16);
        crossed.push(&stripes(0.0, 0.0));
        crossed.push(&stripes(90.0, 0.0));
        let (_, coherence) = shared_stripe_orientation(&crossed, &[1.0, 1.0]).unwrap();
        assert!(coherence < 0.1, "{coherence}");
        let (angle, _) = shared_stripe_orientation(&crossed, &[1.0, 0.1]).unwrap();
        assert!(same_angle(angle, 0.0, 3.0), "{angle}");
        // Flat probes have no stripes at all.
        assert_eq!(shared_stripe_orientation(&mean, &[1.0]), None);
    }
}
