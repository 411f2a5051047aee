//! Is a cluster's mean probability more than chance? A permutation test per cluster, with a
//! Bonferroni correction across the clusters tested.

use crate::metrics::Probabilities;

/// Permutation test of each cluster's mean probability.
///
/// Null hypothesis: cluster membership says nothing about the classifier's probability. Under
/// it, a cluster's members are a random subset of the probes, so the probabilities are shuffled
/// across probes (the assignment kept) `permutations` times; a cluster's p-value is
/// `(1 + #{shuffled mean >= observed mean}) / (1 + permutations)`. Empty clusters get None.
pub fn permutation_pvalues(
    probs: &Probabilities,
    owners: &[usize],
    assignment: &[usize],
    permutations: usize,
    rng: &mut crate::seed::Rng,
) -> Vec<Option<f64>> {
    use rand::seq::SliceRandom;
    let n = probs.count();
    let m = owners.len();
    let mut sizes = vec![0usize; m];
    let mut observed = vec![0.0f64; m];
    for (i, &j) in assignment.iter().enumerate() {
        sizes[j] += 1;
        observed[j] += probs.get(i, owners[j]) as f64;
    }
    let mut exceed = vec![0usize; m];
    let mut perm: Vec<u32> = (0..n as u32).collect();
    let mut sums = vec![0.0f64; m];
    for _ in 0..permutations {
        perm.shuffle(rng);
        sums.iter_mut().for_each(|s| *s = 0.0);
        for (i, &j) in assignment.iter().enumerate() {
            sums[j] += probs.get(perm[i] as usize, owners[j]) as f64;
        }
        for j in 0..m {
            // Compare sums (same size): a tiny tolerance keeps exact ties as ties.
            if sizes[j] > 0 && sums[j] >= observed[j] - 1e-9 {
                exceed[j] += 1;
            }
        }
    }
    (0..m)
        .map(|j| (sizes[j] > 0).then(|| (1 + exceed[j]) as f64 / (1 + permutations) as f64))
        .collect()
}

/// Whether `p_value` passes level `alpha` after Bonferroni over `tested` clusters.
pub fn significant(p_value: Option<f64>, alpha: f64, tested: usize) -> bool {
    p_value.is_some_and(|p| p < alpha / tested.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_test_separates_a_real_cluster_from_a_shuffled_one() {
        use rand::SeedableRng;
        // 200 probes; p_1 is high for the first 100. Cluster 1 (class 1) holds exactly those:
        // significant. Cluster 2 (class 1) holds every other probe: a random half, not.
        let mut v = Vec::new();
        for i in 0..200 {
            let p1 = if i < 100 { 0.9 } else { 0.1 } + (i % 7) as f32 * 0.01;
            v.extend_from_slice(&[1.0 - p1, p1]);
        }
        let probs = Probabilities::new(2, v).unwrap();
        let real: Vec<usize> = (0..200).map(|i| if i < 100 { 1 } else { 0 }).collect();
        let mut rng = crate::seed::Rng::seed_from_u64(1);
        let p = permutation_pvalues(&probs, &[0, 1], &real, 999, &mut rng);
        assert!(p[1].unwrap() <= 0.001 + 1e-12, "{p:?}");
        let control: Vec<usize> = (0..200).map(|i| i % 2).collect();
        let p = permutation_pvalues(&probs, &[0, 1], &control, 999, &mut rng);
        assert!(p[1].unwrap() > 0.05, "{p:?}");
        let p = permutation_pvalues(&probs, &[0, 1, 1], &control, 99, &mut rng);
        assert_eq!(p[2], None);
    }
}
