//! The part of the method `reproduce` and `audit` share: from one latent space and the probes'
//! probabilities to its result record. Per-class weighted k-means (step 4, with `k` resolved
//! per class for `--k auto`), the statistics, causal checks, descriptions, prototypes and 2-D
//! view ([`crate::method::analyse`]), and the names of the files the report will write.

use crate::config::MethodSettings;
use crate::data::Images;
use crate::error::{Error, Result};
use crate::method::causal::CausalInput;
use crate::method::projection::Projection2d;
use crate::method::{self, Latents, RunInput};
use crate::metrics::Probabilities;
use crate::nn::vae::VaeTraining;
use crate::report::files::{file_at, plotted_classes, run_files};
use crate::results::{ClusterReport, RunData, RunResult, SavedModel};
use crate::seed::SeedPath;

/// One latent space, ready for step 4.
pub(crate) struct Space<'a> {
    /// Folder of the run's files in the report (empty: the report folder itself).
    pub rel: String,
    /// Title prefix for plots ("trial 0, latent dim 3").
    pub label: String,
    pub class_names: &'a [String],
    pub probs: &'a Probabilities,
    pub latents: Latents,
    pub method: &'a MethodSettings,
    /// Where the step's generators come from.
    pub seeds: SeedPath,
    /// The VAE's decoder: latent points to images.
    pub decode: &'a dyn Fn(&[f32]) -> Result<Images>,
    pub probe_images: &'a dyn Fn(&[usize]) -> Result<Images>,
    pub causal: Option<&'a CausalInput<'a>>,
    pub vae: SavedModel,
    pub vae_training: VaeTraining,
}

/// Names the class of a k-means error instead of its index, and blames `--k` when a class
/// has too few probes for its clusters.
fn name_class(e: Error, class_names: &[String]) -> Error {
    use crate::error::KMeansError;
    match e {
        Error::KMeans { class, source } => {
            let class = class
                .parse::<usize>()
                .ok()
                .and_then(|c| class_names.get(c).cloned())
                .unwrap_or(class);
            match source {
                KMeansError::TooFewWeightedPoints { k, positive } => Error::param(
                    "k",
                    format!(
                        "class {class} has {positive} probe(s) with a weight above 0, fewer \
                         than k = {k}: lower --k, use more probes, or lower --weight-exponent"
                    ),
                ),
                source => Error::KMeans { class, source },
            }
        }
        other => other,
    }
}

/// Seconds [`run_space`] spent on the search (step 4) and on the analysis after it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SpaceTimes {
    pub search: f64,
    pub analysis: f64,
}

/// Searches, analyses and records one latent space.
pub(crate) fn run_space(space: Space) -> Result<(RunResult, SpaceTimes)> {
    let started = std::time::Instant::now();
    let search = space.method.search()?;
    let shortcuts = search
        .fit_at(&space.latents, space.probs, &space.seeds)
        .map_err(|e| name_class(e, space.class_names))?;
    let search_s = started.elapsed().as_secs_f64();
    let analysis = method::analyse(&RunInput {
        class_names: space.class_names,
        probs: space.probs,
        latents: &space.latents,
        shortcuts: &shortcuts,
        weight_exponent: space.method.weight_exponent,
        decode: space.decode,
        probe_images: space.probe_images,
        permutations: space.method.permutations,
        seeds: &space.seeds,
        causal: space.causal,
    })?;
    let rel = &space.rel;
    let clusters = analysis
        .clusters
        .iter()
        .enumerate()
        .map(|(j, stats)| ClusterReport {
            stats: stats.clone(),
            prototype_png: file_at(rel, &format!("prototype-{j}.png")),
            nearest_png: file_at(rel, &format!("nearest-{j}.png")),
        })
        .collect();
    let times = SpaceTimes {
        search: search_s,
        analysis: started.elapsed().as_secs_f64() - search_s,
    };
    let s = &shortcuts.score;
    let run = RunResult {
        latent_dim: shortcuts.dim,
        ks: shortcuts.ks.clone(),
        paper_method: None,
        acp: s.acp,
        chance: s.chance,
        ceiling: s.ceiling,
        normalized_acp: s.normalized_acp,
        empty_clusters: s.empty_clusters,
        vae: space.vae_training,
        clusters,
        projection: Projection2d {
            pca: analysis.projection.is_pca,
            explained_variance: analysis.projection.explained,
        },
        files: run_files(rel, &plotted_classes(space.class_names.len())),
        data: Some(Box::new(RunData {
            label: space.label,
            class_names: space.class_names.to_vec(),
            weight_exponent: space.method.weight_exponent,
            latents: space.latents,
            probs: space.probs.clone(),
            shortcuts,
            analysis,
            vae: space.vae,
        })),
    };
    Ok((run, times))
}
