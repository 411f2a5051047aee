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
use crate::report::{ClusterDescription, ClusterReport, Projection2d, RunFiles, RunResult};
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
    pub kmeans: &'a KMeansParams,
    /// Probes weigh `p_c(x)^weight_exponent` in class c's k-means.
    pub weight_exponent: f64,
    /// Class c's k-means draws its seeding from `(seed, KMeans, seed_path + [c])`.
    pub seed: u64,
    pub seed_path: &'a [u64],
}

/// Weighted k-means per class, then every probe to its nearest centroid of all, then ACP.
pub fn cluster_and_score(
    latents: &[f32],
    dim: usize,
    probs: &Probabilities,
    class_names: &[String],
    settings: &ClusterSettings,
) -> Result<Clustering> {
    let params = settings.kmeans;
    let mut centroids = Vec::new();
    let mut owners = Vec::new();
    for (c, name) in class_names.iter().enumerate() {
        let weights = class_weights(probs, c, settings.weight_exponent);
        let mut path = settings.seed_path.to_vec();
        path.push(c as u64);
        let mut rng = seed::rng(settings.seed, Stream::KMeans, &path);
        let fit = params
            .fit(latents, dim, &weights, &mut rng)
            .map_err(|source| Error::KMeans {
                class: name.clone(),
                source,
            })?;
        centroids.extend_from_slice(&fit.centroids);
        owners.extend(std::iter::repeat_n(c, params.k));
    }
    let assignment = metrics::assign_nearest(latents, &centroids, dim);
    let score = metrics::score(probs, &owners, &assignment)?;
    Ok(Clustering {
        centroids,
        owners,
        assignment,
        score,
    })
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
    let mut clusters = Vec::with_capacity(m);
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
        let weights = class_weights(input.probs, owner, input.weight_exponent);
        let description = describe_cluster(input, &prototypes, j, &weights)?;
        let total: f64 = weights.iter().map(|&w| w as f64).sum();
        let mine: f64 = c
            .assignment
            .iter()
            .zip(&weights)
            .filter(|&(&a, _)| a == j)
            .map(|(_, &w)| w as f64)
            .sum();
        let s = &c.score.clusters[j];
        clusters.push(ClusterReport {
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
        let w = (input.probs.get(i, owner) as f64).powf(input.weight_exponent);
        let _ = writeln!(
            csv,
            ",{j},{},{},{},{}",
            csv_field(&input.class_names[owner]),
            w as f32,
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
    Ok(RunResult {
        latent_dim: dim,
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
    let prototype_color = describe::color_name(describe::mean_rgb(prototypes, j)).to_string();
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
