//! Comparison of two targets on a noisy machine: A and B are measured
//! alternately (A B A B ...), and each round's B/A ratio is computed from
//! two runs that were seconds apart, so that slow drifts of the machine
//! (a disk whose fsync rate changes, a neighbour's load) touch both sides
//! of a ratio alike. The median ratio over the rounds then ignores a round
//! that a burst of noise hit anyway.

use crate::cli::CompareArgs;
use crate::report::{CompareReport, Ratios, Round, TargetReport};
use crate::runner;
use tokio::runtime::Runtime;

/// Runs every round of a comparison.
pub fn compare(rt: &Runtime, args: &CompareArgs) -> Result<CompareReport, String> {
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        eprintln!("uhaha-bench: round {round} of {}", args.rounds);
        let a = runner::measure(rt, &args.a, &args.load)?;
        let b = runner::measure(rt, &args.b, &args.load)?;
        let ratios_b_over_a = ratios(&a, &b);
        rounds.push(Round {
            a,
            b,
            ratios_b_over_a,
        });
    }
    let column = |f: fn(&Ratios) -> f64| {
        median(
            &rounds
                .iter()
                .map(|r| f(&r.ratios_b_over_a))
                .collect::<Vec<_>>(),
        )
    };
    Ok(CompareReport {
        tool: "uhaha-bench",
        version: env!("CARGO_PKG_VERSION"),
        mode: "compare",
        a: args.a.to_string(),
        b: args.b.to_string(),
        median_b_over_a: Ratios {
            ops_per_sec: column(|r| r.ops_per_sec),
            p50: column(|r| r.p50),
            p99: column(|r| r.p99),
        },
        rounds,
    })
}

/// B's figures over A's.
pub fn ratios(a: &TargetReport, b: &TargetReport) -> Ratios {
    Ratios {
        ops_per_sec: ratio(b.ops_per_sec, a.ops_per_sec),
        p50: ratio(b.latency.p50_us as f64, a.latency.p50_us as f64),
        p99: ratio(b.latency.p99_us as f64, a.latency.p99_us as f64),
    }
}

/// `b / a`, or NaN when `a` is zero (serialized as JSON `null`).
fn ratio(b: f64, a: f64) -> f64 {
    if a == 0.0 {
        f64::NAN
    } else {
        b / a
    }
}

/// The median of `values` (the mean of the middle two for an even count);
/// NaNs, from rounds that measured nothing, are left out.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if !v.len().is_multiple_of(2) {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 2.0, 1.0, 9.0]), 2.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_zero_denominator_is_not_a_number() {
        assert_eq!(ratio(3.0, 2.0), 1.5);
        assert!(ratio(3.0, 0.0).is_nan());
    }
}
