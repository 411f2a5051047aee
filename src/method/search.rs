//! Step 4 of the method: for each class c, k-means over the probes' latents with each probe
//! weighted by `p_c(x)^e` (e = 2 in the paper). The centroids of class c mark the regions of
//! input space that drive it; every probe then joins its nearest centroid among all classes'
//! centroids, and ACP scores the result ([`crate::metrics`]).
//!
//! In the style of linfa: [`ShortcutSearchParams`] are checked into a [`ShortcutSearch`],
//! which is fitted on [`Latents`] and [`Probabilities`] with a random generator passed in.

use std::str::FromStr;

use rand::Rng as _;

use crate::error::{Error, Result};
use crate::kmeans::KMeansParams;
use crate::metrics::{self, AcpScore, Probabilities};
use crate::seed::{Rng, SeedPath, Stream};

/// Points in a latent space, one per probe: `count x dim` values, row-major, all finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Latents {
    dim: usize,
    values: Vec<f32>,
}

impl Latents {
    /// Wraps `values` as points of `dim` coordinates, after checking the shape and that every
    /// value is finite.
    ///
    /// ```
    /// let z = spurion::Latents::new(2, vec![0.0, 1.0, 2.0, 3.0])?;
    /// assert_eq!((z.count(), z.point(1)), (2, &[2.0, 3.0][..]));
    /// assert!(spurion::Latents::new(2, vec![0.0, 1.0, 2.0]).is_err());
    /// assert!(spurion::Latents::new(1, vec![f32::NAN]).is_err());
    /// # Ok::<(), spurion::Error>(())
    /// ```
    pub fn new(dim: usize, values: Vec<f32>) -> Result<Self> {
        if dim == 0 || !values.len().is_multiple_of(dim) {
            return Err(Error::Invalid(format!(
                "{} latent values are not a whole number of points of dimension {dim}",
                values.len()
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!(
                "latent {} coordinate {} is {}: expected a finite number",
                i / dim,
                i % dim,
                values[i]
            )));
        }
        Ok(Latents { dim, values })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of points.
    pub fn count(&self) -> usize {
        self.values.len() / self.dim
    }

    /// Point `i`.
    pub fn point(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.values
    }

    /// The points with the given indices, in that order.
    pub fn select(&self, rows: &[usize]) -> Latents {
        Latents {
            dim: self.dim,
            values: rows.iter().flat_map(|&i| self.point(i)).copied().collect(),
        }
    }
}

/// How many clusters each class gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterCount {
    /// The same number for every class (the paper: 1).
    Fixed(usize),
    /// Chosen per class by held-out ACP, at most `max` per class: the probes are split in
    /// halves, centroids fitted on one and scored on the other, and a class gets another
    /// cluster while that raises held-out ACP.
    Auto { max: usize },
    /// Chosen per class by held-out evidence: every class first gets one cluster; a class
    /// whose cluster passes both tests (significance and the causal test,
    /// [`crate::method::verdict`]) is searched again with `max`, and keeps them when at least
    /// one of them passes on its own. A class whose one cluster fails is never split, and a
    /// class that ends with one cluster is reported as it was with one per class, so more
    /// clusters for other classes can neither add nor take away its finding.
    Tested { max: usize },
}

impl Default for ClusterCount {
    fn default() -> Self {
        ClusterCount::Fixed(1)
    }
}

impl ClusterCount {
    /// Clusters per class used by automatic selection at most.
    pub const AUTO_MAX: usize = 8;
    /// Smallest held-out ACP gain that earns a class another cluster.
    pub const AUTO_MIN_GAIN: f64 = 0.002;
    /// Clusters a class that passes with one gets under `tested`.
    pub const TESTED_MAX: usize = 3;

    /// The smallest number of clusters a class can get.
    pub fn min(self) -> usize {
        match self {
            ClusterCount::Fixed(k) => k,
            ClusterCount::Auto { .. } | ClusterCount::Tested { .. } => 1,
        }
    }

    /// Checks the count against the number of probes; errors name `--k`.
    pub fn check(self, probes: usize) -> Result<()> {
        let v = match self {
            ClusterCount::Fixed(v) => v,
            ClusterCount::Auto { max } | ClusterCount::Tested { max } => max,
        };
        if v == 0 {
            return Err(Error::param(
                "k",
                "expected 'auto', 'tested' or a positive integer, got 0",
            ));
        }
        if self.min() > probes {
            return Err(Error::param(
                "k",
                format!(
                    "k = {} is larger than the number of probes ({probes})",
                    self.min()
                ),
            ));
        }
        Ok(())
    }
}

/// `auto`, `tested` or a count.
impl FromStr for ClusterCount {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(ClusterCount::Auto {
                max: ClusterCount::AUTO_MAX,
            }),
            "tested" => Ok(ClusterCount::Tested {
                max: ClusterCount::TESTED_MAX,
            }),
            _ => s.parse::<usize>().map(ClusterCount::Fixed).map_err(|_| {
                Error::param(
                    "k",
                    format!("'{s}': expected 'auto', 'tested' or a positive integer"),
                )
            }),
        }
    }
}

impl std::fmt::Display for ClusterCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterCount::Fixed(k) => write!(f, "{k}"),
            ClusterCount::Auto { .. } => f.write_str("auto"),
            ClusterCount::Tested { .. } => f.write_str("tested"),
        }
    }
}

/// Probe weights for class `c`: `p_c(x)^exponent`.
pub fn class_weights(probs: &Probabilities, c: usize, exponent: f64) -> Vec<f32> {
    probs
        .column(c)
        .iter()
        .map(|&p| (p as f64).powf(exponent) as f32)
        .collect()
}

/// Settings of the search, not yet checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ShortcutSearchParams {
    clusters: ClusterCount,
    weight_exponent: f64,
    restarts: usize,
}

impl Default for ShortcutSearchParams {
    /// The paper's: one cluster per class, weights `p^2`; 10 k-means restarts.
    fn default() -> Self {
        ShortcutSearchParams {
            clusters: ClusterCount::Fixed(1),
            weight_exponent: 2.0,
            restarts: 10,
        }
    }
}

impl ShortcutSearchParams {
    /// Clusters per class.
    pub fn clusters(mut self, k: ClusterCount) -> Self {
        self.clusters = k;
        self
    }

    /// Probes weigh `p_c(x)^e` in class c's k-means.
    pub fn weight_exponent(mut self, e: f64) -> Self {
        self.weight_exponent = e;
        self
    }

    /// k-means restarts per class (the best of them is kept).
    pub fn restarts(mut self, restarts: usize) -> Self {
        self.restarts = restarts;
        self
    }

    /// Checks every setting; each error names its flag.
    pub fn check(self) -> Result<ShortcutSearch> {
        self.clusters.check(usize::MAX)?;
        if !self.weight_exponent.is_finite() || self.weight_exponent < 0.0 {
            return Err(Error::param(
                "weight-exponent",
                format!("expected a number >= 0, got {}", self.weight_exponent),
            ));
        }
        if self.restarts == 0 {
            return Err(Error::param(
                "kmeans-restarts",
                "expected a positive integer, got 0",
            ));
        }
        Ok(ShortcutSearch { params: self })
    }
}

/// The per-class weighted k-means of the method, with checked settings.
///
/// ```
/// use spurion::{ClusterCount, Latents, Probabilities, ShortcutSearch};
/// use rand::SeedableRng;
///
/// // Two classes; the probes on the right (x > 0) are class 1's.
/// let xs = [-2.0f32, -1.5, -1.0, 1.0, 1.5, 2.0];
/// let latents = Latents::new(1, xs.to_vec())?;
/// let p: Vec<f32> = xs.iter().flat_map(|&x| {
///     let p1 = if x > 0.0 { 0.9 } else { 0.1 };
///     [1.0 - p1, p1]
/// }).collect();
/// let probs = Probabilities::new(2, p)?;
///
/// let search = ShortcutSearch::params().clusters(ClusterCount::Fixed(1)).check()?;
/// let found = search.fit(&latents, &probs, &mut spurion::Rng::seed_from_u64(0))?;
/// // Class 1's centroid sits among the right-hand probes, and the clusters follow the classes.
/// assert!(found.centroid(1)[0] > 0.5);
/// assert!(found.score.acp > 0.85 && (found.score.chance - 0.5).abs() < 1e-6);
/// # Ok::<(), spurion::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ShortcutSearch {
    params: ShortcutSearchParams,
}

/// What the search found: the clusters of every class and their score.
#[derive(Debug, Clone, PartialEq)]
pub struct Shortcuts {
    /// Latent dimension.
    pub dim: usize,
    /// Every centroid, class by class, `dim` values each.
    pub centroids: Vec<f32>,
    /// Class of each centroid (its owner).
    pub owners: Vec<usize>,
    /// Nearest centroid of each probe.
    pub assignment: Vec<usize>,
    /// Clusters of each class.
    pub ks: Vec<usize>,
    pub score: AcpScore,
}

impl Shortcuts {
    /// Centroid `j`.
    pub fn centroid(&self, j: usize) -> &[f32] {
        &self.centroids[j * self.dim..(j + 1) * self.dim]
    }

    /// Index of cluster `j` among its class's clusters.
    pub fn index_in_class(&self, j: usize) -> usize {
        j - self
            .owners
            .iter()
            .position(|&o| o == self.owners[j])
            .unwrap_or(0)
    }
}

impl ShortcutSearch {
    /// Settings to adjust, then [`ShortcutSearchParams::check`].
    pub fn params() -> ShortcutSearchParams {
        ShortcutSearchParams::default()
    }

    pub fn clusters(&self) -> ClusterCount {
        self.params.clusters
    }

    pub fn weight_exponent(&self) -> f64 {
        self.params.weight_exponent
    }

    /// Finds each class's clusters among `latents`, weighting probe `i` by
    /// `probs[i][c]^e`, and scores them. Each class's k-means (and, for `auto`, the split
    /// that chooses k) draws from its own generator, seeded from `rng`.
    pub fn fit(
        &self,
        latents: &Latents,
        probs: &Probabilities,
        rng: &mut Rng,
    ) -> Result<Shortcuts> {
        self.fit_at(latents, probs, &SeedPath::root(rng.random()))
    }

    /// [`ShortcutSearch::fit`] with every generator derived from `seeds`: class c's k-means
    /// from `(KMeans, seeds/c)`, the split of `auto` from `(KMeans, seeds/u64::MAX)`.
    pub(crate) fn fit_at(
        &self,
        latents: &Latents,
        probs: &Probabilities,
        seeds: &SeedPath,
    ) -> Result<Shortcuts> {
        if latents.count() != probs.count() {
            return Err(Error::Invalid(format!(
                "{} latents for {} probabilities",
                latents.count(),
                probs.count()
            )));
        }
        self.params.clusters.check(probs.count())?;
        let classes = probs.classes;
        let ks = match self.params.clusters {
            ClusterCount::Fixed(k) => vec![k; classes],
            // The first round; the pipeline splits the classes that pass.
            ClusterCount::Tested { .. } => vec![1; classes],
            ClusterCount::Auto { max } => {
                select_k(
                    self,
                    latents,
                    probs,
                    seeds,
                    max,
                    ClusterCount::AUTO_MIN_GAIN,
                )?
                .0
            }
        };
        self.fit_ks(latents, probs, ks, seeds)
    }

    /// Each class's clusters, `ks[c]` of them for class c, every generator from `seeds`.
    pub(crate) fn fit_ks(
        &self,
        latents: &Latents,
        probs: &Probabilities,
        ks: Vec<usize>,
        seeds: &SeedPath,
    ) -> Result<Shortcuts> {
        let (centroids, owners) = self.fit_centroids(latents, probs, &ks, seeds, None)?;
        let assignment = metrics::assign_nearest(latents.as_slice(), &centroids, latents.dim());
        let score = metrics::score(probs, &owners, &assignment)?;
        Ok(Shortcuts {
            dim: latents.dim(),
            centroids,
            owners,
            assignment,
            ks,
            score,
        })
    }

    /// The baseline with no VAE and no clustering, "the most probable probes": the
    /// probabilities are the latent and each class has one centroid, fixed at the corner
    /// where only that class is certain (`e_c`), so a probe joins the class it is most
    /// probable for (`|p - e_c|^2 = |p|^2 - 2 p_c + 1`) and a cluster's heaviest probes are
    /// its class's most probable ones.
    pub fn most_probable(probs: &Probabilities) -> Result<Shortcuts> {
        let classes = probs.classes;
        let latents = Latents::new(classes, probs.values.clone())?;
        let mut centroids = vec![0.0f32; classes * classes];
        for c in 0..classes {
            centroids[c * classes + c] = 1.0;
        }
        let owners: Vec<usize> = (0..classes).collect();
        let assignment = metrics::assign_nearest(latents.as_slice(), &centroids, classes);
        let score = metrics::score(probs, &owners, &assignment)?;
        Ok(Shortcuts {
            dim: classes,
            centroids,
            owners,
            assignment,
            ks: vec![1; classes],
            score,
        })
    }

    /// Centroids (class by class) and their owners, fitted on the probes `rows` (all if None).
    fn fit_centroids(
        &self,
        latents: &Latents,
        probs: &Probabilities,
        ks: &[usize],
        seeds: &SeedPath,
        rows: Option<&[usize]>,
    ) -> Result<(Vec<f32>, Vec<usize>)> {
        let subset;
        let (points, probs) = match rows {
            None => (latents, probs),
            Some(rows) => {
                subset = (latents.select(rows), probs.select(rows));
                (&subset.0, &subset.1)
            }
        };
        let mut centroids = Vec::new();
        let mut owners = Vec::new();
        for (c, &k) in ks.iter().enumerate() {
            let weights = class_weights(probs, c, self.params.weight_exponent);
            let params = KMeansParams {
                k,
                restarts: self.params.restarts,
                ..KMeansParams::default()
            };
            let fit = params
                .fit(
                    points.as_slice(),
                    points.dim(),
                    &weights,
                    &mut seeds.child(c as u64).rng(Stream::KMeans),
                )
                .map_err(|source| Error::KMeans {
                    class: c.to_string(),
                    source,
                })?;
            centroids.extend_from_slice(&fit.centroids);
            owners.extend(std::iter::repeat_n(c, k));
        }
        Ok((centroids, owners))
    }
}

/// Chooses the number of clusters of each class by held-out ACP.
///
/// The probes are split in two halves (seeded): centroids are fitted on one, ACP is measured on
/// the other (each held-out probe joins its nearest centroid). Starting from one cluster per
/// class, the class whose extra cluster raises held-out ACP the most gets it, as long as the
/// gain is at least `min_gain` and no class exceeds `max_k`. Returns the clusters per class
/// and the held-out ACP of that choice.
pub(crate) fn select_k(
    search: &ShortcutSearch,
    latents: &Latents,
    probs: &Probabilities,
    seeds: &SeedPath,
    max_k: usize,
    min_gain: f64,
) -> Result<(Vec<usize>, f64)> {
    use rand::seq::SliceRandom;
    let n = probs.count();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut seeds.child(u64::MAX).rng(Stream::KMeans));
    let (fit_rows, test_rows) = order.split_at(n / 2);
    let test_latents = latents.select(test_rows);
    let test_probs = probs.select(test_rows);
    let held_out = |ks: &[usize]| -> Result<f64> {
        let (centroids, owners) =
            search.fit_centroids(latents, probs, ks, seeds, Some(fit_rows))?;
        let assignment =
            metrics::assign_nearest(test_latents.as_slice(), &centroids, latents.dim());
        Ok(metrics::score(&test_probs, &owners, &assignment)?.acp)
    };
    let mut ks = vec![1usize; probs.classes];
    let mut best = held_out(&ks)?;
    loop {
        let mut candidate: Option<(usize, f64)> = None;
        for c in 0..ks.len() {
            if ks[c] >= max_k || ks[c] >= fit_rows.len() {
                continue;
            }
            let mut trial = ks.clone();
            trial[c] += 1;
            // A class may have too few weighted probes for more clusters: skip it then.
            let Ok(acp) = held_out(&trial) else { continue };
            if candidate.is_none_or(|b| acp > b.1) {
                candidate = Some((c, acp));
            }
        }
        match candidate {
            Some((c, acp)) if acp >= best + min_gain => {
                ks[c] += 1;
                best = acp;
            }
            _ => break,
        }
    }
    Ok((ks, best))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Three classes at three places on a line, 30 probes each, p 0.9 for their own class.
    fn three_blobs() -> (Latents, Probabilities) {
        let mut z = Vec::new();
        let mut p = Vec::new();
        for c in 0..3 {
            for i in 0..30 {
                z.push(c as f32 * 10.0 + (i % 7) as f32 * 0.1);
                for k in 0..3 {
                    p.push(if k == c { 0.9 } else { 0.05 });
                }
            }
        }
        (
            Latents::new(1, z).unwrap(),
            Probabilities::new(3, p).unwrap(),
        )
    }

    #[test]
    fn each_class_finds_its_own_region() {
        let (z, p) = three_blobs();
        let s = ShortcutSearch::params().check().unwrap();
        let f = s.fit(&z, &p, &mut Rng::seed_from_u64(1)).unwrap();
        for c in 0..3 {
            assert!((f.centroid(c)[0] - c as f32 * 10.0).abs() < 1.0, "{f:?}");
        }
        assert!((f.score.normalized_acp.unwrap() - 1.0).abs() < 1e-9);
    }

    /// `--k tested` reports a class left at one cluster as in its first round
    /// (`pipeline::keep_first_round`): that rests on its centroid being the same, to the bit,
    /// whatever the other classes' counts.
    #[test]
    fn a_class_at_one_cluster_has_the_same_centroid_whatever_the_others_have() {
        let (z, p) = three_blobs();
        let s = ShortcutSearch::params()
            .clusters(ClusterCount::Tested { max: 3 })
            .check()
            .unwrap();
        let seeds = SeedPath::root(7);
        let first = s.fit_at(&z, &p, &seeds).unwrap();
        let split = s.fit_ks(&z, &p, vec![1, 3, 1], &seeds).unwrap();
        assert_eq!(
            (first.ks.clone(), split.owners.clone()),
            (vec![1, 1, 1], vec![0, 1, 1, 1, 2])
        );
        assert_eq!(first.centroid(0), split.centroid(0));
        assert_eq!(first.centroid(2), split.centroid(4));
        // Class 1 really is split: three different centroids.
        let c1: Vec<&[f32]> = (1..4).map(|j| split.centroid(j)).collect();
        assert!(c1[0] != c1[1] && c1[1] != c1[2] && c1[0] != c1[2], "{c1:?}");
    }

    #[test]
    fn same_generator_same_result() {
        let (z, p) = three_blobs();
        let s = ShortcutSearch::params()
            .clusters(ClusterCount::Auto { max: 3 })
            .check()
            .unwrap();
        let a = s.fit(&z, &p, &mut Rng::seed_from_u64(5)).unwrap();
        let b = s.fit(&z, &p, &mut Rng::seed_from_u64(5)).unwrap();
        assert_eq!(a, b);
    }

    /// One row per rule of `check`: the settings, and the flag the error names.
    #[test]
    fn each_bad_setting_names_its_flag() {
        let p = ShortcutSearch::params;
        let table = [
            (p().clusters(ClusterCount::Fixed(0)), "--k"),
            (p().clusters(ClusterCount::Auto { max: 0 }), "--k"),
            (p().weight_exponent(-1.0), "--weight-exponent"),
            (p().weight_exponent(f64::NAN), "--weight-exponent"),
            (p().restarts(0), "--kmeans-restarts"),
        ];
        for (params, flag) in table {
            let e = params.clone().check().unwrap_err().to_string();
            assert!(e.contains(flag), "{params:?}: {e}");
        }
    }

    #[test]
    fn shapes_that_disagree_are_refused() {
        let (z, _) = three_blobs();
        let p = Probabilities::new(2, vec![0.5; 4]).unwrap();
        let s = ShortcutSearch::params().check().unwrap();
        let e = s.fit(&z, &p, &mut Rng::seed_from_u64(0)).unwrap_err();
        assert!(e.to_string().contains("90 latents for 2"), "{e}");
        let s = ShortcutSearch::params()
            .clusters(ClusterCount::Fixed(200))
            .check()
            .unwrap();
        let (z, p) = three_blobs();
        let e = s.fit(&z, &p, &mut Rng::seed_from_u64(0)).unwrap_err();
        assert!(e.to_string().contains("--k"), "{e}");
    }

    #[test]
    fn cluster_counts_parse_and_print() {
        assert_eq!("3".parse::<ClusterCount>().unwrap(), ClusterCount::Fixed(3));
        assert_eq!("auto".parse::<ClusterCount>().unwrap().to_string(), "auto");
        let tested = "tested".parse::<ClusterCount>().unwrap();
        assert_eq!(
            tested,
            ClusterCount::Tested {
                max: ClusterCount::TESTED_MAX
            }
        );
        assert_eq!((tested.to_string(), tested.min()), ("tested".into(), 1));
        assert!("-1".parse::<ClusterCount>().is_err());
        let e = "sometimes".parse::<ClusterCount>().unwrap_err().to_string();
        assert!(e.contains("--k") && e.contains("'tested'"), "{e}");
    }

    #[test]
    fn the_most_probable_probes_join_the_class_they_are_most_probable_for() {
        // Four probes, two classes; sigmoid outputs need not sum to one.
        let p = Probabilities::new(2, vec![0.9, 0.8, 0.2, 0.1, 0.6, 0.7, 0.3, 0.35]).unwrap();
        let s = ShortcutSearch::most_probable(&p).unwrap();
        assert_eq!(s.owners, [0, 1]);
        assert_eq!(s.ks, [1, 1]);
        assert_eq!(s.assignment, [0, 0, 1, 1]);
        assert_eq!(s.centroids, [1.0, 0.0, 0.0, 1.0]);
    }
}
