//! Step 4 of the method and everything the report shows of one latent space.
//!
//! For each class c, weighted k-means over the probes' latents with weights `p_c(x)^e`
//! (e = 2 in the paper) gives that class's centroids; every probe then joins its nearest
//! centroid among all classes' centroids, and ACP scores the result ([`crate::metrics`]).
//! [`write_run`] then decodes each centroid into a prototype image, finds the probes nearest
//! to it, draws the paper's Figures 3 and 4, and writes probes.csv, latents.npz and the VAE.

use std::fmt::Write as _;
use std::path::Path;

use crate::atomic;
use crate::data::Images;
use crate::describe;
use crate::error::{Error, Result};
use crate::kmeans::{KMeansParams, sq_dist};
use crate::metrics::{self, AcpScore, Probabilities};
use crate::nn::vae::{self, Vae, VaeConfig};
use crate::report::npz::{self, Array};
use crate::report::pca::Projection;
use crate::report::plots::{self, Scatter};
use crate::report::png::{self, Rgb};
use crate::report::{
    CausalCheck, ClusterDescription, ClusterReport, Projection2d, RunFiles, RunResult,
};
use crate::seed::{self, Stream};

/// How many probes nearest each centroid the report shows.
pub const NEAREST_PROBES: usize = 8;

/// The clusters of one latent space and their score.
pub struct Clustering {
    /// Every centroid, class by class (`k` per class), `dim` values each.
    pub centroids: Vec<f32>,
    /// Class of each centroid.
    pub owners: Vec<usize>,
    /// Nearest centroid of each probe.
    pub assignment: Vec<usize>,
    pub score: AcpScore,
}

/// Probe weights for class `c`: `p_c(x)^exponent`.
pub fn class_weights(probs: &Probabilities, c: usize, exponent: f64) -> Vec<f32> {
    probs
        .column(c)
        .iter()
        .map(|&p| (p as f64).powf(exponent) as f32)
        .collect()
}

/// How step 4 clusters.
pub struct ClusterSettings<'a> {
    /// Restarts, iterations and tolerance of k-means (its `k` is not used: see `ks`).
    pub kmeans: &'a KMeansParams,
    /// Clusters of each class.
    pub ks: &'a [usize],
    /// Probes weigh `p_c(x)^weight_exponent` in class c's k-means.
    pub weight_exponent: f64,
    /// Class c's k-means draws its seeding from `(seed, KMeans, seed_path + [c])`.
    pub seed: u64,
    pub seed_path: &'a [u64],
}

/// Centroids (class by class) and their owners, fitted on the probes `rows` (all if None).
fn fit_centroids(
    latents: &[f32],
    dim: usize,
    probs: &Probabilities,
    class_names: &[String],
    settings: &ClusterSettings,
    rows: Option<&[usize]>,
) -> Result<(Vec<f32>, Vec<usize>)> {
    let (points, probs) = match rows {
        None => (latents.to_vec(), probs.clone()),
        Some(rows) => {
            let mut pts = Vec::with_capacity(rows.len() * dim);
            let mut pv = Vec::with_capacity(rows.len() * probs.classes);
            for &i in rows {
                pts.extend_from_slice(&latents[i * dim..(i + 1) * dim]);
                pv.extend((0..probs.classes).map(|c| probs.get(i, c)));
            }
            (pts, Probabilities::new(probs.classes, pv)?)
        }
    };
    let mut centroids = Vec::new();
    let mut owners = Vec::new();
    for (c, name) in class_names.iter().enumerate() {
        let weights = class_weights(&probs, c, settings.weight_exponent);
        let mut path = settings.seed_path.to_vec();
        path.push(c as u64);
        let mut rng = seed::rng(settings.seed, Stream::KMeans, &path);
        let params = KMeansParams {
            k: settings.ks[c],
            ..settings.kmeans.clone()
        };
        let fit = params
            .fit(&points, dim, &weights, &mut rng)
            .map_err(|source| Error::KMeans {
                class: name.clone(),
                source,
            })?;
        centroids.extend_from_slice(&fit.centroids);
        owners.extend(std::iter::repeat_n(c, params.k));
    }
    Ok((centroids, owners))
}

/// Weighted k-means per class, then every probe to its nearest centroid of all, then ACP.
pub fn cluster_and_score(
    latents: &[f32],
    dim: usize,
    probs: &Probabilities,
    class_names: &[String],
    settings: &ClusterSettings,
) -> Result<Clustering> {
    let (centroids, owners) = fit_centroids(latents, dim, probs, class_names, settings, None)?;
    let assignment = metrics::assign_nearest(latents, &centroids, dim);
    let score = metrics::score(probs, &owners, &assignment)?;
    Ok(Clustering {
        centroids,
        owners,
        assignment,
        score,
    })
}

/// How many clusters each class gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterCount {
    /// The same number for every class (the paper: 1).
    Fixed(usize),
    /// Chosen per class by held-out ACP ([`select_k`]), at most `max` per class.
    Auto { max: usize },
}

impl ClusterCount {
    /// Clusters per class used by automatic selection at most.
    pub const AUTO_MAX: usize = 8;
    /// Smallest held-out ACP gain that earns a class another cluster.
    pub const AUTO_MIN_GAIN: f64 = 0.002;

    /// The smallest number of clusters a class can get.
    pub fn min(self) -> usize {
        match self {
            ClusterCount::Fixed(k) => k,
            ClusterCount::Auto { .. } => 1,
        }
    }

    /// Clusters per class for these latents (`settings.ks` is ignored).
    pub fn resolve(
        self,
        latents: &[f32],
        dim: usize,
        probs: &Probabilities,
        class_names: &[String],
        settings: &ClusterSettings,
    ) -> Result<Vec<usize>> {
        match self {
            ClusterCount::Fixed(k) => Ok(vec![k; class_names.len()]),
            ClusterCount::Auto { max } => Ok(select_k(
                latents,
                dim,
                probs,
                class_names,
                settings,
                max,
                Self::AUTO_MIN_GAIN,
            )?
            .0),
        }
    }
}

/// Chooses the number of clusters of each class by held-out ACP.
///
/// The probes are split in two halves (seeded): centroids are fitted on one, ACP is measured on
/// the other (each held-out probe joins its nearest centroid). Starting from one cluster per
/// class, the class whose extra cluster raises held-out ACP the most gets it, as long as the
/// gain is at least `min_gain` and no class exceeds `max_k`. Returns the clusters per class
/// and the held-out ACP of that choice.
pub fn select_k(
    latents: &[f32],
    dim: usize,
    probs: &Probabilities,
    class_names: &[String],
    settings: &ClusterSettings,
    max_k: usize,
    min_gain: f64,
) -> Result<(Vec<usize>, f64)> {
    use rand::seq::SliceRandom;
    let n = probs.count();
    let mut order: Vec<usize> = (0..n).collect();
    let mut path = settings.seed_path.to_vec();
    path.push(u64::MAX);
    order.shuffle(&mut seed::rng(settings.seed, Stream::KMeans, &path));
    let (fit_rows, test_rows) = order.split_at(n / 2);
    let test_latents: Vec<f32> = test_rows
        .iter()
        .flat_map(|&i| latents[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let test_probs = Probabilities::new(
        probs.classes,
        test_rows
            .iter()
            .flat_map(|&i| (0..probs.classes).map(move |c| probs.get(i, c)))
            .collect(),
    )?;
    let held_out = |ks: &[usize]| -> Result<f64> {
        let s = ClusterSettings { ks, ..*settings };
        let (centroids, owners) =
            fit_centroids(latents, dim, probs, class_names, &s, Some(fit_rows))?;
        let assignment = metrics::assign_nearest(&test_latents, &centroids, dim);
        Ok(metrics::score(&test_probs, &owners, &assignment)?.acp)
    };
    let mut ks = vec![1usize; class_names.len()];
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

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Everything [`write_run`] needs about one latent space.
pub struct RunInput<'a> {
    /// Output root; files go under `root/rel`.
    pub root: &'a Path,
    /// Folder of this run, relative to the root (e.g. `trial-0/dim-3`).
    pub rel: String,
    /// Title prefix for plots (e.g. "trial 0, latent dim 3").
    pub label: String,
    pub class_names: &'a [String],
    pub probs: &'a Probabilities,
    pub latents: &'a [f32],
    pub dim: usize,
    pub clustering: &'a Clustering,
    pub weight_exponent: f64,
    pub vae: &'a Vae,
    pub vae_config: &'a VaeConfig,
    pub vae_training: crate::nn::vae::VaeTraining,
    pub device: &'a burn::prelude::Device,
    /// Returns the probe images with the given ids.
    pub probe_images: &'a dyn Fn(&[usize]) -> Result<Images>,
    /// Permutations of the significance test (0: no test).
    pub permutations: usize,
    /// Seed of the significance test (with `seed_path`).
    pub seed: u64,
    pub seed_path: &'a [u64],
    /// Held-out real images and the classifier, for the causal check (None: skipped).
    pub causal: Option<&'a CausalInput<'a>>,
}

/// What the causal check needs: held-out real images at the classifier's input size (RGB)
/// and the classifier.
pub struct CausalInput<'a> {
    pub images: &'a Images,
    /// What the images are, for the report ("held-out monochrome digits").
    pub description: String,
    pub predict: &'a dyn Fn(&Images) -> Result<Probabilities>,
    /// The classifier's prediction on each untouched image: the reference flips count from.
    pub base_pred: Vec<usize>,
}

impl<'a> CausalInput<'a> {
    /// Runs the classifier over the untouched images for the reference predictions.
    pub fn new(
        images: &'a Images,
        description: String,
        predict: &'a dyn Fn(&Images) -> Result<Probabilities>,
    ) -> Result<Self> {
        let p = predict(images)?;
        Ok(CausalInput {
            images,
            description,
            predict,
            base_pred: (0..images.count).map(|i| p.argmax(i)).collect(),
        })
    }
}

/// Blend strengths of the causal check.
pub const CAUSAL_STRENGTHS: [f64; 3] = [0.25, 0.5, 0.75];

/// Share of images, not already predicted as `class`, that are after blending `pattern`
/// (an RGB image of the images' size) into each at strength `alpha`: `(1-a) x + a pattern`.
pub fn flip_rate(
    causal: &CausalInput,
    base_pred: &[usize],
    pattern: &[f32],
    class: usize,
    alpha: f64,
) -> Result<f64> {
    let imgs = causal.images;
    let candidates: Vec<usize> = (0..imgs.count).filter(|&i| base_pred[i] != class).collect();
    if candidates.is_empty() {
        return Ok(0.0);
    }
    let mut blended = imgs.select(&candidates);
    let a = alpha as f32;
    for img in blended.data.chunks_exact_mut(imgs.image_len()) {
        for (v, &p) in img.iter_mut().zip(pattern) {
            *v = (1.0 - a) * *v + a * p;
        }
    }
    let probs = (causal.predict)(&blended)?;
    let flipped = (0..blended.count)
        .filter(|&i| probs.argmax(i) == class)
        .count();
    Ok(flipped as f64 / candidates.len() as f64)
}

/// Decodes prototypes, draws plots, writes the run's files, and returns its result record.
pub fn write_run(input: &RunInput) -> Result<RunResult> {
    let dir = input.root.join(&input.rel);
    let file = |name: &str| {
        if input.rel.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", input.rel)
        }
    };
    let (dim, c) = (input.dim, &input.clustering);
    let m = c.owners.len();
    let k_of = |j: usize| j - c.owners.iter().position(|&o| o == c.owners[j]).unwrap_or(0);

    // Prototypes: decoded centroids.
    let prototypes = vae::decode(input.vae, input.vae_config, &c.centroids, input.device)?;
    let p_values = if input.permutations > 0 {
        let mut rng = seed::rng(input.seed, Stream::Permutation, input.seed_path);
        metrics::permutation_pvalues(
            input.probs,
            &c.owners,
            &c.assignment,
            input.permutations,
            &mut rng,
        )
    } else {
        vec![None; m]
    };
    let tested = p_values.iter().filter(|p| p.is_some()).count().max(1);
    // Each class's probe weights `p_c^e`, for the clusters' shares and probes.csv.
    let class_weights: Vec<Vec<f32>> = (0..input.class_names.len())
        .map(|c| class_weights(input.probs, c, input.weight_exponent))
        .collect();
    // The grey control depends only on the class: computed once per class.
    let mut grey_flip_rates: Vec<Option<Vec<f64>>> = vec![None; input.class_names.len()];
    let mut clusters = Vec::with_capacity(m);
    // j indexes several parallel per-cluster arrays.
    #[allow(clippy::needless_range_loop)]
    for j in 0..m {
        let owner = c.owners[j];
        let centroid = c.centroids[j * dim..(j + 1) * dim].to_vec();
        let nearest = nearest_points(input.latents, dim, &centroid, NEAREST_PROBES);
        let proto_name = format!("prototype-{j}.png");
        let nearest_name = format!("nearest-{j}.png");
        let scale = (96 / prototypes.height.max(1)).max(1);
        atomic::write(
            &dir.join(&proto_name),
            &Rgb::from_image(&prototypes, j, scale).encode()?,
        )?;
        let near_imgs = (input.probe_images)(&nearest)?;
        atomic::write(
            &dir.join(&nearest_name),
            &png::strip(&near_imgs, 56, 2).encode()?,
        )?;
        let weights = &class_weights[owner];
        let description = describe_cluster(input, &prototypes, j, weights)?;
        let total: f64 = weights.iter().map(|&w| w as f64).sum();
        let mine: f64 = c
            .assignment
            .iter()
            .zip(weights)
            .filter(|&(&a, _)| a == j)
            .map(|(_, &w)| w as f64)
            .sum();
        let s = &c.score.clusters[j];
        let causal = match input.causal {
            Some(ci) => {
                let base_pred = &ci.base_pred;
                let size = (ci.images.height, ci.images.width);
                let pattern = prototypes.slice(j, j + 1).resize(size.0, size.1).data;
                let flip = CAUSAL_STRENGTHS
                    .iter()
                    .map(|&a| flip_rate(ci, base_pred, &pattern, owner, a))
                    .collect::<Result<Vec<_>>>()?;
                let control = match &grey_flip_rates[owner] {
                    Some(rates) => rates.clone(),
                    None => {
                        let grey = vec![0.5f32; pattern.len()];
                        let rates = CAUSAL_STRENGTHS
                            .iter()
                            .map(|&a| flip_rate(ci, base_pred, &grey, owner, a))
                            .collect::<Result<Vec<_>>>()?;
                        grey_flip_rates[owner] = Some(rates.clone());
                        rates
                    }
                };
                Some(CausalCheck {
                    images: ci.description.clone(),
                    strengths: CAUSAL_STRENGTHS.to_vec(),
                    flip_rate: flip,
                    grey_flip_rate: control,
                })
            }
            None => None,
        };
        clusters.push(ClusterReport {
            p_value: p_values[j],
            significant: p_values[j].is_some_and(|p| p < 0.05 / tested as f64),
            causal,
            class: owner,
            class_name: input.class_names[owner].clone(),
            index: k_of(j),
            size: s.size,
            mean_probability: s.mean_probability,
            chance: s.chance,
            weight_share: if total > 0.0 { mine / total } else { 0.0 },
            centroid,
            nearest_probes: nearest,
            description,
            prototype_png: file(&proto_name),
            nearest_png: file(&nearest_name),
        });
    }

    // 2D view and plots.
    let projection = Projection::fit(input.latents, dim);
    let xy = projection.apply_all(input.latents);
    let centroids_xy: Vec<[f64; 2]> = c
        .centroids
        .chunks_exact(dim)
        .map(|p| projection.apply(p))
        .collect();
    let axis_labels = projection.axis_labels();
    let view = if projection.is_pca {
        " (PCA of latents)"
    } else {
        ""
    };
    let mut probability_plots = Vec::new();
    // Two classes share one sigmoid: p_0 = 1 - p_1, so one plot says it all.
    let shown: Vec<usize> = if input.class_names.len() == 2 {
        vec![1]
    } else {
        (0..input.class_names.len()).collect()
    };
    for &class in &shown {
        let name = format!("probability-{class}.png");
        let title = format!(
            "{}: probes by p(class {}){view}",
            input.label, input.class_names[class]
        );
        let img = plots::probability_scatter(
            &Scatter {
                title: &title,
                axis_labels: &axis_labels,
                points: &xy,
            },
            &input.probs.column(class),
            &format!("p({})", input.class_names[class]),
        )?;
        atomic::write(&dir.join(&name), &img.encode()?)?;
        probability_plots.push(file(&name));
    }
    let cluster_names: Vec<String> = clusters
        .iter()
        .map(|cl| format!("class {} #{}", cl.class_name, cl.index + 1))
        .collect();
    let title = format!("{}: probes by cluster, + centroids{view}", input.label);
    let img = plots::cluster_scatter(
        &Scatter {
            title: &title,
            axis_labels: &axis_labels,
            points: &xy,
        },
        &c.assignment,
        &centroids_xy,
        &cluster_names,
    )?;
    atomic::write(&dir.join("clusters.png"), &img.encode()?)?;

    // probes.csv: one row per probe.
    let n = input.probs.count();
    let mut csv = String::with_capacity(n * 64);
    csv.push_str("id");
    for name in input.class_names {
        csv.push(',');
        csv.push_str(&csv_field(&format!("p_{name}")));
    }
    csv.push_str(",cluster,cluster_class,weight,x,y\n");
    for (i, p) in xy.iter().enumerate() {
        let j = c.assignment[i];
        let owner = c.owners[j];
        let _ = write!(csv, "{i}");
        for cl in 0..input.class_names.len() {
            let _ = write!(csv, ",{}", input.probs.get(i, cl));
        }
        let _ = writeln!(
            csv,
            ",{j},{},{},{},{}",
            csv_field(&input.class_names[owner]),
            class_weights[owner][i],
            p[0] as f32,
            p[1] as f32
        );
    }
    atomic::write(&dir.join("probes.csv"), csv.as_bytes())?;

    // latents.npz
    let xy_flat: Vec<f32> = xy.iter().flat_map(|p| [p[0] as f32, p[1] as f32]).collect();
    let classes = input.class_names.len();
    let bytes = npz::encode(&[
        (
            "latents",
            Array::F32 {
                shape: vec![n, dim],
                data: input.latents,
            },
        ),
        (
            "probabilities",
            Array::F32 {
                shape: vec![n, classes],
                data: &input.probs.values,
            },
        ),
        (
            "clusters",
            Array::I64 {
                shape: vec![n],
                data: c.assignment.iter().map(|&a| a as i64).collect(),
            },
        ),
        (
            "centroids",
            Array::F32 {
                shape: vec![m, dim],
                data: &c.centroids,
            },
        ),
        (
            "centroid_classes",
            Array::I64 {
                shape: vec![m],
                data: c.owners.iter().map(|&o| o as i64).collect(),
            },
        ),
        (
            "projection",
            Array::F32 {
                shape: vec![n, 2],
                data: &xy_flat,
            },
        ),
    ]);
    atomic::write(&dir.join("latents.npz"), &bytes)?;

    // The VAE.
    crate::nn::save_weights(
        input.vae,
        &dir.join("vae.safetensors"),
        &[("spurion", "vae")],
    )?;
    atomic::write_json(&dir.join("vae.json"), input.vae_config)?;

    let s = &c.score;
    let mut ks = vec![0usize; input.class_names.len()];
    for &o in &c.owners {
        ks[o] += 1;
    }
    Ok(RunResult {
        latent_dim: dim,
        ks,
        paper_method: None,
        acp: s.acp,
        chance: s.chance,
        ceiling: s.ceiling,
        normalized_acp: s.normalized_acp,
        empty_clusters: s.empty_clusters,
        vae: input.vae_training.clone(),
        clusters,
        projection: Projection2d {
            pca: projection.is_pca,
            explained_variance: projection.explained,
        },
        files: RunFiles {
            probes_csv: file("probes.csv"),
            latents_npz: file("latents.npz"),
            vae_weights: file("vae.safetensors"),
            vae_config: file("vae.json"),
            probability_plots,
            cluster_plot: file("clusters.png"),
        },
    })
}

/// Most probes a description looks at per cluster (the heaviest ones).
const DESCRIBED_PROBES: usize = 400;

fn describe_cluster(
    input: &RunInput,
    prototypes: &Images,
    j: usize,
    weights: &[f32],
) -> Result<ClusterDescription> {
    let mut members: Vec<usize> = (0..input.clustering.assignment.len())
        .filter(|&i| input.clustering.assignment[i] == j)
        .collect();
    members.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
    members.truncate(DESCRIBED_PROBES);
    let images = (input.probe_images)(&members)?;
    let w: Vec<f32> = members.iter().map(|&i| weights[i]).collect();
    let (color, color_share) = describe::dominant_color(&images, &w);
    let mean = describe::mean_rgb(prototypes, j);
    let prototype_color = describe::color_name(mean).to_string();
    let prototype_channel = describe::dominant_channel(mean).to_string();
    let position = describe::energy_position(prototypes, j);
    let stripes_deg = describe::stripe_orientation(prototypes, j)
        .filter(|&(_, coherence)| coherence > 0.5)
        .map(|(angle, _)| angle.round());
    let mut text = if members.is_empty() {
        "no probes".to_string()
    } else {
        format!(
            "mostly {color} probes ({:.0}% of the weight)",
            100.0 * color_share
        )
    };
    if let Some(p) = &position {
        text.push_str(&format!("; prototype structure at {p}"));
    }
    if let Some(a) = stripes_deg {
        text.push_str(&format!("; stripes at {a:.0}°"));
    }
    Ok(ClusterDescription {
        color,
        color_share,
        prototype_color,
        prototype_channel,
        position,
        stripes_deg,
        text,
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

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("cat"), "cat");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
