//! The whole pipeline at tiny size: real digits, a classifier, probes, a VAE, clustering,
//! results.json.

use std::path::Path;

use spurion::reproduce;
use spurion::{Progress, ReproduceConfig};

fn tiny(out: &Path) -> ReproduceConfig {
    let mut c = ReproduceConfig {
        data: Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-10k"),
        dims: vec![2, 3],
        trials: 2,
        probes: 1500,
        out: out.to_path_buf(),
        ..ReproduceConfig::default()
    };
    c.vae.training = spurion::method::latent::VaeTrainParams::fixed_epochs(4);
    c
}

fn without_timings(path: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let obj = v.as_object_mut().unwrap();
    obj.remove("timings_s");
    // The two runs write to different folders.
    obj["settings"].as_object_mut().unwrap().remove("out");
    v
}

#[test]
fn tiny_reproduce_finds_the_colour_shortcut_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let results = reproduce::run(&tiny(&a), &Progress::hidden()).unwrap();

    assert_eq!(results.trials.len(), 2);
    // The summary's first line names the settings in words.
    let summary = spurion::report::terminal::reproduce(&results);
    let first = summary.lines().next().unwrap();
    assert!(
        first.contains("a plain VAE") && first.contains("encoder means"),
        "{first}"
    );
    for t in &results.trials {
        // Colour is trivially learnable: the classifier gets coloured digits right...
        assert!(
            t.colored_accuracy >= 0.97,
            "coloured accuracy {}",
            t.colored_accuracy
        );
        // ...and follows colour, not shape, when the two disagree.
        assert!(t.swapped_accuracy < 0.5, "{t:?}");
        for r in &t.runs {
            assert!(
                r.acp > r.chance,
                "ACP {} not above chance {}",
                r.acp,
                r.chance
            );
            assert!(r.ceiling >= r.chance);
            assert_eq!(r.clusters.len(), 2);
            // Each cluster's heaviest probes (what its finding reports and the causal test puts
            // in) have the planted colour. Not its decoded prototype: with a plain VAE the
            // class that most probes reach decodes to a washed-out centre of colour space.
            use spurion::method::describe::{Channel, dominant_channel};
            for (cluster, channel) in [(0, Channel::Green), (1, Channel::Blue)] {
                let c = r.clusters[cluster].mask.color;
                assert_eq!(dominant_channel(c), channel, "{cluster}: {c:?}");
            }
            // The paper's method ran beside.
            assert!(r.paper_method.is_some());
            assert!(
                r.clusters
                    .iter()
                    .all(|c| c.p_value.is_some() && c.causal.is_some())
            );
            assert_eq!(r.clusters[0].centroid.len(), r.latent_dim);
        }
    }
    assert_eq!(results.summary.len(), 2);
    assert_eq!(results.paper.len(), 4);

    // results.json carries the documented fields.
    let json = without_timings(&a.join("results.json"));
    for key in ["seed", "trials", "summary", "paper"] {
        assert!(json.get(key).is_some(), "results.json lacks {key}");
    }
    let run = &json["trials"][0]["runs"][0];
    for key in ["latent_dim", "acp", "chance", "ceiling", "normalized_acp"] {
        assert!(run.get(key).is_some(), "run lacks {key}");
    }

    // Same seed, same results (timings aside).
    reproduce::run(&tiny(&b), &Progress::hidden()).unwrap();
    assert_eq!(json, without_timings(&b.join("results.json")));
}
