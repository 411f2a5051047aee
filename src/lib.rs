//! spurion finds the shortcuts (spurious correlations) an image classifier has learned, from
//! unlabeled probe images and nothing but the classifier's output probabilities.
//!
//! It implements and extends Tischler (2024), "Using Clustered Random Samples to Find Spurious
//! Correlations in Neural Networks":
//! 1. take a *probe set*: images unrelated to the training data that still contain the
//!    suspected pattern ([`probes`]);
//! 2. train a variational autoencoder on the probes ([`nn::vae`]);
//! 3. run every probe through the classifier to get `p_c(x)` for each class ([`nn::classifier`]);
//! 4. per class, run k-means over the latents weighted by `p_c(x)^2` ([`kmeans`]); the
//!    clusters are the regions that drive the class, and decoding a centroid shows what the
//!    shortcut looks like.
//!
//! The score is the average cluster probability ([`metrics`]). [`reproduce`] runs the paper's
//! experiment end to end.

pub mod analysis;
pub mod atomic;
pub mod audit;
pub mod bench;
pub mod budget;
pub mod check;
pub mod data;
pub mod describe;
pub mod error;
pub mod kmeans;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod probes;
pub mod progress;
pub mod report;
pub mod reproduce;
pub mod seed;
pub mod train;

pub use error::{Error, Result};
