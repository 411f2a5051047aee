//! The variational autoencoder of step 2: it maps probes to a low-dimensional latent space
//! where nearby points look alike, so probes can be clustered geometrically, and its decoder
//! turns a cluster centroid back into a picture (the prototype).
//!
//! The VAE sees each probe as a small thumbnail (`size x size`, area-averaged), flattened: a
//! fully connected encoder gives the mean and log-variance of `q(z|x)`, a mirrored decoder gives
//! per-pixel Bernoulli logits. Loss: the negative ELBO, reconstruction cross-entropy (written
//! with `log_sigmoid`) plus the KL divergence to `N(0, I)`, per probe.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, relu, sigmoid};
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};

use super::{matrix, seeded_init, to_vec};
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

/// Negative ELBO per probe, split into its two terms.
pub struct ElboTerms {
    pub reconstruction: Tensor<1>,
    pub kl: Tensor<1>,
}

/// Loss terms for a batch `x` with reparameterisation noise `eps` (`[B, latent_dim]`).
pub fn elbo_terms(model: &Vae, x: Tensor<2>, eps: Tensor<2>) -> ElboTerms {
    let batch = x.dims()[0] as f64;
    let (mu, log_var) = model.encode(x.clone());
    let z = mu.clone() + (log_var.clone() * 0.5).exp() * eps;
    let logits = model.decode(z);
    // Bernoulli cross-entropy with continuous targets in [0, 1].
    let rec = log_sigmoid(logits.clone()) * x.clone()
        + log_sigmoid(logits.neg()) * x.neg().add_scalar(1.0);
    let reconstruction = rec.sum().neg() / batch;
    let kl = (log_var.clone().add_scalar(1.0) - mu.powi_scalar(2) - log_var.exp()).sum()
        * (-0.5 / batch);
    ElboTerms { reconstruction, kl }
}

/// Flattened thumbnails: `[count, channels * size * size]` values, row-major.
pub fn thumbnails(images: &Images, size: usize) -> Vec<f32> {
    images.resize(size, size).data
}

/// Standard-normal noise from our own generator (burn's generator is global; see `seed`).
fn normal(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VaeTrainParams {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
}

/// Trains a VAE on flattened thumbnails `x` (`count x input_len`). `on_epoch` receives the
/// epoch's mean negative ELBO per probe.
pub fn train(
    config: &VaeConfig,
    x: &[f32],
    params: &VaeTrainParams,
    device: &Device,
    init_seed: u64,
    rng: &mut Rng,
    mut on_epoch: impl FnMut(usize, f64),
) -> Result<Vae> {
    let ad = device.clone().autodiff();
    let d = config.input_len();
    let n = x.len() / d;
    let mut model = seeded_init(&ad, init_seed, || Vae::new(config, &ad));
    let mut optim = AdamConfig::new().init();
    let mut order: Vec<usize> = (0..n).collect();
    let mut batch_values = Vec::with_capacity(params.batch_size * d);
    for epoch in 0..params.epochs {
        order.shuffle(rng);
        let mut total = 0.0;
        for batch in order.chunks(params.batch_size) {
            batch_values.clear();
            for &i in batch {
                batch_values.extend_from_slice(&x[i * d..(i + 1) * d]);
            }
            let xb = matrix(batch_values.clone(), batch.len(), d, &ad);
            let eps = matrix(
                normal(batch.len() * config.latent_dim, rng),
                batch.len(),
                config.latent_dim,
                &ad,
            );
            let terms = elbo_terms(&model, xb, eps);
            let loss = terms.reconstruction + terms.kl;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            total += super::scalar(loss)? * batch.len() as f64;
            model = optim.step(params.learning_rate, model, grads);
        }
        on_epoch(epoch, total / n as f64);
    }
    Ok(model.valid())
}

/// How latents are read off the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatentMode {
    /// The encoder mean `mu(x)`: deterministic.
    #[default]
    Mean,
    /// A draw `z = mu + sigma * eps`, as the paper did.
    Sample,
}

/// Encodes flattened thumbnails in batches; returns `count x latent_dim` latents.
pub fn encode(
    model: &Vae,
    config: &VaeConfig,
    x: &[f32],
    mode: LatentMode,
    batch_size: usize,
    device: &Device,
    rng: &mut Rng,
) -> Result<Vec<f32>> {
    let d = config.input_len();
    let n = x.len() / d;
    let mut out = Vec::with_capacity(n * config.latent_dim);
    for start in (0..n).step_by(batch_size.max(1)) {
        let end = (start + batch_size).min(n);
        let xb = matrix(x[start * d..end * d].to_vec(), end - start, d, device);
        let (mu, log_var) = model.encode(xb);
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

/// Decodes latents (`count x latent_dim`) to images with values in `[0, 1]`.
pub fn decode(model: &Vae, config: &VaeConfig, z: &[f32], device: &Device) -> Result<Images> {
    let n = z.len() / config.latent_dim;
    let x = sigmoid(model.decode(matrix(z.to_vec(), n, config.latent_dim, device)));
    Ok(Images {
        count: n,
        channels: config.channels,
        height: config.size,
        width: config.size,
        data: to_vec(x)?,
    })
}
