//! aria2's five log levels and how tracing's levels map onto them.
//!
//! tracing has TRACE, DEBUG, INFO, WARN and ERROR; aria2 has DEBUG, INFO,
//! NOTICE, WARN and ERROR, NOTICE sitting between INFO and WARN (it is what
//! the console shows by default: "Download complete: …"). The mapping:
//!
//! | tracing event                       | aria2 level |
//! |-------------------------------------|-------------|
//! | `trace!`, `debug!`                  | DEBUG       |
//! | `info!`                             | INFO        |
//! | `info!(notice = true, …)`           | NOTICE      |
//! | `warn!`                             | WARN        |
//! | `error!`                            | ERROR       |
//!
//! A NOTICE is an INFO event that carries a field named [`NOTICE_FIELD`];
//! its presence decides, not its value, so the level is known from the
//! callsite's metadata alone and a filtered-out notice costs no more than a
//! filtered-out `info!`.

use tracing::level_filters::LevelFilter;
use tracing::{Level, Metadata};

/// The field that lifts an `info!` event to aria2's NOTICE.
pub const NOTICE_FIELD: &str = "notice";

/// The field that keeps an event off the console, for lines the caller
/// already printed on stderr ("Exception caught: …") that the log file
/// should still hold. Presence decides, like [`NOTICE_FIELD`].
pub const FILE_ONLY_FIELD: &str = "file_only";

/// Whether the callsite is marked [`FILE_ONLY_FIELD`].
pub fn file_only(meta: &Metadata<'_>) -> bool {
    meta.fields().field(FILE_ONLY_FIELD).is_some()
}

/// aria2's log levels, lowest first (the order `--log-level` compares in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Aria2Level {
    Debug,
    Info,
    Notice,
    Warn,
    Error,
}

impl Aria2Level {
    /// The value of `--log-level` / `--console-log-level`.
    pub fn parse(s: &str) -> Option<Aria2Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug" => Aria2Level::Debug,
            "info" => Aria2Level::Info,
            "notice" => Aria2Level::Notice,
            "warn" => Aria2Level::Warn,
            "error" => Aria2Level::Error,
            _ => return None,
        })
    }

    /// The level's rank, for an atomic (see [`Aria2Level::from_rank`]).
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// The level of a [`Aria2Level::rank`]; Error past the last.
    pub fn from_rank(rank: u8) -> Aria2Level {
        match rank {
            0 => Aria2Level::Debug,
            1 => Aria2Level::Info,
            2 => Aria2Level::Notice,
            3 => Aria2Level::Warn,
            _ => Aria2Level::Error,
        }
    }

    /// The word aria2 writes between brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            Aria2Level::Debug => "DEBUG",
            Aria2Level::Info => "INFO",
            Aria2Level::Notice => "NOTICE",
            Aria2Level::Warn => "WARN",
            Aria2Level::Error => "ERROR",
        }
    }

    /// aria2's console color for the level (`Logger.cc`'s `levelColor`).
    pub fn color(self) -> &'static str {
        match self {
            Aria2Level::Debug => "\x1b[1;37m",
            Aria2Level::Info => "\x1b[1;36m",
            Aria2Level::Notice => "\x1b[1;32m",
            Aria2Level::Warn => "\x1b[1;33m",
            Aria2Level::Error => "\x1b[1;31m",
        }
    }

    /// The aria2 level of an event or span callsite.
    pub fn of(meta: &Metadata<'_>) -> Aria2Level {
        match *meta.level() {
            Level::TRACE | Level::DEBUG => Aria2Level::Debug,
            Level::INFO if meta.fields().field(NOTICE_FIELD).is_some() => Aria2Level::Notice,
            Level::INFO => Aria2Level::Info,
            Level::WARN => Aria2Level::Warn,
            Level::ERROR => Aria2Level::Error,
        }
    }

    /// The most verbose tracing level that can still reach this aria2
    /// level: what the subscriber tells tracing to skip early.
    pub fn tracing_filter(self) -> LevelFilter {
        match self {
            Aria2Level::Debug => LevelFilter::TRACE,
            Aria2Level::Info | Aria2Level::Notice => LevelFilter::INFO,
            Aria2Level::Warn => LevelFilter::WARN,
            Aria2Level::Error => LevelFilter::ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metadata of a real callsite, so the test exercises what tracing
    /// builds for the macros.
    fn level_of(build: impl FnOnce()) -> Vec<Aria2Level> {
        use std::sync::{Arc, Mutex};
        struct Collect(Arc<Mutex<Vec<Aria2Level>>>);
        impl tracing::Subscriber for Collect {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
                tracing::span::Id::from_u64(1)
            }
            fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
            fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
            fn event(&self, e: &tracing::Event<'_>) {
                self.0.lock().unwrap().push(Aria2Level::of(e.metadata()));
            }
            fn enter(&self, _: &tracing::span::Id) {}
            fn exit(&self, _: &tracing::span::Id) {}
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::with_default(Collect(seen.clone()), build);
        let v = seen.lock().unwrap().clone();
        v
    }

    #[test]
    fn tracing_levels_map_to_aria2_levels() {
        let seen = level_of(|| {
            tracing::trace!("t");
            tracing::debug!("d");
            tracing::info!("i");
            tracing::info!(notice = true, "n");
            tracing::warn!("w");
            tracing::error!("e");
        });
        use Aria2Level::*;
        assert_eq!(seen, [Debug, Debug, Info, Notice, Warn, Error]);
    }

    #[test]
    fn option_values_parse_and_order() {
        let all: Vec<_> = ["debug", "info", "NOTICE", "warn", "error"]
            .iter()
            .map(|s| Aria2Level::parse(s).unwrap())
            .collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Aria2Level::parse("verbose"), None);
        assert_eq!(
            all.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            ["DEBUG", "INFO", "NOTICE", "WARN", "ERROR"]
        );
    }

    #[test]
    fn filters_keep_every_event_the_level_shows() {
        assert_eq!(Aria2Level::Debug.tracing_filter(), LevelFilter::TRACE);
        assert_eq!(Aria2Level::Notice.tracing_filter(), LevelFilter::INFO);
        assert_eq!(Aria2Level::Error.tracing_filter(), LevelFilter::ERROR);
    }
}
