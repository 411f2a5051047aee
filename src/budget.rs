//! Memory a run will need, checked before it starts.
//!
//! A size or count that cannot fit (`--probes-count 100000000000`, `--input-size
//! 100000x100000`, `--vae-size 2000`) would otherwise abort on allocation in the middle of a
//! run. Each command estimates its largest buffers from its settings, in floating point so
//! that no product overflows, and compares each with the memory the machine has available;
//! the error names the flag that asked for it.

use crate::error::{Error, Result};

/// Bytes of one `f32`.
pub const F32: f64 = 4.0;

/// The memory a run may use.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Bytes available; `None` where the machine does not say (then only the address-space
    /// limit applies).
    pub available: Option<f64>,
}

impl Budget {
    /// Largest allocation the types allow (`isize::MAX` bytes).
    const ADDRESS_SPACE: f64 = isize::MAX as f64;

    /// What this machine has available now: `MemAvailable` from /proc/meminfo on Linux.
    pub fn of_machine() -> Self {
        let available = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("MemAvailable:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map(|kib| kib * 1024.0);
        Budget { available }
    }

    /// Checks that `bytes` fit; the error names `flag` and says what needs them (`what`, for
    /// example "10000 probes as 2000x2000 thumbnails").
    pub fn need(&self, flag: &'static str, bytes: f64, what: impl std::fmt::Display) -> Result<()> {
        let limit = self.available.unwrap_or(Self::ADDRESS_SPACE);
        if bytes.is_finite() && bytes <= limit.min(Self::ADDRESS_SPACE) {
            return Ok(());
        }
        Err(Error::param(
            flag,
            format!(
                "{what} would take about {} of memory, but {} available",
                human(bytes),
                match self.available {
                    Some(a) => format!("this machine has {}", human(a)),
                    None => format!("at most {} can be", human(Self::ADDRESS_SPACE)),
                }
            ),
        ))
    }

    /// Checks that `bytes` fit for reading `path`; the error names the file.
    pub fn need_for_file(
        &self,
        path: &std::path::Path,
        bytes: f64,
        what: impl std::fmt::Display,
    ) -> Result<()> {
        self.need("data", bytes, &what)
            .map_err(|e| Error::data(path, e.detail()))
    }

    /// Checks every term, then their sum; the sum's error names the largest term's flag.
    pub fn need_all(&self, terms: &[(&'static str, f64, String)]) -> Result<()> {
        for (flag, bytes, what) in terms {
            self.need(flag, *bytes, what)?;
        }
        let total: f64 = terms.iter().map(|t| t.1).sum();
        let largest = terms.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        match largest {
            Some((flag, _, what)) => {
                self.need(flag, total, format!("{what} and the rest of the run"))
            }
            None => Ok(()),
        }
    }
}

/// Bytes a VAE of thumbnails of side `size` (3 channels) needs to train: weights, gradients
/// and Adam's two moments, plus a batch of activations.
pub fn vae_training_bytes(size: usize, hidden: usize, batch: usize) -> f64 {
    let d = 3.0 * size as f64 * size as f64;
    let h = hidden as f64;
    let params = 2.0 * d * h + 3.0 * h * h;
    params * F32 * 4.0 + batch as f64 * d * F32 * 8.0
}

/// A count that must fit in `limit` (for example probe ids stored as `u32`).
pub fn count_at_most(flag: &'static str, value: usize, limit: u64) -> Result<()> {
    if value as u64 > limit {
        return Err(Error::param(
            flag,
            format!("{value} is more than spurion supports ({limit})"),
        ));
    }
    Ok(())
}

/// Bytes in words: "3.2 GiB".
pub fn human(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "more than any machine has".into();
    }
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} bytes")
    } else if v >= 1000.0 {
        format!("{v:.2e} {}", units[u])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_beyond_memory_name_the_flag() {
        let b = Budget {
            available: Some(8.0 * 1024.0 * 1024.0 * 1024.0),
        };
        assert!(b.need("probes-count", 1e9, "many probes").is_ok());
        let e = b
            .need("probes-count", 1e12, "100000000000 probes")
            .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("--probes-count") && s.contains("931.3 GiB"),
            "{s}"
        );
        assert!(s.contains("8.0 GiB"), "{s}");
        assert_eq!(e.exit_code(), 2);
        assert!(b.need("x", f64::INFINITY, "a lot").is_err());
        assert!(b.need("x", f64::NAN, "a lot").is_err());
    }

    #[test]
    fn unknown_memory_still_caps_at_the_address_space() {
        let b = Budget { available: None };
        assert!(b.need("x", 1e12, "").is_ok());
        assert!(b.need("x", 1e30, "").is_err());
    }

    #[test]
    fn counts_beyond_the_types_are_refused() {
        assert!(count_at_most("probes-count", 10, u32::MAX as u64).is_ok());
        let e = count_at_most("probes-count", usize::MAX, u32::MAX as u64).unwrap_err();
        assert!(e.to_string().contains("--probes-count"), "{e}");
    }

    #[test]
    fn this_machine_reports_its_memory() {
        if std::path::Path::new("/proc/meminfo").exists() {
            let a = Budget::of_machine().available.unwrap();
            assert!(a > 1e6, "{a}");
        }
    }
}
