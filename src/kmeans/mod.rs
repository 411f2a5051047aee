//! Weighted k-means: step 4 of the method.
//!
//! For each class c the paper runs K-means over the probes' latents with every probe weighted
//! by `p_c(x)^2`, so the centroids settle where the classifier is confident about c. The
//! common Rust crates ignore sample weights, so this is our own implementation: weighted
//! k-means++ seeding (greedy, `2 + ln k` candidates per step, as scikit-learn does), Lloyd
//! iterations on weighted means, empty clusters re-seeded at the point that costs the most,
//! several restarts keeping the lowest weighted inertia. It is checked against scikit-learn's
//! `KMeans(sample_weight=...)` in the tests (script: `scripts/kmeans_reference.py`).
//!
//! Settings first, then [`KMeansParams::check`], then [`KMeansParams::fit`]; the random
//! generator is passed in.

mod errors;
mod hyperparams;

pub use errors::KMeansError;
pub use hyperparams::KMeansParams;

use rand::{Rng as _, SeedableRng};
use rayon::prelude::*;

use crate::seed::Rng;

/// The result of weighted k-means.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// Point dimension.
    pub dim: usize,
    /// `k x dim` centroids, row-major.
    pub centroids: Vec<f32>,
    /// Nearest centroid of each point.
    pub labels: Vec<usize>,
    /// Total weight of the points in each cluster.
    pub cluster_weights: Vec<f64>,
    /// Sum over points of `weight * squared distance to its centroid`.
    pub inertia: f64,
    /// Lloyd iterations of the kept restart.
    pub iterations: usize,
}

impl KMeansFit {
    /// Centroid `j`.
    #[cfg(test)]
    pub fn centroid(&self, j: usize) -> &[f32] {
        &self.centroids[j * self.dim..(j + 1) * self.dim]
    }
}

#[inline]
pub(crate) fn sq_dist(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &c)| {
            let d = x as f64 - c;
            d * d
        })
        .sum()
}

/// Index of the nearest centre and its squared distance.
#[inline]
fn nearest(p: &[f32], centers: &[f64], dim: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centers.chunks_exact(dim).enumerate() {
        let d = sq_dist(p, c);
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

/// Samples an index with probability proportional to `w` (which has a positive sum).
fn sample_weighted(w: &[f64], total: f64, rng: &mut Rng) -> usize {
    let mut target = rng.random::<f64>() * total;
    for (i, &x) in w.iter().enumerate() {
        if target < x {
            return i;
        }
        target -= x;
    }
    // Rounding: the last index with positive weight.
    w.iter().rposition(|&x| x > 0.0).unwrap_or(0)
}

struct Data<'a> {
    points: &'a [f32],
    dim: usize,
    weights: &'a [f32],
}

impl Data<'_> {
    fn n(&self) -> usize {
        self.weights.len()
    }
    fn point(&self, i: usize) -> &[f32] {
        &self.points[i * self.dim..(i + 1) * self.dim]
    }
}

/// Greedy weighted k-means++.
fn seed_centers(data: &Data, k: usize, rng: &mut Rng) -> Vec<f64> {
    let n = data.n();
    let w: Vec<f64> = data.weights.iter().map(|&x| x as f64).collect();
    let total_w: f64 = w.iter().sum();
    let first = sample_weighted(&w, total_w, rng);
    let mut centers: Vec<f64> = data.point(first).iter().map(|&x| x as f64).collect();
    let mut closest: Vec<f64> = (0..n).map(|i| sq_dist(data.point(i), &centers)).collect();
    let trials = 2 + (k as f64).ln() as usize;
    for _ in 1..k {
        let pot: Vec<f64> = closest.iter().zip(&w).map(|(d, w)| d * w).collect();
        let total: f64 = pot.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let cand = if total > 0.0 {
                sample_weighted(&pot, total, rng)
            } else {
                sample_weighted(&w, total_w, rng)
            };
            let c: Vec<f64> = data.point(cand).iter().map(|&x| x as f64).collect();
            let new_closest: Vec<f64> = (0..n)
                .map(|i| closest[i].min(sq_dist(data.point(i), &c)))
                .collect();
            let new_pot: f64 = new_closest.iter().zip(&w).map(|(d, w)| d * w).sum();
            if best.as_ref().is_none_or(|b| new_pot < b.0) {
                best = Some((new_pot, cand, new_closest));
            }
        }
        let (_, cand, new_closest) = best.expect("at least two trials");
        centers.extend(data.point(cand).iter().map(|&x| x as f64));
        closest = new_closest;
    }
    centers
}

struct Run {
    centers: Vec<f64>,
    iterations: usize,
}

fn lloyd(data: &Data, mut centers: Vec<f64>, params: &KMeansParams, tol: f64) -> Run {
    let (dim, k, n) = (data.dim, params.k, data.n());
    let mut iterations = 0;
    let mut sums = vec![0.0f64; k * dim];
    let mut mass = vec![0.0f64; k];
    let mut cost = vec![0.0f64; n];
    for _ in 0..params.max_iter {
        iterations += 1;
        sums.iter_mut().for_each(|s| *s = 0.0);
        mass.iter_mut().for_each(|m| *m = 0.0);
        for (i, cost) in cost.iter_mut().enumerate() {
            let p = data.point(i);
            let (j, d) = nearest(p, &centers, dim);
            let w = data.weights[i] as f64;
            *cost = w * d;
            if w > 0.0 {
                mass[j] += w;
                for (s, &x) in sums[j * dim..(j + 1) * dim].iter_mut().zip(p) {
                    *s += w * x as f64;
                }
            }
        }
        let mut new_centers = vec![0.0f64; k * dim];
        for j in 0..k {
            let c = &mut new_centers[j * dim..(j + 1) * dim];
            if mass[j] > 0.0 {
                for (c, s) in c.iter_mut().zip(&sums[j * dim..(j + 1) * dim]) {
                    *c = s / mass[j];
                }
            } else {
                // Empty cluster: re-seed at the point that currently costs the most.
                let far = (0..n)
                    .max_by(|&a, &b| cost[a].total_cmp(&cost[b]))
                    .expect("n > 0");
                cost[far] = 0.0;
                for (c, &x) in c.iter_mut().zip(data.point(far)) {
                    *c = x as f64;
                }
            }
        }
        let shift: f64 = centers
            .iter()
            .zip(&new_centers)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        centers = new_centers;
        if shift <= tol {
            break;
        }
    }
    Run {
        centers,
        iterations,
    }
}

impl KMeansParams {
    fn check_data(&self, data: &Data) -> Result<(), KMeansError> {
        if data.dim == 0 {
            return Err(KMeansError::ZeroDimension);
        }
        if data.points.len() != data.n() * data.dim {
            return Err(KMeansError::ShapeMismatch(format!(
                "{} coordinates for {} weights of dimension {}",
                data.points.len(),
                data.n(),
                data.dim
            )));
        }
        if self.k > data.n() {
            return Err(KMeansError::KExceedsSamples {
                k: self.k,
                n: data.n(),
            });
        }
        if let Some(index) = data.points.iter().position(|x| !x.is_finite()) {
            return Err(KMeansError::NonFiniteData {
                index: index / data.dim,
            });
        }
        if let Some((index, &value)) = data
            .weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(KMeansError::InvalidWeight { index, value });
        }
        let positive = data.weights.iter().filter(|&&w| w > 0.0).count();
        if positive < self.k {
            return Err(KMeansError::TooFewWeightedPoints {
                k: self.k,
                positive,
            });
        }
        Ok(())
    }

    /// Clusters `points` (`n x dim`, row-major) with one weight per point.
    pub fn fit(
        &self,
        points: &[f32],
        dim: usize,
        weights: &[f32],
        rng: &mut Rng,
    ) -> Result<KMeansFit, KMeansError> {
        self.check()?;
        let data = Data {
            points,
            dim,
            weights,
        };
        self.check_data(&data)?;
        let tol = self.tolerance * weighted_mean_variance(&data);
        // Restarts run in parallel, each from its own seed drawn here in order, so the result
        // does not depend on scheduling; ties go to the earliest restart.
        let seeds: Vec<u64> = (0..self.restarts).map(|_| rng.random()).collect();
        let runs: Vec<(f64, Run)> = seeds
            .par_iter()
            .map(|&s| {
                let mut r = Rng::seed_from_u64(s);
                let run = lloyd(&data, seed_centers(&data, self.k, &mut r), self, tol);
                (assign(&data, &run.centers).2, run)
            })
            .collect();
        let (_, run) = runs
            .into_iter()
            .reduce(|best, next| if next.0 < best.0 { next } else { best })
            .expect("restarts >= 1");
        Ok(self.finish(&data, run))
    }

    /// Runs Lloyd iterations from given initial centroids (`k x dim`), without seeding or
    /// restarts. Used to compare with a reference implementation started at the same place.
    #[cfg(test)]
    pub fn fit_from(
        &self,
        points: &[f32],
        dim: usize,
        weights: &[f32],
        init: &[f32],
    ) -> Result<KMeansFit, KMeansError> {
        self.check()?;
        let data = Data {
            points,
            dim,
            weights,
        };
        self.check_data(&data)?;
        if init.len() != self.k * dim {
            return Err(KMeansError::ShapeMismatch(format!(
                "{} initial coordinates for k = {} of dimension {dim}",
                init.len(),
                self.k
            )));
        }
        let tol = self.tolerance * weighted_mean_variance(&data);
        let init = init.iter().map(|&x| x as f64).collect();
        let run = lloyd(&data, init, self, tol);
        Ok(self.finish(&data, run))
    }

    fn finish(&self, data: &Data, run: Run) -> KMeansFit {
        let (labels, cluster_weights, inertia) = assign(data, &run.centers);
        KMeansFit {
            dim: data.dim,
            centroids: run.centers.iter().map(|&x| x as f32).collect(),
            labels,
            cluster_weights,
            inertia,
            iterations: run.iterations,
        }
    }
}

/// Labels, per-cluster weight, inertia.
fn assign(data: &Data, centers: &[f64]) -> (Vec<usize>, Vec<f64>, f64) {
    let k = centers.len() / data.dim;
    let mut labels = Vec::with_capacity(data.n());
    let mut weights = vec![0.0; k];
    let mut inertia = 0.0;
    for i in 0..data.n() {
        let (j, d) = nearest(data.point(i), centers, data.dim);
        let w = data.weights[i] as f64;
        labels.push(j);
        weights[j] += w;
        inertia += w * d;
    }
    (labels, weights, inertia)
}

fn weighted_mean_variance(data: &Data) -> f64 {
    let dim = data.dim;
    let total: f64 = data.weights.iter().map(|&w| w as f64).sum();
    let mut mean = vec![0.0f64; dim];
    for i in 0..data.n() {
        let w = data.weights[i] as f64;
        for (m, &x) in mean.iter_mut().zip(data.point(i)) {
            *m += w * x as f64 / total;
        }
    }
    let mut var = 0.0;
    for i in 0..data.n() {
        var += data.weights[i] as f64 * sq_dist(data.point(i), &mean) / total;
    }
    var / dim as f64
}

#[cfg(test)]
mod tests;
