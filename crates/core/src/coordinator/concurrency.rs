//! `--optimize-concurrent-downloads`: how many downloads may run at once,
//! from the measured overall download speed, as aria2's
//! `RequestGroupMan::optimizeConcurrentDownloads` computes it.
//!
//! aria2 keeps a reference speed: the highest seen, held at least 5 s; after
//! that, a speed that grew by 10 % over the newest seconds' average halves
//! the distance to it. The limit is `ceil(A + B × log10(speed × 8 / 10⁶))`
//! (speed in bytes/s, so the logarithm is of megabits/s), clamped to
//! `1..=-j`. Until any speed has been measured the limit is `A` alone,
//! unclamped: a daemon started with `-j 1` and the option on starts five
//! downloads at first, as aria2 does. arietta has no 5-second window of
//! the overall speed, so the current speed stands for the newest one: the
//! reference speed then is the highest seen, which aria2's reaches too
//! while the speed holds.

use std::time::{Duration, Instant};

/// aria2's coefficients when the option is plain `true`.
const DEFAULT_A: f64 = 5.0;
const DEFAULT_B: f64 = 25.0;
/// How long a reference speed is kept before it may move down.
const HOLD: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(super) struct ConcurrencyOptimizer {
    a: f64,
    b: f64,
    /// The reference speed (bytes/s); 0 until one is measured.
    speed: f64,
    since: Instant,
}

impl ConcurrencyOptimizer {
    /// From the option's value: `true`, `A:B`, or `None` for `false`.
    pub(super) fn from_option(value: &str) -> Option<Self> {
        let (a, b) = match value {
            "false" | "" => return None,
            "true" => (DEFAULT_A, DEFAULT_B),
            v => arietta_options::parse_optimize_concurrent(v)?,
        };
        Some(ConcurrencyOptimizer {
            a,
            b,
            speed: 0.0,
            since: Instant::now(),
        })
    }

    /// The number of downloads that may run now, given the overall
    /// download `speed` (bytes/s), `--max-overall-download-limit`
    /// (`overall_limit`, 0 for none) and `-j` (`max`).
    pub(super) fn limit(
        &mut self,
        now: Instant,
        speed: u64,
        overall_limit: u64,
        max: usize,
    ) -> usize {
        let current = speed as f64;
        if current >= self.speed {
            self.speed = current;
            self.since = now;
        } else if now.duration_since(self.since) >= HOLD {
            self.since = now;
        }
        if self.speed <= 0.0 {
            return self.a.max(1.0) as usize;
        }
        if overall_limit > 0 && self.speed > overall_limit as f64 {
            self.speed = overall_limit as f64;
        }
        let n = (self.a + self.b * (self.speed * 8.0 / 1_000_000.0).log10()).ceil();
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

    fn opt(v: &str) -> ConcurrencyOptimizer {
        ConcurrencyOptimizer::from_option(v).unwrap()
    }

    #[test]
    fn off_when_false() {
        assert!(ConcurrencyOptimizer::from_option("false").is_none());
        assert!(ConcurrencyOptimizer::from_option("x:y").is_none());
    }

    #[test]
    fn before_any_speed_the_limit_is_a_even_above_j() {
        let now = Instant::now();
        assert_eq!(opt("true").limit(now, 0, 0, 1), 5);
        assert_eq!(opt("3:10").limit(now, 0, 0, 1), 3);
    }

    #[test]
    fn aria2s_formula_clamped_to_j() {
        let now = Instant::now();
        // 1 Mbit/s: log10(1) = 0, so A.
        assert_eq!(opt("true").limit(now, 125_000, 0, 100), 5);
        // 10 Mbit/s: 5 + 25 = 30.
        assert_eq!(opt("true").limit(now, 1_250_000, 0, 100), 30);
        assert_eq!(opt("true").limit(now, 1_250_000, 0, 8), 8);
        // 100 kbit/s: 5 - 25 < 1, so 1.
        assert_eq!(opt("true").limit(now, 12_500, 0, 100), 1);
        // The overall limit caps the reference speed: 1 Mbit/s again.
        assert_eq!(opt("true").limit(now, 1_250_000, 125_000, 100), 5);
    }

    #[test]
    fn the_highest_speed_is_kept() {
        let now = Instant::now();
        let mut o = opt("true");
        assert_eq!(o.limit(now, 1_250_000, 0, 100), 30);
        assert_eq!(o.limit(now + HOLD * 2, 125_000, 0, 100), 30);
    }
}
