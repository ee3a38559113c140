//! Every number gdmilp writes to a text file goes through here (a leaf
//! module: the formulation describes its bounds with it and the file
//! formats write with it, neither through the other): shortest
//! text that reads back to the same f64, integers without `.0`, `-0` as
//! `0`. Non-finite values are refused by the writers before they get here.
//! Beside it, [`product`]: the one matrix product the stages share.

pub mod product;

/// Appends the shortest round-trip text of `v` (finite) to `out`.
pub fn push(out: &mut Vec<u8>, v: f64) {
    debug_assert!(v.is_finite(), "writers check finiteness first");
    if v == 0.0 {
        out.push(b'0');
        return;
    }
    // ryu gives the shortest text that reads back to the same f64, with an
    // exponent for very large or small magnitudes (1e-7, 1.5e20); faster
    // than going through `fmt` (benches/writer.rs measures the writers).
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v).as_bytes();
    out.extend_from_slice(s.strip_suffix(b".0").unwrap_or(s));
}

/// The text of `v` as a String (for tests and small files).
pub fn fmt(v: f64) -> String {
    let mut b = Vec::new();
    push(&mut b, v);
    String::from_utf8(b).expect("ASCII")
}

/// A number a person typed, shown back in a message: the shortest text
/// (`1e308`, not 309 digits), `NaN` and `inf` as such.
pub fn shown(v: f64) -> String {
    if v.is_finite() {
        fmt(v)
    } else {
        v.to_string()
    }
}

/// Three significant digits, for people.
pub fn round3(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    // Through the decimal text: the nearest double to the three digits
    // (dividing by 1e78 did not give it: a p-value of 1.49e-76 printed as
    // 1.4899999999999997e-76).
    format!("{v:.2e}")
        .parse()
        .expect("a formatted float parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_shown_in_messages_are_short() {
        assert_eq!(shown(1e308), "1e308");
        assert_eq!(shown(-0.1), "-0.1");
        assert_eq!(shown(f64::NAN), "NaN");
        assert_eq!(shown(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn shortest_round_trip() {
        for (v, s) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-3.0, "-3"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e-7, "1e-7"),
            (1.5e20, "1.5e20"),
            (123456.0, "123456"),
        ] {
            assert_eq!(fmt(v), s);
        }
        for v in [
            0.1 + 0.2,
            1.0 / 3.0,
            1e-300,
            -2.5e-12,
            f64::MAX,
            0.007_812_5,
        ] {
            assert_eq!(fmt(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn three_significant_digits_print_as_three_digits_at_any_scale() {
        for (v, text) in [
            (1.489_999_9e-76, "1.49e-76"),
            (0.020_837_5, "0.0208"),
            (-2_469_278.7, "-2470000"),
            (0.000_162_457, "0.000162"),
            (1.0, "1"),
        ] {
            assert_eq!(fmt(round3(v)), text, "{v}");
        }
        assert_eq!(round3(0.0), 0.0);
        assert!(round3(f64::NAN).is_nan());
    }
}
