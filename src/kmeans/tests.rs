use super::*;
use rand::SeedableRng;

#[derive(serde::Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    dim: usize,
    k: usize,
    points: Vec<f32>,
    weights: Vec<f32>,
    init: Option<Vec<f32>>,
    centroids: Vec<f64>,
    inertia: f64,
    labels: Vec<usize>,
}

/// Numbers written by `scripts/kmeans_reference.py` (scikit-learn's weighted KMeans).
fn reference() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kmeans_reference.json"
    );
    let r: Reference = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    r.cases
}

fn rng() -> Rng {
    Rng::seed_from_u64(7)
}

fn strict(k: usize) -> KMeansParams {
    KMeansParams {
        k,
        restarts: 10,
        max_iter: 1000,
        tolerance: 1e-10,
    }
}

/// Matches our centroids to the reference's (order may differ) and returns the largest error.
fn centroid_error(fit: &KMeansFit, case: &Case) -> f64 {
    let mut worst = 0.0f64;
    for j in 0..case.k {
        let ours = fit.centroid(j);
        let best = (0..case.k)
            .map(|r| {
                let refc = &case.centroids[r * case.dim..(r + 1) * case.dim];
                ours.iter()
                    .zip(refc)
                    .map(|(&a, &b)| (a as f64 - b).abs())
                    .fold(0.0, f64::max)
            })
            .fold(f64::INFINITY, f64::min);
        worst = worst.max(best);
    }
    worst
}

#[test]
fn matches_scikit_learn_from_the_same_start() {
    for case in reference().iter().filter(|c| c.init.is_some()) {
        let fit = strict(case.k)
            .fit_from(
                &case.points,
                case.dim,
                &case.weights,
                case.init.as_ref().unwrap(),
            )
            .unwrap();
        // Same start, same order: centroids correspond one to one.
        for (a, b) in fit.centroids.iter().zip(&case.centroids) {
            assert!((*a as f64 - b).abs() < 1e-5, "{}: {a} vs {b}", case.name);
        }
        let rel = (fit.inertia - case.inertia).abs() / case.inertia;
        assert!(
            rel < 1e-5,
            "{}: inertia {} vs {}",
            case.name,
            fit.inertia,
            case.inertia
        );
        assert_eq!(fit.labels, case.labels, "{}", case.name);
    }
}

#[test]
fn finds_scikit_learns_weighted_optimum_with_kmeanspp() {
    for case in reference().iter().filter(|c| c.init.is_none()) {
        let fit = strict(case.k)
            .fit(&case.points, case.dim, &case.weights, &mut rng())
            .unwrap();
        let rel = (fit.inertia - case.inertia).abs() / case.inertia;
        assert!(
            rel < 1e-5,
            "{}: inertia {} vs {}",
            case.name,
            fit.inertia,
            case.inertia
        );
        let err = centroid_error(&fit, case);
        assert!(err < 1e-4, "{}: centroid error {err}", case.name);
    }
}

#[test]
fn one_cluster_is_the_weighted_mean() {
    let points = [0.0f32, 0.0, 2.0, 0.0, 0.0, 4.0];
    let weights = [1.0f32, 3.0, 0.0];
    let fit = KMeansParams::new(1)
        .fit(&points, 2, &weights, &mut rng())
        .unwrap();
    assert_eq!(fit.centroids, vec![1.5, 0.0]);
    assert_eq!(fit.cluster_weights, vec![4.0]);
}

#[test]
fn same_seed_same_result() {
    let case = &reference()[1];
    let a = strict(case.k)
        .fit(&case.points, case.dim, &case.weights, &mut rng())
        .unwrap();
    let b = strict(case.k)
        .fit(&case.points, case.dim, &case.weights, &mut rng())
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn empty_cluster_is_reseeded() {
    // Two starting centroids far from all data: one captures everything at first, the other
    // must be moved onto the data rather than left empty.
    let points = [0.0f32, 0.1, 0.2, 10.0, 10.1, 10.2];
    let weights = [1.0f32; 6];
    let fit = strict(2)
        .fit_from(&points, 1, &weights, &[5.0, 100.0])
        .unwrap();
    assert!(fit.cluster_weights.iter().all(|&w| w > 0.0), "{fit:?}");
    let mut c = fit.centroids.clone();
    c.sort_by(f32::total_cmp);
    assert!(
        (c[0] - 0.1).abs() < 1e-5 && (c[1] - 10.1).abs() < 1e-5,
        "{c:?}"
    );
}

#[test]
fn k_larger_than_points_is_rejected() {
    let e = KMeansParams::new(4).fit(&[0.0, 1.0], 1, &[1.0, 1.0], &mut rng());
    assert_eq!(e, Err(KMeansError::KExceedsSamples { k: 4, n: 2 }));
}

#[test]
fn too_few_weighted_points_are_rejected() {
    let e = KMeansParams::new(2).fit(&[0.0, 1.0, 2.0], 1, &[1.0, 0.0, 0.0], &mut rng());
    assert_eq!(
        e,
        Err(KMeansError::TooFewWeightedPoints { k: 2, positive: 1 })
    );
}

#[test]
fn nan_weight_is_rejected() {
    let e = KMeansParams::new(1).fit(&[0.0, 1.0], 1, &[1.0, f32::NAN], &mut rng());
    assert!(matches!(
        e,
        Err(KMeansError::InvalidWeight { index: 1, .. })
    ));
}

#[test]
fn negative_weight_is_rejected() {
    let e = KMeansParams::new(1).fit(&[0.0, 1.0], 1, &[-1.0, 1.0], &mut rng());
    assert!(matches!(
        e,
        Err(KMeansError::InvalidWeight { index: 0, .. })
    ));
}

#[test]
fn non_finite_point_is_rejected() {
    let e = KMeansParams::new(1).fit(&[0.0, f32::INFINITY], 1, &[1.0, 1.0], &mut rng());
    assert_eq!(e, Err(KMeansError::NonFiniteData { index: 1 }));
}

#[test]
fn shape_mismatch_is_rejected() {
    let e = KMeansParams::new(1).fit(&[0.0, 1.0, 2.0], 2, &[1.0, 1.0], &mut rng());
    assert!(matches!(e, Err(KMeansError::ShapeMismatch(_))));
}

#[test]
fn zero_dimension_is_rejected() {
    let e = KMeansParams::new(1).fit(&[], 0, &[1.0], &mut rng());
    assert_eq!(e, Err(KMeansError::ZeroDimension));
}
