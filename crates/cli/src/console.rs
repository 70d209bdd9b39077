//! The console: aria2's one-line readout, notices, the log file and the
//! "Download Results" table.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime};

use arietta_core::{DownloadResult, LogLevel, Progress, Reporter, Status};

use crate::units::{abbrev_size, eta};

/// aria2's log levels, lowest first.
fn level_rank(level: &str) -> u8 {
    match level.to_ascii_lowercase().as_str() {
        "debug" => 0,
        "info" => 1,
        "notice" => 2,
        "warn" => 3,
        _ => 4,
    }
}

pub struct Console {
    quiet: bool,
    /// `--console-log-level` and `--log-level` as ranks.
    console_level: u8,
    log_level: u8,
    tty: bool,
    show_readout: bool,
    summary_interval: Duration,
    last_summary: Instant,
    readout_len: usize,
    log: Option<Box<dyn Write + Send>>,
}

impl Console {
    pub fn new(
        quiet: bool,
        show_readout: bool,
        summary_interval: u64,
        log_path: Option<&str>,
        console_level: &str,
        log_level: &str,
    ) -> Console {
        let log: Option<Box<dyn Write + Send>> = match log_path {
            Some("-") => Some(Box::new(std::io::stdout())),
            Some(p) => File::options()
                .create(true)
                .append(true)
                .open(p)
                .ok()
                .map(|f| Box::new(f) as Box<dyn Write + Send>),
            None => None,
        };
        Console {
            quiet,
            console_level: level_rank(console_level),
            log_level: level_rank(log_level),
            tty: std::io::stdout().is_terminal(),
            show_readout,
            summary_interval: Duration::from_secs(summary_interval),
            last_summary: Instant::now(),
            readout_len: 0,
            log,
        }
    }

    fn clear_readout(&mut self) {
        if self.readout_len > 0 {
            print!("\r{}\r", " ".repeat(self.readout_len));
            self.readout_len = 0;
        }
    }

    fn log_line(&mut self, level: &str, line: &str) {
        if level_rank(level) < self.log_level {
            return;
        }
        if let Some(w) = self.log.as_mut() {
            let t = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            let _ = writeln!(
                w,
                "{}.{:06} [{level}] {line}",
                t.as_secs(),
                t.subsec_micros()
            );
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
        if self.tty {
            let pad = self.readout_len.saturating_sub(line.len());
            print!("\r{line}{}", " ".repeat(pad));
            self.readout_len = line.len();
            let _ = std::io::stdout().flush();
        } else if !self.summary_interval.is_zero()
            && self.last_summary.elapsed() >= self.summary_interval
        {
            self.last_summary = Instant::now();
            println!("\n*** Download Progress Summary ***\n{line}");
        }
    }

    fn notice(&mut self, level: LogLevel, line: &str) {
        let level = match level {
            LogLevel::Notice => "NOTICE",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        };
        self.log_line(level, line);
        if self.quiet || level_rank(level) < self.console_level {
            return;
        }
        self.clear_readout();
        let now = chrono_like_now();
        println!("\n{now} [{level}] {line}");
    }

    fn finished(&mut self, r: &DownloadResult) {
        let line = format!(
            "gid#{} {:?} {}",
            r.gid,
            r.status,
            r.path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        self.log_line("INFO", &line);
    }
}

/// aria2 prefixes notices with `MM/DD HH:MM:SS`; UTC keeps us free of a
/// time-zone database.
fn chrono_like_now() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let days = secs / 86_400;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{mo:02}/{d:02} {h:02}:{m:02}:{s:02}")
}

impl Drop for Console {
    /// The readout line is transient: gone before the results table prints.
    fn drop(&mut self) {
        if self.tty {
            self.clear_readout();
            let _ = std::io::stdout().flush();
        }
    }
}
