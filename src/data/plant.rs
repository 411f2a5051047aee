//! Planting a known shortcut, as the paper did: every digit's strokes are coloured by its class
//! (0 green, 1 blue), so a classifier can learn colour instead of shape. The monochrome twin of
//! the same digits (white strokes) shows whether it did.

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

/// Colours each single-channel image by its label: pixel value `v` becomes `v * colour`.
pub fn colorize(gray: &Images, labels: &[usize], colors: &[[f32; 3]]) -> Images {
    assert_eq!(gray.channels, 1, "colorize takes single-channel images");
    let hw = gray.height * gray.width;
    let mut out = Images::empty(3, gray.height, gray.width);
    out.data.reserve(gray.count * 3 * hw);
    for (i, &label) in labels.iter().enumerate().take(gray.count) {
        let src = gray.image(i);
        for &c in &colors[label] {
            out.data.extend(src.iter().map(|v| v * c));
        }
        out.count += 1;
    }
    out
}

/// The monochrome twin: the same strokes in white (all three channels equal).
pub fn monochrome(gray: &Images) -> Images {
    colorize(gray, &vec![0; gray.count], &[[1.0, 1.0, 1.0]])
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
}
