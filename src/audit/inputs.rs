//! What an audit reads before it runs: the probe sets of `--probes`, the held-out real images
//! of the causal test, and checks that they are usable (enough probes, memory for the largest
//! buffers); and the seed branches every random choice of an audit flows from.

use rand::seq::index;

use super::Holdout;
use crate::config::{AuditConfig, DEFAULT_PROBES, ProbeChoice};
use crate::data::plant;
use crate::error::{Error, Result};
use crate::model::LoadedModel;
use crate::probes::{ProbeSource, ProbeSpec};
use crate::seed::{self, SeedPath, Stream};

/// Held-out images sampled for the causal check when `--causal-images` asks for fewer (the
/// test uses the first of them), so that smaller values take the first images of one sample.
pub const CAUSAL_IMAGES: usize = 500;

/// Held-out images sampled for the causal check: [`CAUSAL_IMAGES`], or `--causal-images`
/// where it asks for more.
fn holdout_count(config: &AuditConfig) -> usize {
    CAUSAL_IMAGES.max(config.causal.images)
}

/// Held-out real images at the model's input size, for the causal check.
pub(super) fn holdout_images(
    config: &AuditConfig,
    model: &LoadedModel,
    h: usize,
    w: usize,
    warnings: &mut Vec<String>,
) -> Result<Option<Holdout>> {
    let (images, what) = match &config.holdout {
        // A folder of images, with or without class subfolders (labels are not needed): a
        // seeded sample, each image decoded straight to the model's size.
        Some(path) if path.is_dir() && crate::data::idx::locate_pair(path).is_err() => {
            let src = ProbeSource::folder(
                path,
                h,
                w,
                Some(holdout_count(config)),
                &mut seed::rng(config.seed, Stream::Holdout, &[branch::HOLDOUT_FOLDER]),
            )?;
            warnings.extend_from_slice(src.skipped());
            (
                src.batch(0, src.count())?,
                format!("held-out images from {}", path.display()),
            )
        }
        // An IDX pair, read at its own size (sampled and resized below).
        Some(path) => {
            let set = crate::data::load_idx_classes(path, None, crate::data::idx::Transpose::Auto)?;
            (
                set.images,
                format!("held-out images from {}", path.display()),
            )
        }
        None => match match model {
            LoadedModel::Checkpoint(c) => c.held_out_images()?,
            LoadedModel::Onnx(_) => None,
        } {
            Some(val) => (
                val.images,
                "the model's validation images, nothing planted".to_string(),
            ),
            None => return Ok(None),
        },
    };
    if images.count == 0 {
        warnings.push(format!("{what}: no images, so no causal check"));
        return Ok(None);
    }
    let keep: Vec<usize> = if images.count > holdout_count(config) {
        let mut ids = index::sample(
            &mut seed::rng(config.seed, Stream::Holdout, &[]),
            images.count,
            holdout_count(config),
        )
        .into_vec();
        ids.sort_unstable();
        ids
    } else {
        (0..images.count).collect()
    };
    let images = plant::to_rgb(&images.select(&keep)).resize(h, w);
    Ok(Some(Holdout::new(images, what)))
}

/// Checks, before any work, that the audit's largest buffers fit in memory.
pub(super) fn check_memory(
    config: &AuditConfig,
    probes: usize,
    classes: usize,
    [h, w]: [usize; 2],
) -> Result<()> {
    use crate::budget::{Budget, F32, vae_training_bytes};
    let image = 3.0 * h as f64 * w as f64 * F32;
    let batch = config.batch_for([h, w]).min(probes);
    let vae_probes = probes.min(config.vae_train_probes);
    let s = config.vae.size;
    // Images are held as probes, as the model's input and as a tensor: about 3 copies; the
    // model's own activations come on top.
    Budget::of_machine().need_all(&[
        ("input-size", image * 4.0, format!("one {h}x{w} image")),
        (
            "batch-size",
            batch as f64 * image * 3.0,
            format!("batches of {batch} {h}x{w} probes"),
        ),
        (
            "input-size",
            holdout_count(config) as f64 * image * 3.0,
            format!(
                "the causal check's {} held-out images at {h}x{w}",
                holdout_count(config)
            ),
        ),
        (
            "probes-count",
            probes as f64 * (200.0 + 32.0 * classes as f64),
            format!("{probes} probes' probabilities and report rows"),
        ),
        (
            "latent-dim",
            probes as f64 * config.latent_dim as f64 * F32 * 3.0,
            format!("{probes} latents of {} dimensions", config.latent_dim),
        ),
        (
            "vae-size",
            vae_probes as f64 * 3.0 * (s * s) as f64 * F32
                + vae_training_bytes(s, config.vae.hidden, config.vae.training.batch_size),
            format!("a VAE trained on {vae_probes} probes as {s}x{s} thumbnails"),
        ),
    ])
}

/// The branches of an audit's seed path, each its own generator (the numbers are what every
/// documented run used: changing one changes every result).
pub(super) mod branch {
    /// Under a family's path: the VAE's training batches.
    pub const VAE_BATCHES: u64 = 0;
    /// Under a family's path: which probes the VAE trains on, and which images of a probe
    /// folder are used.
    pub const SAMPLE: u64 = 1;
    /// The `k`-th probe family (k >= 1) is the root's child `FAMILY + k`.
    pub const FAMILY: u64 = 1000;
    /// Under the hold-out stream: which images of a hold-out folder are used.
    pub const HOLDOUT_FOLDER: u64 = 1;
}

/// The generators of the `k`-th probe family of an audit: the first family's are those of
/// the seed itself, so that adding families leaves its results as they were.
pub(super) fn family_seeds(seed: u64, k: usize) -> SeedPath {
    let root = SeedPath::root(seed);
    if k == 0 {
        root
    } else {
        root.child(branch::FAMILY + k as u64)
    }
}

/// The probes of an audit's `k`-th probe choice, at the model's input size.
pub fn probe_source(config: &AuditConfig, k: usize, [h, w]: [usize; 2]) -> Result<ProbeSource> {
    let seeds = family_seeds(config.seed, k);
    Ok(match &config.probes[k] {
        ProbeChoice::Family(family) => ProbeSource::Generated(ProbeSpec::new(
            *family,
            config.probes_count.unwrap_or(DEFAULT_PROBES),
            [h, w],
            seeds.derive(Stream::Probes),
        )),
        ProbeChoice::Folder(dir) => ProbeSource::folder(
            dir,
            h,
            w,
            config.probes_count,
            &mut seeds.child(branch::SAMPLE).rng(Stream::Probes),
        )?,
    })
}

/// At least two probes (one fitted, one held out), and `--k` no larger than the fitted part.
pub(super) fn check_count(source: &ProbeSource, config: &AuditConfig) -> Result<()> {
    let n = source.count();
    if n < 2 {
        return Err(Error::param(
            "probes-count",
            format!(
                "{} has {n} probe(s); spurion needs at least 2: half fit the VAE and the \
                 clusters, half are held out",
                source.describe()
            ),
        ));
    }
    config.method.k.check(n / 2)
}
