//! The frozen [`Problem`] and the [`Builder`] that makes it. A builder
//! collects columns, rows and objective terms; [`Builder::finish`] sorts
//! them and counts the non-zeros once (the column-wise index is built when
//! a column is first read), and the `Problem` it returns has private
//! fields, so no later edit can make the column-wise view (MPS) and the
//! row-wise view (LP) disagree.
//!
//! A problem stores columns and rows, but not the non-zeros: a row says
//! which layer activations `a_tj = w_j · h_t + b_j` it reads (with their
//! coefficients) and which auxiliary columns. Its non-zeros are generated
//! from the features on demand, row-wise ([`Problem::for_row`]) or
//! column-wise ([`Problem::for_column`]), so memory is O(T·N) for the
//! features, never O(non-zeros). The hinge loss's rows are made from one
//! class each ([`HingePoint`], before the stored rows), and the mse forms'
//! many pieces are generated too: tangent rows ([`TangentSet`]: ~90 a
//! residual, after the stored rows) and segment columns ([`SegmentSet`]: ~90 a residual, in place
//! among the stored columns), each described by its breakpoints. So is the
//! exact mse form's Hessian when it comes from the normal equations.
//!
//! It knows numbers and names only: no files, no formats, no ONNX.

use super::names::{RowName, Var};
use super::Normal;
use super::{LayerData, MseBound, Options, Presolve};
use ndarray::{ArcArray2, Array1, Array2, ArrayView2};
use std::sync::OnceLock;

/// Row sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sense {
    /// ≤
    Le,
    /// ≥
    Ge,
    /// =
    Eq,
}

/// A column (variable), as a problem hands it out (by value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// Its name.
    pub var: Var,
    /// Lower bound (may be −∞).
    pub lower: f64,
    /// Upper bound (may be +∞).
    pub upper: f64,
    /// Integer (all of gdmilp's integers are binaries).
    pub integer: bool,
    /// Value at the MIP start (the current weights unless replaced).
    pub start: f64,
}

/// A row for the builder: `Σ_j coef_j · a_tj + Σ aux  (sense)  rhs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Its name.
    pub name: RowName,
    /// Sense.
    pub sense: Sense,
    /// Right-hand side (constants of the activations already moved here).
    pub rhs: f64,
    /// Position of the point among the selected points, if the row reads
    /// activations.
    pub point: Option<usize>,
    /// (output j, coefficient) of the activations read, ascending j.
    pub act: Vec<(usize, f64)>,
    /// (column, coefficient) of auxiliary columns.
    pub aux: Vec<(usize, f64)>,
}

/// The hinge rows of one point at position `pos` (data-file index `t`,
/// label `l`, loss column `xi`): `hg_t_j: ξ_t + a_tℓ − a_tj ≥ δ − (c_ℓ −
/// c_j)` for each class j of `rivals`, c the bias constants. They are
/// stored as one class a row and made when read.
#[derive(Debug, Clone, Copy)]
pub struct HingeRows<'a> {
    pub pos: usize,
    pub t: usize,
    pub l: usize,
    pub xi: usize,
    pub rivals: &'a [u32],
    pub delta: f64,
}

/// A row's name, sense and right-hand side, whether stored or generated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowHead {
    /// Its name.
    pub name: RowName,
    /// Sense.
    pub sense: Sense,
    /// Right-hand side.
    pub rhs: f64,
}

/// A listed row as the problem reads it: [`Row`]'s fields, its entries
/// borrowed from the shared lists of [`Rows`] or made for a hinge row.
#[derive(Debug, Clone, Copy)]
struct RowRef<'a> {
    name: RowName,
    sense: Sense,
    rhs: f64,
    point: Option<usize>,
    act: Entries<'a>,
    aux: Entries<'a>,
}

/// A row's (column or output, coefficient) entries.
#[derive(Debug, Clone, Copy)]
enum Entries<'a> {
    /// A stored row's, in [`Rows`]' shared lists.
    Stored(&'a [(usize, f64)]),
    /// A hinge row's: its first `n` (at most two).
    Made([(usize, f64); 2], usize),
}

impl Entries<'_> {
    fn get(&self) -> &[(usize, f64)] {
        match self {
            Entries::Stored(s) => s,
            Entries::Made(e, n) => &e[..*n],
        }
    }
}

/// A stored row's head, and where its entries are in [`Rows`]' lists.
#[derive(Debug, Clone, Copy)]
struct Head {
    name: RowName,
    sense: Sense,
    rhs: f64,
    point: Option<u32>,
    act: u32,
    aux: u32,
    act_len: u32,
    aux_len: u32,
}

/// One kept point of the hinge loss and its rows `hg_t_j: ξ_t + a_tℓ −
/// a_tj ≥ δ − (c_ℓ − c_j)`, one per rival j that presolve kept (c: the
/// bias constants, 0 when the bias is a variable).
#[derive(Debug, Clone, Copy)]
struct HingePoint {
    /// Its first row; its rivals are [`Rows::rivals`] from there.
    first: usize,
    pos: usize,
    t: usize,
    l: usize,
    xi: usize,
}

/// The listed rows (the generated tangent rows follow them). First the
/// hinge rows, made on demand from a class per row ([`HingePoint`]): a
/// hinge problem's rows are almost all of this kind, 6.2 M on a
/// 1,000-class head at T = 50,000. Then the stored rows: their heads in one
/// list, the activations and auxiliary entries of every row in two shared
/// ones. (As [`Row`]s, each with two vectors of its own, a hinge row took
/// ~190 bytes; stored here ~110; made, 4.)
#[derive(Debug, Clone, Default)]
struct Rows {
    hinge: Vec<HingePoint>,
    /// The rival class of each hinge row.
    rivals: Vec<u32>,
    /// δ and the bias constants of the hinge rows' right-hand sides.
    delta: f64,
    consts: Vec<f64>,
    heads: Vec<Head>,
    act: Vec<(usize, f64)>,
    aux: Vec<(usize, f64)>,
}

impl Rows {
    /// Rows listed: the hinge rows and the stored ones.
    fn len(&self) -> usize {
        self.rivals.len() + self.heads.len()
    }

    /// Adds `row` after every listed row; returns its index.
    fn push(&mut self, row: Row) -> usize {
        // (a zero-one problem's `keep` row has an entry per kept point)
        let at = |n: usize| u32::try_from(n).expect("fewer than 2^32 row entries");
        self.heads.push(Head {
            name: row.name,
            sense: row.sense,
            rhs: row.rhs,
            point: row.point.map(at),
            act: at(self.act.len()),
            aux: at(self.aux.len()),
            act_len: at(row.act.len()),
            aux_len: at(row.aux.len()),
        });
        self.act.extend(row.act);
        self.aux.extend(row.aux);
        self.len() - 1
    }

    /// Adds point `p`'s hinge rows, one per class of `rivals`, with margin
    /// `delta` and bias constants `consts`; hinge rows come before any
    /// stored row.
    fn push_hinge(&mut self, p: HingePoint, rivals: &[u32], delta: f64, consts: &[f64]) {
        assert!(self.heads.is_empty(), "hinge rows come first");
        if self.hinge.is_empty() {
            (self.delta, self.consts) = (delta, consts.to_vec());
        }
        self.hinge.push(HingePoint {
            first: self.rivals.len(),
            ..p
        });
        self.rivals.extend_from_slice(rivals);
    }

    fn get(&self, r: usize) -> Option<RowRef<'_>> {
        if let Some(&j) = self.rivals.get(r) {
            let p = self.hinge[self.hinge.partition_point(|p| p.first <= r) - 1];
            let j = j as usize;
            let mut act = [(p.l, 1.0), (j, -1.0)];
            if j < p.l {
                act.swap(0, 1);
            }
            return Some(RowRef {
                name: RowName::Hinge(p.t, j),
                sense: Sense::Ge,
                rhs: self.delta - (self.consts[p.l] - self.consts[j]),
                point: Some(p.pos),
                act: Entries::Made(act, 2),
                aux: Entries::Made([(p.xi, 1.0), (0, 0.0)], 1),
            });
        }
        let h = self.heads.get(r - self.rivals.len())?;
        let (act, aux) = (h.act as usize, h.aux as usize);
        Some(RowRef {
            name: h.name,
            sense: h.sense,
            rhs: h.rhs,
            point: h.point.map(|p| p as usize),
            act: Entries::Stored(&self.act[act..act + h.act_len as usize]),
            aux: Entries::Stored(&self.aux[aux..aux + h.aux_len as usize]),
        })
    }

    fn iter(&self) -> impl Iterator<Item = RowRef<'_>> + '_ {
        (0..self.len()).filter_map(|r| self.get(r))
    }
}

/// The mse tangent rows of one (point, output), generated on demand:
/// `tg_t_j_k: sq − 2 p_k r ≥ −p_k²` for the points p_k in
/// `tangent_points[start..end]`. They follow the stored rows, in the order
/// they were added.
#[derive(Debug, Clone)]
struct TangentSet {
    t: usize,
    j: usize,
    r: usize,
    sq: usize,
    start: usize,
    end: usize,
}

/// The mse segment columns of one residual, generated on demand: with
/// breakpoints p_0 < … < p_K (`nodes[nodes..nodes + K + 1]`) and the
/// current residual r⁰ = p_a (a = `anchor`), column `sg_t_j_k` covers
/// [p_k, p_k+1], within [0, p_k+1 − p_k]. From r⁰ the residual climbs the
/// segments above (k ≥ a: coefficient −1 in the residual row, cost
/// p_k + p_k+1, the chord's slope) and descends those below (k < a:
/// coefficient +1, cost −(p_k + p_k+1)); every segment starts at 0.
#[derive(Debug, Clone)]
struct SegmentSet {
    t: usize,
    j: usize,
    /// The residual row they enter.
    row: usize,
    /// Index of `sg_t_j_0` among all columns.
    first: usize,
    /// Segment columns of the sets before this one.
    before: usize,
    /// Index of p_0 in `nodes`.
    nodes: usize,
    /// K, the number of segments.
    count: usize,
    /// a: the first segment above the current residual.
    anchor: usize,
}

/// Where a column lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The k-th stored column.
    Stored(usize),
    /// Segment k of set s.
    Segment(usize, usize),
}

/// Where column `c` lives, among the segment `sets`.
fn slot(sets: &[SegmentSet], c: usize) -> Slot {
    let k = sets.partition_point(|s| s.first <= c);
    if k == 0 {
        return Slot::Stored(c);
    }
    let s = &sets[k - 1];
    if c < s.first + s.count {
        Slot::Segment(k - 1, c - s.first)
    } else {
        Slot::Stored(c - s.before - s.count)
    }
}

/// The parts a builder and a problem share.
#[derive(Debug, Clone)]
struct Parts {
    features: ArcArray2<f64>,
    points: Vec<usize>,
    n_out: usize,
    n_in: usize,
    bias_vars: bool,
    columns: Vec<Column>,
    total_columns: usize,
    rows: Rows,
    objective: Vec<(usize, f64)>,
    objective_offset: f64,
    quadratic: Vec<(usize, usize, f64)>,
    hessian_from_normal: bool,
    mse_bound: Option<MseBound>,
    presolve: Presolve,
    normal: Option<Normal>,
    labels: Option<Vec<usize>>,
    centre: (Array2<f64>, Array1<f64>),
    tangents: Vec<TangentSet>,
    tangent_points: Vec<f64>,
    segments: Vec<SegmentSet>,
    nodes: Vec<f64>,
}

/// Collects a problem's columns and rows; [`Builder::finish`] freezes it.
#[derive(Debug, Clone)]
pub(crate) struct Builder {
    parts: Parts,
}

impl Builder {
    /// Starts a problem with the layer's weight (and bias) columns.
    pub fn new(
        layer: &LayerData,
        features: ArcArray2<f64>,
        points: Vec<usize>,
        opts: &Options,
    ) -> Builder {
        let (m, n) = layer.w.dim();
        let mut columns = Vec::with_capacity(m * n + m);
        for j in 0..m {
            for i in 0..n {
                let w = layer.w[[j, i]];
                columns.push(Column {
                    var: Var::W(j, i),
                    lower: w - opts.radius,
                    upper: w + opts.radius,
                    integer: false,
                    start: w,
                });
            }
        }
        if layer.bias_vars {
            for j in 0..m {
                let b = layer.b[j];
                columns.push(Column {
                    var: Var::B(j),
                    lower: b - opts.bias_radius,
                    upper: b + opts.bias_radius,
                    integer: false,
                    start: b,
                });
            }
        }
        let t = points.len();
        Builder {
            parts: Parts {
                features: if features.is_standard_layout() {
                    features
                } else {
                    features.as_standard_layout().into_owned().into_shared()
                },
                points,
                n_out: m,
                n_in: n,
                bias_vars: layer.bias_vars,
                total_columns: columns.len(),
                columns,
                rows: Rows::default(),
                objective: Vec::new(),
                objective_offset: 0.0,
                quadratic: Vec::new(),
                hessian_from_normal: false,
                mse_bound: None,
                presolve: Presolve {
                    points_in: t,
                    points_kept: t,
                    ..Presolve::default()
                },
                normal: None,
                labels: None,
                centre: (layer.w.clone(), layer.b.clone()),
                tangents: Vec::new(),
                tangent_points: Vec::new(),
                segments: Vec::new(),
                nodes: Vec::new(),
            },
        }
    }

    /// Features of the selected points, T×N.
    pub fn features(&self) -> ArrayView2<'_, f64> {
        self.parts.features.view()
    }

    /// Data-file index of each selected point.
    pub fn points(&self) -> &[usize] {
        &self.parts.points
    }

    /// What presolve removed, to count into.
    pub fn presolve(&mut self) -> &mut Presolve {
        &mut self.parts.presolve
    }

    /// Adds `v` to the constant the loss has beyond the file's objective.
    pub fn add_offset(&mut self, v: f64) {
        self.parts.objective_offset += v;
    }

    /// Sets the constant the loss has beyond the file's objective.
    pub fn set_offset(&mut self, v: f64) {
        self.parts.objective_offset = v;
    }

    /// The accuracy of a piecewise-linear mse form.
    pub fn set_mse_bound(&mut self, bound: MseBound) {
        self.parts.mse_bound = Some(bound);
    }

    /// Classification: the label of each selected point.
    pub fn set_labels(&mut self, labels: Vec<usize>) {
        self.parts.labels = Some(labels);
    }

    /// mse, exact, linear output: the normal equations; with `hessian`, the
    /// quadratic objective is theirs (generated on demand, not stored).
    pub fn set_normal(&mut self, normal: Normal, hessian: bool) {
        self.parts.normal = Some(normal);
        self.parts.hessian_from_normal = hessian;
    }

    /// Adds an auxiliary column and returns its index.
    pub fn add_column(
        &mut self,
        var: Var,
        lower: f64,
        upper: f64,
        integer: bool,
        start: f64,
    ) -> usize {
        self.parts.columns.push(Column {
            var,
            lower,
            upper,
            integer,
            start,
        });
        self.parts.total_columns += 1;
        self.parts.total_columns - 1
    }

    /// Sets the bounds and start of stored column `col` (linf's `maxdev`,
    /// known once every point is seen).
    pub fn set_column(&mut self, col: usize, lower: f64, upper: f64, start: f64) {
        let Slot::Stored(k) = slot(&self.parts.segments, col) else {
            panic!("column {col} is a generated segment")
        };
        let c = &mut self.parts.columns[k];
        (c.lower, c.upper, c.start) = (lower, upper, start);
    }

    /// Adds `v` to the objective coefficient of stored column `col`.
    pub fn add_cost(&mut self, col: usize, v: f64) {
        self.parts.objective.push((col, v));
    }

    /// Adds q·x_a·x_b (q·x_a² when a = b) to the objective, a ≥ b.
    pub fn add_quadratic(&mut self, a: usize, b: usize, q: f64) {
        debug_assert!(a >= b);
        self.parts.quadratic.push((a, b, q));
    }

    /// Adds the hinge rows of one point, before any other row (see
    /// [`HingeRows`]).
    pub fn add_hinge_rows(&mut self, h: HingeRows<'_>) {
        let consts: Vec<f64> = if self.parts.bias_vars {
            vec![0.0; self.parts.n_out]
        } else {
            self.parts.centre.1.to_vec()
        };
        let point = HingePoint {
            first: 0,
            pos: h.pos,
            t: h.t,
            l: h.l,
            xi: h.xi,
        };
        self.parts
            .rows
            .push_hinge(point, h.rivals, h.delta, &consts);
    }

    /// Adds a row; returns its index.
    pub fn add_row(&mut self, row: Row) -> usize {
        self.parts.rows.push(row)
    }

    /// Adds the residual row `row` of (t, j) with its segment columns over
    /// the breakpoints `nodes` (ascending), the current residual at
    /// `nodes[anchor]`: see [`SegmentSet`]. The columns take the next
    /// indices; the row gets their entries when it is read.
    pub fn add_segment_row(
        &mut self,
        row: Row,
        (t, j): (usize, usize),
        nodes: &[f64],
        anchor: usize,
    ) {
        assert!(
            nodes.len() >= 2 && anchor < nodes.len(),
            "a set has a segment"
        );
        let count = nodes.len() - 1;
        let before = self.parts.segments.last().map_or(0, |s| s.before + s.count);
        let set = SegmentSet {
            t,
            j,
            row: self.parts.rows.len(),
            first: self.parts.total_columns,
            before,
            nodes: self.parts.nodes.len(),
            count,
            anchor,
        };
        self.parts.nodes.extend_from_slice(nodes);
        self.parts.segments.push(set);
        self.parts.total_columns += count;
        self.parts.rows.push(row);
    }

    /// Adds the tangent rows `sq ≥ 2 p r − p²` for each of `points`, after
    /// every stored row.
    pub fn add_tangents(
        &mut self,
        (t, j): (usize, usize),
        r: usize,
        sq: usize,
        points: impl IntoIterator<Item = f64>,
    ) {
        let start = self.parts.tangent_points.len();
        self.parts.tangent_points.extend(points);
        let end = self.parts.tangent_points.len();
        if end > start {
            self.parts.tangents.push(TangentSet {
                t,
                j,
                r,
                sq,
                start,
                end,
            });
        }
    }

    /// Freezes the problem: sorts the objective and builds the indexes.
    pub fn finish(self) -> Problem {
        let mut parts = self.parts;
        parts.objective.sort_by_key(|&(c, _)| c);
        parts.quadratic.sort_by_key(|&(a, b, _)| (b, a));
        let mut p = Problem {
            parts,
            by_column: OnceLock::new(),
            aux_tangent: Vec::new(),
            nnz: 0,
            hessian_len: 0,
        };
        p.index();
        p
    }
}

/// A MILP over one layer, minimised; made by a [`Builder`], never changed
/// after (only its MIP start may be replaced).
#[derive(Debug, Clone)]
pub struct Problem {
    parts: Parts,
    /// The rows each column is in, built the first time a column is read
    /// ([`Problem::for_column`]: the MPS writer, HiGHS), never by a solver
    /// that reads rows or none (on a 1,000-class head at T = 50,000 it
    /// holds 300 MB).
    by_column: OnceLock<ByColumn>,
    /// Per stored auxiliary column: the tangent set it belongs to, or
    /// u32::MAX.
    aux_tangent: Vec<u32>,
    nnz: usize,
    hessian_len: usize,
}

/// The rows of each column that stored rows list ([`Problem::by_column`]).
#[derive(Debug, Clone)]
struct ByColumn {
    /// Per output j: (row, point, coefficient) of the rows reading a_tj.
    by_output: Vec<Vec<(u32, u32, f64)>>,
    /// Per stored auxiliary column: (row, coefficient).
    by_aux: Vec<Vec<(u32, f64)>>,
}

impl Problem {
    /// The column view of the stored rows, built on first use.
    fn by_column(&self) -> &ByColumn {
        self.by_column.get_or_init(|| {
            let first_aux = self.first_aux();
            let stored_aux = self.parts.columns.len() - first_aux;
            let mut by_output = vec![Vec::new(); self.parts.n_out];
            let mut by_aux = vec![Vec::new(); stored_aux];
            for (r, row) in self.parts.rows.iter().enumerate() {
                for &(j, c) in row.act.get() {
                    let point = row.point.expect("activation rows have a point");
                    by_output[j].push((r as u32, point as u32, c));
                }
                for &(col, c) in row.aux.get() {
                    let Slot::Stored(k) = self.slot(col) else {
                        unreachable!("rows name stored columns; segments are attached to their row")
                    };
                    by_aux[k - first_aux].push((r as u32, c));
                }
            }
            ByColumn { by_output, by_aux }
        })
    }

    /// The counts and the tangent sets' columns, after the rows change.
    fn index(&mut self) {
        let first_aux = self.first_aux();
        let stored_aux = self.parts.columns.len() - first_aux;
        self.by_column = OnceLock::new();
        self.aux_tangent = vec![u32::MAX; stored_aux];
        for (k, set) in self.parts.tangents.iter().enumerate() {
            for col in [set.r, set.sq] {
                let Slot::Stored(s) = self.slot(col) else {
                    unreachable!("tangent sets read stored columns")
                };
                self.aux_tangent[s - first_aux] = k as u32;
            }
        }
        self.nnz = self.count_nonzeros();
        self.hessian_len = self.count_quadratic();
    }

    /// The number of entries `for_column` lists over every column, counted
    /// from the rows in O(T·N + rows + entries): a weight column lists the
    /// rows reading its output whose point's feature is non-zero, so the
    /// weight entries of an activation are the non-zero features of its
    /// point, counted once per point (walking rows per column instead is
    /// O(M·N·rows per output), billions of steps for a hinge head).
    fn count_nonzeros(&self) -> usize {
        let parts = &self.parts;
        let nonzero: Vec<usize> = parts
            .features
            .rows()
            .into_iter()
            .map(|h| h.iter().filter(|&&v| v != 0.0).count())
            .collect();
        let bias = usize::from(parts.bias_vars);
        let (mut activations, mut aux) = (0, 0);
        for row in parts.rows.iter() {
            if let Some(p) = row.point {
                activations += row.act.get().len() * (nonzero[p] + bias);
            }
            aux += row.aux.get().len();
        }
        let tangents: usize = self
            .aux_tangent
            .iter()
            .filter_map(|&k| parts.tangents.get(k as usize))
            .map(|set| set.end - set.start)
            .sum();
        let segments: usize = parts.segments.iter().map(|s| s.count).sum();
        activations + aux + tangents + segments
    }

    /// The number of terms `for_quadratic` lists; from the normal
    /// equations, every output repeats the Gram matrix's count.
    fn count_quadratic(&self) -> usize {
        let parts = &self.parts;
        match &parts.normal {
            Some(normal) if parts.hessian_from_normal => {
                let (n, k) = (parts.n_in, normal.g.nrows());
                let mut per_output = 0;
                for c in 0..n.min(k) {
                    per_output += (c..k).filter(|&a| normal.g[[a, c]] != 0.0).count();
                }
                if k > n && normal.g[[n, n]] != 0.0 {
                    per_output += 1;
                }
                parts.n_out * per_output
            }
            _ => parts.quadratic.len(),
        }
    }

    /// Where column `c` lives.
    fn slot(&self, c: usize) -> Slot {
        slot(&self.parts.segments, c)
    }

    /// Segment k of set s: (its column, lower node, upper node, above the
    /// current residual).
    fn segment(&self, s: usize, k: usize) -> (Column, f64) {
        let set = &self.parts.segments[s];
        let (lo, hi) = (
            self.parts.nodes[set.nodes + k],
            self.parts.nodes[set.nodes + k + 1],
        );
        let up = k >= set.anchor;
        let column = Column {
            var: Var::Seg(set.t, set.j, k),
            lower: 0.0,
            upper: hi - lo,
            integer: false,
            start: 0.0,
        };
        (column, if up { lo + hi } else { -(lo + hi) })
    }

    /// The coefficient of segment k of set s in its residual row.
    fn segment_coefficient(&self, s: usize, k: usize) -> f64 {
        if k >= self.parts.segments[s].anchor {
            -1.0
        } else {
            1.0
        }
    }

    /// Adds rows that read the activations of extra points, not the
    /// objective's (protected points, see [`super::protect`]): `features`
    /// holds theirs, one per row, and each added row's `point` indexes it.
    /// The rows follow the stored rows and the indexes are built again: the
    /// only way rows join a frozen problem.
    pub(crate) fn with_extra_points(mut self, features: Array2<f64>, rows: Vec<Row>) -> Problem {
        let base = self.parts.features.nrows();
        if features.nrows() > 0 {
            let all = ndarray::concatenate(
                ndarray::Axis(0),
                &[self.parts.features.view(), features.view()],
            )
            .expect("extra points have the layer's N features");
            self.parts.features = all.as_standard_layout().into_owned().into_shared();
        }
        for mut r in rows {
            r.point = r.point.map(|k| k + base);
            self.parts.rows.push(r);
        }
        self.index();
        self
    }

    /// How many points rows read beyond the objective's (protected points):
    /// a method that works on the objective's points alone cannot take them.
    pub fn extra_points(&self) -> usize {
        self.parts.features.nrows() - self.parts.points.len()
    }

    /// The constant part of a_j: the bias b⁰_j when the bias is not a
    /// variable, else 0.
    pub(crate) fn bias_constant(&self, j: usize) -> f64 {
        if self.parts.bias_vars {
            0.0
        } else {
            self.parts.centre.1[j]
        }
    }

    /// M.
    pub fn n_out(&self) -> usize {
        self.parts.n_out
    }

    /// N.
    pub fn n_in(&self) -> usize {
        self.parts.n_in
    }

    /// Whether `b_j` columns exist (right after the weights).
    pub fn bias_vars(&self) -> bool {
        self.parts.bias_vars
    }

    /// Features of the selected points, T×N.
    pub fn features(&self) -> ArrayView2<'_, f64> {
        self.parts.features.view()
    }

    /// Data-file index of each selected point.
    pub fn points(&self) -> &[usize] {
        &self.parts.points
    }

    /// Classification: the label of each selected point.
    pub fn labels(&self) -> Option<&[usize]> {
        self.parts.labels.as_deref()
    }

    /// mse, exact, linear output: the normal equations (one problem per
    /// output on a shared Gram matrix), for a solver that uses them.
    pub fn normal(&self) -> Option<&Normal> {
        self.parts.normal.as_ref()
    }

    /// What presolve removed.
    pub fn presolve(&self) -> &Presolve {
        &self.parts.presolve
    }

    /// The accuracy of a piecewise-linear mse form.
    pub fn mse_bound(&self) -> Option<MseBound> {
        self.parts.mse_bound
    }

    /// Constant added to the objective to get the loss (not in the file).
    pub fn objective_offset(&self) -> f64 {
        self.parts.objective_offset
    }

    /// Number of columns, stored and generated.
    pub fn num_columns(&self) -> usize {
        self.parts.total_columns
    }

    /// Column `c`.
    pub fn column(&self, c: usize) -> Column {
        match self.slot(c) {
            Slot::Stored(k) => self.parts.columns[k],
            Slot::Segment(s, k) => self.segment(s, k).0,
        }
    }

    /// Every column, in file order.
    pub fn columns(&self) -> impl Iterator<Item = Column> + '_ {
        (0..self.num_columns()).map(|c| self.column(c))
    }

    /// True for a generated segment column (its start is always 0).
    pub fn is_segment(&self, c: usize) -> bool {
        matches!(self.slot(c), Slot::Segment(..))
    }

    /// The index among the stored columns of column `c`, when it is one.
    pub fn stored_index(&self, c: usize) -> Option<usize> {
        match self.slot(c) {
            Slot::Stored(k) => Some(k),
            Slot::Segment(..) => None,
        }
    }

    /// Number of stored (not generated) columns.
    pub fn num_stored_columns(&self) -> usize {
        self.parts.columns.len()
    }

    /// The stored columns, in file order.
    pub fn stored_columns(&self) -> &[Column] {
        &self.parts.columns
    }

    /// The segment columns as runs (first column, t, j, count): columns
    /// first .. first + count are `sg_t_j_0` … `sg_t_j_(count−1)`.
    pub fn segment_runs(&self) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        self.parts
            .segments
            .iter()
            .map(|s| (s.first, s.t, s.j, s.count))
    }

    /// Number of rows, stored and generated.
    pub fn num_rows(&self) -> usize {
        self.parts.rows.len() + self.parts.tangent_points.len()
    }

    /// Number of stored rows (generated ones follow them).
    pub fn num_stored_rows(&self) -> usize {
        self.parts.rows.len()
    }

    /// The tangent set and point of generated row `r` (≥ the stored rows).
    fn tangent(&self, r: usize) -> (&TangentSet, usize, f64) {
        let g = r - self.parts.rows.len();
        let sets = &self.parts.tangents;
        let set = &sets[sets.partition_point(|s| s.end <= g)];
        (set, g - set.start, self.parts.tangent_points[g])
    }

    /// Name, sense and right-hand side of row `r`.
    pub fn row_head(&self, r: usize) -> RowHead {
        if let Some(row) = self.parts.rows.get(r) {
            return RowHead {
                name: row.name,
                sense: row.sense,
                rhs: row.rhs,
            };
        }
        let (set, k, p) = self.tangent(r);
        RowHead {
            name: RowName::Tangent(set.t, set.j, k),
            sense: Sense::Ge,
            rhs: -p * p,
        }
    }

    /// Index of the first auxiliary column.
    pub fn first_aux(&self) -> usize {
        self.parts.n_out * self.parts.n_in
            + if self.parts.bias_vars {
                self.parts.n_out
            } else {
                0
            }
    }

    /// What column `col` is: `W(j, i)`, `B(j)`, ….
    pub fn column_var(&self, col: usize) -> Var {
        self.column(col).var
    }

    /// Calls `f(column, coefficient)` for every non-zero of row `r`.
    pub fn for_row(&self, r: usize, mut f: impl FnMut(usize, f64)) {
        let parts = &self.parts;
        if let Some(row) = parts.rows.get(r) {
            if let Some(p) = row.point {
                let h = parts.features.row(p);
                for &(j, c) in row.act.get() {
                    let base = j * parts.n_in;
                    for (i, &hv) in h.iter().enumerate() {
                        if hv != 0.0 {
                            f(base + i, c * hv);
                        }
                    }
                    if parts.bias_vars {
                        f(parts.n_out * parts.n_in + j, c);
                    }
                }
            }
        }
        self.for_row_beyond_weights(r, f);
    }

    /// [`Problem::for_row`] without the weight and bias columns of the
    /// activations the row reads.
    fn for_row_beyond_weights(&self, r: usize, mut f: impl FnMut(usize, f64)) {
        let parts = &self.parts;
        if r >= parts.rows.len() {
            let (set, _, p) = self.tangent(r);
            f(set.r, -2.0 * p);
            f(set.sq, 1.0);
            return;
        }
        let row = parts.rows.get(r).expect("a stored row");
        for &(col, c) in row.aux.get() {
            f(col, c);
        }
        let k = parts.segments.partition_point(|s| s.row < r);
        if let Some(set) = parts.segments.get(k).filter(|s| s.row == r) {
            for seg in 0..set.count {
                f(set.first + seg, self.segment_coefficient(k, seg));
            }
        }
    }

    /// Calls `f(row, coefficient)` for every non-zero of column `col`
    /// (objective excluded).
    pub fn for_column(&self, col: usize, mut f: impl FnMut(usize, f64)) {
        let parts = &self.parts;
        let wn = parts.n_out * parts.n_in;
        if col < wn {
            let (j, i) = (col / parts.n_in, col % parts.n_in);
            let h = parts
                .features
                .as_slice()
                .expect("features are stored row-major");
            for &(r, p, c) in &self.by_column().by_output[j] {
                let hv = h[p as usize * parts.n_in + i];
                if hv != 0.0 {
                    f(r as usize, c * hv);
                }
            }
            return;
        }
        if col < self.first_aux() {
            for &(r, _, c) in &self.by_column().by_output[col - wn] {
                f(r as usize, c);
            }
            return;
        }
        let k = match self.slot(col) {
            Slot::Segment(s, k) => {
                f(parts.segments[s].row, self.segment_coefficient(s, k));
                return;
            }
            Slot::Stored(k) => k - self.first_aux(),
        };
        for &(r, c) in &self.by_column().by_aux[k] {
            f(r as usize, c);
        }
        if let Some(set) = parts.tangents.get(self.aux_tangent[k] as usize) {
            for g in set.start..set.end {
                let p = parts.tangent_points[g];
                f(
                    parts.rows.len() + g,
                    if col == set.r { -2.0 * p } else { 1.0 },
                );
            }
        }
    }

    /// Number of structural non-zeros (objective excluded).
    pub fn nonzeros(&self) -> usize {
        self.nnz
    }

    /// Number of integer columns.
    pub fn binaries(&self) -> usize {
        self.parts.columns.iter().filter(|c| c.integer).count()
    }

    /// Objective coefficient of column `c`.
    pub fn cost(&self, c: usize) -> f64 {
        match self.slot(c) {
            Slot::Segment(s, k) => self.segment(s, k).1,
            Slot::Stored(_) => {
                let obj = &self.parts.objective;
                let from = obj.partition_point(|&(k, _)| k < c);
                obj[from..]
                    .iter()
                    .take_while(|&&(k, _)| k == c)
                    .map(|&(_, v)| v)
                    .sum()
            }
        }
    }

    /// Objective coefficient of every column (dense, in column order).
    pub fn costs(&self) -> Vec<f64> {
        let mut cost = vec![0.0; self.num_columns()];
        for &(c, v) in &self.parts.objective {
            cost[c] += v;
        }
        for (s, set) in self.parts.segments.iter().enumerate() {
            for k in 0..set.count {
                cost[set.first + k] = self.segment(s, k).1;
            }
        }
        cost
    }

    /// Whether the objective has a quadratic part.
    pub fn has_quadratic(&self) -> bool {
        self.hessian_len > 0
    }

    /// Entries of the quadratic objective's lower triangle.
    pub fn quadratic_len(&self) -> usize {
        self.hessian_len
    }

    /// Calls `f(a, b, q)` for every quadratic objective term q·x_a·x_b
    /// (q·x_a² when a = b), a ≥ b, sorted by column b, then a: the lower
    /// triangle column by column. With the normal equations the terms are
    /// generated from the Gram matrix, never stored.
    pub fn for_quadratic(&self, mut f: impl FnMut(usize, usize, f64)) {
        let parts = &self.parts;
        let normal = match &parts.normal {
            Some(normal) if parts.hessian_from_normal => normal,
            _ => {
                for &(a, b, q) in &parts.quadratic {
                    f(a, b, q);
                }
                return;
            }
        };
        let (m, n) = (parts.n_out, parts.n_in);
        let k = normal.g.nrows();
        // Weights of output j are j·n .. j·n + n; its bias (index n of G)
        // comes after every weight, at m·n + j.
        let col = |j: usize, a: usize| if a < n { j * n + a } else { m * n + j };
        for j in 0..m {
            for c in 0..n.min(k) {
                for a in c..k {
                    let g = normal.g[[a, c]];
                    if g != 0.0 {
                        f(col(j, a), col(j, c), if a == c { g } else { 2.0 * g });
                    }
                }
            }
        }
        if k > n {
            for j in 0..m {
                let g = normal.g[[n, n]];
                if g != 0.0 {
                    f(col(j, n), col(j, n), g);
                }
            }
        }
    }

    /// Objective value (as the file states it, without the offset) at `x`.
    pub fn objective_at(&self, x: &[f64]) -> f64 {
        let mut linear: f64 = self.parts.objective.iter().map(|&(c, v)| v * x[c]).sum();
        for (s, set) in self.parts.segments.iter().enumerate() {
            for k in 0..set.count {
                linear += self.segment(s, k).1 * x[set.first + k];
            }
        }
        let mut quadratic = 0.0;
        self.for_quadratic(|a, b, q| quadratic += q * x[a] * x[b]);
        linear + quadratic
    }

    /// The largest violation of any row or bound at `x`.
    pub fn max_violation(&self, x: &[f64]) -> f64 {
        self.max_violation_on(x, 1)
    }

    /// [`Problem::max_violation`] with the rows shared among up to
    /// `threads` threads (each of at least a few thousand rows): the same
    /// value, as a maximum does not depend on the order it is taken in.
    pub fn max_violation_on(&self, x: &[f64], threads: usize) -> f64 {
        let mut worst: f64 = 0.0;
        for (c, col) in self.columns().enumerate() {
            worst = worst.max(col.lower - x[c]).max(x[c] - col.upper);
        }
        let rows = self.num_rows();
        let rows_worst = |range: std::ops::Range<usize>| {
            range.fold(0.0_f64, |w, r| w.max(self.row_violation(r, x)))
        };
        let threads = threads.min(rows / 4096).max(1);
        if threads == 1 {
            return worst.max(rows_worst(0..rows));
        }
        let chunk = rows.div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = (0..rows)
                .step_by(chunk)
                .map(|from| s.spawn(move || rows_worst(from..(from + chunk).min(rows))))
                .collect();
            for part in parts {
                worst = worst.max(part.join().expect("a violation check panicked"));
            }
        });
        worst
    }

    /// [`Problem::max_violation`] from the products `wh` of the problem's
    /// points with the weights x holds (row k: point k's features h_k,
    /// column j: w_j · h_k, without the bias), computed by the caller: a
    /// row then costs the activations it reads, not 2N multiply-adds each.
    /// (On a 1,000-class head the rows read 2.5 G coefficients in all.)
    pub fn max_violation_given(&self, x: &[f64], wh: ArrayView2<'_, f64>) -> f64 {
        let parts = &self.parts;
        assert_eq!(
            wh.dim(),
            (parts.features.nrows(), parts.n_out),
            "a product per point and output"
        );
        let mut worst: f64 = 0.0;
        for (c, col) in self.columns().enumerate() {
            worst = worst.max(col.lower - x[c]).max(x[c] - col.upper);
        }
        let bias = |j: usize| {
            if parts.bias_vars {
                x[parts.n_out * parts.n_in + j]
            } else {
                0.0
            }
        };
        for r in 0..self.num_rows() {
            let mut lhs = 0.0;
            if let Some(row) = parts.rows.get(r) {
                if let Some(p) = row.point {
                    lhs += row
                        .act
                        .get()
                        .iter()
                        .map(|&(j, c)| c * (wh[[p, j]] + bias(j)))
                        .sum::<f64>();
                }
            }
            self.for_row_beyond_weights(r, |c, v| lhs += v * x[c]);
            worst = worst.max(self.violation(r, lhs));
        }
        worst
    }

    /// How far row `r` is from holding at `x` (0 when it holds).
    fn row_violation(&self, r: usize, x: &[f64]) -> f64 {
        let mut lhs = 0.0;
        self.for_row(r, |c, v| lhs += v * x[c]);
        self.violation(r, lhs)
    }

    /// How far row `r` is from holding when its left-hand side is `lhs`.
    fn violation(&self, r: usize, lhs: f64) -> f64 {
        let row = self.row_head(r);
        match row.sense {
            Sense::Le => lhs - row.rhs,
            Sense::Ge => row.rhs - lhs,
            Sense::Eq => (lhs - row.rhs).abs(),
        }
    }

    /// Checks that every number the file will hold is finite, naming the
    /// first offender.
    pub fn check_finite(&self) -> Result<(), String> {
        if let Some(v) = self.parts.features.iter().find(|v| !v.is_finite()) {
            return Err(format!("a feature value is {v}"));
        }
        for c in self.columns() {
            if c.lower.is_nan()
                || c.upper.is_nan()
                || c.lower == f64::INFINITY
                || c.upper == f64::NEG_INFINITY
            {
                return Err(format!(
                    "column {} has bounds [{}, {}]",
                    c.var, c.lower, c.upper
                ));
            }
        }
        if let Some(v) = self.parts.nodes.iter().find(|v| !v.is_finite()) {
            return Err(format!("a segment breakpoint is {v}"));
        }
        for r in self.parts.rows.len()..self.num_rows() {
            let head = self.row_head(r);
            if !head.rhs.is_finite() {
                return Err(format!(
                    "row {} has a non-finite right-hand side",
                    head.name
                ));
            }
        }
        for r in self.parts.rows.iter() {
            if !r.rhs.is_finite()
                || r.aux.get().iter().any(|a| !a.1.is_finite())
                || r.act.get().iter().any(|a| !a.1.is_finite())
            {
                return Err(format!(
                    "row {} has a non-finite coefficient or right-hand side",
                    r.name
                ));
            }
        }
        Ok(())
    }

    /// The layer's weights W⁰ (M×N) when the problem was built, the centre
    /// of the box.
    pub fn current_weights(&self) -> Array2<f64> {
        self.parts.centre.0.clone()
    }

    /// The bias b⁰ when the problem was built, when it is a variable.
    pub fn current_bias(&self) -> Option<Array1<f64>> {
        self.parts.bias_vars.then(|| self.parts.centre.1.clone())
    }

    /// The weights and bias a solution's column values give, by the one rule
    /// for values outside the box ([`into_box`]); `bias` stands when the
    /// bias is not a variable.
    pub fn parameters_at(
        &self,
        values: &[f64],
        bias: &Array1<f64>,
    ) -> Result<(Array2<f64>, Array1<f64>), String> {
        let mut w = Array2::zeros((self.parts.n_out, self.parts.n_in));
        let mut b = bias.clone();
        let params = &self.parts.columns[..self.first_aux()];
        for (c, col) in params.iter().enumerate() {
            let v = into_box(values[c], col.lower, col.upper, 0.0).ok_or_else(|| {
                format!(
                    "{} = {} lies outside its box [{}, {}]",
                    col.var, values[c], col.lower, col.upper
                )
            })?;
            match col.var {
                Var::W(j, i) => w[[j, i]] = v,
                Var::B(j) => b[j] = v,
                _ => unreachable!("the first columns are the layer's parameters"),
            }
        }
        Ok((w, b))
    }

    /// The MIP start: every column's value (segments are 0).
    pub fn start(&self) -> Vec<f64> {
        self.columns().map(|c| c.start).collect()
    }

    /// Replaces the MIP start with `x` (one value per column; segment
    /// columns must be 0: they are anchored at the current residuals).
    pub fn set_start(&mut self, x: &[f64]) {
        assert_eq!(x.len(), self.num_columns(), "one value per column");
        for (c, &v) in x.iter().enumerate() {
            match self.slot(c) {
                Slot::Stored(k) => self.parts.columns[k].start = v,
                Slot::Segment(..) => assert_eq!(v, 0.0, "segment columns start at 0"),
            }
        }
    }

    /// A classification problem's columns at other weights `w` (M×N) and
    /// bias `b` inside the box: `a_t_j` computed, each `c_t` 1 when its
    /// margin rows hold with it (else 0). `None` when the weights leave the
    /// box, the problem has other auxiliary columns, or a row is violated
    /// (`--keep-accuracy` can be).
    pub fn start_at(&self, w: &Array2<f64>, b: &Array1<f64>) -> Option<Vec<f64>> {
        let mut x = vec![0.0; self.num_columns()];
        for (c, col) in self.columns().enumerate() {
            x[c] = match col.var {
                Var::W(j, i) => w[[j, i]],
                Var::B(j) => b[j],
                Var::C(_) => 1.0,
                Var::A(..) => 0.0,
                _ => return None,
            };
        }
        let pos: std::collections::HashMap<usize, usize> = self
            .parts
            .points
            .iter()
            .enumerate()
            .map(|(k, &t)| (t, k))
            .collect();
        for (c, col) in self.columns().enumerate() {
            if let Var::A(t, j) = col.var {
                let h = self.parts.features.row(pos[&t]);
                x[c] = w.row(j).dot(&h) + b[j];
            }
        }
        let tol = 1e-9;
        for (r, row) in self.parts.rows.iter().enumerate() {
            if self.row_violation(r, &x) > tol * (1.0 + row.rhs.abs()) {
                // A margin row that fails with c_t = 1 holds with c_t = 0.
                for &(c, _) in row.aux.get() {
                    if matches!(self.column(c).var, Var::C(_)) {
                        x[c] = 0.0;
                    }
                }
            }
        }
        (self.max_violation(&x) <= tol).then_some(x)
    }

    /// Test-only access to a stored column, for writer tests of bounds the
    /// formulation never writes.
    #[cfg(test)]
    pub(crate) fn column_mut(&mut self, c: usize) -> &mut Column {
        let Slot::Stored(k) = self.slot(c) else {
            panic!("column {c} is generated")
        };
        &mut self.parts.columns[k]
    }

    /// Test-only: drops the objective term of column `c`.
    #[cfg(test)]
    pub(crate) fn drop_cost(&mut self, c: usize) {
        self.parts.objective.retain(|&(k, _)| k != c);
    }
}

/// The one rule for a solver's value of a weight or bias with box
/// [lower, upper]: solvers may overstep a bound by their feasibility
/// tolerance (and by the digits they print), so a value within 1e-6
/// (relative to the centre and radius) is clamped into the box; anything
/// farther is refused (`None`). `printed` widens the tolerance by that
/// fraction of |v| for a solution file that rounds what it prints (HiGHS's
/// pretty style, GLPK's report); 0 for exact values.
pub fn into_box(v: f64, lower: f64, upper: f64, printed: f64) -> Option<f64> {
    let (centre, r) = ((lower + upper) / 2.0, (upper - lower) / 2.0);
    let tol = 1e-6 * (1.0 + centre.abs() + r) + printed * v.abs();
    (v.is_finite() && v >= lower - tol && v <= upper + tol).then(|| v.clamp(lower, upper))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::formulation::Task;
    use crate::formulation::{Cap, Form, Loss, MseForm};
    use ndarray::array;

    /// A builder over a 1×2 layer (w = [1, 2], b = 0.5) and two points.
    fn builder() -> Builder {
        let layer = LayerData {
            w: array![[1.0, 2.0]],
            b: array![0.5],
            bias_vars: true,
        };
        let opts = Options {
            task: Task::Regression,
            loss: Loss::Mse,
            radius: 0.1,
            bias_radius: 0.2,
            margin: 0.0,
            form: Form::Compact,
            keep_accuracy: false,
            cap: Cap::None,
            mse_form: MseForm::Segments,
        };
        Builder::new(
            &layer,
            array![[1.0, 0.0], [3.0, 4.0]].into_shared(),
            vec![7, 9],
            &opts,
        )
    }

    fn row(name: RowName, point: Option<usize>, aux: Vec<(usize, f64)>) -> Row {
        Row {
            name,
            sense: Sense::Eq,
            rhs: 1.0,
            point,
            act: point.map(|_| vec![(0, 1.0)]).unwrap_or_default(),
            aux,
        }
    }

    /// Stored columns before, between and after two segment sets, and a
    /// tangent set: every index lands where it was handed out.
    fn mixed() -> Problem {
        let mut b = builder();
        let o = b.add_column(Var::O(7, 0), 0.0, 4.0, false, 1.5);
        assert_eq!(o, 3, "after w_0_0, w_0_1, b_0");
        b.add_segment_row(
            row(RowName::Residual(7, 0), Some(0), vec![(o, 1.0)]),
            (7, 0),
            &[-1.0, 0.5, 2.0],
            1,
        );
        let z = b.add_column(Var::Z(7, 0), 0.0, 1.0, true, 1.0);
        assert_eq!(z, 6, "after the two segments of point 7");
        b.add_segment_row(
            row(RowName::Residual(9, 0), Some(1), vec![]),
            (9, 0),
            &[0.0, 1.0, 3.0, 4.0],
            0,
        );
        let r = b.add_column(Var::R(9, 0), -1.0, 1.0, false, 0.25);
        let sq = b.add_column(Var::Sq(9, 0), 0.0, 1.0, false, 0.0625);
        assert_eq!((r, sq), (10, 11));
        b.add_row(row(RowName::ReluOn(7, 0), None, vec![(z, 2.0), (r, -1.0)]));
        b.add_tangents((9, 0), r, sq, [0.5, 1.0]);
        b.add_cost(sq, 1.0);
        b.finish()
    }

    #[test]
    fn a_row_with_more_entries_than_a_u16_counts_keeps_them_all() {
        // A zero-one problem's `keep` row has an entry per kept point.
        let mut b = builder();
        let n = 70_000;
        let cols: Vec<usize> = (0..n)
            .map(|k| b.add_column(Var::C(k), 0.0, 1.0, true, 1.0))
            .collect();
        let aux = cols.iter().map(|&c| (c, 1.0)).collect();
        let r = b.add_row(row(RowName::Keep, None, aux));
        b.add_row(row(RowName::Act(7, 0), Some(0), vec![]));
        let p = b.finish();
        let mut seen = 0;
        p.for_row(r, |c, v| {
            assert_eq!((c, v), (cols[seen], 1.0));
            seen += 1;
        });
        assert_eq!(seen, n);
        assert_eq!(p.row_head(r + 1).name, RowName::Act(7, 0));
    }

    #[test]
    fn columns_keep_the_indices_the_builder_handed_out() {
        let p = mixed();
        let names: Vec<String> = p.columns().map(|c| c.var.to_string()).collect();
        assert_eq!(
            names,
            [
                "w_0_0", "w_0_1", "b_0", "o_7_0", "sg_7_0_0", "sg_7_0_1", "z_7_0", "sg_9_0_0",
                "sg_9_0_1", "sg_9_0_2", "r_9_0", "sq_9_0"
            ]
        );
        assert_eq!((p.num_columns(), p.num_stored_columns()), (12, 7));
        assert_eq!(
            p.segment_runs().collect::<Vec<_>>(),
            [(4, 7, 0, 2), (7, 9, 0, 3)]
        );
        assert!(p.column(6).integer && p.binaries() == 1);
        // Segment k: [0, width], starts at 0; below the anchor it descends.
        assert_eq!(
            p.column(4),
            Column {
                var: Var::Seg(7, 0, 0),
                lower: 0.0,
                upper: 1.5,
                integer: false,
                start: 0.0
            }
        );
        assert_eq!(
            (p.cost(4), p.cost(5), p.cost(7), p.cost(11), p.cost(10)),
            (0.5, 2.5, 1.0, 1.0, 0.0)
        );
        assert_eq!(p.costs(), (0..12).map(|c| p.cost(c)).collect::<Vec<_>>());
        assert_eq!(
            p.start(),
            [1.0, 2.0, 0.5, 1.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.25, 0.0625]
        );
    }

    /// Checks that `p` lists the same non-zeros by row and by column, as
    /// many as it counts.
    pub(crate) fn assert_rows_match_columns(p: &Problem) {
        let mut by_row = Vec::new();
        for r in 0..p.num_rows() {
            p.for_row(r, |c, v| by_row.push((r, c, v)));
        }
        let mut by_col = Vec::new();
        for c in 0..p.num_columns() {
            p.for_column(c, |r, v| by_col.push((r, c, v)));
        }
        by_row.sort_by(|a, b| a.partial_cmp(b).unwrap());
        by_col.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(by_row, by_col);
        assert_eq!(p.nonzeros(), by_row.len());
    }

    #[test]
    fn rows_and_columns_list_the_same_non_zeros() {
        let p = mixed();
        assert_eq!((p.num_rows(), p.num_stored_rows()), (5, 3));
        assert_rows_match_columns(&p);
        // res_7_0: w·(1, 0) + b + o + sg_7_0_0 − sg_7_0_1.
        let mut res = Vec::new();
        p.for_row(0, |c, v| res.push((c, v)));
        assert_eq!(res, [(0, 1.0), (2, 1.0), (3, 1.0), (4, 1.0), (5, -1.0)]);
        assert_eq!(p.row_head(4).name, RowName::Tangent(9, 0, 1));
    }

    /// A random head (t points, n inputs, m outputs, some features 0)
    /// built in the form `opts` asks for.
    fn random_built(seed: u64, (t, n, m): (usize, usize, usize), opts: &Options) -> Problem {
        use crate::formulation::{build, Input};
        let mut rng = crate::data::SplitMix(seed);
        let h = Array2::from_shape_fn((t, n), |_| {
            let v = rng.uniform() * 2.0 - 0.5;
            if rng.uniform() < 0.3 {
                0.0
            } else {
                v
            }
        });
        let layer = LayerData {
            w: Array2::from_shape_fn((m, n), |_| rng.uniform() - 0.5),
            b: Array1::from_shape_fn(m, |_| rng.uniform()),
            bias_vars: seed.is_multiple_of(2),
        };
        let classes: Vec<usize> = (0..t).map(|_| rng.below(m)).collect();
        let y = Array2::from_shape_fn((t, m), |_| rng.uniform() * 3.0);
        let classification = opts.task == Task::Classification;
        let input = Input {
            layer: &layer,
            features: h.into_shared(),
            points: (0..t).map(|k| 10 + k).collect(),
            relu: !classification && seed.is_multiple_of(3),
            classes: classification.then_some(&classes[..]),
            targets: (!classification).then_some(&y),
        };
        build(input, opts).unwrap()
    }

    /// The index counted from the rows agrees with the plain definition:
    /// every column's entries, listed from the rows in row order, are what
    /// `for_column` lists, and their number is `nonzeros()`; the Hessian's
    /// count is what `for_quadratic` lists.
    #[test]
    fn the_index_counted_from_rows_matches_a_column_walk() {
        let options = |loss: Loss, form: Form, mse_form: MseForm| Options {
            task: loss.task(),
            loss,
            radius: 0.3,
            bias_radius: 0.3,
            margin: loss.default_margin(),
            form,
            keep_accuracy: false,
            cap: Cap::None,
            mse_form,
        };
        let cases = [
            options(Loss::ZeroOne, Form::Compact, MseForm::Segments),
            options(Loss::ZeroOne, Form::Paper, MseForm::Segments),
            options(Loss::Hinge, Form::Compact, MseForm::Segments),
            options(Loss::Mse, Form::Compact, MseForm::Segments),
            options(Loss::Mse, Form::Compact, MseForm::Tangents),
            options(Loss::Mse, Form::Compact, MseForm::Quadratic),
            options(Loss::L1, Form::Compact, MseForm::Segments),
        ];
        let mut checked = 0;
        for opts in &cases {
            for seed in 0..6 {
                let dims = (
                    5 + seed as usize,
                    3 + seed as usize % 3,
                    2 + seed as usize % 3,
                );
                let p = random_built(seed, dims, opts);
                let mut reference = vec![Vec::new(); p.num_columns()];
                for r in 0..p.num_rows() {
                    p.for_row(r, |c, v| reference[c].push((r, v)));
                }
                let mut total = 0;
                for (c, want) in reference.iter().enumerate() {
                    let mut got = Vec::new();
                    p.for_column(c, |r, v| got.push((r, v)));
                    assert_eq!(&got, want, "{:?} seed {seed}: column {c}", opts.loss);
                    total += got.len();
                }
                assert_eq!(p.nonzeros(), total, "{:?} seed {seed}", opts.loss);
                let mut h = 0;
                p.for_quadratic(|_, _, _| h += 1);
                assert_eq!(p.quadratic_len(), h, "{:?} seed {seed}", opts.loss);
                checked += usize::from(p.num_columns() > p.num_stored_columns());
            }
        }
        assert!(checked > 0, "some case has segment columns");
    }

    #[test]
    fn a_new_start_replaces_stored_values_and_keeps_segments_at_zero() {
        let mut p = mixed();
        let mut x = p.start();
        x[0] = 1.05;
        p.set_start(&x);
        assert_eq!(p.column(0).start, 1.05);
        x[4] = 0.5;
        let moved = std::panic::catch_unwind(move || p.set_start(&x));
        assert!(moved.is_err(), "a segment's start is 0 by construction");
    }
}
