//! The report a person opens and the files a program reads, from one tiny run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use spurion::report::npz;
use spurion::reproduce;
use spurion::results::ReproduceResults;
use spurion::{Progress, ReproduceConfig};

struct Run {
    _dir: tempfile::TempDir,
    out: PathBuf,
    results: ReproduceResults,
}

/// One tiny `reproduce` shared by the tests of this file.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut c = ReproduceConfig {
            data: Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-10k"),
            dims: vec![2, 3],
            trials: 2,
            probes: 1200,
            out: out.clone(),
            ..ReproduceConfig::default()
        };
        c.vae.training = spurion::method::latent::VaeTrainParams::fixed_epochs(3);
        let results = reproduce::run(&c, &Progress::hidden()).unwrap();
        Run {
            _dir: dir,
            out,
            results,
        }
    })
}

/// Is `var` set (CI sets it so that tests needing system tools cannot be skipped)?
fn required() -> bool {
    std::env::var_os("SPURION_REQUIRE_SYSTEM_DATA").is_some()
}

#[test]
fn report_is_self_contained() {
    let html = std::fs::read_to_string(run().out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "report has scripts");
    assert!(!html.contains("<link"), "report links external files");
    // Nothing to fetch: the only URL is the SVG namespace name.
    let urls = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!urls.contains("http://") && !urls.contains("https://"));
    let imgs: Vec<&str> = html.split("<img ").skip(1).collect();
    assert!(imgs.len() >= 10, "only {} images", imgs.len());
    for tag in imgs {
        let src = tag.split("src=\"").nth(1).unwrap();
        assert!(
            src.starts_with("data:image/png;base64,"),
            "{}",
            &src[..40.min(src.len())]
        );
    }
    assert!(html.contains("<svg"), "Table-1 chart missing");
    // The verdict opens the page, one finding per class, as results.json has them.
    let body = html.split("<body>").nth(1).unwrap();
    let verdict = body.split("<h2>").next().unwrap();
    // (from trial 0 at the latent dimension with the best mean ACP)
    let r = &run().results;
    let best = (0..r.summary.len())
        .max_by(|&a, &b| r.summary[a].acp_mean.total_cmp(&r.summary[b].acp_mean))
        .unwrap();
    let findings = &r.trials[0].runs[best].findings;
    assert_eq!(findings.len(), 2);
    let found = findings
        .iter()
        .filter(|f| f.status == spurion::method::Status::Found)
        .count();
    assert_eq!(verdict.matches("is driven by a shortcut").count(), found);
    assert_eq!(
        verdict.matches("Nothing found for class").count(),
        2 - found
    );
    assert!(html.contains("Seed <b>0</b>"));
}

#[test]
fn class_names_are_escaped() {
    let r = run();
    let mut results = r.results.clone();
    let hostile = "<img src=x onerror=alert(1)>";
    results.class_names[1] = hostile.to_string();
    for t in &mut results.trials {
        for run in &mut t.runs {
            for c in &mut run.clusters {
                if c.class == 1 {
                    c.class_name = hostile.to_string();
                }
            }
        }
    }
    let html = spurion::report::html::reproduce(&results, &r.out).unwrap();
    assert!(!html.contains(hostile), "raw class name in the page");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[test]
fn npz_and_csv_match_the_results() {
    let r = run();
    let trial = &r.results.trials[0];
    let result = &trial.runs[1];
    let bytes = std::fs::read(r.out.join(&result.files.latents_npz)).unwrap();
    let arrays = npz::decode(&bytes).unwrap();
    let get = |name: &str| arrays.iter().find(|a| a.0 == name).unwrap();
    let n = 1200;
    assert_eq!(get("latents").1, vec![n, result.latent_dim]);
    assert_eq!(get("probabilities").1, vec![n, 2]);
    assert_eq!(get("clusters").1, vec![n]);
    assert_eq!(get("centroids").1, vec![2, result.latent_dim]);
    assert_eq!(get("projection").1, vec![n, 2]);
    // Centroids are the report's centroids.
    for (j, c) in result.clusters.iter().enumerate() {
        for (d, &v) in c.centroid.iter().enumerate() {
            assert_eq!(get("centroids").2[j * result.latent_dim + d], v as f64);
        }
    }
    // Cluster sizes and mean probabilities, on the held-out probes, agree with the scores.
    let clusters = &get("clusters").2;
    let probs = &get("probabilities").2;
    let held = &get("held_out").2;
    assert_eq!(
        held.iter().filter(|&&h| h == 1.0).count(),
        result.probes_held_out
    );
    for (j, c) in result.clusters.iter().enumerate() {
        let members: Vec<usize> = (0..n)
            .filter(|&i| clusters[i] == j as f64 && held[i] == 1.0)
            .collect();
        assert_eq!(members.len(), c.size);
        let mean = members.iter().map(|&i| probs[i * 2 + c.class]).sum::<f64>() / c.size as f64;
        assert!((mean - c.mean_probability.unwrap()).abs() < 1e-6);
    }
    for (cl, m) in trial.probe_mean_probability.iter().enumerate() {
        let mean = (0..n).map(|i| probs[i * 2 + cl]).sum::<f64>() / n as f64;
        assert!((mean - m).abs() < 1e-6);
    }
    // probes.csv: same probabilities and clusters, row by row.
    let csv = std::fs::read_to_string(r.out.join(&result.files.probes_csv)).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,p_0,p_1,cluster,cluster_class,weight,x,y,part"
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), n);
    let proj = &get("projection").2;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], i.to_string());
        for c in 0..2 {
            let p: f64 = row[1 + c].parse::<f32>().unwrap() as f64;
            assert_eq!(p, probs[i * 2 + c]);
        }
        assert_eq!(row[3].parse::<f64>().unwrap(), clusters[i]);
        let part = if held[i] == 1.0 { "held-out" } else { "fit" };
        assert_eq!(row[8], part);
        let owner = row[4].parse::<usize>().unwrap();
        let w: f32 = row[5].parse().unwrap();
        assert!((w as f64 - probs[i * 2 + owner].powi(2)).abs() < 1e-5);
        assert_eq!(row[6].parse::<f32>().unwrap() as f64, proj[i * 2]);
    }
}

#[test]
fn numpy_reads_the_npz() {
    let ok = Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !required(),
            "python3 with numpy is needed (pip install numpy)"
        );
        eprintln!("skipped: python3 with numpy not available");
        return;
    }
    let r = run();
    let path = r.out.join(&r.results.trials[0].runs[0].files.latents_npz);
    let out = Command::new("python3")
        .args([
            "-c",
            "import numpy, sys; d = numpy.load(sys.argv[1]); \
             print(d['latents'].shape, d['probabilities'].dtype, int(d['clusters'].max()), d['centroids'].shape)",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.trim(), "(1200, 2) float32 1 (2, 2)");
}

#[test]
fn saved_models_load_back() {
    let r = run();
    let t = &r.results.trials[0];
    use spurion::ProbabilityModel;
    let device = spurion::ComputeDevice::Cpu.device().unwrap();
    let classifier =
        spurion::model::Checkpoint::load(&r.out.join(&t.classifier_weights), &device).unwrap();
    assert_eq!(classifier.class_names(), ["0", "1"]);
    // The saved VAE decodes the saved centroids into the prototypes the report shows.
    let run = &t.runs[0];
    let vae = spurion::TrainedVae::load(
        &r.out.join(run.files.vae_weights.as_ref().unwrap()),
        &r.out.join(run.files.vae_config.as_ref().unwrap()),
        &device,
    )
    .unwrap();
    assert_eq!(vae.config().latent_dim, 2);
    let centroids: Vec<f32> = run
        .clusters
        .iter()
        .flat_map(|c| c.centroid.clone())
        .collect();
    let decoded = vae.decode(&centroids).unwrap();
    let shown = run.data.as_ref().unwrap().prototypes();
    assert_eq!(decoded.data.len(), shown.data.len());
    for (a, b) in decoded.data.iter().zip(&shown.data) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(!required(), "chromium is needed (apt-get install chromium)");
        eprintln!("skipped: chromium not installed");
        return;
    };
    let r = run();
    let dir = tempfile::tempdir().unwrap();
    // A copy of the report with a probe script that reports broken images and fetches.
    let html = std::fs::read_to_string(r.out.join("report.html")).unwrap();
    let probe = "<script>window.addEventListener('load', () => { \
        const imgs = [...document.images]; \
        const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).length; \
        const fetched = performance.getEntriesByType('resource').length; \
        document.title = `images=${imgs.length} broken=${broken} fetched=${fetched}`; });</script>";
    let probed = dir.path().join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{probe}</body>"))).unwrap();
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ];
    let profile = format!("--user-data-dir={}", dir.path().join("profile").display());
    let out = Command::new(browser)
        .args(common)
        .arg(&profile)
        .arg("--virtual-time-budget=5000")
        .arg("--dump-dom")
        .arg(format!("file://{}", probed.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let title = dom
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap_or_default()
        .to_string();
    let images = html.matches("<img ").count();
    assert_eq!(
        title,
        format!("images={images} broken=0 fetched=0"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // And a screenshot of the report itself.
    let shot = dir.path().join("report.png");
    let out = Command::new(browser)
        .args(common)
        .arg(&profile)
        .arg("--window-size=1200,2400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", r.out.join("report.html").display()))
        .output()
        .unwrap();
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "{} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("SPURION_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
