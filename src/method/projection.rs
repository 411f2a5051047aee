//! Two-dimensional views of latent spaces: the latents themselves when the VAE has two
//! dimensions, else their projection onto the first two principal components (as the plots
//! say).

/// How latents were drawn in two dimensions, for the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Projection2d {
    /// True: first two principal components; false: the latents themselves (2 dims).
    pub pca: bool,
    /// Share of the latents' variance along each plotted axis.
    pub explained_variance: [f64; 2],
}

/// A linear map from latent space to the plane.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub dim: usize,
    pub mean: Vec<f64>,
    /// Two `dim`-vectors (identity rows when `dim <= 2`).
    pub axes: [Vec<f64>; 2],
    /// Share of the total variance each axis explains.
    pub explained: [f64; 2],
    /// True when the axes are principal components.
    pub is_pca: bool,
}

impl Projection {
    /// Fits a projection to `points` (`n x dim`, row-major).
    pub fn fit(points: &[f32], dim: usize) -> Self {
        let n = (points.len() / dim.max(1)).max(1);
        let mut mean = vec![0.0f64; dim];
        for p in points.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(p) {
                *m += x as f64 / n as f64;
            }
        }
        let mut cov = vec![0.0f64; dim * dim];
        for p in points.chunks_exact(dim) {
            for a in 0..dim {
                let da = p[a] as f64 - mean[a];
                for b in a..dim {
                    cov[a * dim + b] += da * (p[b] as f64 - mean[b]) / n as f64;
                }
            }
        }
        for a in 0..dim {
            for b in 0..a {
                cov[a * dim + b] = cov[b * dim + a];
            }
        }
        if dim <= 2 {
            // Each axis's share of the total variance (the latents are shown as they are).
            let var: Vec<f64> = (0..dim).map(|a| cov[a * dim + a]).collect();
            let total = var.iter().sum::<f64>().max(1e-300);
            let share = |a: usize| var.get(a).map_or(0.0, |v| v / total);
            let unit = |i: usize| (0..dim).map(|j| if i == j { 1.0 } else { 0.0 }).collect();
            return Projection {
                dim,
                mean: vec![0.0; dim],
                axes: [unit(0), unit(1)],
                explained: [share(0), share(1)],
                is_pca: false,
            };
        }
        let (values, vectors) = jacobi_eigen(cov, dim);
        let mut order: Vec<usize> = (0..dim).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let total: f64 = values.iter().map(|v| v.max(0.0)).sum::<f64>().max(1e-300);
        let axis = |k: usize| -> Vec<f64> {
            let col = order[k];
            let mut v: Vec<f64> = (0..dim).map(|r| vectors[r * dim + col]).collect();
            // Deterministic sign: largest component positive.
            let big = v
                .iter()
                .copied()
                .fold(0.0f64, |b, x| if x.abs() > b.abs() { x } else { b });
            if big < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            v
        };
        Projection {
            dim,
            mean,
            axes: [axis(0), axis(1)],
            explained: [values[order[0]] / total, values[order[1]] / total],
            is_pca: true,
        }
    }

    /// The 2D coordinates of one point.
    pub fn apply(&self, p: &[f32]) -> [f64; 2] {
        let mut out = [0.0; 2];
        for (k, o) in out.iter_mut().enumerate() {
            *o = p
                .iter()
                .zip(&self.mean)
                .zip(&self.axes[k])
                .map(|((&x, m), a)| (x as f64 - m) * a)
                .sum();
        }
        out
    }

    /// Projects every point of `points` (`n x dim`).
    pub fn apply_all(&self, points: &[f32]) -> Vec<[f64; 2]> {
        points
            .chunks_exact(self.dim)
            .map(|p| self.apply(p))
            .collect()
    }

    /// Axis titles for plots.
    pub fn axis_labels(&self) -> [String; 2] {
        if self.is_pca {
            [
                format!("PC 1 ({:.0}% of variance)", 100.0 * self.explained[0]),
                format!("PC 2 ({:.0}% of variance)", 100.0 * self.explained[1]),
            ]
        } else {
            ["latent z1".into(), "latent z2".into()]
        }
    }
}

/// Eigen-decomposition of a symmetric `dim x dim` matrix by cyclic Jacobi rotations.
/// Returns eigenvalues and the eigenvectors as columns of a row-major matrix.
fn jacobi_eigen(mut a: Vec<f64>, dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v: Vec<f64> = (0..dim * dim)
        .map(|i| if i / dim == i % dim { 1.0 } else { 0.0 })
        .collect();
    for _sweep in 0..100 {
        let off: f64 = (0..dim)
            .flat_map(|p| (0..dim).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p * dim + q].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..dim {
            for q in p + 1..dim {
                let apq = a[p * dim + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * dim + q] - a[p * dim + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..dim {
                    let (akp, akq) = (a[k * dim + p], a[k * dim + q]);
                    a[k * dim + p] = c * akp - s * akq;
                    a[k * dim + q] = s * akp + c * akq;
                }
                for k in 0..dim {
                    let (apk, aqk) = (a[p * dim + k], a[q * dim + k]);
                    a[p * dim + k] = c * apk - s * aqk;
                    a[q * dim + k] = s * apk + c * aqk;
                }
                for k in 0..dim {
                    let (vkp, vkq) = (v[k * dim + p], v[k * dim + q]);
                    v[k * dim + p] = c * vkp - s * vkq;
                    v[k * dim + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..dim).map(|i| a[i * dim + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_dimensional_latents_are_shown_as_they_are() {
        let p = Projection::fit(&[1.0, 2.0, 3.0, 4.0], 2);
        assert!(!p.is_pca);
        assert_eq!(p.apply(&[3.0, 4.0]), [3.0, 4.0]);
    }

    #[test]
    fn principal_axes_follow_the_spread() {
        // Points spread along (1, 1, 0) a lot, along (0, 0, 1) a little.
        let mut pts = Vec::new();
        for i in -10i32..=10 {
            let t = i as f32;
            pts.extend_from_slice(&[t, t, 0.1 * (i.rem_euclid(2) as f32 - 0.5)]);
        }
        let p = Projection::fit(&pts, 3);
        assert!(p.is_pca);
        let a = &p.axes[0];
        let s = std::f64::consts::FRAC_1_SQRT_2;
        assert!((a[0] - s).abs() < 1e-6 && (a[1] - s).abs() < 1e-6 && a[2].abs() < 1e-6);
        assert!(p.explained[0] > 0.99);
        let b = &p.axes[1];
        assert!(b[2].abs() > 0.99, "{b:?}");
    }
}
