//! What a run found: the one source of truth every exporter in [`crate::report`] renders.
//!
//! results.json is the serde serialisation of [`ReproduceResults`] or [`AuditResults`] (field
//! docs below are its schema). What the other files are made from (latents, probabilities,
//! prototypes, trained weights) rides along in fields that results.json leaves out.

use crate::config::{AuditConfig, ReproduceConfig};
use crate::data::Images;
use crate::method::projection::Projection2d;
use crate::method::{ClusterStats, Finding, Latents, RunAnalysis, Shortcuts};
use crate::metrics::Probabilities;
use crate::model::ModelInfo;
use crate::nn::vae::VaeConfig;

pub use crate::nn::SavedModel;

/// Everything one latent space's files are made from.
#[derive(Debug, Clone, PartialEq)]
pub struct RunData {
    /// Title prefix for plots ("trial 0, latent dim 3").
    pub label: String,
    pub class_names: Vec<String>,
    pub weight_exponent: f64,
    pub latents: Latents,
    pub probs: Probabilities,
    pub shortcuts: Shortcuts,
    pub analysis: RunAnalysis,
    /// The VAE, with a [`VaeConfig`] as its config (None for a baseline without one).
    pub vae: Option<SavedModel>,
}

impl RunData {
    /// The VAE's config.
    pub fn vae_config(&self) -> Option<VaeConfig> {
        serde_json::from_slice(&self.vae.as_ref()?.config_json).ok()
    }

    /// The decoded prototypes.
    pub fn prototypes(&self) -> &Images {
        &self.analysis.prototypes
    }

    /// Per cluster, the held-out probes nearest its centroid (as thumbnails).
    pub fn nearest_probes(&self) -> &[Images] {
        &self.analysis.nearest
    }
}

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

/// One cluster as the report shows it: what the method found, and its pictures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterReport {
    #[serde(flatten)]
    pub stats: ClusterStats,
    /// The decoded centroid (PNG, path relative to the output folder).
    pub prototype_png: String,
    /// The nearest probes side by side (PNG).
    pub nearest_png: String,
}

impl std::ops::Deref for ClusterReport {
    type Target = ClusterStats;

    fn deref(&self) -> &ClusterStats {
        &self.stats
    }
}

impl std::ops::DerefMut for ClusterReport {
    fn deref_mut(&mut self) -> &mut ClusterStats {
        &mut self.stats
    }
}

/// Files of one run, relative to the output folder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunFiles {
    /// One row per probe: id, probability per class, cluster, its class, weight, x, y.
    pub probes_csv: String,
    /// Arrays `latents`, `probabilities`, `clusters`, `held_out`, `centroids`,
    /// `centroid_classes`, `projection` (numpy.load reads it).
    pub latents_npz: String,
    /// The VAE (safetensors and JSON); null without one.
    pub vae_weights: Option<String>,
    pub vae_config: Option<String>,
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
    /// The paper's method (sampled latents, one cluster per class, p^2) on the same probes,
    /// for comparison (reproduce only).
    pub paper_method: Option<MethodScore>,
    /// The classifier's probabilities used as the latent space: no VAE, no image content.
    /// ACP rewards clusters that copy the probabilities, so this baseline sits at the ceiling
    /// (reproduce only).
    #[serde(default)]
    pub probabilities_as_latent: Option<MethodScore>,
    /// Probes the VAE and the clusters were fitted on, and probes held out: every score
    /// below is measured on the held-out ones.
    pub probes_fit: usize,
    pub probes_held_out: usize,
    /// Average cluster probability (see `metrics`) on the held-out probes: mean over
    /// non-empty clusters of the mean probability of the cluster's class over its probes.
    pub acp: f64,
    /// Expected ACP for a random assignment with the same cluster sizes.
    pub chance: f64,
    /// ACP when every probe joins its argmax class.
    pub ceiling: f64,
    /// (acp - chance) / (ceiling - chance); null when ceiling equals chance.
    pub normalized_acp: Option<f64>,
    pub empty_clusters: usize,
    /// How the VAE trained (epochs, steps, final negative ELBO per probe); null without one.
    pub vae: Option<crate::nn::vae::VaeTraining>,
    /// Every cluster of every class, in class order.
    pub clusters: Vec<ClusterReport>,
    /// One finding per class: found or not, why, and the numbers behind it.
    pub findings: Vec<Finding>,
    pub projection: Projection2d,
    pub files: RunFiles,
    /// What the report's files are made from (not in results.json).
    #[serde(skip)]
    pub data: Option<Box<RunData>>,
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
    /// The trained classifier, for its files (not in results.json).
    #[serde(skip)]
    pub classifier: Option<Box<SavedModel>>,
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
    /// The probabilities-as-latent baseline: normalised ACP mean and std.
    #[serde(default)]
    pub probabilities_as_latent_normalized_mean: Option<f64>,
    #[serde(default)]
    pub probabilities_as_latent_normalized_std: Option<f64>,
    /// Trials in which the finding for each class was "found", class by class.
    #[serde(default)]
    pub found: Vec<usize>,
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
            let base = mean_std_nonempty(
                &runs
                    .iter()
                    .filter_map(|r| r.probabilities_as_latent.as_ref()?.normalized_acp)
                    .collect::<Vec<_>>(),
            );
            let classes = runs.first().map_or(0, |r| r.findings.len());
            let found = (0..classes)
                .map(|c| {
                    runs.iter()
                        .filter(|r| {
                            r.findings
                                .get(c)
                                .is_some_and(|f| f.status == crate::method::Status::Found)
                        })
                        .count()
                })
                .collect();
            DimSummary {
                probabilities_as_latent_normalized_mean: base.map(|m| m.0),
                probabilities_as_latent_normalized_std: base.map(|m| m.1),
                found,
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

/// Seconds per stage of an audit.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditTimings {
    pub total: f64,
    pub vae: f64,
    pub inference: f64,
    pub clustering: f64,
    pub report: f64,
}

/// Everything `spurion audit` found; results.json is its serialisation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditResults {
    pub spurion_version: String,
    pub seed: u64,
    pub settings: AuditConfig,
    pub model: ModelInfo,
    pub class_names: Vec<String>,
    /// One finding per class over all probe families: found or not, why, the numbers behind
    /// it, and which family's probes it comes from.
    pub findings: Vec<Finding>,
    /// One run per probe family.
    pub runs: Vec<AuditRun>,
    /// What the run passed over (special files or broken links in a probe or hold-out
    /// folder, hold-out sets without images), one line each.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Wall-clock seconds; differ between runs with the same seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings_s: Option<AuditTimings>,
}

impl ReproduceResults {
    /// The paper's Table 1 row for `latent_dim`, if it reported one.
    pub fn paper_row(&self, latent_dim: usize) -> Option<&PaperRow> {
        self.paper.iter().find(|p| p.latent_dim == latent_dim)
    }
}

/// One probe family's run of an audit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditRun {
    /// The probe choice's name ("solid", "patch", "folder").
    pub family: String,
    /// What the probes were.
    pub probes: String,
    pub probe_count: usize,
    /// Mean `p_c` over the probes, per class.
    pub probe_mean_probability: Vec<f64>,
    /// Probes whose most probable class is c, per class.
    pub probe_argmax_counts: Vec<usize>,
    pub run: RunResult,
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
