//! aria2's exception text, which scripts and users grep:
//!
//! ```text
//! Exception: [FILE:LINE] errorCode=28 We encountered a problem while processing the option '--split'.
//!   -> [FILE:LINE] errorCode=1 split must be greater than or equal to 1.
//! ```
//!
//! The `[FILE:LINE]` frames name arietta's own source where the error was
//! reported (`options/error.rs:120`), as every record of its log does;
//! aria2's `.cc` locations would say nothing about arietta and differ
//! between aria2 builds anyway. The layout, the codes and the messages are
//! aria2's.

use std::panic::Location;

/// One frame of the trace: where, which exit code, what.
#[derive(Clone, Debug)]
pub struct Frame {
    at: &'static Location<'static>,
    code: u8,
    message: String,
}

impl Frame {
    /// A frame located at the caller.
    #[track_caller]
    pub fn here(code: u8, message: impl Into<String>) -> Frame {
        Frame {
            at: Location::caller(),
            code,
            message: message.into(),
        }
    }
}

/// `crates/core/src/segmented/mod.rs` → `core/segmented/mod.rs:LINE`, as
/// the log's records name their source.
pub fn source(file: &str, line: u32) -> String {
    let file = file.replace('\\', "/");
    let file = file.strip_prefix("crates/").unwrap_or(&file);
    format!("{}:{line}", file.replacen("/src/", "/", 1))
}

/// The trace, each line ending in a newline: the first frame as
/// `Exception: …`, its causes as `  -> …`.
pub fn stack_trace(frames: &[Frame]) -> String {
    let mut out = String::new();
    for (i, f) in frames.iter().enumerate() {
        out.push_str(if i == 0 { "Exception: " } else { "  -> " });
        out.push_str(&format!(
            "[{}] errorCode={} {}\n",
            source(f.at.file(), f.at.line()),
            f.code,
            f.message
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_render_like_aria2() {
        let t = stack_trace(&[Frame::here(28, "outer"), Frame::here(1, "inner")]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("Exception: [options/exception_text.rs:"));
        assert!(lines[0].ends_with("] errorCode=28 outer"), "{t}");
        assert!(lines[1].starts_with("  -> [options/exception_text.rs:"));
        assert!(lines[1].ends_with("] errorCode=1 inner"), "{t}");
        assert!(t.ends_with('\n'));
    }
}
