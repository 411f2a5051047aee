//! Loading ONNX models: what each engine reads, refuses and computes.

use super::*;

/// The error loading `path` as a model gives.
fn load_error(path: &Path) -> String {
    OnnxModel::load(path, &OnnxSettings::default())
        .err()
        .unwrap()
        .to_string()
}

#[test]
fn a_graph_ending_in_softmax_is_read_as_probabilities() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/tiny.onnx");
    let m = OnnxModel::load(&fixture, &OnnxSettings::default()).unwrap();
    let info = m.info();
    assert_eq!(info.output, OutputKind::Softmax);
    assert!(
        info.probability.contains("graph ends"),
        "{}",
        info.probability
    );
    // Told otherwise, it does as told.
    let told = OnnxSettings {
        output: Some(OutputKind::Logits),
        ..OnnxSettings::default()
    };
    let m = OnnxModel::load(&fixture, &told).unwrap();
    assert_eq!(m.info().output, OutputKind::Logits);
    // A graph ending in MatMul gives logits.
    let m = OnnxModel::load(
        &hostile("any_size.onnx"),
        &OnnxSettings {
            size: Some([8, 8]),
            ..OnnxSettings::default()
        },
    )
    .unwrap();
    assert_eq!(m.info().output, OutputKind::Logits);
}

#[test]
fn tract_failures_name_the_node_and_the_exporter() {
    assert_eq!(
        failing_node(r#"Translating node #560 "Reshape@18" Reshape ToTypedTranslator"#),
        Some("Reshape@18".to_string())
    );
    assert_eq!(failing_node("running pass declutter: Invalid axis"), None);
    assert_eq!(failing_node(r#"#12 "" Add"#), None);
    let mut proto = tract_onnx::pb::ModelProto {
        producer_name: "tf2onnx".into(),
        producer_version: "1.8.4".into(),
        ..Default::default()
    };
    proto.opset_import.push(tract_onnx::pb::OperatorSetIdProto {
        domain: String::new(),
        version: 9,
    });
    proto.graph = Some(tract_onnx::pb::GraphProto {
        node: vec![tract_onnx::pb::NodeProto {
            name: "conv1/BiasAdd".into(),
            op_type: "Conv".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let e = tract_failure(
        Path::new("m.onnx"),
        &proto,
        &r#"declutter node #7 "conv1/BiasAdd.downsample.0" Downsample: Invalid axis"#,
    )
    .to_string();
    assert!(
        e.contains("failing node 'conv1/BiasAdd' (ONNX operator Conv), in tract's rewrite")
            && e.contains("exported by tf2onnx 1.8.4, opset 9")
            && e.contains("try --runtime ort"),
        "{e}"
    );
    proto.producer_name.clear();
    let e = tract_failure(Path::new("m.onnx"), &proto, &"#3 \"other\" Add").to_string();
    assert!(
        e.contains("failing node 'other';") && e.contains("exporter not named in the file"),
        "{e}"
    );
}

#[test]
fn not_onnx_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("model.onnx");
    std::fs::write(&p, b"this is not a protobuf at all").unwrap();
    let e = load_error(&p);
    assert!(
        e.contains("model.onnx") && e.contains("not a usable ONNX model"),
        "{e}"
    );
}

#[test]
fn truncated_onnx_is_a_clear_error() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/tiny.onnx");
    let bytes = std::fs::read(fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.onnx");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_error(&p);
    assert!(
        e.contains("cut.onnx") && e.contains("not a usable ONNX model"),
        "{e}"
    );
}

fn hostile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx/hostile")
        .join(name)
}

#[test]
fn input_and_output_types_are_converted_to_the_reference_probabilities() {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(hostile("expected.json")).unwrap()).unwrap();
    let probes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/probes");
    let mut images = Images::empty(3, 8, 8);
    for name in expected["probes"].as_array().unwrap() {
        let p = probes.join(name.as_str().unwrap());
        images.push(&crate::data::folder::load_image(&p, 8, 8).unwrap());
    }
    // (model, tolerance): float16 rounds the input to 11 bits.
    for (model, tol) in [
        ("two_outputs", 1e-5),
        ("uint8_input", 1e-5),
        ("float16_input", 2e-3),
        ("float64_output", 1e-5),
    ] {
        let settings = OnnxSettings {
            output_name: Some("logits".into()),
            ..OnnxSettings::default()
        };
        let m = OnnxModel::load(&hostile(&format!("{model}.onnx")), &settings)
            .unwrap_or_else(|e| panic!("{model}: {e}"));
        let got = m.predict(&images).unwrap();
        for (i, row) in expected[model].as_array().unwrap().iter().enumerate() {
            let logits: Vec<f32> = row
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let want = to_probabilities(&logits, 2, OutputKind::Logits);
            for (c, w) in want.iter().enumerate() {
                let d = (got.get(i, c) - w).abs();
                assert!(d < tol, "{model} probe {i} class {c}: {d}");
            }
        }
    }
}

#[test]
fn models_spurion_cannot_read_are_refused_with_what_they_declare() {
    // (model, settings, pieces of the error)
    let with_name = |n: &str| OnnxSettings {
        output_name: Some(n.into()),
        ..OnnxSettings::default()
    };
    let table: Vec<(&str, OnnxSettings, &[&str])> = vec![
        (
            "two_outputs",
            OnnxSettings::default(),
            &[
                "--output-name",
                "'features' float32 [N, 3]",
                "'logits' float32 [N, 2]",
            ],
        ),
        (
            "two_outputs",
            with_name("probs"),
            &["--output-name", "no output 'probs'"],
        ),
        (
            "int64_output",
            OnnxSettings::default(),
            &["int64", "class indices"],
        ),
        (
            "int32_input",
            OnnxSettings::default(),
            &["input 'image' is int32"],
        ),
        ("zero_classes", OnnxSettings::default(), &["has no classes"]),
        (
            "two_inputs",
            OnnxSettings::default(),
            &["2 inputs", "'a' float32"],
        ),
        (
            "uint8_input",
            OnnxSettings {
                range: Some(1.0),
                ..OnnxSettings::default()
            },
            &["--range", "uint8"],
        ),
        (
            "uint8_input",
            OnnxSettings {
                mean: Some(vec![0.5]),
                ..OnnxSettings::default()
            },
            &["--mean", "uint8"],
        ),
        (
            "any_size",
            OnnxSettings {
                layout: Some(Layout::Nhwc),
                size: Some([8, 8]),
                ..OnnxSettings::default()
            },
            &["--layout", "[N, 3, H, W]"],
        ),
        (
            "two_outputs",
            OnnxSettings {
                mean: Some(vec![f32::NAN]),
                output_name: Some("logits".into()),
                ..OnnxSettings::default()
            },
            &["--mean", "finite"],
        ),
        (
            "two_outputs",
            OnnxSettings {
                std: Some(vec![-1.0]),
                output_name: Some("logits".into()),
                ..OnnxSettings::default()
            },
            &["--std", "positive"],
        ),
    ];
    for (model, settings, needles) in table {
        let e = OnnxModel::load(&hostile(&format!("{model}.onnx")), &settings)
            .err()
            .unwrap_or_else(|| panic!("{model} {settings:?} loaded"))
            .to_string();
        for n in needles {
            assert!(e.contains(n), "{model}: '{n}' not in: {e}");
        }
    }
}

#[test]
fn nan_outputs_and_false_softmax_claims_are_refused() {
    let images = Images {
        count: 2,
        channels: 3,
        height: 8,
        width: 8,
        data: vec![0.5; 2 * 3 * 64],
    };
    let nan = OnnxModel::load(&hostile("nan_output.onnx"), &OnnxSettings::default()).unwrap();
    let e = nan.predict(&images).unwrap_err().to_string();
    assert!(e.contains("nan_output.onnx") && e.contains("NaN"), "{e}");
    let settings = OnnxSettings {
        output: Some(OutputKind::Softmax),
        output_name: Some("logits".into()),
        ..OnnxSettings::default()
    };
    let m = OnnxModel::load(&hostile("two_outputs.onnx"), &settings).unwrap();
    let e = m.predict(&images).unwrap_err().to_string();
    assert!(e.contains("--output") && e.contains("sum to"), "{e}");
}
