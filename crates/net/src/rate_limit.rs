//! Token-bucket rate limiting shared by all cores
//! (`--max-overall-download-limit`, `--max-download-limit`, upload limits).
//!
//! This is the one place where cores share mutable memory, so the hot path is
//! lock-free: the bucket is kept as a GCRA "theoretical arrival time" (TAT) in
//! a single `AtomicU64`, and a grant is one compare-and-swap. An unlimited
//! limiter costs one relaxed load and never writes, so idle limiters cause no
//! cache-line traffic between cores.
//!
//! Model: every byte costs `1/rate` seconds. The TAT is the time at which the
//! bucket would be empty if nothing more were taken; a grant of `n` bytes
//! advances it by `n/rate`. Bytes may be taken while `TAT - now` stays within
//! the burst window, i.e. at most `burst` bytes ahead of the rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Smallest burst: one 16 KiB read must always be grantable at once, even
/// at tiny rates, or a reader would be stuck in needless tiny reads.
const MIN_BURST: u64 = 16 * 1024;

/// The answer of [`RateLimiter::try_take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Bytes the caller may now transfer (`0 ..= want`).
    pub granted: usize,
    /// When `granted` is 0: how long until a useful amount is available.
    pub wait: Duration,
}

/// A token bucket whose rate can change at run time (RPC
/// `changeGlobalOption`). Share it as `Arc<RateLimiter>` across cores.
#[derive(Debug)]
pub struct RateLimiter {
    /// Bytes per second; 0 means unlimited.
    rate: AtomicU64,
    /// Theoretical arrival time, in nanoseconds since `epoch`.
    tat: AtomicU64,
    epoch: Instant,
}

fn burst_bytes(rate: u64) -> u64 {
    (rate / 10).max(MIN_BURST)
}

/// Nanoseconds that `bytes` cost at `rate`, rounded up so grants never
/// exceed the rate.
fn cost_ns(bytes: u64, rate: u64) -> u64 {
    let ns = (bytes as u128 * NANOS_PER_SEC).div_ceil(rate.max(1) as u128);
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// Bytes that `ns` nanoseconds are worth at `rate`, rounded down.
fn bytes_for(ns: u64, rate: u64) -> u64 {
    let b = ns as u128 * rate as u128 / NANOS_PER_SEC;
    u64::try_from(b).unwrap_or(u64::MAX)
}

impl RateLimiter {
    /// A limiter allowing `bytes_per_sec` on average (0 = unlimited), with a
    /// burst of a tenth of a second's worth (at least 16 KiB). The bucket
    /// starts full.
    pub fn new(bytes_per_sec: u64) -> Arc<RateLimiter> {
        Arc::new(RateLimiter {
            rate: AtomicU64::new(bytes_per_sec),
            tat: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    /// The current rate in bytes per second (0 = unlimited).
    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Whether transfers pass without accounting.
    pub fn is_unlimited(&self) -> bool {
        self.rate() == 0
    }

    /// The most bytes one grant can hold at the current rate.
    pub fn burst(&self) -> u64 {
        match self.rate() {
            0 => u64::MAX,
            r => burst_bytes(r),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Changes the rate (0 = unlimited). Bytes already borrowed against the
    /// old rate stay owed, re-priced at the new rate but capped at the new
    /// burst window: raising the limit does not leave connections sleeping
    /// off a debt computed at the old, slower rate, and lowering it does not
    /// stall them for the old burst's worth of seconds.
    pub fn set_rate(&self, bytes_per_sec: u64) {
        let old = self.rate.swap(bytes_per_sec, Ordering::Relaxed);
        if old == bytes_per_sec {
            return;
        }
        let now = self.now_ns();
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |tat| {
                if old == 0 || bytes_per_sec == 0 {
                    return Some(now);
                }
                let owed = bytes_for(tat.saturating_sub(now), old);
                let window = cost_ns(burst_bytes(bytes_per_sec), bytes_per_sec);
                let debt = cost_ns(owed, bytes_per_sec).min(window);
                Some(now.saturating_add(debt))
            });
    }

    /// Takes up to `want` bytes without waiting.
    ///
    /// Grants are all-or-some: the caller gets what is available up to
    /// `want`, or nothing plus the time to wait when less than a useful chunk
    /// (an eighth of the burst, or `want` if smaller) is available; tiny
    /// grants would turn into tiny reads.
    pub fn try_take(&self, want: usize) -> Grant {
        let rate = self.rate();
        if rate == 0 || want == 0 {
            return Grant {
                granted: want,
                wait: Duration::ZERO,
            };
        }
        let want64 = u64::try_from(want).unwrap_or(u64::MAX);
        let burst = burst_bytes(rate);
        let min_grant = want64.min(burst / 8).max(1);
        let now = self.now_ns();
        let horizon = now.saturating_add(cost_ns(burst, rate));
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let base = tat.max(now);
            let avail_ns = horizon.saturating_sub(base);
            let avail = bytes_for(avail_ns, rate);
            if avail < min_grant {
                let wait = cost_ns(min_grant, rate).saturating_sub(avail_ns);
                return Grant {
                    granted: 0,
                    wait: Duration::from_nanos(wait.max(1)),
                };
            }
            let granted = want64.min(avail);
            let new_tat = base.saturating_add(cost_ns(granted, rate));
            match self
                .tat
                .compare_exchange_weak(tat, new_tat, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Grant {
                        // granted <= want, which is a usize.
                        granted: usize::try_from(granted).unwrap_or(want),
                        wait: Duration::ZERO,
                    };
                }
                Err(actual) => tat = actual,
            }
        }
    }

    /// Gives back bytes that were granted but not transferred (a read
    /// returned less than granted), so they are not lost to the rate.
    pub fn refund(&self, unused: usize) {
        let rate = self.rate();
        if rate == 0 || unused == 0 {
            return;
        }
        let unused = u64::try_from(unused).unwrap_or(u64::MAX);
        // Rounded down, so a refund never credits more than was charged.
        let ns = u64::try_from(unused as u128 * NANOS_PER_SEC / rate as u128).unwrap_or(u64::MAX);
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |tat| {
                Some(tat.saturating_sub(ns))
            });
    }

    /// Takes between 1 and `want` bytes, sleeping on a glommio timer while
    /// the bucket is empty. Returns 0 only when `want` is 0. Must run inside a
    /// glommio executor (unless the limiter is unlimited).
    pub async fn take(&self, want: usize) -> usize {
        take_all(&[self], want).await
    }
}

/// Takes the same amount from every limiter in `limiters` (e.g. the
/// download's `--max-download-limit` and the global
/// `--max-overall-download-limit`), waiting for the slowest.
///
/// Nothing is held while sleeping: a partial grant from one limiter is
/// refunded when another has less, so a connection stuck on its per-download
/// limit does not hoard global bandwidth other downloads could use.
pub async fn take_all(limiters: &[&RateLimiter], want: usize) -> usize {
    if want == 0 {
        return 0;
    }
    loop {
        let mut granted = want;
        let mut wait = Duration::ZERO;
        for (i, limiter) in limiters.iter().enumerate() {
            let grant = limiter.try_take(granted);
            if grant.granted < granted {
                let excess = granted - grant.granted;
                limiters.iter().take(i).for_each(|l| l.refund(excess));
            }
            granted = grant.granted;
            if granted == 0 {
                wait = grant.wait;
                break;
            }
        }
        if granted > 0 {
            return granted;
        }
        glommio::timer::sleep(wait.max(Duration::from_micros(100))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::happy_eyeballs::test_executor;

    const MIB: u64 = 1024 * 1024;

    fn assert_rate(total: u64, elapsed: Duration, rate: u64, burst: u64) {
        let got = total.saturating_sub(burst) as f64 / elapsed.as_secs_f64();
        let ratio = got / rate as f64;
        assert!(
            (0.85..=1.15).contains(&ratio),
            "measured {got:.0} B/s for a {rate} B/s limit (ratio {ratio:.3})"
        );
    }

    #[test]
    fn two_mib_per_second_for_one_second() {
        test_executor(|| async {
            let limiter = RateLimiter::new(2 * MIB);
            let start = Instant::now();
            let mut total = 0u64;
            while start.elapsed() < Duration::from_secs(1) {
                total += limiter.take(64 * 1024).await as u64;
            }
            assert_rate(total, start.elapsed(), 2 * MIB, limiter.burst());
        });
    }

    #[test]
    fn unlimited_is_a_pass_through() {
        let limiter = RateLimiter::new(0);
        let start = Instant::now();
        for _ in 0..1_000_000 {
            assert_eq!(limiter.try_take(1 << 20).granted, 1 << 20);
        }
        assert!(start.elapsed() < Duration::from_secs(1));
        // Nothing was written: no cross-core cache-line traffic.
        assert_eq!(limiter.tat.load(Ordering::Relaxed), 0);
        test_executor(|| async {
            let a = RateLimiter::new(0);
            let b = RateLimiter::new(0);
            let start = Instant::now();
            for _ in 0..10_000 {
                assert_eq!(take_all(&[&a, &b], 1 << 20).await, 1 << 20);
            }
            assert!(start.elapsed() < Duration::from_millis(500));
            assert_eq!(a.take(0).await, 0);
        });
    }

    #[test]
    fn empty_bucket_reports_wait() {
        let limiter = RateLimiter::new(100 * 1024);
        let burst = limiter.burst() as usize;
        assert_eq!(burst, 16 * 1024);
        assert_eq!(limiter.try_take(1 << 30).granted, burst);
        let g = limiter.try_take(1024);
        assert_eq!(g.granted, 0);
        // 1 KiB at 100 KiB/s is 10 ms.
        assert!(g.wait > Duration::from_millis(5) && g.wait <= Duration::from_millis(11));
        limiter.refund(burst);
        assert_eq!(limiter.try_take(burst).granted, burst);
    }

    #[test]
    fn rate_changes_at_run_time() {
        let limiter = RateLimiter::new(1024);
        assert!(limiter.try_take(1 << 20).granted > 0);
        assert_eq!(limiter.try_take(4096).granted, 0);
        // Raising the limit must not leave the 16 s debt of the slow rate.
        limiter.set_rate(100 * MIB);
        assert!(limiter.try_take(4096).granted > 0);
        limiter.set_rate(0);
        assert!(limiter.is_unlimited());
        assert_eq!(limiter.try_take(usize::MAX).granted, usize::MAX);
        limiter.set_rate(1024);
        assert!(limiter.try_take(1 << 20).granted <= 16 * 1024);
        assert_eq!(limiter.try_take(4096).granted, 0);
    }

    #[test]
    fn two_limiters_follow_the_slower() {
        test_executor(|| async {
            let per_download = RateLimiter::new(MIB / 2);
            let global = RateLimiter::new(4 * MIB);
            let start = Instant::now();
            let mut total = 0u64;
            while start.elapsed() < Duration::from_millis(600) {
                total += take_all(&[&global, &per_download], 32 * 1024).await as u64;
            }
            assert_rate(total, start.elapsed(), MIB / 2, per_download.burst());
        });
    }

    #[test]
    fn take_all_charges_every_limiter_the_same() {
        test_executor(|| async {
            let global = RateLimiter::new(MIB);
            let per_download = RateLimiter::new(100 * 1024);
            let got = take_all(&[&global, &per_download], 64 * 1024).await;
            // The per-download burst is 16 KiB; the global limiter got the
            // other 48 KiB back.
            assert_eq!(got, 16 * 1024);
            let global_left = global.try_take(usize::MAX).granted as u64;
            let expected = global.burst() - 16 * 1024;
            assert!(
                (expected - 64..expected + 4096).contains(&global_left),
                "{global_left} left, expected about {expected}"
            );
        });
    }

    #[test]
    fn shared_across_threads() {
        let limiter = RateLimiter::new(4 * MIB);
        let start = Instant::now();
        let run_for = Duration::from_millis(800);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let l = limiter.clone();
                std::thread::spawn(move || {
                    let mut total = 0u64;
                    while start.elapsed() < run_for {
                        let g = l.try_take(16 * 1024);
                        total += g.granted as u64;
                        if g.granted == 0 {
                            std::thread::sleep(g.wait);
                        }
                    }
                    total
                })
            })
            .collect();
        let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_rate(total, start.elapsed(), 4 * MIB, limiter.burst());
    }

    #[test]
    fn arithmetic_does_not_overflow() {
        let limiter = RateLimiter::new(u64::MAX);
        assert!(limiter.try_take(usize::MAX).granted > 0);
        limiter.refund(usize::MAX);
        assert!(limiter.try_take(usize::MAX).granted > 0);
        // A huge debt re-priced at 1 B/s is capped at the new burst window.
        limiter.set_rate(1);
        let g = limiter.try_take(usize::MAX);
        assert_eq!(g.granted, 0);
        assert!(g.wait <= Duration::from_secs(2 * 16 * 1024));
        limiter.set_rate(u64::MAX);
        assert_eq!(limiter.try_take(1).granted, 1);
    }
}
