//! Settings of weighted k-means, checked before any work is done.

use super::KMeansError;

/// Settings of weighted k-means (Lloyd's algorithm with weighted k-means++ seeding).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KMeansParams {
    /// Number of clusters.
    pub k: usize,
    /// Independent seedings; the run with the lowest weighted inertia is kept.
    pub restarts: usize,
    /// Most Lloyd iterations per restart.
    pub max_iter: usize,
    /// Convergence: stop when the summed squared centroid shift is at most
    /// `tolerance` times the mean per-dimension weighted variance of the data
    /// (scikit-learn's rule).
    pub tolerance: f64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams {
            k: 1,
            restarts: 10,
            max_iter: 300,
            tolerance: 1e-4,
        }
    }
}

impl KMeansParams {
    /// Settings with `k` clusters and the other values at their defaults.
    #[cfg(test)]
    pub fn new(k: usize) -> Self {
        KMeansParams {
            k,
            ..Default::default()
        }
    }

    /// Checks the settings on their own (the data is checked by `fit`).
    pub fn check(&self) -> Result<(), KMeansError> {
        if self.k == 0 {
            return Err(KMeansError::InvalidK(self.k));
        }
        if self.restarts == 0 {
            return Err(KMeansError::InvalidRestarts(self.restarts));
        }
        if self.max_iter == 0 {
            return Err(KMeansError::InvalidMaxIter(self.max_iter));
        }
        if !self.tolerance.is_finite() || self.tolerance < 0.0 {
            return Err(KMeansError::InvalidTolerance(self.tolerance));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass() {
        assert_eq!(KMeansParams::default().check(), Ok(()));
    }

    #[test]
    fn k_zero_is_rejected() {
        assert_eq!(KMeansParams::new(0).check(), Err(KMeansError::InvalidK(0)));
    }

    #[test]
    fn zero_restarts_are_rejected() {
        let p = KMeansParams {
            restarts: 0,
            ..Default::default()
        };
        assert_eq!(p.check(), Err(KMeansError::InvalidRestarts(0)));
    }

    #[test]
    fn zero_iterations_are_rejected() {
        let p = KMeansParams {
            max_iter: 0,
            ..Default::default()
        };
        assert_eq!(p.check(), Err(KMeansError::InvalidMaxIter(0)));
    }

    #[test]
    fn negative_or_nan_tolerance_is_rejected() {
        for t in [-1.0, f64::NAN] {
            let p = KMeansParams {
                tolerance: t,
                ..Default::default()
            };
            assert!(matches!(p.check(), Err(KMeansError::InvalidTolerance(_))));
        }
    }
}
