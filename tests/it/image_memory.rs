//! One huge image costs at most the decoder's memory limit: decoding and resizing read the
//! decoded pixels in place. Measured with a counting allocator that counts per thread, so
//! the other tests of this binary, running on their own threads, do not disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;

struct Counting;

thread_local! {
    // Const-initialised and without a destructor: reading them allocates nothing, as an
    // allocator needs. Signed: a block freed on another thread than the one that made it.
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Adds `delta` bytes to this thread's count, raising its peak.
fn count(delta: isize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// This thread's bytes allocated now; its peak starts again from there.
fn reset_peak() -> isize {
    let now = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(now));
    now
}

/// This thread's peak since [`reset_peak`] returned `base`, in bytes.
fn peak_since(base: isize) -> usize {
    (PEAK.with(Cell::get) - base).max(0) as usize
}

/// Writes a `side x side` PNG of `channels` 8-bit channels, a smooth gradient, row by row.
fn write_png(path: &std::path::Path, side: u32, channels: usize) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, side, side);
    enc.set_color(if channels == 4 {
        png::ColorType::Rgba
    } else {
        png::ColorType::Rgb
    });
    enc.set_compression(png::Compression::Fast);
    let mut w = enc.write_header().unwrap().into_stream_writer().unwrap();
    let mut row = vec![0u8; side as usize * channels];
    for y in 0..side {
        for (i, v) in row.iter_mut().enumerate() {
            *v = ((i / channels) as u32 ^ y) as u8;
        }
        w.write_all(&row).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn a_huge_image_costs_no_more_than_its_decoded_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.png");
    // 6000 x 6000 RGB: 108 MB decoded; a float copy would be 432 MB more.
    write_png(&big, 6000, 3);
    let base = reset_peak();
    let v = spurion::data::folder::load_image(&big, 32, 32).unwrap();
    let peak = peak_since(base);
    assert_eq!(v.len(), 3 * 32 * 32);
    let decoded = 6000 * 6000 * 3;
    // The counter sees the decoded pixels (this thread decodes them)...
    assert!(
        peak >= decoded,
        "peak {peak} bytes: the counter missed the decoding"
    );
    // ...and nothing much beside them.
    assert!(
        peak < decoded + (16 << 20),
        "peak {} MB for {} MB of pixels",
        peak >> 20,
        decoded >> 20
    );

    // 13000 x 13000 RGBA is 676 MB decoded: over the limit, refused before decoding.
    let huge = dir.path().join("huge.png");
    write_png(&huge, 13000, 4);
    let base = reset_peak();
    let e = spurion::data::folder::load_image(&huge, 32, 32)
        .unwrap_err()
        .to_string();
    assert!(e.contains("huge.png") && e.contains("Memory limit"), "{e}");
    let peak = peak_since(base);
    assert!(
        peak as u64 <= spurion::data::folder::IMAGE_MEMORY_LIMIT,
        "peak {} MB",
        peak >> 20
    );
}
