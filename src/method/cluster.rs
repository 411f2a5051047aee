//! What the method says of one cluster, measured on the held-out probes: the statistics
//! [`super::analysis`] computes and [`super::verdict`] reads to decide what drives a class.

use super::causal::CausalTest;
use super::describe::{ClusterDescription, Position};

/// Level of the significance test (family-wise, over all clusters).
pub const SIGNIFICANCE_LEVEL: f64 = 0.05;

/// Where a cluster's prototype differs from the probes' background.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaskSummary {
    /// Share of the image.
    pub share: f64,
    /// Centre `[y, x]`, each in `[0, 1]` from the top-left corner.
    pub centre: Option<[f32; 2]>,
    /// The ninth of the image the centre is in.
    pub position: Option<Position>,
    /// The heaviest probes' mean colour inside the mask (the prototype's for a cluster without
    /// held-out probes).
    pub color: [f32; 3],
}

/// One cluster and what the method found out about it, on the held-out probes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterStats {
    /// Class whose weighted k-means produced this cluster (its owner).
    pub class: usize,
    pub class_name: String,
    /// Index among its class's clusters (0-based).
    pub index: usize,
    /// Held-out probes whose nearest centroid (among all classes') is this one.
    pub size: usize,
    /// Mean probability of the owner class over those probes; null for an empty cluster.
    pub mean_probability: Option<f64>,
    /// A 95% interval for it.
    pub interval: Option<[f64; 2]>,
    /// Mean probability of the owner class over all held-out probes (the chance level).
    pub chance: f64,
    /// Share of the owner class's held-out probe weight (`p^e`) held by this cluster.
    pub weight_share: f64,
    /// Centroid in latent space.
    pub centroid: Vec<f32>,
    /// Ids of the held-out probes nearest the centroid, nearest first.
    pub nearest_probes: Vec<usize>,
    /// Standardised mean probability: standard deviations above chance.
    pub z: Option<f64>,
    /// Max-statistic adjusted permutation p-value on the held-out probes; null for an empty
    /// cluster or when no test ran.
    pub p_value: Option<f64>,
    /// Its 95% interval from the finite number of permutations.
    pub p_interval: Option<[f64; 2]>,
    /// `p_value` below the level, 0.05 (family-wise).
    pub significant: bool,
    /// Where the prototype differs from the probes' background.
    pub mask: MaskSummary,
    /// The prototype put into held-out real images; null without real images.
    pub causal: Option<CausalTest>,
    /// The cluster in words.
    pub description: ClusterDescription,
}
