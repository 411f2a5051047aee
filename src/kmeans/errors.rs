//! Why weighted k-means refused its settings or its data: one variant per rule.

/// An error from `KMeansParams::check` or
/// `KMeansParams::fit`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KMeansError {
    /// `k` must be at least 1.
    #[error("k must be at least 1, got {0}")]
    InvalidK(usize),
    /// At least one restart is needed.
    #[error("restarts must be at least 1, got {0}")]
    InvalidRestarts(usize),
    /// At least one Lloyd iteration is needed.
    #[error("max_iter must be at least 1, got {0}")]
    InvalidMaxIter(usize),
    /// The tolerance must be a finite number >= 0.
    #[error("tolerance must be finite and >= 0, got {0}")]
    InvalidTolerance(f64),
    /// The point dimension must be at least 1.
    #[error("points must have at least 1 dimension")]
    ZeroDimension,
    /// The data length is not a multiple of the dimension, or weights do not match points.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// More clusters than points.
    #[error("k = {k} is larger than the number of points ({n})")]
    KExceedsSamples { k: usize, n: usize },
    /// Fewer points with positive weight than clusters.
    #[error("k = {k} but only {positive} points have a positive weight")]
    TooFewWeightedPoints { k: usize, positive: usize },
    /// A coordinate is NaN or infinite.
    #[error("point {index} has a non-finite coordinate")]
    NonFiniteData { index: usize },
    /// A weight is NaN, infinite or negative.
    #[error("weight {index} is {value}: weights must be finite and >= 0")]
    InvalidWeight { index: usize, value: f32 },
}
