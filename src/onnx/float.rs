//! The floating-point types ONNX stores weights in (float32, float64,
//! float16, bfloat16): reading them exactly into f64, rounding an f64 to
//! the nearest value of a type (ties to even, as IEEE 754 and ONNX
//! Runtime's Cast do) and encoding it. Knows nothing of tensors or graphs.

use super::dtype;

/// Precision bits (with the implicit one), smallest and largest exponent.
fn format(data_type: i32) -> Option<(i32, i32, i32)> {
    match data_type {
        dtype::FLOAT16 => Some((11, -14, 15)),
        dtype::BFLOAT16 => Some((8, -126, 127)),
        dtype::FLOAT => Some((24, -126, 127)),
        _ => None,
    }
}

/// `v` rounded to the nearest value of `data_type` (ties to even; beyond
/// the largest finite value, ±∞). float64 and unknown types: `v` itself.
pub fn round_to(data_type: i32, v: f64) -> f64 {
    let Some((p, emin, emax)) = format(data_type) else {
        return v;
    };
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let a = v.abs();
    let e = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let ulp = 2f64.powi(e.max(emin) - (p - 1));
    let r = (a / ulp).round_ties_even() * ulp;
    let max = (2.0 - 2f64.powi(1 - p)) * 2f64.powi(emax);
    let r = if r > max { f64::INFINITY } else { r };
    r.copysign(v)
}

/// A float16 or bfloat16 bit pattern as f64 (exact).
pub fn from_bits16(bits: u16, data_type: i32) -> f64 {
    if data_type == dtype::BFLOAT16 {
        return f32::from_bits(u32::from(bits) << 16) as f64;
    }
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// `v` rounded to float16 or bfloat16, as its bit pattern.
pub fn to_bits16(v: f64, data_type: i32) -> u16 {
    let r = round_to(data_type, v) as f32; // exact: both types are subsets of f32
    let b = r.to_bits();
    if data_type == dtype::BFLOAT16 {
        return (b >> 16) as u16;
    }
    let sign = ((b >> 16) & 0x8000) as u16;
    let a = r.abs();
    if a.is_nan() {
        return sign | 0x7e00;
    }
    if a.is_infinite() {
        return sign | 0x7c00;
    }
    if a < 2f32.powi(-14) {
        // Subnormal (or zero): a whole number of 2^-24.
        return sign | (a * 2f32.powi(24)) as u16;
    }
    let e = ((b >> 23) & 0xff) as i32 - 127;
    let frac = ((b >> 13) & 0x3ff) as u16;
    sign | (((e + 15) as u16) << 10) | frac
}

/// Little-endian bytes of `data_type` values as f64.
pub fn from_le(b: &[u8], data_type: i32) -> Vec<f64> {
    match data_type {
        dtype::DOUBLE => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        dtype::FLOAT16 | dtype::BFLOAT16 => b
            .chunks_exact(2)
            .map(|c| from_bits16(u16::from_le_bytes([c[0], c[1]]), data_type))
            .collect(),
        _ => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
    }
}

/// `values` rounded to `data_type`, as little-endian bytes.
pub fn to_le(values: &[f64], data_type: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 8);
    for &v in values {
        match data_type {
            dtype::DOUBLE => out.extend_from_slice(&v.to_le_bytes()),
            dtype::FLOAT16 | dtype::BFLOAT16 => {
                out.extend_from_slice(&to_bits16(v, data_type).to_le_bytes())
            }
            _ => out.extend_from_slice(&(v as f32).to_le_bytes()),
        }
    }
    out
}

/// Relative precision of arithmetic in `data_type` (its unit roundoff).
pub fn unit_roundoff(data_type: i32) -> f64 {
    match format(data_type) {
        Some((p, _, _)) => 2f64.powi(-p),
        None => f64::EPSILON / 2.0,
    }
}

/// The largest error rounding to `data_type` makes below its normal range
/// (half its smallest subnormal: 2⁻²⁵ for float16); 0 for float64 and
/// unknown types.
pub fn rounding_floor(data_type: i32) -> f64 {
    match format(data_type) {
        Some((p, emin, _)) => 2f64.powi(emin - p),
        None => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_moves_a_value_by_at_most_its_unit_roundoff_or_the_floor() {
        for t in [dtype::FLOAT16, dtype::BFLOAT16, dtype::FLOAT] {
            let (u, floor) = (unit_roundoff(t), rounding_floor(t));
            for k in -400..400 {
                let v = 1.37f64.powi(k) * if k % 2 == 0 { 1.0 } else { -1.0 };
                let r = round_to(t, v);
                if r.is_finite() {
                    assert!(
                        (r - v).abs() <= u * v.abs() + floor,
                        "{} {v}",
                        dtype::name(t)
                    );
                }
            }
        }
        // Halfway between 0 and float16's smallest subnormal 2⁻²⁴: the floor.
        let h = dtype::FLOAT16;
        assert_eq!(rounding_floor(h), 2f64.powi(-25));
        let v = 2f64.powi(-25) * 1.0001;
        assert_eq!(round_to(h, v), 2f64.powi(-24));
        assert!((round_to(h, v) - v).abs() <= rounding_floor(h));
    }

    #[test]
    fn every_float16_pattern_round_trips() {
        for bits in 0..=u16::MAX {
            let v = from_bits16(bits, dtype::FLOAT16);
            if v.is_nan() {
                continue;
            }
            assert_eq!(to_bits16(v, dtype::FLOAT16), bits, "{bits:#x} = {v}");
        }
    }

    #[test]
    fn every_bfloat16_pattern_round_trips() {
        for bits in 0..=u16::MAX {
            let v = from_bits16(bits, dtype::BFLOAT16);
            if !v.is_nan() {
                assert_eq!(to_bits16(v, dtype::BFLOAT16), bits, "{bits:#x}");
            }
        }
    }

    #[test]
    fn rounding_is_to_nearest_ties_to_even() {
        let h = dtype::FLOAT16;
        // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties to even (1).
        assert_eq!(round_to(h, 1.0 + 2f64.powi(-11)), 1.0);
        assert_eq!(
            round_to(h, 1.0 + 3.0 * 2f64.powi(-11)),
            1.0 + 2.0 * 2f64.powi(-10)
        );
        assert_eq!(round_to(h, 65519.0), 65504.0);
        assert_eq!(round_to(h, 65520.0), f64::INFINITY);
        assert_eq!(round_to(h, -1e-9), -0.0);
        assert_eq!(round_to(h, 2f64.powi(-24) * 0.75), 2f64.powi(-24));
        // float32 rounding agrees with Rust's own cast.
        for v in [0.1, 1.0 / 3.0, -7.123456789e-30, 3.4e38, 1e-45] {
            assert_eq!(round_to(dtype::FLOAT, v), v as f32 as f64, "{v}");
        }
        assert_eq!(round_to(dtype::BFLOAT16, 1.0 + 2f64.powi(-8)), 1.0);
        assert_eq!(round_to(dtype::DOUBLE, 0.1), 0.1);
    }

    #[test]
    fn bytes_round_trip_in_every_type() {
        let v = [0.5, -2.0, 1.25, 0.0];
        for t in [dtype::FLOAT, dtype::DOUBLE, dtype::FLOAT16, dtype::BFLOAT16] {
            assert_eq!(from_le(&to_le(&v, t), t), v.to_vec());
        }
    }
}
