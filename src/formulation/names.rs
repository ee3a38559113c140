//! The naming scheme of every variable and row gdmilp writes, in one place
//! that both formats and parses names. Names are legal in MPS and CPLEX LP
//! by construction: lower-case letters, digits and `_`, never starting with
//! a digit, `.` or `e` (an LP reader would take `e1` for an exponent).
//!
//! `t` is always the point's index in the data file, `j` an output of the
//! layer (0..M), `i` an input (0..N).

use std::fmt;

/// A variable of the formulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Var {
    /// `w_j_i`: weight from input i to output j (W is M×N).
    W(usize, usize),
    /// `b_j`: bias of output j.
    B(usize),
    /// `dev_t_j`: |output − target| of point t, output j (regression).
    Dev(usize, usize),
    /// `c_t`: 1 when point t is classified correctly (classification).
    C(usize),
    /// `o_t_j`: ReLU output of point t, output j.
    O(usize, usize),
    /// `z_t_j`: 1 when that ReLU is active.
    Z(usize, usize),
    /// `a_t_j`: the layer's activation (the paper's explicit variables).
    A(usize, usize),
    /// `maxdev`: the largest |output − target| (linf loss).
    MaxDev,
    /// `xi_t`: the multiclass hinge loss of point t.
    Xi(usize),
    /// `r_t_j`: the residual output − target of point t, output j (mse).
    R(usize, usize),
    /// `sq_t_j`: the tangent-line estimate of r_t_j² (mse, tangent form).
    Sq(usize, usize),
    /// `sg_t_j_k`: how far the residual of point t, output j climbs segment
    /// k of its range (mse, segment form).
    Seg(usize, usize, usize),
}

/// A row (constraint) of the formulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowName {
    /// `pos_t_j`: dev ≥ output − target.
    Pos(usize, usize),
    /// `neg_t_j`: dev ≥ target − output.
    Neg(usize, usize),
    /// `mg_t_j`: point t beats class j by the margin when c_t = 1.
    Margin(usize, usize),
    /// `keep`: Σ c_t ≥ the number correct now.
    Keep,
    /// `rlo_t_j`: o ≥ a.
    ReluLo(usize, usize),
    /// `rhi_t_j`: o ≤ a − L(1 − z).
    ReluHi(usize, usize),
    /// `ron_t_j`: o ≤ U z.
    ReluOn(usize, usize),
    /// `act_t_j`: a_t_j = w_j · h_t + b_j (paper form).
    Act(usize, usize),
    /// `hg_t_j`: ξ_t ≥ δ − (a_tℓ − a_tj) (hinge loss).
    Hinge(usize, usize),
    /// `res_t_j`: r_t_j = output − target (mse).
    Residual(usize, usize),
    /// `tg_t_j_k`: sq_t_j ≥ 2 p_k r_t_j − p_k², the k-th tangent of r² (mse).
    Tangent(usize, usize, usize),
    /// `pm_k_j`: protected point k (index in the protect file) keeps beating
    /// class j by its margin (j = M: the ReLU's zero).
    ProtectMargin(usize, usize),
    /// `pu_k_j`: protected point k's output j stays ≤ target + its error now.
    ProtectUpper(usize, usize),
    /// `pl_k_j`: protected point k's output j stays ≥ target − its error now.
    ProtectLower(usize, usize),
}

/// The objective row's name in files.
pub const OBJECTIVE: &str = "obj";

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Var::W(j, i) => write!(f, "w_{j}_{i}"),
            Var::B(j) => write!(f, "b_{j}"),
            Var::Dev(t, j) => write!(f, "dev_{t}_{j}"),
            Var::C(t) => write!(f, "c_{t}"),
            Var::O(t, j) => write!(f, "o_{t}_{j}"),
            Var::Z(t, j) => write!(f, "z_{t}_{j}"),
            Var::A(t, j) => write!(f, "a_{t}_{j}"),
            Var::MaxDev => f.write_str("maxdev"),
            Var::Xi(t) => write!(f, "xi_{t}"),
            Var::R(t, j) => write!(f, "r_{t}_{j}"),
            Var::Sq(t, j) => write!(f, "sq_{t}_{j}"),
            Var::Seg(t, j, k) => write!(f, "sg_{t}_{j}_{k}"),
        }
    }
}

impl fmt::Display for RowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RowName::Pos(t, j) => write!(f, "pos_{t}_{j}"),
            RowName::Neg(t, j) => write!(f, "neg_{t}_{j}"),
            RowName::Margin(t, j) => write!(f, "mg_{t}_{j}"),
            RowName::Keep => f.write_str("keep"),
            RowName::ReluLo(t, j) => write!(f, "rlo_{t}_{j}"),
            RowName::ReluHi(t, j) => write!(f, "rhi_{t}_{j}"),
            RowName::ReluOn(t, j) => write!(f, "ron_{t}_{j}"),
            RowName::Act(t, j) => write!(f, "act_{t}_{j}"),
            RowName::Hinge(t, j) => write!(f, "hg_{t}_{j}"),
            RowName::Residual(t, j) => write!(f, "res_{t}_{j}"),
            RowName::Tangent(t, j, k) => write!(f, "tg_{t}_{j}_{k}"),
            RowName::ProtectMargin(k, j) => write!(f, "pm_{k}_{j}"),
            RowName::ProtectUpper(k, j) => write!(f, "pu_{k}_{j}"),
            RowName::ProtectLower(k, j) => write!(f, "pl_{k}_{j}"),
        }
    }
}

impl RowName {
    /// Appends the name to `out`, as `Display` writes it; tangent rows
    /// (millions in one file) without `core::fmt`, which costs more than
    /// the rest of their line.
    pub fn push_to(&self, out: &mut Vec<u8>) {
        match *self {
            RowName::Tangent(t, j, k) => push_indexed(out, b"tg_", [t, j, k]),
            other => {
                use std::io::Write;
                let _ = write!(out, "{other}");
            }
        }
    }
}

impl Var {
    /// Appends the name to `out`, as `Display` writes it; segment columns
    /// (millions in one file) without `core::fmt`.
    pub fn push_to(&self, out: &mut Vec<u8>) {
        match *self {
            Var::Seg(t, j, k) => push_indexed(out, b"sg_", [t, j, k]),
            other => {
                use std::io::Write;
                let _ = write!(out, "{other}");
            }
        }
    }
}

/// Appends `prefix` and the indices joined by `_`: `sg_3_0_12`.
fn push_indexed(out: &mut Vec<u8>, prefix: &[u8], indices: [usize; 3]) {
    out.extend_from_slice(prefix);
    for (k, n) in indices.into_iter().enumerate() {
        if k > 0 {
            out.push(b'_');
        }
        push_decimal(out, n);
    }
}

/// Appends the decimal text of `n`.
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[k..]);
}

fn nums<const K: usize>(rest: &str) -> Option<[usize; K]> {
    let mut out = [0usize; K];
    let mut parts = rest.split('_');
    for o in out.iter_mut() {
        let p = parts.next()?;
        // Canonical decimal only: no sign, no leading zeros.
        if p.is_empty()
            || (p.len() > 1 && p.starts_with('0'))
            || !p.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

impl Var {
    /// Parses a name written by [`Var`]'s `Display`; `None` for any other.
    pub fn parse(name: &str) -> Option<Var> {
        if name == "maxdev" {
            return Some(Var::MaxDev);
        }
        let (prefix, rest) = name.split_once('_')?;
        Some(match prefix {
            "w" => nums::<2>(rest).map(|[j, i]| Var::W(j, i))?,
            "b" => nums::<1>(rest).map(|[j]| Var::B(j))?,
            "dev" => nums::<2>(rest).map(|[t, j]| Var::Dev(t, j))?,
            "c" => nums::<1>(rest).map(|[t]| Var::C(t))?,
            "o" => nums::<2>(rest).map(|[t, j]| Var::O(t, j))?,
            "z" => nums::<2>(rest).map(|[t, j]| Var::Z(t, j))?,
            "a" => nums::<2>(rest).map(|[t, j]| Var::A(t, j))?,
            "xi" => nums::<1>(rest).map(|[t]| Var::Xi(t))?,
            "r" => nums::<2>(rest).map(|[t, j]| Var::R(t, j))?,
            "sq" => nums::<2>(rest).map(|[t, j]| Var::Sq(t, j))?,
            "sg" => nums::<3>(rest).map(|[t, j, k]| Var::Seg(t, j, k))?,
            _ => return None,
        })
    }

    /// True for the layer's own parameters (`w_j_i`, `b_j`).
    pub fn is_parameter(&self) -> bool {
        matches!(self, Var::W(..) | Var::B(_))
    }
}

/// The naming scheme as documented in the manifest.
pub fn scheme() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "w_j_i",
            "weight from input i to output j (W is M x N, whatever the ONNX layout)",
        ),
        (
            "b_j",
            "bias of output j (absent when the layer has no per-output bias)",
        ),
        (
            "dev_t_j",
            "regression: |output j - target| of point t (t = index in the data file)",
        ),
        (
            "c_t",
            "classification: 1 when point t is correct with the margin",
        ),
        ("o_t_j", "ReLU output of point t, output j"),
        ("z_t_j", "1 when the ReLU of point t, output j is active"),
        ("a_t_j", "paper form: activation of output j at point t"),
        ("maxdev", "linf loss: the largest |output - target|"),
        ("xi_t", "hinge loss of point t"),
        ("r_t_j", "mse: residual output j - target of point t"),
        (
            "sq_t_j",
            "mse, tangent form: r_t_j squared, from below by tangent lines",
        ),
        (
            "sg_t_j_k",
            "mse, segment form: the part of segment k of its range the residual of point t, output j covers",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legal_lp_name(s: &str) -> bool {
        let first = s.chars().next().unwrap();
        first.is_ascii_alphabetic()
            && !matches!(first, 'e' | 'E')
            && s.len() <= 255
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    #[test]
    fn every_name_is_legal_and_parses_back() {
        let vars = [
            Var::W(3, 17),
            Var::B(0),
            Var::Dev(120, 2),
            Var::C(9),
            Var::O(1, 1),
            Var::Z(4, 0),
            Var::A(0, 9),
            Var::MaxDev,
            Var::Xi(12),
            Var::R(7, 1),
            Var::Sq(7, 1),
            Var::Seg(7, 1, 12),
        ];
        for v in vars {
            let s = v.to_string();
            let mut pushed = Vec::new();
            v.push_to(&mut pushed);
            assert_eq!(String::from_utf8(pushed).unwrap(), s);
            assert!(legal_lp_name(&s), "{s}");
            assert_eq!(Var::parse(&s), Some(v), "{s}");
        }
        let rows = [
            RowName::Pos(1, 2),
            RowName::Neg(1, 2),
            RowName::Margin(5, 3),
            RowName::Keep,
            RowName::ReluLo(0, 0),
            RowName::ReluHi(0, 0),
            RowName::ReluOn(0, 0),
            RowName::Act(2, 1),
            RowName::Hinge(3, 0),
            RowName::Residual(3, 1),
            RowName::Tangent(3, 1, 40),
            RowName::ProtectMargin(1000, 10),
            RowName::ProtectUpper(7, 0),
            RowName::ProtectLower(7, 0),
        ];
        for r in rows {
            assert!(legal_lp_name(&r.to_string()), "{r}");
            let mut pushed = Vec::new();
            r.push_to(&mut pushed);
            assert_eq!(String::from_utf8(pushed).unwrap(), r.to_string());
        }
        let mut big = Vec::new();
        RowName::Tangent(usize::MAX, 0, 10).push_to(&mut big);
        assert_eq!(
            String::from_utf8(big).unwrap(),
            format!("tg_{}_0_10", usize::MAX)
        );
        assert!(legal_lp_name(OBJECTIVE));
    }

    #[test]
    fn foreign_or_malformed_names_do_not_parse() {
        for s in [
            "w_1", "w_1_2_3", "w_01_2", "w_-1_2", "x_1", "w__1", "b_", "W_1_2", "w_1_2 ",
        ] {
            assert_eq!(Var::parse(s), None, "{s}");
        }
    }
}
