//! probes.csv: one row per probe (`id`, `p_<class>` per class, its `cluster`, the cluster's
//! `cluster_class`, the probe's `weight` in that class's k-means, `x`, `y` of the 2-D view,
//! and its `part`: `fit` (the clusters were fitted on it) or `held-out` (the scores are).

use std::fmt::Write as _;

use crate::results::RunData;

/// Quotes a CSV field when it needs it.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV text of one run's probes.
pub fn probes_csv(d: &RunData) -> String {
    let n = d.probs.count();
    let (s, a) = (&d.shortcuts, &d.analysis);
    let mut csv = String::with_capacity(n * 64);
    csv.push_str("id");
    for name in &d.class_names {
        csv.push(',');
        csv.push_str(&field(&format!("p_{name}")));
    }
    csv.push_str(",cluster,cluster_class,weight,x,y,part\n");
    for (i, p) in a.xy.iter().enumerate() {
        let j = a.assignment[i];
        let owner = s.owners[j];
        let _ = write!(csv, "{i}");
        for c in 0..d.class_names.len() {
            let _ = write!(csv, ",{}", d.probs.get(i, c));
        }
        let _ = writeln!(
            csv,
            ",{j},{},{},{},{},{}",
            field(&d.class_names[owner]),
            a.class_weights[owner][i],
            p[0] as f32,
            p[1] as f32,
            if a.held_out[i] { "held-out" } else { "fit" }
        );
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(field("cat"), "cat");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
