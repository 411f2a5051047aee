//! Scores from anywhere: the method needs only the probes and the classifier's probabilities
//! on them (steps 1 and 3), so the classifier can run wherever it lives. `spurion probes`
//! writes a probe set as images with a manifest ([`write_probes`]); the user scores them with
//! their own model and `spurion audit --probes DIR --scores FILE` reads the probabilities back
//! ([`GivenScores`]) instead of running a model. Without a model there is no causal test on
//! real images, so such an audit reports clusters and significance but no "found" verdict.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::metrics::Probabilities;
use crate::model::{ModelFormat, ModelInfo, OutputKind};
use crate::output::{self, OutputTarget, StagedDir};
use crate::probes::{MANIFEST, ManifestEntry, ProbeFamily, ProbeSpec};
use crate::progress::Progress;
use crate::report::png::Rgb;
use crate::seed::{SeedPath, Stream};

/// Settings of `spurion probes`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbesConfig {
    pub family: ProbeFamily,
    pub count: usize,
    /// `[height, width]` of every probe image.
    pub size: [usize; 2],
    pub seed: u64,
    pub out: PathBuf,
    pub force: bool,
}

/// Most probes one folder may hold: ids are stored as u32 by the significance test, and each
/// probe is a file.
pub const MAX_PROBE_FILES: usize = 10_000_000;

impl ProbesConfig {
    pub fn check(&self) -> Result<()> {
        if self.count == 0 || self.count > MAX_PROBE_FILES {
            return Err(Error::param(
                "count",
                format!("expected 1 to {MAX_PROBE_FILES} probes, got {}", self.count),
            ));
        }
        let [h, w] = self.size;
        if h == 0 || w == 0 || h > 4096 || w > 4096 {
            return Err(Error::param(
                "size",
                format!("expected HxW with sides from 1 to 4096, got {h}x{w}"),
            ));
        }
        OutputTarget::new(&self.out, self.force).check()
    }
}

/// The seed a probe family's images come from in `spurion probes`: the same generator an
/// audit of that family with this `--seed` uses.
pub fn probe_seed(seed: u64) -> u64 {
    SeedPath::root(seed).derive(Stream::Probes)
}

/// Writes `config.count` probes as PNG files (`probe-000000.png`, ...) and a [`MANIFEST`]
/// (`id,file,family,seed`) to `config.out`, atomically. Returns the manifest's entries.
pub fn write_probes(config: &ProbesConfig, progress: &Progress) -> Result<Vec<ManifestEntry>> {
    config.check()?;
    let spec = ProbeSpec::new(
        config.family,
        config.count,
        config.size,
        probe_seed(config.seed),
    );
    let staged = StagedDir::create(&OutputTarget::new(&config.out, config.force))?;
    let digits = config.count.saturating_sub(1).to_string().len().max(6);
    let mut entries = Vec::with_capacity(config.count);
    let bar = progress.bar(config.count as u64, "writing probes");
    for start in (0..config.count).step_by(256) {
        let end = (start + 256).min(config.count);
        let images = spec.batch(start, end);
        for i in start..end {
            let file = format!("probe-{i:0digits$}.png");
            let png = Rgb::from_image(&images, i - start, 1).encode()?;
            output::write(&staged.path().join(&file), &png)?;
            entries.push(ManifestEntry {
                id: i.to_string(),
                file,
                family: spec.part_name(i),
                seed: spec.seed,
            });
        }
        bar.set_position(end as u64)?;
    }
    bar.finish_and_clear();
    let mut manifest = String::from("id,file,family,seed\n");
    for e in &entries {
        manifest.push_str(&format!("{},{},{},{}\n", e.id, e.file, e.family, e.seed));
    }
    output::write(&staged.path().join(MANIFEST), manifest.as_bytes())?;
    staged.commit()?;
    Ok(entries)
}

/// Probabilities a user computed elsewhere, one row per probe in manifest order.
#[derive(Debug, Clone)]
pub struct GivenScores {
    pub path: PathBuf,
    pub class_names: Vec<String>,
    pub probs: Probabilities,
}

impl GivenScores {
    /// Reads `path`: a CSV with an `id` column and one column per class (the header names
    /// the classes), or a `.npy` array of shape `(N, C)` (float32 or float64) in manifest
    /// order, with class names from `labels` (else `0`, `1`, ...). Every manifest id must be
    /// scored exactly once and every value must be a probability.
    pub fn read(
        path: &Path,
        manifest: &[ManifestEntry],
        labels: Option<&[String]>,
    ) -> Result<Self> {
        let is_npy = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
        let (class_names, values) = if is_npy {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let (shape, values) = read_npy(path, &bytes)?;
            let [n, c] = shape[..] else {
                return Err(Error::data(
                    path,
                    format!("expected a 2-D array (probes x classes), got shape {shape:?}"),
                ));
            };
            if n != manifest.len() {
                return Err(Error::data(
                    path,
                    format!(
                        "{n} rows, but the probe folder's {MANIFEST} lists {} probes",
                        manifest.len()
                    ),
                ));
            }
            let names = match labels {
                Some(l) => l.to_vec(),
                None => (0..c).map(|i| i.to_string()).collect(),
            };
            (names, values)
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            read_csv(path, &text, manifest)?
        };
        let classes = class_names.len();
        if let Some(l) = labels.filter(|l| l.len() != classes) {
            return Err(Error::param(
                "labels",
                format!(
                    "{} names for {classes} classes in {}",
                    l.len(),
                    path.display()
                ),
            ));
        }
        if classes == 0 || values.len() != manifest.len() * classes {
            return Err(Error::data(
                path,
                format!(
                    "expected {} probes x at least one class, got {} values for {classes} \
                     class(es)",
                    manifest.len(),
                    values.len()
                ),
            ));
        }
        if let Some(i) = values
            .iter()
            .position(|v| !v.is_finite() || !(0.0..=1.0).contains(v))
        {
            return Err(Error::data(
                path,
                format!(
                    "probe '{}', class '{}': {} is not a probability (expected a number in \
                     [0, 1]; give sigmoid or softmax outputs, not logits)",
                    manifest[i / classes].id,
                    class_names[i % classes],
                    values[i]
                ),
            ));
        }
        let probs =
            Probabilities::new(classes, values).map_err(|e| Error::data(path, e.to_string()))?;
        Ok(GivenScores {
            path: path.to_path_buf(),
            class_names,
            probs,
        })
    }

    /// What the report says in place of a model.
    pub fn info(&self, [h, w]: [usize; 2]) -> ModelInfo {
        ModelInfo {
            path: self.path.display().to_string(),
            format: ModelFormat::Scores,
            class_names: self.class_names.clone(),
            class_names_source: "the scores file".into(),
            input_height: h,
            input_width: w,
            output: OutputKind::Softmax,
            probability: "p_c as given in the scores file".into(),
            preprocess: None,
            runtime: "none: probabilities from the scores file".into(),
        }
    }
}

/// A scores CSV: header `id,<class>,...`, then one row per probe, in any order.
fn read_csv(
    path: &Path,
    text: &str,
    manifest: &[ManifestEntry],
) -> Result<(Vec<String>, Vec<f32>)> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header: Vec<&str> = match lines.next() {
        Some((_, l)) => l.trim().split(',').map(str::trim).collect(),
        None => {
            return Err(Error::data(
                path,
                "empty file: expected a header id,<class>,...",
            ));
        }
    };
    if header.first() != Some(&"id") || header.len() < 2 {
        return Err(Error::data(
            path,
            "expected a header 'id' then one column per class (id,cat,dog)",
        ));
    }
    let names: Vec<String> = header[1..].iter().map(|s| s.to_string()).collect();
    let classes = names.len();
    let index: std::collections::HashMap<&str, usize> = manifest
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let mut values = vec![f32::NAN; manifest.len() * classes];
    let mut seen = vec![false; manifest.len()];
    for (line, row) in lines {
        let bad = |what: String| Error::data(path, format!("line {}: {what}", line + 1));
        let fields: Vec<&str> = row.trim().split(',').map(str::trim).collect();
        if fields.len() != classes + 1 {
            return Err(bad(format!(
                "{} fields, expected {} (id and {classes} classes)",
                fields.len(),
                classes + 1
            )));
        }
        let Some(&i) = index.get(fields[0]) else {
            return Err(bad(format!(
                "id '{}' is not in the probe folder's {MANIFEST}",
                fields[0]
            )));
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(bad(format!("id '{}' is scored twice", fields[0])));
        }
        for (c, f) in fields[1..].iter().enumerate() {
            values[i * classes + c] = f
                .parse::<f32>()
                .map_err(|_| bad(format!("'{f}' is not a number")))?;
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(Error::data(
            path,
            format!(
                "{} of {} probes have no scores, the first: id '{}'",
                seen.iter().filter(|s| !**s).count(),
                manifest.len(),
                manifest[i].id
            ),
        ));
    }
    Ok((names, values))
}

/// A little-endian float32 or float64 `.npy` array in C order: its shape and values.
fn read_npy(path: &Path, bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>)> {
    let bad = |what: &str| Error::data(path, format!("not a usable .npy file: {what}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("no NUMPY magic"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(&format!("format version {v}"))),
    };
    let header = bytes
        .get(start..start.saturating_add(header_len))
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated header"))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        Some(header[at..].trim_start().strip_prefix(':')?.trim_start())
    };
    let descr = field("descr").ok_or_else(|| bad("no descr"))?;
    let width = if descr.starts_with("'<f4'") {
        4
    } else if descr.starts_with("'<f8'") {
        8
    } else {
        return Err(bad(&format!(
            "dtype {}, expected float32 or float64",
            descr.split(',').next().unwrap_or(descr)
        )));
    };
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(bad(
            "Fortran order; save a C-ordered array (np.ascontiguousarray)",
        ));
    }
    let shape_text = field("shape").ok_or_else(|| bad("no shape"))?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("unreadable shape"))?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("unreadable shape")))
        .collect::<Result<_>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad("shape too large"))?;
    let data = &bytes[start + header_len..];
    if data.len() != count.saturating_mul(width) {
        return Err(bad(&format!(
            "{} bytes of data for shape {shape:?}, expected {}",
            data.len(),
            count.saturating_mul(width)
        )));
    }
    let values = if width == 4 {
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect()
    };
    Ok((shape, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(n: usize) -> Vec<ManifestEntry> {
        (0..n)
            .map(|i| ManifestEntry {
                id: i.to_string(),
                file: format!("probe-{i:06}.png"),
                family: "solid".into(),
                seed: 1,
            })
            .collect()
    }

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn csv_rows_in_any_order_land_in_manifest_order() {
        let text = "id,cat,dog\n1,0.2,0.8\n0,0.9,0.1\n";
        let (names, v) = read_csv(Path::new("s.csv"), text, &manifest(2)).unwrap();
        assert_eq!(names, ["cat", "dog"]);
        assert_eq!(v, [0.9, 0.1, 0.2, 0.8]);
    }

    #[test]
    fn csv_with_missing_extra_or_repeated_ids_is_refused() {
        let m = manifest(2);
        for (text, expect) in [
            ("id,a\n0,0.5\n", "have no scores"),
            ("id,a\n0,0.5\n1,0.5\n7,0.5\n", "not in the probe folder"),
            ("id,a\n0,0.5\n0,0.5\n", "scored twice"),
            ("id,a\n0,0.5\n1,x\n", "not a number"),
            ("id,a\n0,0.5\n1\n", "expected 2"),
            ("name,a\n0,0.5\n", "header"),
        ] {
            let e = read_csv(Path::new("s.csv"), text, &m).unwrap_err();
            assert!(e.to_string().contains(expect), "{text:?}: {e}");
        }
    }

    #[test]
    fn npy_float32_and_float64_are_read_and_other_types_refused() {
        let data: Vec<u8> = [0.25f32, 0.75]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let (shape, v) = read_npy(Path::new("p.npy"), &npy("<f4", "(1, 2)", &data)).unwrap();
        assert_eq!((shape, v), (vec![1, 2], vec![0.25, 0.75]));
        let data: Vec<u8> = [0.5f64].iter().flat_map(|v| v.to_le_bytes()).collect();
        let (shape, v) = read_npy(Path::new("p.npy"), &npy("<f8", "(1,)", &data)).unwrap();
        assert_eq!((shape, v), (vec![1], vec![0.5]));
        let e = read_npy(Path::new("p.npy"), &npy("<i8", "(1,)", &[0; 8])).unwrap_err();
        assert!(e.to_string().contains("float32 or float64"), "{e}");
        let e = read_npy(Path::new("p.npy"), &npy("<f4", "(2, 2)", &[0; 8])).unwrap_err();
        assert!(e.to_string().contains("expected 16"), "{e}");
        let e = read_npy(Path::new("p.npy"), b"PK\x03\x04 not npy").unwrap_err();
        assert!(e.to_string().contains("magic"), "{e}");
    }
}
