//! The console: aria2's one-line readout and the "Download Results"
//! table. Notices are tracing events; the log subscriber (`crate::logging`)
//! shows them on the console and writes them to `-l`.

use std::io::Write;
use std::time::{Duration, Instant};

use arietta_core::{DownloadResult, LogLevel, Progress, Reporter, Status};

use crate::terminal::SharedTerminal;
use crate::units::{abbrev_size, eta};

pub struct Console {
    quiet: bool,
    show_readout: bool,
    summary_interval: Duration,
    last_summary: Instant,
    terminal: SharedTerminal,
}

impl Console {
    pub fn new(
        quiet: bool,
        show_readout: bool,
        summary_interval: u64,
        terminal: SharedTerminal,
    ) -> Console {
        Console {
            quiet,
            show_readout,
            summary_interval: Duration::from_secs(summary_interval),
            last_summary: Instant::now(),
            terminal,
        }
    }
}

/// Prints the results table like aria2 at exit.
pub fn print_results(quiet: bool, results: &[DownloadResult]) {
    {
        if quiet || results.is_empty() {
            return;
        }
        let mut out = String::new();
        out.push_str("\nDownload Results:\n");
        out.push_str("gid   |stat|avg speed  |path/URI\n");
        out.push_str(
            "======+====+===========+=======================================================\n",
        );
        let mut legend = [false; 4];
        for r in results {
            let (stat, i) = match r.status {
                Status::Complete => ("OK", 0),
                Status::Error => ("ERR", 1),
                Status::Removed if r.code == arietta_core::ExitCode::Unfinished => ("INPR", 2),
                _ => ("RM", 3),
            };
            legend[i] = true;
            let speed = if r.status == Status::Complete {
                format!("{}/s", abbrev_size(r.avg_speed()))
            } else {
                "n/a".into()
            };
            let what = r
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| r.uri.clone());
            out.push_str(&format!(
                "{}|{:<4}|{:>11}|{}\n",
                r.gid.short(),
                stat,
                speed,
                what
            ));
        }
        out.push_str("\nStatus Legend:\n");
        let words = [
            "(OK):download completed.",
            "(ERR):error occurred.",
            "(INPR):download in-progress.",
            "(RM):download removed.",
        ];
        for (on, w) in legend.iter().zip(words) {
            if *on {
                out.push_str(w);
                out.push('\n');
            }
        }
        print!("{out}");
        if legend[2] {
            println!("\naria2 will resume download if the transfer is restarted.\nIf there are any errors, then see the log file. See '-l' option in help/man page for details.");
        }
        let _ = std::io::stdout().flush();
    }
}

fn readout(active: &[Progress]) -> String {
    let one = |p: &Progress| {
        let pct = p
            .completed
            .saturating_mul(100)
            .checked_div(p.total)
            .unwrap_or(0);
        let mut s = format!(
            "#{} {}/{}({}%) CN:{}",
            p.gid.short(),
            abbrev_size(p.completed),
            abbrev_size(p.total),
            pct,
            p.connections
        );
        if p.speed > 0 {
            s.push_str(&format!(" DL:{}", abbrev_size(p.speed)));
            if p.total > p.completed {
                s.push_str(&format!(
                    " ETA:{}",
                    eta((p.total - p.completed) / p.speed.max(1))
                ));
            }
        }
        s
    };
    match active {
        [p] => format!("[{}]", one(p)),
        many => {
            let total: u64 = many.iter().map(|p| p.speed).sum();
            let mut s = format!("[DL:{}]", abbrev_size(total));
            for p in many.iter().take(2) {
                s.push_str(&format!("[{}]", one(p)));
            }
            if many.len() > 2 {
                s.push_str(&format!("(+{})", many.len() - 2));
            }
            s
        }
    }
}

impl Reporter for Console {
    fn progress(&mut self, active: &[Progress]) {
        if self.quiet || !self.show_readout {
            return;
        }
        let line = readout(active);
        let mut terminal = self.terminal.lock();
        if terminal.is_tty() {
            terminal.redraw_readout(&line);
        } else if !self.summary_interval.is_zero()
            && self.last_summary.elapsed() >= self.summary_interval
        {
            self.last_summary = Instant::now();
            terminal.print(&format!("\n*** Download Progress Summary ***\n{line}\n"));
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
        tracing::info!("GID#{} - Download result: {:?} {what}", r.gid, r.status);
    }
}

impl Drop for Console {
    /// The readout line is transient: gone before the results table prints.
    fn drop(&mut self) {
        let mut terminal = self.terminal.lock();
        if terminal.is_tty() {
            terminal.clear_readout();
            let _ = std::io::stdout().flush();
        }
    }
}
