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
use crate::method::analysis::NEAREST_PROBES;
use crate::method::causal::CAUSAL_STRENGTHS;
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
    let strengths: Vec<String> = CAUSAL_STRENGTHS
        .iter()
        .map(|a| format!("{:.0}", 100.0 * a))
        .collect();
    let _ = writeln!(
        s,
        "<table class=wide><tr><th class=l>class</th><th>cluster</th><th>prototype</th><th class=l>{NEAREST_PROBES} probes nearest the centroid</th>\
         <th>probes</th><th>mean p(class)</th><th>chance</th><th>p-value</th><th>share of p<sup>{weight_exponent}</sup> weight</th><th class=l>causal check: flipped at blend {}% (grey)</th><th class=l>in words</th></tr>",
        strengths.join("/")
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
            c.mean_probability
                .map(pct)
                .unwrap_or_else(|| "empty".into()),
            pct(c.chance),
            match c.p_value {
                Some(p) if c.significant => format!("{p:.3}"),
                Some(p) => format!("{p:.3} <b>not significant</b>"),
                None => "–".into(),
            },
            pct(c.weight_share),
            match &c.causal {
                Some(k) => escape(&format!(
                    "{} ({})",
                    k.flip_rate
                        .iter()
                        .map(|&f| format!("{:.0}%", 100.0 * f))
                        .collect::<Vec<_>>()
                        .join(" / "),
                    k.grey_flip_rate
                        .iter()
                        .map(|&f| format!("{:.0}%", 100.0 * f))
                        .collect::<Vec<_>>()
                        .join(" / ")
                )),
                None => "no held-out images".into(),
            },
            escape(&c.description.text),
        );
    }
    s.push_str("</table>\n");
    Ok(())
}

fn run_section(s: &mut String, dir: &Path, run: &RunResult, weight_exponent: f64) -> Result<()> {
    let _ = writeln!(
        s,
        "<p>ACP <b>{}</b> (chance {}, ceiling {}, normalised {}){}; VAE: {} epochs, {} steps, −ELBO per probe {:.1}{}.</p>",
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
        run.vae.epochs,
        run.vae.steps,
        run.vae.loss,
        if run.vae.early_stopped {
            " (stopped when the held-out loss stopped improving)"
        } else {
            ""
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
    let _ = writeln!(
        s,
        "<p class=note>Files: {}, {}, {}, {}.</p>",
        escape(&f.probes_csv),
        escape(&f.latents_npz),
        escape(&f.vae_weights),
        escape(&f.vae_config)
    );
    Ok(())
}

/// One sentence per class: its heaviest cluster's prototype, mean probability and size.
fn verdict(
    s: &mut String,
    dir: &Path,
    run: &RunResult,
    class_names: &[String],
    source: &str,
) -> Result<()> {
    let _ = writeln!(s, "<div class=verdict><ul>");
    for (c, name) in class_names.iter().enumerate() {
        if let Some(cl) = run.heaviest_cluster(c) {
            let _ = writeln!(
                s,
                "<li>Class <b>{}</b> is driven by probes like {}: {} mean probability, {} probes; {}.</li>",
                escape(name),
                img(
                    dir,
                    &cl.prototype_png,
                    &format!("prototype of class {name}"),
                    "proto"
                )?,
                cl.mean_probability.map(pct).unwrap_or_else(|| "n/a".into()),
                thousands(cl.size),
                escape(&cl.description.text)
            );
        }
    }
    let _ = writeln!(
        s,
        "</ul><p class=note>{} ACP there: {} against a chance level of {} (ceiling {}).</p></div>",
        escape(source),
        pct(run.acp),
        pct(run.chance),
        pct(run.ceiling)
    );
    Ok(())
}

const DEFINITIONS: &str = "<p><b>ACP, average cluster probability</b> (the paper's score): every probe joins its nearest centroid among all classes' centroids; a cluster scores the mean probability of its own class over its probes; ACP is the mean over clusters (empty clusters left out). <b>Chance</b>: the same score for a random assignment with the same cluster sizes. <b>Ceiling</b>: the score of grouping every probe with its most probable class. <b>Normalised</b>: (ACP − chance) / (ceiling − chance), 0 at chance and 1 at the ceiling. Standard deviations are sample standard deviations across trials.</p>
<p><b>p-value</b>: permutation test of a cluster's mean probability: the classifier's probabilities are shuffled across probes (the clusters kept) and the cluster's mean recomputed; the p-value is the share of shuffles that reach the observed mean. Clusters above 0.05 divided by the number of clusters (Bonferroni) are marked <b>not significant</b>. <b>Causal check</b>: the prototype is blended into held-out real images, (1 − a)·image + a·prototype, and the share of images not already predicted as the cluster's class that now are is reported; a uniform grey image blended the same way is the control. A real shortcut flips predictions; a chance cluster does no better than grey.</p>";

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
            run,
            &r.class_names,
            &format!(
                "From trial 0 at latent dimension {}, the dimension with the best mean ACP.",
                run.latent_dim
            ),
        )?;
    }

    // Table 1.
    let _ = writeln!(s, "<h2>Table 1: the paper beside spurion</h2>");
    let _ = writeln!(
        s,
        "<table><tr><th>latent dim</th><th>paper ACP (Table 1)</th><th>paper's method, our run</th><th>spurion ACP</th><th>chance</th><th>ceiling</th><th>normalised: paper's method</th><th>normalised: spurion</th></tr>"
    );
    for row in &r.summary {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
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
    s.push_str(DEFINITIONS);

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
    verdict(
        &mut s,
        dir,
        &r.run,
        &r.class_names,
        &format!("{} run through {}.", r.probes, r.model.path),
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
        ("probes", r.probes.clone()),
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
    let _ = writeln!(
        s,
        "<table><tr><th class=l>class</th><th>mean p over probes</th><th>probes it wins</th></tr>"
    );
    for (c, name) in r.class_names.iter().enumerate() {
        let _ = writeln!(
            s,
            "<tr><td class=l>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            pct(r.probe_mean_probability[c]),
            thousands(r.probe_argmax_counts[c])
        );
    }
    s.push_str("</table>\n");
    let _ = writeln!(
        s,
        "<h2>Clusters (latent dimension {})</h2>",
        r.run.latent_dim
    );
    run_section(&mut s, dir, &r.run, r.settings.method.weight_exponent)?;
    s.push_str(DEFINITIONS);
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
    fn groups_thousands() {
        assert_eq!(thousands(4812), "4,812");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(12), "12");
    }
}
