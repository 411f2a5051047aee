//! The validated settings of each command, with their defaults in one place: the command line
//! reads its defaults from these `Default` impls, and each `check` names the flag a bad value
//! came from.

use std::path::PathBuf;
use std::str::FromStr;

use crate::check::{self, positive};
use crate::data::{self, idx::Transpose, plant};
use crate::error::{Error, Result};
use crate::method::causal::CausalSettings;
use crate::method::{ClusterCount, ShortcutSearch, VaeKind, VaeSettings};
use crate::model::OnnxSettings;
use crate::model::runtime::OnnxRuntime;
use crate::nn::ComputeDevice;
pub use crate::nn::classifier::TrainParams;
use crate::nn::vae::{LatentMode, VaeTrainParams};
use crate::output::OutputTarget;
use crate::probes::ProbeFamily;

/// How step 4 clusters and tests, shared by `reproduce` and `audit`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MethodSettings {
    /// Clusters per class: a number, or chosen per class by held-out evidence (`tested`, the
    /// audit's default) or held-out ACP (`auto`).
    pub k: ClusterCount,
    /// Which latents are clustered.
    pub latent: LatentMode,
    /// Probes weigh `p_c(x)^weight_exponent` in class c's k-means.
    pub weight_exponent: f64,
    pub kmeans_restarts: usize,
    /// Permutations of each cluster's significance test (0: none).
    pub permutations: usize,
}

impl Default for MethodSettings {
    fn default() -> Self {
        MethodSettings {
            k: ClusterCount::Tested {
                max: ClusterCount::TESTED_MAX,
            },
            latent: LatentMode::Mean,
            weight_exponent: 2.0,
            kmeans_restarts: 10,
            permutations: 1000,
        }
    }
}

/// The causal test's settings: enough random probes for a 95th percentile, some images.
fn check_causal(c: &CausalSettings) -> Result<()> {
    if c.null_probes < 20 {
        return Err(Error::param(
            "null-probes",
            format!(
                "expected at least 20 (a 95th percentile needs them), got {}",
                c.null_probes
            ),
        ));
    }
    check::at_most("null-probes", c.null_probes, 100_000)?;
    positive("causal-images", c.images)?;
    check::at_most("causal-images", c.images, 100_000)
}

impl MethodSettings {
    /// The checked search for these settings.
    pub fn search(&self) -> Result<ShortcutSearch> {
        ShortcutSearch::params()
            .clusters(self.k)
            .weight_exponent(self.weight_exponent)
            .restarts(self.kmeans_restarts)
            .check()
    }

    /// Checks every setting against `probes` probes.
    pub fn check(&self, probes: usize) -> Result<()> {
        self.search()?;
        self.k.check(probes)?;
        check::at_most("permutations", self.permutations, check::MAX_PERMUTATIONS)
    }
}

/// The VAE's settings: sizes positive, training settings usable.
fn check_vae(v: &VaeSettings) -> Result<()> {
    positive("vae-size", v.size)?;
    positive("vae-hidden", v.hidden)?;
    check::vae(&v.training)
}

/// Validated settings of `spurion reproduce`. Field names match the command-line flags.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReproduceConfig {
    /// IDX folder or image file.
    pub data: PathBuf,
    pub transpose: Transpose,
    /// Digit labels to keep, in class order.
    pub classes: Vec<u8>,
    /// Stroke colour of each class.
    pub colors: Vec<[f32; 3]>,
    /// Latent dimensions to sweep.
    pub dims: Vec<usize>,
    pub trials: usize,
    pub seed: u64,
    /// Number of solid-colour probes per trial.
    pub probes: usize,
    pub method: MethodSettings,
    /// The causal test of each cluster on held-out digits.
    pub causal: CausalSettings,
    /// The classifier's training.
    pub classifier: TrainParams,
    pub vae: VaeSettings,
    /// Also run the paper's whole method (a plain VAE, sampled latents, k = 1, p^2) on the
    /// same probes, for comparison.
    pub paper_baseline: bool,
    /// Images per inference batch.
    pub batch_size: usize,
    /// Write wall-clock timings into results.json (they are all that differs between two runs
    /// with the same seed; leave them out for byte-identical files).
    pub record_timings: bool,
    /// Trials run at the same time (default: the machine's cores). Results do not depend on it.
    #[serde(skip)]
    pub threads: usize,
    pub device: ComputeDevice,
    /// Output folder.
    pub out: PathBuf,
    /// Replace `out` even when spurion did not write it (never an input).
    #[serde(default)]
    pub force: bool,
}

impl Default for ReproduceConfig {
    fn default() -> Self {
        ReproduceConfig {
            data: PathBuf::from(data::SHIPPED_MNIST),
            transpose: Transpose::Auto,
            classes: vec![0, 1],
            colors: plant::default_colors(2),
            dims: vec![2, 3, 5, 10],
            trials: 5,
            seed: 0,
            probes: 10_000,
            // The paper's one cluster per class: the experiment of its Table 1.
            method: MethodSettings {
                k: ClusterCount::Fixed(1),
                ..MethodSettings::default()
            },
            causal: CausalSettings::default(),
            classifier: TrainParams {
                epochs: 1,
                batch_size: 32,
                learning_rate: 1e-3,
            },
            vae: VaeSettings {
                kind: VaeKind::default(),
                size: 8,
                hidden: 128,
                training: VaeTrainParams::default(),
            },
            paper_baseline: true,
            batch_size: 1024,
            record_timings: true,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            device: ComputeDevice::Cpu,
            out: PathBuf::from("spurion-out"),
            force: false,
        }
    }
}

impl ReproduceConfig {
    /// Checks every setting; the error names the flag and what it expects.
    pub fn check(&self) -> Result<()> {
        check::classes(&self.classes)?;
        if self.colors.len() != self.classes.len() {
            return Err(Error::param(
                "colors",
                format!(
                    "expected one colour per class ({}), got {}",
                    self.classes.len(),
                    self.colors.len()
                ),
            ));
        }
        if self.dims.is_empty() {
            return Err(Error::param(
                "dims",
                "expected at least one latent dimension",
            ));
        }
        if self.dims.contains(&0) {
            return Err(Error::param(
                "dims",
                "latent dimensions must be at least 1, got 0",
            ));
        }
        let mut distinct = self.dims.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != self.dims.len() {
            return Err(Error::param(
                "dims",
                "each latent dimension must appear once",
            ));
        }
        positive("probes", self.probes)?;
        if self.probes < 2 {
            return Err(Error::param(
                "probes",
                "expected at least 2: half fit the VAE and the clusters, half are held out",
            ));
        }
        positive("trials", self.trials)?;
        check::at_most("trials", self.trials, check::MAX_TRIALS)?;
        self.method.check(self.probes / 2)?;
        check_causal(&self.causal)?;
        check::classifier(&self.classifier)?;
        check_vae(&self.vae)?;
        positive("inference-batch-size", self.batch_size)?;
        self.device.device()?;
        self.output().check()
    }

    /// Where the report goes, and the input it must not replace.
    pub fn output(&self) -> OutputTarget {
        data_input(OutputTarget::new(&self.out, self.force), "data", &self.data)
    }
}

/// `path` as an input of `t`, with both files of the IDX pair it names (an image file's
/// label file sits beside it and is read too).
fn data_input(t: OutputTarget, flag: &'static str, path: &std::path::Path) -> OutputTarget {
    let t = t.input(flag, path);
    match data::idx::locate_pair(path) {
        Ok((images, labels)) => t.input(flag, &images).input(flag, &labels),
        Err(_) => t,
    }
}

/// What an audit clusters the probes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Representation {
    /// The latent space of a VAE trained on the probes (the method).
    #[default]
    Vae,
    /// The classifier's probabilities as the latent space: a baseline that needs no VAE and
    /// scores ACP at its ceiling, whatever the probes look like.
    ProbabilitiesAsLatent,
    /// No VAE and no clustering: each class's most probable probes (a baseline; see
    /// [`ShortcutSearch::most_probable`]).
    TopProbes,
}

/// Which probes an audit uses.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeChoice {
    Family(ProbeFamily),
    Folder(PathBuf),
}

impl ProbeChoice {
    /// Probe choices from `specs`, each a name or folder or a comma-separated list of them
    /// (`solid,patch`), as `--probes` reads them.
    pub fn parse_list<S: AsRef<str>>(specs: &[S]) -> Result<Vec<ProbeChoice>> {
        specs
            .iter()
            .flat_map(|s| s.as_ref().split(','))
            .map(|s| s.trim().parse())
            .collect()
    }

    /// The family's name, or the folder's path.
    pub fn name(&self) -> String {
        match self {
            ProbeChoice::Family(f) => f.name().to_string(),
            ProbeChoice::Folder(p) => p.display().to_string(),
        }
    }
}

/// A family name, or a folder of images.
impl FromStr for ProbeChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if let Ok(f) = s.parse::<ProbeFamily>() {
            return Ok(ProbeChoice::Family(f));
        }
        let p = PathBuf::from(s);
        if !p.is_dir() {
            return Err(Error::param(
                "probes",
                format!(
                    "'{s}' is neither a probe family ({}) nor a folder",
                    ProbeFamily::ALL.map(|f| f.name()).join(", ")
                ),
            ));
        }
        Ok(ProbeChoice::Folder(p))
    }
}

/// `HxW` or `N` (for `N x N`).
pub fn parse_size(s: &str) -> Result<[usize; 2]> {
    let bad = || {
        Error::param(
            "input-size",
            format!("'{s}': expected HxW (e.g. 224x224) or N"),
        )
    };
    let nums: Vec<usize> = s
        .split(['x', 'X'])
        .map(|p| p.trim().parse::<usize>().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    match nums.as_slice() {
        [n] => Ok([*n, *n]),
        [h, w] => Ok([*h, *w]),
        _ => Err(bad()),
    }
}

/// Validated settings of `spurion audit`. Field names match the flags.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditConfig {
    /// The classifier; empty when `scores` stands in for it.
    pub model: PathBuf,
    /// Probabilities computed elsewhere for a probe folder written by `spurion probes` (CSV or
    /// .npy), instead of a model.
    #[serde(default)]
    pub scores: Option<PathBuf>,
    /// ONNX input/output settings (ignored for spurion checkpoints).
    pub onnx: OnnxSettings,
    /// The engine that runs an ONNX model.
    #[serde(default)]
    pub runtime: OnnxRuntime,
    /// The preprocessing file `onnx` was read from, if any.
    #[serde(default)]
    pub preprocess: Option<PathBuf>,
    /// Probe families (or folders), each run in turn.
    pub probes: Vec<ProbeChoice>,
    /// Generated probes; for a folder, the most images used (None: all).
    pub probes_count: Option<usize>,
    pub latent_dim: usize,
    pub seed: u64,
    pub method: MethodSettings,
    /// The causal test of each cluster on held-out real images.
    pub causal: CausalSettings,
    /// What the probes are clustered in: a VAE's latent space, or (a baseline) the
    /// classifier's probabilities themselves.
    pub representation: Representation,
    pub vae: VaeSettings,
    /// The VAE trains on at most this many probes (a seeded sample when there are more).
    pub vae_train_probes: usize,
    /// Probes per inference batch: bounds memory for large probe sets. None: from the
    /// model's input size ([`AuditConfig::batch_for`]).
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Held-out real images for the causal check: an IDX pair, an ImageFolder or a folder of
    /// images. Default for spurion checkpoints: the validation split of their training data.
    pub holdout: Option<PathBuf>,
    /// Write wall-clock timings into results.json (leave out for byte-identical files).
    pub record_timings: bool,
    pub device: ComputeDevice,
    pub out: PathBuf,
    /// Replace `out` even when spurion did not write it (never an input).
    #[serde(default)]
    pub force: bool,
}

/// Input bytes of one inference batch when `--batch-size` is not given.
pub const AUTO_BATCH_BYTES: usize = 16 << 20;
/// The largest batch chosen from the input size.
pub const MAX_AUTO_BATCH: usize = 512;

/// Generated probes when `--probes-count` is not given.
pub const DEFAULT_PROBES: usize = 10_000;

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            model: PathBuf::new(),
            scores: None,
            onnx: OnnxSettings::default(),
            runtime: OnnxRuntime::default(),
            preprocess: None,
            probes: vec![ProbeChoice::Family(ProbeFamily::Solid)],
            probes_count: None,
            latent_dim: 3,
            seed: 0,
            method: MethodSettings::default(),
            causal: CausalSettings::default(),
            representation: Representation::Vae,
            vae: VaeSettings {
                kind: VaeKind::default(),
                size: 16,
                hidden: 128,
                training: VaeTrainParams::default(),
            },
            vae_train_probes: 20_000,
            batch_size: None,
            holdout: None,
            record_timings: true,
            device: ComputeDevice::Cpu,
            out: PathBuf::from("spurion-audit"),
            force: false,
        }
    }
}

impl AuditConfig {
    pub fn check(&self) -> Result<()> {
        self.check_settings()?;
        self.check_classifier()?;
        self.output().check()
    }

    /// [`AuditConfig::check`] for a classifier given through the library (a
    /// [`crate::ProbabilityModel`] of the caller's): every setting and the output, but no
    /// `model` path or scores file.
    pub fn check_for_library_model(&self) -> Result<()> {
        self.check_settings()?;
        self.output().check()
    }

    /// Every setting but where the probabilities come from and where the output goes.
    fn check_settings(&self) -> Result<()> {
        if self.probes.is_empty() {
            return Err(Error::param(
                "probes",
                "expected at least one probe family or folder",
            ));
        }
        for (i, p) in self.probes.iter().enumerate() {
            if self.probes[..i].contains(p) {
                return Err(Error::param(
                    "probes",
                    format!("{} is given twice", p.name()),
                ));
            }
        }
        positive("latent-dim", self.latent_dim)?;
        if let Some(n) = self.probes_count {
            positive("probes-count", n)?;
            // Probe ids are stored as u32 by the significance test.
            crate::budget::count_at_most("probes-count", n, u32::MAX as u64)?;
        }
        self.method.check(self.probes_count.unwrap_or(usize::MAX))?;
        check_vae(&self.vae)?;
        if let Some(b) = self.batch_size {
            positive("batch-size", b)?;
        }
        positive("vae-train-probes", self.vae_train_probes)?;
        self.device.device()?;
        Ok(())
    }

    /// Probes per inference batch for a model taking `[h, w]` images: `batch_size`, else as
    /// many as [`AUTO_BATCH_BYTES`] of input hold (at most [`MAX_AUTO_BATCH`]): a model's
    /// activations take several times its input, so a fixed batch of large images (512 at
    /// 224x224 peaked at 4 GiB with ResNet-50) costs far more memory than it saves time.
    pub fn batch_for(&self, [h, w]: [usize; 2]) -> usize {
        self.batch_size
            .unwrap_or_else(|| (AUTO_BATCH_BYTES / (3 * h * w * 4).max(1)).clamp(1, MAX_AUTO_BATCH))
    }

    /// A model, or scores for one probe folder (and then nothing that needs the model).
    fn check_classifier(&self) -> Result<()> {
        let Some(scores) = &self.scores else {
            if self.model.as_os_str().is_empty() {
                return Err(Error::param(
                    "model",
                    "expected a classifier (a spurion model folder or an .onnx file), or \
                     --scores FILE with the probabilities of a probe folder",
                ));
            }
            return Ok(());
        };
        let refuse = |what: &str| {
            Err(Error::param(
                "scores",
                format!("{} gives the probabilities, so {what}", scores.display()),
            ))
        };
        if !self.model.as_os_str().is_empty() {
            return refuse("--model cannot be given too");
        }
        if !matches!(self.probes[..], [ProbeChoice::Folder(_)]) {
            return refuse(
                "--probes must be the one probe folder they score (written by `spurion probes`)",
            );
        }
        if self.probes_count.is_some() {
            return refuse("--probes-count cannot pick a subset: every probe listed is used");
        }
        if self.holdout.is_some() {
            return refuse(
                "--holdout cannot be used: the causal test runs the model on real images",
            );
        }
        Ok(())
    }

    /// Where the report goes, and every input it must not replace: the model (and, for a
    /// spurion checkpoint, the data it was trained on), the probe and hold-out folders, the
    /// preprocessing and labels files.
    pub fn output(&self) -> OutputTarget {
        let mut t = OutputTarget::new(&self.out, self.force);
        if !self.model.as_os_str().is_empty() {
            t = t.input("model", &self.model);
        }
        if let Some(s) = &self.scores {
            t = t.input("scores", s);
        }
        let model_dir = if self.model.is_dir() {
            Some(self.model.as_path())
        } else {
            self.model.parent()
        };
        if let Some(data) = model_dir.and_then(crate::model::recorded_data) {
            t = data_input(t, "model", &data);
        }
        for p in &self.probes {
            if let ProbeChoice::Folder(p) = p {
                t = t.input("probes", p);
            }
        }
        if let Some(h) = &self.holdout {
            t = data_input(t, "holdout", h);
        }
        for (flag, path) in [
            ("preprocess", &self.preprocess),
            ("labels", &self.onnx.labels),
            ("ort-lib", &self.runtime.ort_lib),
        ] {
            if let Some(p) = path {
                t = t.input(flag, p);
            }
        }
        t
    }
}

/// Validated settings of `spurion train`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// IDX folder or image file, or an ImageFolder root.
    pub data: PathBuf,
    pub transpose: Transpose,
    /// IDX labels to keep (default: all); ignored for ImageFolders.
    pub classes: Option<Vec<u8>>,
    /// Side images are resized to (ImageFolder; IDX images keep their size unless given).
    pub size: Option<usize>,
    pub plant: plant::Plant,
    /// Colour per class for the planted shortcut (default: the palette).
    pub colors: Option<Vec<[f32; 3]>>,
    pub train: TrainParams,
    pub seed: u64,
    pub device: ComputeDevice,
    pub out: PathBuf,
    /// Replace `out` even when spurion did not write it (never an input).
    #[serde(default)]
    pub force: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            data: PathBuf::new(),
            transpose: Transpose::Auto,
            classes: None,
            size: None,
            plant: plant::Plant::None,
            colors: None,
            train: TrainParams {
                epochs: 1,
                batch_size: 32,
                learning_rate: 1e-3,
            },
            seed: 0,
            device: ComputeDevice::Cpu,
            out: PathBuf::from("spurion-model"),
            force: false,
        }
    }
}

impl TrainConfig {
    pub fn check(&self) -> Result<()> {
        check::classifier(&self.train)?;
        if self.size.is_some_and(|s| s < 4) {
            return Err(Error::param("size", "expected at least 4 pixels"));
        }
        if let Some(c) = &self.classes {
            check::classes(c)?;
        }
        self.device.device()?;
        self.output().check()
    }

    /// Where the checkpoint goes, and the input it must not replace.
    pub fn output(&self) -> OutputTarget {
        data_input(OutputTarget::new(&self.out, self.force), "data", &self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per rule: a change to the defaults, and the flag its error names.
    #[test]
    fn each_bad_setting_names_its_flag() {
        let r = ReproduceConfig::default;
        type Change = Box<dyn Fn(&mut ReproduceConfig)>;
        let table: Vec<(Change, &str)> = vec![
            (Box::new(|c| c.classes = vec![1]), "--classes"),
            (Box::new(|c| c.classes = vec![1, 1]), "--classes"),
            (Box::new(|c| c.colors = vec![[0.0; 3]]), "--colors"),
            (Box::new(|c| c.dims = vec![]), "--dims"),
            (Box::new(|c| c.dims = vec![2, 0]), "--dims"),
            (Box::new(|c| c.dims = vec![2, 3, 2]), "--dims"),
            (Box::new(|c| c.probes = 0), "--probes"),
            (Box::new(|c| c.trials = 0), "--trials"),
            (Box::new(|c| c.trials = usize::MAX), "--trials"),
            (Box::new(|c| c.method.k = ClusterCount::Fixed(0)), "--k"),
            (
                Box::new(|c| c.method.k = ClusterCount::Fixed(10_001)),
                "--k",
            ),
            (
                Box::new(|c| c.method.weight_exponent = -1.0),
                "--weight-exponent",
            ),
            (
                Box::new(|c| c.method.kmeans_restarts = 0),
                "--kmeans-restarts",
            ),
            (
                Box::new(|c| c.method.permutations = usize::MAX),
                "--permutations",
            ),
            (Box::new(|c| c.classifier.epochs = 0), "--epochs"),
            (Box::new(|c| c.classifier.batch_size = 0), "--batch-size"),
            (Box::new(|c| c.classifier.learning_rate = 0.0), "--lr"),
            (Box::new(|c| c.vae.size = 0), "--vae-size"),
            (Box::new(|c| c.vae.hidden = 0), "--vae-hidden"),
            (Box::new(|c| c.vae.training.max_epochs = 0), "--vae-epochs"),
            (
                Box::new(|c| c.vae.training.batch_size = 0),
                "--vae-batch-size",
            ),
            (
                Box::new(|c| c.vae.training.learning_rate = f64::NAN),
                "--vae-lr",
            ),
            (Box::new(|c| c.batch_size = 0), "--inference-batch-size"),
            (Box::new(|c| c.out = PathBuf::from("/")), "--out"),
        ];
        for (change, flag) in table {
            let mut c = r();
            change(&mut c);
            let e = c.check().unwrap_err();
            assert!(e.to_string().contains(flag), "{flag}: {e}");
            assert_eq!(e.exit_code(), 2, "{e}");
        }
        assert!(r().check().is_ok());
    }

    #[test]
    fn audit_and_train_settings_name_their_flags() {
        let table: Vec<(AuditConfig, &str)> = vec![
            (
                AuditConfig {
                    latent_dim: 0,
                    ..AuditConfig::default()
                },
                "--latent-dim",
            ),
            (
                AuditConfig {
                    probes_count: Some(0),
                    ..AuditConfig::default()
                },
                "--probes-count",
            ),
            (
                AuditConfig {
                    probes_count: Some(usize::MAX),
                    ..AuditConfig::default()
                },
                "--probes-count",
            ),
            (
                AuditConfig {
                    batch_size: Some(0),
                    ..AuditConfig::default()
                },
                "--batch-size",
            ),
            (
                AuditConfig {
                    vae_train_probes: 0,
                    ..AuditConfig::default()
                },
                "--vae-train-probes",
            ),
        ];
        for (c, flag) in table {
            let e = c.check().unwrap_err().to_string();
            assert!(e.contains(flag), "{flag}: {e}");
        }
        let t = TrainConfig {
            size: Some(3),
            ..TrainConfig::default()
        };
        assert!(t.check().unwrap_err().to_string().contains("--size"));
    }

    #[test]
    fn probe_choices_and_sizes_parse() {
        assert_eq!(
            "noise".parse::<ProbeChoice>().unwrap(),
            ProbeChoice::Family(ProbeFamily::Noise)
        );
        let twice = AuditConfig {
            probes: vec![
                ProbeChoice::Family(ProbeFamily::Solid),
                ProbeChoice::Family(ProbeFamily::Solid),
            ],
            ..AuditConfig::default()
        };
        let e = twice.check().unwrap_err().to_string();
        assert!(e.contains("--probes") && e.contains("twice"), "{e}");
        let none = AuditConfig {
            probes: vec![],
            ..AuditConfig::default()
        };
        assert!(none.check().unwrap_err().to_string().contains("--probes"));
        let e = "no-such-thing"
            .parse::<ProbeChoice>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("--probes") && e.contains("solid, patch"), "{e}");
        // A list reads the same as one comma-separated string, as --probes does.
        let solid_patch = vec![
            ProbeChoice::Family(ProbeFamily::Solid),
            ProbeChoice::Family(ProbeFamily::Patch),
        ];
        assert_eq!(
            ProbeChoice::parse_list(&["solid, patch"]).unwrap(),
            solid_patch
        );
        assert_eq!(
            ProbeChoice::parse_list(&["solid", "patch"]).unwrap(),
            solid_patch
        );
        assert!(ProbeChoice::parse_list(&["solid,plaid"]).is_err());
        assert_eq!(parse_size("224x200").unwrap(), [224, 200]);
        assert_eq!(parse_size("32").unwrap(), [32, 32]);
        assert!(parse_size("1x2x3").is_err() && parse_size("ax3").is_err());
    }
}
