//! Does the shortcut act on real images? The causal test puts a cluster's heaviest probes
//! into held-out real images and asks whether they raise its class's probability more than
//! probes drawn at random do.
//!
//! - **Mask.** The pixels where the mean of the cluster's heaviest probes differs from the
//!   probes' background (their per-pixel median); the prototype's, for a cluster with no
//!   held-out probes. A corner mark claims a corner; a solid colour claims the whole image.
//! - **Intervention.** A local mask is pasted at full strength: `x (1 - m) + probe m`. When
//!   the mask covers most of the image (colours, textures), pasting would replace the image,
//!   so the probes go in three ways: blended at half strength (`x / 2 + probe / 2`), as a
//!   tint (`x * probe`: bright strokes take the colour, a dark background stays dark) and as a
//!   screen (`1 - (1 - x)(1 - probe)`: a dark background takes the colour, bright strokes stay
//!   bright). The null's random probes go in the same three ways, and the test is that of the
//!   way in which the cluster's probes beat the random ones by most. A half blend alone turns
//!   white strokes pale and a black background dim, and misses a shortcut that lives in one
//!   of them (a magenta stroke on the benchmark). Choosing the best of three comparisons
//!   favours the cluster a little; the margins below are far larger than that.
//! - **Effect of a probe.** The mean over the images of `p_c(x') - p_c(x)`.
//! - **Test.** The cluster's **effect** is the mean effect of its heaviest held-out probes
//!   (the 16 with the largest weight `p_c^e`), each put into the images through the cluster's
//!   mask. The **null**: at least 100 held-out probes drawn at random, put in the same way; the
//!   mean effect of as many of them as the cluster has, drawn at random 1,000 times (the same
//!   groups for each of the three whole-image ways). The
//!   probes were chosen by what the classifier says of *them*, not of the real images, so when
//!   their content inside the mask has nothing to do with the class on real images they do no
//!   better than random probes.
//! - **Flips.** The share of the images not predicted the class that a probe turns into it.
//! - **Passes** when the effect is above the null's 95th percentile by at least
//!   [`CausalSettings::min_effect`] (0.30) *and* the flip share above the null's 95th
//!   percentile by at least [`CausalSettings::min_flips`] (0.30). Selected probes always do
//!   somewhat better than random ones on a classifier that has learned anything (a blob where
//!   a digit's stroke would be raises that digit a little); a shortcut is a pattern that
//!   *overrides* the image. Both margins were chosen on the benchmark's tuning seeds
//!   (docs/benchmark.md) and are judged on others.
//! - **The prototype and the controls.** The prototype's own effect (the decoded centroid), and
//!   the heaviest probes moved to the mirrored position and with their colours swapped (hue
//!   turned half-way round): a real local shortcut loses its effect under both controls,
//!   which are compared with the same null.

use rand::Rng as _;

use crate::data::Images;
use crate::error::Result;
use crate::memo::Memo;
use crate::metrics::Probabilities;
use crate::seed::Rng;

/// Settings of the causal test.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CausalSettings {
    /// Held-out probes drawn at random for the test.
    pub null_probes: usize,
    /// Most held-out images the test uses.
    pub images: usize,
    /// Strength of the blend, one of the three whole-image interventions.
    pub blend: f32,
    /// Share of the image above which a mask counts as the whole image.
    pub whole_share: f64,
    /// Smallest rise of the class's probability above the null's 95th percentile that
    /// counts, and the same for the share of other images turned into the class.
    pub min_effect: f64,
    pub min_flips: f64,
    /// Bootstrap resamples of the intervals, and random groups of the null.
    pub bootstrap: usize,
}

impl CausalSettings {
    /// The intervention for `mask`: pasted, or put into the whole image.
    pub fn intervention(&self, mask: &Mask) -> Intervention {
        if mask.share() > self.whole_share {
            Intervention::Whole(self.blend)
        } else {
            Intervention::Paste
        }
    }
}

impl Default for CausalSettings {
    fn default() -> Self {
        CausalSettings {
            null_probes: 100,
            images: 100,
            blend: 0.5,
            whole_share: 0.5,
            min_effect: 0.30,
            min_flips: 0.30,
            bootstrap: 1000,
        }
    }
}

/// The pixels a pattern claims, `height x width`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mask {
    pub height: usize,
    pub width: usize,
    pub pixels: Vec<bool>,
}

impl Mask {
    /// A cluster's mask: where the mean of its heaviest probes, `members`, differs from
    /// `background`; where its prototype `pattern` does when it has no members. The members
    /// are what the test puts in, and they are real probes: a decoded centroid is an average
    /// that can blur a corner mark towards the centre (docs/benchmark.md).
    pub fn of_cluster(
        pattern: &[f32],
        members: Option<&[f32]>,
        background: &[f32],
        height: usize,
        width: usize,
    ) -> Mask {
        Mask::find(members.unwrap_or(pattern), background, height, width)
    }

    /// Where `image` differs from `background`: pixels whose colour distance is at least half
    /// the largest distance and at least 0.1. Both `3 x height x width`.
    pub fn find(image: &[f32], background: &[f32], height: usize, width: usize) -> Mask {
        let hw = height * width;
        let d: Vec<f32> = (0..hw)
            .map(|p| {
                (0..3)
                    .map(|c| (image[c * hw + p] - background[c * hw + p]).powi(2))
                    .sum::<f32>()
                    .sqrt()
            })
            .collect();
        let peak = d.iter().copied().fold(0.0, f32::max);
        let cut = (0.5 * peak).max(0.1);
        Mask {
            height,
            width,
            pixels: d.iter().map(|&v| v >= cut).collect(),
        }
    }

    /// Share of the image the mask covers.
    pub fn share(&self) -> f64 {
        self.pixels.iter().filter(|&&p| p).count() as f64 / self.pixels.len().max(1) as f64
    }

    /// The mask flipped left to right.
    pub fn mirrored(&self) -> Mask {
        let (h, w) = (self.height, self.width);
        Mask {
            height: h,
            width: w,
            pixels: (0..h * w)
                .map(|p| self.pixels[(p / w) * w + (w - 1 - p % w)])
                .collect(),
        }
    }

    /// Centre of the mask as `(y, x)`, each in `[0, 1]`; None when empty.
    pub fn centre(&self) -> Option<(f32, f32)> {
        let (mut y, mut x, mut n) = (0.0f32, 0.0f32, 0usize);
        for (p, _) in self.pixels.iter().enumerate().filter(|(_, m)| **m) {
            y += ((p / self.width) as f32 + 0.5) / self.height as f32;
            x += ((p % self.width) as f32 + 0.5) / self.width as f32;
            n += 1;
        }
        (n > 0).then(|| (y / n as f32, x / n as f32))
    }

    /// Mean RGB of `img` (`3 x height x width`) inside the mask.
    pub fn mean_color(&self, img: &[f32]) -> [f32; 3] {
        let hw = self.pixels.len();
        let n = self.pixels.iter().filter(|&&p| p).count().max(1) as f32;
        let mut m = [0.0f32; 3];
        for (p, _) in self.pixels.iter().enumerate().filter(|(_, m)| **m) {
            for (c, v) in m.iter_mut().enumerate() {
                *v += img[c * hw + p] / n;
            }
        }
        m
    }
}

/// What the test does with a mask: paste inside it, or, when the mask is most of the image,
/// put the pattern into the whole image in each of three [`Way`]s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Intervention {
    /// Inside the mask, the pattern replaces the image.
    Paste,
    /// A half blend (at this strength), a tint and a screen; the test takes the way in which
    /// the cluster's probes beat random ones most.
    Whole(f32),
}

impl Intervention {
    /// The ways the test puts patterns in.
    pub fn ways(self) -> Vec<Way> {
        match self {
            Intervention::Paste => vec![Way::Paste],
            Intervention::Whole(a) => vec![Way::Blend(a), Way::Tint, Way::Screen],
        }
    }

    /// Name in results.json.
    pub fn name(self) -> &'static str {
        match self {
            Intervention::Paste => "paste",
            Intervention::Whole(_) => "whole",
        }
    }
}

/// One way a pattern goes into a real image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Way {
    /// Inside the mask, the pattern replaces the image.
    Paste,
    /// Everywhere, `(1 - a) x + a pattern`.
    Blend(f32),
    /// Everywhere, `x * pattern`: light strokes take the pattern's colour.
    Tint,
    /// Everywhere, `1 - (1 - x)(1 - pattern)`: a dark background takes it.
    Screen,
}

impl Way {
    /// The null cache's key for this way.
    fn key(self) -> u64 {
        match self {
            Way::Paste => u64::MAX,
            Way::Blend(a) => a.to_bits() as u64,
            Way::Tint => u64::MAX - 1,
            Way::Screen => u64::MAX - 2,
        }
    }

    /// Name in results.json.
    pub fn name(self) -> &'static str {
        match self {
            Way::Paste => "paste",
            Way::Blend(_) => "blend",
            Way::Tint => "tint",
            Way::Screen => "screen",
        }
    }
}

/// `pattern` flipped left to right (`3 x h x w`).
pub fn mirror_image(pattern: &[f32], h: usize, w: usize) -> Vec<f32> {
    let hw = h * w;
    (0..3 * hw)
        .map(|i| {
            let (c, p) = (i / hw, i % hw);
            pattern[c * hw + (p / w) * w + (w - 1 - p % w)]
        })
        .collect()
}

/// `pattern` with every pixel's hue turned half-way round (lightness and saturation kept):
/// each channel `c` becomes `max + min - c`.
pub fn swap_colors(pattern: &[f32], hw: usize) -> Vec<f32> {
    let mut out = pattern.to_vec();
    for p in 0..hw {
        let rgb = [pattern[p], pattern[hw + p], pattern[2 * hw + p]];
        let (mx, mn) = (
            rgb.iter().copied().fold(f32::MIN, f32::max),
            rgb.iter().copied().fold(f32::MAX, f32::min),
        );
        for c in 0..3 {
            out[c * hw + p] = mx + mn - rgb[c];
        }
    }
    out
}

/// The causal test of one cluster.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CausalTest {
    /// What the held-out images are.
    pub images: String,
    /// Held-out images used.
    pub n: usize,
    /// "paste" (inside the mask) or "whole" (the mask being most of the image: a blend at
    /// `blend` strength, a tint or a screen, see `way`).
    pub intervention: String,
    /// For "whole": the way the probes went in, "blend", "tint" or "screen": the one in which
    /// the cluster's probes beat random probes put in the same way by most. The effect, the
    /// null, the controls and the prototype are all of that way.
    #[serde(default)]
    pub way: Option<String>,
    pub blend: Option<f32>,
    /// Share of the image the mask covers.
    pub mask_share: f64,
    /// The cluster's heaviest held-out probes put into the images, and the probes drawn at
    /// random for the null.
    pub members: usize,
    pub probes: usize,
    /// Mean change of the class's probability when the cluster's heaviest probes go into the
    /// images.
    pub effect: f64,
    /// Its 95% bootstrap interval (over those probes).
    pub interval: [f64; 2],
    /// The mean effect of the probes drawn at random, and the 95th percentile of the mean
    /// effect of as many of them as the cluster's, drawn at random.
    pub null_mean: f64,
    pub null_p95: f64,
    /// The prototype's own effect and its 95% bootstrap interval (over the images).
    pub prototype_effect: f64,
    pub prototype_interval: [f64; 2],
    /// The heaviest probes moved to the mirrored position (local masks only), and with
    /// their colours swapped: controls, against the same null.
    pub mirrored: Option<f64>,
    pub color_swapped: f64,
    /// 95% bootstrap intervals of the controls (over the probes): a control whose interval
    /// reaches down to the null's 95th percentile is not shown to act beyond random probes.
    #[serde(default)]
    pub mirrored_interval: Option<[f64; 2]>,
    #[serde(default)]
    pub swapped_interval: Option<[f64; 2]>,
    /// Share of the images not predicted the class that the heaviest probes turn into it
    /// (mean over the probes); the same for the null, the prototype and the controls.
    pub flips: f64,
    pub null_flips: f64,
    pub null_flips_p95: f64,
    pub prototype_flips: f64,
    pub mirrored_flips: Option<f64>,
    pub swapped_flips: f64,
    /// The effect is above the null's 95th percentile by at least the minimum effect, and the
    /// flip share above the null's by at least the minimum flip share.
    pub passes: bool,
}

/// Held-out real images, the classifier, and the probes drawn at random for the test.
pub struct CausalInput<'a> {
    pub images: Images,
    /// What the images are, for the report ("held-out monochrome digits").
    pub description: String,
    pub predict: &'a (dyn Fn(&Images) -> Result<Probabilities> + Sync),
    /// The classifier's probabilities on the untouched images.
    pub base: Probabilities,
    /// Ids of the held-out probes drawn for the test.
    pub null_ids: Vec<usize>,
    /// Their images, at the images' size.
    pub null_patterns: Images,
    pub settings: CausalSettings,
    /// Effects already measured.
    cache: EffectCache,
}

/// Effects already measured on one set of images by one classifier, shared by the tests of
/// every cluster and by audits of the same model (the benchmark audits each model four
/// ways, and `--k tested` tests a class's unchanged cluster again in its second round):
///
/// - the null's drawn probes, by mask, intervention and the probes drawn, for every class at
///   once (each pass of the classifier gives them all), shared by the classes whose clusters
///   have the same mask (every class of a whole-image probe family);
/// - a cluster's probes' and their controls' effects on one class (the mean change and the
///   flip share: a few numbers each, so a large audit's cache stays small), by a
///   fingerprint of the pattern (the pixels it changes), mask, intervention, class and
///   image count.
///
/// Each is measured once; a hit returns exactly what measuring again would.
///
/// A cache is for one classifier (with its preprocessing) on one set of images:
/// [`crate::audit::Holdout`] keeps one per classifier.
#[derive(Clone, Default)]
pub struct EffectCache {
    nulls: Memo<NullKey, Vec<Vec<Outcome>>>,
    patterns: Memo<[u64; 2], Outcome>,
}

/// Mask, intervention and the probes drawn.
type NullKey = (Mask, u64, Vec<usize>);

/// What one pattern does: the mean change of the class's probability, and the flip share.
type Outcome = (f64, f64);

/// A probe moved or recoloured, with its mask.
type Moved = (Vec<f32>, Mask);

impl CausalTest {
    /// How a whole-image cluster's probes went in, in words ("as a tint"); None when pasted.
    pub fn way_in_words(&self) -> Option<String> {
        match (self.way.as_deref(), self.blend) {
            (Some("tint"), _) => Some("as a tint".into()),
            (Some("screen"), _) => Some("as a screen".into()),
            (_, Some(a)) => Some(format!("blended at {:.0}%", 100.0 * a)),
            _ => None,
        }
    }
}

impl<'a> CausalInput<'a> {
    /// Runs the classifier over the untouched images (at most `settings.images`, the first
    /// ones: pass a seeded sample). `null_ids` are held-out probes drawn at random, and
    /// `null_patterns` their images at the images' size.
    pub fn new(
        images: &Images,
        description: String,
        predict: &'a (dyn Fn(&Images) -> Result<Probabilities> + Sync),
        (null_ids, null_patterns): (Vec<usize>, Images),
        settings: CausalSettings,
        cache: EffectCache,
    ) -> Result<Self> {
        let n = images.count.min(settings.images);
        let images = images.slice(0, n);
        let base = predict(&images)?;
        Ok(CausalInput {
            images,
            description,
            predict,
            base,
            null_ids,
            null_patterns,
            settings,
            cache,
        })
    }

    /// Paired changes of `p_class` when `pattern` goes into every image through `mask` in one
    /// `way`, and the share of the images not predicted `class` that it turns into `class`.
    pub fn changes(
        &self,
        pattern: &[f32],
        mask: &Mask,
        way: Way,
        class: usize,
    ) -> Result<(Vec<f64>, f64)> {
        let x = self.apply(pattern, mask, way);
        let after = (self.predict)(&x)?;
        Ok(self.outcome(&after, class))
    }

    /// 128 bits standing for what [`CausalInput::effect`] measures: the pixels `pattern`
    /// puts in (inside the mask only, when pasted), the mask, the way, the class and the
    /// number of images.
    fn fingerprint(&self, pattern: &[f32], mask: &Mask, way: Way, class: usize) -> [u64; 2] {
        use std::hash::{Hash, Hasher};
        let hw = self.images.height * self.images.width;
        [0u8, 1].map(|salt| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (salt, mask, way.key(), class, self.images.count).hash(&mut h);
            for (i, v) in pattern.iter().enumerate() {
                let used = !matches!(way, Way::Paste) || mask.pixels[i % hw];
                (if used { v.to_bits() } else { 0 }).hash(&mut h);
            }
            h.finish()
        })
    }

    /// The images with `pattern` put into each through `mask`.
    fn apply(&self, pattern: &[f32], mask: &Mask, way: Way) -> Images {
        let imgs = &self.images;
        let hw = imgs.height * imgs.width;
        let mut x = imgs.clone();
        for img in x.data.chunks_exact_mut(imgs.image_len()) {
            for (i, v) in img.iter_mut().enumerate() {
                let p = pattern[i];
                *v = match way {
                    Way::Paste if mask.pixels[i % hw] => p,
                    Way::Paste => *v,
                    Way::Blend(a) => (1.0 - a) * *v + a * p,
                    Way::Tint => *v * p,
                    Way::Screen => 1.0 - (1.0 - *v) * (1.0 - p),
                };
            }
        }
        x
    }

    /// Per image, the change of `p_class` from the untouched images to `after`; and the
    /// share of the images not predicted `class` that `after` predicts `class`.
    fn outcome(&self, after: &Probabilities, class: usize) -> (Vec<f64>, f64) {
        let count = self.images.count;
        let (mut others, mut flipped) = (0usize, 0usize);
        for i in 0..count {
            if self.base.argmax(i) != class {
                others += 1;
                flipped += usize::from(after.argmax(i) == class);
            }
        }
        let d = (0..count)
            .map(|i| after.get(i, class) as f64 - self.base.get(i, class) as f64)
            .collect();
        (d, flipped as f64 / others.max(1) as f64)
    }

    /// What `pattern` put in one `way` does to every class at once: each class's mean change
    /// and flip share.
    fn outcomes(&self, pattern: &[f32], mask: &Mask, way: Way) -> Result<Vec<Outcome>> {
        let x = self.apply(pattern, mask, way);
        let after = (self.predict)(&x)?;
        Ok((0..self.base.classes)
            .map(|class| self.outcome(&after, class))
            .map(|(d, flips)| (d.iter().sum::<f64>() / d.len().max(1) as f64, flips))
            .collect())
    }

    /// Mean effect of `pattern`, and its flip share: measured once per cache
    /// ([`EffectCache`]), as the same probes recur across methods and rounds.
    fn effect(&self, pattern: &[f32], mask: &Mask, way: Way, class: usize) -> Result<Outcome> {
        let key = self.fingerprint(pattern, mask, way, class);
        self.cache.patterns.get_or_try_insert(key, || {
            let (d, flips) = self.changes(pattern, mask, way, class)?;
            Ok((d.iter().sum::<f64>() / d.len().max(1) as f64, flips))
        })
    }

    /// Effects of the null's random probes for `class` through `mask`, put in one `way`,
    /// measured once for every class.
    fn null(&self, mask: &Mask, way: Way, class: usize) -> Result<Vec<Outcome>> {
        let key = (mask.clone(), way.key(), self.null_ids.clone());
        let all = self.cache.nulls.get_or_try_insert(key, || {
            (0..self.null_patterns.count)
                .map(|r| self.outcomes(self.null_patterns.image(r), mask, way))
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(all.iter().map(|o| o[class]).collect())
    }

    /// Tests a cluster as a driver of `class` through `mask`: `members` are its heaviest
    /// held-out probes and `prototype` its decoded centroid, all `3 x h x w` at the images'
    /// size. The bootstrap and the null's groups draw from `rng`.
    pub fn test(
        &self,
        prototype: &[f32],
        members: &Images,
        mask: &Mask,
        class: usize,
        rng: &mut Rng,
    ) -> Result<CausalTest> {
        let (h, w) = (self.images.height, self.images.width);
        let how = self.settings.intervention(mask);
        let quantile = |v: &mut Vec<f64>, f: f64| {
            v.sort_by(f64::total_cmp);
            if v.is_empty() {
                f64::NAN
            } else {
                v[((f * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
            }
        };
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let boot = self.settings.bootstrap;
        let resample = |v: &[f64], rng: &mut Rng| -> [f64; 2] {
            if v.is_empty() {
                return [f64::NAN; 2];
            }
            let mut means: Vec<f64> = (0..boot)
                .map(|_| {
                    (0..v.len())
                        .map(|_| v[rng.random_range(0..v.len())])
                        .sum::<f64>()
                        / v.len() as f64
                })
                .collect();
            [quantile(&mut means, 0.025), quantile(&mut means, 0.975)]
        };
        let firsts = |v: &[(f64, f64)]| v.iter().map(|e| e.0).collect::<Vec<f64>>();
        let seconds = |v: &[(f64, f64)]| v.iter().map(|e| e.1).collect::<Vec<f64>>();
        // Each of the cluster's heaviest probes, moved by `f`, put in `way`.
        let each = |f: &dyn Fn(&[f32]) -> Moved, way: Way| -> Result<Vec<Outcome>> {
            (0..members.count)
                .map(|k| {
                    let (p, m) = f(members.image(k));
                    self.effect(&p, &m, way, class)
                })
                .collect()
        };
        let ways = how.ways();
        let as_is = |p: &[f32]| (p.to_vec(), mask.clone());
        let ours_by_way = ways
            .iter()
            .map(|&way| each(&as_is, way))
            .collect::<Result<Vec<_>>>()?;
        let k = members.count;
        // Every way's interval, before the null's groups, so a pasted cluster draws from `rng`
        // exactly as before there were several ways.
        let intervals: Vec<[f64; 2]> = ours_by_way
            .iter()
            .map(|o| resample(&firsts(o), rng))
            .collect();
        // The null, in every way: the random probes' effects, and means of groups of as many
        // as the cluster's (the same groups for every way).
        let nulls = ways
            .iter()
            .map(|&way| self.null(mask, way, class))
            .collect::<Result<Vec<_>>>()?;
        let count = nulls.first().map_or(0, Vec::len);
        let mut groups = vec![Vec::with_capacity(boot); ways.len()];
        let mut flip_groups = vec![Vec::with_capacity(boot); ways.len()];
        for _ in 0..boot {
            let idx = rand::seq::index::sample(rng, count, k.min(count));
            for (g, v) in nulls.iter().enumerate() {
                let sum = |f: fn(&Outcome) -> f64| idx.iter().map(|i| f(&v[i])).sum::<f64>();
                groups[g].push(sum(|o| o.0) / k.max(1) as f64);
                flip_groups[g].push(sum(|o| o.1) / k.max(1) as f64);
            }
        }
        let p95s: Vec<(f64, f64)> = groups
            .iter_mut()
            .zip(flip_groups.iter_mut())
            .map(|(g, f)| (quantile(g, 0.95), quantile(f, 0.95)))
            .collect();
        // The way in which the cluster's probes beat random probes put the same way most.
        let chosen = (0..ways.len())
            .reduce(|a, b| {
                let beat = |i: usize| mean(&firsts(&ours_by_way[i])) - p95s[i].0;
                if beat(b) > beat(a) { b } else { a }
            })
            .unwrap_or(0);
        let way = ways[chosen];
        let ours = &ours_by_way[chosen];
        let (effect, flips, interval) =
            (mean(&firsts(ours)), mean(&seconds(ours)), intervals[chosen]);
        let (null_p95, null_flips_p95) = p95s[chosen];
        let (null_mean, null_flips) = (
            mean(&firsts(&nulls[chosen])),
            mean(&seconds(&nulls[chosen])),
        );
        // The controls and the prototype, put in the same way.
        let mirrored_both = match how {
            Intervention::Paste => Some(each(&|p| (mirror_image(p, h, w), mask.mirrored()), way)?),
            _ => None,
        };
        let mirrored = mirrored_both.as_ref().map(|v| mean(&firsts(v)));
        let mirrored_flips = mirrored_both.as_ref().map(|v| mean(&seconds(v)));
        let swapped = each(&|p| (swap_colors(p, h * w), mask.clone()), way)?;
        let color_swapped = mean(&firsts(&swapped));
        let swapped_flips = mean(&seconds(&swapped));
        let (d, prototype_flips) = self.changes(prototype, mask, way, class)?;
        let prototype_effect = mean(&d);
        let prototype_interval = resample(&d, rng);
        // The controls' intervals, drawn after this cluster's other numbers.
        let mirrored_interval = mirrored_both.as_ref().map(|v| resample(&firsts(v), rng));
        let swapped_interval = Some(resample(&firsts(&swapped), rng));
        Ok(CausalTest {
            images: self.description.clone(),
            n: d.len(),
            intervention: how.name().into(),
            way: matches!(how, Intervention::Whole(_)).then(|| way.name().into()),
            blend: match how {
                Intervention::Whole(a) => Some(a),
                Intervention::Paste => None,
            },
            mask_share: mask.share(),
            members: k,
            probes: count,
            effect,
            interval,
            null_mean,
            null_p95,
            prototype_effect,
            prototype_interval,
            mirrored,
            color_swapped,
            mirrored_interval,
            swapped_interval,
            flips,
            null_flips,
            null_flips_p95,
            prototype_flips,
            mirrored_flips,
            swapped_flips,
            passes: k > 0
                && effect - null_p95 >= self.settings.min_effect
                && flips - null_flips_p95 >= self.settings.min_flips,
        })
    }
}

/// `count` of the `held` probes drawn at random: the probes of the causal test.
pub fn draw_probes(held: &[usize], count: usize, rng: &mut Rng) -> Vec<usize> {
    let mut ids: Vec<usize> = rand::seq::index::sample(rng, held.len(), count.min(held.len()))
        .into_iter()
        .map(|i| held[i])
        .collect();
    ids.sort_unstable();
    ids
}

/// Per-pixel median of `images` (`3 x h x w` each): the probes' background.
pub fn median_image(images: &Images) -> Vec<f32> {
    let len = images.image_len();
    let mut column = Vec::with_capacity(images.count);
    (0..len)
        .map(|i| {
            column.clear();
            column.extend((0..images.count).map(|k| images.image(k)[i]));
            column.sort_by(f32::total_cmp);
            column.get(column.len() / 2).copied().unwrap_or(0.0)
        })
        .collect()
}

#[cfg(test)]
mod tests;
