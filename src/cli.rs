//! Raw command-line arguments (clap) and their conversion into the library's validated
//! settings.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use spurion::Result;
use spurion::data::{self, idx::Transpose, plant};
use spurion::nn::ComputeDevice;
use spurion::nn::vae::LatentMode;
use spurion::progress::Progress;
use spurion::reproduce::{self, ReproduceConfig};

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
enum DeviceArg {
    Cpu,
    Cuda,
}

#[derive(Args, Debug)]
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
    /// Clusters per class.
    #[arg(long, default_value_t = 1)]
    k: usize,
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
    /// VAE training epochs.
    #[arg(long)]
    vae_epochs: Option<usize>,
    /// Output folder (results.json).
    #[arg(long, default_value = "spurion-out")]
    out: PathBuf,
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
        let colors = match &self.colors {
            Some(names) => names
                .iter()
                .map(|n| plant::parse_color(n))
                .collect::<Result<Vec<_>>>()?,
            None => plant::default_colors(self.classes.len()),
        };
        let config = ReproduceConfig {
            data: self.data.unwrap_or_else(shipped_data),
            transpose: match self.transpose {
                TransposeArg::Auto => Transpose::Auto,
                TransposeArg::Yes => Transpose::Yes,
                TransposeArg::No => Transpose::No,
            },
            classes: self.classes,
            colors,
            dims: self.dims,
            trials: self.trials,
            k: self.k,
            seed: self.seed,
            probes: self.probes,
            latent: match self.latent {
                LatentArg::Mean => LatentMode::Mean,
                LatentArg::Sample => LatentMode::Sample,
            },
            weight_exponent: self.weight_exponent,
            classifier: spurion::nn::classifier::TrainParams {
                epochs: self.epochs,
                ..defaults.classifier
            },
            vae: spurion::nn::vae::VaeTrainParams {
                epochs: self.vae_epochs.unwrap_or(defaults.vae.epochs),
                ..defaults.vae
            },
            device: match self.device {
                DeviceArg::Cpu => ComputeDevice::Cpu,
                DeviceArg::Cuda => ComputeDevice::Cuda,
            },
            out: self.out,
            ..defaults
        };
        config.check()?;
        Ok(config)
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Reproduce(args) => {
            let quiet = args.quiet;
            let config = args.into_config()?;
            let progress = if quiet {
                Progress::hidden()
            } else {
                Progress::stderr()
            };
            let results = reproduce::run(&config, &progress)?;
            print!("{}", spurion::report::format_table(&results));
            println!("Results: {}", config.out.join("results.json").display());
            Ok(())
        }
    }
}
