//! The console: aria2's readout (redrawn on a terminal, one line a second
//! otherwise), its periodic progress summary and the "Download Results"
//! table. Notices are tracing events; the log subscriber
//! (`crate::logging`) shows them on the console and writes them to `-l`.

mod colorized;
mod readout;
mod results;

use std::time::{Duration, Instant};

use arietta_core::{DownloadResult, LogLevel, Progress, Reporter};
use arietta_options::OptionSet;

pub use results::{ResultsStyle, Stat};

use crate::terminal::SharedTerminal;
use crate::units::SizeFormat;

/// aria2 recomputes its readout once a second.
const READOUT_EVERY: Duration = Duration::from_secs(1);

/// How the console looks, from the global options.
#[derive(Clone, Copy, Debug)]
pub struct ConsoleStyle {
    pub quiet: bool,
    /// `--show-console-readout`.
    pub readout: bool,
    /// `--summary-interval` (zero: never).
    pub summary_interval: Duration,
    /// `--human-readable`.
    pub sizes: SizeFormat,
    /// `--truncate-console-readout`.
    pub truncate: bool,
    /// `--enable-color` (colors only ever reach a terminal).
    pub color: bool,
    /// `--download-result`.
    pub results: ResultsStyle,
}

impl ConsoleStyle {
    pub fn from_options(o: &OptionSet) -> ConsoleStyle {
        ConsoleStyle {
            quiet: o.get_bool("quiet"),
            readout: o.get_bool("show-console-readout"),
            summary_interval: Duration::from_secs(o.get_u64("summary-interval")),
            sizes: SizeFormat {
                human: o.get_bool("human-readable"),
            },
            truncate: o.get_bool("truncate-console-readout"),
            color: o.get_bool("enable-color"),
            results: ResultsStyle::parse(o.get_str("download-result")),
        }
    }
}

pub struct Console {
    style: ConsoleStyle,
    last_readout: Instant,
    last_summary: Instant,
    terminal: SharedTerminal,
}

impl Console {
    pub fn new(style: ConsoleStyle, terminal: SharedTerminal) -> Console {
        let now = Instant::now();
        Console {
            style,
            last_readout: now,
            last_summary: now,
            terminal,
        }
    }
}

/// Prints the results table like aria2 at exit, and its note on resuming
/// when something did not complete (`unfinished`), which `hide` keeps.
pub fn print_results(
    style: &ConsoleStyle,
    terminal: &SharedTerminal,
    results: &[DownloadResult],
    unfinished: bool,
) {
    if style.quiet {
        return;
    }
    let mut t = terminal.lock();
    let color = style.color && t.is_tty();
    let mut out = results::table(results, style.results, color);
    if unfinished {
        out.push_str(results::CONTINUE_NOTE);
    }
    t.print(&out);
}

impl Reporter for Console {
    fn progress(&mut self, active: &[Progress]) {
        if self.style.quiet || self.last_readout.elapsed() < READOUT_EVERY {
            return;
        }
        self.last_readout = Instant::now();
        let mut terminal = self.terminal.lock();
        let tty = terminal.is_tty();
        let cols = terminal.columns();
        if !self.style.summary_interval.is_zero()
            && self.last_summary.elapsed() >= self.style.summary_interval
        {
            self.last_summary = Instant::now();
            let block = readout::summary(active, self.style.sizes, &readout::asctime_now(), cols);
            terminal.print(&format!("{block}\n"));
        }
        if !self.style.readout {
            return;
        }
        let line = readout::readout(active, self.style.sizes);
        if tty {
            let max = self.style.truncate.then_some(cols);
            let visible = line.render(false, max).chars().count();
            terminal.redraw_readout(&line.render(self.style.color, max), visible);
        } else {
            terminal.print(&format!("{}\n", line.render(false, None)));
        }
    }

    /// The line is logged where the coordinator called from (the trait
    /// method tracks its caller), so `-l` names that place, not this one.
    fn notice(&mut self, level: LogLevel, line: &str) {
        let at = std::panic::Location::caller();
        let (file, n) = (at.file(), at.line());
        match level {
            LogLevel::Notice => {
                tracing::info!(notice = true, log.file = file, log.line = n, "{line}")
            }
            LogLevel::Warn => tracing::warn!(log.file = file, log.line = n, "{line}"),
            LogLevel::Error => tracing::error!(log.file = file, log.line = n, "{line}"),
        }
    }

    fn finished(&mut self, r: &DownloadResult) {
        let what = r
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| r.uri.clone());
        tracing::info!(
            "GID#{} - Download result: {} {what}",
            r.gid,
            Stat::of(r).word()
        );
    }
}

impl Drop for Console {
    /// The readout line is transient: gone before the results table prints.
    fn drop(&mut self) {
        let mut terminal = self.terminal.lock();
        if terminal.is_tty() {
            terminal.clear_readout();
        }
    }
}
