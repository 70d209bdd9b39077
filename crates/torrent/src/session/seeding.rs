//! aria2's seeding rules: once the download is complete, seed until
//! `--seed-time` has passed or `--seed-ratio` is reached, whichever comes
//! first (a ratio of 0 means no ratio limit).

use std::time::Duration;

use crate::config::TorrentConfig;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct SeedingRules {
    seed_time: Option<Duration>,
    seed_ratio: f64,
}

impl SeedingRules {
    pub(super) fn from_config(cfg: &TorrentConfig) -> Self {
        SeedingRules {
            seed_time: cfg.seed_time,
            seed_ratio: cfg.seed_ratio,
        }
    }

    /// Whether seeding is over after `seeding_for`, having uploaded
    /// `uploaded` bytes of a `total`-byte selection.
    pub(super) fn done(&self, seeding_for: Duration, uploaded: u64, total: u64) -> bool {
        if self.seed_time.is_some_and(|t| seeding_for >= t) {
            return true;
        }
        self.seed_ratio > 0.0 && uploaded as f64 / total.max(1) as f64 >= self.seed_ratio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn rules(seed_time: Option<Duration>, seed_ratio: f64) -> SeedingRules {
        SeedingRules {
            seed_time,
            seed_ratio,
        }
    }

    #[test]
    fn time_or_ratio_whichever_first() {
        let r = rules(Some(60 * S), 1.0);
        assert!(!r.done(59 * S, 999, 1000));
        assert!(r.done(60 * S, 0, 1000));
        assert!(r.done(S, 1000, 1000));
    }

    #[test]
    fn zero_seed_time_ends_at_once_and_zero_ratio_never_ends() {
        assert!(rules(Some(Duration::ZERO), 0.0).done(Duration::ZERO, 0, 1));
        assert!(!rules(None, 0.0).done(1_000_000 * S, u64::MAX, 1));
    }

    #[test]
    fn an_empty_selection_counts_as_one_byte() {
        assert!(rules(None, 1.0).done(S, 1, 0));
        assert!(!rules(None, 1.0).done(S, 0, 0));
    }
}
