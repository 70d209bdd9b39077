//! The crate's single error type. Messages follow aria2's wording so scripts
//! and users that grep aria2's output keep working.

/// Exit status aria2 uses for every option problem ("a problem occurred while
/// parsing command-line options").
pub const OPTION_ERROR_EXIT_CODE: u8 = 28;

/// The usage line aria2 prints after an option error.
pub const USAGE_LINE: &str =
    "Usage: aria2c [OPTIONS] [URI | MAGNET | TORRENT_FILE | METALINK_FILE]...";

/// Anything wrong with an option name or value, from any source.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionError {
    /// No option has this name (`option` is as the user wrote it, e.g.
    /// `--foo`). [`OptionError::suggestions`] finds near names.
    #[error("unrecognized option '{option}'")]
    Unrecognized { option: String },
    /// An abbreviated long option matches several options.
    #[error("option '{option}' is ambiguous; possibilities:{}", list_candidates(.candidates))]
    Ambiguous {
        option: String,
        candidates: Vec<&'static str>,
    },
    /// A value-taking option ended the command line.
    #[error("option '{option}' requires an argument")]
    MissingArgument { option: String },
    /// `--version=x` and the like.
    #[error("option '{option}' doesn't allow an argument")]
    UnexpectedArgument { option: String },
    /// The value does not fit the option; `detail` is aria2's explanation.
    #[error("We encountered a problem while processing the option '--{name}'.\n  -> {detail}")]
    InvalidValue { name: &'static str, detail: String },
    /// An argument that is not valid UTF-8 (option values and URIs are text).
    #[error("argument is not valid UTF-8: {lossy}")]
    NotUnicode { lossy: String },
    /// Options that only make sense for the whole session (e.g.
    /// `max-concurrent-downloads`) used in an input file or per-download RPC.
    #[error("option '{name}' cannot be set for a single download")]
    NotPerDownload { name: &'static str },
    /// RPC asked to change an option that is fixed once the session runs.
    #[error("option '{name}' cannot be changed at run time")]
    NotChangeable { name: &'static str },
    /// A malformed line in a file (e.g. an option line before any URI).
    #[error("{detail}")]
    Syntax { detail: String },
    /// Wraps another error with the 1-based line of the file it came from.
    #[error("line {line}: {source}")]
    AtLine {
        line: usize,
        #[source]
        source: Box<OptionError>,
    },
}

fn list_candidates(candidates: &[&str]) -> String {
    candidates.iter().map(|c| format!(" '--{c}'")).collect()
}

impl OptionError {
    /// Whether RPC skips this option rather than failing the call, as
    /// aria2c does: an option it does not know, or one that cannot be set
    /// in that place (per download, or at run time), is left out and the
    /// call answers OK. A bad value still fails it.
    pub fn skipped_by_rpc(&self) -> bool {
        matches!(
            self,
            OptionError::Unrecognized { .. }
                | OptionError::Ambiguous { .. }
                | OptionError::NotPerDownload { .. }
                | OptionError::NotChangeable { .. }
        )
    }

    /// The message RPC answers with: aria2 sends only the first line
    /// ("We encountered a problem while processing the option '--split'."),
    /// never the detail below it.
    pub fn rpc_message(&self) -> String {
        let text = self.to_string();
        text.lines().next().unwrap_or_default().to_owned()
    }

    /// Option names close to an unrecognized one, for a "Did you mean" hint;
    /// empty for other errors. Computed on demand because files and fuzzers
    /// produce many errors nobody prints.
    pub fn suggestions(&self) -> Vec<&'static str> {
        match self.root() {
            // A single-letter short option has no useful neighbours.
            OptionError::Unrecognized { option }
                if option.starts_with("--") || !option.starts_with('-') =>
            {
                suggest(option)
            }
            _ => Vec::new(),
        }
    }

    /// aria2's exit status for option errors.
    pub fn exit_code(&self) -> u8 {
        OPTION_ERROR_EXIT_CODE
    }

    /// Attaches a line number (files); keeps an existing one.
    pub fn at_line(self, line: usize) -> OptionError {
        match self {
            OptionError::AtLine { .. } => self,
            other => OptionError::AtLine {
                line,
                source: Box::new(other),
            },
        }
    }

    /// The line number, if the error came from a file.
    pub fn line(&self) -> Option<usize> {
        match self {
            OptionError::AtLine { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The underlying error without line information.
    pub fn root(&self) -> &OptionError {
        match self {
            OptionError::AtLine { source, .. } => source.root(),
            other => other,
        }
    }

    /// The whole text aria2c prints on stderr for a command-line error: the
    /// message, the usage line, the pointer to `-h`, and "Did you mean"
    /// suggestions for unknown options.
    pub fn report(&self) -> String {
        let mut out = String::new();
        match self.root() {
            OptionError::Unrecognized { .. }
            | OptionError::Ambiguous { .. }
            | OptionError::MissingArgument { .. }
            | OptionError::UnexpectedArgument { .. } => {
                out.push_str("aria2c: ");
            }
            _ => {}
        }
        // Like aria2, a bad value is an exception's trace followed by that
        // option's own usage.
        let def = match self.root() {
            OptionError::InvalidValue { name, .. } => crate::table::find_option(name),
            _ => None,
        };
        if def.is_some() {
            out.push_str(&self.stack_trace());
        } else {
            out.push_str(&self.to_string());
            out.push('\n');
        }
        match def {
            Some(def) => {
                out.push_str("Usage:\n");
                out.push_str(&crate::help::option_usage(def));
            }
            None => {
                out.push_str(USAGE_LINE);
                out.push_str("\nSee 'aria2c -h'.\n");
            }
        }
        let suggestions = self.suggestions();
        if !suggestions.is_empty() {
            out.push_str("\nDid you mean:\n");
            for s in suggestions {
                out.push_str("\t--");
                out.push_str(s);
                out.push('\n');
            }
        }
        out
    }
}

impl OptionError {
    /// aria2's exception trace for this error: a bad value is the option
    /// handler's exception (code 28) over its cause (code 1); anything else
    /// one frame of code 28. A file's line number is not part of it, as in
    /// aria2.
    pub fn stack_trace(&self) -> String {
        use crate::exception_text::{stack_trace, Frame};
        let frames = match self.root() {
            OptionError::InvalidValue { name, detail } => vec![
                Frame::here(
                    OPTION_ERROR_EXIT_CODE,
                    format!("We encountered a problem while processing the option '--{name}'."),
                ),
                Frame::here(1, detail.clone()),
            ],
            other => vec![Frame::here(OPTION_ERROR_EXIT_CODE, other.to_string())],
        };
        stack_trace(&frames)
    }

    /// What aria2c prints on stderr for a bad line of the conf file `path`:
    /// "Parse error in PATH", the trace, and for a bad value the option's
    /// names and description under "Usage:".
    pub fn conf_report(&self, path: &str) -> String {
        let mut out = format!("Parse error in {path}\n{}", self.stack_trace());
        if let OptionError::InvalidValue { name, .. } = self.root() {
            if let Some(def) = crate::table::find_option(name) {
                out.push_str("Usage:\n");
                out.push_str(&crate::help::option_description(def));
                out.push('\n');
            }
        }
        out
    }

    /// What aria2c prints on stderr for a bad entry of an `-i` file: the
    /// trace under "Exception caught", then an empty line.
    pub fn input_report(&self) -> String {
        format!("Exception caught\n{}\n", self.stack_trace())
    }
}

/// Options whose names are close to `word`, for "Did you mean", chosen as
/// aria2c's `showCandidates` does: a name that starts with the word costs
/// 0, any other its weighted edit distance (git's weights: swap 0,
/// substitution 2, insertion 1, deletion 4); every name at the lowest cost
/// is listed, in aria2's definition order, unless that cost is over 12. The
/// word is the argument as given (`--spilt=3` is matched as `spilt=3`).
pub(crate) fn suggest(word: &str) -> Vec<&'static str> {
    let word = word.trim_start_matches('-');
    if word.is_empty() {
        return Vec::new();
    }
    let scored: Vec<(usize, &'static str)> = crate::table::DEFINITION_ORDER
        .iter()
        .map(|&name| {
            let cost = if name.starts_with(word) {
                0
            } else {
                weighted_distance(word.as_bytes(), name.as_bytes())
            };
            (cost, name)
        })
        .collect();
    let Some(best) = scored.iter().map(|(c, _)| *c).min() else {
        return Vec::new();
    };
    if best > 12 {
        return Vec::new();
    }
    scored
        .into_iter()
        .filter(|(c, _)| *c == best)
        .map(|(_, n)| n)
        .collect()
}

/// Damerau-Levenshtein distance from `a` to `b` with aria2's weights
/// (swap 0, substitution 2, insertion 1, deletion 4), computed as its
/// `levenshtein` does, first row and column included.
fn weighted_distance(a: &[u8], b: &[u8]) -> usize {
    const SWAP: usize = 0;
    const SUB: usize = 2;
    const ADD: usize = 1;
    const DEL: usize = 4;
    // Rows i-2, i-1 and i.
    let mut two_up = vec![0usize; b.len() + 1];
    let mut up: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let mut v = up[j - 1] + if a[i - 1] == b[j - 1] { 0 } else { SUB };
            if i >= 2
                && j >= 2
                && a[i - 1] != b[j - 1]
                && a[i - 2] == b[j - 1]
                && a[i - 1] == b[j - 2]
            {
                v = v.min(two_up[j - 2] + SWAP);
            }
            row[j] = v.min(up[j] + DEL).min(row[j - 1] + ADD);
        }
        std::mem::swap(&mut two_up, &mut up);
        std::mem::swap(&mut up, &mut row);
    }
    up[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_value_wording_matches_aria2() {
        let e = OptionError::InvalidValue {
            name: "split",
            detail: "split must be between 1 and 16.".into(),
        };
        assert_eq!(
            e.to_string(),
            "We encountered a problem while processing the option '--split'.\n  -> split must be between 1 and 16."
        );
        assert_eq!(e.exit_code(), 28);
        let r = e.report();
        assert!(r.contains("\nUsage:\n -s, --split=N"), "{r}");
        let r = OptionError::MissingArgument {
            option: "-x".into(),
        }
        .report();
        assert!(r.starts_with("aria2c: option '-x' requires an argument\n"));
        assert!(r.contains(USAGE_LINE));
        assert!(r.ends_with("See 'aria2c -h'.\n"));
    }

    #[test]
    fn unrecognized_report_has_suggestions() {
        let e = OptionError::Unrecognized {
            option: "--spilt".into(),
        };
        let r = e.report();
        assert!(r.starts_with("aria2c: unrecognized option '--spilt'\n"));
        assert!(r.contains("Did you mean:\n\t--split\n"), "{r}");
        // aria2c 1.36 lists these four for `--nosuch` (as "stop, help,
        // dscp, use-head": it breaks ties by the heap address of each
        // option's record, which follows its definition order only
        // roughly; arietta follows the definition order).
        assert_eq!(suggest("--nosuch"), ["help", "stop", "dscp", "use-head"]);
        assert_eq!(suggest("--dns-timeout=5"), ["timeout"]);
        assert!(suggest("--xyzzyabcdefghijkl").is_empty());
    }

    #[test]
    fn ambiguous_lists_candidates() {
        let e = OptionError::Ambiguous {
            option: "--max-d".into(),
            candidates: vec!["max-download-limit", "max-download-result"],
        };
        assert_eq!(
            e.to_string(),
            "option '--max-d' is ambiguous; possibilities: '--max-download-limit' '--max-download-result'"
        );
    }

    #[test]
    fn line_wrapping_is_idempotent() {
        let e = OptionError::Syntax { detail: "x".into() }
            .at_line(3)
            .at_line(9);
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.to_string(), "line 3: x");
        assert_eq!(e.root(), &OptionError::Syntax { detail: "x".into() });
    }

    #[test]
    fn weighted_distance_basics() {
        let d = |a: &str, b: &str| weighted_distance(a.as_bytes(), b.as_bytes());
        assert_eq!(d("split", "spilt"), 0, "a swap is free");
        assert_eq!(d("dir", "dir"), 0);
        assert_eq!(d("di", "dir"), 1, "an insertion costs 1");
        assert_eq!(d("dirx", "dir"), 4, "a deletion costs 4");
        assert_eq!(d("dxr", "dir"), 2, "a substitution costs 2");
    }
}
