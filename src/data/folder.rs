//! Image folders: `root/class_name/*.png|jpg` for training (classes sorted as torchvision's
//! `ImageFolder` sorts them, so class indices agree with a PyTorch model trained on the same
//! folder), and plain folders of images as probe sets.

use std::path::{Path, PathBuf};

use crate::data::{Images, LabeledImages};
use crate::error::{Error, Result};

/// Extensions spurion decodes (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];

fn is_image(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// The images found under a folder, and what the walk skipped.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Image files, in walk order.
    pub files: Vec<PathBuf>,
    /// One line per skipped entry (a special file, a broken link), for warnings.
    pub skipped: Vec<String>,
}

/// Every image file under `dir` (recursively, following the sorted order of names at each
/// level, as `os.walk` + `sorted` does in torchvision).
///
/// Symbolic links are followed, but every real folder is entered and every real file listed
/// at most once, so a link to a parent folder cannot loop and links cannot multiply images.
/// Special files (FIFOs, sockets, devices), which could block a read forever, and broken links
/// are skipped and reported in [`Listing::skipped`].
pub fn list_images(dir: &Path) -> Result<Listing> {
    let mut walk = Walk::default();
    if let Ok(real) = std::fs::canonicalize(dir) {
        walk.seen_dirs.insert(real);
    }
    walk.dir(dir)?;
    Ok(walk.listing)
}

#[derive(Default)]
struct Walk {
    listing: Listing,
    seen_dirs: std::collections::HashSet<PathBuf>,
    seen_files: std::collections::HashSet<PathBuf>,
}

impl Walk {
    fn dir(&mut self, dir: &Path) -> Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
            .collect::<Result<_>>()?;
        entries.sort();
        let mut dirs = Vec::new();
        for path in entries {
            // Follows links: the kind of what the entry leads to.
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.skip(&path, &format!("cannot be read ({e})"));
                    continue;
                }
            };
            let Ok(real) = std::fs::canonicalize(&path) else {
                self.skip(&path, "cannot be resolved");
                continue;
            };
            if meta.is_dir() {
                // Each real folder once: a link back up the tree is not entered again.
                if self.seen_dirs.insert(real) {
                    dirs.push(path);
                }
            } else if !meta.is_file() {
                self.skip(&path, "is not a regular file (a device, pipe or socket)");
            } else if is_image(&path) && self.seen_files.insert(real) {
                self.listing.files.push(path);
            }
        }
        for d in dirs {
            self.dir(&d)?;
        }
        Ok(())
    }

    fn skip(&mut self, path: &Path, why: &str) {
        self.listing
            .skipped
            .push(format!("skipped {}: {why}", path.display()));
    }
}

/// True when `dir` looks like an ImageFolder: it has subfolders and no IDX files.
pub fn is_image_folder(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| entries.flatten().any(|e| e.path().is_dir()))
}

/// An ImageFolder's listing: class names (sorted subfolder names), every image with its
/// class index, and what the walk skipped.
pub type FolderListing = (Vec<String>, Vec<(PathBuf, usize)>, Vec<String>);

/// Lists an ImageFolder.
pub fn list_image_folder(root: &Path) -> Result<FolderListing> {
    let mut classes: Vec<String> = std::fs::read_dir(root)
        .map_err(|e| Error::io(root, e))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(Error::data(
            root,
            "no class folders: expected root/class_name/image.png",
        ));
    }
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for (c, name) in classes.iter().enumerate() {
        let listing = list_images(&root.join(name))?;
        skipped.extend(listing.skipped);
        let files = listing.files;
        if files.is_empty() {
            return Err(Error::data(
                &root.join(name),
                format!(
                    "class '{name}' has no images (expected files ending in {})",
                    IMAGE_EXTENSIONS.join(", ")
                ),
            ));
        }
        items.extend(files.into_iter().map(|f| (f, c)));
    }
    Ok((classes, items, skipped))
}

/// Most memory one image may take while it is decoded and resized: the decoder refuses an
/// image whose pixels need more, and resizing reads the decoded pixels in place (only the
/// small output is allocated beside them).
pub const IMAGE_MEMORY_LIMIT: u64 = 512 << 20;

/// Decodes an image as RGB values in `[0, 1]` (grey replicated, alpha dropped), resized to
/// `height x width` by area averaging; `3 x height x width` values, channel-planar.
pub fn load_image(path: &Path, height: usize, width: usize) -> Result<Vec<f32>> {
    super::regular_file(path)?;
    let reader = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    decode_resized(reader, height, width).map_err(|e| match e {
        Error::Invalid(m) => Error::data(path, m),
        other => other,
    })
}

/// [`load_image`] for an image held in memory.
pub fn image_from_bytes(bytes: &[u8], height: usize, width: usize) -> Result<Vec<f32>> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Invalid(format!("cannot read image: {e}")))?;
    decode_resized(reader, height, width)
}

fn decode_resized<R: std::io::BufRead + std::io::Seek>(
    mut reader: image::ImageReader<R>,
    height: usize,
    width: usize,
) -> Result<Vec<f32>> {
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(IMAGE_MEMORY_LIMIT);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| Error::Invalid(format!("cannot decode image: {e}")))?;
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::Invalid("image has no pixels".into()));
    }
    if height == 0 || width == 0 {
        return Err(Error::Invalid("cannot resize an image to no pixels".into()));
    }
    Ok(area_resize(&img, height, width))
}

/// RGB of pixel (x, y) in `[0, 1]`, read in place whatever the decoded pixel type.
fn rgb_at(img: &image::DynamicImage) -> impl Fn(usize, usize) -> [f32; 3] + '_ {
    use image::DynamicImage as D;
    let w = img.width() as usize;
    move |x, y| {
        let i = y * w + x;
        let from = |s: &[f32]| {
            if s.len() >= 3 {
                [s[0], s[1], s[2]]
            } else {
                [s[0]; 3]
            }
        };
        match img {
            D::ImageLuma8(b) => [b.as_raw()[i] as f32 / 255.0; 3],
            D::ImageLumaA8(b) => [b.as_raw()[2 * i] as f32 / 255.0; 3],
            D::ImageRgb8(b) => {
                let p = &b.as_raw()[3 * i..3 * i + 3];
                [p[0], p[1], p[2]].map(|v| v as f32 / 255.0)
            }
            D::ImageRgba8(b) => {
                let p = &b.as_raw()[4 * i..4 * i + 3];
                [p[0], p[1], p[2]].map(|v| v as f32 / 255.0)
            }
            D::ImageLuma16(b) => [b.as_raw()[i] as f32 / 65535.0; 3],
            D::ImageLumaA16(b) => [b.as_raw()[2 * i] as f32 / 65535.0; 3],
            D::ImageRgb16(b) => {
                let p = &b.as_raw()[3 * i..3 * i + 3];
                [p[0], p[1], p[2]].map(|v| v as f32 / 65535.0)
            }
            D::ImageRgba16(b) => {
                let p = &b.as_raw()[4 * i..4 * i + 3];
                [p[0], p[1], p[2]].map(|v| v as f32 / 65535.0)
            }
            D::ImageRgb32F(b) => from(&b.as_raw()[3 * i..3 * i + 3]),
            D::ImageRgba32F(b) => from(&b.as_raw()[4 * i..4 * i + 3]),
            // Pixel types added to `image` later: one pixel converted at a time.
            other => {
                let p = image::GenericImageView::get_pixel(other, x as u32, y as u32);
                [p.0[0], p.0[1], p.0[2]].map(|v| v as f32 / 255.0)
            }
        }
    }
}

/// Area-averaging resize (as [`Images::resize`]) read straight from the decoded pixels, so
/// no full-size float copy of a large image is made.
fn area_resize(img: &image::DynamicImage, height: usize, width: usize) -> Vec<f32> {
    use super::images::area_weights;
    let (ih, iw) = (img.height() as usize, img.width() as usize);
    let ys = area_weights(ih, height);
    let xs = area_weights(iw, width);
    let px = rgb_at(img);
    let hw = height * width;
    let mut out = vec![0.0f32; 3 * hw];
    // One input row, averaged horizontally to the output width: `[width][3]`.
    let mut row = vec![[0.0f32; 3]; width];
    for (oy, yw) in ys.iter().enumerate() {
        for &(iy, wy) in yw {
            for (ox, xw) in xs.iter().enumerate() {
                let mut acc = [0.0f32; 3];
                for &(ix, wx) in xw {
                    let p = px(ix, iy);
                    for c in 0..3 {
                        acc[c] += wx * p[c];
                    }
                }
                row[ox] = acc;
            }
            for (ox, acc) in row.iter().enumerate() {
                for c in 0..3 {
                    out[c * hw + oy * width + ox] += wy * acc[c];
                }
            }
        }
    }
    out
}

/// Checks that `count` labelled images at `size x size` fit in memory while `spurion train`
/// splits, plants and trains on them (about five copies).
pub fn labeled_images_fit(count: usize, size: usize) -> Result<()> {
    use crate::budget::{Budget, F32};
    let bytes = count as f64 * 3.0 * size as f64 * size as f64 * F32 * 5.0;
    Budget::of_machine().need("size", bytes, format!("{count} images at {size}x{size}"))
}

/// Loads an ImageFolder, every image resized to `size x size`.
pub fn load_image_folder(root: &Path, size: usize) -> Result<LabeledImages> {
    let (class_names, items, skipped) = list_image_folder(root)?;
    labeled_images_fit(items.len(), size)?;
    let mut images = Images::empty(3, size, size);
    let mut labels = Vec::with_capacity(items.len());
    for (path, c) in items {
        images.push(&load_image(&path, size, size)?);
        labels.push(c);
    }
    Ok(LabeledImages {
        images,
        labels,
        class_names,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
            .save(path)
            .unwrap();
    }

    #[test]
    fn classes_are_sorted_like_torchvision() {
        let dir = tempfile::tempdir().unwrap();
        for (class, file) in [
            ("dog", "b.png"),
            ("Cat", "a.png"),
            ("cat", "z.jpg"),
            ("dog", "a.png"),
        ] {
            write_png(&dir.path().join(class).join(file), 2, 2, [1, 2, 3]);
        }
        std::fs::write(dir.path().join("dog/notes.txt"), b"x").unwrap();
        let (classes, items, _) = list_image_folder(dir.path()).unwrap();
        // Code-point order: upper case first, as Python's sorted().
        assert_eq!(classes, vec!["Cat", "cat", "dog"]);
        let names: Vec<String> = items
            .iter()
            .map(|(p, c)| format!("{c}:{}", p.file_name().unwrap().to_string_lossy()))
            .collect();
        assert_eq!(names, vec!["0:a.png", "1:z.jpg", "2:a.png", "2:b.png"]);
    }

    #[test]
    fn images_load_as_planar_rgb_and_resize() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.png");
        write_png(&p, 4, 4, [255, 0, 51]);
        let v = load_image(&p, 2, 2).unwrap();
        assert_eq!(v.len(), 12);
        assert_eq!(&v[0..4], &[1.0; 4]);
        assert_eq!(&v[4..8], &[0.0; 4]);
        assert!((v[8] - 0.2).abs() < 1e-6);
    }

    #[test]
    fn resizing_in_place_matches_resizing_a_float_copy() {
        // 37x23 random RGB, and its grey and alpha variants, against Images::resize.
        let mut rng = 12345u32;
        let mut next = || {
            rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (rng >> 24) as u8
        };
        let rgb = image::RgbImage::from_fn(37, 23, |_, _| image::Rgb([next(), next(), next()]));
        for img in [
            image::DynamicImage::ImageRgb8(rgb.clone()),
            image::DynamicImage::ImageRgba8(image::DynamicImage::ImageRgb8(rgb.clone()).to_rgba8()),
            image::DynamicImage::ImageLuma8(image::DynamicImage::ImageRgb8(rgb.clone()).to_luma8()),
            image::DynamicImage::ImageRgb16(image::DynamicImage::ImageRgb8(rgb.clone()).to_rgb16()),
        ] {
            let want_rgb = img.to_rgb8();
            let (w, h) = (want_rgb.width() as usize, want_rgb.height() as usize);
            let mut planar = vec![0.0f32; 3 * h * w];
            for (i, p) in want_rgb.pixels().enumerate() {
                for c in 0..3 {
                    planar[c * h * w + i] = p.0[c] as f32 / 255.0;
                }
            }
            let full = Images {
                count: 1,
                channels: 3,
                height: h,
                width: w,
                data: planar,
            };
            for (oh, ow) in [(8, 8), (5, 11), (23, 37), (40, 50)] {
                let want = full.resize(oh, ow).data;
                let got = area_resize(&img, oh, ow);
                let worst = want
                    .iter()
                    .zip(&got)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(worst < 1e-4, "{:?} to {oh}x{ow}: {worst}", img.color());
            }
        }
    }

    #[test]
    fn undecodable_image_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("broken.png");
        std::fs::write(&p, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let e = load_image(&p, 2, 2).unwrap_err().to_string();
        assert!(
            e.contains("broken.png") && e.contains("cannot decode"),
            "{e}"
        );
    }

    #[test]
    fn truncated_image_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut.png");
        let mut img = image::RgbImage::new(32, 32);
        for (i, px) in img.pixels_mut().enumerate() {
            *px = image::Rgb([(i * 7) as u8, (i * 13) as u8, (i * 29) as u8]);
        }
        img.save(&p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = load_image(&p, 2, 2).unwrap_err().to_string();
        assert!(e.contains("cut.png") && e.contains("cannot decode"), "{e}");
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn image_claiming_huge_dimensions_is_refused_before_allocating() {
        // A valid 1x1 PNG whose header (with a correct checksum) claims 100,000 x 100,000
        // pixels: 30 GB once decoded.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.png");
        write_png(&p, 1, 1, [0, 0, 0]);
        let mut bytes = std::fs::read(&p).unwrap();
        // 8-byte signature, then the IHDR chunk: length (4), type (4), width, height, ...
        bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let e = load_image(&p, 2, 2).unwrap_err().to_string();
        assert!(
            e.contains("bomb.png") && e.contains("Memory limit exceeded"),
            "{e}"
        );
    }

    #[test]
    fn empty_class_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("a/1.png"), 2, 2, [0, 0, 0]);
        std::fs::create_dir(dir.path().join("b")).unwrap();
        let e = list_image_folder(dir.path()).unwrap_err().to_string();
        assert!(e.contains("class 'b' has no images"), "{e}");
    }
}
