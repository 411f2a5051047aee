//! Everything the method says about one latent space, computed without touching the disk.
//!
//! The clusters were fitted on one part of the probes; everything here is measured on the
//! other, held-out part: ACP, each cluster's mean probability with its interval and its
//! permutation test ([`super::significance`]), the weight shares and descriptions. Each
//! cluster's prototype (its decoded centroid) is tested on real images ([`super::causal`]),
//! and [`super::verdict`] turns the numbers into a finding per class. The 2-D view covers all
//! probes. [`crate::report`] renders it.

use super::causal::{CausalInput, Mask, median_image};
use super::cluster::{ClusterStats, MaskSummary, SIGNIFICANCE_LEVEL};
use super::describe::{self, Position};
use super::projection::Projection;
use super::search::{Latents, Shortcuts, class_weights};
use super::significance::{self, ClusterTest};
use super::verdict::{self, ClassReach, Finding};
use crate::data::Images;
use crate::error::Result;
use crate::kmeans::sq_dist;
use crate::metrics::{self, AcpScore, Probabilities};
use crate::seed::{SeedPath, Stream};

/// How many probes nearest each centroid the report shows.
pub const NEAREST_PROBES: usize = 8;

/// How many of a cluster's heaviest held-out probes make its member image (what its mask is
/// found in, and the prototype when there is no decoder).
pub const MEMBER_IMAGES: usize = 16;
/// Largest side of the nearest probes kept for the report.
const REPORT_SIDE: usize = 64;

/// How many held-out probes make the probes' background (their per-pixel median).
const BACKGROUND_PROBES: usize = 101;

/// Decodes a centroid into a prototype image.
pub type Decoder<'a> = &'a dyn Fn(&[f32]) -> Result<Images>;

/// What [`analyse`] needs about one latent space.
pub struct RunInput<'a> {
    pub class_names: &'a [String],
    /// Probabilities of every probe.
    pub probs: &'a Probabilities,
    /// Latents of every probe.
    pub latents: &'a Latents,
    /// The held-out probes (ids, increasing): everything is measured on them.
    pub held: &'a [usize],
    /// The clusters, fitted on the other probes.
    pub shortcuts: &'a Shortcuts,
    /// Probes weigh `p_c^weight_exponent`.
    pub weight_exponent: f64,
    /// Decodes latent points (`count x dim`) into images: the prototypes. None (a baseline
    /// without a decoder): each cluster's prototype is its heaviest probes' mean.
    pub decode: Option<Decoder<'a>>,
    /// Returns the probe images with the given ids.
    pub probe_images: &'a dyn Fn(&[usize]) -> Result<Images>,
    /// The kind of a probe where a set mixes several (see
    /// [`describe::ClusterDescription::part`]); None for every probe otherwise.
    pub probe_part: &'a dyn Fn(usize) -> Option<&'static str>,
    /// Permutations of the significance test (0: no test).
    pub permutations: usize,
    /// Where the generators of the tests come from.
    pub seeds: &'a SeedPath,
    /// Held-out real images and the classifier, for the causal test (None: skipped).
    pub causal: Option<&'a CausalInput<'a>>,
}

/// The analysis of one latent space.
#[derive(Debug, Clone, PartialEq)]
pub struct RunAnalysis {
    /// Nearest centroid of every probe.
    pub assignment: Vec<usize>,
    /// Whether each probe is held out.
    pub held_out: Vec<bool>,
    /// ACP and its references on the held-out probes.
    pub score: AcpScore,
    pub clusters: Vec<ClusterStats>,
    /// Per class: how well the held-out probes reach it.
    pub reach: Vec<ClassReach>,
    /// One finding per class.
    pub findings: Vec<Finding>,
    /// Prototypes, one image per cluster.
    pub prototypes: Images,
    /// The held-out probes nearest each centroid, one batch per cluster.
    pub nearest: Vec<Images>,
    /// Each class's probe weights `p_c^e` (every probe), class by class.
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

/// Statistics, tests, descriptions, prototypes and the 2-D view of one latent space's
/// clusters, and the finding for each class.
pub fn analyse(input: &RunInput) -> Result<RunAnalysis> {
    let s = input.shortcuts;
    let dim = s.dim;
    let classes = input.class_names.len();
    let points = input.latents.as_slice();
    let n_all = input.probs.count();
    let m = s.owners.len();
    let held = input.held;
    let held_latents = input.latents.select(held);
    let held_probs = input.probs.select(held);
    let assignment = metrics::assign_nearest(points, &s.centroids, dim);
    let held_assignment: Vec<usize> = held.iter().map(|&i| assignment[i]).collect();
    let score = metrics::score(&held_probs, &s.owners, &held_assignment)?;
    let tests = significance::test_clusters(
        &held_probs,
        &s.owners,
        &held_assignment,
        input.permutations,
        &mut input.seeds.rng(Stream::Permutation),
    );
    let class_weights: Vec<Vec<f32>> = (0..classes)
        .map(|c| class_weights(input.probs, c, input.weight_exponent))
        .collect();
    // Held-out members of each cluster, heaviest first.
    let members: Vec<Vec<usize>> = (0..m)
        .map(|j| {
            let w = &class_weights[s.owners[j]];
            let mut ids: Vec<usize> = held
                .iter()
                .copied()
                .filter(|&i| assignment[i] == j)
                .collect();
            ids.sort_by(|&a, &b| w[b].total_cmp(&w[a]).then(a.cmp(&b)));
            ids
        })
        .collect();
    // The mean of a cluster's heaviest held-out probes, at the probes' size (the prototype of a
    // baseline without a decoder). The loop below makes each cluster's when it needs it, as a
    // model with many classes and large inputs (1000 x 224 x 224) would not hold them all.
    let member_mean = |ids: &[usize]| -> Result<Images> {
        let imgs = (input.probe_images)(&ids[..ids.len().min(MEMBER_IMAGES)])?;
        let mut out = Images::empty(imgs.channels, imgs.height, imgs.width);
        if imgs.count > 0 {
            out.push(&imgs.mean());
        }
        Ok(out)
    };
    // Prototypes: decoded centroids, or the member means for a baseline without a decoder.
    let prototypes = match input.decode {
        Some(decode) => decode(&s.centroids)?,
        None => {
            let member_means: Vec<Images> = members
                .iter()
                .map(|ids| member_mean(ids))
                .collect::<Result<_>>()?;
            let first = member_means.iter().find(|i| i.count > 0);
            let (c, h, w) = first.map_or((3, 1, 1), |i| (i.channels, i.height, i.width));
            let mut out = Images::empty(c, h, w);
            for mm in &member_means {
                match mm.count {
                    0 => out.push(&vec![0.0; c * h * w]),
                    _ => out.push(mm.image(0)),
                }
            }
            out
        }
    };
    let sample: Vec<usize> = held
        .iter()
        .copied()
        .step_by((held.len() / BACKGROUND_PROBES).max(1))
        .take(BACKGROUND_PROBES)
        .collect();
    let background_probes = (input.probe_images)(&sample)?;
    let (h, w) = (background_probes.height, background_probes.width);
    let background = median_image(&background_probes);
    let held_points = held_latents.as_slice();
    let mut causal_rng = input.seeds.rng(Stream::Causal);
    let mut clusters = Vec::with_capacity(m);
    let mut nearest_images = Vec::with_capacity(m);
    for (j, &owner) in s.owners.iter().enumerate() {
        let centroid = s.centroid(j).to_vec();
        let nearest: Vec<usize> = nearest_points(held_points, dim, &centroid, NEAREST_PROBES)
            .into_iter()
            .map(|k| held[k])
            .collect();
        // The report shows them as thumbnails: kept at most REPORT_SIDE pixels a side.
        let near = (input.probe_images)(&nearest)?;
        let scale = (REPORT_SIDE as f64 / near.height.max(near.width) as f64).min(1.0);
        nearest_images.push(near.resize(
            ((near.height as f64 * scale).round() as usize).max(1),
            ((near.width as f64 * scale).round() as usize).max(1),
        ));
        let weights = &class_weights[owner];
        let total: f64 = held.iter().map(|&i| weights[i] as f64).sum();
        let mine: f64 = members[j].iter().map(|&i| weights[i] as f64).sum();
        // The prototype and the members at the probes' size, for the mask and the test.
        let pattern = prototypes.slice(j, j + 1).resize(h, w).data;
        // The heaviest held-out members, read once: their mean makes the mask and the
        // description's position, and they are what the causal test pastes.
        let heaviest = &members[j][..members[j].len().min(MEMBER_IMAGES)];
        let member_images = (input.probe_images)(heaviest)?;
        let member_mean_j = (member_images.count > 0).then(|| {
            let mut one = Images::empty(member_images.channels, h, w);
            one.push(&member_images.mean());
            one
        });
        let member_image = member_mean_j.as_ref().map(|m| m.image(0));
        let description = describe::describe_cluster(
            members[j].clone(),
            weights,
            input.probe_images,
            input.probe_part,
            &prototypes,
            j,
            member_mean_j.as_ref(),
        )?;
        let mask = Mask::of_cluster(&pattern, member_image, &background, h, w);
        let summary = MaskSummary {
            share: mask.share(),
            centre: mask.centre().map(|(y, x)| [y, x]),
            position: mask.centre().map(|(y, x)| Position::of(y, x)),
            color: mask.mean_color(member_image.unwrap_or(&pattern)),
        };
        let causal = match input.causal {
            Some(ci) if mask.share() > 0.0 && ci.images.height == h && ci.images.width == w => {
                Some(ci.test(&pattern, &member_images, &mask, owner, &mut causal_rng)?)
            }
            _ => None,
        };
        let t: &ClusterTest = &tests[j];
        clusters.push(ClusterStats {
            class: owner,
            class_name: input.class_names[owner].clone(),
            index: s.index_in_class(j),
            size: t.n,
            mean_probability: t.mean_probability,
            interval: t.interval,
            chance: t.chance,
            weight_share: if total > 0.0 { mine / total } else { 0.0 },
            centroid,
            nearest_probes: nearest,
            z: t.z,
            p_value: t.p_value,
            p_interval: t.p_interval,
            significant: t.p_value.is_some_and(|p| p < SIGNIFICANCE_LEVEL),
            mask: summary,
            causal,
            description,
        });
    }
    let reach: Vec<ClassReach> = (0..classes)
        .map(|c| ClassReach::of(&held_probs, c))
        .collect();
    let findings = verdict::findings(
        input.class_names,
        &clusters,
        &reach,
        input
            .causal
            .map(|c| (c.settings.min_effect, c.settings.min_flips)),
    );
    let projection = Projection::fit(points, dim);
    let xy = projection.apply_all(points);
    let centroids_xy = s
        .centroids
        .chunks_exact(dim)
        .map(|p| projection.apply(p))
        .collect();
    let held_set: std::collections::HashSet<usize> = held.iter().copied().collect();
    Ok(RunAnalysis {
        assignment,
        held_out: (0..n_all).map(|i| held_set.contains(&i)).collect(),
        score,
        clusters,
        reach,
        findings,
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
