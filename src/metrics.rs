//! Average cluster probability (ACP), the paper's score, with the references that make it
//! readable.
//!
//! **ACP.** Every probe belongs to its nearest centroid among all classes' centroids. A
//! cluster's score is the mean of `p_owner(x)` over its probes, where the owner is the class
//! whose weighted k-means produced the centroid. ACP is the mean of the cluster scores over
//! the clusters that received at least one probe (an empty cluster has no score; the number
//! of empty clusters is reported beside it).
//!
//! **Chance level.** The expected ACP if the probes were assigned at random with the same
//! cluster sizes: each cluster's expected score is then the mean of `p_owner` over all probes,
//! so chance is the mean of those over the same clusters. For two classes with one sigmoid
//! output this is 50% on a balanced probe set.
//!
//! **Ceiling.** The ACP of the partition that puts every probe in the cluster of its argmax
//! class (one cluster per class): what a clustering that reproduced the classifier's own
//! decision regions would score.
//!
//! **Normalised ACP** = (ACP - chance) / (ceiling - chance): 0 at chance, 1 at the ceiling.

use crate::error::{Error, Result};

/// Class probabilities of a set of probes: `count x classes`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Probabilities {
    pub classes: usize,
    pub values: Vec<f32>,
}

impl Probabilities {
    /// Wraps values after checking that each is a finite number in `[0, 1]`.
    pub fn new(classes: usize, values: Vec<f32>) -> Result<Self> {
        if classes == 0 || !values.len().is_multiple_of(classes) {
            return Err(Error::Invalid(format!(
                "classifier output has {} values, not a multiple of {classes} classes",
                values.len()
            )));
        }
        if let Some(i) = values
            .iter()
            .position(|v| !v.is_finite() || !(0.0..=1.0).contains(v))
        {
            return Err(Error::Invalid(format!(
                "classifier output for probe {} class {} is {}: expected a probability in [0, 1]",
                i / classes,
                i % classes,
                values[i]
            )));
        }
        Ok(Probabilities { classes, values })
    }

    pub fn count(&self) -> usize {
        self.values.len() / self.classes
    }

    /// `p_c(x_i)`.
    pub fn get(&self, i: usize, c: usize) -> f32 {
        self.values[i * self.classes + c]
    }

    /// The column `p_c` over all probes.
    pub fn column(&self, c: usize) -> Vec<f32> {
        (0..self.count()).map(|i| self.get(i, c)).collect()
    }

    /// The most probable class of probe `i` (the first one on ties).
    pub fn argmax(&self, i: usize) -> usize {
        let row = &self.values[i * self.classes..(i + 1) * self.classes];
        row.iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |b, (c, &p)| if p > b.1 { (c, p) } else { b },
            )
            .0
    }

    /// The rows of the given probes, in that order.
    pub fn select(&self, rows: &[usize]) -> Probabilities {
        Probabilities {
            classes: self.classes,
            values: rows
                .iter()
                .flat_map(|&i| &self.values[i * self.classes..(i + 1) * self.classes])
                .copied()
                .collect(),
        }
    }

    /// Mean of `p_c` over all probes.
    pub fn mean(&self, c: usize) -> f64 {
        (0..self.count())
            .map(|i| self.get(i, c) as f64)
            .sum::<f64>()
            / self.count() as f64
    }
}

/// Index of the nearest centroid (`centroids` is `m x dim`, row-major) for every point.
pub fn assign_nearest(points: &[f32], centroids: &[f32], dim: usize) -> Vec<usize> {
    let centers: Vec<f64> = centroids.iter().map(|&x| x as f64).collect();
    points
        .chunks_exact(dim)
        .map(|p| {
            centers
                .chunks_exact(dim)
                .map(|c| crate::kmeans::sq_dist(p, c))
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |b, (j, d)| if d < b.1 { (j, d) } else { b },
                )
                .0
        })
        .collect()
}

/// Score of one cluster.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterScore {
    /// Class whose weighted k-means produced this cluster.
    pub owner: usize,
    /// Probes whose nearest centroid (among all classes') is this one.
    pub size: usize,
    /// Mean of `p_owner` over those probes; `None` for an empty cluster.
    pub mean_probability: Option<f64>,
    /// Mean of `p_owner` over all probes: this cluster's expected score under chance.
    pub chance: f64,
}

/// ACP with its chance level and ceiling.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AcpScore {
    /// Average cluster probability over the non-empty clusters.
    pub acp: f64,
    /// Expected ACP for a random assignment with the same cluster sizes.
    pub chance: f64,
    /// ACP of the argmax partition (every probe with its most probable class).
    pub ceiling: f64,
    /// (acp - chance) / (ceiling - chance); `None` when ceiling equals chance.
    pub normalized_acp: Option<f64>,
    /// Clusters that received no probe (left out of the means).
    pub empty_clusters: usize,
    pub clusters: Vec<ClusterScore>,
}

/// Scores an assignment of probes to clusters. `owners[j]` is the class of cluster `j`,
/// `assignment[i]` the cluster of probe `i`.
pub fn score(probs: &Probabilities, owners: &[usize], assignment: &[usize]) -> Result<AcpScore> {
    let n = probs.count();
    if n == 0 {
        return Err(Error::Invalid("no probes to score".into()));
    }
    if assignment.len() != n {
        return Err(Error::Invalid(format!(
            "{} cluster assignments for {n} probes",
            assignment.len()
        )));
    }
    let mut sums = vec![0.0f64; owners.len()];
    let mut sizes = vec![0usize; owners.len()];
    for (i, &j) in assignment.iter().enumerate() {
        sums[j] += probs.get(i, owners[j]) as f64;
        sizes[j] += 1;
    }
    let clusters: Vec<ClusterScore> = owners
        .iter()
        .enumerate()
        .map(|(j, &owner)| ClusterScore {
            owner,
            size: sizes[j],
            mean_probability: (sizes[j] > 0).then(|| sums[j] / sizes[j] as f64),
            chance: probs.mean(owner),
        })
        .collect();
    let scored: Vec<&ClusterScore> = clusters.iter().filter(|c| c.size > 0).collect();
    let m = scored.len() as f64;
    let acp = scored
        .iter()
        .filter_map(|c| c.mean_probability)
        .sum::<f64>()
        / m;
    let chance = scored.iter().map(|c| c.chance).sum::<f64>() / m;
    let ceiling = ceiling(probs);
    let normalized_acp =
        ((ceiling - chance).abs() > 1e-12).then(|| (acp - chance) / (ceiling - chance));
    Ok(AcpScore {
        acp,
        chance,
        ceiling,
        normalized_acp,
        empty_clusters: clusters.len() - scored.len(),
        clusters,
    })
}

/// ACP of the argmax partition.
pub fn ceiling(probs: &Probabilities) -> f64 {
    let mut sums = vec![0.0f64; probs.classes];
    let mut sizes = vec![0usize; probs.classes];
    for i in 0..probs.count() {
        let c = probs.argmax(i);
        sums[c] += probs.get(i, c) as f64;
        sizes[c] += 1;
    }
    let scored: Vec<f64> = sums
        .iter()
        .zip(&sizes)
        .filter(|(_, n)| **n > 0)
        .map(|(s, &n)| s / n as f64)
        .collect();
    scored.iter().sum::<f64>() / scored.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes, four probes: p_1 = 0.9, 0.8, 0.3, 0.1 and p_0 = 1 - p_1.
    fn probs() -> Probabilities {
        Probabilities::new(2, vec![0.1, 0.9, 0.2, 0.8, 0.7, 0.3, 0.9, 0.1]).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn perfect_clustering_reaches_the_ceiling() {
        // Cluster 0 owned by class 0 gets probes 2, 3; cluster 1 (class 1) gets 0, 1.
        let s = score(&probs(), &[0, 1], &[1, 1, 0, 0]).unwrap();
        assert!(close(s.acp, (0.8 + 0.85) / 2.0), "{s:?}");
        assert!(close(s.ceiling, s.acp));
        assert!(close(s.chance, 0.5));
        assert!(close(s.normalized_acp.unwrap(), 1.0));
        assert_eq!(s.empty_clusters, 0);
    }

    #[test]
    fn inverted_clustering_scores_below_chance() {
        let s = score(&probs(), &[0, 1], &[0, 0, 1, 1]).unwrap();
        assert!(close(s.acp, (0.15 + 0.2) / 2.0));
        assert!(s.normalized_acp.unwrap() < 0.0);
    }

    #[test]
    fn empty_clusters_are_left_out_and_counted() {
        // Everything in class 1's cluster: score = mean p_1 = chance for that cluster.
        let s = score(&probs(), &[0, 1], &[1, 1, 1, 1]).unwrap();
        assert_eq!(s.empty_clusters, 1);
        assert!(close(s.acp, 0.525));
        assert!(close(s.chance, 0.525));
        assert_eq!(s.clusters[0].mean_probability, None);
        assert!(close(s.normalized_acp.unwrap(), 0.0));
    }

    #[test]
    fn several_clusters_per_class_each_count_once() {
        // Class 1 owns clusters 1 and 2; probe 0 alone in cluster 2.
        let s = score(&probs(), &[0, 1, 1], &[2, 1, 0, 0]).unwrap();
        assert!(close(s.acp, (0.8 + 0.8 + 0.9) / 3.0));
        assert!(close(s.chance, (0.475 + 0.525 + 0.525) / 3.0));
    }

    #[test]
    fn nan_or_out_of_range_probabilities_are_rejected() {
        let e = Probabilities::new(2, vec![0.5, f32::NAN])
            .unwrap_err()
            .to_string();
        assert!(e.contains("probe 0 class 1") && e.contains("NaN"), "{e}");
        assert!(Probabilities::new(1, vec![1.5]).is_err());
        assert!(Probabilities::new(2, vec![0.5]).is_err());
    }

    #[test]
    fn nearest_centroid_assignment() {
        let a = assign_nearest(&[0.0, 0.0, 5.0, 5.0, 1.0, 0.0], &[0.0, 0.0, 4.0, 4.0], 2);
        assert_eq!(a, vec![0, 1, 0]);
    }
}
