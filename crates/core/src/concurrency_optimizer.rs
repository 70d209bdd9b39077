//! `--optimize-concurrent-downloads`: aria2's rule for how many downloads
//! run at once, from the bandwidth seen: `ceil(A + B * log10(Mbit/s))`,
//! between 1 and `-j`.
//!
//! A pure state machine fed the overall speed once per coordinator tick,
//! so its rule is unit-tested without a clock or a network. It follows
//! aria2's `RequestGroupMan::optimizeConcurrentDownloads`: the reference
//! ("optimization") speed is the best speed seen; when the speed has not
//! reached it for 5 s and is not above 110% of the last 5 s average (a
//! possible congestion), the reference moves halfway towards the current
//! speed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// aria2 keeps a reference speed at least this long.
const HOLD: Duration = Duration::from_secs(5);

/// The optimizer of one run.
#[derive(Debug, Clone)]
pub struct ConcurrencyOptimizer {
    a: f64,
    b: f64,
    optimization_speed: f64,
    since: Instant,
    /// Speed samples of the last [`HOLD`], for aria2's "newest 5 s" speed.
    recent: VecDeque<(Instant, u64)>,
}

impl ConcurrencyOptimizer {
    /// The value of `--optimize-concurrent-downloads` (`true`, `false` or
    /// `A:B`): `None` when off; `true` takes aria2's 5 and 25.
    pub fn from_option(value: &str, now: Instant) -> Option<ConcurrencyOptimizer> {
        let (a, b) = match value {
            "false" | "" => return None,
            "true" => (5.0, 25.0),
            ab => arietta_options::parse_optimize_concurrent(ab)?,
        };
        Some(ConcurrencyOptimizer {
            a,
            b,
            optimization_speed: 0.0,
            since: now,
            recent: VecDeque::new(),
        })
    }

    /// How many downloads may run now, given the overall download speed
    /// (bytes/s), `--max-overall-download-limit` (0: none) and `-j`.
    pub fn limit(&mut self, now: Instant, speed: u64, overall_limit: u64, max: usize) -> usize {
        self.recent.push_back((now, speed));
        while self
            .recent
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > HOLD)
        {
            self.recent.pop_front();
        }
        let current = speed as f64;
        if current >= self.optimization_speed {
            self.optimization_speed = current;
            self.since = now;
        } else if now.saturating_duration_since(self.since) >= HOLD {
            self.since = now;
            let newest = self.recent.iter().map(|(_, s)| *s as f64).sum::<f64>()
                / self.recent.len().max(1) as f64;
            if current >= 1.1 * newest {
                self.optimization_speed = (self.optimization_speed + current) / 2.0;
            }
        }
        if self.optimization_speed <= 0.0 {
            return (self.a as usize).clamp(1, max.max(1));
        }
        if overall_limit > 0 && self.optimization_speed > overall_limit as f64 {
            self.optimization_speed = overall_limit as f64;
        }
        let n = (self.a + self.b * (self.optimization_speed * 8.0 / 1_000_000.0).log10()).ceil();
        let n = if n.is_finite() && n > 1.0 {
            n as usize
        } else {
            1
        };
        n.min(max.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_default_and_custom_coefficients() {
        let t0 = Instant::now();
        assert!(ConcurrencyOptimizer::from_option("false", t0).is_none());
        let mut on = ConcurrencyOptimizer::from_option("true", t0).unwrap();
        // Nothing measured yet: A downloads.
        assert_eq!(on.limit(t0, 0, 0, 100), 5);
        // 1 Mbit/s: log10(1) = 0, so A again; 10 Mbit/s: A + B.
        assert_eq!(on.limit(t0, 125_000, 0, 100), 5);
        assert_eq!(on.limit(t0, 1_250_000, 0, 100), 30);
        // Never above -j.
        assert_eq!(on.limit(t0, 1_250_000, 0, 7), 7);
        let mut custom = ConcurrencyOptimizer::from_option("2:10", t0).unwrap();
        assert_eq!(custom.limit(t0, 12_500_000, 0, 100), 22);
        // The overall limit caps the reference speed: 1 Mbit/s.
        assert_eq!(custom.limit(t0, 12_500_000, 125_000, 100), 2);
    }

    #[test]
    fn a_slower_link_lowers_the_reference_after_five_seconds() {
        let t0 = Instant::now();
        let mut o = ConcurrencyOptimizer::from_option("true", t0).unwrap();
        assert_eq!(o.limit(t0, 1_250_000, 0, 100), 30);
        // Slower, but within 5 s: the reference holds.
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(o.limit(t1, 125_000, 0, 100), 30);
        // Past 5 s and above 110% of the recent average: halfway down.
        let t2 = t0 + Duration::from_secs(6);
        let n = o.limit(t2, 900_000, 0, 100);
        assert!(n < 30 && n > 5, "{n}");
    }
}
