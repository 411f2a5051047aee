//! PNG encoding of probes, prototypes and plots.

use crate::data::Images;
use crate::error::{Error, Result};

/// An 8-bit RGB raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Rgb {
    /// A raster filled with one colour.
    pub fn filled(width: usize, height: usize, rgb: [u8; 3]) -> Self {
        Rgb {
            width,
            height,
            pixels: rgb.repeat(width * height),
        }
    }

    /// Image `i` of a batch (1 or 3 channels, values in `[0, 1]`), each pixel repeated
    /// `scale x scale` times.
    pub fn from_image(images: &Images, i: usize, scale: usize) -> Self {
        let (h, w) = (images.height, images.width);
        let img = images.image(i);
        let plane = |c: usize, y: usize, x: usize| -> u8 {
            let c = if images.channels == 1 { 0 } else { c };
            (img[c * h * w + y * w + x].clamp(0.0, 1.0) * 255.0).round() as u8
        };
        let mut out = Rgb::filled(w * scale, h * scale, [0, 0, 0]);
        for y in 0..h * scale {
            for x in 0..w * scale {
                let o = (y * w * scale + x) * 3;
                for c in 0..3 {
                    out.pixels[o + c] = plane(c, y / scale, x / scale);
                }
            }
        }
        out
    }

    /// Copies `other` into this raster with its top-left corner at (x, y).
    pub fn blit(&mut self, other: &Rgb, x: usize, y: usize) {
        for row in 0..other.height.min(self.height.saturating_sub(y)) {
            let n = other.width.min(self.width.saturating_sub(x)) * 3;
            let dst = ((y + row) * self.width + x) * 3;
            let src = row * other.width * 3;
            self.pixels[dst..dst + n].copy_from_slice(&other.pixels[src..src + n]);
        }
    }

    /// Encodes as PNG.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| Error::Invalid(format!("encoding PNG: {e}")))?;
        writer
            .write_image_data(&self.pixels)
            .map_err(|e| Error::Invalid(format!("encoding PNG: {e}")))?;
        writer
            .finish()
            .map_err(|e| Error::Invalid(format!("encoding PNG: {e}")))?;
        Ok(out)
    }
}

/// Images side by side with a `gap`-pixel grey border, each scaled to `side x side`.
pub fn strip(images: &Images, side: usize, gap: usize) -> Rgb {
    let scale = (side / images.height.max(images.width)).max(1);
    let cell = images.height.max(images.width) * scale;
    let n = images.count;
    let mut out = Rgb::filled(n * cell + (n + 1) * gap, cell + 2 * gap, [200, 200, 200]);
    for i in 0..n {
        out.blit(
            &Rgb::from_image(images, i, scale),
            gap + i * (cell + gap),
            gap,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_decodable_png() {
        let mut img = Rgb::filled(3, 2, [10, 20, 30]);
        img.pixels[0] = 255;
        let bytes = img.encode().unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(&buf[..6], &[255, 20, 30, 10, 20, 30]);
    }

    #[test]
    fn strip_places_images_side_by_side() {
        let images = Images {
            count: 2,
            channels: 1,
            height: 1,
            width: 1,
            data: vec![0.0, 1.0],
        };
        let s = strip(&images, 2, 1);
        assert_eq!((s.width, s.height), (2 * 2 + 3, 4));
        // second image (white) starts at x = 1 + 2 + 1 = 4, y = 1
        let o = (s.width + 4) * 3;
        assert_eq!(&s.pixels[o..o + 3], &[255, 255, 255]);
        let o = (s.width + 1) * 3;
        assert_eq!(&s.pixels[o..o + 3], &[0, 0, 0]);
    }
}
