//! Shortcuts the benchmark plants, each with the answer a finding is scored against.
//!
//! Images are the digits' RGB copies: white strokes on black, values in `[0, 1]`,
//! `3 x height x width`, channel-planar. A shortcut changes an image in place.

use std::f32::consts::PI;

use rand::{Rng as _, SeedableRng};

use crate::method::describe::Position;
pub use crate::method::describe::{hue_saturation, same_color};
use crate::seed::Rng;

/// A corner of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

impl Corner {
    pub const ALL: [Corner; 4] = [
        Corner::TopLeft,
        Corner::TopRight,
        Corner::BottomLeft,
        Corner::BottomRight,
    ];

    /// The ninth of the image this corner is in.
    pub fn position(self) -> Position {
        match self {
            Corner::TopLeft => Position::TopLeft,
            Corner::TopRight => Position::TopRight,
            Corner::BottomLeft => Position::BottomLeft,
            Corner::BottomRight => Position::BottomRight,
        }
    }

    /// The corner across the vertical axis.
    pub fn mirrored(self) -> Corner {
        match self {
            Corner::TopLeft => Corner::TopRight,
            Corner::TopRight => Corner::TopLeft,
            Corner::BottomLeft => Corner::BottomRight,
            Corner::BottomRight => Corner::BottomLeft,
        }
    }

    /// Top-left pixel of a `side`-pixel square in this corner, one pixel from the edges.
    pub fn origin(self, side: usize, h: usize, w: usize) -> (usize, usize) {
        let (top, left) = (1.min(h - side), 1.min(w - side));
        let (bottom, right) = (h - side - top, w - side - left);
        match self {
            Corner::TopLeft => (top, left),
            Corner::TopRight => (top, right),
            Corner::BottomLeft => (bottom, left),
            Corner::BottomRight => (bottom, right),
        }
    }
}

/// The middle of one edge of the image: where a stamp goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Edge {
    Top,
    Bottom,
    Left,
    Right,
}

impl Edge {
    pub const ALL: [Edge; 4] = [Edge::Top, Edge::Bottom, Edge::Left, Edge::Right];

    /// The ninth of the image a stamp at this edge is in.
    pub fn position(self) -> Position {
        match self {
            Edge::Top => Position::Top,
            Edge::Bottom => Position::Bottom,
            Edge::Left => Position::Left,
            Edge::Right => Position::Right,
        }
    }

    /// Top-left pixel and size `(y, x, height, width)` of the stamp, a text-like bar (a
    /// fourteenth of the height by three fourteenths of the width: 2 x 6 px at 28 x 28), two
    /// pixels from the edge, centred along it.
    pub fn bar(self, h: usize, w: usize) -> (usize, usize, usize, usize) {
        let (bh, bw) = ((h / 14).max(1), (3 * w / 14).max(2));
        let (cy, cx) = ((h - bh) / 2, (w - bw) / 2);
        match self {
            Edge::Top => (2.min(h - bh), cx, bh, bw),
            Edge::Bottom => (h - bh - 2.min(h - bh), cx, bh, bw),
            Edge::Left => (cy, 2.min(w - bw), bh, bw),
            Edge::Right => (cy, w - bw - 2.min(w - bw), bh, bw),
        }
    }
}

/// A shortcut planted in a share of one class's images.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Shortcut {
    /// The strokes in a colour (the paper's shortcut).
    StrokeColor { color: [f32; 3] },
    /// The background (the black pixels) in a colour, the strokes left white.
    BackgroundColor { color: [f32; 3] },
    /// A small square of a colour in a corner.
    CornerMark {
        corner: Corner,
        side: usize,
        color: [f32; 3],
    },
    /// Stripes of a colour over the whole image at an angle (degrees from horizontal,
    /// counter-clockwise), `period` pixels apart.
    Stripes {
        angle_deg: f32,
        period: f32,
        color: [f32; 3],
    },
    /// `count` pixels of a colour at fixed places (drawn once from `seed`).
    ScatteredPixels {
        count: usize,
        seed: u64,
        color: [f32; 3],
    },
    /// A small text-like bar of a colour at a fixed place near one edge (a watermark, a
    /// tag, a timestamp).
    Stamp { edge: Edge, color: [f32; 3] },
    /// A one-pixel frame of a colour along the image's border.
    Frame { color: [f32; 3] },
}

impl Shortcut {
    /// A short name: "stroke-colour", "corner-mark", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Shortcut::StrokeColor { .. } => "stroke-colour",
            Shortcut::BackgroundColor { .. } => "background-colour",
            Shortcut::CornerMark { .. } => "corner-mark",
            Shortcut::Stripes { .. } => "stripes",
            Shortcut::ScatteredPixels { .. } => "scattered-pixels",
            Shortcut::Stamp { .. } => "stamp",
            Shortcut::Frame { .. } => "frame",
        }
    }

    /// The planted colour.
    pub fn color(&self) -> [f32; 3] {
        match self {
            Shortcut::StrokeColor { color }
            | Shortcut::BackgroundColor { color }
            | Shortcut::CornerMark { color, .. }
            | Shortcut::Stripes { color, .. }
            | Shortcut::ScatteredPixels { color, .. }
            | Shortcut::Stamp { color, .. }
            | Shortcut::Frame { color } => *color,
        }
    }

    /// Where the shortcut sits, for those that sit somewhere (a corner, an edge).
    pub fn position(&self) -> Option<Position> {
        match self {
            Shortcut::CornerMark { corner, .. } => Some(corner.position()),
            Shortcut::Stamp { edge, .. } => Some(edge.position()),
            Shortcut::StrokeColor { .. }
            | Shortcut::BackgroundColor { .. }
            | Shortcut::Stripes { .. }
            | Shortcut::ScatteredPixels { .. }
            | Shortcut::Frame { .. } => None,
        }
    }

    /// Whether `other` is this shortcut with the same value: the same kind, and the same
    /// colour (within [`DECOY_HUE`]) for colours; the same corner or edge for marks and
    /// stamps; the same angle for stripes.
    pub fn same_value(&self, other: &Shortcut) -> bool {
        if self.kind() != other.kind() {
            return false;
        }
        match self {
            Shortcut::CornerMark { .. } | Shortcut::Stamp { .. } => {
                self.position() == other.position()
                    && same_color(self.color(), other.color(), DECOY_HUE)
            }
            Shortcut::Stripes { angle_deg: a, .. } => {
                matches!(other, Shortcut::Stripes { angle_deg: b, .. } if a == b)
            }
            Shortcut::StrokeColor { .. }
            | Shortcut::BackgroundColor { .. }
            | Shortcut::ScatteredPixels { .. }
            | Shortcut::Frame { .. } => same_color(self.color(), other.color(), DECOY_HUE),
        }
    }

    /// The same shortcut in another colour.
    pub fn with_color(&self, color: [f32; 3]) -> Shortcut {
        let mut s = self.clone();
        match &mut s {
            Shortcut::StrokeColor { color: c }
            | Shortcut::BackgroundColor { color: c }
            | Shortcut::CornerMark { color: c, .. }
            | Shortcut::Stripes { color: c, .. }
            | Shortcut::ScatteredPixels { color: c, .. }
            | Shortcut::Stamp { color: c, .. }
            | Shortcut::Frame { color: c } => *c = color,
        }
        s
    }

    /// The same kind of shortcut with another value: another colour (drawn uniformly in RGB,
    /// greys included, rejected when within [`DECOY_HUE`] degrees of hue of the planted one);
    /// for a corner mark, half the time the same corner in another colour, otherwise the
    /// planted colour in another corner (a stamp likewise, at another edge); for stripes,
    /// another angle. Planted in the other
    /// classes, decoys make the planted value, not the mere presence of a mark, what predicts
    /// the class.
    pub fn decoy(&self, rng: &mut Rng) -> Shortcut {
        let planted = self.color();
        let other_color = |rng: &mut Rng| loop {
            let c: [f32; 3] = [rng.random(), rng.random(), rng.random()];
            if !same_color(c, planted, DECOY_HUE) {
                return c;
            }
        };
        match self {
            Shortcut::CornerMark { corner, side, .. } => {
                if rng.random_bool(0.5) {
                    Shortcut::CornerMark {
                        corner: *corner,
                        side: *side,
                        color: other_color(rng),
                    }
                } else {
                    let corners: Vec<Corner> =
                        Corner::ALL.into_iter().filter(|c| c != corner).collect();
                    Shortcut::CornerMark {
                        corner: corners[rng.random_range(0..corners.len())],
                        side: *side,
                        color: planted,
                    }
                }
            }
            Shortcut::Stripes {
                angle_deg,
                period,
                color,
            } => Shortcut::Stripes {
                angle_deg: (angle_deg + 45.0 * rng.random_range(1..4) as f32).rem_euclid(180.0),
                period: *period,
                color: *color,
            },
            Shortcut::Stamp { edge, .. } => {
                if rng.random_bool(0.5) {
                    self.with_color(other_color(rng))
                } else {
                    let edges: Vec<Edge> = Edge::ALL.into_iter().filter(|e| e != edge).collect();
                    Shortcut::Stamp {
                        edge: edges[rng.random_range(0..edges.len())],
                        color: planted,
                    }
                }
            }
            Shortcut::StrokeColor { .. }
            | Shortcut::BackgroundColor { .. }
            | Shortcut::ScatteredPixels { .. }
            | Shortcut::Frame { .. } => self.with_color(other_color(rng)),
        }
    }

    /// A decoy ([`Shortcut::decoy`]) that is none of `planted` (a class with two shortcuts:
    /// the decoy of one is never the other).
    pub fn decoy_among(&self, planted: &[Shortcut], rng: &mut Rng) -> Shortcut {
        loop {
            let d = self.decoy(rng);
            if !planted.iter().any(|p| p.same_value(&d)) {
                return d;
            }
        }
    }

    /// Plants the shortcut in one RGB image of `h x w` pixels.
    pub fn apply(&self, img: &mut [f32], h: usize, w: usize) {
        let hw = h * w;
        let lum = |img: &[f32], p: usize| (img[p] + img[hw + p] + img[2 * hw + p]) / 3.0;
        let set = |img: &mut [f32], p: usize, rgb: [f32; 3]| {
            for (c, v) in rgb.iter().enumerate() {
                img[c * hw + p] = *v;
            }
        };
        match self {
            Shortcut::StrokeColor { color } => {
                for p in 0..hw {
                    let v = lum(img, p);
                    set(img, p, color.map(|c| c * v));
                }
            }
            Shortcut::BackgroundColor { color } => {
                for p in 0..hw {
                    let v = lum(img, p);
                    set(img, p, [0, 1, 2].map(|c| v + (1.0 - v) * color[c]));
                }
            }
            Shortcut::CornerMark {
                corner,
                side,
                color,
            } => {
                let (y0, x0) = corner.origin(*side, h, w);
                for y in y0..y0 + side {
                    for x in x0..x0 + side {
                        set(img, y * w + x, *color);
                    }
                }
            }
            Shortcut::Stripes {
                angle_deg,
                period,
                color,
            } => {
                let a = angle_deg.to_radians();
                // Stripes run along `a`: the intensity varies across them.
                let (nx, ny) = (-a.sin(), -a.cos());
                for y in 0..h {
                    for x in 0..w {
                        let u = x as f32 * nx + y as f32 * ny;
                        if (2.0 * PI * u / period).sin() > 0.3 {
                            set(img, y * w + x, *color);
                        }
                    }
                }
            }
            Shortcut::ScatteredPixels { count, seed, color } => {
                let mut rng = Rng::seed_from_u64(*seed);
                for _ in 0..*count {
                    let p = rng.random_range(0..hw);
                    set(img, p, *color);
                }
            }
            Shortcut::Stamp { edge, color } => {
                let (y0, x0, bh, bw) = edge.bar(h, w);
                for y in y0..y0 + bh {
                    for x in x0..x0 + bw {
                        set(img, y * w + x, *color);
                    }
                }
            }
            Shortcut::Frame { color } => {
                for y in 0..h {
                    for x in 0..w {
                        if y == 0 || x == 0 || y + 1 == h || x + 1 == w {
                            set(img, y * w + x, *color);
                        }
                    }
                }
            }
        }
    }
}

/// How far in hue a decoy's colour stays from the planted one, in degrees.
pub const DECOY_HUE: f32 = 60.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn digit() -> Vec<f32> {
        // 8x8: a white vertical stroke in column 3 on black.
        let mut img = vec![0.0f32; 3 * 64];
        for c in 0..3 {
            for y in 1..7 {
                img[c * 64 + y * 8 + 3] = 1.0;
            }
        }
        img
    }

    #[test]
    fn each_shortcut_changes_what_it_should() {
        let red = [1.0, 0.0, 0.0];
        let mut s = digit();
        Shortcut::StrokeColor { color: red }.apply(&mut s, 8, 8);
        assert_eq!((s[8 + 3], s[64 + 8 + 3], s[0]), (1.0, 0.0, 0.0));
        let mut b = digit();
        Shortcut::BackgroundColor { color: red }.apply(&mut b, 8, 8);
        assert_eq!((b[0], b[64], b[64 + 8 + 3]), (1.0, 0.0, 1.0));
        let mut m = digit();
        Shortcut::CornerMark {
            corner: Corner::BottomRight,
            side: 2,
            color: red,
        }
        .apply(&mut m, 8, 8);
        assert_eq!((m[5 * 8 + 5], m[6 * 8 + 6], m[4 * 8 + 4]), (1.0, 1.0, 0.0));
        let mut st = digit();
        Shortcut::Stripes {
            angle_deg: 0.0,
            period: 4.0,
            color: red,
        }
        .apply(&mut st, 8, 8);
        // Horizontal stripes: every pixel of a row alike.
        for y in 0..8 {
            let row: Vec<f32> = (0..8).filter(|&x| x != 3).map(|x| st[y * 8 + x]).collect();
            assert!(row.iter().all(|&v| v == row[0]), "row {y}: {row:?}");
        }
        let mut sc = digit();
        Shortcut::ScatteredPixels {
            count: 5,
            seed: 1,
            color: red,
        }
        .apply(&mut sc, 8, 8);
        let mut sc2 = digit();
        Shortcut::ScatteredPixels {
            count: 5,
            seed: 1,
            color: red,
        }
        .apply(&mut sc2, 8, 8);
        assert_eq!(sc, sc2);
        assert_ne!(sc, digit());
    }

    #[test]
    fn a_decoy_is_the_same_kind_with_another_value() {
        use rand::SeedableRng as _;
        let red = [1.0, 0.0, 0.0];
        let mut rng = Rng::seed_from_u64(7);
        let mark = Shortcut::CornerMark {
            corner: Corner::TopLeft,
            side: 3,
            color: red,
        };
        let (mut same_corner, mut other_corner) = (0, 0);
        for _ in 0..200 {
            match mark.decoy(&mut rng) {
                Shortcut::CornerMark {
                    corner,
                    side,
                    color,
                } => {
                    assert_eq!(side, 3);
                    if corner == Corner::TopLeft {
                        assert!(!same_color(color, red, DECOY_HUE), "{color:?} is red");
                        same_corner += 1;
                    } else {
                        assert_eq!(color, red, "the planted mark, moved");
                        other_corner += 1;
                    }
                }
                d => panic!("a decoy of another kind: {d:?}"),
            }
        }
        assert!(
            same_corner > 60 && other_corner > 60,
            "{same_corner} {other_corner}"
        );
        let green = [0.0, 1.0, 0.0];
        let stroke = Shortcut::StrokeColor { color: green };
        for _ in 0..50 {
            let d = stroke.decoy(&mut rng);
            assert_eq!(d.kind(), "stroke-colour");
            assert!(!same_color(d.color(), green, DECOY_HUE), "{:?}", d.color());
        }
        let stripes = Shortcut::Stripes {
            angle_deg: 135.0,
            period: 4.0,
            color: green,
        };
        for _ in 0..50 {
            match stripes.decoy(&mut rng) {
                Shortcut::Stripes { angle_deg, .. } => {
                    assert!([0.0, 45.0, 90.0].contains(&angle_deg), "{angle_deg}")
                }
                d => panic!("a decoy of another kind: {d:?}"),
            }
        }
    }

    #[test]
    fn a_stamp_is_a_bar_near_its_edge_and_its_decoys_move_or_change_colour() {
        use rand::SeedableRng as _;
        let red = [1.0, 0.0, 0.0];
        for edge in Edge::ALL {
            let mut img = vec![0.0f32; 3 * 28 * 28];
            Shortcut::Stamp { edge, color: red }.apply(&mut img, 28, 28);
            let lit: Vec<usize> = (0..28 * 28).filter(|&p| img[p] == 1.0).collect();
            assert_eq!(lit.len(), 12, "{edge:?}: a 2 x 6 bar");
            let (y, x) = lit.iter().fold((0.0, 0.0), |(y, x), &p| {
                (y + (p / 28) as f32 / 12.0, x + (p % 28) as f32 / 12.0)
            });
            let at = Position::of((y + 0.5) / 28.0, (x + 0.5) / 28.0);
            assert_eq!(at, edge.position(), "{edge:?} at ({y}, {x})");
        }
        let stamp = Shortcut::Stamp {
            edge: Edge::Top,
            color: red,
        };
        let mut rng = Rng::seed_from_u64(3);
        for _ in 0..50 {
            let d = stamp.decoy(&mut rng);
            assert_eq!(d.kind(), "stamp");
            assert!(!d.same_value(&stamp), "{d:?}");
        }
    }

    #[test]
    fn a_frame_is_the_border_ring_and_its_decoys_change_colour() {
        use rand::SeedableRng as _;
        let cyan = [0.0, 1.0, 1.0];
        let mut img = digit();
        Shortcut::Frame { color: cyan }.apply(&mut img, 8, 8);
        for p in 0..64 {
            let (y, x) = (p / 8, p % 8);
            let border = y == 0 || x == 0 || y == 7 || x == 7;
            let rgb = [img[p], img[64 + p], img[128 + p]];
            if border {
                assert_eq!(rgb, cyan, "({y}, {x})");
            } else {
                assert_eq!(rgb, [[0.0; 3], [1.0; 3]][usize::from(x == 3)], "({y}, {x})");
            }
        }
        let frame = Shortcut::Frame { color: cyan };
        assert_eq!(frame.position(), None);
        let mut rng = Rng::seed_from_u64(4);
        for _ in 0..50 {
            let d = frame.decoy(&mut rng);
            assert_eq!(d.kind(), "frame");
            assert!(!d.same_value(&frame), "{d:?}");
        }
    }

    #[test]
    fn colours_compare_by_hue() {
        assert!(same_color([0.9, 0.1, 0.2], [1.0, 0.0, 0.0], 30.0));
        assert!(!same_color([0.1, 0.9, 0.1], [1.0, 0.0, 0.0], 30.0));
        assert!(!same_color([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 30.0));
        assert_eq!(Corner::TopLeft.mirrored(), Corner::TopRight);
    }
}
