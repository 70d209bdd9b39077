//! A bytes-per-second figure from a byte count sampled every tick, as the
//! readout and `tellStatus` show it: aria2's `SpeedCalc`.
//!
//! aria2 keeps the bytes of the last 10 s in slots at least 1 s long and
//! divides them by the time since the oldest slot began. On a slow link
//! that is what keeps its readout steady: bytes that came a second ago
//! still count, so a tick in which nothing arrived does not show `0B`,
//! and a download that stalls falls to 0 within the window.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the speed looks (aria2's `WINDOW_TIME`).
const WINDOW: Duration = Duration::from_secs(10);
/// A slot gathers the bytes of at least this long (aria2 opens a new one
/// when the newest is a second old).
const SLOT: Duration = Duration::from_secs(1);
/// How long before the first sample its count began: the counts measured
/// are a run's own (they start at 0 with the download), and the
/// coordinator samples every download at each 250 ms tick.
const FIRST_SPAN: Duration = Duration::from_millis(250);

/// Speed from successive samples of a growing byte count.
#[derive(Debug, Default, Clone)]
pub(crate) struct SpeedMeter {
    /// The count at the last sample, and when it was taken.
    last: Option<(u64, Instant)>,
    /// (start, bytes) per slot, oldest first.
    slots: VecDeque<(Instant, u64)>,
    /// The sum of `slots`' bytes.
    window_bytes: u64,
    speed: u64,
}

impl SpeedMeter {
    /// Takes the count at `now` of a count that started at 0 within a
    /// tick before the first sample (so bytes that came before the first
    /// tick count too: a fast start must not be lost, or a link that
    /// sends in bursts reads 0 until its next one); returns the new speed.
    pub fn update(&mut self, bytes: u64, now: Instant) -> u64 {
        let (prev, at) = self
            .last
            .unwrap_or((0, now.checked_sub(FIRST_SPAN).unwrap_or(now)));
        let delta = bytes.saturating_sub(prev);
        if delta > 0 {
            // These bytes came after the last sample: their slot starts
            // there, so a sample's bytes are not divided by a near-zero
            // time (aria2 stamps a read when it returns, one read at a
            // time; here a tick's bytes arrive together).
            match self.slots.back_mut() {
                Some((start, n)) if at.saturating_duration_since(*start) < SLOT => *n += delta,
                _ => self.slots.push_back((at, delta)),
            }
            self.window_bytes += delta;
        }
        self.last = Some((bytes, now));
        while let Some(&(start, n)) = self.slots.front() {
            if now.saturating_duration_since(start) <= WINDOW {
                break;
            }
            self.window_bytes -= n;
            self.slots.pop_front();
        }
        self.speed = match self.slots.front() {
            None => 0,
            Some(&(start, _)) => {
                let ms = now.saturating_duration_since(start).as_millis().max(1) as u64;
                self.window_bytes.saturating_mul(1000) / ms
            }
        };
        self.speed
    }

    pub fn speed(&self) -> u64 {
        self.speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(250);

    /// A steady trickle that arrives in bursts (one tick in four brings
    /// anything) reads as its true rate, never 0, as aria2's does.
    #[test]
    fn bursty_trickle_reads_steady() {
        let mut m = SpeedMeter::default();
        let t0 = Instant::now();
        let mut bytes = 0;
        m.update(bytes, t0);
        for i in 1..=80u32 {
            if i % 4 == 0 {
                bytes += 64 << 10;
            }
            let s = m.update(bytes, t0 + TICK * i);
            if i >= 4 {
                assert!(s > 0, "tick {i}: 0");
            }
            if i >= 8 {
                let rate = 64u64 << 10;
                assert!(s > rate / 2 && s < rate * 2, "tick {i}: {s}");
            }
        }
    }

    #[test]
    fn a_first_burst_counts_and_a_stall_falls_to_zero() {
        let mut m = SpeedMeter::default();
        let t0 = Instant::now() + Duration::from_secs(1);
        // 1000 bytes before the first tick: over its quarter second.
        assert_eq!(m.update(1000, t0), 4000);
        assert_eq!(m.update(1000, t0 + Duration::from_millis(750)), 1000);
        // Nothing more: the rate decays over the window, then is gone.
        let s = m.update(1000, t0 + Duration::from_millis(1750));
        assert_eq!(s, 500);
        assert_eq!(m.update(1000, t0 + Duration::from_secs(12)), 0);
    }
}
