//! Checks of settings shared by `reproduce`, `audit` and `train`: each error names the flag
//! (`Error::param`) and what it expects.

use crate::error::{Error, Result};
use crate::nn::classifier::TrainParams;
use crate::nn::vae::VaeTrainParams;

/// A count that must be at least 1.
pub fn positive(param: &'static str, v: usize) -> Result<()> {
    if v == 0 {
        return Err(Error::param(param, "expected a positive integer, got 0"));
    }
    Ok(())
}

/// A count of work (epochs, permutations, trials) no larger than `max`: far beyond any useful
/// value, a count would make a run that never ends, or overflow what is computed from it.
pub fn at_most(param: &'static str, v: usize, max: usize) -> Result<()> {
    if v > max {
        return Err(Error::param(
            param,
            format!("{v} is more than spurion allows ({max})"),
        ));
    }
    Ok(())
}

/// Most epochs of any network: far more than any of spurion's networks needs (the VAE stops
/// within 2,000 steps, the classifier trains one epoch), few enough to end in minutes.
pub const MAX_EPOCHS: usize = 1_000;
/// Most permutations of the significance test.
pub const MAX_PERMUTATIONS: usize = 10_000_000;
/// Most trials of `reproduce`.
pub const MAX_TRIALS: usize = 10_000;

/// A finite number above 0.
pub fn positive_f(param: &'static str, v: f64) -> Result<()> {
    if !v.is_finite() || v <= 0.0 {
        return Err(Error::param(
            param,
            format!("expected a positive number, got {v}"),
        ));
    }
    Ok(())
}

/// The `--classes` to keep: at least two, each once.
pub fn classes(classes: &[u8]) -> Result<()> {
    if classes.len() < 2 {
        return Err(Error::param(
            "classes",
            format!("expected at least 2 classes, got {}", classes.len()),
        ));
    }
    let mut seen = classes.to_vec();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != classes.len() {
        return Err(Error::param("classes", "classes must be distinct"));
    }
    Ok(())
}

/// The VAE's training settings.
pub fn vae(p: &VaeTrainParams) -> Result<()> {
    positive("vae-epochs", p.max_epochs)?;
    at_most("vae-epochs", p.max_epochs, MAX_EPOCHS)?;
    positive("vae-batch-size", p.batch_size)?;
    positive_f("vae-lr", p.learning_rate)
}

/// The classifier's training settings.
pub fn classifier(p: &TrainParams) -> Result<()> {
    positive("epochs", p.epochs)?;
    at_most("epochs", p.epochs, MAX_EPOCHS)?;
    positive("batch-size", p.batch_size)?;
    positive_f("lr", p.learning_rate)
}
