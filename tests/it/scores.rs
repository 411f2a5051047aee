//! Scores from anywhere: `spurion probes` writes a probe folder, a scorer outside spurion
//! computes probabilities for it, and `spurion audit --probes DIR --scores FILE` audits them.
//! The scorer here is a colour rule (class "green" when a probe is mostly green), standing in
//! for a model that runs elsewhere.

use crate::common;

use std::path::Path;

use common::{fails_with, npy, ok, spurion};

/// p(green) for the probe image at `path`: a sigmoid of how much green beats red and blue.
fn p_green(path: &Path) -> f32 {
    let img = image::open(path).unwrap().to_rgb8();
    let mut m = [0.0f32; 3];
    for p in img.pixels() {
        for c in 0..3 {
            m[c] += p[c] as f32 / 255.0;
        }
    }
    let n = (img.width() * img.height()) as f32;
    let [r, g, b] = m.map(|v| v / n);
    1.0 / (1.0 + (-12.0 * (g - r.max(b))).exp())
}

/// The manifest's (id, file) pairs.
fn manifest(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("manifest.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect()
}

/// Writes 300 solid probes to `dir/probes` and their scores as `scores.csv` and `scores.npy`.
fn probes_and_scores(dir: &Path) -> Vec<f32> {
    ok(&spurion(
        &[
            "probes", "--family", "solid", "--count", "300", "--size", "12", "--out", "probes",
            "--seed", "3", "-q",
        ],
        dir,
    ));
    let rows = manifest(&dir.join("probes"));
    assert_eq!(rows.len(), 300);
    let mut csv = String::from("id,other,green\n");
    let mut values = Vec::new();
    // Rows in reverse: the CSV is matched by id, not by order.
    for (id, file) in rows.iter().rev() {
        let p = p_green(&dir.join("probes").join(file));
        csv.push_str(&format!("{id},{},{p}\n", 1.0 - p));
    }
    for (_, file) in &rows {
        let p = p_green(&dir.join("probes").join(file));
        values.extend([1.0 - p, p]);
    }
    std::fs::write(dir.join("scores.csv"), csv).unwrap();
    std::fs::write(dir.join("scores.npy"), npy(&[rows.len(), 2], &values)).unwrap();
    values
}

fn results(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path.join("results.json")).unwrap()).unwrap()
}

#[test]
fn probes_are_written_with_a_manifest_and_the_same_seed_gives_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &str| {
        [
            "probes", "--family", "patch", "--count", "20", "--size", "16x8", "--out", out, "-q",
        ]
        .map(String::from)
    };
    for out in ["a", "b"] {
        let a = args(out);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        ok(&spurion(&a, dir.path()));
    }
    let rows = manifest(&dir.path().join("a"));
    assert_eq!(rows.len(), 20);
    for (_, file) in &rows {
        let a = std::fs::read(dir.path().join("a").join(file)).unwrap();
        assert_eq!(a, std::fs::read(dir.path().join("b").join(file)).unwrap());
        let img = image::load_from_memory(&a).unwrap();
        assert_eq!((img.width(), img.height()), (8, 16));
    }
    assert_eq!(
        std::fs::read(dir.path().join("a/manifest.csv")).unwrap(),
        std::fs::read(dir.path().join("b/manifest.csv")).unwrap()
    );
}

#[test]
fn an_audit_from_scores_finds_the_green_cluster_and_csv_and_npy_agree() {
    let dir = tempfile::tempdir().unwrap();
    probes_and_scores(dir.path());
    for (scores, out) in [("scores.csv", "csv"), ("scores.npy", "npy")] {
        let stdout = ok(&spurion(
            &[
                "audit",
                "--probes",
                "probes",
                "--scores",
                scores,
                "--out",
                out,
                "-q",
                "--no-timings",
            ],
            dir.path(),
        ));
        assert!(stdout.contains("not tested on real images"), "{stdout}");
    }
    let (csv, npy) = (
        results(&dir.path().join("csv")),
        results(&dir.path().join("npy")),
    );
    // The same probabilities by either route: the same clusters and scores. The CSV names its
    // classes; the .npy gets indices.
    let run = |r: &serde_json::Value| r["runs"][0]["run"].clone();
    assert_eq!(run(&csv)["acp"], run(&npy)["acp"]);
    assert_eq!(
        run(&csv)["clusters"].as_array().unwrap().len(),
        run(&npy)["clusters"].as_array().unwrap().len()
    );
    for (a, b) in run(&csv)["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .zip(run(&npy)["clusters"].as_array().unwrap())
    {
        assert_eq!(a["centroid"], b["centroid"]);
        assert_eq!(a["p_value"], b["p_value"]);
    }
    assert_eq!(csv["class_names"], serde_json::json!(["other", "green"]));
    assert_eq!(csv["model"]["format"], "scores");
    // The green class's cluster is significant and its probes are green; no model ran on real
    // images, so there is no causal test and no "found".
    let green = run(&csv)["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == 1)
        .unwrap()
        .clone();
    assert_eq!(green["significant"], true, "{green}");
    assert!(
        green["description"]["color"]
            .as_str()
            .unwrap()
            .contains("green"),
        "{green}"
    );
    assert!(green["causal"].is_null());
    let finding = &csv["findings"][1];
    assert_eq!(finding["status"], "none");
    assert!(
        finding["reason"]
            .as_str()
            .unwrap()
            .contains("not tested on real images"),
        "{finding}"
    );
}

#[test]
fn bad_scores_are_refused_before_any_work() {
    let inputs = tempfile::tempdir().unwrap();
    let values = probes_and_scores(inputs.path());
    let at = |name: &str| inputs.path().join(name).display().to_string();
    let write = |name: &str, text: &str| std::fs::write(inputs.path().join(name), text).unwrap();
    let csv = std::fs::read_to_string(inputs.path().join("scores.csv")).unwrap();
    let mut lines: Vec<&str> = csv.lines().collect();
    write("missing.csv", &lines[..lines.len() - 1].join("\n"));
    write("extra.csv", &format!("{csv}999999,0.5,0.5\n"));
    let first = lines[1].split(',').next().unwrap().to_string();
    let nan_row = format!("{first},NaN,0.5");
    let over_row = format!("{first},1.5,0.5");
    lines[1] = &nan_row;
    write("nan.csv", &lines.join("\n"));
    lines[1] = &over_row;
    write("over.csv", &lines.join("\n"));
    std::fs::write(
        inputs.path().join("rows.npy"),
        npy(&[values.len() / 2 - 1, 2], &values[2..]),
    )
    .unwrap();
    write("labels.txt", "a\nb\nc\n");
    std::fs::create_dir(inputs.path().join("plain")).unwrap();
    std::fs::copy(
        inputs.path().join("probes/probe-000000.png"),
        inputs.path().join("plain/x.png"),
    )
    .unwrap();
    let probes = at("probes");
    let scores = at("scores.csv");
    let cases: Vec<(Vec<String>, i32, Vec<String>)> = vec![
        (
            vec!["--scores".into(), at("missing.csv")],
            1,
            vec!["missing.csv".into(), "have no scores".into()],
        ),
        (
            vec!["--scores".into(), at("extra.csv")],
            1,
            vec!["extra.csv".into(), "not in the probe folder".into()],
        ),
        (
            vec!["--scores".into(), at("nan.csv")],
            1,
            vec!["nan.csv".into(), "not a probability".into()],
        ),
        (
            vec!["--scores".into(), at("over.csv")],
            1,
            vec!["over.csv".into(), "not a probability".into()],
        ),
        (
            vec!["--scores".into(), at("rows.npy")],
            1,
            vec!["rows.npy".into(), "299 rows".into()],
        ),
        (
            vec![
                "--scores".into(),
                scores.clone(),
                "--labels".into(),
                at("labels.txt"),
            ],
            2,
            vec!["--labels".into(), "3 names for 2 classes".into()],
        ),
        (
            vec!["--scores".into(), at("nowhere.csv")],
            1,
            vec!["nowhere.csv".into()],
        ),
    ];
    for (extra, code, needles) in cases {
        let mut args = vec!["--probes".to_string(), probes.clone()];
        args.extend(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        fails_with(&["audit"], &args, code, &needles);
    }
    // What cannot go with scores, and a folder that has no manifest.
    let model = at("probes"); // any existing path: refused before it is read
    for (args, needles) in [
        (
            vec!["--probes", &probes, "--scores", &scores, "--model", &model],
            vec!["--model"],
        ),
        (
            vec![
                "--probes",
                &probes,
                "--scores",
                &scores,
                "--holdout",
                &probes,
            ],
            vec!["--scores", "--holdout"],
        ),
        (
            vec!["--probes", "solid", "--scores", &scores],
            vec!["--scores", "probe folder"],
        ),
        (
            vec![
                "--probes",
                &probes,
                "--scores",
                &scores,
                "--probes-count",
                "10",
            ],
            vec!["--scores", "--probes-count"],
        ),
        (vec!["--probes", &probes], vec!["--model"]),
    ] {
        fails_with(&["audit"], &args, 2, &needles);
    }
    let plain = at("plain");
    fails_with(
        &["audit"],
        &["--probes", &plain, "--scores", &scores],
        1,
        &["plain", "no manifest.csv"],
    );
    // `spurion probes` itself.
    for (args, needles) in [
        (
            vec!["--family", "solid", "--count", "0", "--size", "8"],
            vec!["--count"],
        ),
        (vec!["--family", "solid", "--size", "0x8"], vec!["--size"]),
        (
            vec!["--family", "plaid", "--size", "8"],
            vec!["--family", "plaid"],
        ),
    ] {
        fails_with(&["probes"], &args, 2, &needles);
    }
}
