//! The terminal summary of `spurion reproduce`: the paper's Table 1 beside ours.

use std::fmt::Write;

use super::{PAPER_COLORED_ACCURACY, PAPER_MONOCHROME_ACCURACY, ReproduceResults};

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Renders the comparison table.
pub fn format_table(r: &ReproduceResults) -> String {
    let mut s = String::new();
    let st = &r.settings;
    let _ = writeln!(
        s,
        "spurion reproduce: {} trial(s), seed {}, classes {}, {} solid-colour probes, k = {}, \
         latents = {:?}, weights = p^{}",
        st.trials,
        r.seed,
        r.class_names.join("/"),
        st.probes,
        st.k,
        st.latent,
        st.weight_exponent
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "Classifier accuracy on validation digits (per trial)");
    let per = |f: fn(&super::TrialResult) -> f64| {
        r.trials
            .iter()
            .map(|t| pct(f(t)))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(
        s,
        "  coloured    paper {:>6}   spurion  {}",
        pct(PAPER_COLORED_ACCURACY),
        per(|t| t.colored_accuracy)
    );
    let _ = writeln!(
        s,
        "  monochrome  paper {:>6}   spurion  {}",
        pct(PAPER_MONOCHROME_ACCURACY),
        per(|t| t.monochrome_accuracy)
    );
    let _ = writeln!(
        s,
        "  swapped     paper {:>6}   spurion  {}",
        "-",
        per(|t| t.swapped_accuracy)
    );
    let _ = writeln!(
        s,
        "  (swapped: each class drawn in another class's colour; low = colour beats shape)"
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Average cluster probability (ACP), mean (std) over {} trial(s)",
        r.trials.len()
    );
    let _ = writeln!(
        s,
        "  {:<10} {:>16} {:>16} {:>8} {:>8} {:>18}",
        "latent dim", "paper", "spurion", "chance", "ceiling", "normalised"
    );
    for row in &r.summary {
        let paper = r
            .paper
            .iter()
            .find(|p| p.latent_dim == row.latent_dim)
            .map(|p| format!("{} ({:.2})", pct(p.acp_mean), 100.0 * p.acp_std))
            .unwrap_or_else(|| "-".into());
        let norm = match (row.normalized_mean, row.normalized_std) {
            (Some(m), Some(sd)) => format!("{m:.3} ({sd:.3})"),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "  {:<10} {:>16} {:>16} {:>8} {:>8} {:>18}",
            row.latent_dim,
            paper,
            format!("{} ({:.2})", pct(row.acp_mean), 100.0 * row.acp_std),
            pct(row.chance_mean),
            pct(row.ceiling_mean),
            norm
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "ACP: every probe joins its nearest centroid among all classes' centroids; a cluster \
         scores the mean probability of its own class over its probes; ACP is the mean over \
         clusters. Chance: the same score for a random assignment with the same cluster sizes. \
         Ceiling: probes grouped by their most probable class. Normalised: (ACP - chance) / \
         (ceiling - chance). Std is the sample standard deviation across trials."
    );
    let _ = writeln!(s, "Total time: {:.1} s", r.timings_s.total);
    s
}
