//! The exporters: every file of a report folder, and the terminal summary, rendered from the
//! results of a run ([`crate::results`]), one writer per format, the way hyperfine's exporters
//! work. Nothing here computes a statistic.
//!
//! - results.json: the results' serde serialisation;
//! - report.html ([`html`]): the page for people, self-contained;
//! - probes.csv ([`csv`]), latents.npz ([`npz`]), PNG prototypes and plots ([`png`],
//!   [`plots`]) and trained weights, per latent space ([`files`]);
//! - the terminal summary ([`terminal`]).
//!
//! A report folder is staged under a hidden name and appears only when complete.

pub mod csv;
pub mod files;
pub mod html;
pub mod npz;
pub mod plots;
pub mod png;
pub mod terminal;

use std::path::Path;

use crate::error::Result;
use crate::output::{self, OutputTarget, StagedDir};
use crate::results::{AuditResults, ReproduceResults};

/// A probability as a percentage with one decimal, as the reports print it.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Writes the report folder of `spurion reproduce` to `target`: results.json, report.html,
/// and per trial the classifier and per latent dimension the run's files.
pub fn write_reproduce(results: &ReproduceResults, target: &OutputTarget) -> Result<()> {
    let staged = StagedDir::create(target)?;
    let dir = staged.path();
    for t in &results.trials {
        if let Some(c) = &t.classifier {
            output::write(&dir.join(&t.classifier_weights), &c.weights)?;
            output::write(&dir.join(&t.classifier_config), &c.config_json)?;
        }
        for run in &t.runs {
            files::write_run(dir, run)?;
        }
    }
    write_json_and_html(dir, results, |d| html::reproduce(results, d))?;
    staged.commit()
}

/// Writes the report folder of `spurion audit` to `target`.
pub fn write_audit(results: &AuditResults, target: &OutputTarget) -> Result<()> {
    let staged = StagedDir::create(target)?;
    let dir = staged.path();
    for a in &results.runs {
        files::write_run(dir, &a.run)?;
    }
    write_json_and_html(dir, results, |d| html::audit(results, d))?;
    staged.commit()
}

/// results.json, then report.html (which inlines the images already written to `dir`).
fn write_json_and_html<R: serde::Serialize>(
    dir: &Path,
    results: &R,
    html: impl FnOnce(&Path) -> Result<String>,
) -> Result<()> {
    output::write_json(&dir.join("results.json"), results)?;
    let page = html(dir)?;
    output::write(&dir.join("report.html"), page.as_bytes())
}
