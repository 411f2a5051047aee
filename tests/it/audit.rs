//! `spurion train` and `spurion audit` end to end: planted shortcuts are found, ONNX models
//! give their reference probabilities, bad input is refused cleanly.

use std::path::{Path, PathBuf};

use crate::common;
use common::{ok, spurion};

fn mnist() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/mnist-10k")
        .display()
        .to_string()
}

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(rel)
        .display()
        .to_string()
}

fn results(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap()
}

/// Mean RGB of a PNG.
fn mean_rgb(path: &Path) -> [f64; 3] {
    let img = image::open(path).unwrap().to_rgb8();
    let n = (img.width() * img.height()) as f64;
    let mut m = [0.0; 3];
    for p in img.pixels() {
        for c in 0..3 {
            m[c] += p[c] as f64 / 255.0 / n;
        }
    }
    m
}

/// The cluster class `class`'s finding speaks of (its strongest driver, else its strongest
/// cluster).
fn finding_cluster(r: &serde_json::Value, class: usize) -> &serde_json::Value {
    let j = r["findings"][class]["cluster"].as_u64().unwrap() as usize;
    &r["runs"][0]["run"]["clusters"][j]
}

/// The prototype of the cluster class `class`'s finding speaks of.
fn top_prototype(dir: &Path, r: &serde_json::Value, class: usize) -> PathBuf {
    dir.join(finding_cluster(r, class)["prototype_png"].as_str().unwrap())
}

#[test]
fn planted_colours_are_found_with_solid_probes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(&spurion(
        &[
            "train",
            "--quiet",
            "--data",
            &mnist(),
            "--classes",
            "0,1,2",
            "--plant",
            "color",
            "--out",
            "model",
        ],
        d,
    ));
    assert!(out.contains("clean (nothing planted)"), "{out}");
    let training: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("model/training.json")).unwrap()).unwrap();
    assert!(
        training["planted_accuracy"].as_f64().unwrap() > 0.95,
        "{training}"
    );
    assert!(d.join("model/classifier.safetensors").is_file());

    // One audit of the model with solid probes; `more` adds flags.
    let audit = |more: &[&str]| {
        let mut a = vec![
            "audit",
            "--quiet",
            "--model",
            "model",
            "--probes",
            "solid",
            "--probes-count",
            "3000",
            "--latent-dim",
            "3",
            "--vae-epochs",
            "6",
        ];
        a.extend_from_slice(more);
        ok(&spurion(&a, d));
    };
    audit(&["--k", "1", "--out", "audit"]);
    let r = results(&d.join("audit"));
    assert_eq!(r["class_names"], serde_json::json!(["0", "1", "2"]));
    // Planted: 0 green, 1 blue, 2 red. Each class's top prototype is dominated by its colour.
    for (class, channel) in [(0, 1), (1, 2), (2, 0)] {
        let rgb = mean_rgb(&top_prototype(&d.join("audit"), &r, class));
        let others = (0..3)
            .filter(|&c| c != channel)
            .map(|c| rgb[c])
            .fold(0.0, f64::max);
        assert!(
            rgb[channel] > others + 0.1,
            "class {class}: prototype colour {rgb:?} not dominated by channel {channel}"
        );
    }
    assert!(
        r["runs"][0]["run"]["acp"].as_f64().unwrap()
            > r["runs"][0]["run"]["chance"].as_f64().unwrap()
    );
    for (class, color) in [(0, "green"), (1, "blue"), (2, "red")] {
        let cl = &r["runs"][0]["run"]["clusters"][class];
        // The cluster in words: its probes are mostly the planted colour.
        assert_eq!(cl["description"]["color"], color, "{cl}");
        // Significant on held-out probes against refitted, shuffled probabilities.
        assert_eq!(cl["significant"], true, "{cl}");
        // Causal test on the model's own clean validation digits: its heaviest probes raise
        // the class's probability more than 95% of random probes do.
        let causal = &cl["causal"];
        let effect = causal["effect"].as_f64().unwrap();
        let null = causal["null_p95"].as_f64().unwrap();
        assert!(effect > null, "class {class}: {causal}");
        // The colour-swapped control carries its interval, around its mean.
        let swapped = causal["color_swapped"].as_f64().unwrap();
        let [lo, hi] = [0, 1].map(|i| causal["swapped_interval"][i].as_f64().unwrap());
        assert!(lo <= swapped && swapped <= hi, "class {class}: {causal}");
        let finding = &r["findings"][class];
        assert_eq!(finding["status"], "found", "{finding}");
    }
    // The default, `--k tested`: the classes found with one cluster are searched again with
    // three; each keeps them only when one passes, and every driver is still its class's
    // planted colour.
    audit(&["--out", "tested"]);
    let t = results(&d.join("tested"));
    let run = &t["runs"][0]["run"];
    let ks: Vec<u64> = (0..3).map(|c| run["ks"][c].as_u64().unwrap()).collect();
    assert!(ks.iter().all(|&k| k == 1 || k == 3), "{ks:?}");
    assert_eq!(
        run["clusters"].as_array().unwrap().len() as u64,
        ks.iter().sum::<u64>()
    );
    for (class, channel) in [(0, 1), (1, 2), (2, 0)] {
        let finding = &t["findings"][class];
        assert_eq!(finding["status"], "found", "{finding}");
        for driver in finding["drivers"].as_array().unwrap() {
            let rgb: Vec<f64> = (0..3)
                .map(|i| driver["color"][i].as_f64().unwrap())
                .collect();
            let others = (0..3)
                .filter(|&c| c != channel)
                .map(|c| rgb[c])
                .fold(0.0, f64::max);
            assert!(rgb[channel] > others, "class {class}: {driver}");
        }
    }
    let html = std::fs::read_to_string(d.join("audit/report.html")).unwrap();
    assert_eq!(html.matches("is driven by probes like").count(), 3);
    let controls: Vec<&str> = html.split("swapped colours ").skip(1).collect();
    assert!(!controls.is_empty());
    for rest in controls {
        let control = rest.split(". The prototype").next().unwrap();
        assert!(control.contains(" ["), "no interval: {control}");
    }
}

#[test]
fn planted_patch_is_found_where_it_was_planted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&spurion(
        &[
            "train",
            "--quiet",
            "--data",
            &mnist(),
            "--classes",
            "3,7",
            "--plant",
            "patch",
            "--epochs",
            "2",
            "--out",
            "model",
        ],
        d,
    ));
    ok(&spurion(
        &[
            "audit",
            "--quiet",
            "--model",
            "model",
            "--probes",
            "patch",
            "--probes-count",
            "4000",
            "--latent-dim",
            "4",
            "--out",
            "audit",
        ],
        d,
    ));
    let r = results(&d.join("audit"));
    // Class 0 has its square top-left, class 1 top-right. Each prototype's departure from the
    // black background sits on its own planted side.
    for (class, planted_left) in [(0usize, true), (1, false)] {
        let img = image::open(top_prototype(&d.join("audit"), &r, class))
            .unwrap()
            .to_rgb8();
        let (w, h) = (img.width(), img.height());
        let (mut left, mut right) = (0.0f64, 0.0f64);
        for y in 0..h / 2 {
            for x in 0..w {
                let p = img.get_pixel(x, y);
                let e: f64 = (0..3).map(|c| (p[c] as f64 / 255.0).powi(2)).sum();
                if x < w / 2 { left += e } else { right += e }
            }
        }
        let (planted, opposite) = if planted_left {
            (left, right)
        } else {
            (right, left)
        };
        assert!(
            planted > 1.5 * opposite,
            "class {class}: energy {planted:.3} on the planted side vs {opposite:.3} on the other"
        );
    }
    // The mask the causal test pastes through sits on the planted side too, and so does the
    // structure the description names (both from the cluster's heaviest probes).
    for (class, side) in [(0usize, "left"), (1, "right")] {
        let cl = finding_cluster(&r, class);
        let mask = cl["mask"]["position"].as_str().unwrap_or("");
        assert!(mask.contains(side), "class {class}: mask at '{mask}': {cl}");
        let desc = cl["description"]["position"].as_str().unwrap_or("");
        assert!(desc.contains(side), "class {class}: described at '{desc}'");
    }
}

#[test]
fn onnx_model_gives_its_reference_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(&spurion(
        &[
            "audit",
            "--quiet",
            "--model",
            &fixture("tiny.onnx"),
            "--probes",
            &fixture("probes"),
            "--output",
            "softmax",
            "--latent-dim",
            "2",
            "--vae-epochs",
            "2",
            "--out",
            "audit",
        ],
        d,
    ));
    assert!(out.contains("softmax probability"), "{out}");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("expected.json")).unwrap()).unwrap();
    let r = results(&d.join("audit"));
    // Class names come from the model's metadata.
    assert_eq!(r["class_names"], expected["class_names"]);
    let csv = std::fs::read_to_string(d.join("audit/probes.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let probs = expected["probabilities"].as_object().unwrap();
    assert_eq!(rows.len(), probs.len());
    // Probes are read in sorted order: probe-00.png is id 0.
    for (i, (name, want)) in probs.iter().enumerate() {
        assert_eq!(name, &format!("probe-{i:02}.png"));
        for c in 0..3 {
            let got: f64 = rows[i][1 + c].parse().unwrap();
            let want = want[c].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-5,
                "{name} class {c}: {got} vs {want}"
            );
        }
    }
    // The markup in a class name is escaped in the report.
    let html = std::fs::read_to_string(d.join("audit/report.html")).unwrap();
    assert!(!html.contains("<b>blue</b>"));
    assert!(html.contains("&lt;b&gt;blue&lt;/b&gt;"));
}

/// A quick audit of the tiny ONNX fixture in `d` (2-D latents, a VAE of 2 epochs, into
/// `audit/`) with `more` flags; its results.json.
fn tiny_audit(d: &Path, more: &[&str]) -> serde_json::Value {
    let model = fixture("tiny.onnx");
    let mut a = vec![
        "audit",
        "--quiet",
        "--model",
        &model,
        "--latent-dim",
        "2",
        "--vae-epochs",
        "2",
        "--out",
        "audit",
    ];
    a.extend_from_slice(more);
    ok(&spurion(&a, d));
    results(&d.join("audit"))
}

#[test]
fn two_probe_folders_keep_their_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Two copies of the fixture's probes, the second without its last four images.
    for (name, count) in [("a", 24), ("b", 20)] {
        std::fs::create_dir(d.join(name)).unwrap();
        for i in 0..count {
            let file = format!("probe-{i:02}.png");
            std::fs::copy(fixture(&format!("probes/{file}")), d.join(name).join(file)).unwrap();
        }
    }
    let r = tiny_audit(d, &["--probes", "a,b"]);
    let runs = r["runs"].as_array().unwrap();
    let families: Vec<&str> = runs.iter().map(|r| r["family"].as_str().unwrap()).collect();
    assert_eq!(families, ["folder", "folder-2"]);
    // Each run's files in its own folder, each of its own probes.
    for (run, count) in runs.iter().zip([24, 20]) {
        assert_eq!(run["probe_count"], count);
        let family = run["family"].as_str().unwrap();
        let csv =
            std::fs::read_to_string(d.join(format!("audit/probes-{family}/probes.csv"))).unwrap();
        assert_eq!(csv.lines().count(), 1 + count, "{family}");
    }
}

#[test]
fn causal_images_above_the_default_sample_are_all_used() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::write_idx(&d.join("holdout"), 700, 8);
    let r = tiny_audit(
        d,
        &[
            "--probes",
            &fixture("probes"),
            "--holdout",
            "holdout",
            "--causal-images",
            "600",
            "--null-probes",
            "20",
        ],
    );
    let tested: Vec<u64> = r["runs"][0]["run"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["causal"]["n"].as_u64())
        .collect();
    assert!(!tested.is_empty(), "no cluster was tested");
    // 600 asked for, above the 500 sampled by default: all 600 used.
    assert!(tested.iter().all(|&n| n == 600), "{tested:?}");
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// `--model` the tiny ONNX fixture, then `more`.
fn onnx(more: &[&str]) -> Vec<String> {
    let mut a = args(&["--model", &fixture("tiny.onnx")]);
    a.extend(args(more));
    a
}

/// A file `name` in `dir` holding `bytes`; its path.
fn file(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_string()
}

/// A checkpoint folder in `dir` whose files are damaged by `damage`; the arguments naming it.
fn damaged_checkpoint(dir: &Path, damage: impl FnOnce(&Path)) -> Vec<String> {
    let model = dir.join("model");
    std::fs::create_dir(&model).unwrap();
    let config = serde_json::json!({
        "channels": 3, "height": 28, "width": 28, "class_names": ["a", "b"],
        "conv_channels": [16, 32], "hidden": 64
    });
    std::fs::write(model.join("classifier.json"), config.to_string()).unwrap();
    std::fs::write(
        model.join("classifier.safetensors"),
        b"\x08\x00\x00\x00\x00\x00\x00\x00{}",
    )
    .unwrap();
    damage(&model);
    args(&["--model", model.to_str().unwrap()])
}

/// A safetensors file holding `tensors` (name, shape) of zeros.
fn safetensors(tensors: &[(&str, &[usize])]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, shape) in tensors {
        let bytes = 4 * shape.iter().product::<usize>();
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let header = serde_json::Value::Object(header).to_string();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.resize(out.len() + offset, 0);
    out
}

/// One bad input to `audit`: how to make it (files in a scratch folder, and the arguments
/// naming them), the exit code, and what the one-line error must say.
struct Row {
    make: fn(&Path) -> Vec<String>,
    code: i32,
    needles: &'static [&'static str],
}

const ROWS: &[Row] = &[
    Row {
        make: |d| args(&["--model", &file(d, "fake.onnx", b"PK\x03\x04 not protobuf")]),
        code: 1,
        needles: &["fake.onnx", "not a usable ONNX model"],
    },
    Row {
        make: |d| onnx(&["--labels", &file(d, "labels.txt", b"cat\ndog\n")]),
        code: 1,
        needles: &["labels.txt", "2 class names", "outputs 3"],
    },
    Row {
        make: |d| onnx(&["--labels", &file(d, "labels.txt", b"\n\n")]),
        code: 1,
        needles: &["labels.txt", "no class names"],
    },
    Row {
        make: |d| {
            let probes = d.join("probes");
            std::fs::create_dir(&probes).unwrap();
            std::fs::copy(fixture("probes/probe-00.png"), probes.join("a.png")).unwrap();
            file(&probes, "b.jpg", b"\xff\xd8\xff\xe0 truncated jpeg");
            onnx(&["--probes", probes.to_str().unwrap()])
        },
        code: 1,
        needles: &["b.jpg", "cannot decode"],
    },
    Row {
        make: |d| onnx(&["--probes", d.to_str().unwrap()]),
        code: 1,
        needles: &["empty probe folder"],
    },
    Row {
        make: |_| onnx(&["--probes", "stripes"]),
        code: 2,
        needles: &["--probes", "stripes", "solid, patch, gratings, noise"],
    },
    Row {
        make: |_| onnx(&["--probes", "solid,stripes,noise"]),
        code: 2,
        needles: &["--probes", "stripes", "solid, patch, gratings, noise"],
    },
    Row {
        make: |_| onnx(&["--probes", ""]),
        code: 2,
        needles: &["--probes"],
    },
    Row {
        make: |_| onnx(&["--probes", "solid,patch,solid"]),
        code: 2,
        needles: &["--probes", "solid is given twice"],
    },
    Row {
        make: |d| {
            onnx(&[
                "--preprocess",
                &file(d, "pre.toml", b"size = [8, 8]\nmean = \"oops\"\n"),
            ])
        },
        code: 1,
        needles: &["pre.toml", "invalid type"],
    },
    Row {
        make: |_| onnx(&["--channels", "gray"]),
        code: 2,
        needles: &["--channels", "3 input channels"],
    },
    Row {
        make: |_| onnx(&["--input-size", "8by8"]),
        code: 2,
        needles: &["--input-size", "HxW"],
    },
    Row {
        make: |_| onnx(&["--input-size", "16x16"]),
        code: 2,
        needles: &["--input-size", "8x8", "16x16"],
    },
    Row {
        make: |_| onnx(&["--k", "0"]),
        code: 2,
        needles: &["--k"],
    },
    // Damaged checkpoints.
    Row {
        make: |d| {
            damaged_checkpoint(d, |m| {
                std::fs::write(m.join("classifier.safetensors"), b"not safetensors at all").unwrap()
            })
        },
        code: 1,
        needles: &["classifier.safetensors", "not weights for this model"],
    },
    Row {
        // The header length says 65,535 bytes of header follow; the file ends after two.
        make: |d| {
            damaged_checkpoint(d, |m| {
                std::fs::write(
                    m.join("classifier.safetensors"),
                    b"\xff\xff\x00\x00\x00\x00\x00\x00{}",
                )
                .unwrap()
            })
        },
        code: 1,
        needles: &["classifier.safetensors", "not weights for this model"],
    },
    Row {
        // A valid safetensors file with no tensors.
        make: |d| damaged_checkpoint(d, |_| {}),
        code: 1,
        needles: &["classifier.safetensors", "not weights for this model"],
    },
    Row {
        // Weights of a 3-class model beside the config of a 2-class one (one sigmoid output).
        make: |d| {
            let weights = safetensors(&[
                ("conv1.weight", &[16, 3, 3, 3]),
                ("conv1.bias", &[16]),
                ("conv2.weight", &[32, 16, 3, 3]),
                ("conv2.bias", &[32]),
                ("fc1.weight", &[1568, 64]),
                ("fc1.bias", &[64]),
                ("fc2.weight", &[64, 3]),
                ("fc2.bias", &[3]),
            ]);
            damaged_checkpoint(d, |m| {
                std::fs::write(m.join("classifier.safetensors"), weights).unwrap()
            })
        },
        code: 1,
        needles: &["classifier.safetensors", "not weights for this model"],
    },
    Row {
        make: |d| {
            damaged_checkpoint(d, |m| {
                std::fs::write(m.join("classifier.json"), b"{\"channels\": 3").unwrap()
            })
        },
        code: 1,
        needles: &["classifier.json", "not a spurion classifier config"],
    },
];

#[test]
fn bad_input_is_refused_with_one_line_naming_it() {
    for row in ROWS {
        let scratch = tempfile::tempdir().unwrap();
        let a = (row.make)(scratch.path());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        common::fails_with(
            &["audit", "--quiet", "--out", "audit", "--vae-epochs", "1"],
            &a,
            row.code,
            row.needles,
        );
    }
}
