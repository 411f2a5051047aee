//! The part of the method `reproduce` and `audit` share: from one latent space and the probes'
//! probabilities to its result record. Per-class weighted k-means (step 4, with `k` resolved
//! per class for `--k auto`), the statistics, causal checks, descriptions, prototypes and 2-D
//! view ([`crate::method::analyse`]), and the names of the files the report will write.

use crate::config::MethodSettings;
use crate::data::Images;
use crate::error::{Error, Result};
use crate::method::analysis::RunAnalysis;
use crate::method::causal::CausalInput;
use crate::method::projection::Projection2d;
use crate::method::search::{ClusterCount, Shortcuts, class_weights};
use crate::method::split::Split;
use crate::method::verdict::Status;
use crate::method::{self, Latents, RunInput, ShortcutSearch};
use crate::metrics::{self, AcpScore, Probabilities};
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
    /// Probabilities and latents of every probe.
    pub probs: &'a Probabilities,
    pub latents: Latents,
    /// The probes the clusters are fitted on, and those held out for everything else.
    pub split: &'a Split,
    pub method: &'a MethodSettings,
    /// The most probable probes of each class instead of its clusters (a baseline; the
    /// latents must be the probabilities).
    pub top_probes: bool,
    /// Where the step's generators come from.
    pub seeds: SeedPath,
    /// The VAE's decoder (latent points to images); None for a baseline without one.
    pub decode: Option<crate::method::analysis::Decoder<'a>>,
    pub probe_images: &'a dyn Fn(&[usize]) -> Result<Images>,
    /// The kind of each probe, for a set that mixes several.
    pub probe_part: &'a dyn Fn(usize) -> Option<&'static str>,
    pub causal: Option<&'a CausalInput<'a>>,
    pub vae: Option<SavedModel>,
    pub vae_training: Option<VaeTraining>,
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

/// ACP on the held-out probes of clusters fitted on the others: how the paper's method and
/// the probabilities-as-latent baseline are scored beside the run.
pub(crate) fn held_out_score(
    search: &ShortcutSearch,
    latents: &Latents,
    probs: &Probabilities,
    split: &Split,
    seeds: &SeedPath,
) -> Result<AcpScore> {
    let fitted = search.fit_at(
        &latents.select(&split.fit),
        &probs.select(&split.fit),
        seeds,
    )?;
    let held = latents.select(&split.held);
    let assignment = metrics::assign_nearest(held.as_slice(), &fitted.centroids, latents.dim());
    metrics::score(&probs.select(&split.held), &fitted.owners, &assignment)
}

/// Seconds [`run_space`] spent on the search (step 4) and on the analysis after it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SpaceTimes {
    pub search: f64,
    pub analysis: f64,
}

/// `--k tested`: every class that ends with one cluster is reported as in the first round, one
/// cluster per class. Its centroid is the same there (a one-cluster k-means is the weighted mean
/// of the class's probes); only the split clusters of other classes have since taken some of its
/// held-out probes, and that must neither give it a finding one cluster did not (a class that
/// failed with one is never searched again) nor take away one it had.
fn keep_first_round(analysis: &mut RunAnalysis, first: &RunAnalysis, ks: &[usize]) {
    let mut j = 0;
    for (c, &k) in ks.iter().enumerate() {
        if k == 1 {
            debug_assert_eq!(analysis.clusters[j].centroid, first.clusters[c].centroid);
            analysis.clusters[j] = first.clusters[c].clone();
            analysis.nearest[j] = first.nearest[c].clone();
            analysis.findings[c] = first.findings[c].at_cluster(c, j);
        }
        j += k;
    }
}

/// Searches, analyses and records one latent space.
pub(crate) fn run_space(space: Space) -> Result<(RunResult, SpaceTimes)> {
    let started = std::time::Instant::now();
    let search = space.method.search()?;
    let fit = &space.split.fit;
    let fit_latents = space.latents.select(fit);
    let fit_probs = space.probs.select(fit);
    let mut search_s = 0.0;
    let mut fit_and_analyse = |ks: Option<Vec<usize>>| -> Result<(Shortcuts, RunAnalysis)> {
        let t = std::time::Instant::now();
        let shortcuts = match ks {
            _ if space.top_probes => ShortcutSearch::most_probable(&fit_probs),
            None => search.fit_at(&fit_latents, &fit_probs, &space.seeds),
            Some(ks) => search.fit_ks(&fit_latents, &fit_probs, ks, &space.seeds),
        }
        .map_err(|e| name_class(e, space.class_names))?;
        search_s += t.elapsed().as_secs_f64();
        let analysis = method::analyse(&RunInput {
            class_names: space.class_names,
            probs: space.probs,
            latents: &space.latents,
            held: &space.split.held,
            shortcuts: &shortcuts,
            weight_exponent: space.method.weight_exponent,
            decode: space.decode,
            probe_images: space.probe_images,
            probe_part: space.probe_part,
            permutations: space.method.permutations,
            seeds: &space.seeds,
            causal: space.causal,
        })?;
        Ok((shortcuts, analysis))
    };
    let (mut shortcuts, mut analysis) = fit_and_analyse(None)?;
    if let (ClusterCount::Tested { max }, false) = (search.clusters(), space.top_probes) {
        // `--k tested`: the classes whose one cluster passed are searched again with `max`
        // clusters (no more than they have probes of weight above 0); a class none of whose
        // clusters then passes goes back to one, until every split class has a driver.
        let passed: Vec<bool> = analysis
            .findings
            .iter()
            .map(|f| f.status == Status::Found)
            .collect();
        let mut ks: Vec<usize> = (0..passed.len())
            .map(|c| match passed[c] {
                true => {
                    let w = class_weights(&fit_probs, c, space.method.weight_exponent);
                    max.min(w.iter().filter(|&&x| x > 0.0).count()).max(1)
                }
                false => 1,
            })
            .collect();
        let first = (shortcuts.clone(), analysis.clone());
        while ks.iter().any(|&k| k > 1) {
            (shortcuts, analysis) = fit_and_analyse(Some(ks.clone()))?;
            let back: Vec<usize> = (0..ks.len())
                .filter(|&c| ks[c] > 1 && analysis.findings[c].status != Status::Found)
                .collect();
            if back.is_empty() {
                break;
            }
            for c in back {
                ks[c] = 1;
            }
        }
        if ks.iter().all(|&k| k == 1) {
            (shortcuts, analysis) = first;
        } else {
            keep_first_round(&mut analysis, &first.1, &ks);
        }
    }
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
    let s = &analysis.score;
    let run = RunResult {
        latent_dim: shortcuts.dim,
        ks: shortcuts.ks.clone(),
        paper_method: None,
        probabilities_as_latent: None,
        probes_fit: space.split.fit.len(),
        probes_held_out: space.split.held.len(),
        acp: s.acp,
        chance: s.chance,
        ceiling: s.ceiling,
        normalized_acp: s.normalized_acp,
        empty_clusters: s.empty_clusters,
        vae: space.vae_training,
        clusters,
        findings: analysis.findings.clone(),
        projection: Projection2d {
            pca: analysis.projection.is_pca,
            explained_variance: analysis.projection.explained,
        },
        files: run_files(
            rel,
            &plotted_classes(space.class_names.len()),
            space.vae.is_some(),
        ),
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
