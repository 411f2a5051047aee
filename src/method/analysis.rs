//! Everything the method says about one latent space, computed without touching the disk:
//! the clusters of step 4 with their statistics (permutation p-values, causal checks, weight
//! shares, descriptions), the decoded prototypes and the probes nearest each centroid, and
//! the 2-D view of the latents. [`crate::report`] renders it.

use super::causal::{CausalCheck, CausalChecks, CausalInput};
use super::describe::{self, ClusterDescription};
use super::projection::Projection;
use super::search::{Latents, Shortcuts, class_weights};
use super::significance;
use crate::data::Images;
use crate::error::Result;
use crate::kmeans::sq_dist;
use crate::metrics::Probabilities;
use crate::seed::{SeedPath, Stream};

/// How many probes nearest each centroid the report shows.
pub const NEAREST_PROBES: usize = 8;

/// Level of the significance test (before the Bonferroni correction).
pub const SIGNIFICANCE_LEVEL: f64 = 0.05;

/// One cluster and what the method found out about it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterStats {
    /// Class whose weighted k-means produced this cluster (its owner).
    pub class: usize,
    pub class_name: String,
    /// Index among its class's clusters (0-based).
    pub index: usize,
    /// Probes whose nearest centroid (among all classes') is this one.
    pub size: usize,
    /// Mean probability of the owner class over those probes; null for an empty cluster.
    pub mean_probability: Option<f64>,
    /// Mean probability of the owner class over all probes (this cluster's chance level).
    pub chance: f64,
    /// Share of the owner class's total probe weight (`p^e`) held by this cluster's probes.
    pub weight_share: f64,
    /// Centroid in latent space.
    pub centroid: Vec<f32>,
    /// Ids of the probes nearest the centroid, nearest first.
    pub nearest_probes: Vec<usize>,
    /// Permutation-test p-value of `mean_probability` (probabilities shuffled across probes);
    /// null for an empty cluster or when no test was run.
    pub p_value: Option<f64>,
    /// `p_value` below 0.05 divided by the number of clusters tested (Bonferroni).
    pub significant: bool,
    /// Blending the prototype into held-out real images: how often predictions flip to this
    /// cluster's class. Null when no held-out images were available.
    pub causal: Option<CausalCheck>,
    /// The cluster in words.
    pub description: ClusterDescription,
}

/// What [`analyse`] needs about one latent space.
pub struct RunInput<'a> {
    pub class_names: &'a [String],
    pub probs: &'a Probabilities,
    pub latents: &'a Latents,
    pub shortcuts: &'a Shortcuts,
    /// Probes weigh `p_c^weight_exponent`.
    pub weight_exponent: f64,
    /// Decodes latent points (`count x dim`) into images: the prototypes.
    pub decode: &'a dyn Fn(&[f32]) -> Result<Images>,
    /// Returns the probe images with the given ids.
    pub probe_images: &'a dyn Fn(&[usize]) -> Result<Images>,
    /// Permutations of the significance test (0: no test).
    pub permutations: usize,
    /// Where the significance test's generator comes from.
    pub seeds: &'a SeedPath,
    /// Held-out real images and the classifier, for the causal check (None: skipped).
    pub causal: Option<&'a CausalInput<'a>>,
}

/// The analysis of one latent space.
#[derive(Debug, Clone, PartialEq)]
pub struct RunAnalysis {
    pub clusters: Vec<ClusterStats>,
    /// Decoded centroids, one image per cluster.
    pub prototypes: Images,
    /// The probes nearest each centroid, one batch per cluster.
    pub nearest: Vec<Images>,
    /// Each class's probe weights `p_c^e`, class by class.
    pub class_weights: Vec<Vec<f32>>,
    pub projection: Projection,
    /// Every probe in the 2-D view.
    pub xy: Vec<[f64; 2]>,
    /// Every centroid in the 2-D view.
    pub centroids_xy: Vec<[f64; 2]>,
}

/// Indices of the `n` points nearest `center`, nearest first (ties by index).
pub fn nearest_points(points: &[f32], dim: usize, center: &[f32], n: usize) -> Vec<usize> {
    let c: Vec<f64> = center.iter().map(|&x| x as f64).collect();
    let mut d: Vec<(f64, usize)> = points
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, p)| (sq_dist(p, &c), i))
        .collect();
    let n = n.min(d.len());
    if n == 0 {
        return Vec::new();
    }
    d.select_nth_unstable_by(n - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.truncate(n);
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.into_iter().map(|(_, i)| i).collect()
}

/// Statistics, descriptions, prototypes and the 2-D view of one latent space's clusters.
pub fn analyse(input: &RunInput) -> Result<RunAnalysis> {
    let s = input.shortcuts;
    let dim = s.dim;
    let points = input.latents.as_slice();
    let m = s.owners.len();
    let prototypes = (input.decode)(&s.centroids)?;
    let p_values = if input.permutations > 0 {
        significance::permutation_pvalues(
            input.probs,
            &s.owners,
            &s.assignment,
            input.permutations,
            &mut input.seeds.rng(Stream::Permutation),
        )
    } else {
        vec![None; m]
    };
    let tested = p_values.iter().filter(|p| p.is_some()).count();
    let class_weights: Vec<Vec<f32>> = (0..input.class_names.len())
        .map(|c| class_weights(input.probs, c, input.weight_exponent))
        .collect();
    let mut causal = input
        .causal
        .map(|ci| CausalChecks::new(ci, input.class_names.len()));
    let mut clusters = Vec::with_capacity(m);
    let mut nearest_images = Vec::with_capacity(m);
    for (j, &owner) in s.owners.iter().enumerate() {
        let centroid = s.centroid(j).to_vec();
        let nearest = nearest_points(points, dim, &centroid, NEAREST_PROBES);
        nearest_images.push((input.probe_images)(&nearest)?);
        let weights = &class_weights[owner];
        let members: Vec<usize> = (0..s.assignment.len())
            .filter(|&i| s.assignment[i] == j)
            .collect();
        let description =
            describe::describe_cluster(members, weights, input.probe_images, &prototypes, j)?;
        let total: f64 = weights.iter().map(|&w| w as f64).sum();
        let mine: f64 = s
            .assignment
            .iter()
            .zip(weights)
            .filter(|&(&a, _)| a == j)
            .map(|(_, &w)| w as f64)
            .sum();
        let score = &s.score.clusters[j];
        clusters.push(ClusterStats {
            p_value: p_values[j],
            significant: significance::significant(p_values[j], SIGNIFICANCE_LEVEL, tested),
            causal: match causal.as_mut() {
                Some(c) => Some(c.check(&prototypes, j, owner)?),
                None => None,
            },
            class: owner,
            class_name: input.class_names[owner].clone(),
            index: s.index_in_class(j),
            size: score.size,
            mean_probability: score.mean_probability,
            chance: score.chance,
            weight_share: if total > 0.0 { mine / total } else { 0.0 },
            centroid,
            nearest_probes: nearest,
            description,
        });
    }
    let projection = Projection::fit(points, dim);
    let xy = projection.apply_all(points);
    let centroids_xy = s
        .centroids
        .chunks_exact(dim)
        .map(|p| projection.apply(p))
        .collect();
    Ok(RunAnalysis {
        clusters,
        prototypes,
        nearest: nearest_images,
        class_weights,
        projection,
        xy,
        centroids_xy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_points_are_sorted_by_distance() {
        let pts = [5.0f32, 1.0, 3.0, 0.0, 2.0];
        assert_eq!(nearest_points(&pts, 1, &[2.2], 3), vec![4, 2, 1]);
        assert_eq!(nearest_points(&pts, 1, &[0.0], 10).len(), 5);
    }
}
