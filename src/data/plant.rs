//! Planting a known shortcut, as the paper did: every digit's strokes are coloured by its class
//! (0 green, 1 blue), so a classifier can learn colour instead of shape. The monochrome twin of
//! the same digits (white strokes) shows whether it did. `spurion train` can also plant a small
//! class-coloured square in a class-specific corner (a position shortcut).

use crate::data::Images;
use crate::error::{Error, Result};

/// Named colours accepted by `--colors`, in the order used for classes beyond the paper's two.
pub const PALETTE: &[(&str, [f32; 3])] = &[
    ("green", [0.0, 1.0, 0.0]),
    ("blue", [0.0, 0.0, 1.0]),
    ("red", [1.0, 0.0, 0.0]),
    ("yellow", [1.0, 1.0, 0.0]),
    ("magenta", [1.0, 0.0, 1.0]),
    ("cyan", [0.0, 1.0, 1.0]),
    ("orange", [1.0, 0.5, 0.0]),
    ("purple", [0.5, 0.0, 1.0]),
    ("white", [1.0, 1.0, 1.0]),
    ("pink", [1.0, 0.5, 0.75]),
];

/// The colour for each class when none is given: the paper's green and blue, then the palette.
pub fn default_colors(classes: usize) -> Vec<[f32; 3]> {
    (0..classes).map(|c| PALETTE[c % PALETTE.len()].1).collect()
}

/// Parses a colour name from [`PALETTE`] or a hex code `#rrggbb`.
pub fn parse_color(s: &str) -> Result<[f32; 3]> {
    let t = s.trim().to_lowercase();
    if let Some((_, rgb)) = PALETTE.iter().find(|(n, _)| *n == t) {
        return Ok(*rgb);
    }
    let hex = t.strip_prefix('#').unwrap_or(&t);
    if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let v = u32::from_str_radix(hex, 16).expect("checked hex digits");
        return Ok([
            ((v >> 16) & 0xff) as f32 / 255.0,
            ((v >> 8) & 0xff) as f32 / 255.0,
            (v & 0xff) as f32 / 255.0,
        ]);
    }
    let names: Vec<&str> = PALETTE.iter().map(|(n, _)| *n).collect();
    Err(Error::param(
        "colors",
        format!(
            "'{s}' is not a colour: expected one of {} or #rrggbb",
            names.join(", ")
        ),
    ))
}

/// The shortcut `spurion train` plants.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Plant {
    /// Strokes (or, for colour images, brightness) coloured by class.
    Color,
    /// A class-coloured square in a class-specific corner.
    Patch,
    /// Nothing planted.
    #[default]
    None,
}

/// Luminance of image `i` (channel mean), `height * width` values.
fn luminance(images: &Images, i: usize) -> Vec<f32> {
    let hw = images.height * images.width;
    let img = images.image(i);
    (0..hw)
        .map(|p| {
            (0..images.channels).map(|c| img[c * hw + p]).sum::<f32>() / images.channels as f32
        })
        .collect()
}

/// Colours each image by its label: luminance `v` becomes `v * colour`.
pub fn colorize(images: &Images, labels: &[usize], colors: &[[f32; 3]]) -> Images {
    let hw = images.height * images.width;
    let mut out = Images::empty(3, images.height, images.width);
    out.data.reserve(images.count * 3 * hw);
    for (i, &label) in labels.iter().enumerate().take(images.count) {
        let lum = luminance(images, i);
        for &c in &colors[label] {
            out.data.extend(lum.iter().map(|v| v * c));
        }
        out.count += 1;
    }
    out
}

/// Side of the planted square: a fifth of the image, at least 2 pixels.
pub fn patch_side(height: usize, width: usize) -> usize {
    ((height.min(width) as f32) / 5.0).round().max(2.0) as usize
}

/// Top-left corner of class `class`'s square: top-left, top-right, bottom-left,
/// bottom-right, then around again, one pixel from the edges.
pub fn patch_origin(class: usize, height: usize, width: usize) -> (usize, usize) {
    let side = patch_side(height, width);
    let (top, left) = (1.min(height - side), 1.min(width - side));
    let (bottom, right) = (height - side - top, width - side - left);
    match class % 4 {
        0 => (top, left),
        1 => (top, right),
        2 => (bottom, left),
        _ => (bottom, right),
    }
}

/// RGB copies of the images (grey replicated) with each class's square drawn in.
pub fn patch(images: &Images, labels: &[usize], colors: &[[f32; 3]]) -> Images {
    let mut out = to_rgb(images);
    let (h, w) = (images.height, images.width);
    let side = patch_side(h, w);
    let n = out.image_len();
    for (i, &label) in labels.iter().enumerate().take(images.count) {
        let (y0, x0) = patch_origin(label, h, w);
        let img = &mut out.data[i * n..(i + 1) * n];
        for (c, &v) in colors[label].iter().enumerate() {
            for y in y0..y0 + side {
                img[c * h * w + y * w + x0..c * h * w + y * w + x0 + side].fill(v);
            }
        }
    }
    out
}

/// Three-channel copies (single-channel images replicated; colour images unchanged).
pub fn to_rgb(images: &Images) -> Images {
    if images.channels == 3 {
        return images.clone();
    }
    monochrome(images)
}

/// Plants `plant` into images of the given labels.
pub fn apply(plant: Plant, images: &Images, labels: &[usize], colors: &[[f32; 3]]) -> Images {
    match plant {
        Plant::Color => colorize(images, labels, colors),
        Plant::Patch => patch(images, labels, colors),
        Plant::None => to_rgb(images),
    }
}

/// The monochrome twin: the same strokes in white (all three channels equal).
pub fn monochrome(images: &Images) -> Images {
    colorize(images, &vec![0; images.count], &[[1.0, 1.0, 1.0]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray() -> Images {
        Images {
            count: 2,
            channels: 1,
            height: 1,
            width: 2,
            data: vec![0.0, 1.0, 0.5, 0.25],
        }
    }

    #[test]
    fn strokes_take_their_class_colour() {
        let c = colorize(&gray(), &[0, 1], &default_colors(2));
        assert_eq!((c.count, c.channels), (2, 3));
        // class 0 -> green: only the G channel carries the stroke
        assert_eq!(c.image(0), &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        // class 1 -> blue
        assert_eq!(c.image(1), &[0.0, 0.0, 0.0, 0.0, 0.5, 0.25]);
    }

    #[test]
    fn monochrome_twin_has_equal_channels() {
        let m = monochrome(&gray());
        assert_eq!(m.image(1), &[0.5, 0.25, 0.5, 0.25, 0.5, 0.25]);
    }

    #[test]
    fn colours_parse_by_name_and_hex() {
        assert_eq!(parse_color("Green").unwrap(), [0.0, 1.0, 0.0]);
        assert_eq!(parse_color("#ff0000").unwrap(), [1.0, 0.0, 0.0]);
        let e = parse_color("greenish").unwrap_err().to_string();
        assert!(e.contains("--colors") && e.contains("greenish"), "{e}");
    }

    #[test]
    fn patches_sit_in_class_corners() {
        let img = Images {
            count: 2,
            channels: 1,
            height: 10,
            width: 10,
            data: vec![0.0; 200],
        };
        let p = patch(&img, &[0, 1], &default_colors(2));
        assert_eq!(patch_side(10, 10), 2);
        // class 0: green square at (1, 1)
        let g = &p.image(0)[100..200];
        assert_eq!(g[11], 1.0);
        assert_eq!(g[12], 1.0);
        assert_eq!(g[11 + 2], 0.0);
        // class 1: blue square at (1, 7)
        let b = &p.image(1)[200..300];
        assert_eq!(b[17], 1.0);
        assert_eq!(b[18], 1.0);
        assert_eq!(b[16], 0.0);
        assert_eq!(patch_origin(3, 10, 10), (7, 7));
    }
}
