//! A cheap, lock-free estimate of recent powersource latency, for the hedge delay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket upper bounds in microseconds.
const BOUNDS_US: [u64; 20] = [
    250,
    500,
    1_000,
    2_000,
    3_000,
    5_000,
    8_000,
    12_000,
    20_000,
    30_000,
    50_000,
    80_000,
    120_000,
    200_000,
    300_000,
    500_000,
    800_000,
    1_200_000,
    2_000_000,
    u64::MAX,
];

/// Samples fall into log-spaced buckets; every [`DECAY_EVERY`] samples all counts halve, so the
/// estimate follows the last few thousand requests.
pub struct LatencyTracker {
    buckets: [AtomicU64; BOUNDS_US.len()],
    samples: AtomicU64,
}

/// Samples between two halvings.
pub const DECAY_EVERY: u64 = 2_048;

impl Default for LatencyTracker {
    fn default() -> Self {
        LatencyTracker {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            samples: AtomicU64::new(0),
        }
    }
}

impl LatencyTracker {
    /// Records one successful call's latency.
    pub fn record(&self, d: Duration) {
        let us = d.as_micros() as u64;
        let i = BOUNDS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BOUNDS_US.len() - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        if self.samples.fetch_add(1, Ordering::Relaxed) % DECAY_EVERY == DECAY_EVERY - 1 {
            for b in &self.buckets {
                let v = b.load(Ordering::Relaxed);
                b.store(v / 2, Ordering::Relaxed);
            }
        }
    }

    /// The upper bound of the bucket holding quantile `q`, or `None` without samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (c, bound) in counts.iter().zip(BOUNDS_US) {
            seen += c;
            if seen >= rank.max(1) {
                return Some(Duration::from_micros(bound.min(5_000_000)));
            }
        }
        None
    }

    /// The hedge delay: the recent p95, at least `floor`, at most `cap`.
    pub fn hedge_delay(&self, floor: Duration, cap: Duration) -> Duration {
        self.quantile(0.95)
            .unwrap_or(floor)
            .clamp(floor, cap.max(floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_follows_the_samples() {
        let t = LatencyTracker::default();
        assert_eq!(t.quantile(0.95), None);
        for _ in 0..95 {
            t.record(Duration::from_micros(900));
        }
        for _ in 0..5 {
            t.record(Duration::from_millis(100));
        }
        assert_eq!(t.quantile(0.95), Some(Duration::from_micros(1_000)));
        assert_eq!(t.quantile(0.99), Some(Duration::from_millis(120)));
        assert_eq!(
            t.hedge_delay(Duration::from_millis(20), Duration::from_millis(150)),
            Duration::from_millis(20)
        );
    }

    #[test]
    fn old_samples_fade() {
        let t = LatencyTracker::default();
        for _ in 0..DECAY_EVERY {
            t.record(Duration::from_millis(500));
        }
        for _ in 0..(DECAY_EVERY * 4) {
            t.record(Duration::from_micros(400));
        }
        assert_eq!(t.quantile(0.95), Some(Duration::from_micros(500)));
    }
}
