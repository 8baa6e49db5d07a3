//! Holdout lift: how much more often texted customers converted than held-out ones, with a
//! 95 % confidence interval, and a plain verdict.
//!
//! With `x₁` of `n₁` texted customers and `x₀` of `n₀` held-out customers converted,
//! `p₁ = x₁/n₁` and `p₀ = x₀/n₀`:
//!
//! - **absolute lift** `p₁ − p₀`, interval `(p₁ − p₀) ± 1.96·√(p₁(1−p₁)/n₁ + p₀(1−p₀)/n₀)`
//!   (two-proportion Wald interval, unpooled);
//! - **relative lift** `p₁/p₀ − 1`, interval `exp(ln(p₁/p₀) ± 1.96·√(1/x₁ − 1/n₁ + 1/x₀ −
//!   1/n₀)) − 1` (log risk ratio), defined once both groups have a conversion;
//! - **significant** when the absolute interval leaves out 0. Otherwise the verdict says how
//!   many more decisions (texted and held out together, in today's proportions) the interval
//!   would need to leave out 0 if the observed rates held: the standard error shrinks with
//!   `√n`, so the sample must grow by `(1.96·SE / |p₁ − p₀|)²`.
use serde::Serialize;

/// The two-sided 95 % normal quantile.
const Z_95: f64 = 1.959_963_984_540_054;

/// A lower and an upper bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The lift of a rule's texts over its holdout.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lift {
    /// `p₁ − p₀`, as a fraction (0.04 = 4 percentage points).
    pub absolute: f64,
    pub absolute_ci: Interval,
    /// `p₁/p₀ − 1` (0.5 = 50 % more conversions); None while no held-out customer converted.
    pub relative: Option<f64>,
    pub relative_ci: Option<Interval>,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// The interval of the absolute lift leaves out 0.
    Significant,
    /// Not yet: about `need_more` more decisions would settle it if the rates held (None when
    /// the two rates are equal so far: no sample size would).
    NotYet { need_more: Option<u64> },
}

impl Verdict {
    /// `significant`, `not yet: need ≈ 661 more`, or `not yet: no difference so far`.
    pub fn plain(&self) -> String {
        match self {
            Verdict::Significant => "significant".into(),
            Verdict::NotYet { need_more: Some(n) } => format!("not yet: need ≈ {n} more"),
            Verdict::NotYet { need_more: None } => "not yet: no difference so far".into(),
        }
    }
}

impl Lift {
    /// The lift of `converted` of `texted` over `held_out_converted` of `held_out`; None
    /// while either group is empty (or counts are inconsistent: more conversions than
    /// customers).
    pub fn of(texted: i64, converted: i64, held_out: i64, held_out_converted: i64) -> Option<Lift> {
        let valid = |n: i64, x: i64| n > 0 && (0..=n).contains(&x);
        if !valid(texted, converted) || !valid(held_out, held_out_converted) {
            return None;
        }
        let (n1, x1, n0, x0) = (
            texted as f64,
            converted as f64,
            held_out as f64,
            held_out_converted as f64,
        );
        let (p1, p0) = (x1 / n1, x0 / n0);
        let absolute = p1 - p0;
        let se = (p1 * (1.0 - p1) / n1 + p0 * (1.0 - p0) / n0).sqrt();
        let margin = Z_95 * se;
        let absolute_ci = Interval {
            low: absolute - margin,
            high: absolute + margin,
        };
        let (relative, relative_ci) = if x1 > 0.0 && x0 > 0.0 {
            let log_rr = (p1 / p0).ln();
            let log_se = (1.0 / x1 - 1.0 / n1 + 1.0 / x0 - 1.0 / n0).sqrt();
            let ci = Interval {
                low: (log_rr - Z_95 * log_se).exp() - 1.0,
                high: (log_rr + Z_95 * log_se).exp() - 1.0,
            };
            (Some(p1 / p0 - 1.0), Some(ci))
        } else {
            (None, None)
        };
        let verdict = if absolute_ci.low > 0.0 || absolute_ci.high < 0.0 {
            Verdict::Significant
        } else if absolute == 0.0 || se == 0.0 {
            Verdict::NotYet { need_more: None }
        } else {
            let growth = (margin / absolute.abs()).powi(2);
            let more = ((n1 + n0) * (growth - 1.0)).ceil().max(1.0);
            Verdict::NotYet {
                need_more: Some(more as u64),
            }
        };
        Some(Lift {
            absolute,
            absolute_ci,
            relative,
            relative_ci,
            verdict,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-6
    }

    /// Worked by hand: p₁ = 0.12, p₀ = 0.08, SE = √(0.12·0.88/1000 + 0.08·0.92/1000) =
    /// 0.0133866; log-RR SE = √(1/120 − 1/1000 + 1/80 − 1/1000) = 0.137234.
    #[test]
    fn a_clear_difference_is_significant_with_both_intervals() {
        let lift = Lift::of(1000, 120, 1000, 80).unwrap();
        assert!(close(lift.absolute, 0.04));
        assert!(
            close(lift.absolute_ci.low, 0.013763),
            "{:?}",
            lift.absolute_ci
        );
        assert!(close(lift.absolute_ci.high, 0.066237));
        assert!(close(lift.relative.unwrap(), 0.5));
        let rel = lift.relative_ci.unwrap();
        assert!(
            close(rel.low, 0.14624) && close(rel.high, 0.96293),
            "{rel:?}"
        );
        assert_eq!(lift.verdict, Verdict::Significant);
        assert_eq!(lift.verdict.plain(), "significant");
    }

    /// The same rates on a tenth of the sample: the interval is √10 times wider and takes in
    /// 0; growing the sample by (1.96·0.0423316/0.04)² = 4.3025 needs 200·3.3025 ≈ 661 more.
    #[test]
    fn a_small_sample_says_how_many_more_it_needs() {
        let lift = Lift::of(100, 12, 100, 8).unwrap();
        assert!(lift.absolute_ci.low < 0.0 && lift.absolute_ci.high > 0.0);
        assert_eq!(
            lift.verdict,
            Verdict::NotYet {
                need_more: Some(661)
            }
        );
        assert_eq!(lift.verdict.plain(), "not yet: need ≈ 661 more");
        let more = Lift::of(100 * 4, 12 * 4, 100 * 4, 8 * 4).unwrap();
        assert_eq!(
            more.verdict,
            Verdict::NotYet {
                need_more: Some(61)
            }
        );
        let enough = Lift::of(100 * 5, 12 * 5, 100 * 5, 8 * 5).unwrap();
        assert_eq!(
            enough.verdict,
            Verdict::Significant,
            "{:?}",
            enough.absolute_ci
        );
    }

    #[test]
    fn a_negative_lift_is_significant_too_and_empty_groups_have_none() {
        let hurt = Lift::of(1000, 50, 1000, 100).unwrap();
        assert!(hurt.absolute < 0.0 && hurt.absolute_ci.high < 0.0);
        assert_eq!(hurt.verdict, Verdict::Significant);
        assert_eq!(Lift::of(0, 0, 10, 1), None);
        assert_eq!(Lift::of(10, 1, 0, 0), None);
        assert_eq!(Lift::of(10, 11, 10, 1), None, "more conversions than texts");
        let none_held_converted = Lift::of(50, 5, 50, 0).unwrap();
        assert_eq!(none_held_converted.relative, None);
        assert_eq!(none_held_converted.relative_ci, None);
        let equal = Lift::of(50, 5, 50, 5).unwrap();
        assert_eq!(equal.verdict.plain(), "not yet: no difference so far");
    }
}
