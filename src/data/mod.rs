//! Labelled image data: reading it, choosing classes, splitting it, and planting a shortcut.

pub mod folder;
pub mod idx;
mod images;
pub mod plant;

pub use images::Images;

use std::path::Path;

use rand::seq::SliceRandom;

use crate::error::{Error, Result};
use crate::seed::Rng;

/// Checks that `path` is a regular file (following links) before it is opened: opening a
/// FIFO or a device could block forever or never end.
pub fn regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_file() {
        // Opened once here, so that an unreadable file is named with the system's reason
        // whoever opens it next.
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(())
    } else if meta.is_dir() {
        Err(Error::data(path, "is a folder, expected a file"))
    } else {
        Err(Error::data(
            path,
            "is not a regular file (a device, pipe or socket): expected a file",
        ))
    }
}

/// Reads a whole regular file.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    regular_file(path)?;
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Reads a whole regular file as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = read_file(path)?;
    String::from_utf8(bytes).map_err(|_| Error::data(path, "not UTF-8 text"))
}

/// Where the shipped MNIST sample lives, relative to the crate root.
pub const SHIPPED_MNIST: &str = "data/mnist-10k";

/// Images with a class index per image and a name per class.
#[derive(Debug, Clone)]
pub struct LabeledImages {
    pub images: Images,
    /// Class index (into `class_names`) of each image.
    pub labels: Vec<usize>,
    pub class_names: Vec<String>,
    /// Entries passed over while reading (special files, broken links), one line each.
    pub skipped: Vec<String>,
}

impl LabeledImages {
    /// A subset, in the order of `indices`.
    pub fn select(&self, indices: &[usize]) -> LabeledImages {
        LabeledImages {
            images: self.images.select(indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
            skipped: self.skipped.clone(),
        }
    }

    /// Shuffles with `rng` and splits into (train, validation) with `train_fraction` in train.
    pub fn split(&self, train_fraction: f64, rng: &mut Rng) -> (LabeledImages, LabeledImages) {
        let mut idx: Vec<usize> = (0..self.images.count).collect();
        idx.shuffle(rng);
        let n_train = ((self.images.count as f64) * train_fraction).round() as usize;
        (self.select(&idx[..n_train]), self.select(&idx[n_train..]))
    }
}

/// Loads labelled data: an IDX pair (keeping `classes`, default all; resized to `size` if
/// given) or an ImageFolder (resized to `size`, default 32).
pub fn load_labeled(
    path: &Path,
    classes: Option<&[u8]>,
    size: Option<usize>,
    transpose: idx::Transpose,
) -> Result<LabeledImages> {
    let set = if path.is_dir() && idx::locate_pair(path).is_err() && folder::is_image_folder(path) {
        folder::load_image_folder(path, size.unwrap_or(32))?
    } else {
        let d = load_idx_classes(path, classes, transpose)?;
        match size {
            Some(s) => {
                folder::labeled_images_fit(d.images.count, s)?;
                LabeledImages {
                    images: d.images.resize(s, s),
                    ..d
                }
            }
            None => d,
        }
    };
    if set.class_names.len() < 2 {
        return Err(Error::data(path, "expected at least 2 classes"));
    }
    trainable(&set, path)?;
    Ok(set)
}

/// Smallest side of the images spurion's CNN trains on.
pub const MIN_SIDE: usize = 4;

/// Checks that `set` (read from `path`) can train spurion's CNN: images of at least
/// [`MIN_SIDE`] pixels a side.
pub fn trainable(set: &LabeledImages, path: &Path) -> Result<()> {
    let (h, w) = (set.images.height, set.images.width);
    if h < MIN_SIDE || w < MIN_SIDE {
        return Err(Error::data(
            path,
            format!(
                "images are {h}x{w}: spurion's CNN needs at least {MIN_SIDE}x{MIN_SIDE} \
                 (spurion train --size resizes them)"
            ),
        ));
    }
    Ok(())
}

/// Reads an IDX pair (a folder or an image file, see [`idx::locate_pair`]) and keeps the
/// images whose label is in `classes`, relabelled `0..classes.len()` in the order given
/// (`None`: every label present, in increasing order). Images are single-channel, scaled to
/// `[0, 1]`.
pub fn load_idx_classes(
    path: &Path,
    classes: Option<&[u8]>,
    transpose: idx::Transpose,
) -> Result<LabeledImages> {
    let (img_path, lab_path) = idx::locate_pair(path)?;
    let set = idx::read_pair(&img_path, &lab_path, transpose)?;
    let present: Vec<u8>;
    let classes = match classes {
        Some(c) => c,
        None => {
            let labels: std::collections::BTreeSet<u8> = set.labels.iter().copied().collect();
            present = labels.into_iter().collect();
            &present
        }
    };
    let hw = set.height * set.width;
    let mut images = Images::empty(1, set.height, set.width);
    let mut labels = Vec::new();
    let mut buf = vec![0.0f32; hw];
    for (i, &l) in set.labels.iter().enumerate() {
        if let Some(c) = classes.iter().position(|&k| k == l) {
            for (b, &p) in buf.iter_mut().zip(&set.pixels[i * hw..(i + 1) * hw]) {
                *b = p as f32 / 255.0;
            }
            images.push(&buf);
            labels.push(c);
        }
    }
    for (c, &k) in classes.iter().enumerate() {
        if !labels.contains(&c) {
            let present: std::collections::BTreeSet<u8> = set.labels.iter().copied().collect();
            return Err(Error::data(
                &lab_path,
                format!(
                    "class {k} has no samples (labels present: {})",
                    present
                        .iter()
                        .map(|l| l.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(LabeledImages {
        images,
        labels,
        class_names: classes.iter().map(|c| c.to_string()).collect(),
        skipped: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn shipped() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(SHIPPED_MNIST)
    }

    #[test]
    fn keeps_only_the_chosen_classes_relabelled_in_order() {
        let d = load_idx_classes(&shipped(), Some(&[1, 0]), idx::Transpose::No).unwrap();
        assert_eq!(d.images.count, 2128);
        assert_eq!(d.labels.iter().filter(|&&l| l == 0).count(), 1127); // digit 1
        assert_eq!(d.class_names, vec!["1", "0"]);
        assert!(d.images.data.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn a_class_with_no_samples_is_an_error() {
        let e = load_idx_classes(&shipped(), Some(&[0, 42]), idx::Transpose::No)
            .unwrap_err()
            .to_string();
        assert!(e.contains("class 42 has no samples"), "{e}");
    }

    #[test]
    fn split_is_seeded_and_complete() {
        let d = load_idx_classes(&shipped(), Some(&[0, 1]), idx::Transpose::No).unwrap();
        let (a, b) = d.split(0.8, &mut Rng::seed_from_u64(3));
        let (a2, _) = d.split(0.8, &mut Rng::seed_from_u64(3));
        assert_eq!(a.images.count + b.images.count, d.images.count);
        assert_eq!(a.images.count, 1702);
        assert_eq!(a.labels, a2.labels);
        assert_eq!(a.images.data, a2.images.data);
    }
}
