//! Reader for the IDX format of MNIST, EMNIST and Fashion-MNIST.
//!
//! An IDX file is a big-endian header (two zero bytes, an element-type byte, a dimension count
//! byte, then one u32 per dimension) followed by the elements in row-major order. The files are
//! usually gzipped; gzip is detected from the content, not the file name. spurion reads unsigned
//! byte elements (type 0x08), which is what every image dataset in this format uses.
//!
//! EMNIST stores each image transposed (column-major); [`Transpose`] undoes it.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Largest element count spurion accepts from one header (guards against hostile headers).
const MAX_ELEMENTS: u64 = 1 << 32;

/// An n-dimensional array of bytes read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Whether images are stored transposed (EMNIST).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Transpose {
    /// Transposed when the image file's name contains "emnist" (case-insensitive).
    #[default]
    Auto,
    Yes,
    No,
}

impl Transpose {
    fn applies_to(self, path: &Path) -> bool {
        match self {
            Transpose::Yes => true,
            Transpose::No => false,
            Transpose::Auto => path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().to_lowercase().contains("emnist")),
        }
    }
}

/// Grayscale images with integer labels, as read from an IDX pair.
#[derive(Debug, Clone)]
pub struct IdxImages {
    pub count: usize,
    pub height: usize,
    pub width: usize,
    /// `count * height * width` bytes, row-major, 0 = background.
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

fn read_exact_or(reader: &mut dyn Read, buf: &mut [u8], path: &Path, what: &str) -> Result<()> {
    reader.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::data(path, format!("truncated: file ends inside the {what}"))
        } else {
            Error::data(path, format!("cannot read {what}: {e}"))
        }
    })
}

/// Parses an IDX stream (already decompressed). `path` is only used in error messages.
pub fn parse(reader: &mut dyn Read, path: &Path) -> Result<IdxArray> {
    let mut magic = [0u8; 4];
    read_exact_or(reader, &mut magic, path, "IDX header")?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(Error::data(
            path,
            format!(
                "not an IDX file: expected magic bytes 00 00, found {:02x} {:02x}",
                magic[0], magic[1]
            ),
        ));
    }
    if magic[2] != 0x08 {
        return Err(Error::data(
            path,
            format!(
                "unsupported IDX element type 0x{:02x}: spurion reads unsigned bytes (0x08)",
                magic[2]
            ),
        ));
    }
    let ndims = magic[3] as usize;
    if ndims == 0 || ndims > 4 {
        return Err(Error::data(
            path,
            format!("IDX file has {ndims} dimensions: expected 1 (labels) to 4"),
        ));
    }
    let mut dims = Vec::with_capacity(ndims);
    let mut total: u64 = 1;
    for _ in 0..ndims {
        let mut b = [0u8; 4];
        read_exact_or(reader, &mut b, path, "IDX header")?;
        let d = u32::from_be_bytes(b) as u64;
        total = total.saturating_mul(d);
        dims.push(d as usize);
    }
    if total > MAX_ELEMENTS {
        return Err(Error::data(
            path,
            format!(
                "IDX header declares {total} elements: more than spurion accepts ({MAX_ELEMENTS})"
            ),
        ));
    }
    // Read as bytes, held as f32 images, then coloured (3 channels) and split for training:
    // about 20 bytes per value in all.
    crate::budget::Budget::of_machine().need_for_file(
        path,
        total as f64 * 20.0,
        format!("{total} IDX values, read and made into colour images,"),
    )?;
    let total = total as usize;
    // Do not trust the header for the allocation: grow as bytes actually arrive.
    let mut data = Vec::with_capacity(total.min(1 << 26));
    let read = reader
        .take(total as u64)
        .read_to_end(&mut data)
        .map_err(|e| Error::data(path, format!("cannot read IDX data: {e}")))?;
    if read < total {
        return Err(Error::data(
            path,
            format!("truncated: header {dims:?} promises {total} bytes of data, file has {read}"),
        ));
    }
    let mut extra = [0u8; 1];
    match reader.read(&mut extra) {
        Ok(0) => {}
        Ok(_) => {
            return Err(Error::data(
                path,
                format!("trailing bytes after the {total} bytes that header {dims:?} declares"),
            ));
        }
        Err(e) => return Err(Error::data(path, format!("cannot read IDX data: {e}"))),
    }
    Ok(IdxArray { dims, data })
}

/// Reads an IDX file, gzipped or raw.
pub fn read(path: &Path) -> Result<IdxArray> {
    super::regular_file(path)?;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut head = [0u8; 2];
    let n = reader.read(&mut head).map_err(|e| Error::io(path, e))?;
    let chained = std::io::Cursor::new(head[..n].to_vec()).chain(reader);
    if n == 2 && head == [0x1f, 0x8b] {
        let mut gz = flate2::read::MultiGzDecoder::new(chained);
        parse(&mut gz, path).map_err(|e| match e {
            Error::Data { path, message } if message.starts_with("cannot read") => Error::Data {
                path,
                message: format!("corrupt gzip stream ({message})"),
            },
            other => other,
        })
    } else {
        let mut raw = chained;
        parse(&mut raw, path)
    }
}

/// Reads an image file and a label file and checks that they describe the same samples.
pub fn read_pair(images: &Path, labels: &Path, transpose: Transpose) -> Result<IdxImages> {
    let img = read(images)?;
    if img.dims.len() != 3 {
        return Err(Error::data(
            images,
            format!(
                "expected an image file with 3 dimensions (count, height, width), found {:?}",
                img.dims
            ),
        ));
    }
    let lab = read(labels)?;
    if lab.dims.len() != 1 {
        return Err(Error::data(
            labels,
            format!(
                "expected a label file with 1 dimension (count), found {:?}",
                lab.dims
            ),
        ));
    }
    let (count, h, w) = (img.dims[0], img.dims[1], img.dims[2]);
    if count != lab.dims[0] {
        return Err(Error::data(
            labels,
            format!(
                "{} labels for {count} images in {}: counts must agree",
                lab.dims[0],
                images.display()
            ),
        ));
    }
    if count == 0 || h == 0 || w == 0 {
        return Err(Error::data(
            images,
            format!("no images: dimensions are {:?}", img.dims),
        ));
    }
    let mut pixels = img.data;
    if transpose.applies_to(images) {
        if h != w {
            return Err(Error::data(
                images,
                format!("cannot transpose {h}x{w} images: EMNIST images are square"),
            ));
        }
        let mut buf = vec![0u8; h * w];
        for image in pixels.chunks_exact_mut(h * w) {
            for y in 0..h {
                for x in 0..w {
                    buf[y * w + x] = image[x * h + y];
                }
            }
            image.copy_from_slice(&buf);
        }
    }
    Ok(IdxImages {
        count,
        height: h,
        width: w,
        pixels,
        labels: lab.data,
    })
}

/// Finds the IDX pair in a folder, or takes an image file and finds its label file.
///
/// Image files are those whose name contains `images-idx3`; the label file has the same name
/// with `labels-idx1` in its place. When a folder holds several pairs (train and test), the one
/// whose name contains `train` is used.
pub fn locate_pair(path: &Path) -> Result<(PathBuf, PathBuf)> {
    let labels_for = |img: &Path| -> Option<PathBuf> {
        let name = img.file_name()?.to_string_lossy().into_owned();
        name.contains("images-idx3")
            .then(|| img.with_file_name(name.replacen("images-idx3", "labels-idx1", 1)))
    };
    if path.is_file() {
        let labels = labels_for(path).ok_or_else(|| {
            Error::data(
                path,
                "expected an IDX image file whose name contains 'images-idx3' (its label file \
                 has 'labels-idx1' in its place), or a folder holding such a pair",
            )
        })?;
        if !labels.is_file() {
            return Err(Error::data(
                path,
                format!("label file {} not found beside it", labels.display()),
            ));
        }
        return Ok((path.to_path_buf(), labels));
    }
    let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
    let mut pairs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(path, e))?;
        let img = entry.path();
        if let Some(labels) = labels_for(&img).filter(|l| l.is_file()) {
            pairs.push((img, labels));
        }
    }
    pairs.sort();
    let chosen = match pairs.len() {
        0 => None,
        1 => pairs.pop(),
        _ => {
            let train: Vec<_> = pairs
                .iter()
                .filter(|(i, _)| i.to_string_lossy().contains("train"))
                .cloned()
                .collect();
            (train.len() == 1).then(|| train[0].clone())
        }
    };
    chosen.ok_or_else(|| {
        Error::data(
            path,
            if pairs.is_empty() {
                "no IDX pair found: expected files named like '*images-idx3-ubyte[.gz]' and \
                 '*labels-idx1-ubyte[.gz]'"
                    .to_string()
            } else {
                format!(
                    "several IDX pairs and no single 'train' pair among them: {}; pass the image \
                     file itself",
                    pairs
                        .iter()
                        .map(|(i, _)| i.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn err_text(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn reads_raw_and_gzipped_files_alike() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = idx_bytes(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let raw = read(&write(dir.path(), "a", &bytes)).unwrap();
        let zipped = read(&write(dir.path(), "b", &gz(&bytes))).unwrap();
        assert_eq!(raw, zipped);
        assert_eq!(raw.dims, vec![2, 2, 3]);
        assert_eq!(raw.data[11], 12);
    }

    #[test]
    fn reads_the_shipped_mnist_sample() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-10k");
        let (i, l) = locate_pair(&dir).unwrap();
        let set = read_pair(&i, &l, Transpose::Auto).unwrap();
        assert_eq!((set.count, set.height, set.width), (10_000, 28, 28));
        assert_eq!(set.labels.iter().filter(|&&l| l == 0).count(), 1001);
        assert_eq!(set.labels.iter().filter(|&&l| l == 1).count(), 1127);
        assert!(set.pixels.contains(&255));
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = err_text(read(Path::new("/nonexistent/images-idx3-ubyte")));
        assert!(e.contains("/nonexistent/images-idx3-ubyte"), "{e}");
    }

    #[test]
    fn truncated_data_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = idx_bytes(&[2, 2, 2], &[1, 2, 3]);
        let e = err_text(read(&write(dir.path(), "t", &bytes)));
        assert!(
            e.contains("truncated") && e.contains("promises 8 bytes"),
            "{e}"
        );
    }

    #[test]
    fn truncated_header_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let e = err_text(read(&write(dir.path(), "h", &[0, 0, 8, 3, 0, 0])));
        assert!(e.contains("truncated") && e.contains("header"), "{e}");
    }

    #[test]
    fn truncated_gzip_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let z = gz(&idx_bytes(&[4, 8, 8], &[7; 256]));
        let e = err_text(read(&write(dir.path(), "z", &z[..z.len() / 2])));
        assert!(e.contains("truncated") || e.contains("corrupt"), "{e}");
    }

    #[test]
    fn non_idx_content_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let e = err_text(read(&write(dir.path(), "png", b"\x89PNG\r\n\x1a\n....")));
        assert!(e.contains("not an IDX file"), "{e}");
    }

    #[test]
    fn non_byte_element_type_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = idx_bytes(&[1], &[0, 0, 0, 0]);
        b[2] = 0x0D;
        let e = err_text(read(&write(dir.path(), "f", &b)));
        assert!(e.contains("element type 0x0d"), "{e}");
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let e = err_text(read(&write(dir.path(), "x", &idx_bytes(&[2], &[1, 2, 3]))));
        assert!(e.contains("trailing"), "{e}");
    }

    #[test]
    fn hostile_header_does_not_allocate() {
        let dir = tempfile::tempdir().unwrap();
        let e = err_text(read(&write(
            dir.path(),
            "big",
            &idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[]),
        )));
        assert!(e.contains("more than spurion accepts"), "{e}");
    }

    #[test]
    fn label_count_must_match_image_count() {
        let dir = tempfile::tempdir().unwrap();
        let i = write(dir.path(), "images-idx3", &idx_bytes(&[2, 1, 1], &[0, 1]));
        let l = write(dir.path(), "labels-idx1", &idx_bytes(&[3], &[0, 1, 1]));
        let e = err_text(read_pair(&i, &l, Transpose::No));
        assert!(e.contains("3 labels for 2 images"), "{e}");
    }

    #[test]
    fn wrong_rank_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let i = write(dir.path(), "i", &idx_bytes(&[2], &[0, 1]));
        let l = write(dir.path(), "l", &idx_bytes(&[2], &[0, 1]));
        let e = err_text(read_pair(&i, &l, Transpose::No));
        assert!(e.contains("3 dimensions"), "{e}");
    }

    #[test]
    fn emnist_images_are_transposed_by_name() {
        let dir = tempfile::tempdir().unwrap();
        // Stored column-major: [[1,2],[3,4]] on disk means rows (1,3) and (2,4).
        let img = idx_bytes(&[1, 2, 2], &[1, 2, 3, 4]);
        let lab = idx_bytes(&[1], &[0]);
        let i = write(dir.path(), "emnist-digits-train-images-idx3-ubyte", &img);
        let l = write(dir.path(), "emnist-digits-train-labels-idx1-ubyte", &lab);
        let auto = read_pair(&i, &l, Transpose::Auto).unwrap();
        assert_eq!(auto.pixels, vec![1, 3, 2, 4]);
        let kept = read_pair(&i, &l, Transpose::No).unwrap();
        assert_eq!(kept.pixels, vec![1, 2, 3, 4]);
    }

    #[test]
    fn locate_prefers_the_train_pair() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["train", "t10k"] {
            write(dir.path(), &format!("{p}-images-idx3-ubyte"), b"");
            write(dir.path(), &format!("{p}-labels-idx1-ubyte"), b"");
        }
        let (i, l) = locate_pair(dir.path()).unwrap();
        assert!(i.ends_with("train-images-idx3-ubyte"));
        assert!(l.ends_with("train-labels-idx1-ubyte"));
    }

    #[test]
    fn locate_reports_an_empty_folder() {
        let dir = tempfile::tempdir().unwrap();
        let e = err_text(locate_pair(dir.path()));
        assert!(e.contains("no IDX pair found"), "{e}");
    }
}
