//! The files of one latent space: prototypes and nearest probes (PNG), the paper's two
//! scatter plots, probes.csv, latents.npz and the VAE (safetensors and JSON). Their paths come
//! from the run's [`crate::results::RunFiles`] and cluster records, so results.json
//! and the files agree.

use std::path::Path;

use super::npz::{self, Array};
use super::plots::{self, Scatter};
use super::png::{self, Rgb};
use crate::error::{Error, Result};
use crate::output;
use crate::results::{RunData, RunFiles, RunResult};

/// Paths of a run's files under `rel` (empty: the output folder itself); `plots` are the
/// classes with a probability plot; `vae` whether there is a VAE to save.
pub fn run_files(rel: &str, plots: &[usize], vae: bool) -> RunFiles {
    let file = |name: &str| file_at(rel, name);
    RunFiles {
        probes_csv: file("probes.csv"),
        latents_npz: file("latents.npz"),
        vae_weights: vae.then(|| file("vae.safetensors")),
        vae_config: vae.then(|| file("vae.json")),
        probability_plots: plots
            .iter()
            .map(|c| file(&format!("probability-{c}.png")))
            .collect(),
        cluster_plot: file("clusters.png"),
    }
}

/// `rel/name`, or `name` when `rel` is empty.
pub fn file_at(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// The classes that get a probability plot: two classes share one sigmoid (`p_0 = 1 - p_1`),
/// so one plot says it all.
pub fn plotted_classes(classes: usize) -> Vec<usize> {
    if classes == 2 {
        vec![1]
    } else {
        (0..classes).collect()
    }
}

/// Writes every file of `run` under `root`.
pub fn write_run(root: &Path, run: &RunResult) -> Result<()> {
    let d = run
        .data
        .as_deref()
        .ok_or_else(|| Error::Invalid("a run read back from JSON has no data to write".into()))?;
    let write = |rel: &str, bytes: &[u8]| output::write(&root.join(rel), bytes);
    let protos = d.prototypes();
    let scale = (96 / protos.height.max(1)).max(1);
    for (j, cl) in run.clusters.iter().enumerate() {
        write(
            &cl.prototype_png,
            &Rgb::from_image(protos, j, scale).encode()?,
        )?;
        write(
            &cl.nearest_png,
            &png::strip(&d.analysis.nearest[j], 56, 2).encode()?,
        )?;
    }
    write_plots(root, run, d)?;
    write(&run.files.probes_csv, super::csv::probes_csv(d).as_bytes())?;
    write(&run.files.latents_npz, &latents_npz(d))?;
    if let (Some(vae), Some(weights), Some(config)) =
        (&d.vae, &run.files.vae_weights, &run.files.vae_config)
    {
        write(weights, &vae.weights)?;
        write(config, &vae.config_json)?;
    }
    Ok(())
}

/// Figures 3 and 4 of the paper: probes in the 2-D view coloured by class probability, and by
/// cluster with the centroids marked.
fn write_plots(root: &Path, run: &RunResult, d: &RunData) -> Result<()> {
    let a = &d.analysis;
    let axis_labels = a.projection.axis_labels();
    let view = if a.projection.is_pca {
        " (PCA of latents)"
    } else {
        ""
    };
    let classes = plotted_classes(d.class_names.len());
    for (&class, path) in classes.iter().zip(&run.files.probability_plots) {
        let title = format!(
            "{}: probes by p(class {}){view}",
            d.label, d.class_names[class]
        );
        let img = plots::probability_scatter(
            &Scatter {
                title: &title,
                axis_labels: &axis_labels,
                points: &a.xy,
            },
            &d.probs.column(class),
            &format!("p({})", d.class_names[class]),
        )?;
        output::write(&root.join(path), &img.encode()?)?;
    }
    let cluster_names: Vec<String> = run
        .clusters
        .iter()
        .map(|cl| format!("class {} #{}", cl.class_name, cl.index + 1))
        .collect();
    let title = format!("{}: probes by cluster, + centroids{view}", d.label);
    let img = plots::cluster_scatter(
        &Scatter {
            title: &title,
            axis_labels: &axis_labels,
            points: &a.xy,
        },
        &d.analysis.assignment,
        &a.centroids_xy,
        &cluster_names,
    )?;
    output::write(&root.join(&run.files.cluster_plot), &img.encode()?)
}

/// latents.npz: `latents`, `probabilities`, `clusters`, `centroids`, `centroid_classes`,
/// `projection`.
fn latents_npz(d: &RunData) -> Vec<u8> {
    let (s, a) = (&d.shortcuts, &d.analysis);
    let n = d.probs.count();
    let m = s.owners.len();
    let held: Vec<i64> = a.held_out.iter().map(|&h| h as i64).collect();
    let xy: Vec<f32> =
        a.xy.iter()
            .flat_map(|p| [p[0] as f32, p[1] as f32])
            .collect();
    npz::encode(&[
        (
            "latents",
            Array::F32 {
                shape: vec![n, s.dim],
                data: d.latents.as_slice(),
            },
        ),
        (
            "probabilities",
            Array::F32 {
                shape: vec![n, d.class_names.len()],
                data: &d.probs.values,
            },
        ),
        (
            "clusters",
            Array::I64 {
                shape: vec![n],
                data: a.assignment.iter().map(|&a| a as i64).collect(),
            },
        ),
        (
            "held_out",
            Array::I64 {
                shape: vec![n],
                data: held,
            },
        ),
        (
            "centroids",
            Array::F32 {
                shape: vec![m, s.dim],
                data: &s.centroids,
            },
        ),
        (
            "centroid_classes",
            Array::I64 {
                shape: vec![m],
                data: s.owners.iter().map(|&o| o as i64).collect(),
            },
        ),
        (
            "projection",
            Array::F32 {
                shape: vec![n, 2],
                data: &xy,
            },
        ),
    ])
}
