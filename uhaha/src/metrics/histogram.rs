//! A histogram that counts with atomic adds. prometheus-client's own takes a
//! mutex for every observation, and every command's reply is one, on the
//! thread that serves the clients: 2 % of a leader serving pipelined reads.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A histogram of observations into fixed buckets; clones count together.
#[derive(Debug, Clone)]
pub struct Histogram(Arc<Buckets>);

#[derive(Debug)]
struct Buckets {
    /// Upper bounds, ascending.
    bounds: Box<[f64]>,
    /// Observations per bucket (not cumulative), one more than `bounds`:
    /// the last counts what lies above them all.
    counts: Box<[AtomicU64]>,
    /// The sum of the observations, as the bits of an `f64`.
    sum: AtomicU64,
}

impl Histogram {
    /// A histogram with these upper bounds, ascending.
    pub fn new(bounds: impl Iterator<Item = f64>) -> Self {
        let bounds: Box<[f64]> = bounds.collect();
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(Buckets {
            bounds,
            counts,
            sum: AtomicU64::new(0f64.to_bits()),
        }))
    }

    /// Counts `value` in the first bucket whose bound is at least `value`.
    pub fn observe(&self, value: f64) {
        let at = self.0.bounds.partition_point(|bound| *bound < value);
        self.0.counts[at].fetch_add(1, Ordering::Relaxed);
        let add = |sum: u64| Some((f64::from_bits(sum) + value).to_bits());
        let _ = self
            .0
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, add);
    }

    /// The upper bounds (the last infinite) and the observations in each
    /// bucket, not cumulative; and the sum.
    fn snapshot(&self) -> (Vec<(f64, u64)>, f64) {
        let bounds = self.0.bounds.iter().copied().chain([f64::INFINITY]);
        let counts = self.0.counts.iter().map(|c| c.load(Ordering::Relaxed));
        let sum = f64::from_bits(self.0.sum.load(Ordering::Relaxed));
        (bounds.zip(counts).collect(), sum)
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (buckets, sum) = self.snapshot();
        // The count from the buckets read, so that the `+Inf` bucket always
        // equals it, whatever was observed meanwhile.
        let count = buckets.iter().map(|(_, n)| n).sum();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    #[test]
    fn encodes_like_prometheus_clients_own() {
        let bounds = [0.5, 1.0, 2.0];
        let ours = Histogram::new(bounds.into_iter());
        let theirs = prometheus_client::metrics::histogram::Histogram::new(bounds);
        for value in [0.1, 0.5, 0.7, 1.5, 2.0, 9.0, 9.0] {
            ours.observe(value);
            theirs.observe(value);
        }
        let text = |register: &dyn Fn(&mut Registry)| {
            let mut registry = Registry::default();
            register(&mut registry);
            let mut text = String::new();
            prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
            text
        };
        let ours = text(&|r| r.register("h", "help", ours.clone()));
        let theirs = text(&|r| r.register("h", "help", theirs.clone()));
        assert_eq!(ours, theirs);
        assert!(ours.contains("h_bucket{le=\"1\"} 3"), "{ours}");
    }
}
