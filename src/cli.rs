//! Raw command-line arguments (clap) and their conversion into the library's validated
//! settings.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use spurion::analysis::ClusterCount;
use spurion::audit::{self, AuditConfig, ProbeChoice};
use spurion::data::{self, idx::Transpose, plant};
use spurion::model::{Channels, Layout, OnnxSettings, OutputKind};
use spurion::nn::ComputeDevice;
use spurion::nn::vae::{LatentMode, VaeTrainParams};
use spurion::probes::ProbeFamily;
use spurion::progress::Progress;
use spurion::reproduce::{self, ReproduceConfig};
use spurion::train::{self, TrainConfig};
use spurion::{Error, Result};

#[derive(Parser, Debug)]
#[command(
    name = "spurion",
    version,
    about = "Find the shortcuts (spurious correlations) an image classifier has learned"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the paper's experiment end to end (coloured digits, solid-colour probes) and print
    /// its Table 1 beside ours.
    Reproduce(ReproduceArgs),
    /// Train spurion's CNN on an IDX pair or an image folder, optionally with a planted
    /// shortcut, and save it for `spurion audit`.
    Train(TrainArgs),
    /// Find what drives each class of a classifier (spurion checkpoint or ONNX) from a probe
    /// set, and write a report.
    Audit(AuditArgs),
    /// Measure what each stage costs on this machine (epoch times, probes/s, k-means).
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct BenchArgs {
    /// Also time the whole default `reproduce` sweep.
    #[arg(long)]
    full: bool,
    /// Runs per stage; the best is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    #[arg(long, short)]
    quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum PlantArg {
    /// Colour each class's strokes (colour images: brightness) in its own colour.
    Color,
    /// A class-coloured square in a class-specific corner.
    Patch,
    /// Plant nothing.
    None,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct TrainArgs {
    /// IDX folder or image file, or an ImageFolder root (root/class_name/*.png|jpg).
    #[arg(long, value_name = "PATH")]
    data: PathBuf,
    /// Shortcut to plant.
    #[arg(long, value_enum, default_value = "none")]
    plant: PlantArg,
    /// IDX labels to keep, in class order (default: all).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<u8>>,
    /// Resize images to SIZE x SIZE (default: IDX images keep their size, image folders 32).
    #[arg(long)]
    size: Option<usize>,
    /// Colour per class for the planted shortcut: names or #rrggbb (default: green, blue, red, ...).
    #[arg(long, value_delimiter = ',')]
    colors: Option<Vec<String>>,
    /// Whether IDX images are stored transposed (EMNIST).
    #[arg(long, value_enum, default_value = "auto")]
    transpose: TransposeArg,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder of the checkpoint.
    #[arg(long, default_value = "spurion-model")]
    out: PathBuf,
    /// Replace --out even if spurion did not write it (never an input).
    #[arg(long)]
    force: bool,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    #[arg(long, short)]
    quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ChannelsArg {
    Rgb,
    Bgr,
    Gray,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum LayoutArg {
    Nchw,
    Nhwc,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum OutputArg {
    /// Raw scores: spurion applies softmax (sigmoid for a single output).
    Logits,
    Sigmoid,
    Softmax,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct AuditArgs {
    /// The classifier: a spurion model folder (from `spurion train`) or an .onnx file.
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// Probe set: solid, patch, gratings, noise, or a folder of images.
    #[arg(long, value_name = "SPEC", default_value = "solid")]
    probes: String,
    /// Number of generated probes (default 10000); for a folder, the most images used.
    #[arg(long)]
    probes_count: Option<usize>,
    /// VAE latent dimension.
    #[arg(long, default_value_t = 3)]
    latent_dim: usize,
    /// Clusters per class: a number (the paper: 1), or auto to choose per class by held-out ACP.
    #[arg(long, default_value = "1")]
    k: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value = "mean")]
    latent: LatentArg,
    #[arg(long, default_value_t = 2.0, value_name = "E")]
    weight_exponent: f64,
    /// Train the VAE exactly N epochs (default: until its held-out ELBO stops improving).
    #[arg(long, value_name = "N")]
    vae_epochs: Option<usize>,
    /// Probes per inference batch (bounds memory).
    #[arg(long, default_value_t = 512)]
    batch_size: usize,
    /// Permutations of each cluster's significance test (0: skip it).
    #[arg(long, default_value_t = 1000)]
    permutations: usize,
    /// VAE: guided by the classifier's probabilities (spurion), or plain (the paper).
    #[arg(long, value_enum, default_value = "guided")]
    vae: VaeArg,
    /// Leave wall-clock timings out of results.json (byte-identical reruns).
    #[arg(long)]
    no_timings: bool,
    /// Held-out real images for the causal check (IDX, image folder, or any images). Default
    /// for spurion models: the validation split of their training data.
    #[arg(long, value_name = "PATH")]
    holdout: Option<PathBuf>,
    /// ONNX preprocessing and output settings from a TOML file (flags override it).
    #[arg(long, value_name = "FILE")]
    preprocess: Option<PathBuf>,
    /// ONNX input size, HxW or N (default: what the model declares).
    #[arg(long, value_name = "HxW")]
    input_size: Option<String>,
    /// ONNX input channel order.
    #[arg(long, value_enum)]
    channels: Option<ChannelsArg>,
    /// ONNX input layout (default: guessed from the model's input shape).
    #[arg(long, value_enum)]
    layout: Option<LayoutArg>,
    /// Per-channel mean subtracted after scaling to [0, range].
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    mean: Option<Vec<f32>>,
    /// Per-channel standard deviation.
    #[arg(long, value_delimiter = ',')]
    std: Option<Vec<f32>>,
    /// Pixel value range before mean/std: 1 or 255.
    #[arg(long)]
    range: Option<f32>,
    /// What the ONNX model outputs (default: logits).
    #[arg(long, value_enum)]
    output: Option<OutputArg>,
    /// The ONNX output holding the class scores, for a model with several outputs.
    #[arg(long, value_name = "NAME")]
    output_name: Option<String>,
    /// Class names, one per line (default: model metadata, else indices).
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    #[arg(long, default_value = "spurion-audit")]
    out: PathBuf,
    /// Replace --out even if spurion did not write it (never an input).
    #[arg(long)]
    force: bool,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    #[arg(long, short)]
    quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum TransposeArg {
    Auto,
    Yes,
    No,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum LatentArg {
    /// Encoder means (deterministic).
    Mean,
    /// Sampled latents, as in the paper.
    Sample,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum VaeArg {
    /// Trained to predict the classifier's probabilities from the latent as well.
    Guided,
    /// The paper's VAE.
    Plain,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum DeviceArg {
    Cpu,
    Cuda,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct ReproduceArgs {
    /// IDX data: a folder holding an images/labels pair, or the image file itself.
    /// Default: the MNIST sample shipped in data/mnist-10k.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// Whether images are stored transposed (EMNIST); auto = when the file name says emnist.
    #[arg(long, value_enum, default_value = "auto")]
    transpose: TransposeArg,
    /// Digit labels to use, in class order.
    #[arg(long, value_delimiter = ',', default_value = "0,1")]
    classes: Vec<u8>,
    /// Stroke colour per class: names (green, blue, red, ...) or #rrggbb.
    /// Default: green, blue, then the palette.
    #[arg(long, value_delimiter = ',')]
    colors: Option<Vec<String>>,
    /// VAE latent dimensions to sweep.
    #[arg(long, value_delimiter = ',', default_value = "2,3,5,10")]
    dims: Vec<usize>,
    /// Independent trials (classifier, probes and VAEs retrained each time).
    #[arg(long, default_value_t = 5)]
    trials: usize,
    /// Clusters per class: a number (the paper: 1), or auto to choose per class by held-out ACP.
    #[arg(long, default_value = "1")]
    k: String,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Solid-colour probes per trial.
    #[arg(long, default_value_t = 10_000)]
    probes: usize,
    /// Latents used for clustering.
    #[arg(long, value_enum, default_value = "mean")]
    latent: LatentArg,
    /// Probes weigh p_c(x)^E in class c's k-means.
    #[arg(long, default_value_t = 2.0, value_name = "E")]
    weight_exponent: f64,
    /// Classifier training epochs.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Permutations of each cluster's significance test (0: skip it).
    #[arg(long, default_value_t = 1000)]
    permutations: usize,
    /// Train the VAE exactly N epochs (default: until its held-out ELBO stops improving).
    #[arg(long, value_name = "N")]
    vae_epochs: Option<usize>,
    /// VAE: guided by the classifier's probabilities (spurion), or plain (the paper).
    #[arg(long, value_enum, default_value = "guided")]
    vae: VaeArg,
    /// The VAE sees probes as SxS thumbnails (solid colours need no more than 8).
    #[arg(long, default_value_t = 8, value_name = "S")]
    vae_size: usize,
    /// Skip the paper's whole method (plain VAE, sampled latents, k = 1, p^2) that otherwise
    /// runs beside spurion's for comparison.
    #[arg(long)]
    no_paper_baseline: bool,
    /// Leave wall-clock timings out of results.json, so that two runs with the same seed
    /// write byte-identical files.
    #[arg(long)]
    no_timings: bool,
    /// Output folder (results.json).
    #[arg(long, default_value = "spurion-out")]
    out: PathBuf,
    /// Replace --out even if spurion did not write it (never an input).
    #[arg(long)]
    force: bool,
    /// Where networks run.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

/// Collapses clap's multi-line message into one line.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The shipped MNIST sample: relative to the working folder, else to the source tree.
fn shipped_data() -> PathBuf {
    let local = Path::new(data::SHIPPED_MNIST);
    if local.exists() {
        local.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(data::SHIPPED_MNIST)
    }
}

impl ReproduceArgs {
    fn into_config(self) -> Result<ReproduceConfig> {
        let defaults = ReproduceConfig::default();
        let colors =
            colors(&self.colors)?.unwrap_or_else(|| plant::default_colors(self.classes.len()));
        let config = ReproduceConfig {
            data: self.data.unwrap_or_else(shipped_data),
            transpose: transpose(self.transpose),
            classes: self.classes,
            colors,
            dims: self.dims,
            trials: self.trials,
            k: parse_k(&self.k)?,
            seed: self.seed,
            probes: self.probes,
            latent: latent(self.latent),
            weight_exponent: self.weight_exponent,
            permutations: self.permutations,
            vae_guided: matches!(self.vae, VaeArg::Guided),
            paper_baseline: !self.no_paper_baseline,
            vae_size: self.vae_size,
            record_timings: !self.no_timings,
            classifier: spurion::nn::classifier::TrainParams {
                epochs: self.epochs,
                ..defaults.classifier
            },
            vae: vae_params(self.vae_epochs, &defaults.vae),
            device: device(self.device),
            out: self.out,
            force: self.force,
            ..defaults
        };
        config.check()?;
        Ok(config)
    }
}

fn transpose(t: TransposeArg) -> Transpose {
    match t {
        TransposeArg::Auto => Transpose::Auto,
        TransposeArg::Yes => Transpose::Yes,
        TransposeArg::No => Transpose::No,
    }
}

fn latent(l: LatentArg) -> LatentMode {
    match l {
        LatentArg::Mean => LatentMode::Mean,
        LatentArg::Sample => LatentMode::Sample,
    }
}

/// `--vae-epochs N`: exactly N epochs; otherwise the default stopping rule.
fn vae_params(epochs: Option<usize>, default: &VaeTrainParams) -> VaeTrainParams {
    epochs.map_or_else(|| default.clone(), VaeTrainParams::fixed_epochs)
}

fn device(d: DeviceArg) -> ComputeDevice {
    match d {
        DeviceArg::Cpu => ComputeDevice::Cpu,
        DeviceArg::Cuda => ComputeDevice::Cuda,
    }
}

fn colors(names: &Option<Vec<String>>) -> Result<Option<Vec<[f32; 3]>>> {
    names
        .as_ref()
        .map(|n| n.iter().map(|c| plant::parse_color(c)).collect())
        .transpose()
}

fn progress(quiet: bool) -> Progress {
    if quiet {
        Progress::hidden()
    } else {
        Progress::stderr()
    }
}

/// Parses `--k`: `auto` or a count.
fn parse_k(s: &str) -> Result<ClusterCount> {
    if s == "auto" {
        return Ok(ClusterCount::Auto {
            max: ClusterCount::AUTO_MAX,
        });
    }
    s.parse::<usize>()
        .map(ClusterCount::Fixed)
        .map_err(|_| Error::param("k", format!("'{s}': expected 'auto' or a positive integer")))
}

/// Parses `HxW` or `N`.
fn parse_size(s: &str) -> Result<[usize; 2]> {
    let bad = || {
        Error::param(
            "input-size",
            format!("'{s}': expected HxW (e.g. 224x224) or N"),
        )
    };
    let parts: Vec<&str> = s.split(['x', 'X']).collect();
    let nums: Vec<usize> = parts
        .iter()
        .map(|p| p.trim().parse::<usize>().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    match nums.as_slice() {
        [n] => Ok([*n, *n]),
        [h, w] => Ok([*h, *w]),
        _ => Err(bad()),
    }
}

impl TrainArgs {
    fn into_config(self) -> Result<TrainConfig> {
        let config = TrainConfig {
            colors: colors(&self.colors)?,
            data: self.data,
            transpose: transpose(self.transpose),
            classes: self.classes,
            size: self.size,
            plant: match self.plant {
                PlantArg::Color => plant::Plant::Color,
                PlantArg::Patch => plant::Plant::Patch,
                PlantArg::None => plant::Plant::None,
            },
            train: spurion::nn::classifier::TrainParams {
                epochs: self.epochs,
                batch_size: self.batch_size,
                learning_rate: self.lr,
            },
            seed: self.seed,
            device: device(self.device),
            out: self.out,
            force: self.force,
        };
        config.check()?;
        Ok(config)
    }
}

impl AuditArgs {
    fn into_config(self) -> Result<AuditConfig> {
        let defaults = AuditConfig::default();
        let from_file = match &self.preprocess {
            Some(p) => OnnxSettings::from_toml(p)?,
            None => OnnxSettings::default(),
        };
        let flags = OnnxSettings {
            size: self.input_size.as_deref().map(parse_size).transpose()?,
            channels: self.channels.map(|c| match c {
                ChannelsArg::Rgb => Channels::Rgb,
                ChannelsArg::Bgr => Channels::Bgr,
                ChannelsArg::Gray => Channels::Gray,
            }),
            layout: self.layout.map(|l| match l {
                LayoutArg::Nchw => Layout::Nchw,
                LayoutArg::Nhwc => Layout::Nhwc,
            }),
            mean: self.mean,
            std: self.std,
            range: self.range,
            output: self.output.map(|o| match o {
                OutputArg::Logits => OutputKind::Logits,
                OutputArg::Sigmoid => OutputKind::Sigmoid,
                OutputArg::Softmax => OutputKind::Softmax,
            }),
            output_name: self.output_name,
            labels: self.labels,
        };
        let probes = match ProbeFamily::ALL.iter().find(|f| f.name() == self.probes) {
            Some(f) => ProbeChoice::Family(*f),
            None => {
                let p = PathBuf::from(&self.probes);
                if !p.is_dir() {
                    return Err(Error::param(
                        "probes",
                        format!(
                            "'{}' is neither a probe family ({}) nor a folder",
                            self.probes,
                            ProbeFamily::ALL.map(|f| f.name()).join(", ")
                        ),
                    ));
                }
                ProbeChoice::Folder(p)
            }
        };
        let config = AuditConfig {
            model: self.model,
            onnx: flags.over(from_file),
            probes,
            probes_count: self.probes_count,
            latent_dim: self.latent_dim,
            k: parse_k(&self.k)?,
            seed: self.seed,
            latent: latent(self.latent),
            weight_exponent: self.weight_exponent,
            vae: vae_params(self.vae_epochs, &defaults.vae),
            batch_size: self.batch_size,
            permutations: self.permutations,
            holdout: self.holdout,
            preprocess: self.preprocess,
            vae_guided: matches!(self.vae, VaeArg::Guided),
            record_timings: !self.no_timings,
            device: device(self.device),
            out: self.out,
            force: self.force,
            ..defaults
        };
        config.check()?;
        Ok(config)
    }
}

/// Warnings on stderr, one line each (best effort: a closed stderr is ignored).
fn warn(lines: &[String]) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    for l in lines {
        let _ = writeln!(err, "spurion: warning: {l}");
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    match cli.command {
        Command::Bench(args) => {
            let config = spurion::bench::BenchConfig {
                repeats: args.repeats,
                full: args.full,
                reproduce: ReproduceConfig {
                    data: shipped_data(),
                    ..ReproduceConfig::default()
                },
            };
            let rows = spurion::bench::run(&config, &progress(args.quiet))?;
            let _ = writeln!(
                out,
                "spurion bench: {} cores available, backend thread pool {}",
                std::thread::available_parallelism().map_or(1, |n| n.get()),
                spurion::bench::backend_threads()
            );
            let _ = write!(out, "{}", spurion::bench::format_rows(&rows));
            Ok(out)
        }
        Command::Train(args) => {
            let quiet = args.quiet;
            let config = args.into_config()?;
            let s = train::run(&config, &progress(quiet))?;
            warn(&s.warnings);
            let _ = writeln!(
                out,
                "Trained on {} images ({} classes: {}), planted: {:?}",
                s.train_images,
                s.class_names.len(),
                s.class_names.join(", "),
                s.plant
            );
            let _ = writeln!(out, "Validation accuracy ({} images):", s.validation_images);
            let _ = writeln!(
                out,
                "  as trained (shortcut planted)   {:.1}%",
                100.0 * s.planted_accuracy
            );
            let _ = writeln!(
                out,
                "  clean (nothing planted)         {:.1}%",
                100.0 * s.clean_accuracy
            );
            if let Some(sw) = s.swapped_accuracy {
                let _ = writeln!(
                    out,
                    "  shortcuts swapped between classes {:.1}%",
                    100.0 * sw
                );
            }
            let _ = writeln!(out, "Model: {}", config.out.display());
            Ok(out)
        }
        Command::Audit(args) => {
            let quiet = args.quiet;
            let config = args.into_config()?;
            let r = audit::run(&config, &progress(quiet))?;
            warn(&r.warnings);
            let _ = writeln!(
                out,
                "spurion audit: {} ({} classes), {}",
                r.model.path,
                r.class_names.len(),
                r.probes
            );
            let _ = writeln!(out, "{}", r.model.probability);
            for cl in &r.run.clusters {
                let _ = writeln!(
                    out,
                    "  class {:<12} cluster {}  {:>6} probes  mean p {:>6}  share of p^{} weight {:>6.1}%",
                    cl.class_name,
                    cl.index + 1,
                    cl.size,
                    cl.mean_probability
                        .map(|p| format!("{:.1}%", 100.0 * p))
                        .unwrap_or_else(|| "empty".into()),
                    config.weight_exponent,
                    100.0 * cl.weight_share
                );
            }
            let _ = writeln!(
                out,
                "ACP {:.1}% (chance {:.1}%, ceiling {:.1}%)",
                100.0 * r.run.acp,
                100.0 * r.run.chance,
                100.0 * r.run.ceiling
            );
            let _ = writeln!(out, "Report: {}", config.out.join("report.html").display());
            Ok(out)
        }
        Command::Reproduce(args) => {
            let quiet = args.quiet;
            let config = args.into_config()?;
            let results = reproduce::run(&config, &progress(quiet))?;
            let _ = write!(out, "{}", spurion::report::format_table(&results));
            let _ = writeln!(
                out,
                "Results: {}",
                config.out.join("results.json").display()
            );
            Ok(out)
        }
    }
}
