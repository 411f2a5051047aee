//! The results of a run, and their exporters.
//!
//! [`ReproduceResults`] is the one source of truth: results.json is its serde serialisation
//! (field docs below are the schema), and the terminal table is rendered from it.

mod html;
pub mod npz;
pub mod pca;
pub mod plots;
pub mod png;
mod table;

pub use html::{render_audit_html, render_reproduce_html};
pub use table::format_table;

use std::path::Path;

use crate::error::Result;
use crate::reproduce::ReproduceConfig;

/// One row of the paper's Table 1 (ACP in percent across 5 trials).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PaperRow {
    pub latent_dim: usize,
    /// Mean ACP, as a fraction (0.688 for 68.8%).
    pub acp_mean: f64,
    /// Standard deviation of ACP across trials, as a fraction.
    pub acp_std: f64,
}

/// The paper's Table 1 (Tischler 2024).
pub fn paper_table() -> Vec<PaperRow> {
    [
        (2, 0.527, 0.147),
        (3, 0.688, 0.0546),
        (5, 0.634, 0.0552),
        (10, 0.634, 0.0963),
    ]
    .into_iter()
    .map(|(latent_dim, acp_mean, acp_std)| PaperRow {
        latent_dim,
        acp_mean,
        acp_std,
    })
    .collect()
}

/// The paper's classifier accuracies on coloured and monochrome validation digits.
pub const PAPER_COLORED_ACCURACY: f64 = 1.0;
pub const PAPER_MONOCHROME_ACCURACY: f64 = 0.53;

/// One cluster as the report shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterReport {
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
    /// The decoded centroid (PNG, path relative to the output folder).
    pub prototype_png: String,
    /// The nearest probes side by side (PNG).
    pub nearest_png: String,
}

/// The causal check of one cluster: its prototype blended into held-out real images at a few
/// strengths, `(1 - a) x + a prototype`, and a neutral grey image blended the same way as a
/// control. A real shortcut flips predictions to the cluster's class; a chance cluster does
/// no better than grey.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CausalCheck {
    /// What the held-out images are.
    pub images: String,
    pub strengths: Vec<f64>,
    /// Per strength: share of images not already predicted as the class that now are.
    pub flip_rate: Vec<f64>,
    /// The same for a uniform grey (0.5) image.
    pub grey_flip_rate: Vec<f64>,
}

/// A cluster in words: what colour its probes mostly are, and where the prototype's structure
/// sits (see `describe`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterDescription {
    /// Most common colour name among the cluster's probes, weighted by `p^e`.
    pub color: String,
    /// That colour's share of the weight.
    pub color_share: f64,
    /// Colour name of the prototype's mean colour.
    pub prototype_color: String,
    /// The prototype's strongest channel: "red", "green" or "blue".
    pub prototype_channel: String,
    /// Where the prototype departs most from its median colour (None when uniform).
    pub position: Option<String>,
    /// Stripe angle in degrees from horizontal, when the prototype has clear stripes.
    pub stripes_deg: Option<f64>,
    /// One line for people: "mostly blue probes (91% of the weight)".
    pub text: String,
}

/// How latents were drawn in two dimensions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Projection2d {
    /// True: first two principal components; false: the latents themselves (2 dims).
    pub pca: bool,
    /// Share of the latents' variance along each plotted axis.
    pub explained_variance: [f64; 2],
}

/// Files of one run, relative to the output folder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunFiles {
    /// One row per probe: id, probability per class, cluster, its class, weight, x, y.
    pub probes_csv: String,
    /// Arrays `latents`, `probabilities`, `clusters`, `centroids`, `centroid_classes`,
    /// `projection` (numpy.load reads it).
    pub latents_npz: String,
    pub vae_weights: String,
    pub vae_config: String,
    /// Probes coloured by class probability (one per class; one for two classes).
    pub probability_plots: Vec<String>,
    /// Probes coloured by cluster, centroids marked.
    pub cluster_plot: String,
}

/// ACP and its references for one way of clustering.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MethodScore {
    pub acp: f64,
    pub chance: f64,
    pub ceiling: f64,
    pub normalized_acp: Option<f64>,
}

impl From<&crate::metrics::AcpScore> for MethodScore {
    fn from(s: &crate::metrics::AcpScore) -> Self {
        MethodScore {
            acp: s.acp,
            chance: s.chance,
            ceiling: s.ceiling,
            normalized_acp: s.normalized_acp,
        }
    }
}

/// One VAE (one latent dimension) in one trial.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunResult {
    pub latent_dim: usize,
    /// Clusters of each class.
    pub ks: Vec<usize>,
    /// The paper's method (sampled latents, one cluster per class, p^2) on the same VAE and
    /// probes, for comparison (reproduce only).
    pub paper_method: Option<MethodScore>,
    /// Average cluster probability (see `metrics`): mean over non-empty clusters of the mean
    /// probability of the cluster's class over its probes.
    pub acp: f64,
    /// Expected ACP for a random assignment with the same cluster sizes.
    pub chance: f64,
    /// ACP when every probe joins its argmax class.
    pub ceiling: f64,
    /// (acp - chance) / (ceiling - chance); null when ceiling equals chance.
    pub normalized_acp: Option<f64>,
    pub empty_clusters: usize,
    /// How the VAE trained (epochs, steps, final negative ELBO per probe).
    pub vae: crate::nn::vae::VaeTraining,
    /// Every cluster of every class, in class order.
    pub clusters: Vec<ClusterReport>,
    pub projection: Projection2d,
    pub files: RunFiles,
}

impl RunResult {
    /// Class `class`'s cluster with the largest share of its `p^e` weight: the one its
    /// verdict and prototype description speak of.
    pub fn heaviest_cluster(&self, class: usize) -> Option<&ClusterReport> {
        self.clusters
            .iter()
            .filter(|cl| cl.class == class)
            .max_by(|a, b| a.weight_share.total_cmp(&b.weight_share))
    }
}

/// One trial: one classifier, one probe set, one VAE per latent dimension.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrialResult {
    pub trial: usize,
    /// Accuracy on coloured validation digits.
    pub colored_accuracy: f64,
    /// Accuracy on the same digits in monochrome: near chance when colour was learned.
    pub monochrome_accuracy: f64,
    /// Accuracy when every class is drawn in the next class's colour, so that colour and
    /// shape disagree: near 0 when colour dominates, near 1 when shape does.
    pub swapped_accuracy: f64,
    /// Mean `p_c` over the probes, per class.
    pub probe_mean_probability: Vec<f64>,
    /// The trained classifier (safetensors) and its config (JSON), relative paths.
    pub classifier_weights: String,
    pub classifier_config: String,
    pub runs: Vec<RunResult>,
}

/// Across trials, per latent dimension.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DimSummary {
    pub latent_dim: usize,
    pub acp_mean: f64,
    /// Sample standard deviation across trials (0 for one trial).
    pub acp_std: f64,
    pub chance_mean: f64,
    pub ceiling_mean: f64,
    /// Mean of the trials' normalised ACP (trials where it is undefined are skipped).
    pub normalized_mean: Option<f64>,
    pub normalized_std: Option<f64>,
    /// The paper's method on the same VAEs: ACP mean and std, normalised mean and std.
    pub paper_method_acp_mean: Option<f64>,
    pub paper_method_acp_std: Option<f64>,
    pub paper_method_normalized_mean: Option<f64>,
    pub paper_method_normalized_std: Option<f64>,
}

/// Seconds per stage, summed over trials (trials may run in parallel, so the stages can add
/// up to more than `total`, the wall-clock time).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    pub total: f64,
    pub data: f64,
    pub classifier: f64,
    pub probes: f64,
    pub vae: f64,
    pub clustering: f64,
    /// Prototypes, plots and files.
    pub report: f64,
}

impl Timings {
    /// Adds another set of stage times (total excepted).
    pub fn add(&mut self, o: &Timings) {
        self.data += o.data;
        self.classifier += o.classifier;
        self.probes += o.probes;
        self.vae += o.vae;
        self.clustering += o.clustering;
        self.report += o.report;
    }
}

/// Everything `spurion reproduce` found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReproduceResults {
    pub spurion_version: String,
    pub seed: u64,
    /// The settings of the run, as validated.
    pub settings: ReproduceConfig,
    pub class_names: Vec<String>,
    pub trials: Vec<TrialResult>,
    pub summary: Vec<DimSummary>,
    /// The paper's Table 1, for comparison.
    pub paper: Vec<PaperRow>,
    /// Wall-clock seconds; the only field that differs between two runs with the same seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings_s: Option<Timings>,
}

/// A probability as a percentage with one decimal, as the reports print it.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Mean and sample standard deviation.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// `mean_std` of a list that may be empty: `None` when it is.
fn mean_std_nonempty(xs: &[f64]) -> Option<(f64, f64)> {
    (!xs.is_empty()).then(|| mean_std(xs))
}

/// Summarises trials per latent dimension.
pub fn summarize(dims: &[usize], trials: &[TrialResult]) -> Vec<DimSummary> {
    dims.iter()
        .enumerate()
        .map(|(i, &latent_dim)| {
            let runs: Vec<&RunResult> = trials.iter().map(|t| &t.runs[i]).collect();
            let col = |f: fn(&RunResult) -> f64| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
            let (acp_mean, acp_std) = mean_std(&col(|r| r.acp));
            let norm = mean_std_nonempty(
                &runs
                    .iter()
                    .filter_map(|r| r.normalized_acp)
                    .collect::<Vec<_>>(),
            );
            let paper: Vec<&MethodScore> = runs
                .iter()
                .filter_map(|r| r.paper_method.as_ref())
                .collect();
            let p_acp = mean_std_nonempty(&paper.iter().map(|p| p.acp).collect::<Vec<_>>());
            let p_norm = mean_std_nonempty(
                &paper
                    .iter()
                    .filter_map(|p| p.normalized_acp)
                    .collect::<Vec<_>>(),
            );
            DimSummary {
                latent_dim,
                acp_mean,
                acp_std,
                chance_mean: mean_std(&col(|r| r.chance)).0,
                ceiling_mean: mean_std(&col(|r| r.ceiling)).0,
                normalized_mean: norm.map(|m| m.0),
                normalized_std: norm.map(|m| m.1),
                paper_method_acp_mean: p_acp.map(|m| m.0),
                paper_method_acp_std: p_acp.map(|m| m.1),
                paper_method_normalized_mean: p_norm.map(|m| m.0),
                paper_method_normalized_std: p_norm.map(|m| m.1),
            }
        })
        .collect()
}

impl ReproduceResults {
    /// The paper's Table 1 row for `latent_dim`, if it reported one.
    pub fn paper_row(&self, latent_dim: usize) -> Option<&PaperRow> {
        self.paper.iter().find(|p| p.latent_dim == latent_dim)
    }

    /// Writes results.json into `dir` atomically.
    pub fn write_json(&self, dir: &Path) -> Result<()> {
        crate::atomic::write_json(&dir.join("results.json"), self)
    }

    /// Writes report.html into `dir` atomically (images are read from `dir` and inlined).
    pub fn write_html(&self, dir: &Path) -> Result<()> {
        let html = render_reproduce_html(self, dir)?;
        crate::atomic::write(&dir.join("report.html"), html.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_standard_deviation() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-12);
        assert!((s - 1.290_994_448_7).abs() < 1e-9);
        assert_eq!(mean_std(&[0.7]), (0.7, 0.0));
    }
}
