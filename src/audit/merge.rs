//! The findings of an audit with several probe sets, merged into one per class: the first
//! set that found the class driven speaks for it, and the drivers the other sets found beside
//! it are added where they show another pattern.

use crate::config::ProbeChoice;
use crate::method::verdict::{merge_drivers, more_drivers_in_words};
use crate::method::{Finding, Status};
use crate::results::AuditRun;

/// The name of each probe set's run (its family, or "folder"), made unique by a number where
/// two sets share one ("folder", "folder-2"): each run writes its files in `probes-<name>/`
/// and findings name their run by it.
pub(super) fn run_names(probes: &[ProbeChoice], count: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(count);
    for k in 0..count {
        let base = match probes.get(k) {
            Some(ProbeChoice::Family(f)) => f.name(),
            _ => "folder",
        };
        let mut name = base.to_string();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        names.push(name);
    }
    names
}

/// Per class, the finding of the first family that found something, with the drivers the
/// other families found beside its own; else the finding of the family that reached the class
/// best, its reason naming every family tried.
pub(super) fn merge_findings(class_names: &[String], runs: &[AuditRun]) -> Vec<Finding> {
    (0..class_names.len())
        .filter_map(|c| {
            let of = |r: &AuditRun| {
                r.run
                    .findings
                    .get(c)
                    .cloned()
                    .map(|f| (r.family.clone(), f))
            };
            let found = runs
                .iter()
                .filter_map(of)
                .find(|(_, f)| f.status == Status::Found);
            let (family, mut f) = found.or_else(|| {
                runs.iter().filter_map(of).max_by(|a, b| {
                    a.1.reach
                        .share_above_half
                        .total_cmp(&b.1.reach.share_above_half)
                })
            })?;
            for d in &mut f.drivers {
                d.probes = Some(family.clone());
            }
            // The other families' drivers of the class, where they show another pattern; the
            // reason already names the family's own.
            let own = f.drivers.len().max(1);
            for r in runs.iter().filter(|r| r.family != family) {
                if let Some((other, g)) = of(r).filter(|(_, g)| g.status == Status::Found) {
                    let more = g
                        .drivers
                        .into_iter()
                        .map(|mut d| {
                            d.probes = Some(other.clone());
                            d
                        })
                        .collect();
                    merge_drivers(&mut f.drivers, more);
                }
            }
            if let Some(more) = f.drivers.get(own..) {
                let words = more_drivers_in_words(&f.class_name, more);
                f.reason.push_str(&words);
            }
            if runs.len() > 1 {
                f.reason = format!("{} (probes: {family})", f.reason);
            }
            f.probes = Some(family);
            Some(f)
        })
        .collect()
}
