//! Step 2 of the method: a variational autoencoder trained on the probes gives the latent
//! space in which probes are clustered, and its decoder turns a centroid into a picture.
//!
//! By default this is the paper's plain VAE, which never sees the classifier. A *guided* VAE
//! (`--vae guided`) also learns to predict the classifier's probabilities from its latent
//! through one linear layer, which makes the classes linearly separable there; it was
//! spurion's default until the benchmark showed it buys no recoveries and costs false
//! findings (docs/findings.md, docs/benchmark.md).

use burn::prelude::Device;

use crate::error::Result;
use crate::nn::vae;
pub use crate::nn::vae::{LatentMode, TrainedVae, VaeConfig, VaeTrainParams, VaeTraining};
use crate::progress::Progress;
use crate::seed::{Rng, SeedPath, Stream};

/// Which VAE step 2 trains.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum VaeKind {
    /// Trained to predict the classifier's probabilities from the latent as well.
    Guided,
    /// The paper's VAE: the ELBO alone (the default).
    #[default]
    Plain,
}

/// A VAE's shape and training, before the latent dimension is chosen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VaeSettings {
    pub kind: VaeKind,
    /// The VAE sees probes as `size x size` thumbnails.
    pub size: usize,
    /// Units in each hidden layer.
    pub hidden: usize,
    pub training: VaeTrainParams,
}

impl VaeSettings {
    /// The network for `latent_dim` dimensions and `classes` classes.
    pub fn config(&self, latent_dim: usize, classes: usize) -> VaeConfig {
        VaeConfig {
            channels: 3,
            size: self.size,
            latent_dim,
            hidden: self.hidden,
            guide_classes: (self.kind == VaeKind::Guided).then_some(classes),
        }
    }
}

/// Trains a VAE on flattened thumbnails `x`, guided by the classifier's probabilities `guide`
/// (`count x classes`) when the config has a guide head, behind a progress bar labelled
/// `label`. Weights start from `init_seed`; batches and noise come from `rng`.
#[allow(clippy::too_many_arguments)]
pub fn fit_vae(
    config: &VaeConfig,
    x: &[f32],
    guide: Option<&[f32]>,
    params: &VaeTrainParams,
    device: &Device,
    (init_seed, rng): (u64, &mut Rng),
    progress: &Progress,
    label: String,
) -> Result<(TrainedVae, VaeTraining)> {
    let count = x.len() / config.input_len().max(1);
    let bar = progress.bar(vae::epoch_estimate(params, count), label);
    let guide = guide.filter(|_| config.guide_classes.is_some());
    let fitted = vae::train(
        config,
        x,
        guide,
        params,
        device,
        init_seed,
        rng,
        |_, loss| {
            bar.set_message(format!("-ELBO {loss:.2}"));
            bar.inc(1)
        },
    )?;
    bar.finish_and_clear();
    Ok(fitted)
}

/// A trained VAE and every probe's place in its latent space.
pub struct LatentSpace {
    pub vae: TrainedVae,
    pub training: VaeTraining,
    /// Encoder means, `probes x dim`.
    pub means: Vec<f32>,
    /// One draw `mu + sigma * eps` per probe (the paper's latents).
    pub samples: Vec<f32>,
}

impl LatentSpace {
    /// Trains the VAE on the thumbnails of probes `fit_rows` (guided by their rows of
    /// `guide`) and encodes every thumbnail, both ways. Generators: weights from
    /// `(VaeInit, seeds)`, training from `(VaeTraining, seeds)`, sampled latents from
    /// `(LatentSample, seeds)`.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        config: VaeConfig,
        thumbnails: &[f32],
        guide: Option<&[f32]>,
        fit_rows: &[usize],
        params: &VaeTrainParams,
        batch_size: usize,
        device: &Device,
        seeds: &SeedPath,
        progress: &Progress,
        label: String,
    ) -> Result<Self> {
        let rows = |values: &[f32], width: usize| -> Vec<f32> {
            fit_rows
                .iter()
                .flat_map(|&i| &values[i * width..(i + 1) * width])
                .copied()
                .collect()
        };
        let train_x = rows(thumbnails, config.input_len());
        let train_guide = match (guide, config.guide_classes) {
            (Some(g), Some(c)) => Some(rows(g, c)),
            _ => None,
        };
        let (vae, training) = fit_vae(
            &config,
            &train_x,
            train_guide.as_deref(),
            params,
            device,
            (
                seeds.derive(Stream::VaeInit),
                &mut seeds.rng(Stream::VaeTraining),
            ),
            progress,
            label,
        )?;
        let mut rng = seeds.rng(Stream::LatentSample);
        let mut encode = |mode| vae.encode(thumbnails, mode, batch_size, &mut rng);
        let means = encode(LatentMode::Mean)?;
        let samples = encode(LatentMode::Sample)?;
        Ok(LatentSpace {
            vae,
            training,
            means,
            samples,
        })
    }

    /// The latents of `mode`.
    pub fn latents(&self, mode: LatentMode) -> &[f32] {
        match mode {
            LatentMode::Mean => &self.means,
            LatentMode::Sample => &self.samples,
        }
    }
}
