//! The classifier under audit: a small CNN with sigmoid outputs, as in the paper.
//!
//! Two classes get one sigmoid output (`p_1 = sigmoid(z)`, `p_0 = 1 - p_1`), exactly the
//! paper's binary set-up; more classes get one sigmoid per class (one-vs-rest), so `p_c(x)` is
//! always "the classifier's probability that x is c". Trained with binary cross-entropy written
//! with `log_sigmoid`, and Adam.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, relu, sigmoid};
use rand::seq::SliceRandom;

use super::{images_tensor, matrix, seeded_init, to_vec};
use crate::data::{Images, LabeledImages};
use crate::error::Result;
use crate::metrics::Probabilities;
use crate::seed::Rng;

/// Shape and classes of a classifier; saved beside its weights.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassifierConfig {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub class_names: Vec<String>,
    /// Output channels of the two convolutions.
    pub conv_channels: [usize; 2],
    /// Width of the hidden fully connected layer.
    pub hidden: usize,
}

impl ClassifierConfig {
    pub fn new(channels: usize, height: usize, width: usize, class_names: Vec<String>) -> Self {
        ClassifierConfig {
            channels,
            height,
            width,
            class_names,
            conv_channels: [16, 32],
            hidden: 64,
        }
    }

    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Logits the network emits: 1 for two classes, one per class otherwise.
    pub fn outputs(&self) -> usize {
        if self.classes() == 2 {
            1
        } else {
            self.classes()
        }
    }
}

/// Conv(3x3) - ReLU - MaxPool(2) - Conv(3x3) - ReLU - MaxPool(2) - Linear - ReLU - Linear.
#[derive(Module, Debug)]
pub struct Classifier {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
}

impl Classifier {
    pub fn new(config: &ClassifierConfig, device: &Device) -> Self {
        let [c1, c2] = config.conv_channels;
        let flat = c2 * (config.height / 4) * (config.width / 4);
        Classifier {
            conv1: Conv2dConfig::new([config.channels, c1], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            conv2: Conv2dConfig::new([c1, c2], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(flat, config.hidden).init(device),
            fc2: LinearConfig::new(config.hidden, config.outputs()).init(device),
        }
    }

    /// Logits for a batch of images.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        // [B, C, H, W] -> [B, c1, H/2, W/2]
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        // -> [B, c2, H/4, W/4]
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        // -> [B, c2 * H/4 * W/4]
        let x: Tensor<2> = x.flatten(1, 3);
        // -> [B, outputs]
        self.fc2.forward(relu(self.fc1.forward(x)))
    }
}

/// Class probabilities `[B, classes]` from logits `[B, outputs]`.
pub fn probabilities(logits: Tensor<2>, classes: usize) -> Tensor<2> {
    let p = sigmoid(logits);
    if classes == 2 {
        // One sigmoid: p_1 = p, p_0 = 1 - p.
        Tensor::cat(vec![p.clone().neg().add_scalar(1.0), p], 1)
    } else {
        p
    }
}

/// Binary cross-entropy on logits against 0/1 targets of the same shape, via log-sigmoid.
pub fn bce_with_logits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let pos = log_sigmoid(logits.clone()) * targets.clone();
    let neg = log_sigmoid(logits.neg()) * targets.neg().add_scalar(1.0);
    (pos + neg).neg().mean()
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainParams {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
}

/// 0/1 targets `[B, outputs]` for a batch of labels.
fn targets(labels: &[usize], config: &ClassifierConfig) -> Vec<f32> {
    let outputs = config.outputs();
    let mut t = vec![0.0; labels.len() * outputs];
    for (i, &l) in labels.iter().enumerate() {
        if outputs == 1 {
            t[i] = l as f32;
        } else {
            t[i * outputs + l] = 1.0;
        }
    }
    t
}

/// Trains a fresh classifier behind a progress bar labelled `label`: weights from
/// `(ClassifierInit, seeds)`, batch order from `(ClassifierBatches, seeds)`.
pub fn fit(
    config: &ClassifierConfig,
    data: &LabeledImages,
    params: &TrainParams,
    device: &Device,
    seeds: &crate::seed::SeedPath,
    progress: &crate::progress::Progress,
    label: String,
) -> Result<Classifier> {
    use crate::seed::Stream;
    let steps = params.epochs * data.images.count.div_ceil(params.batch_size);
    let bar = progress.bar(steps as u64, label);
    let model = train(
        config,
        data,
        params,
        device,
        seeds.derive(Stream::ClassifierInit),
        &mut seeds.rng(Stream::ClassifierBatches),
        |loss| {
            bar.set_message(format!("loss {loss:.4}"));
            bar.inc(1)
        },
    )?;
    bar.finish_and_clear();
    Ok(model)
}

/// Trains a fresh classifier on `data`. `init_seed` draws the weights; `rng` orders batches.
/// `on_step` is called after every optimiser step with the batch loss; an error from it
/// stops training.
pub fn train(
    config: &ClassifierConfig,
    data: &LabeledImages,
    params: &TrainParams,
    device: &Device,
    init_seed: u64,
    rng: &mut Rng,
    mut on_step: impl FnMut(f64) -> Result<()>,
) -> Result<Classifier> {
    let ad = device.clone().autodiff();
    let mut model = seeded_init(&ad, init_seed, || Classifier::new(config, &ad));
    let mut optim = AdamConfig::new().init();
    let mut order: Vec<usize> = (0..data.images.count).collect();
    for _ in 0..params.epochs {
        order.shuffle(rng);
        for batch in order.chunks(params.batch_size) {
            let x = images_tensor(&data.images.select(batch), &ad);
            let labels: Vec<usize> = batch.iter().map(|&i| data.labels[i]).collect();
            let y = matrix(targets(&labels, config), batch.len(), config.outputs(), &ad);
            let loss = bce_with_logits(model.forward(x), y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let value = super::scalar(loss)?;
            if !value.is_finite() {
                return Err(crate::Error::param(
                    "lr",
                    format!(
                        "training diverged (the loss became {value}) at learning rate {}: \
                         lower it",
                        params.learning_rate
                    ),
                ));
            }
            on_step(value)?;
            model = optim.step(params.learning_rate, model, grads);
        }
    }
    Ok(model.valid())
}

/// `p_c(x)` for every image, computed in batches of `batch_size`.
pub fn predict(
    model: &Classifier,
    config: &ClassifierConfig,
    images: &Images,
    batch_size: usize,
    device: &Device,
) -> Result<Probabilities> {
    let mut values = Vec::with_capacity(images.count * config.classes());
    for start in (0..images.count).step_by(batch_size.max(1)) {
        let end = start + batch_size.min(images.count - start);
        let x = images_tensor(&images.slice(start, end), device);
        values.extend(to_vec(probabilities(model.forward(x), config.classes()))?);
    }
    Probabilities::new(config.classes(), values)
}

/// Fraction of images whose most probable class is their label.
pub fn accuracy(probs: &Probabilities, labels: &[usize]) -> f64 {
    let hits = labels
        .iter()
        .enumerate()
        .filter(|&(i, &l)| probs.argmax(i) == l)
        .count();
    hits as f64 / labels.len().max(1) as f64
}
