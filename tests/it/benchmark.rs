//! `spurion benchmark --quick` end to end: the documented benchmark.json, and the two things
//! its three cases must show (a planted stroke colour recovered, a clean model with nothing
//! found).

use crate::common;

use common::{ok, spurion};

#[test]
fn quick_benchmark_recovers_the_stroke_colour_and_finds_nothing_in_a_clean_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let printed = ok(&spurion(&["benchmark", "--quick", "--out", "bench"], d));
    assert!(printed.contains("probabilities-as-latent"), "{printed}");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("bench/benchmark.json")).unwrap()).unwrap();
    let methods: Vec<&str> = r["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        ["paper", "spurion", "probabilities-as-latent", "top-probes"]
    );
    for s in r["summary"].as_array().unwrap() {
        for key in [
            "recovery_rate",
            "shortcut_recall",
            "false_finding_rate",
            "cases",
        ] {
            assert!(s.get(key).is_some(), "summary lacks {key}: {s}");
        }
    }
    let cases = r["cases"].as_array().unwrap();
    // 4 cases x 4 classes x 4 methods.
    assert_eq!(cases.len(), 64);
    for c in cases {
        for key in [
            "name",
            "kind",
            "seed",
            "method",
            "class_name",
            "status",
            "recovered",
            "causal_effect",
            "causal_null_p95",
        ] {
            assert!(c.get(key).is_some(), "case lacks {key}: {c}");
        }
        assert_eq!(c["recovered"].is_null(), c["kind"] == "clean", "{c}");
    }
    let spurion_cases = || cases.iter().filter(|c| c["method"] == "spurion");
    let stroke = spurion_cases()
        .find(|c| c["kind"] == "planted" && c["shortcut"] == "stroke-colour")
        .unwrap();
    assert_eq!(stroke["recovered"], true, "{stroke}");
    for c in spurion_cases().filter(|c| c["name"].as_str().unwrap().contains("/clean/")) {
        assert_eq!(c["status"], "none", "{c}");
    }
    assert!(
        std::fs::read_to_string(d.join("bench/benchmark.txt"))
            .unwrap()
            .contains("false")
    );
}
