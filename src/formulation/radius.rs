//! The box's size: an absolute radius (every weight may move by r), a
//! relative one (r chosen so that the median reach of an activation,
//! r·‖h_t‖₁ + r_b, is a stated fraction of the median |margin| or
//! |residual| now), or a path of relative radii chosen by cross-validation.
//!
//! It knows numbers only (medians handed in by the caller); it does not
//! know flags, files, the data or how a sweep is run.

use serde::{Deserialize, Serialize};

/// The box as the user asks for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Radius {
    /// Every weight may move by exactly this.
    Absolute(f64),
    /// The median reach r·‖h_t‖₁ + r_b is this fraction of the median
    /// |margin| (classification) or |residual| (regression) now.
    Relative(f64),
    /// A path of relative radii ([`AUTO_PATH`]), each scored by
    /// cross-validation on the training points; the best one's sweep runs.
    Auto,
}

/// The relative radius `export` and `tune` use when none is given (tune:
/// without validation data). Measured safe on every case of issue #13
/// (docs/real-heads.md); the paper's absolute 0.05 is `--radius 0.05`.
pub const DEFAULT_RELATIVE: f64 = 0.5;

/// The relative radii `auto` tries, smallest first (small boxes are the
/// quick sweeps; the path stops where cross-validation keeps scoring no
/// better than the best before). It runs to 32x: on the pretrained head
/// of benches/box.py held-out accuracy was best at 4x–32x.
pub const AUTO_PATH: [f64; 9] = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

impl Radius {
    /// Reads `0.05` (absolute), `0.5x` (relative) or `auto`.
    pub fn parse(s: &str) -> Result<Radius, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Radius::Auto);
        }
        let (num, relative) = match s.strip_suffix(['x', 'X']) {
            Some(n) => (n, true),
            None => (s, false),
        };
        let v: f64 = num.trim().parse().map_err(|_| {
            format!("'{s}' is not a radius: give a number (0.05), a fraction of the margins (0.5x) or auto")
        })?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!("a radius must be a finite number ≥ 0, not {s}"));
        }
        Ok(if relative {
            Radius::Relative(v)
        } else {
            Radius::Absolute(v)
        })
    }

    /// For people: `0.05`, `0.5x`, `auto`.
    pub fn describe(self) -> String {
        match self {
            Radius::Absolute(r) => crate::num::fmt(r),
            Radius::Relative(f) => format!("{}x", crate::num::fmt(f)),
            Radius::Auto => "auto".into(),
        }
    }
}

/// The medians a relative box is measured against, over a sweep's points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scales {
    /// Median ‖h_t‖₁.
    pub l1: f64,
    /// Median |margin| (classification: a_ℓ − max_{j≠ℓ} a_j) or |residual|
    /// (regression) at the current weights.
    pub scale: f64,
}

/// A box resolved to numbers, with the rule it came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxSize {
    /// The relative radius asked for, if the box was given that way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative: Option<f64>,
    /// r.
    pub radius: f64,
    /// r_b.
    pub bias_radius: f64,
    /// What a relative radius was measured against.
    pub scales: Scales,
}

/// Resolves a relative radius `f`: r such that r·median‖h‖₁ + r_b =
/// f·median|margin|, with r_b = r unless `bias_radius` fixes it, and r_b
/// counted only when the bias is a variable (`bias_vars`). Scaling the
/// layer's weights and bias by k scales the margins, and so r and r_b, by k.
pub fn relative(f: f64, s: Scales, bias_radius: Option<f64>, bias_vars: bool) -> BoxSize {
    let target = f * s.scale;
    let (radius, bias_radius) = match (bias_radius, bias_vars) {
        (Some(rb), true) => (positive((target - rb) / s.l1), rb),
        (Some(rb), false) => (positive(target / s.l1), rb),
        (None, true) => {
            let r = positive(target / (s.l1 + 1.0));
            (r, r)
        }
        (None, false) => {
            let r = positive(target / s.l1);
            (r, r)
        }
    };
    BoxSize {
        relative: Some(f),
        radius,
        bias_radius,
        scales: s,
    }
}

impl BoxSize {
    /// Why a relative box with f > 0 resolved to r = 0, in words, or `None`
    /// when it did not: the sweep can then change no weight.
    pub fn empty_because(&self) -> Option<String> {
        let f = self.relative?;
        if f <= 0.0 || self.radius > 0.0 {
            return None;
        }
        Some(if self.scales.scale.is_nan() || self.scales.scale <= 0.0 {
            "the median |margin| or |residual| now is 0, so a fraction of it is no box: give an absolute radius".into()
        } else if self.scales.l1.is_nan() || self.scales.l1 <= 0.0 {
            "the features are all 0 on these points".into()
        } else {
            format!(
                "the bias radius {} alone reaches {}x of the median |margin| or |residual| ({}): the weights may not move",
                crate::num::fmt(self.bias_radius),
                crate::num::fmt(f),
                crate::num::fmt(self.scales.scale)
            )
        })
    }
}

/// `v` when it is a finite number > 0, else 0 (all-zero features, or a
/// fixed bias radius that alone reaches the target).
fn positive(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 {
        v
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_relative_box_says_why() {
        let zero = Scales {
            l1: 3.0,
            scale: 0.0,
        };
        assert!(relative(0.5, zero, None, true)
            .empty_because()
            .unwrap()
            .contains("is 0"));
        let s = Scales {
            l1: 3.0,
            scale: 2.0,
        };
        let b = relative(0.5, s, Some(5.0), true);
        assert_eq!(b.radius, 0.0);
        assert!(b.empty_because().unwrap().contains("bias radius 5"));
        assert_eq!(relative(0.5, s, None, true).empty_because(), None);
        assert_eq!(relative(0.0, s, None, true).empty_because(), None);
    }

    #[test]
    fn parses_the_three_forms_and_refuses_the_rest() {
        assert_eq!(Radius::parse("0.05"), Ok(Radius::Absolute(0.05)));
        assert_eq!(Radius::parse("0.5x"), Ok(Radius::Relative(0.5)));
        assert_eq!(Radius::parse("AUTO"), Ok(Radius::Auto));
        for bad in ["", "x", "-1", "nan", "infx", "0.5y"] {
            assert!(Radius::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Radius::Relative(0.25).describe(), "0.25x");
    }

    #[test]
    fn relative_reach_is_the_fraction_of_the_margin_and_scales_with_the_layer() {
        let s = Scales {
            l1: 9.0,
            scale: 2.0,
        };
        let b = relative(0.5, s, None, true);
        // r·9 + r = 0.5·2
        assert!((b.radius * 9.0 + b.bias_radius - 1.0).abs() < 1e-12);
        let big = relative(
            0.5,
            Scales {
                l1: 9.0,
                scale: 20.0,
            },
            None,
            true,
        );
        assert!((big.radius - 10.0 * b.radius).abs() < 1e-12);
        let fixed = relative(0.5, s, Some(0.1), true);
        assert!((fixed.radius * 9.0 + 0.1 - 1.0).abs() < 1e-12);
        assert_eq!(relative(0.5, s, Some(5.0), true).radius, 0.0);
        assert_eq!(
            relative(
                0.5,
                Scales {
                    l1: 0.0,
                    scale: 1.0
                },
                None,
                false
            )
            .radius,
            0.0
        );
    }
}
