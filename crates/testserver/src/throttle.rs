//! Rate pacing for response bodies.

use std::time::{Duration, Instant};

/// Largest single write when unthrottled: big enough for GB/s on loopback.
pub(crate) const UNTHROTTLED_PIECE: usize = 256 * 1024;

/// Paces one response body to a rate that may change while it is sent
/// (the server-wide throttle is adjustable at run time).
///
/// Writes are sized to about 20 ms of data so a client killed mid-transfer
/// has a partial file with a predictable amount in it, and the schedule
/// restarts whenever the rate changes so a lowered limit bites at once.
pub(crate) struct Pacer {
    rate: u64,
    start: Instant,
    sent: u64,
}

impl Pacer {
    pub fn new() -> Pacer {
        Pacer {
            rate: 0,
            start: Instant::now(),
            sent: 0,
        }
    }

    /// Size of the next write at `rate` bytes/s (0 = unlimited).
    pub fn piece(&mut self, rate: u64) -> usize {
        if rate != self.rate {
            self.rate = rate;
            self.start = Instant::now();
            self.sent = 0;
        }
        if rate == 0 {
            UNTHROTTLED_PIECE
        } else {
            usize::try_from(rate / 50)
                .unwrap_or(UNTHROTTLED_PIECE)
                .clamp(1, UNTHROTTLED_PIECE)
        }
    }

    /// Records `n` bytes written and sleeps until the schedule allows more.
    pub fn wrote(&mut self, n: usize) {
        if self.rate == 0 {
            return;
        }
        self.sent = self.sent.saturating_add(n as u64);
        let due = Duration::from_secs_f64(self.sent as f64 / self.rate as f64);
        let elapsed = self.start.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }
}

/// The effective limit from the server-wide and per-route settings (0 = none).
pub(crate) fn effective_rate(global: u64, route: Option<u64>) -> u64 {
    match (global, route.unwrap_or(0)) {
        (0, r) => r,
        (g, 0) => g,
        (g, r) => g.min(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_to_rate() {
        let mut p = Pacer::new();
        let t = Instant::now();
        let mut total = 0;
        while total < 20_000 {
            let n = p.piece(100_000);
            p.wrote(n);
            total += n;
        }
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(190), "{e:?}");
        assert!(e < Duration::from_millis(600), "{e:?}");
        assert_eq!(effective_rate(0, None), 0);
        assert_eq!(effective_rate(10, Some(5)), 5);
        assert_eq!(effective_rate(0, Some(5)), 5);
        assert_eq!(effective_rate(10, None), 10);
    }
}
