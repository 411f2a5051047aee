//! A batch of images in the layout the models take: `[count, channels, height, width]`, `f32`
//! values in `[0, 1]`.

/// Images stored contiguously in NCHW order.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    pub count: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

impl Images {
    /// An empty batch with the given image shape.
    pub fn empty(channels: usize, height: usize, width: usize) -> Self {
        Images {
            count: 0,
            channels,
            height,
            width,
            data: Vec::new(),
        }
    }

    /// Values per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The values of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.image_len();
        &self.data[i * n..(i + 1) * n]
    }

    /// The pixel-wise mean of the batch, one image (zeros for an empty batch).
    pub fn mean(&self) -> Vec<f32> {
        let mut m = vec![0.0f32; self.image_len()];
        for i in 0..self.count {
            for (a, &v) in m.iter_mut().zip(self.image(i)) {
                *a += v / self.count as f32;
            }
        }
        m
    }

    /// Appends one image (must have this batch's shape).
    pub fn push(&mut self, image: &[f32]) {
        debug_assert_eq!(image.len(), self.image_len());
        self.data.extend_from_slice(image);
        self.count += 1;
    }

    /// A new batch holding the images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Images {
        let mut out = Images::empty(self.channels, self.height, self.width);
        out.data.reserve(indices.len() * self.image_len());
        for &i in indices {
            out.push(self.image(i));
        }
        out
    }

    /// A new batch holding images `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Images {
        let n = self.image_len();
        Images {
            count: end - start,
            channels: self.channels,
            height: self.height,
            width: self.width,
            data: self.data[start * n..end * n].to_vec(),
        }
    }

    /// Resamples every image to `height x width` by area averaging (each output pixel is the
    /// mean of the input area it covers, with fractional overlaps weighted). Upsampling
    /// degenerates to nearest-neighbour-like replication.
    pub fn resize(&self, height: usize, width: usize) -> Images {
        if height == self.height && width == self.width {
            return self.clone();
        }
        let ys = area_weights(self.height, height);
        let xs = area_weights(self.width, width);
        let mut out = Images {
            count: self.count,
            channels: self.channels,
            height,
            width,
            data: vec![0.0; self.count * self.channels * height * width],
        };
        let (ih, iw) = (self.height, self.width);
        for (src, dst) in self
            .data
            .chunks_exact(ih * iw)
            .zip(out.data.chunks_exact_mut(height * width))
        {
            for (oy, yw) in ys.iter().enumerate() {
                for (ox, xw) in xs.iter().enumerate() {
                    let mut acc = 0.0f32;
                    for &(iy, wy) in yw {
                        for &(ix, wx) in xw {
                            acc += wy * wx * src[iy * iw + ix];
                        }
                    }
                    dst[oy * width + ox] = acc;
                }
            }
        }
        out
    }
}

/// For each output index, the input indices it covers and their normalised weights.
pub(crate) fn area_weights(input: usize, output: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|o| {
            let (lo, hi) = (o as f64 * scale, (o + 1) as f64 * scale);
            let mut w = Vec::new();
            let mut i = lo.floor() as usize;
            while (i as f64) < hi && i < input {
                let overlap = (hi.min(i as f64 + 1.0) - lo.max(i as f64)).max(0.0);
                if overlap > 0.0 {
                    w.push((i, (overlap / scale) as f32));
                }
                i += 1;
            }
            if w.is_empty() {
                w.push(((lo as usize).min(input - 1), 1.0));
            }
            w
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_image_averages_each_pixel() {
        let imgs = Images {
            count: 2,
            channels: 1,
            height: 1,
            width: 2,
            data: vec![0.0, 1.0, 0.5, 0.0],
        };
        assert_eq!(imgs.mean(), vec![0.25, 0.5]);
        assert_eq!(Images::empty(1, 1, 2).mean(), vec![0.0, 0.0]);
    }

    #[test]
    fn area_downsampling_by_two_averages_blocks() {
        let img = Images {
            count: 1,
            channels: 1,
            height: 2,
            width: 4,
            data: vec![0.0, 1.0, 2.0, 2.0, 1.0, 0.0, 4.0, 0.0],
        };
        let r = img.resize(1, 2);
        assert_eq!(r.data, vec![0.5, 2.0]);
    }

    #[test]
    fn fractional_resize_preserves_the_mean() {
        let data: Vec<f32> = (0..28 * 28)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        let img = Images {
            count: 1,
            channels: 1,
            height: 28,
            width: 28,
            data,
        };
        let r = img.resize(16, 16);
        let m0: f32 = img.data.iter().sum::<f32>() / img.data.len() as f32;
        let m1: f32 = r.data.iter().sum::<f32>() / r.data.len() as f32;
        assert!((m0 - m1).abs() < 1e-4, "{m0} vs {m1}");
    }

    #[test]
    fn select_and_slice_copy_the_right_images() {
        let img = Images {
            count: 3,
            channels: 1,
            height: 1,
            width: 2,
            data: vec![0.0, 0.1, 1.0, 1.1, 2.0, 2.1],
        };
        assert_eq!(img.select(&[2, 0]).data, vec![2.0, 2.1, 0.0, 0.1]);
        assert_eq!(img.slice(1, 2).data, vec![1.0, 1.1]);
    }
}
