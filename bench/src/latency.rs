//! Exact latency percentiles from every recorded sample.
//!
//! A run records one `u32` of microseconds per request (4 bytes: a million
//! requests cost 4 MB), so the percentiles are exact rather than estimated
//! from buckets; sorting a few million integers takes well under a second,
//! after the run.

use serde::Serialize;

/// Latency figures of one run, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// How many samples the figures come from.
    pub samples: u64,
    pub mean_us: f64,
    pub min_us: u32,
    pub p50_us: u32,
    pub p90_us: u32,
    pub p99_us: u32,
    pub p999_us: u32,
    pub max_us: u32,
}

impl LatencySummary {
    /// Summarizes `samples` (sorted in place); all zero when there are none.
    pub fn from_samples(samples: &mut [u32]) -> LatencySummary {
        if samples.is_empty() {
            return LatencySummary::default();
        }
        samples.sort_unstable();
        let sum: u64 = samples.iter().map(|&s| u64::from(s)).sum();
        LatencySummary {
            samples: samples.len() as u64,
            mean_us: sum as f64 / samples.len() as f64,
            min_us: samples[0],
            p50_us: percentile(samples, 50.0),
            p90_us: percentile(samples, 90.0),
            p99_us: percentile(samples, 99.0),
            p999_us: percentile(samples, 99.9),
            max_us: samples[samples.len() - 1],
        }
    }
}

/// The nearest-rank percentile `p` (0 < p <= 100) of sorted, non-empty
/// samples: the smallest sample that at least `p` percent of the samples
/// do not exceed. It is always a sample that was really observed.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    assert!(!sorted.is_empty(), "percentile of no samples");
    // The small epsilon keeps float noise (99.9 * 1000 / 100 =
    // 999.0000000000001) from moving the rank up by one.
    let rank = (p * sorted.len() as f64 / 100.0 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds in a duration, saturating at `u32::MAX` (71 minutes).
pub fn micros(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_one_to_a_thousand() {
        let sorted: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&sorted, 50.0), 500);
        assert_eq!(percentile(&sorted, 90.0), 900);
        assert_eq!(percentile(&sorted, 99.0), 990);
        assert_eq!(percentile(&sorted, 99.9), 999);
        assert_eq!(percentile(&sorted, 100.0), 1000);
        assert_eq!(percentile(&sorted, 0.01), 1);
    }

    #[test]
    fn small_sample_sets() {
        assert_eq!(percentile(&[7], 50.0), 7);
        assert_eq!(percentile(&[7], 99.9), 7);
        assert_eq!(percentile(&[1, 2], 50.0), 1);
        assert_eq!(percentile(&[1, 2], 51.0), 2);
    }

    #[test]
    fn summary_sorts_and_orders_the_figures() {
        let mut samples = vec![900, 100, 300, 200, 5000, 400, 250, 150, 120, 110];
        let s = LatencySummary::from_samples(&mut samples);
        assert_eq!(s.samples, 10);
        assert_eq!(s.min_us, 100);
        assert_eq!(s.p50_us, 200);
        assert_eq!(s.p90_us, 900);
        assert_eq!(s.p99_us, 5000);
        assert_eq!(s.max_us, 5000);
        assert!((s.mean_us - 753.0).abs() < 1e-9);
        assert!(s.p50_us <= s.p90_us && s.p90_us <= s.p99_us && s.p99_us <= s.p999_us);
    }

    #[test]
    fn no_samples_give_zeros() {
        assert_eq!(
            LatencySummary::from_samples(&mut []),
            LatencySummary::default()
        );
    }

    #[test]
    fn micros_saturate() {
        use std::time::Duration;
        assert_eq!(micros(Duration::from_micros(1234)), 1234);
        assert_eq!(micros(Duration::from_secs(10_000)), u32::MAX);
    }
}
