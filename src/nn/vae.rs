//! The variational autoencoder of step 2: it maps probes to a low-dimensional latent space
//! where nearby points look alike, so probes can be clustered geometrically, and its decoder
//! turns a cluster centroid back into a picture (the prototype).
//!
//! The VAE sees each probe as a small thumbnail (`size x size`, area-averaged), flattened: a
//! fully connected encoder gives the mean and log-variance of `q(z|x)`, a mirrored decoder gives
//! per-pixel Bernoulli logits. Loss: the negative ELBO, reconstruction cross-entropy (written
//! with `log_sigmoid`) plus the KL divergence to `N(0, I)`, per probe.

use std::path::Path;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, relu, sigmoid};
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};

use super::{SavedModel, matrix, seeded_init, to_vec};
use crate::data::Images;
use crate::error::Result;
use crate::seed::Rng;

/// Shape of a VAE; saved beside its weights.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VaeConfig {
    pub channels: usize,
    /// Thumbnails are `size x size`.
    pub size: usize,
    pub latent_dim: usize,
    pub hidden: usize,
    /// Classes of the guide head; `None` for a plain VAE: a linear map from the latent to the
    /// classifier's logits, trained with the ELBO.
    #[serde(default)]
    pub guide_classes: Option<usize>,
}

impl VaeConfig {
    /// Values in one flattened thumbnail.
    pub fn input_len(&self) -> usize {
        self.channels * self.size * self.size
    }
}

/// Encoder: input - hidden - hidden - (mean, log-variance); decoder mirrors it.
#[derive(Module, Debug)]
pub struct Vae {
    enc1: Linear,
    enc2: Linear,
    mean: Linear,
    log_var: Linear,
    dec1: Linear,
    dec2: Linear,
    dec_out: Linear,
    /// Guide head: a linear map from the latent to the classifier's logits. Trained to predict
    /// the classifier's probabilities from `z`, it makes the classes linearly separable in the
    /// latent space, which is what nearest-centroid (Voronoi) clusters need.
    guide: Option<Linear>,
}

impl Vae {
    pub fn new(config: &VaeConfig, device: &Device) -> Self {
        let (d, h, z) = (config.input_len(), config.hidden, config.latent_dim);
        Vae {
            enc1: LinearConfig::new(d, h).init(device),
            enc2: LinearConfig::new(h, h).init(device),
            mean: LinearConfig::new(h, z).init(device),
            log_var: LinearConfig::new(h, z).init(device),
            dec1: LinearConfig::new(z, h).init(device),
            dec2: LinearConfig::new(h, h).init(device),
            dec_out: LinearConfig::new(h, d).init(device),
            guide: config
                .guide_classes
                .map(|g| LinearConfig::new(z, g).init(device)),
        }
    }

    /// `[B, input_len]` -> (mean, log-variance), each `[B, latent_dim]`.
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = relu(self.enc2.forward(relu(self.enc1.forward(x))));
        (self.mean.forward(h.clone()), self.log_var.forward(h))
    }

    /// `[B, latent_dim]` -> pixel logits `[B, input_len]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let h = relu(self.dec2.forward(relu(self.dec1.forward(z))));
        self.dec_out.forward(h)
    }
}

/// Negative ELBO per probe, split into its two terms, and the guide's loss.
pub struct ElboTerms {
    pub reconstruction: Tensor<1>,
    pub kl: Tensor<1>,
    /// Cross-entropy of the guide head against the classifier's probabilities (per probe,
    /// summed over classes); None for a plain VAE or without targets.
    pub guide: Option<Tensor<1>>,
}

/// Loss terms for a batch `x` with reparameterisation noise `eps` (`[B, latent_dim]`) and,
/// for a guided VAE, the classifier's probabilities `targets` (`[B, classes]`).
pub fn elbo_terms(
    model: &Vae,
    x: Tensor<2>,
    eps: Tensor<2>,
    targets: Option<Tensor<2>>,
) -> ElboTerms {
    let batch = x.dims()[0] as f64;
    let (mu, log_var) = model.encode(x.clone());
    let z = mu.clone() + (log_var.clone() * 0.5).exp() * eps;
    let guide = match (&model.guide, targets) {
        (Some(head), Some(p)) => {
            let g = head.forward(z.clone());
            let ce =
                log_sigmoid(g.clone()) * p.clone() + log_sigmoid(g.neg()) * p.neg().add_scalar(1.0);
            Some(ce.sum().neg() / batch)
        }
        _ => None,
    };
    let logits = model.decode(z);
    // Bernoulli cross-entropy with continuous targets in [0, 1].
    let rec = log_sigmoid(logits.clone()) * x.clone()
        + log_sigmoid(logits.neg()) * x.neg().add_scalar(1.0);
    let reconstruction = rec.sum().neg() / batch;
    let kl = (log_var.clone().add_scalar(1.0) - mu.powi_scalar(2) - log_var.exp()).sum()
        * (-0.5 / batch);
    ElboTerms {
        reconstruction,
        kl,
        guide,
    }
}

/// Flattened thumbnails: `[count, channels * size * size]` values, row-major.
pub fn thumbnails(images: &Images, size: usize) -> Vec<f32> {
    images.resize(size, size).data
}

/// Standard-normal noise from our own generator (burn's generator is global; see `seed`).
fn normal(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Training settings. Training runs in epochs over the probes, with a held-out share whose
/// negative ELBO decides when to stop: after `min_steps` optimiser steps, training ends once
/// the held-out loss has not improved for `patience_steps` steps (the best model is kept), at
/// `max_steps`, or at the end of epoch `max_epochs` if `min_steps` have been taken. The KL term is ramped from 0 to 1 over
/// the first `kl_warmup_steps` steps, which keeps the encoder from collapsing onto the prior
/// before it has learned anything (posterior collapse) when probes differ only in small details.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VaeTrainParams {
    pub max_epochs: usize,
    pub min_steps: usize,
    pub max_steps: usize,
    pub kl_warmup_steps: usize,
    /// Optimiser steps without held-out improvement before stopping (0: never stop early).
    pub patience_steps: usize,
    /// Share of the probes held out to monitor the ELBO (0: none, no early stopping).
    pub validation_fraction: f64,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Weight of the KL term once warmed up (1: the ELBO; below 1: a beta-VAE).
    pub kl_weight: f64,
    /// Weight of the guide head's loss (a guided VAE; ignored for a plain one).
    #[serde(default)]
    pub guide_weight: f64,
}

impl Default for VaeTrainParams {
    fn default() -> Self {
        VaeTrainParams {
            max_epochs: 200,
            min_steps: 800,
            max_steps: 2000,
            kl_warmup_steps: 300,
            patience_steps: 300,
            validation_fraction: 0.1,
            batch_size: 128,
            learning_rate: 1e-3,
            kl_weight: 1.0,
            guide_weight: 50.0,
        }
    }
}

impl VaeTrainParams {
    /// Exactly `epochs` epochs over all probes, no early stopping, no warm-up (the paper's
    /// fixed schedule; also quick settings for tests).
    pub fn fixed_epochs(epochs: usize) -> Self {
        VaeTrainParams {
            max_epochs: epochs,
            min_steps: 0,
            max_steps: usize::MAX,
            kl_warmup_steps: 0,
            patience_steps: 0,
            validation_fraction: 0.0,
            ..Default::default()
        }
    }
}

/// How training went.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VaeTraining {
    pub epochs: usize,
    pub steps: usize,
    /// Mean negative ELBO per probe of the kept model: on held-out probes when some were held
    /// out, else on the training probes in its last epoch.
    pub loss: f64,
    /// True when training stopped because the held-out loss stopped improving.
    pub early_stopped: bool,
}

fn batch_matrix(x: &[f32], rows: &[usize], d: usize, device: &Device) -> Tensor<2> {
    let mut v = Vec::with_capacity(rows.len() * d);
    for &i in rows {
        v.extend_from_slice(&x[i * d..(i + 1) * d]);
    }
    matrix(v, rows.len(), d, device)
}

/// Mean negative ELBO and guide loss per probe over `rows` (no gradients).
fn evaluate(
    model: &Vae,
    config: &VaeConfig,
    x: &[f32],
    targets: Option<&[f32]>,
    rows: &[usize],
    device: &Device,
    rng: &mut Rng,
) -> Result<(f64, f64)> {
    let d = config.input_len();
    let (mut elbo, mut guide) = (0.0, 0.0);
    for chunk in rows.chunks(1024) {
        let xb = batch_matrix(x, chunk, d, device);
        let eps = matrix(
            normal(chunk.len() * config.latent_dim, rng),
            chunk.len(),
            config.latent_dim,
            device,
        );
        let tb = targets.map(|t| batch_matrix(t, chunk, config.guide_classes.unwrap_or(0), device));
        let t = elbo_terms(model, xb, eps, tb);
        elbo += super::scalar(t.reconstruction + t.kl)? * chunk.len() as f64;
        if let Some(g) = t.guide {
            guide += super::scalar(g)? * chunk.len() as f64;
        }
    }
    let n = rows.len().max(1) as f64;
    Ok((elbo / n, guide / n))
}

/// Trains a VAE on flattened thumbnails `x` (`count x input_len`); a guided VAE also on the
/// classifier's probabilities `targets` (`count x guide_classes`). `on_epoch` receives the
/// epoch index and its negative ELBO (held-out when available); an error from it stops
/// training.
#[allow(clippy::too_many_arguments)]
pub fn train(
    config: &VaeConfig,
    x: &[f32],
    targets: Option<&[f32]>,
    params: &VaeTrainParams,
    device: &Device,
    init_seed: u64,
    rng: &mut Rng,
    mut on_epoch: impl FnMut(usize, f64) -> Result<()>,
) -> Result<(TrainedVae, VaeTraining)> {
    let ad = device.clone().autodiff();
    let d = config.input_len();
    let n = x.len() / d.max(1);
    if n == 0 {
        return Err(crate::Error::Invalid(
            "the VAE has no probes to train on".into(),
        ));
    }
    let mut model = seeded_init(&ad, init_seed, || Vae::new(config, &ad));
    let mut optim = AdamConfig::new().init();
    let targets = targets.filter(|_| config.guide_classes.is_some());
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let n_val = ((n as f64) * params.validation_fraction).round() as usize;
    let n_val = if n - n_val < 1 { 0 } else { n_val };
    let val: Vec<usize> = order[..n_val].to_vec();
    let mut train_rows: Vec<usize> = order[n_val..].to_vec();
    let mut steps = 0usize;
    let mut best: Option<(f64, f64, Vae)> = None;
    let mut best_step = 0usize;
    let mut early_stopped = false;
    let mut epochs = 0;
    let mut last_train = f64::NAN;
    loop {
        if steps >= params.max_steps || (epochs >= params.max_epochs && steps >= params.min_steps) {
            break;
        }
        train_rows.shuffle(rng);
        let mut total = 0.0;
        let mut seen = 0;
        for batch in train_rows.chunks(params.batch_size) {
            let xb = batch_matrix(x, batch, d, &ad);
            let eps = matrix(
                normal(batch.len() * config.latent_dim, rng),
                batch.len(),
                config.latent_dim,
                &ad,
            );
            let tb =
                targets.map(|t| batch_matrix(t, batch, config.guide_classes.unwrap_or(0), &ad));
            let terms = elbo_terms(&model, xb, eps, tb);
            let beta = params.kl_weight
                * if params.kl_warmup_steps == 0 {
                    1.0
                } else {
                    ((steps + 1) as f64 / params.kl_warmup_steps as f64).min(1.0)
                };
            let mut loss = terms.reconstruction.clone() + terms.kl.clone() * beta;
            if let Some(g) = terms.guide {
                loss = loss + g * params.guide_weight;
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let elbo = super::scalar(terms.reconstruction + terms.kl)?;
            if !elbo.is_finite() {
                return Err(crate::Error::param(
                    "vae-lr",
                    format!(
                        "the VAE's training diverged (the loss became {elbo}) at learning rate \
                         {}: lower it",
                        params.learning_rate
                    ),
                ));
            }
            total += elbo * batch.len() as f64;
            seen += batch.len();
            model = optim.step(params.learning_rate, model, grads);
            steps += 1;
            if steps >= params.max_steps {
                break;
            }
        }
        epochs += 1;
        // Over the rows this epoch reached (all of them unless `max_steps` cut it short).
        last_train = total / seen.max(1) as f64;
        if val.is_empty() {
            on_epoch(epochs - 1, last_train)?;
            continue;
        }
        let valid = model.valid();
        let (elbo, guide) = evaluate(&valid, config, x, targets, &val, device, rng)?;
        on_epoch(epochs - 1, elbo)?;
        // Model selection on the training objective; the ELBO alone is what gets reported.
        let loss = elbo + params.guide_weight * guide;
        let warm = steps >= params.kl_warmup_steps;
        if warm && best.as_ref().is_none_or(|b| loss < b.0 - 1e-4 * b.0.abs()) {
            best = Some((loss, elbo, valid));
            best_step = steps;
        }
        if params.patience_steps > 0
            && steps >= params.min_steps
            && best.is_some()
            && steps - best_step >= params.patience_steps
        {
            early_stopped = true;
            break;
        }
    }
    let (model, loss) = match best {
        Some((_, elbo, m)) => (m, elbo),
        None => (model.valid(), last_train),
    };
    Ok((
        TrainedVae {
            model,
            config: config.clone(),
            device: device.clone(),
        },
        VaeTraining {
            epochs,
            steps,
            loss,
            early_stopped,
        },
    ))
}

/// Roughly how many epochs training will take (for progress bars).
pub fn epoch_estimate(params: &VaeTrainParams, probes: usize) -> u64 {
    let train = ((probes as f64) * (1.0 - params.validation_fraction)).max(1.0);
    let per_epoch = (train / params.batch_size.max(1) as f64).ceil().max(1.0) as usize;
    // The most steps `train` takes (see `VaeTrainParams`).
    let steps = (params.max_epochs * per_epoch)
        .max(params.min_steps)
        .min(params.max_steps);
    steps.div_ceil(per_epoch).max(1) as u64
}

/// How latents are read off the encoder.
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
pub enum LatentMode {
    /// The encoder mean `mu(x)`: deterministic.
    #[default]
    Mean,
    /// A draw `z = mu + sigma * eps`, as the paper did.
    Sample,
}

/// A trained VAE: the network, its shape and the device it runs on, as one value that
/// encodes probes, decodes latent points into pictures, and saves itself.
#[derive(Clone)]
pub struct TrainedVae {
    model: Vae,
    config: VaeConfig,
    device: Device,
}

impl TrainedVae {
    /// Loads the weights and config a report wrote (`vae.safetensors`, `vae.json`), on
    /// `device`.
    pub fn load(weights: &Path, config: &Path, device: &Device) -> Result<Self> {
        let text = crate::data::read_file(config)?;
        let config: VaeConfig = serde_json::from_slice(&text)
            .map_err(|e| crate::Error::data(config, format!("not a spurion VAE config: {e}")))?;
        let model = super::load_weights(Vae::new(&config, device), weights)?;
        Ok(TrainedVae {
            model,
            config,
            device: device.clone(),
        })
    }

    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// The weights (safetensors) and config (JSON), as a report saves them.
    pub fn save(&self) -> Result<SavedModel> {
        SavedModel::of(&self.model, &self.config, "vae")
    }

    /// Encodes flattened thumbnails (`count x input_len`) in batches; returns `count x
    /// latent_dim` latents (`rng` draws the noise of [`LatentMode::Sample`]).
    pub fn encode(
        &self,
        x: &[f32],
        mode: LatentMode,
        batch_size: usize,
        rng: &mut Rng,
    ) -> Result<Vec<f32>> {
        let (config, device) = (&self.config, &self.device);
        let d = config.input_len();
        let n = x.len() / d;
        let mut out = Vec::with_capacity(n * config.latent_dim);
        for start in (0..n).step_by(batch_size.max(1)) {
            let end = start + batch_size.min(n - start);
            let xb = matrix(x[start * d..end * d].to_vec(), end - start, d, device);
            let (mu, log_var) = self.model.encode(xb);
            let z = match mode {
                LatentMode::Mean => mu,
                LatentMode::Sample => {
                    let eps = normal((end - start) * config.latent_dim, rng);
                    mu + (log_var * 0.5).exp() * matrix(eps, end - start, config.latent_dim, device)
                }
            };
            out.extend(to_vec(z)?);
        }
        Ok(out)
    }

    /// Decodes latent points (`count x latent_dim`) into images with values in `[0, 1]`.
    pub fn decode(&self, z: &[f32]) -> Result<Images> {
        let config = &self.config;
        let n = z.len() / config.latent_dim;
        // [n, latent_dim] -> [n, channels * size * size]
        let x = sigmoid(
            self.model
                .decode(matrix(z.to_vec(), n, config.latent_dim, &self.device)),
        );
        Ok(Images {
            count: n,
            channels: config.channels,
            height: config.size,
            width: config.size,
            data: to_vec(x)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_estimate_follows_the_stopping_rule() {
        // Fixed epochs: exactly that many.
        assert_eq!(epoch_estimate(&VaeTrainParams::fixed_epochs(7), 1000), 7);
        // 10,000 probes, 9,000 trained on: 71 steps an epoch, stopped by max_steps (2,000).
        assert_eq!(epoch_estimate(&VaeTrainParams::default(), 10_000), 29);
        // 100 probes: one step an epoch, so min_steps (800) outlasts max_epochs (200).
        assert_eq!(epoch_estimate(&VaeTrainParams::default(), 100), 800);
    }
}
