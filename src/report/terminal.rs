//! What each command prints on the terminal: for `reproduce` the paper's Table 1 beside
//! ours, for `audit` the clusters and ACP, for `train` the accuracies.

use std::fmt::Write;

use super::pct;
use crate::method::{ClusterCount, Status, VaeKind};
use crate::model::TrainSummary;
use crate::nn::vae::LatentMode;
use crate::results::{
    AuditResults, PAPER_COLORED_ACCURACY, PAPER_MONOCHROME_ACCURACY, ReproduceResults, TrialResult,
};

fn mean_sd(m: Option<f64>, sd: Option<f64>, percent: bool) -> String {
    match (m, sd) {
        (Some(m), Some(sd)) if percent => format!("{} ({:.2})", pct(m), 100.0 * sd),
        (Some(m), Some(sd)) => format!("{m:.3} ({sd:.3})"),
        _ => "-".into(),
    }
}

/// How `--k` reads in words.
fn describe_k(k: ClusterCount) -> String {
    match k {
        ClusterCount::Fixed(k) => format!("k = {k}"),
        ClusterCount::Auto { max } => format!("k per class by held-out ACP (at most {max})"),
        ClusterCount::Tested { max } => {
            format!("k per class by held-out tests (1, or {max} where one cluster passes)")
        }
    }
}

fn vae_words(kind: VaeKind) -> &'static str {
    match kind {
        VaeKind::Plain => "a plain",
        VaeKind::Guided => "a guided",
    }
}

/// How latents are taken from the encoder, in words.
fn latent_words(mode: LatentMode) -> &'static str {
    match mode {
        LatentMode::Mean => "encoder means",
        LatentMode::Sample => "sampled latents",
    }
}

/// The summary of `spurion reproduce`: accuracies, Table 1 beside ours, prototypes in words.
pub fn reproduce(r: &ReproduceResults) -> String {
    let mut s = String::new();
    let st = &r.settings;
    let _ = writeln!(
        s,
        "spurion reproduce: {} trial(s), seed {}, classes {}, {} solid-colour probes; spurion: {} \
         VAE, {}, {}, weights = p^{}",
        st.trials,
        r.seed,
        r.class_names.join("/"),
        st.probes,
        vae_words(st.vae.kind),
        describe_k(st.method.k),
        latent_words(st.method.latent),
        st.method.weight_exponent
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "Classifier accuracy on validation digits (per trial)");
    let per = |f: fn(&TrialResult) -> f64| {
        r.trials
            .iter()
            .map(|t| pct(f(t)))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let rows: [(&str, String, String); 3] = [
        (
            "coloured",
            pct(PAPER_COLORED_ACCURACY),
            per(|t| t.colored_accuracy),
        ),
        (
            "monochrome",
            pct(PAPER_MONOCHROME_ACCURACY),
            per(|t| t.monochrome_accuracy),
        ),
        ("swapped", "-".into(), per(|t| t.swapped_accuracy)),
    ];
    for (name, paper, ours) in rows {
        let _ = writeln!(s, "  {name:<11} paper {paper:>6}   spurion  {ours}");
    }
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
        "  {:<5} {:>15} {:>15} {:>15} {:>7} {:>8} {:>15} {:>15} {:>15}",
        "dim",
        "paper (Table 1)",
        "paper's method",
        "spurion",
        "chance",
        "ceiling",
        "norm. (paper's)",
        "norm. (spurion)",
        "norm. (p as z)"
    );
    for row in &r.summary {
        let paper = r
            .paper_row(row.latent_dim)
            .map(|p| mean_sd(Some(p.acp_mean), Some(p.acp_std), true))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "  {:<5} {:>15} {:>15} {:>15} {:>7} {:>8} {:>15} {:>15} {:>15}",
            row.latent_dim,
            paper,
            mean_sd(row.paper_method_acp_mean, row.paper_method_acp_std, true),
            mean_sd(Some(row.acp_mean), Some(row.acp_std), true),
            pct(row.chance_mean),
            pct(row.ceiling_mean),
            mean_sd(
                row.paper_method_normalized_mean,
                row.paper_method_normalized_std,
                false
            ),
            mean_sd(row.normalized_mean, row.normalized_std, false),
            mean_sd(
                row.probabilities_as_latent_normalized_mean,
                row.probabilities_as_latent_normalized_std,
                false
            ),
        );
    }
    let _ = writeln!(
        s,
        "  (all on held-out probes; p as z: the classifier's probabilities clustered as the \
         latent, no VAE and no pixels: ACP rewards copying them, so it is no evidence alone)"
    );
    let _ = writeln!(s);
    let runs = r.trials.iter().map(|t| t.runs.len()).sum::<usize>();
    let _ = writeln!(
        s,
        "Findings (significant on held-out probes and causal on held-out monochrome digits, \
         against random probes), of {runs} runs (trials x dims)"
    );
    for (c, name) in r.class_names.iter().enumerate() {
        let found = r
            .trials
            .iter()
            .flat_map(|t| t.runs.iter())
            .filter(|run| {
                run.findings
                    .get(c)
                    .is_some_and(|f| f.status == Status::Found)
            })
            .count();
        let _ = writeln!(s, "  class {name}: driven by a shortcut in {found}/{runs}");
    }
    let _ = writeln!(s);
    // Prototype colours in words, per trial, at each class's heaviest cluster.
    let _ = writeln!(
        s,
        "Prototypes in words (heaviest cluster of each class, per trial and dim)"
    );
    for (c, name) in r.class_names.iter().enumerate() {
        let words: Vec<String> = r
            .trials
            .iter()
            .flat_map(|t| t.runs.iter())
            .filter_map(|run| {
                run.heaviest_cluster(c).map(|cl| {
                    format!(
                        "{} ({}-dominant)",
                        cl.description.prototype_color, cl.description.prototype_channel
                    )
                })
            })
            .collect();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for w in &words {
            match counts.iter_mut().find(|(n, _)| n == w) {
                Some(e) => e.1 += 1,
                None => counts.push((w.clone(), 1)),
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        let summary: Vec<String> = counts
            .iter()
            .map(|(n, k)| format!("{n} {k}/{}", words.len()))
            .collect();
        let _ = writeln!(s, "  class {name}: prototype {}", summary.join(", "));
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "ACP: every probe joins its nearest centroid among all classes' centroids; a cluster \
         scores the mean probability of its own class over its probes; ACP is the mean over \
         clusters. Chance: the same score for a random assignment with the same cluster sizes. \
         Ceiling: probes grouped by their most probable class. Normalised: (ACP - chance) / \
         (ceiling - chance). The paper's method (a plain VAE, sampled latents, k = 1, p^2) \
         runs on the same probes as spurion's ({} VAE, {}; a plain VAE is the same one). Std \
         is the sample standard deviation across trials.",
        vae_words(st.vae.kind),
        latent_words(st.method.latent)
    );
    if let Some(t) = &r.timings_s {
        let _ = writeln!(s, "Total time: {:.1} s", t.total);
    }
    s
}

/// The findings, one line each.
fn findings(s: &mut String, findings: &[crate::method::Finding]) {
    for f in findings {
        let _ = writeln!(
            s,
            "  {} class {}: {}",
            match f.status {
                crate::method::Status::Found => "FOUND  ",
                crate::method::Status::None => "nothing",
            },
            f.class_name,
            f.reason
        );
    }
}

/// The summary of `spurion audit`: the finding for each class, then each probe family's
/// clusters and ACP with its chance level and ceiling.
pub fn audit(r: &AuditResults, report: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "spurion audit: {} ({} classes)",
        r.model.path,
        r.class_names.len()
    );
    let _ = writeln!(s, "{}", r.model.probability);
    if !r.model.runtime.is_empty() {
        let _ = writeln!(s, "run by {}", r.model.runtime);
    }
    let _ = writeln!(s, "Findings:");
    findings(&mut s, &r.findings);
    for a in &r.runs {
        let run = &a.run;
        let _ = writeln!(
            s,
            "{}: clusters fitted on {} probes, measured on {} held out",
            a.probes, run.probes_fit, run.probes_held_out
        );
        for cl in &run.clusters {
            let _ = writeln!(
                s,
                "  class {:<12} cluster {}  {:>6} probes  mean p {:>6}  p-value {:>6}  causal effect {:>7}  share of p^{} weight {:>6.1}%",
                cl.class_name,
                cl.index + 1,
                cl.size,
                cl.mean_probability
                    .map(|p| format!("{:.1}%", 100.0 * p))
                    .unwrap_or_else(|| "empty".into()),
                cl.p_value.map_or("-".into(), |p| format!("{p:.3}")),
                cl.causal
                    .as_ref()
                    .map_or("-".into(), |t| format!("{:+.3}", t.effect)),
                r.settings.method.weight_exponent,
                100.0 * cl.weight_share
            );
        }
        let _ = writeln!(
            s,
            "  ACP {:.1}% (chance {:.1}%, ceiling {:.1}%)",
            100.0 * run.acp,
            100.0 * run.chance,
            100.0 * run.ceiling
        );
    }
    let _ = writeln!(s, "Report: {report}");
    s
}

/// The summary of `spurion train`: what it trained on and the validation accuracies.
pub fn train(t: &TrainSummary, model: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Trained on {} images ({} classes: {}), planted: {:?}",
        t.train_images,
        t.class_names.len(),
        t.class_names.join(", "),
        t.plant
    );
    let _ = writeln!(s, "Validation accuracy ({} images):", t.validation_images);
    let _ = writeln!(
        s,
        "  as trained (shortcut planted)   {:.1}%",
        100.0 * t.planted_accuracy
    );
    let _ = writeln!(
        s,
        "  clean (nothing planted)         {:.1}%",
        100.0 * t.clean_accuracy
    );
    if let Some(sw) = t.swapped_accuracy {
        let _ = writeln!(s, "  shortcuts swapped between classes {:.1}%", 100.0 * sw);
    }
    let _ = writeln!(s, "Model: {model}");
    s
}
