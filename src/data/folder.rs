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

/// Every image file under `dir` (recursively, following the sorted order of names at each
/// level, as `os.walk` + `sorted` does in torchvision).
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<_>>()?;
    entries.sort();
    let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) = entries.into_iter().partition(|p| p.is_dir());
    out.extend(files.into_iter().filter(|p| is_image(p)));
    for d in dirs {
        walk(&d, out)?;
    }
    Ok(())
}

/// True when `dir` looks like an ImageFolder: it has subfolders and no IDX files.
pub fn is_image_folder(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| entries.flatten().any(|e| e.path().is_dir()))
}

/// An ImageFolder's listing: class names (sorted subfolder names) and every image with its
/// class index.
pub type FolderListing = (Vec<String>, Vec<(PathBuf, usize)>);

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
    for (c, name) in classes.iter().enumerate() {
        let files = list_images(&root.join(name))?;
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
    Ok((classes, items))
}

/// Decodes an image as RGB values in `[0, 1]`, resized to `height x width` by area averaging.
pub fn load_image(path: &Path, height: usize, width: usize) -> Result<Vec<f32>> {
    let img = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?
        .decode()
        .map_err(|e| Error::data(path, format!("cannot decode image: {e}")))?
        .to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return Err(Error::data(path, "image has no pixels"));
    }
    let raw = img.into_raw();
    let mut planar = Images::empty(3, h, w);
    let mut data = vec![0.0f32; 3 * h * w];
    for (i, px) in raw.chunks_exact(3).enumerate() {
        for c in 0..3 {
            data[c * h * w + i] = px[c] as f32 / 255.0;
        }
    }
    planar.push(&data);
    Ok(planar.resize(height, width).data)
}

/// Loads an ImageFolder, every image resized to `size x size`.
pub fn load_image_folder(root: &Path, size: usize) -> Result<LabeledImages> {
    let (class_names, items) = list_image_folder(root)?;
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
        let (classes, items) = list_image_folder(dir.path()).unwrap();
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
