//! The command line as a user meets it: exit codes and one-line errors that name the flag or
//! file, and no output left behind by a failed run.

use std::path::Path;
use std::process::Command;

use crate::common;
use common::{ok, spurion};

/// One bad input to `reproduce`: how to make it (files in a scratch folder, and the arguments
/// naming them), the exit code, and what the one-line error must say.
struct Row {
    make: fn(&Path) -> Vec<String>,
    code: i32,
    needles: &'static [&'static str],
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// An IDX pair in `dir` from the shipped sample, its image file replaced by `images`.
fn idx_pair_with_images(dir: &Path, name: &str, images: &[u8]) -> Vec<String> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-10k");
    std::fs::write(dir.join(name), images).unwrap();
    let labels = if name.ends_with(".gz") {
        "labels-idx1-ubyte.gz"
    } else {
        "labels-idx1-ubyte"
    };
    std::fs::copy(shipped.join("labels-idx1-ubyte.gz"), dir.join(labels)).unwrap();
    args(&["--data", dir.to_str().unwrap()])
}

const ROWS: &[Row] = &[
    Row {
        make: |_| args(&["--device", "cuda"]),
        code: 2,
        needles: &["--device", "--features cuda"],
    },
    Row {
        make: |_| args(&["--k", "0"]),
        code: 2,
        needles: &["--k", "positive"],
    },
    Row {
        make: |_| args(&["--probes", "10", "--k", "11"]),
        code: 2,
        needles: &["--k", "larger than the number of probes"],
    },
    Row {
        make: |_| args(&["--dims", "2,0"]),
        code: 2,
        needles: &["--dims", "at least 1"],
    },
    Row {
        make: |_| args(&["--latent", "median"]),
        code: 2,
        needles: &["--latent", "mean", "sample"],
    },
    Row {
        make: |_| args(&["--colors", "green,teal"]),
        code: 2,
        needles: &["--colors", "teal"],
    },
    Row {
        make: |_| args(&["--data", "/nonexistent/mnist"]),
        code: 1,
        needles: &["/nonexistent/mnist"],
    },
    Row {
        make: |_| args(&["--classes", "0,42"]),
        code: 1,
        needles: &["class 42 has no samples"],
    },
    Row {
        make: |d| {
            let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-10k");
            let img = std::fs::read(shipped.join("images-idx3-ubyte.gz")).unwrap();
            idx_pair_with_images(d, "images-idx3-ubyte.gz", &img[..img.len() / 3])
        },
        code: 1,
        needles: &["images-idx3-ubyte.gz", "corrupt gzip stream"],
    },
    Row {
        make: |d| idx_pair_with_images(d, "images-idx3-ubyte", b"hello, world"),
        code: 1,
        needles: &["images-idx3-ubyte", "not an IDX file"],
    },
];

#[test]
fn bad_input_is_refused_with_one_line_naming_it() {
    for row in ROWS {
        let scratch = tempfile::tempdir().unwrap();
        let a = (row.make)(scratch.path());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        common::fails_with(&["reproduce", "--quiet"], &a, row.code, row.needles);
    }
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
/// then checks that no report exists under the final name. A run that can catch the signal
/// removes its staging folder itself; after SIGKILL, a rerun must complete and clean up the
/// interrupted run's staging folder.
fn interrupted_run_leaves_no_report(signal: &str) {
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
        return;
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
    interrupted_run_leaves_no_report("KILL");
}

#[test]
fn ctrl_c_leaves_no_report_nor_staging_folder() {
    interrupted_run_leaves_no_report("INT");
}

#[test]
fn sigterm_leaves_no_report_nor_staging_folder() {
    interrupted_run_leaves_no_report("TERM");
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
fn benchmark_refuses_an_output_that_is_a_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"mine").unwrap();
    let out = spurion(
        &["benchmark", "--quick", "--out", file.to_str().unwrap()],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(1 | 2)), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("notes.txt") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn benchmark_only_matching_no_case_is_a_usage_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = spurion(
        &["benchmark", "--only", "zebra-stripes", "--out", "bench"],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--only") && stderr.contains("zebra-stripes"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
