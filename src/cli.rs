//! Raw command-line arguments (clap) and their conversion into the library's validated
//! settings. The flags' values are the library's own types (their `ValueEnum` and `FromStr`
//! impls) and their defaults come from the library's `Default` impls; flags every command
//! shares are flattened in from one struct each.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use spurion::config::{TrainParams, parse_size};
use spurion::data::{self, idx::Transpose, plant};
use spurion::method::VaeKind;
use spurion::method::causal::CausalSettings;
use spurion::method::latent::VaeTrainParams;
use spurion::model::runtime::{OnnxRuntime, RuntimeKind};
use spurion::model::{Channels, Layout, OnnxSettings, OutputKind};
use spurion::probes::ProbeFamily;
use spurion::report::terminal;
use spurion::{
    AuditConfig, ClusterCount, ComputeDevice, LatentMode, MethodSettings, ProbeChoice, Progress,
    ReproduceConfig, Result, TrainConfig,
};

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
    /// Plant shortcuts with known answers, audit the models four ways (the paper's method,
    /// spurion's, probabilities as latent, the most probable probes), and score the findings:
    /// the method's report card.
    Benchmark(BenchmarkArgs),
    /// Write a probe set as images with a manifest, to score with a model that runs elsewhere
    /// (then `spurion audit --probes DIR --scores FILE`).
    Probes(ProbesArgs),
}

#[derive(Args, Debug)]
struct ProbesArgs {
    /// Probe family: solid, patch, gratings, noise, frame, glyph or mixed.
    #[arg(long, value_parser = parsed(str::parse::<ProbeFamily>))]
    family: ProbeFamily,
    /// Number of probes.
    #[arg(long, default_value_t = spurion::config::DEFAULT_PROBES)]
    count: usize,
    /// Image size, HxW or N: the classifier's input size.
    #[arg(allow_hyphen_values = true, long, value_name = "HxW", value_parser = parsed(parse_size))]
    size: [usize; 2],
    /// Seed of the probe set (the same set `audit --probes FAMILY --seed S` generates).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder [default: spurion-probes].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace --out even if spurion did not write it (never an input).
    #[arg(long)]
    force: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct BenchmarkArgs {
    /// Four cases (a colour, a corner mark, two colours in one class, a clean model): a few
    /// minutes.
    #[arg(long)]
    quick: bool,
    /// Only the cases whose name contains this text (e.g. corner-mark, 95%, seed-101).
    #[arg(long, value_name = "TEXT")]
    only: Option<String>,
    /// The tuning seeds (cases from seed 0), on which settings are chosen, instead of the
    /// evaluation seeds (from 100).
    #[arg(long)]
    tuning: bool,
    /// One probe family for every case (e.g. mixed) instead of the family each kind of
    /// shortcut is audited with.
    #[arg(long, value_name = "FAMILY", value_parser = parsed(str::parse::<ProbeFamily>))]
    probes: Option<ProbeFamily>,
    /// Clusters per class of spurion's audits and of probabilities as latent (a number, tested
    /// or auto) instead of the audit's default (tested); the paper's method keeps one.
    #[arg(long, value_parser = parsed(str::parse::<ClusterCount>))]
    k: Option<ClusterCount>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    out: OutArgs,
}

/// A value parser from a library parser: clap adds the flag's name, so only the detail of the
/// library's error is kept.
fn parsed<T: 'static>(
    parse: fn(&str) -> Result<T>,
) -> impl Fn(&str) -> std::result::Result<T, String> + Clone + Send + Sync + 'static {
    move |s| parse(s).map_err(|e| e.detail())
}

fn reproduce_defaults() -> ReproduceConfig {
    ReproduceConfig::default()
}

fn audit_defaults() -> AuditConfig {
    AuditConfig::default()
}

fn train_defaults() -> TrainConfig {
    TrainConfig::default()
}

/// Flags of every command that runs.
#[derive(Args, Debug)]
struct RunArgs {
    /// Seed for every random choice: the same seed on the same machine gives the same results.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where networks run.
    #[arg(long, value_enum, default_value_t = ComputeDevice::Cpu)]
    device: ComputeDevice,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

impl RunArgs {
    fn progress(&self) -> Progress {
        Progress::unless_quiet(self.quiet)
    }
}

/// Where output goes.
#[derive(Args, Debug)]
struct OutArgs {
    /// Output folder [default: spurion-out for reproduce, spurion-audit for audit,
    /// spurion-model for train, spurion-benchmark for benchmark].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace --out even if spurion did not write it (never an input).
    #[arg(long)]
    force: bool,
}

/// How step 4 clusters and tests (reproduce and audit).
#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct MethodArgs {
    /// Clusters per class: a number (the paper: 1); tested: one, and three for a class whose
    /// one cluster passes both tests, kept where one of them passes; auto: chosen per class
    /// by held-out ACP [default: 1 for reproduce, tested for audit].
    #[arg(long, value_parser = parsed(str::parse::<ClusterCount>))]
    k: Option<ClusterCount>,
    /// Latents used for clustering.
    #[arg(long, value_enum, default_value_t = MethodSettings::default().latent)]
    latent: LatentMode,
    /// Probes weigh p_c(x)^E in class c's k-means.
    #[arg(allow_hyphen_values = true, long, default_value_t = MethodSettings::default().weight_exponent, value_name = "E")]
    weight_exponent: f64,
    /// k-means restarts per class (the best is kept).
    #[arg(long, default_value_t = MethodSettings::default().kmeans_restarts)]
    kmeans_restarts: usize,
    /// Permutations of each cluster's significance test (0: skip it).
    #[arg(long, default_value_t = MethodSettings::default().permutations)]
    permutations: usize,
    /// Leave wall-clock timings out of results.json, so that two runs with the same seed
    /// write byte-identical files.
    #[arg(long)]
    no_timings: bool,
    /// Random probes in each causal test's null (at least 20).
    #[arg(long, default_value_t = CausalSettings::default().null_probes)]
    null_probes: usize,
    /// Most held-out real images each causal test uses.
    #[arg(long, default_value_t = CausalSettings::default().images)]
    causal_images: usize,
}

impl MethodArgs {
    fn causal(&self) -> CausalSettings {
        CausalSettings {
            null_probes: self.null_probes,
            images: self.causal_images,
            ..CausalSettings::default()
        }
    }

    /// The settings, `default` filling what the flags leave open.
    fn settings(&self, default: &MethodSettings) -> MethodSettings {
        MethodSettings {
            k: self.k.unwrap_or(default.k),
            latent: self.latent,
            weight_exponent: self.weight_exponent,
            kmeans_restarts: self.kmeans_restarts,
            permutations: self.permutations,
        }
    }
}

/// The VAE of step 2 (reproduce and audit).
#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct VaeArgs {
    /// VAE: plain (the paper's), or also guided by the classifier's probabilities.
    #[arg(long = "vae", value_enum, default_value_t = VaeKind::default())]
    kind: VaeKind,
    /// Train the VAE exactly N epochs (default: until its held-out ELBO stops improving).
    #[arg(long, value_name = "N")]
    vae_epochs: Option<usize>,
    /// The VAE sees probes as SxS thumbnails [default: 8 for reproduce, 16 for audit].
    #[arg(long, value_name = "S")]
    vae_size: Option<usize>,
    /// Units in each hidden layer of the VAE.
    #[arg(long, default_value_t = reproduce_defaults().vae.hidden)]
    vae_hidden: usize,
    /// The VAE's learning rate.
    #[arg(allow_hyphen_values = true, long, default_value_t = VaeTrainParams::default().learning_rate)]
    vae_lr: f64,
    /// Probes per VAE training batch.
    #[arg(long, default_value_t = VaeTrainParams::default().batch_size)]
    vae_batch_size: usize,
}

impl VaeArgs {
    /// The VAE's settings, `default` filling what the flags leave open.
    fn settings(&self, default: &spurion::method::VaeSettings) -> spurion::method::VaeSettings {
        let base = self
            .vae_epochs
            .map_or_else(|| default.training.clone(), VaeTrainParams::fixed_epochs);
        spurion::method::VaeSettings {
            kind: self.kind,
            size: self.vae_size.unwrap_or(default.size),
            hidden: self.vae_hidden,
            training: VaeTrainParams {
                learning_rate: self.vae_lr,
                batch_size: self.vae_batch_size,
                ..base
            },
        }
    }
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct ReproduceArgs {
    /// IDX data: a folder holding an images/labels pair, or the image file itself.
    /// Default: the MNIST sample shipped in data/mnist-10k.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// Whether images are stored transposed (EMNIST); auto = when the file name says emnist.
    #[arg(long, value_enum, default_value_t = Transpose::Auto)]
    transpose: Transpose,
    /// Digit labels to use, in class order.
    #[arg(long, value_delimiter = ',', default_values_t = reproduce_defaults().classes)]
    classes: Vec<u8>,
    /// Stroke colour per class: names (green, blue, red, ...) or #rrggbb.
    /// Default: green, blue, then the palette.
    #[arg(long, value_delimiter = ',', value_parser = parsed(plant::parse_color))]
    colors: Option<Vec<[f32; 3]>>,
    /// VAE latent dimensions to sweep.
    #[arg(long, value_delimiter = ',', default_values_t = reproduce_defaults().dims)]
    dims: Vec<usize>,
    /// Independent trials (classifier, probes and VAEs retrained each time).
    #[arg(long, default_value_t = reproduce_defaults().trials)]
    trials: usize,
    /// Solid-colour probes per trial.
    #[arg(long, default_value_t = reproduce_defaults().probes)]
    probes: usize,
    /// Classifier training epochs.
    #[arg(long, default_value_t = reproduce_defaults().classifier.epochs)]
    epochs: usize,
    /// Classifier training batch size.
    #[arg(long, default_value_t = reproduce_defaults().classifier.batch_size)]
    batch_size: usize,
    /// Classifier learning rate.
    #[arg(allow_hyphen_values = true, long, default_value_t = reproduce_defaults().classifier.learning_rate)]
    lr: f64,
    /// Images per inference batch.
    #[arg(long, default_value_t = reproduce_defaults().batch_size)]
    inference_batch_size: usize,
    /// Skip the paper's whole method (plain VAE, sampled latents, k = 1, p^2) that otherwise
    /// runs beside spurion's for comparison.
    #[arg(long)]
    no_paper_baseline: bool,
    #[command(flatten)]
    method: MethodArgs,
    #[command(flatten)]
    vae: VaeArgs,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct TrainArgs {
    /// IDX folder or image file, or an ImageFolder root (root/class_name/*.png|jpg).
    #[arg(long, value_name = "PATH")]
    data: PathBuf,
    /// Shortcut to plant.
    #[arg(long, value_enum, default_value_t = train_defaults().plant)]
    plant: plant::Plant,
    /// IDX labels to keep, in class order (default: all).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<u8>>,
    /// Resize images to SIZE x SIZE (default: IDX images keep their size, image folders 32).
    #[arg(long)]
    size: Option<usize>,
    /// Colour per class for the planted shortcut: names or #rrggbb (default: green, blue, red, ...).
    #[arg(long, value_delimiter = ',', value_parser = parsed(plant::parse_color))]
    colors: Option<Vec<[f32; 3]>>,
    /// Whether IDX images are stored transposed (EMNIST).
    #[arg(long, value_enum, default_value_t = Transpose::Auto)]
    transpose: Transpose,
    /// Training epochs.
    #[arg(long, default_value_t = train_defaults().train.epochs)]
    epochs: usize,
    /// Training batch size.
    #[arg(long, default_value_t = train_defaults().train.batch_size)]
    batch_size: usize,
    /// Learning rate.
    #[arg(allow_hyphen_values = true, long, default_value_t = train_defaults().train.learning_rate)]
    lr: f64,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct AuditArgs {
    /// The classifier: a spurion model folder (from `spurion train`) or an .onnx file.
    #[arg(long, value_name = "PATH", required_unless_present = "scores")]
    model: Option<PathBuf>,
    /// Instead of a model: the probabilities of the probe folder given as --probes (written
    /// by `spurion probes`), as CSV (id, then one column per class) or .npy (N x C, in
    /// manifest order). No causal test is possible without a model.
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    scores: Option<PathBuf>,
    /// Probe sets, each run in turn: solid, patch, gratings, noise, frame, glyph, mixed, or a
    /// folder of images
    /// (comma-separated, e.g. solid,patch,noise).
    #[arg(long, value_name = "SPEC", value_delimiter = ',', default_value = "solid", value_parser = parsed(str::parse::<ProbeChoice>))]
    probes: Vec<ProbeChoice>,
    /// Number of generated probes (default 10000); for a folder, the most images used.
    #[arg(long)]
    probes_count: Option<usize>,
    /// VAE latent dimension.
    #[arg(long, default_value_t = audit_defaults().latent_dim)]
    latent_dim: usize,
    /// Probes per inference batch (bounds memory) [default: 512, fewer for large inputs: about
    /// 16 MiB of input per batch, 27 at 224x224].
    #[arg(long)]
    batch_size: Option<usize>,
    /// The VAE trains on at most this many probes (a seeded sample when there are more).
    #[arg(long, default_value_t = audit_defaults().vae_train_probes)]
    vae_train_probes: usize,
    /// Held-out real images for the causal check (IDX, image folder, or any images). Default
    /// for spurion models: the validation split of their training data.
    #[arg(long, value_name = "PATH")]
    holdout: Option<PathBuf>,
    /// The engine for ONNX models: ort (ONNX Runtime, from its shared library), tract (pure
    /// Rust, built in), or auto (ort when its library is found through --ort-lib or
    /// ORT_DYLIB_PATH, else tract).
    #[arg(long, value_enum, default_value_t = RuntimeKind::Auto)]
    runtime: RuntimeKind,
    /// ONNX Runtime's shared library (libonnxruntime.so.*, from `pip install onnxruntime` or
    /// onnxruntime-gpu); default: $ORT_DYLIB_PATH.
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// ONNX preprocessing and output settings from a TOML file (flags override it).
    #[arg(long, value_name = "FILE")]
    preprocess: Option<PathBuf>,
    /// ONNX input size, HxW or N (default: what the model declares).
    #[arg(allow_hyphen_values = true, long, value_name = "HxW", value_parser = parsed(parse_size))]
    input_size: Option<[usize; 2]>,
    /// ONNX input channel order.
    #[arg(long, value_enum)]
    channels: Option<Channels>,
    /// ONNX input layout (default: guessed from the model's input shape).
    #[arg(long, value_enum)]
    layout: Option<Layout>,
    /// Per-channel mean subtracted after scaling to [0, range].
    #[arg(allow_hyphen_values = true, long, value_delimiter = ',')]
    mean: Option<Vec<f32>>,
    /// Per-channel standard deviation.
    #[arg(allow_hyphen_values = true, long, value_delimiter = ',')]
    std: Option<Vec<f32>>,
    /// Pixel value range before mean/std: 1 or 255.
    #[arg(allow_hyphen_values = true, long)]
    range: Option<f32>,
    /// What the ONNX model outputs (default: logits).
    #[arg(long, value_enum)]
    output: Option<OutputKind>,
    /// The ONNX output holding the class scores, for a model with several outputs.
    #[arg(long, value_name = "NAME")]
    output_name: Option<String>,
    /// Class names, one per line (default: model metadata, else indices).
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    #[command(flatten)]
    method: MethodArgs,
    #[command(flatten)]
    vae: VaeArgs,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Also time the whole default `reproduce` sweep.
    #[arg(long)]
    full: bool,
    /// Runs per stage (1-100); the best is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    repeats: u64,
    /// Instead of the stages: probes/s of these ONNX models on tract and ONNX Runtime.
    #[arg(long, value_name = "MODEL")]
    onnx: Vec<PathBuf>,
    /// Probes per batch for --onnx (1-4096).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=4096))]
    onnx_batch: u64,
    /// ONNX Runtime's shared library for --onnx (default: $ORT_DYLIB_PATH).
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// No progress output.
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

/// Where Debian's dataset-fashion-mnist puts Fashion-MNIST.
const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

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
        let colors = self
            .colors
            .unwrap_or_else(|| plant::default_colors(self.classes.len()));
        let config = ReproduceConfig {
            data: self.data.unwrap_or_else(shipped_data),
            transpose: self.transpose,
            classes: self.classes,
            colors,
            dims: self.dims,
            trials: self.trials,
            seed: self.run.seed,
            probes: self.probes,
            method: self.method.settings(&defaults.method),
            causal: self.method.causal(),
            classifier: TrainParams {
                epochs: self.epochs,
                batch_size: self.batch_size,
                learning_rate: self.lr,
            },
            vae: self.vae.settings(&defaults.vae),
            paper_baseline: !self.no_paper_baseline,
            batch_size: self.inference_batch_size,
            record_timings: !self.method.no_timings,
            device: self.run.device,
            out: self.out.out.unwrap_or(defaults.out),
            force: self.out.force,
            threads: defaults.threads,
        };
        config.check()?;
        Ok(config)
    }
}

impl TrainArgs {
    fn into_config(self) -> Result<TrainConfig> {
        let config = TrainConfig {
            data: self.data,
            transpose: self.transpose,
            classes: self.classes,
            size: self.size,
            plant: self.plant,
            colors: self.colors,
            train: TrainParams {
                epochs: self.epochs,
                batch_size: self.batch_size,
                learning_rate: self.lr,
            },
            seed: self.run.seed,
            device: self.run.device,
            out: self.out.out.unwrap_or_else(|| train_defaults().out),
            force: self.out.force,
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
            size: self.input_size,
            channels: self.channels,
            layout: self.layout,
            mean: self.mean,
            std: self.std,
            range: self.range,
            output: self.output,
            output_name: self.output_name,
            labels: self.labels,
        };
        let config = AuditConfig {
            model: self.model.unwrap_or_default(),
            scores: self.scores,
            onnx: flags.over(from_file),
            runtime: OnnxRuntime {
                kind: self.runtime,
                ort_lib: self.ort_lib,
            },
            preprocess: self.preprocess,
            probes: self.probes,
            probes_count: self.probes_count,
            latent_dim: self.latent_dim,
            seed: self.run.seed,
            method: self.method.settings(&defaults.method),
            causal: self.method.causal(),
            representation: defaults.representation,
            vae: self.vae.settings(&defaults.vae),
            vae_train_probes: self.vae_train_probes,
            batch_size: self.batch_size,
            holdout: self.holdout,
            record_timings: !self.method.no_timings,
            device: self.run.device,
            out: self.out.out.unwrap_or(defaults.out),
            force: self.out.force,
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

/// Runs a parsed command; returns what it prints on stdout.
pub fn run(cli: Cli) -> Result<String> {
    match cli.command {
        Command::Bench(args) => {
            let config = spurion::bench::BenchConfig {
                repeats: args.repeats as usize,
                full: args.full,
                reproduce: ReproduceConfig {
                    data: shipped_data(),
                    ..ReproduceConfig::default()
                },
                onnx: args.onnx,
                onnx_batch: args.onnx_batch as usize,
                ort_lib: args.ort_lib,
            };
            let progress = Progress::unless_quiet(args.quiet);
            let rows = spurion::bench::run(&config, &progress)?;
            Ok(format!(
                "spurion bench: {} cores available, backend thread pool {}\n{}",
                std::thread::available_parallelism().map_or(1, |n| n.get()),
                spurion::bench::backend_threads(),
                spurion::bench::format_rows(&rows)
            ))
        }
        Command::Benchmark(args) => {
            let progress = args.run.progress();
            let config = spurion::benchmark::BenchmarkConfig {
                quick: args.quick,
                only: args.only,
                tuning: args.tuning,
                probes: args.probes,
                k: args.k,
                data: shipped_data(),
                fashion: Some(PathBuf::from(FASHION_MNIST)).filter(|p| p.exists()),
                seed: args.run.seed,
                device: args.run.device,
                out: args
                    .out
                    .out
                    .unwrap_or_else(|| PathBuf::from("spurion-benchmark")),
                force: args.out.force,
            };
            config.check()?;
            let r = spurion::benchmark::run(&config, &progress)?;
            Ok(format!(
                "{}Results: {}\n",
                spurion::benchmark::format_table(&r),
                config.out.join("benchmark.json").display()
            ))
        }
        Command::Probes(args) => {
            let config = spurion::scores::ProbesConfig {
                family: args.family,
                count: args.count,
                size: args.size,
                seed: args.seed,
                out: args.out.unwrap_or_else(|| PathBuf::from("spurion-probes")),
                force: args.force,
            };
            let progress = Progress::unless_quiet(args.quiet);
            let entries = spurion::scores::write_probes(&config, &progress)?;
            Ok(format!(
                "Wrote {} '{}' probes ({}x{}) and {} to {}\n",
                entries.len(),
                config.family.name(),
                config.size[0],
                config.size[1],
                spurion::probes::MANIFEST,
                config.out.display()
            ))
        }
        Command::Train(args) => {
            let progress = args.run.progress();
            let config = args.into_config()?;
            let s = spurion::train::run(&config, &progress)?;
            warn(&s.warnings);
            Ok(terminal::train(&s, &config.out.display().to_string()))
        }
        Command::Audit(args) => {
            let progress = args.run.progress();
            let config = args.into_config()?;
            let r = spurion::audit::run(&config, &progress)?;
            warn(&r.warnings);
            Ok(terminal::audit(
                &r,
                &config.out.join("report.html").display().to_string(),
            ))
        }
        Command::Reproduce(args) => {
            let progress = args.run.progress();
            let config = args.into_config()?;
            let results = spurion::reproduce::run(&config, &progress)?;
            Ok(format!(
                "{}Results: {}\n",
                terminal::reproduce(&results),
                config.out.join("results.json").display()
            ))
        }
    }
}
