//! spurion finds the shortcuts (spurious correlations) an image classifier has learned, from
//! unlabeled probe images and nothing but the classifier's output probabilities.
//!
//! It implements and extends Tischler (2024), "Using Clustered Random Samples to Find
//! Spurious Correlations in Neural Networks":
//! 1. take a *probe set*: images unrelated to the training data that still contain the
//!    suspected pattern ([`probes`]);
//! 2. train a variational autoencoder on the probes ([`method::latent`]);
//! 3. run every probe through the classifier to get `p_c(x)` for each class
//!    ([`ProbabilityModel`]);
//! 4. per class, run k-means over the latents weighted by `p_c(x)^2` ([`ShortcutSearch`]); the
//!    clusters are the regions that drive the class, and decoding a centroid shows what the
//!    shortcut looks like.
//!
//! The score is the average cluster probability, ACP ([`metrics`]): every probe belongs to its
//! nearest centroid among all classes' centroids, a cluster scores the mean of its owner's
//! probability over its probes, and ACP is the mean over clusters; chance is the same score
//! for a random assignment with the same cluster sizes.
//!
//! # Using the library
//!
//! - The method alone, on latents and probabilities you bring: [`ShortcutSearch`].
//! - The whole method on a classifier: [`audit::audit`] (any [`ProbabilityModel`]) or
//!   [`audit::run`] (a checkpoint or ONNX file, writing the report folder).
//! - The paper's experiment: [`reproduce::reproduce`].
//! - Reports from results: [`report`].
//!
//! ```
//! use spurion::{Latents, Probabilities, ShortcutSearch};
//! use rand::SeedableRng;
//!
//! // Four probes in a 1-D latent space; class 1 is likely on the right.
//! let latents = Latents::new(1, vec![-1.0, -0.8, 0.9, 1.1])?;
//! let probs = Probabilities::new(2, vec![0.9, 0.1, 0.8, 0.2, 0.1, 0.9, 0.2, 0.8])?;
//! let found = ShortcutSearch::params().check()?.fit(
//!     &latents,
//!     &probs,
//!     &mut spurion::Rng::seed_from_u64(0),
//! )?;
//! println!("ACP {:.2} (chance {:.2})", found.score.acp, found.score.chance);
//! assert!(found.score.acp > found.score.chance);
//! # Ok::<(), spurion::Error>(())
//! ```

pub mod audit;
pub mod bench;
pub mod benchmark;
pub mod config;
pub mod data;
pub mod error;
pub mod method;
pub mod metrics;
pub mod model;
pub mod probes;
pub mod report;
pub mod reproduce;
pub mod results;
pub mod scores;
pub mod train;

mod budget;
mod check;
mod kmeans;
mod memo;
mod nn;
mod output;
mod pipeline;
mod progress;
mod seed;

pub use config::{AuditConfig, MethodSettings, ProbeChoice, ReproduceConfig, TrainConfig};
pub use data::Images;
pub use error::{Error, Result};
pub use method::{ClusterCount, Latents, ShortcutSearch, ShortcutSearchParams, Shortcuts};
pub use metrics::Probabilities;
pub use model::ProbabilityModel;
pub use nn::ComputeDevice;
pub use nn::vae::{LatentMode, TrainedVae};
pub use output::{OutputTarget, remove_staging_on_signals};
pub use probes::ProbeFamily;
pub use progress::{Progress, ProgressSink};
pub use seed::Rng;
