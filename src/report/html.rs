//! report.html: one self-contained page per output folder (inline SVG, base64 PNG, no
//! scripts, nothing fetched), rendered from the results struct. Every string that comes from
//! data (class names, paths, settings) goes through [`escape`].

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use plotters::style::RGBColor;

use super::pct;
use super::plots::{self, AcpSeries};
use crate::error::{Error, Result};
use crate::method::analysis::{MEMBER_IMAGES, NEAREST_PROBES};
use crate::method::causal::CausalSettings;
use crate::method::cluster::SIGNIFICANCE_LEVEL;
use crate::method::{Finding, Status};
use crate::results::{
    AuditResults, ClusterReport, PAPER_COLORED_ACCURACY, PAPER_MONOCHROME_ACCURACY,
    ReproduceResults, RunResult,
};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "mean ± sd", as percentages or to three decimals; "n/a" when either is missing.
fn plus_minus(mean: Option<f64>, sd: Option<f64>, percent: bool) -> String {
    match (mean, sd) {
        (Some(m), Some(sd)) if percent => format!("{} ± {}", pct(m), pct(sd)),
        (Some(m), Some(sd)) => format!("{m:.3} ± {sd:.3}"),
        _ => "n/a".into(),
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// An `<img>` with the PNG at `dir/rel` inlined as a data URI.
fn img(dir: &Path, rel: &str, alt: &str, class: &str) -> Result<String> {
    let path = dir.join(rel);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(format!(
        "<img class=\"{class}\" alt=\"{}\" src=\"data:image/png;base64,{b64}\">",
        escape(alt)
    ))
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right;vertical-align:middle}
th{background:#f3f3f3}td.l,th.l{text-align:left}
table.wide{display:block;overflow-x:auto;max-width:100%}
.verdict{font-size:1.15em;background:#f6f8fa;border-left:4px solid #2c7;padding:.6em 1em}
.verdict li{margin:.4em 0}img.proto{width:48px;height:48px;image-rendering:pixelated;vertical-align:middle;border:1px solid #888}
img.big{width:96px;height:96px;image-rendering:pixelated;border:1px solid #888}img.strip{height:40px;image-rendering:pixelated}
img.plot{max-width:49%;height:auto}.note{color:#555;font-size:.92em}pre{background:#f6f8fa;padding:1em;overflow-x:auto;font-size:.85em}
";

fn cluster_rows(
    s: &mut String,
    dir: &Path,
    clusters: &[ClusterReport],
    weight_exponent: f64,
) -> Result<()> {
    let _ = writeln!(
        s,
        "<table class=wide><tr><th class=l>class</th><th>cluster</th><th>prototype</th><th class=l>{NEAREST_PROBES} held-out probes nearest the centroid</th>\
         <th>held-out probes</th><th>mean p(class) [95%]</th><th>chance</th><th>p-value</th><th>share of p<sup>{weight_exponent}</sup> weight</th><th class=l>causal test on real images</th><th class=l>in words</th></tr>"
    );
    for c in clusters {
        let name = escape(&c.class_name);
        let _ = writeln!(
            s,
            "<tr><td class=l>{name}</td><td>{}</td><td>{}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=l>{}</td><td class=l>{}</td></tr>",
            c.index + 1,
            img(
                dir,
                &c.prototype_png,
                &format!("prototype of class {}", c.class_name),
                "big"
            )?,
            img(
                dir,
                &c.nearest_png,
                &format!("probes nearest class {} centroid", c.class_name),
                "strip"
            )?,
            thousands(c.size),
            match (c.mean_probability, c.interval) {
                (Some(m), Some([lo, hi])) => format!("{} [{}, {}]", pct(m), pct(lo), pct(hi)),
                (Some(m), None) => pct(m),
                _ => "empty".into(),
            },
            pct(c.chance),
            match c.p_value {
                Some(p) if c.significant => format!("{p:.3}"),
                Some(p) => format!("{p:.3} <b>not significant</b>"),
                None => "–".into(),
            },
            pct(c.weight_share),
            match &c.causal {
                Some(t) => escape(&format!(
                    "{} its {} heaviest probes {:+.3} [{:+.3}, {:+.3}] vs as many of {} random probes {:+.3} (95th percentile; mean {:+.3}); flips {} vs {} (95th percentile){}. Controls: {}swapped colours {:+.3}{}. The prototype alone: {:+.3}",
                    match t.way_in_words() {
                        Some(w) => format!("Put into the whole image {w}:"),
                        None => format!("Pasted into {} of the image:", pct(t.mask_share)),
                    },
                    t.members,
                    t.effect,
                    t.interval[0],
                    t.interval[1],
                    t.probes,
                    t.null_p95,
                    t.null_mean,
                    pct(t.flips),
                    pct(t.null_flips_p95),
                    if t.passes { "" } else { " — does not pass" },
                    t.mirrored
                        .map(|m| format!("mirrored {m:+.3}{}, ", bracket(t.mirrored_interval)))
                        .unwrap_or_default(),
                    t.color_swapped,
                    bracket(t.swapped_interval),
                    t.prototype_effect,
                )),
                None => "not tested (no held-out real images)".into(),
            },
            escape(&c.description.text),
        );
    }
    s.push_str("</table>\n");
    Ok(())
}

/// " [lo, hi]" for an interval, nothing without one.
fn bracket(interval: Option<[f64; 2]>) -> String {
    interval.map_or(String::new(), |[lo, hi]| format!(" [{lo:+.3}, {hi:+.3}]"))
}

fn run_section(s: &mut String, dir: &Path, run: &RunResult, weight_exponent: f64) -> Result<()> {
    let _ = writeln!(
        s,
        "<p>On {} held-out probes (the VAE and the clusters were fitted on {} others): ACP <b>{}</b> (chance {}, ceiling {}, normalised {}){}{}.</p>",
        thousands(run.probes_held_out),
        thousands(run.probes_fit),
        pct(run.acp),
        pct(run.chance),
        pct(run.ceiling),
        run.normalized_acp
            .map(|n| format!("{n:.3}"))
            .unwrap_or_else(|| "n/a".into()),
        if run.empty_clusters > 0 {
            format!(", {} empty cluster(s) left out", run.empty_clusters)
        } else {
            String::new()
        },
        match &run.vae {
            Some(v) => format!(
                "; VAE: {} epochs, {} steps, −ELBO per probe {:.1}{}",
                v.epochs,
                v.steps,
                v.loss,
                if v.early_stopped {
                    " (stopped when the held-out loss stopped improving)"
                } else {
                    ""
                }
            ),
            None => "; no VAE: the probabilities themselves are the latent space".into(),
        }
    );
    cluster_rows(s, dir, &run.clusters, weight_exponent)?;
    s.push_str("<p>");
    for p in &run.files.probability_plots {
        s.push_str(&img(
            dir,
            p,
            "probes in latent space coloured by class probability",
            "plot",
        )?);
    }
    s.push_str(&img(
        dir,
        &run.files.cluster_plot,
        "probes in latent space coloured by cluster",
        "plot",
    )?);
    s.push_str("</p>\n");
    if run.projection.pca {
        let _ = writeln!(
            s,
            "<p class=note>Latents have {} dimensions: the plots show their first two principal components ({} and {} of the variance).</p>",
            run.latent_dim,
            pct(run.projection.explained_variance[0]),
            pct(run.projection.explained_variance[1])
        );
    }
    let f = &run.files;
    let files: Vec<&str> = [Some(&f.probes_csv), Some(&f.latents_npz)]
        .into_iter()
        .chain([f.vae_weights.as_ref(), f.vae_config.as_ref()])
        .flatten()
        .map(String::as_str)
        .collect();
    let _ = writeln!(s, "<p class=note>Files: {}.</p>", escape(&files.join(", ")));
    Ok(())
}

/// One sentence per class: what drives it, with its prototype, or why nothing was found.
/// Each finding comes with the cluster it speaks of, if any.
fn verdict(
    s: &mut String,
    dir: &Path,
    findings: &[(&Finding, Option<&ClusterReport>)],
    note: &str,
) -> Result<()> {
    let _ = writeln!(s, "<div class=verdict><ul>");
    for (f, cluster) in findings {
        let picture = match cluster {
            Some(cl) if f.status == Status::Found => format!(
                " {}",
                img(
                    dir,
                    &cl.prototype_png,
                    &format!("prototype of class {}", f.class_name),
                    "proto"
                )?
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "<li><b>{}</b>{picture}: {}.</li>",
            match f.status {
                Status::Found => format!("Class {} is driven by a shortcut", escape(&f.class_name)),
                Status::None => format!("Nothing found for class {}", escape(&f.class_name)),
            },
            escape(&f.reason)
        );
    }
    let _ = writeln!(s, "</ul><p class=note>{}</p></div>", escape(note));
    Ok(())
}

/// The findings of `run` with the clusters they speak of.
fn with_clusters(run: &RunResult) -> Vec<(&Finding, Option<&ClusterReport>)> {
    run.findings
        .iter()
        .map(|f| (f, f.cluster.and_then(|j| run.clusters.get(j))))
        .collect()
}

/// How findings are made and what ACP means, with the numbers of the run's settings.
fn definitions(c: &CausalSettings) -> String {
    format!(
        "<p><b>How findings are made.</b> The probes are split in two: the VAE and the clusters are fitted on one part, and every number below is measured on the other, held-out part. A class gets <b>driven by</b> only when one of its clusters passes two tests. <b>Significance</b>: its held-out mean probability of the class is higher than chance, by a permutation test (the held-out probabilities shuffled, the clusters kept: nothing fitted saw them, so this is exact), corrected for the number of clusters with the max-statistic (Westfall–Young) method at level {level}. <b>Causal test</b>: the cluster's {members} heaviest held-out probes are put into held-out real images — pasted at full strength inside the cluster's mask (where those probes' mean differs from the probes' background), or, when the mask covers more than {whole:.0}% of the image, in three ways: blended at {blend:.0}% strength, as a tint (x·probe: bright strokes take its colour) and as a screen (1 − (1 − x)(1 − probe): a dark background takes it); the random probes of the null go in the same three ways, and the way in which the cluster's probes beat them by most is the one reported, with its controls and prototype. The <i>effect</i> is the mean paired change of the class's probability (95% bootstrap interval), the <i>flips</i> the share of the other images that become the class. The null: {null} held-out probes drawn at random (all of them where fewer are held out), put in the same way; a shortcut must beat the 95th percentile of as many random probes by {effect:.2} in effect and by {flips:.0} points in flips. Selected probes always do a little better than random ones (a blob where a stroke would be raises that digit); a shortcut overrides the image. The probes moved to the mirrored position and with their colours swapped are controls, reported beside it. Otherwise the finding says why nothing was found.</p>\n<p><b>ACP, average cluster probability</b> (the paper's score): every probe joins its nearest centroid among all classes' centroids; a cluster scores the mean probability of its own class over its probes; ACP is the mean over clusters (empty clusters left out). <b>Chance</b>: the same score for a random assignment with the same cluster sizes. <b>Ceiling</b>: the score of grouping every probe with its most probable class. <b>Normalised</b>: (ACP − chance) / (ceiling − chance), 0 at chance and 1 at the ceiling. ACP rewards clusters that copy the classifier's probabilities: clustering the probabilities themselves scores at the ceiling without looking at a single pixel, so ACP alone is no evidence of a shortcut. Standard deviations are sample standard deviations across trials.</p>",
        level = SIGNIFICANCE_LEVEL,
        members = MEMBER_IMAGES,
        blend = 100.0 * c.blend,
        null = c.null_probes,
        effect = c.min_effect,
        flips = 100.0 * c.min_flips,
        whole = 100.0 * c.whole_share,
    )
}
/// The page's end: seed, version, the validated settings, and the machine-readable files.
fn settings_footer(
    s: &mut String,
    seed: u64,
    version: &str,
    settings: &impl serde::Serialize,
    files: &str,
) -> Result<()> {
    let _ = writeln!(
        s,
        "<h2>Settings</h2><p>Seed <b>{seed}</b>, spurion {}. The same seed on the same machine gives the same results.</p>",
        escape(version)
    );
    let settings = serde_json::to_string_pretty(settings)
        .map_err(|e| Error::Invalid(format!("serialising settings: {e}")))?;
    let _ = writeln!(s, "<pre>{}</pre>", escape(&settings));
    let _ = writeln!(s, "<p class=note>Machine-readable: {files}.</p>");
    s.push_str("</body></html>\n");
    Ok(())
}

/// Renders the report of `spurion reproduce`; images are read from `dir`.
pub fn reproduce(r: &ReproduceResults, dir: &Path) -> Result<String> {
    let mut s = String::with_capacity(1 << 20);
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>spurion report: reproduce (seed {})</title><style>{STYLE}</style></head><body>",
        r.seed
    );
    let _ = writeln!(s, "<h1>spurion: what drives each class</h1>");

    // Verdict: from trial 0 at the latent dimension with the best mean ACP.
    let best = r
        .summary
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.acp_mean.total_cmp(&b.1.acp_mean))
        .map(|(i, _)| i)
        .unwrap_or(0);
    if let Some(run) = r.trials.first().and_then(|t| t.runs.get(best)) {
        verdict(
            &mut s,
            dir,
            &with_clusters(run),
            &format!(
                "From trial 0 at latent dimension {}, the dimension with the best mean ACP, \
                 where ACP on held-out probes is {} against a chance level of {} (ceiling {}). \
                 Across all trials and dimensions, see the findings table below.",
                run.latent_dim,
                pct(run.acp),
                pct(run.chance),
                pct(run.ceiling)
            ),
        )?;
    }
    // How often each class was found, per latent dimension.
    let _ = writeln!(
        s,
        "<h2>Findings in every trial</h2><table><tr><th>latent dim</th>{}</tr>",
        r.class_names
            .iter()
            .map(|n| format!("<th>class {} found</th>", escape(n)))
            .collect::<String>()
    );
    for row in &r.summary {
        let _ = writeln!(
            s,
            "<tr><td>{}</td>{}</tr>",
            row.latent_dim,
            row.found
                .iter()
                .map(|k| format!("<td>{k} of {}</td>", r.trials.len()))
                .collect::<String>()
        );
    }
    s.push_str("</table>\n");

    // Table 1.
    let _ = writeln!(s, "<h2>Table 1: the paper beside spurion</h2>");
    let _ = writeln!(
        s,
        "<table><tr><th>latent dim</th><th>paper ACP (Table 1)</th><th>paper's method, our run</th><th>spurion ACP</th><th>chance</th><th>ceiling</th><th>normalised: paper's method</th><th>normalised: spurion</th><th>normalised: probabilities as latent</th></tr>"
    );
    for row in &r.summary {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            row.latent_dim,
            r.paper_row(row.latent_dim)
                .map(|p| plus_minus(Some(p.acp_mean), Some(p.acp_std), true))
                .unwrap_or_else(|| "–".into()),
            plus_minus(row.paper_method_acp_mean, row.paper_method_acp_std, true),
            plus_minus(Some(row.acp_mean), Some(row.acp_std), true),
            pct(row.chance_mean),
            pct(row.ceiling_mean),
            plus_minus(
                row.paper_method_normalized_mean,
                row.paper_method_normalized_std,
                false
            ),
            plus_minus(row.normalized_mean, row.normalized_std, false),
            plus_minus(
                row.probabilities_as_latent_normalized_mean,
                row.probabilities_as_latent_normalized_std,
                false
            ),
        );
    }
    s.push_str("</table>\n");
    let dims: Vec<usize> = r.summary.iter().map(|d| d.latent_dim).collect();
    let chance =
        r.summary.iter().map(|d| d.chance_mean).sum::<f64>() / r.summary.len().max(1) as f64;
    let chart = plots::acp_chart(
        &dims,
        &[
            AcpSeries {
                name: "paper (Tischler 2024)",
                color: RGBColor(150, 150, 150),
                points: r
                    .paper
                    .iter()
                    .map(|p| (p.latent_dim, p.acp_mean, p.acp_std))
                    .collect(),
            },
            AcpSeries {
                name: "paper's method, our run",
                color: RGBColor(255, 127, 14),
                points: r
                    .summary
                    .iter()
                    .filter_map(|d| {
                        Some((
                            d.latent_dim,
                            d.paper_method_acp_mean?,
                            d.paper_method_acp_std?,
                        ))
                    })
                    .collect(),
            },
            AcpSeries {
                name: "spurion",
                color: RGBColor(31, 119, 180),
                points: r
                    .summary
                    .iter()
                    .map(|d| (d.latent_dim, d.acp_mean, d.acp_std))
                    .collect(),
            },
        ],
        chance,
    )?;
    s.push_str(&chart);
    s.push('\n');
    s.push_str(&definitions(&r.settings.causal));

    // Classifier.
    let _ = writeln!(s, "<h2>The classifier learned colour</h2>");
    let _ = writeln!(
        s,
        "<table><tr><th>trial</th><th>coloured digits</th><th>monochrome digits</th><th>colours swapped</th><th class=l>weights</th></tr>"
    );
    let _ = writeln!(
        s,
        "<tr><td class=l>paper</td><td>{}</td><td>{}</td><td>–</td><td></td></tr>",
        pct(PAPER_COLORED_ACCURACY),
        pct(PAPER_MONOCHROME_ACCURACY)
    );
    for t in &r.trials {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=l>{}</td></tr>",
            t.trial,
            pct(t.colored_accuracy),
            pct(t.monochrome_accuracy),
            pct(t.swapped_accuracy),
            escape(&t.classifier_weights)
        );
    }
    s.push_str("</table><p class=note>Accuracy on held-out digits: coloured as in training, in monochrome (white strokes), and with each class drawn in another class's colour. A classifier that learned colour rather than shape fails the swapped digits.</p>\n");

    // Per latent dimension.
    for (i, dim) in dims.iter().enumerate() {
        let _ = writeln!(s, "<h2>Latent dimension {dim}</h2>");
        for t in &r.trials {
            let Some(run) = t.runs.get(i) else { continue };
            // Trial 0 open, the others folded.
            if t.trial == 0 {
                let _ = writeln!(s, "<h3>Trial 0</h3>");
            } else {
                let _ = writeln!(
                    s,
                    "<details><summary>Trial {} (ACP {})</summary>",
                    t.trial,
                    pct(run.acp)
                );
            }
            run_section(&mut s, dir, run, r.settings.method.weight_exponent)?;
            if t.trial != 0 {
                s.push_str("</details>\n");
            }
        }
    }

    // Settings.
    settings_footer(
        &mut s,
        r.seed,
        &r.spurion_version,
        &r.settings,
        "results.json (this report's data), and per run probes.csv, latents.npz and the trained models (safetensors with JSON configs)",
    )?;
    Ok(s)
}

/// Renders the report of `spurion audit`; images are read from `dir`.
pub fn audit(r: &AuditResults, dir: &Path) -> Result<String> {
    let mut s = String::with_capacity(1 << 20);
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>spurion audit: {}</title><style>{STYLE}</style></head><body>",
        escape(&r.model.path)
    );
    let _ = writeln!(s, "<h1>spurion audit: what drives each class</h1>");
    let findings: Vec<(&Finding, Option<&ClusterReport>)> = r
        .findings
        .iter()
        .map(|f| {
            let run = r
                .runs
                .iter()
                .find(|a| Some(&a.family) == f.probes.as_ref())
                .or(r.runs.first());
            (
                f,
                run.and_then(|a| f.cluster.and_then(|j| a.run.clusters.get(j))),
            )
        })
        .collect();
    verdict(
        &mut s,
        dir,
        &findings,
        &format!(
            "{} run through {}.",
            r.runs
                .iter()
                .map(|a| a.probes.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            r.model.path
        ),
    )?;
    let _ = writeln!(s, "<h2>Model and probes</h2><table>");
    let m = &r.model;
    let rows = [
        ("model", format!("{} ({})", m.path, m.format)),
        (
            "classes",
            format!(
                "{} (names from {})",
                m.class_names.join(", "),
                m.class_names_source
            ),
        ),
        ("input", format!("{} x {}", m.input_height, m.input_width)),
        ("probabilities", m.probability.clone()),
        ("run by", m.runtime.clone()),
    ];
    for (k, v) in rows {
        let _ = writeln!(
            s,
            "<tr><th class=l>{k}</th><td class=l>{}</td></tr>",
            escape(&v)
        );
    }
    if let Some(p) = &m.preprocess {
        let _ = writeln!(
            s,
            "<tr><th class=l>preprocessing</th><td class=l>{}</td></tr>",
            escape(&format!(
                "{:?}, {:?}, values in [0, {}], mean {:?}, std {:?}",
                p.channels, p.layout, p.range, p.mean, p.std
            ))
        );
    }
    s.push_str("</table>\n");
    for a in &r.runs {
        let _ = writeln!(s, "<h2>Probes: {}</h2>", escape(&a.probes));
        let _ = writeln!(
            s,
            "<table><tr><th class=l>class</th><th>mean p over probes</th><th>probes it wins</th></tr>"
        );
        for (c, name) in r.class_names.iter().enumerate() {
            let _ = writeln!(
                s,
                "<tr><td class=l>{}</td><td>{}</td><td>{}</td></tr>",
                escape(name),
                pct(a.probe_mean_probability[c]),
                thousands(a.probe_argmax_counts[c])
            );
        }
        s.push_str("</table>\n");
        let _ = writeln!(
            s,
            "<h3>Clusters (latent dimension {})</h3>",
            a.run.latent_dim
        );
        run_section(&mut s, dir, &a.run, r.settings.method.weight_exponent)?;
    }
    s.push_str(&definitions(&r.settings.causal));
    settings_footer(
        &mut s,
        r.seed,
        &r.spurion_version,
        &r.settings,
        "results.json (this report's data), probes.csv, latents.npz, vae.safetensors and vae.json",
    )?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<img src=x onerror=alert(1)> & \"'"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;&#39;"
        );
    }

    #[test]
    fn the_definitions_state_the_run_s_settings() {
        let default = definitions(&CausalSettings::default());
        assert!(
            default.contains("The null: 100 held-out probes"),
            "{default}"
        );
        assert!(default.contains("by 0.30 in effect and by 30 points in flips"));
        assert!(default.contains("at level 0.05."));
        assert!(default.contains("the cluster's 16 heaviest held-out probes"));
        assert!(default.contains("blended at 50% strength"));
        let other = definitions(&CausalSettings {
            null_probes: 20,
            min_effect: 0.2,
            min_flips: 0.25,
            blend: 0.4,
            whole_share: 0.6,
            ..CausalSettings::default()
        });
        assert!(other.contains("The null: 20 held-out probes"), "{other}");
        assert!(other.contains("by 0.20 in effect and by 25 points in flips"));
        assert!(other.contains("blended at 40% strength"));
        assert!(other.contains("covers more than 60% of the image"));
        assert!(!other.contains("100 held-out"));
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(4812), "4,812");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(12), "12");
    }
}
