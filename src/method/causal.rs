//! Does the shortcut act on real images? The causal check blends a cluster's prototype into
//! held-out real images and counts how often the classifier's prediction flips to the
//! cluster's class, beside a neutral grey blended the same way as the control.

use crate::data::Images;
use crate::error::Result;
use crate::metrics::Probabilities;

/// Blend strengths of the causal check.
pub const CAUSAL_STRENGTHS: [f64; 3] = [0.25, 0.5, 0.75];

/// The causal check of one cluster: its prototype blended into held-out real images at a few
/// strengths, `(1 - a) x + a prototype`, and a neutral grey image blended the same way as a
/// control. A real shortcut flips predictions to the cluster's class; a chance cluster does
/// no better than grey.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CausalCheck {
    /// What the held-out images are.
    pub images: String,
    pub strengths: Vec<f64>,
    /// Per strength: share of images not already predicted as the class that now are.
    pub flip_rate: Vec<f64>,
    /// The same for a uniform grey (0.5) image.
    pub grey_flip_rate: Vec<f64>,
}

/// What the causal check needs: held-out real images at the classifier's input size (RGB)
/// and the classifier.
pub struct CausalInput<'a> {
    pub images: &'a Images,
    /// What the images are, for the report ("held-out monochrome digits").
    pub description: String,
    pub predict: &'a dyn Fn(&Images) -> Result<Probabilities>,
    /// The classifier's prediction on each untouched image: the reference flips count from.
    pub base_pred: Vec<usize>,
}

impl<'a> CausalInput<'a> {
    /// Runs the classifier over the untouched images for the reference predictions.
    pub fn new(
        images: &'a Images,
        description: String,
        predict: &'a dyn Fn(&Images) -> Result<Probabilities>,
    ) -> Result<Self> {
        let p = predict(images)?;
        Ok(CausalInput {
            images,
            description,
            predict,
            base_pred: (0..images.count).map(|i| p.argmax(i)).collect(),
        })
    }

    /// Share of images, not already predicted as `class`, that are after blending `pattern`
    /// (an RGB image of the images' size) into each at strength `alpha`:
    /// `(1-a) x + a pattern`.
    pub fn flip_rate(&self, pattern: &[f32], class: usize, alpha: f64) -> Result<f64> {
        let imgs = self.images;
        let candidates: Vec<usize> = (0..imgs.count)
            .filter(|&i| self.base_pred[i] != class)
            .collect();
        if candidates.is_empty() {
            return Ok(0.0);
        }
        let mut blended = imgs.select(&candidates);
        let a = alpha as f32;
        for img in blended.data.chunks_exact_mut(imgs.image_len()) {
            for (v, &p) in img.iter_mut().zip(pattern) {
                *v = (1.0 - a) * *v + a * p;
            }
        }
        let probs = (self.predict)(&blended)?;
        let flipped = (0..blended.count)
            .filter(|&i| probs.argmax(i) == class)
            .count();
        Ok(flipped as f64 / candidates.len() as f64)
    }

    /// Flip rates of `pattern` toward `class` at every strength.
    fn flip_rates(&self, pattern: &[f32], class: usize) -> Result<Vec<f64>> {
        CAUSAL_STRENGTHS
            .iter()
            .map(|&a| self.flip_rate(pattern, class, a))
            .collect()
    }
}

/// Causal checks of several clusters: the grey control depends only on the class, so it is
/// computed once per class.
pub struct CausalChecks<'a, 'b> {
    input: &'b CausalInput<'a>,
    grey: Vec<Option<Vec<f64>>>,
}

impl<'a, 'b> CausalChecks<'a, 'b> {
    pub fn new(input: &'b CausalInput<'a>, classes: usize) -> Self {
        CausalChecks {
            input,
            grey: vec![None; classes],
        }
    }

    /// The check of `prototype` (image `j` of `prototypes`, resized to the held-out images'
    /// size) for `class`.
    pub fn check(&mut self, prototypes: &Images, j: usize, class: usize) -> Result<CausalCheck> {
        let ci = self.input;
        let (h, w) = (ci.images.height, ci.images.width);
        let pattern = prototypes.slice(j, j + 1).resize(h, w).data;
        let flip_rate = ci.flip_rates(&pattern, class)?;
        let grey_flip_rate = match &self.grey[class] {
            Some(rates) => rates.clone(),
            None => {
                let rates = ci.flip_rates(&vec![0.5f32; pattern.len()], class)?;
                self.grey[class] = Some(rates.clone());
                rates
            }
        };
        Ok(CausalCheck {
            images: ci.description.clone(),
            strengths: CAUSAL_STRENGTHS.to_vec(),
            flip_rate,
            grey_flip_rate,
        })
    }
}
