//! The method on latents and probabilities you bring: step 4 (per-class weighted k-means) and
//! its score, with no classifier, VAE or probes involved.
//!
//! ```sh
//! # Two CSV files with one row per probe: latent coordinates, and class probabilities.
//! cargo run --release --example find_shortcuts -- latents.csv probabilities.csv [k|auto]
//! # Without arguments: a made-up example (three classes, each likely in its own region).
//! cargo run --release --example find_shortcuts
//! ```
//!
//! A header row is skipped when its first field is not a number. Probabilities must lie in
//! [0, 1]; with two classes and one column, that column is p_1.

use rand::SeedableRng;
use spurion::{ClusterCount, Latents, Probabilities, Rng, ShortcutSearch};

/// Rows of numbers from a CSV file (a non-numeric first row is a header).
fn read_csv(path: &str) -> Result<Vec<Vec<f32>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Result<Vec<f32>, _> = line.split(',').map(|f| f.trim().parse()).collect();
        match fields {
            Ok(v) => rows.push(v),
            Err(_) if i == 0 => continue,
            Err(e) => return Err(format!("{path} line {}: {e}", i + 1)),
        }
    }
    Ok(rows)
}

/// Three classes on a line at -4, 0 and 4, 300 probes, each likeliest for the nearest class.
fn made_up() -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut rng = Rng::seed_from_u64(7);
    let (mut z, mut p) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let x: f32 = rand::Rng::random_range(&mut rng, -6.0..6.0);
        let y: f32 = rand::Rng::random_range(&mut rng, -1.0..1.0);
        let scores = [-4.0f32, 0.0, 4.0].map(|c| (-(x - c).powi(2)).exp());
        let sum: f32 = scores.iter().sum::<f32>() + 1e-6;
        z.push(vec![x, y]);
        p.push(scores.iter().map(|s| s / sum).collect());
    }
    (z, p)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (z, mut p) = match args.as_slice() {
        [] => made_up(),
        [latents, probs, ..] => (read_csv(latents)?, read_csv(probs)?),
        _ => return Err("usage: find_shortcuts [LATENTS.csv PROBABILITIES.csv [k|auto]]".into()),
    };
    let k: ClusterCount = args
        .get(2)
        .map_or(Ok(ClusterCount::Fixed(1)), |s| s.parse())?;
    // One column of probabilities: a binary model's p_1.
    if p.first().is_some_and(|r| r.len() == 1) {
        p = p.into_iter().map(|r| vec![1.0 - r[0], r[0]]).collect();
    }
    let dim = z.first().map_or(0, Vec::len);
    let classes = p.first().map_or(0, Vec::len);
    let latents = Latents::new(dim, z.concat())?;
    let probs = Probabilities::new(classes, p.concat())?;

    let search = ShortcutSearch::params().clusters(k).check()?;
    let found = search.fit(&latents, &probs, &mut Rng::seed_from_u64(0))?;

    println!(
        "{} probes, {dim}-dimensional latents, {classes} classes",
        probs.count()
    );
    for (j, &class) in found.owners.iter().enumerate() {
        let c = &found.score.clusters[j];
        println!(
            "class {class} cluster {}: centroid {:?}, {} probes, mean p(class {class}) {}",
            found.index_in_class(j) + 1,
            found.centroid(j),
            c.size,
            c.mean_probability
                .map_or("-".into(), |m| format!("{:.1}%", 100.0 * m)),
        );
    }
    let s = &found.score;
    println!(
        "ACP {:.1}% (chance {:.1}%, ceiling {:.1}%); ACP: every probe joins its nearest \
         centroid, a cluster scores the mean probability of its class over its probes, ACP is \
         the mean over clusters",
        100.0 * s.acp,
        100.0 * s.chance,
        100.0 * s.ceiling
    );
    Ok(())
}
