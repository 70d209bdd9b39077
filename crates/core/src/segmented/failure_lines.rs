//! The lines a failed connection leaves, in aria2's words and layout
//! (its `AbstractCommand::execute` handlers):
//!
//! ```text
//! [INFO]  CUID#7 - Restarting the download. URI=http://h/f
//!         Exception: [core/segmented/failure_lines.rs:LINE] errorCode=1 URI=http://h/f
//!           -> [core/segmented/mod.rs:LINE] errorCode=1 Failed to establish connection, cause: Connection refused
//! [INFO]  CUID#7 - 5 times attempted, but no success. Download aborted.
//! [ERROR] CUID#7 - Download aborted. URI=http://h/f
//!         Exception: [core/segmented/mod.rs:LINE] errorCode=1 Failed to establish connection, cause: Connection refused
//! [ERROR] CUID#7 - Download aborted. URI=http://h/missing
//!         Exception: [core/segmented/failure_lines.rs:LINE] errorCode=3 URI=http://h/missing
//!           -> [core/segmented/mod.rs:LINE] errorCode=3 Resource not found
//! ```
//!
//! The `[FILE:LINE]` frames name arietta's own source, as every record of
//! its log does, not aria2's: the outer frame where the download attaches
//! the URI, the inner one where the connection's error reached the
//! download (arietta's errors carry no line of origin). aria2's own
//! locations say nothing to an arietta user and differ between aria2
//! builds anyway (`HttpSkipResponseCommand.cc:215` or `:218` for the same
//! 404), so nothing can rely on them; the layout, the `errorCode=` (the
//! exit code) and the message are aria2's.

use std::panic::Location;

use arietta_options::exception_text::source;

use super::mirrors::UriState;
use crate::error::FetchError;
use crate::messages::ConnId;

/// What became of the connection's mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// It is tried again (aria2's `DlRetryEx` below `--max-tries`).
    Retry,
    /// A retryable error, but `--max-tries` is spent.
    OutOfTries,
    /// An error no retry cures (aria2's `DlAbortEx`: 404, a refused
    /// login).
    Abort,
}

/// The log-only lines (INFO) and the one the console shows too (ERROR).
pub(super) struct FailureLines {
    pub info: Vec<String>,
    pub error: Option<String>,
}

/// The `[FILE:LINE]` of the line this is written on.
macro_rules! here {
    () => {
        source(file!(), line!())
    };
}

/// `CUID#n - …` lines for connection `conn` on mirror `uri` ending in
/// `e`; the inner frame is the caller's location.
#[track_caller]
pub(super) fn failure_lines(
    conn: ConnId,
    uri: &UriState,
    e: &FetchError,
    fate: Fate,
) -> FailureLines {
    let caller = Location::caller();
    let code = e.exit_code() as u8;
    let message = match e {
        FetchError::Net(arietta_net::NetError::Resolve { host, reason }) => {
            format!("CUID#{conn} - Name resolution for {host} failed:{reason}")
        }
        other => other.to_string(),
    };
    let cause = format!(
        "[{}] errorCode={code} {message}",
        source(caller.file(), caller.line())
    );
    let wrapped = |outer: String| {
        format!(
            "Exception: [{outer}] errorCode={code} URI={}\n  -> {cause}",
            uri.target()
        )
    };
    let url = &uri.url;
    let restarting = || {
        format!(
            "CUID#{conn} - Restarting the download. URI={url}\n{}",
            wrapped(here!())
        )
    };
    match fate {
        Fate::Retry => FailureLines {
            info: vec![restarting()],
            error: None,
        },
        Fate::OutOfTries => FailureLines {
            info: vec![
                restarting(),
                format!(
                    "CUID#{conn} - {} times attempted, but no success. Download aborted.",
                    uri.tries
                ),
            ],
            error: Some(format!(
                "CUID#{conn} - Download aborted. URI={url}\nException: {cause}"
            )),
        },
        Fate::Abort => FailureLines {
            info: Vec::new(),
            error: Some(format!(
                "CUID#{conn} - Download aborted. URI={url}\n{}",
                wrapped(here!())
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_http::HttpError;

    fn shape(s: &str) -> String {
        let mut out = String::new();
        let mut skip = false;
        for c in s.chars() {
            match c {
                '[' => {
                    skip = true;
                    out.push_str("[SRC");
                }
                ']' => {
                    skip = false;
                    out.push(']');
                }
                _ if skip => {}
                _ => out.push(c),
            }
        }
        out
    }

    #[test]
    fn not_found_aborts_with_both_frames() {
        let u = UriState::new("http://h/missing");
        let e = FetchError::Http(HttpError::Status { status: 404 });
        let l = failure_lines(7, &u, &e, Fate::Abort);
        assert!(l.info.is_empty());
        assert_eq!(
            shape(&l.error.unwrap()),
            "CUID#7 - Download aborted. URI=http://h/missing\n\
             Exception: [SRC] errorCode=3 URI=http://h/missing\n  \
             -> [SRC] errorCode=3 Resource not found"
        );
    }

    #[test]
    fn spent_tries_log_each_restart_then_abort_with_the_cause() {
        let mut u = UriState::new("http://h/f");
        u.tries = 5;
        let e = FetchError::Http(HttpError::UnexpectedEof);
        let l = failure_lines(7, &u, &e, Fate::OutOfTries);
        assert!(l.info[0].starts_with("CUID#7 - Restarting the download. URI=http://h/f\n"));
        assert!(l.info[0].contains("\n  -> [core/segmented/failure_lines.rs:"));
        assert_eq!(
            l.info[1],
            "CUID#7 - 5 times attempted, but no success. Download aborted."
        );
        let err = l.error.unwrap();
        assert!(
            err.starts_with("CUID#7 - Download aborted. URI=http://h/f\nException: [core/"),
            "{err}"
        );
        assert!(!err.contains("->"), "{err}");
    }
}
