//! Why does ACP fall short, and what fixes it? The study behind docs/findings.md.
//!
//! For each trial and latent dimension of the default `reproduce` set-up it trains one VAE and
//! scores several clustering variants on the same latents, so differences come from the
//! clustering alone:
//!
//! ```sh
//! cargo run --release --example acp_study -- [trials] [dims] [guide weights]
//! # default: 5 trials, dims 2,3,5,10, guide weights 0 (a plain VAE, as the paper) and 50
//! ```
//!
//! Columns: normalised ACP mean (std) across trials per variant; `agree` is the share of probes
//! whose cluster's class is their argmax class (how well the Voronoi partition follows the
//! classifier's decision boundary); `pw` is the probe-weighted score (mean over probes of the
//! probability of their cluster's class, normalised the same way), which small confident
//! clusters cannot inflate.

use rand::SeedableRng;
use spurion::data;
use spurion::method::VaeKind;
use spurion::reproduce;
use spurion::results::{Timings, mean_std};
use spurion::{
    ClusterCount, LatentMode, Latents, Probabilities, Progress, ReproduceConfig, Rng,
    ShortcutSearch,
};

struct Variant {
    name: &'static str,
    latent: LatentMode,
    k: Option<usize>,
    exponent: f64,
}

#[derive(Default, Clone)]
struct Scores {
    norm: Vec<f64>,
    agree: Vec<f64>,
    pw: Vec<f64>,
    ks: Vec<String>,
}

fn probe_weighted(
    probs: &Probabilities,
    owners: &[usize],
    assignment: &[usize],
) -> (f64, f64, f64) {
    let n = probs.count() as f64;
    let got: f64 = assignment
        .iter()
        .enumerate()
        .map(|(i, &j)| probs.get(i, owners[j]) as f64)
        .sum::<f64>()
        / n;
    let ceiling: f64 = (0..probs.count())
        .map(|i| probs.get(i, probs.argmax(i)) as f64)
        .sum::<f64>()
        / n;
    // Chance: a random assignment with the same owner shares.
    let mut share = vec![0.0; probs.classes];
    for &j in assignment {
        share[owners[j]] += 1.0 / n;
    }
    let chance: f64 = (0..probs.classes).map(|c| share[c] * probs.mean(c)).sum();
    (got, chance, ceiling)
}

fn main() -> spurion::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let trials: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let dims: Vec<usize> = args
        .get(2)
        .map(|s| s.split(',').map(|d| d.parse().unwrap()).collect())
        .unwrap_or(vec![2, 3, 5, 10]);
    let weights: Vec<f64> = args
        .get(3)
        .map(|s| s.split(',').map(|d| d.parse().unwrap()).collect())
        .unwrap_or(vec![0.0, 50.0]);
    let config = ReproduceConfig {
        data: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(data::SHIPPED_MNIST),
        dims: dims.clone(),
        trials,
        ..ReproduceConfig::default()
    };
    eprintln!(
        "VAE thumbnails {}x{0}, {} to {} steps",
        config.vae.size, config.vae.training.min_steps, config.vae.training.max_steps
    );
    let base = data::load_idx_classes(&config.data, Some(&config.classes), config.transpose)?;
    let all_variants = [
        Variant {
            name: "paper: sampled z, k=1, p^2",
            latent: LatentMode::Sample,
            k: Some(1),
            exponent: 2.0,
        },
        Variant {
            name: "means, k=1, p^2",
            latent: LatentMode::Mean,
            k: Some(1),
            exponent: 2.0,
        },
        Variant {
            name: "means, k=1, p^4",
            latent: LatentMode::Mean,
            k: Some(1),
            exponent: 4.0,
        },
        Variant {
            name: "means, k=8, p^2",
            latent: LatentMode::Mean,
            k: Some(8),
            exponent: 2.0,
        },
        Variant {
            name: "means, k by held-out ACP",
            latent: LatentMode::Mean,
            k: None,
            exponent: 2.0,
        },
    ];
    // Every variant on each VAE kind: "plain" for weight 0, "guided(w)" otherwise.
    let mut variants = Vec::new();
    for &w in &weights {
        for v in &all_variants {
            variants.push((w, v));
        }
    }
    let mut table = vec![vec![Scores::default(); variants.len()]; dims.len()];
    let mut vae_info = vec![vec![Vec::new(); weights.len()]; dims.len()];
    let mut timings = Timings::default();
    for trial in 0..trials {
        let setup =
            reproduce::prepare_trial(&config, &base, trial, &Progress::hidden(), &mut timings)?;
        let confident = (0..setup.probs.count())
            .filter(|&i| setup.probs.get(i, setup.probs.argmax(i)) > 0.9)
            .count() as f64
            / setup.probs.count() as f64;
        eprintln!(
            "trial {trial}: coloured {:.3} mono {:.3} swapped {:.3}; probes with max p > 0.9: {:.1}%",
            setup.colored_accuracy,
            setup.monochrome_accuracy,
            setup.swapped_accuracy,
            100.0 * confident
        );
        for (di, &dim) in dims.iter().enumerate() {
            let mut spaces = Vec::new();
            for (wi, &w) in weights.iter().enumerate() {
                let mut cfg = config.clone();
                cfg.vae.training.guide_weight = w;
                let kind = if w > 0.0 {
                    VaeKind::Guided
                } else {
                    VaeKind::Plain
                };
                let space = reproduce::fit_space(&cfg, &setup, dim, kind, &Progress::hidden())?;
                vae_info[di][wi].push((space.training.loss, space.training.epochs));
                spaces.push(space);
            }
            for (vi, (w, v)) in variants.iter().enumerate() {
                let space = &spaces[weights.iter().position(|x| x == w).unwrap()];
                let latents = Latents::new(dim, space.latents(v.latent).to_vec())?;
                let search = ShortcutSearch::params()
                    .clusters(v.k.map_or(ClusterCount::Auto { max: 8 }, ClusterCount::Fixed))
                    .weight_exponent(v.exponent)
                    .check()?;
                // Every variant clusters with the same generator for this (trial, dim).
                let seed = config.seed ^ ((trial as u64) << 32) ^ dim as u64;
                let c = search.fit(&latents, &setup.probs, &mut Rng::seed_from_u64(seed))?;
                let ks = &c.ks;
                let agree = c
                    .assignment
                    .iter()
                    .enumerate()
                    .filter(|&(i, &j)| c.owners[j] == setup.probs.argmax(i))
                    .count() as f64
                    / setup.probs.count() as f64;
                let (got, chance, ceiling) = probe_weighted(&setup.probs, &c.owners, &c.assignment);
                let s = &mut table[di][vi];
                s.norm.push(c.score.normalized_acp.unwrap_or(f64::NAN));
                s.agree.push(agree);
                s.pw.push((got - chance) / (ceiling - chance));
                s.ks.push(format!("{ks:?}"));
            }
        }
    }
    for (di, dim) in dims.iter().enumerate() {
        println!("\nlatent dim {dim}");
        for (wi, w) in weights.iter().enumerate() {
            let losses: Vec<f64> = vae_info[di][wi].iter().map(|v| v.0).collect();
            let epochs: Vec<f64> = vae_info[di][wi].iter().map(|v| v.1 as f64).collect();
            println!(
                "  VAE guide weight {w}: held-out -ELBO {:.1} (std {:.1}), {:.0} epochs on average",
                mean_std(&losses).0,
                mean_std(&losses).1,
                mean_std(&epochs).0
            );
        }
        println!(
            "  {:<42} {:>16} {:>8} {:>16}  ks",
            "variant", "normalised ACP", "agree", "probe-weighted"
        );
        for (vi, (w, v)) in variants.iter().enumerate() {
            let vae = if *w > 0.0 {
                format!("guided({w})")
            } else {
                "plain".to_string()
            };
            let s = &table[di][vi];
            let (nm, ns) = mean_std(&s.norm);
            let (pm, ps) = mean_std(&s.pw);
            println!(
                "  {:<42} {:>7.3} ({:.3}) {:>8.3} {:>7.3} ({:.3})  {}",
                format!("{vae}: {}", v.name),
                nm,
                ns,
                mean_std(&s.agree).0,
                pm,
                ps,
                if v.k.is_none() {
                    s.ks.join(" ")
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}
