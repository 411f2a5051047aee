//! The method of Tischler (2024), and what spurion adds to it, as computation only: nothing
//! here reads or writes files.
//!
//! 1. Probes ([`crate::probes`]) and their probabilities `p_c(x)` ([`crate::model`]).
//! 2. A VAE trained on the probes gives each a latent point ([`latent`]).
//! 3. Per class, k-means over the latents weighted by `p_c(x)^2` finds the regions that drive
//!    the class ([`search`]); ACP scores them ([`crate::metrics`]).
//! 4. Each cluster is tested against chance ([`significance`]), checked on real images
//!    ([`causal`]), put in words ([`describe`]), decoded into a prototype and placed in a 2-D
//!    view ([`projection`]); [`analysis`] gathers it all for one latent space.

pub mod analysis;
pub mod causal;
pub mod describe;
pub mod latent;
pub mod projection;
pub mod search;
pub mod significance;

pub use analysis::{ClusterStats, RunAnalysis, RunInput, analyse};
pub use latent::{LatentSpace, VaeKind, VaeSettings};
pub use search::{ClusterCount, Latents, ShortcutSearch, ShortcutSearchParams, Shortcuts};
