//! Helpers shared by the end-to-end tests that run the `spurion` binary.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary with `args` in `cwd`.
pub fn spurion(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spurion"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("spurion runs")
}

/// Asserts the run succeeded (showing its stderr if not) and returns its stdout.
pub fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `command` followed by `args` in a fresh folder and checks the failure: exit `code`,
/// one line on stderr containing every needle, no panic, and nothing left in the folder
/// (neither the output nor a staging folder).
pub fn fails_with(command: &[&str], args: &[&str], code: i32, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = command.to_vec();
    all.extend_from_slice(args);
    let out = spurion(&all, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: '{n}' not in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "a failed run left output behind: {left:?}");
}

/// A little-endian float32 `.npy` file of `shape`, in C order.
pub fn npy(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// An uncompressed IDX pair of `count` images of `side x side` pixels, labels 0 and 1, in
/// folder `dir`.
pub fn write_idx(dir: &Path, count: usize, side: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut images = vec![0, 0, 8, 3];
    for d in [count, side, side] {
        images.extend_from_slice(&(d as u32).to_be_bytes());
    }
    images.extend((0..count * side * side).map(|i| (i * 37 % 256) as u8));
    let mut labels = vec![0, 0, 8, 1];
    labels.extend_from_slice(&(count as u32).to_be_bytes());
    labels.extend((0..count).map(|i| (i % 2) as u8));
    std::fs::write(dir.join("images-idx3-ubyte"), images).unwrap();
    std::fs::write(dir.join("labels-idx1-ubyte"), labels).unwrap();
}
