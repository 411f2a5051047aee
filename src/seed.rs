//! Every random choice in spurion flows from one user seed.
//!
//! Components do not share one random stream (that would make results depend on the order in
//! which parallel work runs). Instead each component derives its own seed from the user seed
//! and a path naming what it is for (`trial 3 / vae / latent dim 5`), with a SplitMix64 hash,
//! and owns a ChaCha8 generator seeded from it. Same seed, same machine: same report.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random generator type passed into every randomised step.
pub type Rng = ChaCha8Rng;

/// What a derived random stream is used for. Adding a variant never changes the streams of
/// the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Shuffling and splitting the labelled data.
    DataSplit = 1,
    /// Classifier weight initialisation.
    ClassifierInit = 2,
    /// Classifier mini-batch order.
    ClassifierBatches = 3,
    /// Probe generation.
    Probes = 4,
    /// VAE weight initialisation.
    VaeInit = 5,
    /// VAE mini-batch order and reparameterisation noise.
    VaeTraining = 6,
    /// Sampled latents (`--latent sample`).
    LatentSample = 7,
    /// K-means seeding.
    KMeans = 8,
    /// Permutation tests.
    Permutation = 9,
    /// Anything a test or benchmark needs.
    Test = 10,
    /// Choosing held-out images for the causal check.
    Holdout = 11,
    /// Splitting the probes into the part the clusters are fitted on and the held-out part.
    Split = 12,
    /// The causal test's bootstrap.
    Causal = 13,
    /// The random probes of the causal test's null.
    CausalNull = 14,
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Derives a seed from the user seed, a stream and a path of indices (trial, dim, class, ...).
pub fn derive(seed: u64, stream: Stream, path: &[u64]) -> u64 {
    let mut h = splitmix64(seed ^ 0x5350_5552_494F_4E00); // "SPURION\0"
    h = splitmix64(h ^ stream as u64);
    for &p in path {
        h = splitmix64(h ^ p);
    }
    h
}

/// A generator for the given stream and path.
pub fn rng(seed: u64, stream: Stream, path: &[u64]) -> Rng {
    Rng::seed_from_u64(derive(seed, stream, path))
}

/// A place in the tree of random streams: the user seed and a path of indices (trial, latent
/// dimension, class, ...). Each step of the method takes the place it works at and derives
/// the generators it needs from it, so no two steps share a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeedPath {
    pub seed: u64,
    pub path: Vec<u64>,
}

impl SeedPath {
    /// The root of the tree for a user seed.
    pub fn root(seed: u64) -> Self {
        SeedPath {
            seed,
            path: Vec::new(),
        }
    }

    /// The place below this one at index `i`.
    pub fn child(&self, i: u64) -> Self {
        let mut path = self.path.clone();
        path.push(i);
        SeedPath {
            seed: self.seed,
            path,
        }
    }

    /// The seed of `stream` here.
    pub fn derive(&self, stream: Stream) -> u64 {
        derive(self.seed, stream, &self.path)
    }

    /// A generator for `stream` here.
    pub fn rng(&self, stream: Stream) -> Rng {
        rng(self.seed, stream, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_stream_and_path() {
        let a = derive(0, Stream::Probes, &[0]);
        assert_ne!(a, derive(0, Stream::Probes, &[1]));
        assert_ne!(a, derive(0, Stream::VaeInit, &[0]));
        assert_ne!(a, derive(1, Stream::Probes, &[0]));
        assert_eq!(a, derive(0, Stream::Probes, &[0]));
        assert_eq!(SeedPath::root(0).child(0).derive(Stream::Probes), a);
    }
}
