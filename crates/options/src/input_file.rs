//! aria2's `-i` input file: each unindented line is one download, its URIs
//! separated by TABs (mirrors of the same file); the indented `name=value`
//! lines after it are options for that download only.
//!
//! ```text
//! http://a/f.iso<TAB>http://b/f.iso
//!   dir=/iso
//!   out=f.iso
//! # a comment
//! magnet:?xt=urn:btih:...
//! ```

use crate::conf_file::validate_pair;
use crate::error::OptionError;
use crate::table::find_option;

/// One download from an input file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputEntry {
    /// The download's URIs (or torrent/metalink paths), in order.
    pub uris: Vec<String>,
    /// Its options, validated and normalized, in file order; cumulative
    /// options (`header`) may repeat.
    pub options: Vec<(String, String)>,
    /// 1-based line of the URI line, for messages about this entry.
    pub line: usize,
    /// Its option lines naming options that do not exist, as written: aria2
    /// warns "Unknown option: LINE" for each and goes on.
    pub unknown: Vec<String>,
}

/// Parses an input file. Unknown options are listed in their entry's
/// `unknown` and skipped, as aria2 does. Fails with the line number on a
/// bad value, an option aria2 does not allow per download
/// (`max-concurrent-downloads`, ...), or an option line before any URI line.
///
/// Details: `#` lines are comments (also when indented); blank lines are
/// skipped anywhere, including between a URI line and its options; CRLF and a
/// leading UTF-8 byte-order mark are accepted; empty TAB-separated fields are
/// dropped and each URI is trimmed of surrounding spaces.
pub fn parse_input_file(text: &str) -> Result<Vec<InputEntry>, OptionError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries: Vec<InputEntry> = Vec::new();
    for (i, raw_line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some(entry) = entries.last_mut() else {
                return Err(OptionError::Syntax {
                    detail: "option line without a preceding URI line".into(),
                }
                .at_line(line_no));
            };
            let (name, value) = match trimmed.split_once('=') {
                Some((n, v)) => (n.trim(), v.trim()),
                None => (trimmed, ""),
            };
            if find_option(name).is_none() {
                entry.unknown.push(line.to_string());
                continue;
            }
            let value = validate_option(name, value).map_err(|e| e.at_line(line_no))?;
            entry.options.push((name.to_string(), value));
        } else {
            let uris: Vec<String> = line
                .split('\t')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect();
            entries.push(InputEntry {
                uris,
                line: line_no,
                ..InputEntry::default()
            });
        }
    }
    Ok(entries)
}

fn validate_option(name: &str, value: &str) -> Result<String, OptionError> {
    let value = validate_pair(name, value)?;
    match find_option(name) {
        Some(def) if !def.per_download() => Err(OptionError::NotPerDownload { name: def.name }),
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_mirrors_and_options() {
        let text = "http://a/f\thttp://b/f\n  dir=/tmp/x\n\tout=name.iso\n  gid=2089b05ecca3d829\n# c\n\nhttp://c/g\n";
        let e = parse_input_file(text).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].uris, ["http://a/f", "http://b/f"]);
        assert_eq!(e[0].line, 1);
        assert_eq!(
            e[0].options,
            vec![
                ("dir".to_string(), "/tmp/x".to_string()),
                ("out".to_string(), "name.iso".to_string()),
                ("gid".to_string(), "2089b05ecca3d829".to_string()),
            ]
        );
        assert_eq!(e[1].uris, ["http://c/g"]);
        assert!(e[1].options.is_empty());
        assert_eq!(e[1].line, 7);
    }

    #[test]
    fn corner_cases() {
        assert!(parse_input_file("").unwrap().is_empty());
        assert!(parse_input_file("\n\n# only comments\n   \n")
            .unwrap()
            .is_empty());
        // CRLF, BOM, empty TAB fields, blank line between URI and options,
        // indented comment, values containing '='.
        let e = parse_input_file(
            "\u{feff}http://a/x?q=1\t\t http://b/x \r\n\r\n  # note\r\n  header=X-A: b=c\r\n  header=X-B: d\r\n  continue\r\n",
        )
        .unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].uris, ["http://a/x?q=1", "http://b/x"]);
        assert_eq!(
            e[0].options,
            vec![
                ("header".to_string(), "X-A: b=c".to_string()),
                ("header".to_string(), "X-B: d".to_string()),
                ("continue".to_string(), "true".to_string()),
            ]
        );
        // No trailing newline.
        assert_eq!(
            parse_input_file("http://a\n dir=/d").unwrap()[0]
                .options
                .len(),
            1
        );
    }

    #[test]
    fn errors_with_line_numbers() {
        let e = parse_input_file("  dir=/x\nhttp://a\n").unwrap_err();
        assert_eq!(e.line(), Some(1));
        assert!(matches!(e.root(), OptionError::Syntax { .. }));

        // Unknown: listed, skipped, not fatal (aria2 warns and goes on).
        let e = parse_input_file("http://a\n  dir=/x\n  foo=1\n").unwrap();
        assert_eq!(e[0].options, vec![("dir".to_string(), "/x".to_string())]);
        assert_eq!(e[0].unknown, vec!["  foo=1".to_string()]);

        let e = parse_input_file("http://a\n  max-concurrent-downloads=1\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert_eq!(
            e.root(),
            &OptionError::NotPerDownload {
                name: "max-concurrent-downloads"
            }
        );

        let e = parse_input_file("http://a\n\n  split=99999999999999999999\n").unwrap_err();
        assert_eq!(e.line(), Some(3));
        assert!(matches!(
            e.root(),
            OptionError::InvalidValue { name: "split", .. }
        ));

        assert!(parse_input_file("http://a\n  gid=xyz\n").is_err());
        assert!(parse_input_file("http://a\n  help\n").is_err());
    }
}
