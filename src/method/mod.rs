//! The method of Tischler (2024), and what spurion adds to it, as computation: nothing here
//! reads or writes files (a report's VAE is loaded back by [`crate::TrainedVae`]).
//!
//! 1. Probes ([`crate::probes`]) and their probabilities `p_c(x)` ([`crate::model`]).
//! 2. A VAE trained on the probes gives each a latent point ([`latent`]).
//! 3. Per class, k-means over the latents weighted by `p_c(x)^2` finds the regions that drive
//!    the class ([`search`]); ACP scores them ([`crate::metrics`]).
//! 4. The clusters are fitted on one part of the probes ([`split`]) and everything else is
//!    measured on the other: each cluster is tested against chance ([`significance`]), its
//!    prototype put into real images against random probes ([`causal`]), put in words
//!    ([`describe`]) and placed in a 2-D view ([`projection`]); [`analysis`] gathers it all
//!    for one latent space (each cluster's numbers in [`cluster`]), and [`verdict`] says per
//!    class what was found, or that nothing was.

pub mod analysis;
pub mod causal;
pub mod cluster;
pub mod describe;
pub mod latent;
pub mod projection;
pub mod search;
pub mod significance;
pub mod split;
pub mod verdict;

pub use analysis::{RunAnalysis, RunInput, analyse};
pub use cluster::ClusterStats;
pub use latent::{LatentSpace, VaeKind, VaeSettings};
pub use search::{ClusterCount, Latents, ShortcutSearch, ShortcutSearchParams, Shortcuts};
pub use verdict::{Finding, Status};
