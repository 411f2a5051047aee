//! Probe sets: images unrelated to the classifier's training data that still contain the
//! suspected pattern (step 1 of the method). The paper's probes are solid colours.
//!
//! Probe `i` of a set is a pure function of the set's seed and `i`, so a set of any size can be
//! generated in batches (or one probe regenerated later for a report) and always comes out the
//! same.

use rand::{Rng as _, SeedableRng};

use crate::data::Images;
use crate::seed::{self, Rng, Stream};

/// A built-in probe family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeFamily {
    /// Solid-colour images, RGB uniform in `[0, 1]^3` (the paper's probes).
    Solid,
}

/// A reproducible, lazily generated probe set.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub family: ProbeFamily,
    pub count: usize,
    pub height: usize,
    pub width: usize,
    /// Seed of this set; probe `i` is derived from it and `i`.
    pub seed: u64,
}

impl ProbeSpec {
    fn probe_rng(&self, i: usize) -> Rng {
        Rng::seed_from_u64(seed::derive(self.seed, Stream::Probes, &[i as u64]))
    }

    /// Probe `i` as a `3 x height x width` image.
    pub fn probe(&self, i: usize) -> Vec<f32> {
        let mut rng = self.probe_rng(i);
        let hw = self.height * self.width;
        match self.family {
            ProbeFamily::Solid => {
                let rgb: [f32; 3] = [rng.random(), rng.random(), rng.random()];
                rgb.iter()
                    .flat_map(|&c| std::iter::repeat_n(c, hw))
                    .collect()
            }
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

#[cfg(test)]
mod tests {
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
}
