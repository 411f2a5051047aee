//! The command line as a user meets it: exit codes and one-line errors that name the flag or
//! file, and no output left behind by a failed run.

use std::path::Path;
use std::process::Command;

mod common;
use common::{ok, spurion};

/// Runs `reproduce` with `args` in a fresh folder and checks the failure.
fn fails(args: &[&str], code: i32, needles: &[&str]) {
    common::fails_with(&["reproduce", "--quiet"], args, code, needles);
}

#[test]
fn k_of_zero_is_a_usage_error() {
    fails(&["--k", "0"], 2, &["--k", "positive"]);
}

#[test]
fn k_larger_than_the_probes_is_a_usage_error() {
    fails(
        &["--probes", "10", "--k", "11"],
        2,
        &["--k", "larger than the number of probes"],
    );
}

#[test]
fn latent_dim_of_zero_is_a_usage_error() {
    fails(&["--dims", "2,0"], 2, &["--dims", "at least 1"]);
}

#[test]
fn unknown_flag_value_is_a_usage_error() {
    fails(&["--latent", "median"], 2, &["--latent", "mean", "sample"]);
}

#[test]
fn unknown_colour_is_a_usage_error() {
    fails(&["--colors", "green,teal"], 2, &["--colors", "teal"]);
}

#[test]
fn missing_data_names_the_path() {
    fails(
        &["--data", "/nonexistent/mnist"],
        1,
        &["/nonexistent/mnist"],
    );
}

#[test]
fn class_without_samples_is_named() {
    fails(&["--classes", "0,42"], 1, &["class 42 has no samples"]);
}

#[test]
fn truncated_idx_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-10k");
    let img = std::fs::read(shipped.join("images-idx3-ubyte.gz")).unwrap();
    std::fs::write(
        dir.path().join("images-idx3-ubyte.gz"),
        &img[..img.len() / 3],
    )
    .unwrap();
    std::fs::copy(
        shipped.join("labels-idx1-ubyte.gz"),
        dir.path().join("labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    fails(
        &["--data", &data],
        1,
        &["images-idx3-ubyte.gz", "corrupt gzip stream"],
    );
}

#[test]
fn non_idx_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("images-idx3-ubyte"), b"hello, world").unwrap();
    std::fs::write(dir.path().join("labels-idx1-ubyte"), b"hello, world").unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    fails(
        &["--data", &data],
        1,
        &["images-idx3-ubyte", "not an IDX file"],
    );
}

#[test]
fn help_exits_zero() {
    let out = spurion(&["reproduce", "--help"], Path::new("."));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--dims"));
}

/// Fashion-MNIST from Debian's `dataset-fashion-mnist`; CI installs it and sets
/// SPURION_REQUIRE_SYSTEM_DATA=1 so that this test cannot be skipped there.
fn fashion_mnist() -> Option<&'static Path> {
    let p = Path::new("/usr/share/datasets/fashion-mnist");
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        std::env::var_os("SPURION_REQUIRE_SYSTEM_DATA").is_none(),
        "{} is missing: apt-get install dataset-fashion-mnist",
        p.display()
    );
    eprintln!("skipped: {} not installed", p.display());
    None
}

#[test]
fn reproduce_runs_on_fashion_mnist_and_writes_results() {
    let Some(data) = fashion_mnist() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = spurion(
        &[
            "reproduce",
            "--quiet",
            "--data",
            data.to_str().unwrap(),
            "--trials",
            "1",
            "--dims",
            "2",
            "--probes",
            "600",
            "--vae-epochs",
            "2",
            "--out",
            "res",
        ],
        dir.path(),
    );
    let stdout = ok(&out);
    assert!(stdout.contains("52.7%"), "paper's table missing: {stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("res/results.json")).unwrap())
            .unwrap();
    // Train split of the 60,000 training images: T-shirts (0) and trousers (1).
    assert!(json["trials"][0]["colored_accuracy"].as_f64().unwrap() > 0.95);
    assert!(
        json["settings"]["data"]
            .as_str()
            .unwrap()
            .contains("fashion-mnist")
    );
}

/// Starts a small sweep, sends it `signal` (a `kill` signal name) once it has begun writing,
/// then checks that no report exists under the final name and that a rerun completes and
/// cleans up the interrupted run's staging folder.
fn interrupted_run_leaves_no_report_and_rerun_works(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "reproduce",
        "--quiet",
        "--trials",
        "3",
        "--dims",
        "2",
        "--probes",
        "800",
        "--vae-epochs",
        "2",
        "--out",
        "res",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_spurion"))
        .args(args)
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    // Wait until the run has written something, then kill -9 it.
    let started = std::time::Instant::now();
    let staging_has_files = || {
        std::fs::read_dir(dir.path()).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with(".res.partial-")
                && std::fs::read_dir(e.path()).is_ok_and(|mut d| d.next().is_some())
        })
    };
    while !staging_has_files() && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(staging_has_files(), "the run never started writing");
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} failed");
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the run finished before SIG{signal} reached it"
    );
    assert!(
        !dir.path().join("res").exists(),
        "a run stopped by SIG{signal} left a report"
    );
    if signal != "KILL" {
        // A signal it can catch: it removes its staging folder on the way out.
        let staged: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(staged.is_empty(), "SIG{signal} left {staged:?}");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::into_raw(status) >> 8,
            128 + if signal == "INT" { 2 } else { 15 },
            "exit status after SIG{signal}"
        );
    }

    let out = spurion(&args, dir.path());
    ok(&out);
    assert!(dir.path().join("res/report.html").exists());
    assert!(dir.path().join("res/results.json").exists());
    // The killed run's staging folder is gone.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "res")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn killed_run_leaves_no_report_and_rerun_works() {
    interrupted_run_leaves_no_report_and_rerun_works("KILL");
}

#[test]
fn ctrl_c_leaves_no_report_and_rerun_works() {
    interrupted_run_leaves_no_report_and_rerun_works("INT");
}

#[test]
fn sigterm_leaves_no_report_and_rerun_works() {
    interrupted_run_leaves_no_report_and_rerun_works("TERM");
}

#[test]
fn same_seed_writes_byte_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "reproduce",
        "--quiet",
        "--no-timings",
        "--trials",
        "2",
        "--dims",
        "2,3",
        "--probes",
        "600",
        "--vae-epochs",
        "2",
        "--permutations",
        "99",
        "--out",
        "res",
    ];
    let out = spurion(&args, dir.path());
    ok(&out);
    let first = std::fs::read(dir.path().join("res/results.json")).unwrap();
    std::fs::rename(dir.path().join("res"), dir.path().join("first")).unwrap();
    let out = spurion(&args, dir.path());
    ok(&out);
    let second = std::fs::read(dir.path().join("res/results.json")).unwrap();
    assert!(!String::from_utf8_lossy(&first).contains("timings_s"));
    assert!(
        first == second,
        "results.json differs between two runs with the same seed"
    );
}

#[test]
fn cuda_without_the_feature_is_a_usage_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    fails(&["--device", "cuda"], 2, &["--device", "--features cuda"]);
}
