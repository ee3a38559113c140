//! Which points the solver gets: the selection rules (`--select`), and the
//! seeded generator every sample of gdmilp draws from, so a selection, a
//! validation split and a fold are the same on every platform and version.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// How points are chosen for the solver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Select {
    /// Every point (then `--points` takes the first N).
    All,
    /// Points the model gets wrong (classification), a seeded random sample of N.
    Misclassified,
    /// A seeded random sample of N points.
    Random,
    /// The first N points in file order.
    First,
    /// The N points with the largest current loss.
    Worst,
}

/// splitmix64: a small, portable, seeded generator (same sample on every
/// platform and version). Also the benchmarks' source of synthetic data.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A uniform number in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `k` of `pool`, sampled without replacement, in file order.
pub(crate) fn sample(pool: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let mut v = pool.to_vec();
    let k = k.min(v.len());
    let mut rng = SplitMix(seed);
    for i in 0..k {
        let j = i + rng.below(v.len() - i);
        v.swap(i, j);
    }
    v.truncate(k);
    v.sort_unstable();
    v
}

/// The indices handed to the solver, ascending. `wrong[t]`: point t is
/// misclassified now; `loss[t]`: its current loss.
pub fn select(
    kind: Select,
    points: Option<usize>,
    seed: u64,
    wrong: Option<&[bool]>,
    loss: &[f64],
) -> Result<Vec<usize>> {
    let t = loss.len();
    let k = points.unwrap_or(t);
    let all: Vec<usize> = (0..t).collect();
    Ok(match kind {
        Select::All | Select::First => all.into_iter().take(k).collect(),
        Select::Random => sample(&all, k, seed),
        Select::Misclassified => {
            let wrong = wrong.ok_or_else(|| {
                Error::usage("--select misclassified needs a classification task; use --select worst for regression")
            })?;
            let pool: Vec<usize> = all.into_iter().filter(|&i| wrong[i]).collect();
            sample(&pool, k, seed)
        }
        Select::Worst => {
            let mut order = all;
            order.sort_by(|&a, &b| loss[b].total_cmp(&loss[a]).then(a.cmp(&b)));
            order.truncate(k);
            order.sort_unstable();
            order
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misclassified_takes_a_seeded_sample_of_wrong_points() {
        let wrong: Vec<bool> = (0..100).map(|i| i % 3 == 0).collect();
        let loss = vec![0.0; 100];
        let a = select(Select::Misclassified, Some(5), 7, Some(&wrong), &loss).unwrap();
        let b = select(Select::Misclassified, Some(5), 7, Some(&wrong), &loss).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 5);
        assert!(a.iter().all(|&i| i % 3 == 0));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let c = select(Select::Misclassified, Some(5), 8, Some(&wrong), &loss).unwrap();
        assert_ne!(a, c);
        // Fewer wrong points than asked for: all of them.
        let all = select(Select::Misclassified, Some(1000), 7, Some(&wrong), &loss).unwrap();
        assert_eq!(all.len(), 34);
    }

    #[test]
    fn worst_and_first() {
        let loss = vec![0.1, 5.0, 0.3, 4.0];
        assert_eq!(
            select(Select::Worst, Some(2), 0, None, &loss).unwrap(),
            vec![1, 3]
        );
        assert_eq!(
            select(Select::First, Some(3), 0, None, &loss).unwrap(),
            vec![0, 1, 2]
        );
        assert!(select(Select::Misclassified, Some(3), 0, None, &loss).is_err());
    }
}
