//! The benchmark as the table it prints and writes to benchmark.txt.

use super::*;
use crate::method::Status;

/// The benchmark as a table: one row per method, then each planted case's finding.
pub fn format_table(r: &BenchmarkResults) -> String {
    use std::fmt::Write;
    let pct = |x: f64| {
        if x.is_nan() {
            "-".to_string()
        } else {
            format!("{:.0}%", 100.0 * x)
        }
    };
    let num = |x: Option<f64>| x.map_or("-".into(), |e| format!("{e:+.2}"));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<24} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>9} {:>9} {:>7}",
        "method",
        "recovered",
        "learned",
        "colour",
        "corner",
        "false",
        "clean",
        "corner",
        "corner",
        "corner",
        "classes"
    );
    let _ = writeln!(
        s,
        "{:<24} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>9} {:>9} {:>7}",
        "", "", "", ">=95%", ">=95%", "findings", "nothing", "> null", "controls", "ctrl. CI", ""
    );
    for m in &r.summary {
        let _ = writeln!(
            s,
            "{:<24} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>9} {:>9} {:>7}",
            m.method.name(),
            pct(m.recovery_rate),
            format!("{} of {}", pct(m.recovery_rate_learned), m.planted_learned),
            pct(m.recovery_rate_colour_95),
            pct(m.recovery_rate_corner_95),
            pct(m.false_finding_rate),
            pct(m.clean_models_nothing_found),
            pct(m.corner_effect_above_null),
            pct(m.corner_controls_inside_null),
            pct(m.corner_controls_not_above_null),
            m.cases
        );
    }
    let _ = writeln!(
        s,
        "\nlearned: recovered, of the planted cases whose model learned the shortcut (pasted in, \
         it raises the class's probability by {LEARNED} or more); clean nothing: models with \
         nothing planted where every class got \"no shortcut found\"; \
         corner > null: the corner mark's effect above the null's 95th percentile; corner \
         controls: its mirrored and colour-swapped controls both at or below it; ctrl. CI: \
         neither control's 95% interval wholly above it.\n"
    );
    // Shortcuts recovered, each counted on its own, per method and case kind.
    let _ = writeln!(
        s,
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "method", "shortcuts", "new kinds", "two per", "both", "one shown"
    );
    let _ = writeln!(
        s,
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "", "recalled", "recalled", "class", "recovered", "as two"
    );
    for m in &r.summary {
        let _ = writeln!(
            s,
            "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9}",
            m.method.name(),
            pct(m.shortcut_recall),
            pct(m.shortcut_recall_new),
            pct(m.shortcut_recall_multi),
            pct(m.both_recovered),
            pct(m.split_classes)
        );
    }
    let kinds: Vec<CaseKind> = r
        .summary
        .first()
        .map(|m| m.by_kind.iter().map(|k| k.kind).collect())
        .unwrap_or_default();
    let _ = write!(s, "\n{:<22}", "shortcuts by kind");
    for m in &r.summary {
        let _ = write!(s, " {:>23}", m.method.name());
    }
    let _ = writeln!(s);
    for k in kinds {
        let _ = write!(s, "{:<22}", k.name());
        for m in &r.summary {
            let cell = m
                .by_kind
                .iter()
                .find(|x| x.kind == k)
                .map_or("-".to_string(), |x| {
                    format!("{} of {}", x.recovered, x.planted)
                });
            let _ = write!(s, " {cell:>23}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "\nshortcuts recalled: planted shortcuts recovered, each counted on its own (a \
         conjunction as one): named by one of the class's drivers while no driver of the class \
         names none of its shortcuts; new kinds: stamps, two shortcuts in one class, \
         conjunctions; two per class: the classes with two shortcuts; both recovered: those \
         classes with both; one shown as two: planted classes in which one shortcut is shown by \
         more than one driver (one colour reported as two hues, say), which recall does not \
         count against.\n"
    );
    let _ = writeln!(
        s,
        "{:<40} {:<23} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>4}",
        "planted case",
        "method",
        "status",
        "effect",
        "null95",
        "flips",
        "null95",
        "mirror",
        "swap",
        "truth",
        "rec."
    );
    for c in r.cases.iter().filter(|c| c.kind == "planted") {
        let _ = writeln!(
            s,
            "{:<40} {:<23} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>4}",
            c.name,
            c.method.name(),
            match c.status {
                Status::Found => "found",
                Status::None => "none",
            },
            num(c.causal_effect),
            num(c.causal_null_p95),
            c.causal_flips.map_or("-".into(), pct),
            c.causal_null_flips_p95.map_or("-".into(), pct),
            num(c.mirrored_effect),
            num(c.swapped_effect),
            num(c.positive_control),
            match c.recovered {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            }
        );
    }
    let _ = writeln!(
        s,
        "\neffect: mean change of the planted class's probability when the finding's heaviest \
         probes go into held-out digits; null95: the 95th percentile of as many random probes; \
         flips: share of other digits turned into the class; mirror/swap: the probes mirrored \
         or with colours swapped; truth: the planted shortcut itself pasted in (positive \
         control).\n\n{:.0} s",
        r.seconds
    );
    s
}
