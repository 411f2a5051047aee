//! From a model's raw outputs to class probabilities `p_c(x)` (step 3 of the method), and how
//! that was done, in words, for the report.

use std::path::Path;

use super::settings::OutputKind;
use crate::error::{Error, Result};

/// How `p_c(x)` is obtained from `outputs` raw values of kind `kind`, in words.
pub fn probability_note(outputs: usize, kind: OutputKind) -> &'static str {
    match (outputs, kind) {
        (1, OutputKind::Logits) => "p_1 = sigmoid(logit), p_0 = 1 - p_1",
        (1, _) => "p_1 = the model's output, p_0 = 1 - p_1",
        (_, OutputKind::Logits) => "p_c is the softmax probability (softmax of the logits)",
        (_, OutputKind::Softmax) => "p_c is the softmax probability (the model's output)",
        (_, OutputKind::Sigmoid) => {
            "p_c is the sigmoid probability of class c (the model's output)"
        }
    }
}

/// Refuses raw outputs that are not numbers, and "softmax" outputs whose rows do not sum to 1.
pub(crate) fn check_raw_outputs(
    raw: &[f32],
    outputs: usize,
    kind: OutputKind,
    path: &Path,
) -> Result<()> {
    if let Some(i) = raw.iter().position(|v| !v.is_finite()) {
        return Err(Error::data(
            path,
            format!(
                "the model returned {} for probe {} (output {}): its outputs must be numbers",
                raw[i],
                i / outputs,
                i % outputs
            ),
        ));
    }
    if kind == OutputKind::Softmax && outputs > 1 {
        for (i, row) in raw.chunks_exact(outputs).enumerate() {
            let sum: f32 = row.iter().sum();
            if (sum - 1.0).abs() > 1e-3 {
                return Err(Error::param(
                    "output",
                    format!(
                        "softmax outputs sum to 1 per image, but probe {i}'s sum to {sum}: \
                         are they logits (--output logits) or sigmoids (--output sigmoid)?"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Turns raw outputs (`count x outputs`) into probabilities (`count x classes`).
pub fn to_probabilities(raw: &[f32], outputs: usize, kind: OutputKind) -> Vec<f32> {
    let sigmoid = |x: f32| 1.0 / (1.0 + (-x).exp());
    if outputs == 1 {
        return raw
            .iter()
            .flat_map(|&v| {
                let p = if kind == OutputKind::Logits {
                    sigmoid(v)
                } else {
                    v
                };
                [1.0 - p, p]
            })
            .collect();
    }
    match kind {
        OutputKind::Sigmoid | OutputKind::Softmax => raw.to_vec(),
        OutputKind::Logits => raw
            .chunks_exact(outputs)
            .flat_map(|row| {
                let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = row.iter().map(|&x| (x - m).exp()).collect();
                let s: f32 = e.iter().sum();
                e.into_iter().map(move |x| x / s)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_become_softmax_and_single_outputs_binary() {
        let p = to_probabilities(&[0.0, 0.0, 2.0_f32.ln(), 0.0], 2, OutputKind::Logits);
        assert!((p[0] - 0.5).abs() < 1e-6 && (p[2] - 2.0 / 3.0).abs() < 1e-6);
        let p = to_probabilities(&[0.0, 0.8], 1, OutputKind::Sigmoid);
        assert_eq!(p, vec![1.0, 0.0, 1.0 - 0.8, 0.8]);
        let p = to_probabilities(&[0.0], 1, OutputKind::Logits);
        assert_eq!(p, vec![0.5, 0.5]);
    }
}
