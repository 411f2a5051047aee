//! `spurion bench`: what each stage costs on this machine, measured, with the threads used.
//!
//! Stages are timed on the `reproduce` workload (MNIST 0/1 coloured digits, 10,000
//! solid-colour probes); each figure is the best of `repeats` runs. `--full` also times the
//! whole default `reproduce` sweep.

use std::time::Instant;

use crate::config::ReproduceConfig;
use crate::data::{self, LabeledImages, plant};
use crate::error::Result;
use crate::kmeans::KMeansParams;
use crate::method::{causal, causal::CausalSettings, significance};
use crate::nn::classifier::{self, ClassifierConfig};
use crate::nn::vae::{self, LatentMode, VaeTrainParams};
use crate::probes::{ProbeFamily, ProbeSpec};
use crate::progress::Progress;
use crate::reproduce;
use crate::seed::{self, Stream};

/// One measured figure.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BenchRow {
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// Threads the stage ran on (the backend's thread pool, or trial workers).
    pub threads: usize,
    pub note: String,
}

/// Settings of `spurion bench`.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub repeats: usize,
    /// Also time the whole default `reproduce` sweep (about two minutes on 2 cores).
    pub full: bool,
    pub reproduce: ReproduceConfig,
    /// ONNX models to time instead of the stages: probes/s on each engine this machine has.
    pub onnx: Vec<std::path::PathBuf>,
    /// Probes per batch for the ONNX models.
    pub onnx_batch: usize,
    /// Where ONNX Runtime's library is (else `ORT_DYLIB_PATH`; without either, tract only).
    pub ort_lib: Option<std::path::PathBuf>,
}

/// Probes per second of each ONNX model in `config.onnx` on tract and, when its library is
/// found, ONNX Runtime: one batch of solid probes at the model's input size, after one
/// warm-up batch, best of `repeats`.
fn onnx_rows(config: &BenchConfig, progress: &Progress) -> Result<Vec<BenchRow>> {
    use crate::model::runtime::{Engine, OnnxRuntime, RuntimeKind};
    use crate::model::{OnnxModel, OnnxSettings, ProbabilityModel};
    let ort = OnnxRuntime {
        kind: RuntimeKind::Ort,
        ort_lib: config.ort_lib.clone(),
    };
    let mut engines = vec![("tract", OnnxRuntime::tract(), 1)];
    match ort.resolve() {
        Ok(Engine::Ort(_)) => engines.push((
            "onnxruntime",
            ort,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        )),
        _ => progress.println("no ONNX Runtime library (--ort-lib or ORT_DYLIB_PATH): tract only"),
    }
    let mut rows = Vec::new();
    for path in &config.onnx {
        for (engine, runtime, threads) in &engines {
            let m = OnnxModel::load_with(path, &OnnxSettings::default(), runtime, false)?;
            let [h, w] = m.input_size();
            let probes =
                ProbeSpec::new(ProbeFamily::Solid, config.onnx_batch, [h, w], 0).generate();
            m.predict(&probes)?;
            let (secs, _) = best(config.repeats, || m.predict(&probes))?;
            let name = format!(
                "{} on {engine}",
                path.file_name()
                    .map_or("model".into(), |f| f.to_string_lossy())
            );
            progress.println(format!(
                "{name}: {:.1} probes/s",
                config.onnx_batch as f64 / secs
            ));
            rows.push(BenchRow {
                name,
                value: config.onnx_batch as f64 / secs,
                unit: "probes/s".into(),
                threads: *threads,
                note: format!(
                    "batches of {} at {h}x{w}, preprocessing and softmax included",
                    config.onnx_batch
                ),
            });
        }
    }
    Ok(rows)
}

fn best<T>(repeats: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        last = Some(f()?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok((best, last.expect("ran at least once")))
}

/// Runs the benchmarks.
pub fn run(config: &BenchConfig, progress: &Progress) -> Result<Vec<BenchRow>> {
    if !config.onnx.is_empty() {
        return onnx_rows(config, progress);
    }
    let rc = &config.reproduce;
    let device = rc.device.device()?;
    let pool = rayon::current_num_threads();
    let mut rows = Vec::new();
    let mut row = |name: &str, value: f64, unit: &str, threads: usize, note: String| {
        progress.println(format!("{name}: {value:.4} {unit}"));
        rows.push(BenchRow {
            name: name.into(),
            value,
            unit: unit.into(),
            threads,
            note,
        });
    };

    let base = data::load_idx_classes(&rc.data, Some(&rc.classes), rc.transpose)?;
    let (train, _) = base.split(0.8, &mut seed::rng(rc.seed, Stream::DataSplit, &[0]));
    let train_set = LabeledImages {
        images: plant::colorize(&train.images, &train.labels, &rc.colors),
        ..train.clone()
    };
    let cconf = ClassifierConfig::new(
        3,
        base.images.height,
        base.images.width,
        base.class_names.clone(),
    );
    let (secs, model) = best(config.repeats, || {
        classifier::train(
            &cconf,
            &train_set,
            &rc.classifier,
            &device,
            1,
            &mut seed::rng(rc.seed, Stream::ClassifierBatches, &[0]),
            |_| Ok(()),
        )
    })?;
    row(
        "classifier epoch",
        secs / rc.classifier.epochs as f64,
        "s",
        pool,
        format!(
            "{} coloured digits, batch {}",
            train_set.images.count, rc.classifier.batch_size
        ),
    );

    let spec = ProbeSpec {
        family: ProbeFamily::Solid,
        count: rc.probes,
        height: base.images.height,
        width: base.images.width,
        seed: 1,
    };
    let probes = spec.generate();
    let (secs, probs) = best(config.repeats, || {
        classifier::predict(&model, &cconf, &probes, rc.batch_size, &device)
    })?;
    row(
        "classifier inference",
        probes.count as f64 / secs,
        "probes/s",
        pool,
        format!(
            "{} probes of 3x{}x{}, batch {}",
            probes.count, spec.height, spec.width, rc.batch_size
        ),
    );

    let x = vae::thumbnails(&probes, rc.vae.size);
    let vconf = rc.vae.config(3, probs.classes);
    let guided = vconf.guide_classes.is_some();
    let one_epoch = VaeTrainParams {
        guide_weight: rc.vae.training.guide_weight,
        ..VaeTrainParams::fixed_epochs(1)
    };
    let (secs, (vae_model, _)) = best(config.repeats, || {
        vae::train(
            &vconf,
            &x,
            guided.then_some(probs.values.as_slice()),
            &one_epoch,
            &device,
            2,
            &mut seed::rng(rc.seed, Stream::VaeTraining, &[0]),
            |_, _| Ok(()),
        )
    })?;
    row(
        "VAE epoch",
        secs,
        "s",
        pool,
        format!(
            "{} probes as {}x{} thumbnails, {}, latent dim 3",
            rc.probes,
            rc.vae.size,
            rc.vae.size,
            if guided { "guided" } else { "plain" }
        ),
    );
    let (secs, _) = best(config.repeats, || {
        vae_model.encode(
            &x,
            LatentMode::Mean,
            rc.batch_size,
            &mut seed::rng(0, Stream::Test, &[]),
        )
    })?;
    row(
        "encoder inference",
        rc.probes as f64 / secs,
        "probes/s",
        pool,
        String::new(),
    );

    // Weighted k-means on 100,000 x 3 points, k = 2: latent-like blobs with p^2 weights.
    let mut rng = seed::rng(rc.seed, Stream::Test, &[1]);
    let n = 100_000;
    let mut points = Vec::with_capacity(n * 3);
    let mut weights = Vec::with_capacity(n);
    for i in 0..n {
        let shift = if i % 2 == 0 { 2.0 } else { -2.0 };
        for _ in 0..3 {
            let v: f32 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng);
            points.push(v + shift);
        }
        let p = 1.0 / (1.0 + (-points[i * 3]).exp());
        weights.push(p * p);
    }
    for restarts in [1, KMeansParams::default().restarts] {
        let params = KMeansParams {
            k: 2,
            restarts,
            ..KMeansParams::default()
        };
        let (secs, _) = best(config.repeats.max(3), || {
            params
                .fit(&points, 3, &weights, &mut seed::rng(0, Stream::KMeans, &[]))
                .map_err(|source| crate::Error::KMeans {
                    class: "bench".into(),
                    source,
                })
        })?;
        row(
            &format!("weighted k-means 100000x3, k=2, {restarts} restart(s)"),
            secs,
            "s",
            pool,
            "k-means++ seeding and Lloyd iterations to convergence".into(),
        );
    }

    // The held-out significance test: 5,000 probes, two clusters, 1,000 permutations.
    let held = probs.select(&(0..probs.count().min(5000)).collect::<Vec<_>>());
    let assignment: Vec<usize> = (0..held.count()).map(|i| held.argmax(i)).collect();
    let (secs, _) = best(config.repeats, || {
        Ok(significance::test_clusters(
            &held,
            &[0, 1],
            &assignment,
            1000,
            &mut seed::rng(0, Stream::Permutation, &[]),
        ))
    })?;
    row(
        "significance test",
        secs,
        "s",
        pool,
        format!(
            "{} held-out probes, 2 clusters, 1000 permutations",
            held.count()
        ),
    );

    // One cluster's causal test: 16 heaviest probes, mirrored and colour-swapped controls,
    // the prototype, and 100 random probes, each through 100 held-out monochrome digits (a
    // solid colour claims the whole image: the probes and the random ones in three ways).
    let (_, val) = base.split(0.8, &mut seed::rng(rc.seed, Stream::DataSplit, &[0]));
    let digits = plant::to_rgb(&val.images.slice(0, val.images.count.min(100)));
    let settings = CausalSettings::default();
    let predict =
        |imgs: &data::Images| classifier::predict(&model, &cconf, imgs, rc.batch_size, &device);
    let null_ids: Vec<usize> = (0..settings.null_probes).collect();
    let null_patterns = probes.select(&null_ids);
    // The cluster: class 0's 16 heaviest probes (the most probable), as the audit picks them.
    let mut by_p0: Vec<usize> = (settings.null_probes..probes.count).collect();
    by_p0.sort_by(|&a, &b| probs.get(b, 0).total_cmp(&probs.get(a, 0)).then(a.cmp(&b)));
    let members = probes.select(&by_p0[..16.min(by_p0.len())]);
    let background = causal::median_image(&probes.slice(0, 1000));
    // The mask as the audit makes it: where the heaviest probes' mean differs from the background.
    let mask = causal::Mask::of_cluster(
        members.image(0),
        Some(&members.mean()),
        &background,
        digits.height,
        digits.width,
    );
    let how = match settings.intervention(&mask) {
        causal::Intervention::Paste => "pasted",
        _ => "in 3 ways",
    };
    let (secs, _) = best(config.repeats, || {
        let input = causal::CausalInput::new(
            &digits,
            "held-out digits".into(),
            &predict,
            (null_ids.clone(), null_patterns.clone()),
            settings.clone(),
            causal::EffectCache::default(),
        )?;
        input.test(
            members.image(0),
            &members,
            &mask,
            0,
            &mut seed::rng(0, Stream::Causal, &[]),
        )
    })?;
    row(
        "causal test, one cluster",
        secs,
        "s",
        pool,
        format!(
            "{} held-out digits, 16 probes and {} random probes {how}, controls",
            digits.count, settings.null_probes
        ),
    );

    if config.full {
        let dir = tempfile_dir()?;
        let full = ReproduceConfig {
            out: dir.join("reproduce"),
            ..rc.clone()
        };
        let t = Instant::now();
        reproduce::run(&full, &Progress::hidden())?;
        let secs = t.elapsed().as_secs_f64();
        let _ = std::fs::remove_dir_all(&dir);
        row(
            "full default reproduce",
            secs,
            "s",
            full.threads.min(full.trials * full.dims.len()),
            format!(
                "{} trials x dims {:?}, {} probes; trial/dim jobs on {} workers, backend pool {pool}",
                full.trials, full.dims, full.probes, full.threads
            ),
        );
    }
    Ok(rows)
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("spurion-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    Ok(dir)
}

/// Threads of the backend's (rayon) pool.
pub fn backend_threads() -> usize {
    rayon::current_num_threads()
}

/// Formats the rows as a table.
pub fn format_rows(rows: &[BenchRow]) -> String {
    let mut s = format!(
        "{:<48} {:>14} {:<9} {:>7}  {}\n",
        "stage", "value", "unit", "threads", "workload"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<48} {:>14.4} {:<9} {:>7}  {}\n",
            r.name, r.value, r.unit, r.threads, r.note
        ));
    }
    s
}
