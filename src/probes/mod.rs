//! Probe sets: images unrelated to the classifier's training data that still contain the
//! suspected pattern (step 1 of the method). The paper's probes are solid colours; spurion adds
//! coloured patches (position shortcuts), gratings (orientation and frequency), smooth noise,
//! frames (borders), glyphs (small marks and strokes), `mixed` (all of these in one set, each
//! probe recording which it is: for an audit that does not know the kind of shortcut in
//! advance) and any folder of images.
//!
//! Probe `i` of a generated set is a pure function of the set's seed and `i`, so a set of any
//! size can be generated in batches (or one probe regenerated later for a report) and always
//! comes out the same.

use std::f32::consts::PI;
use std::path::{Path, PathBuf};

use rand::{Rng as _, SeedableRng};

use crate::data::{Images, folder};
use crate::error::{Error, Result};
use crate::seed::{self, Rng, Stream};

/// A built-in probe family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeFamily {
    /// Solid-colour images, RGB uniform in `[0, 1]^3` (the paper's probes).
    Solid,
    /// A square of a random colour (side 15-35% of the image) centred anywhere on a black
    /// background (cut by the border near it).
    Patch,
    /// Stripes of random orientation, frequency (1 cycle per image up to a period of 3.5
    /// pixels: 8 cycles on 28-pixel images), phase and two random colours, one of them black
    /// in half the probes.
    Gratings,
    /// Smooth random colour fields: a random 4x4 colour grid, bilinearly upsampled.
    Noise,
    /// A frame of a random colour along the image's border, 1 to 3 pixels wide (a tenth of
    /// the image at most), on black: borders and frames.
    Frame,
    /// A small glyph of a random colour anywhere on black: a bar 1-2 pixels thick and 10-40%
    /// of the image long (a stroke or a line of text), horizontal or vertical, or a dot of
    /// 1-3 pixels: stamps, tags and strokes.
    Glyph,
    /// Each probe one of [`MIXED_PARTS`], drawn uniformly; [`ProbeSpec::part`] says which.
    Mixed,
}

/// The families a [`ProbeFamily::Mixed`] probe is drawn from, with equal chance.
pub const MIXED_PARTS: [ProbeFamily; 6] = [
    ProbeFamily::Solid,
    ProbeFamily::Patch,
    ProbeFamily::Gratings,
    ProbeFamily::Noise,
    ProbeFamily::Frame,
    ProbeFamily::Glyph,
];

impl ProbeFamily {
    pub const ALL: [ProbeFamily; 7] = [
        ProbeFamily::Solid,
        ProbeFamily::Patch,
        ProbeFamily::Gratings,
        ProbeFamily::Noise,
        ProbeFamily::Frame,
        ProbeFamily::Glyph,
        ProbeFamily::Mixed,
    ];

    /// The family's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ProbeFamily::Solid => "solid",
            ProbeFamily::Patch => "patch",
            ProbeFamily::Gratings => "gratings",
            ProbeFamily::Noise => "noise",
            ProbeFamily::Frame => "frame",
            ProbeFamily::Glyph => "glyph",
            ProbeFamily::Mixed => "mixed",
        }
    }
}

impl std::str::FromStr for ProbeFamily {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ProbeFamily::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                Error::param(
                    "probes",
                    format!(
                        "'{s}' is not a probe family ({})",
                        ProbeFamily::ALL.map(|f| f.name()).join(", ")
                    ),
                )
            })
    }
}

/// A reproducible, lazily generated probe set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeSpec {
    pub family: ProbeFamily,
    pub count: usize,
    pub height: usize,
    pub width: usize,
    /// Seed of this set; probe `i` is derived from it and `i`.
    pub seed: u64,
}

impl ProbeSpec {
    /// `count` probes of `family` at `[height, width]`, generated from `seed`.
    pub fn new(family: ProbeFamily, count: usize, [height, width]: [usize; 2], seed: u64) -> Self {
        ProbeSpec {
            family,
            count,
            height,
            width,
            seed,
        }
    }

    fn probe_rng(&self, i: usize) -> Rng {
        Rng::seed_from_u64(seed::derive(self.seed, Stream::Probes, &[i as u64]))
    }

    /// Probe `i` as a `3 x height x width` image.
    pub fn probe(&self, i: usize) -> Vec<f32> {
        draw(self.family, &mut self.probe_rng(i), self.height, self.width)
    }

    /// What the manifest of `spurion probes` records of probe `i`: the family, and for a mixed
    /// set its part ("mixed:frame").
    pub fn part_name(&self, i: usize) -> String {
        match self.family {
            ProbeFamily::Mixed => format!("mixed:{}", self.part(i).name()),
            f => f.name().to_string(),
        }
    }

    /// The family probe `i` was drawn from: one of [`MIXED_PARTS`] for a mixed set (the
    /// generator's first draw), the set's own family otherwise.
    pub fn part(&self, i: usize) -> ProbeFamily {
        match self.family {
            ProbeFamily::Mixed => draw_part(&mut self.probe_rng(i)),
            f => f,
        }
    }

    /// Probes `start..end`.
    pub fn batch(&self, start: usize, end: usize) -> Images {
        let mut out = Images::empty(3, self.height, self.width);
        out.data.reserve((end - start) * out.image_len());
        for i in start..end {
            out.push(&self.probe(i));
        }
        out
    }

    /// The whole set.
    pub fn generate(&self) -> Images {
        self.batch(0, self.count)
    }
}

/// The part a mixed probe is: the first draw of its generator, so that [`ProbeSpec::part`]
/// says what [`ProbeSpec::probe`] made.
fn draw_part(rng: &mut Rng) -> ProbeFamily {
    MIXED_PARTS[rng.random_range(0..MIXED_PARTS.len())]
}

/// The finest stripes a grating probe has: a period of [`FINEST_PERIOD`] pixels along the
/// image's shorter side (8 cycles on 28-pixel images). A bound in cycles per image instead
/// would leave large images with coarse stripes only (8 cycles on 224 pixels: a 28-pixel
/// period, coarser than lines of text).
fn max_cycles(h: usize, w: usize) -> f32 {
    (h.min(w) as f32 / FINEST_PERIOD).max(2.0)
}

/// Pixels per cycle of a grating probe's finest stripes.
pub const FINEST_PERIOD: f32 = 3.5;

/// One probe of `family` drawn from `rng`, `3 x h x w`.
fn draw(family: ProbeFamily, rng: &mut Rng, h: usize, w: usize) -> Vec<f32> {
    let hw = h * w;
    let mut img = vec![0.0f32; 3 * hw];
    match family {
        ProbeFamily::Solid => {
            let rgb: [f32; 3] = [rng.random(), rng.random(), rng.random()];
            for c in 0..3 {
                img[c * hw..(c + 1) * hw].fill(rgb[c]);
            }
        }
        ProbeFamily::Patch => {
            // Black background, like digit images. (On mid-grey, random colours average to
            // the background itself and a VAE learns nothing: measured, docs/findings.md.)
            let rgb: [f32; 3] = [rng.random(), rng.random(), rng.random()];
            let side = ((h.min(w) as f32) * rng.random_range(0.15..0.35))
                .round()
                .max(1.0) as usize;
            // The centre anywhere in the image, as in Cutout (DeVries and Taylor, 2017): a
            // patch near the border is cut by it, so marks in a corner or along an edge
            // (watermarks, tags, timestamps) have probes that fit them.
            let span = |centre: usize, len: usize| {
                let start = centre.saturating_sub(side / 2);
                (start, (centre + side - side / 2).min(len))
            };
            let (y0, y1) = span(rng.random_range(0..h), h);
            let (x0, x1) = span(rng.random_range(0..w), w);
            for c in 0..3 {
                for y in y0..y1 {
                    img[c * hw + y * w + x0..c * hw + y * w + x1].fill(rgb[c]);
                }
            }
        }
        ProbeFamily::Gratings => {
            let a: [f32; 3] = [rng.random(), rng.random(), rng.random()];
            let b: [f32; 3] = [rng.random(), rng.random(), rng.random()];
            // Half of them on black: stripes of one colour on a dark ground, as lines of text
            // or a pattern over a digit's background are (docs/benchmark.md, stripes).
            let b = if rng.random_bool(0.5) { [0.0; 3] } else { b };
            let theta = rng.random_range(0.0..PI);
            let cycles = rng.random_range(1.0f32..max_cycles(h, w));
            let phase = rng.random_range(0.0..2.0 * PI);
            let (ct, st) = (theta.cos(), theta.sin());
            for y in 0..h {
                for x in 0..w {
                    let u = (x as f32 + 0.5) / w as f32 * ct + (y as f32 + 0.5) / h as f32 * st;
                    let t = 0.5 + 0.5 * (2.0 * PI * cycles * u + phase).sin();
                    for c in 0..3 {
                        img[c * hw + y * w + x] = a[c] + t * (b[c] - a[c]);
                    }
                }
            }
        }
        ProbeFamily::Noise => {
            const G: usize = 4;
            let grid: Vec<f32> = (0..3 * G * G).map(|_| rng.random()).collect();
            for y in 0..h {
                let gy = ((y as f32 + 0.5) / h as f32 * (G - 1) as f32).min((G - 1) as f32);
                let (y0, fy) = (gy.floor() as usize, gy.fract());
                let y1 = (y0 + 1).min(G - 1);
                for x in 0..w {
                    let gx = ((x as f32 + 0.5) / w as f32 * (G - 1) as f32).min((G - 1) as f32);
                    let (x0, fx) = (gx.floor() as usize, gx.fract());
                    let x1 = (x0 + 1).min(G - 1);
                    for c in 0..3 {
                        let g = |yy: usize, xx: usize| grid[c * G * G + yy * G + xx];
                        let top = g(y0, x0) + fx * (g(y0, x1) - g(y0, x0));
                        let bottom = g(y1, x0) + fx * (g(y1, x1) - g(y1, x0));
                        img[c * hw + y * w + x] = top + fy * (bottom - top);
                    }
                }
            }
        }

        ProbeFamily::Frame => {
            let rgb: [f32; 3] = [rng.random(), rng.random(), rng.random()];
            let width = rng.random_range(1..=3).min((h.min(w) / 10).max(1));
            for y in 0..h {
                for x in 0..w {
                    if y < width || x < width || y >= h - width || x >= w - width {
                        for c in 0..3 {
                            img[c * hw + y * w + x] = rgb[c];
                        }
                    }
                }
            }
        }
        ProbeFamily::Glyph => {
            let rgb: [f32; 3] = [rng.random(), rng.random(), rng.random()];
            // [rows, columns] of the glyph's box.
            let [gh, gw] = match rng.random_range(0..3) {
                0 | 1 => {
                    let thick = rng.random_range(1..=2);
                    let frac: f32 = rng.random_range(0.1..0.4);
                    let len = |side: usize| ((side as f32 * frac).round() as usize).max(1);
                    if rng.random_bool(0.5) {
                        [thick, len(w)]
                    } else {
                        [len(h), thick]
                    }
                }
                _ => {
                    let side = rng.random_range(1..=3);
                    [side, side]
                }
            };
            let (gh, gw) = (gh.min(h), gw.min(w));
            let y0 = rng.random_range(0..=h - gh);
            let x0 = rng.random_range(0..=w - gw);
            for c in 0..3 {
                for y in y0..y0 + gh {
                    img[c * hw + y * w + x0..c * hw + y * w + x0 + gw].fill(rgb[c]);
                }
            }
        }
        // A part drawn first, then that part's probe from the same generator.
        ProbeFamily::Mixed => {
            return draw(draw_part(rng), rng, h, w);
        }
    }
    img
}

/// The file `spurion probes` writes beside the probe images: one row per probe, in probe order.
pub const MANIFEST: &str = "manifest.csv";

/// One row of a probe folder's [`MANIFEST`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The probe's id, as a `--scores` CSV names it.
    pub id: String,
    /// The image, relative to the folder.
    pub file: String,
    pub family: String,
    /// The seed of the set the probe was generated from.
    pub seed: u64,
}

/// Reads `dir`'s manifest (`id,file,family,seed`), if it has one. Ids must be unique and
/// files must stay inside the folder.
pub fn read_manifest(dir: &Path) -> Result<Option<Vec<ManifestEntry>>> {
    let path = dir.join(MANIFEST);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header = lines.next().map(|(_, l)| l.trim());
    if header != Some("id,file,family,seed") {
        return Err(Error::data(
            &path,
            "expected the header id,file,family,seed (a manifest written by `spurion probes`)",
        ));
    }
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines {
        let bad = |what: &str| Error::data(&path, format!("line {}: {what}", i + 1));
        let fields: Vec<&str> = line.trim().split(',').collect();
        let [id, file, family, seed] = fields[..] else {
            return Err(bad("expected 4 fields: id,file,family,seed"));
        };
        let seed = seed
            .parse()
            .map_err(|_| bad(&format!("seed '{seed}' is not a whole number")))?;
        let relative = Path::new(file);
        if file.is_empty()
            || relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(bad(&format!(
                "file '{file}' is not a plain name inside the folder"
            )));
        }
        if !seen.insert(id.to_string()) {
            return Err(bad(&format!("id '{id}' appears twice")));
        }
        entries.push(ManifestEntry {
            id: id.to_string(),
            file: file.to_string(),
            family: family.to_string(),
            seed,
        });
    }
    if entries.is_empty() {
        return Err(Error::data(&path, "no probes listed"));
    }
    Ok(Some(entries))
}

/// All of `paths`, or a sample of `limit` drawn with `rng` kept in their order.
fn sample_paths(mut paths: Vec<PathBuf>, limit: Option<usize>, rng: &mut Rng) -> Vec<PathBuf> {
    if let Some(limit) = limit.filter(|&l| l < paths.len()) {
        let mut ids = rand::seq::index::sample(rng, paths.len(), limit).into_vec();
        ids.sort_unstable();
        paths = ids
            .into_iter()
            .map(|i| std::mem::take(&mut paths[i]))
            .collect();
    }
    paths
}

/// Where probes come from: a generator, or a folder of images (resized to the model's input).
#[derive(Debug, Clone)]
pub enum ProbeSource {
    Generated(ProbeSpec),
    Folder {
        root: PathBuf,
        paths: Vec<PathBuf>,
        height: usize,
        width: usize,
        /// What listing the folder passed over, one line each.
        skipped: Vec<String>,
    },
}

impl ProbeSource {
    /// Every image under `root` (png, jpg), in sorted order; if `limit` is given and smaller,
    /// a sample of that many drawn with `rng` (still in sorted order), so that a folder sorted
    /// by class is not cut to its first classes.
    pub fn folder(
        root: &Path,
        height: usize,
        width: usize,
        limit: Option<usize>,
        rng: &mut Rng,
    ) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::data(
                root,
                format!(
                    "not a probe family ({}) nor a folder of images",
                    ProbeFamily::ALL.map(|f| f.name()).join(", ")
                ),
            ));
        }
        // A folder from `spurion probes`: its manifest's order, which `--scores` follows.
        if let Some(entries) = read_manifest(root)? {
            let paths: Vec<PathBuf> = entries.iter().map(|e| root.join(&e.file)).collect();
            if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
                return Err(Error::data(
                    missing,
                    format!("listed in {MANIFEST} but not a file"),
                ));
            }
            return Ok(ProbeSource::Folder {
                root: root.to_path_buf(),
                paths: sample_paths(paths, limit, rng),
                height,
                width,
                skipped: Vec::new(),
            });
        }
        let listing = folder::list_images(root)?;
        let paths = listing.files;
        if paths.is_empty() {
            return Err(Error::data(
                root,
                format!(
                    "empty probe folder: no images ending in {}{}",
                    folder::IMAGE_EXTENSIONS.join(", "),
                    match listing.skipped.first() {
                        Some(first) => format!(
                            "; {} entries could not be used, the first: {first}",
                            listing.skipped.len()
                        ),
                        None => String::new(),
                    }
                ),
            ));
        }
        Ok(ProbeSource::Folder {
            root: root.to_path_buf(),
            paths: sample_paths(paths, limit, rng),
            height,
            width,
            skipped: listing.skipped,
        })
    }

    /// What listing a probe folder passed over (special files, broken links).
    pub fn skipped(&self) -> &[String] {
        match self {
            ProbeSource::Generated(_) => &[],
            ProbeSource::Folder { skipped, .. } => skipped,
        }
    }

    /// `[height, width]` of the probes.
    pub fn size(&self) -> [usize; 2] {
        match self {
            ProbeSource::Generated(spec) => [spec.height, spec.width],
            ProbeSource::Folder { height, width, .. } => [*height, *width],
        }
    }

    pub fn count(&self) -> usize {
        match self {
            ProbeSource::Generated(spec) => spec.count,
            ProbeSource::Folder { paths, .. } => paths.len(),
        }
    }

    /// The part a probe of a generated mixed set was drawn from (None for any other set, whose
    /// probes are all of one kind or unknown).
    pub fn mixed_part(&self, i: usize) -> Option<ProbeFamily> {
        match self {
            ProbeSource::Generated(spec) if spec.family == ProbeFamily::Mixed => Some(spec.part(i)),
            _ => None,
        }
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            ProbeSource::Generated(spec) => {
                format!("{} generated '{}' probes", spec.count, spec.family.name())
            }
            ProbeSource::Folder { root, paths, .. } => {
                format!("{} images from {}", paths.len(), root.display())
            }
        }
    }

    /// The probes with the given ids.
    pub fn get(&self, ids: &[usize]) -> Result<Images> {
        match self {
            ProbeSource::Generated(spec) => {
                let mut out = Images::empty(3, spec.height, spec.width);
                for &i in ids {
                    out.push(&spec.probe(i));
                }
                Ok(out)
            }
            ProbeSource::Folder {
                paths,
                height,
                width,
                ..
            } => {
                let mut out = Images::empty(3, *height, *width);
                for &i in ids {
                    out.push(&folder::load_image(&paths[i], *height, *width)?);
                }
                Ok(out)
            }
        }
    }

    /// Probes `start..end`.
    pub fn batch(&self, start: usize, end: usize) -> Result<Images> {
        match self {
            ProbeSource::Generated(spec) => Ok(spec.batch(start, end)),
            ProbeSource::Folder { .. } => self.get(&(start..end).collect::<Vec<_>>()),
        }
    }
}

#[cfg(test)]
mod tests;
