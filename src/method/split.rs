//! The probes split in two: the VAE and the clusters are fitted on one part, and everything
//! the verdict uses is measured on the other, held out, so that no score rewards what was
//! fitted to it.

use rand::seq::SliceRandom;

use crate::seed::{SeedPath, Stream};

/// The two parts of a probe set, each a list of probe ids in increasing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub fit: Vec<usize>,
    pub held: Vec<usize>,
}

impl Split {
    /// A seeded split of `n` probes, `held_share` of them held out (at least one in each part
    /// when `n >= 2`).
    pub fn new(n: usize, held_share: f64, seeds: &SeedPath) -> Self {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut seeds.rng(Stream::Split));
        let held_n = if n < 2 {
            n
        } else {
            ((n as f64 * held_share).round() as usize).clamp(1, n - 1)
        };
        let (held, fit) = order.split_at(held_n);
        let mut held = held.to_vec();
        let mut fit = fit.to_vec();
        held.sort_unstable();
        fit.sort_unstable();
        Split { fit, held }
    }
}

/// Share of the probes held out.
pub const HELD_SHARE: f64 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_disjoint_complete_and_seeded() {
        let s = Split::new(101, 0.5, &SeedPath::root(3));
        assert_eq!(s.fit.len() + s.held.len(), 101);
        assert!(s.fit.iter().all(|i| !s.held.contains(i)));
        assert_eq!(s, Split::new(101, 0.5, &SeedPath::root(3)));
        assert_ne!(s, Split::new(101, 0.5, &SeedPath::root(4)));
        let tiny = Split::new(2, 0.5, &SeedPath::root(0));
        assert_eq!((tiny.fit.len(), tiny.held.len()), (1, 1));
    }
}
