//! NumPy `.npz` output (a zip of `.npy` arrays, stored uncompressed), so that
//! `numpy.load("latents.npz")` reads latents, probabilities and clusters directly.

/// One array to store.
pub enum Array<'a> {
    F32 { shape: Vec<usize>, data: &'a [f32] },
    I64 { shape: Vec<usize>, data: Vec<i64> },
}

impl Array<'_> {
    fn npy(&self) -> Vec<u8> {
        let (descr, shape, body): (&str, &[usize], Vec<u8>) = match self {
            Array::F32 { shape, data } => (
                "<f4",
                shape,
                data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            Array::I64 { shape, data } => (
                "<i8",
                shape,
                data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        };
        let dims = match shape.len() {
            1 => format!("({},)", shape[0]),
            _ => format!(
                "({})",
                shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
        // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&body);
        out
    }
}

/// A zip archive (stored entries, no compression) of `name.npy` files.
pub fn encode(arrays: &[(&str, Array)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, array) in arrays {
        let name = format!("{name}.npy");
        let data = array.npy();
        let crc = crc32fast::hash(&data);
        let offset = out.len() as u32;
        let fixed = |sig: u32, central: bool| {
            let mut h = sig.to_le_bytes().to_vec();
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // version needed
            h.extend_from_slice(&0u16.to_le_bytes()); // flags
            h.extend_from_slice(&0u16.to_le_bytes()); // stored
            h.extend_from_slice(&0u16.to_le_bytes()); // time
            h.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            h
        };
        out.extend(fixed(0x0403_4b50, false));
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        central.extend(fixed(0x0201_4b50, true));
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
        central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let cd_len = central.len() as u32;
    out.extend(central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&(arrays.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// An array read back: name, shape, values as f64.
pub type NamedArray = (String, Vec<usize>, Vec<f64>);

/// Arrays read back from an archive written by [`encode`]; anything else, truncated or
/// corrupt, is an error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<Vec<NamedArray>, String> {
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize;
    let mut out = Vec::new();
    let mut o = 0;
    while o + 30 <= bytes.len() && u32_at(o) == 0x0403_4b50 {
        if u16_at(o + 8) != 0 {
            return Err("compressed entry".into());
        }
        let crc = u32_at(o + 14) as u32;
        let size = u32_at(o + 18);
        let (nlen, xlen) = (u16_at(o + 26), u16_at(o + 28));
        let name = bytes.get(o + 30..o + 30 + nlen).ok_or("truncated entry")?;
        let name = String::from_utf8_lossy(name).into_owned();
        let start = o + 30 + nlen + xlen;
        let npy = bytes.get(start..start + size).ok_or("truncated entry")?;
        if crc32fast::hash(npy) != crc {
            return Err(format!("{name}: CRC mismatch"));
        }
        let not_npy = || format!("{name}: not an npy array");
        if npy.get(..6) != Some(b"\x93NUMPY".as_slice()) || npy.len() < 10 {
            return Err(not_npy());
        }
        let hlen = u16::from_le_bytes([npy[8], npy[9]]) as usize;
        let header = npy.get(10..10 + hlen).ok_or_else(not_npy)?;
        let header = std::str::from_utf8(header).map_err(|e| e.to_string())?;
        let shape_txt = header
            .split("'shape': (")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .ok_or("no shape")?;
        let shape: Vec<usize> = shape_txt
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().map_err(|_| "bad shape".to_string()))
            .collect::<Result<_, _>>()?;
        let body = &npy[10 + hlen..];
        let values: Vec<f64> = if header.contains("'<f4'") {
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect()
        } else if header.contains("'<i8'") {
            body.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect()
        } else {
            return Err(format!("{name}: unknown dtype"));
        };
        out.push((name.trim_end_matches(".npy").to_string(), shape, values));
        o = start + size;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_arrays() {
        let f = [1.5f32, -2.0, 3.25, 0.0, 5.0, 6.0];
        let bytes = encode(&[
            (
                "a",
                Array::F32 {
                    shape: vec![2, 3],
                    data: &f,
                },
            ),
            (
                "b",
                Array::I64 {
                    shape: vec![3],
                    data: vec![7, -1, 2],
                },
            ),
        ]);
        let arrays = decode(&bytes).unwrap();
        assert_eq!(arrays[0].0, "a");
        assert_eq!(arrays[0].1, vec![2, 3]);
        assert_eq!(arrays[0].2, vec![1.5, -2.0, 3.25, 0.0, 5.0, 6.0]);
        assert_eq!(arrays[1], ("b".into(), vec![3], vec![7.0, -1.0, 2.0]));
        // npy headers are 64-byte aligned, as numpy requires for version 1.0.
        let hlen = u16::from_le_bytes([bytes[30 + 5 + 8], bytes[30 + 5 + 9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
    }

    #[test]
    fn damaged_archives_are_errors_not_panics() {
        let bytes = encode(&[(
            "a",
            Array::F32 {
                shape: vec![3],
                data: &[1.0, 2.0, 3.0],
            },
        )]);
        // Cut anywhere inside the first entry's name, header or data: an error, or (once
        // the entry is whole) the array itself.
        for cut in 0..bytes.len() {
            if let Ok(arrays) = decode(&bytes[..cut]) {
                assert!(
                    arrays.is_empty() || arrays[0].2 == vec![1.0, 2.0, 3.0],
                    "{cut}"
                );
            }
        }
        // A corrupt npy magic, with the CRC patched to match: an error.
        let mut bad = bytes.clone();
        let start = 30 + "a.npy".len();
        bad[start] = b'X';
        let size = u32::from_le_bytes(bad[18..22].try_into().unwrap()) as usize;
        let crc = crc32fast::hash(&bad[start..start + size]);
        bad[14..18].copy_from_slice(&crc.to_le_bytes());
        assert!(decode(&bad).unwrap_err().contains("not an npy array"));
    }
}
