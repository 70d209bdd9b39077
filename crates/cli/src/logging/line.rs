//! aria2c 1.36's two line formats (its `Logger.cc`), as pure functions.
//!
//! Log file (`-l`):
//! `2026-12-05 06:51:58.123456 [NOTICE] [core/coordinator.rs:710] message`
//! where aria2 writes its `.cc` file and line; we write the Rust source
//! file shortened by [`short_source`].
//!
//! Console: an empty line, then `12/05 06:51:58 [NOTICE] message`.
//!
//! Both use local time, as aria2 does (`localtime_r`, so `TZ` is honoured
//! without a time-zone database of our own).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::level::Aria2Level;

/// A broken-down local time with microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

impl LocalTime {
    pub fn now() -> LocalTime {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        LocalTime::from_unix(t.as_secs() as i64, t.subsec_micros())
    }

    /// `secs` since the epoch in the process's time zone.
    pub fn from_unix(secs: i64, micros: u32) -> LocalTime {
        let t = secs as libc::time_t;
        // SAFETY: an all-zero `tm` is a valid value (integers and a null
        // zone-name pointer) that localtime_r overwrites.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live locals for the whole call;
        // localtime_r is the re-entrant variant and keeps neither.
        let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
        if !ok {
            return LocalTime::default();
        }
        LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            micros,
        }
    }
}

impl Default for LocalTime {
    fn default() -> Self {
        LocalTime {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            micros: 0,
        }
    }
}

/// One log-file line, newline included.
pub fn file_line(t: &LocalTime, level: Aria2Level, source: &str, message: &str) -> String {
    let mut s = String::with_capacity(48 + source.len() + message.len());
    let _ = writeln!(
        s,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06} [{}] [{}] {}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.micros,
        level.as_str(),
        source,
        message
    );
    s
}

/// One console entry: aria2 starts each with an empty line so that it
/// never continues the readout's line. With `color` (`--enable-color`,
/// which aria2 honours whether or not the console is a terminal) the level
/// is colored.
pub fn console_line(t: &LocalTime, level: Aria2Level, message: &str, color: bool) -> String {
    let word = if color {
        format!("{}{}\x1b[0m", level.color(), level.as_str())
    } else {
        level.as_str().to_owned()
    };
    format!(
        "\n{:02}/{:02} {:02}:{:02}:{:02} [{word}] {message}\n",
        t.month, t.day, t.hour, t.minute, t.second,
    )
}

/// `crates/core/src/coordinator/queue.rs` → `core/coordinator/queue.rs`:
/// the crate's directory and the path inside its `src/`, which is as short
/// as aria2's `RequestGroup.cc` while still naming the crate. A registry
/// path (`…/glommio-0.9.0/src/sys/mod.rs`) shortens the same way; a path
/// without `src/` is kept whole.
pub fn short_source(file: &str) -> String {
    let file = file.replace('\\', "/");
    let Some(i) = file
        .rfind("/src/")
        .or_else(|| file.starts_with("src/").then_some(usize::MAX))
    else {
        return file;
    };
    if i == usize::MAX {
        return file["src/".len()..].to_owned();
    }
    let krate = file[..i].rsplit('/').next().unwrap_or("");
    let rest = &file[i + "/src/".len()..];
    if krate.is_empty() {
        rest.to_owned()
    } else {
        format!("{krate}/{rest}")
    }
}

/// `[core/coordinator.rs:710]`'s inside.
pub fn source_location(file: Option<&str>, line: Option<u32>) -> String {
    match (file, line) {
        (Some(f), Some(l)) => format!("{}:{l}", short_source(f)),
        (Some(f), None) => short_source(f),
        (None, _) => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> LocalTime {
        LocalTime {
            year: 2026,
            month: 12,
            day: 5,
            hour: 6,
            minute: 51,
            second: 8,
            micros: 3456,
        }
    }

    #[test]
    fn file_line_matches_aria2() {
        assert_eq!(
            file_line(&t(), Aria2Level::Notice, "core/coordinator.rs:710", "Download complete: /tmp/a"),
            "2026-12-05 06:51:08.003456 [NOTICE] [core/coordinator.rs:710] Download complete: /tmp/a\n"
        );
        // aria2 writes multi-line messages (HTTP heads) as they are.
        assert_eq!(
            file_line(
                &t(),
                Aria2Level::Info,
                "x.rs:1",
                "Requesting:\nGET / HTTP/1.1\n"
            ),
            "2026-12-05 06:51:08.003456 [INFO] [x.rs:1] Requesting:\nGET / HTTP/1.1\n\n"
        );
    }

    #[test]
    fn console_line_matches_aria2() {
        assert_eq!(
            console_line(&t(), Aria2Level::Warn, "slow", false),
            "\n12/05 06:51:08 [WARN] slow\n"
        );
        assert_eq!(
            console_line(&t(), Aria2Level::Notice, "done", true),
            "\n12/05 06:51:08 [\x1b[1;32mNOTICE\x1b[0m] done\n"
        );
    }

    #[test]
    fn sources_shorten_to_crate_and_path() {
        assert_eq!(
            short_source("crates/core/src/coordinator.rs"),
            "core/coordinator.rs"
        );
        assert_eq!(
            short_source("crates/core/src/coordinator/queue.rs"),
            "core/coordinator/queue.rs"
        );
        assert_eq!(
            short_source(
                "/home/u/.cargo/registry/src/index.crates.io-1/glommio-0.9.0/src/sys/mod.rs"
            ),
            "glommio-0.9.0/sys/mod.rs"
        );
        assert_eq!(short_source("src/main.rs"), "main.rs");
        assert_eq!(short_source("build.rs"), "build.rs");
        assert_eq!(
            source_location(Some("crates/cli/src/main.rs"), Some(7)),
            "cli/main.rs:7"
        );
        assert_eq!(source_location(None, None), "-");
    }

    #[test]
    fn local_time_breaks_down_the_epoch() {
        let a = LocalTime::from_unix(86_400 * 365, 12);
        assert!(a.year == 1970 || a.year == 1971, "{a:?}");
        assert_eq!(a.micros, 12);
        let now = LocalTime::now();
        assert!(now.year >= 2024 && (1..=12).contains(&now.month) && now.day >= 1);
    }
}
