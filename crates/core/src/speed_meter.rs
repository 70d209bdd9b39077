//! A smoothed bytes-per-second figure from counts sampled every tick, as
//! the readout and `tellStatus` show it.

use std::time::Duration;

/// Speed from successive byte counts: each tick's rate weighed 40% against
/// the running figure, so one slow tick does not halve the readout.
#[derive(Debug, Default, Clone)]
pub(crate) struct SpeedMeter {
    tick_bytes: u64,
    speed: u64,
}

impl SpeedMeter {
    /// Starts counting from `bytes` (bytes already there before this run
    /// are not speed).
    pub fn reset(&mut self, bytes: u64) {
        self.tick_bytes = bytes;
    }

    /// The count at this tick; returns the new speed.
    pub fn update(&mut self, bytes: u64, tick: Duration) -> u64 {
        let inst = bytes.saturating_sub(self.tick_bytes) as f64 / tick.as_secs_f64();
        self.tick_bytes = bytes;
        self.speed = if self.speed == 0 {
            inst as u64
        } else {
            (self.speed as f64 * 0.6 + inst * 0.4) as u64
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

    #[test]
    fn first_tick_is_taken_whole_then_smoothed() {
        let mut m = SpeedMeter::default();
        m.reset(1000);
        let tick = Duration::from_millis(250);
        assert_eq!(m.update(1000 + 250, tick), 1000);
        // 0 B this tick: 60% of the old figure stays.
        assert_eq!(m.update(1250, tick), 600);
    }
}
