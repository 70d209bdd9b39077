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
/// `unknown` and skipped, as aria2 does, and so are options aria2 does not
/// allow per download (`max-concurrent-downloads`, `load-cookies`, ...).
/// Fails with the line number on a bad value or an option line before any
/// URI line.
///
/// Details: `#` lines are comments (also when indented); blank lines are
/// skipped anywhere, including between a URI line and its options; CRLF and a
/// leading UTF-8 byte-order mark are accepted; empty TAB-separated fields are
/// dropped and each URI is trimmed of surrounding spaces.
pub fn parse_input_file(text: &str) -> Result<Vec<InputEntry>, OptionError> {
    InputReader::new(text.as_bytes()).collect()
}

/// Reads an input file one entry at a time, holding only the entry being
/// read: `--deferred-input`, for a mirror operator's list of millions of
/// lines, reads the next entry only when the queue needs a download. The
/// same rules as [`parse_input_file`] (which is this reader run to the
/// end); a line that is not UTF-8 is read lossily.
pub struct InputReader<R> {
    source: R,
    line_no: usize,
    /// The entry whose option lines are being read.
    current: Option<InputEntry>,
    line: Vec<u8>,
    done: bool,
}

impl<R: std::io::BufRead> InputReader<R> {
    pub fn new(source: R) -> Self {
        InputReader {
            source,
            line_no: 0,
            current: None,
            line: Vec::new(),
            done: false,
        }
    }

    /// The next line, without its end; `None` at the end (a read error
    /// ends the file, as a short read would).
    fn next_line(&mut self) -> Option<String> {
        self.line.clear();
        match self.source.read_until(b'\n', &mut self.line) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                self.line_no += 1;
                let mut bytes: &[u8] = &self.line;
                if self.line_no == 1 {
                    bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
                }
                let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
                let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
        }
    }
}

impl<R: std::io::BufRead> Iterator for InputReader<R> {
    type Item = Result<InputEntry, OptionError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        while let Some(line) = self.next_line() {
            let line_no = self.line_no;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                let Some(entry) = self.current.as_mut() else {
                    self.done = true;
                    return Some(Err(OptionError::Syntax {
                        detail: "option line without a preceding URI line".into(),
                    }
                    .at_line(line_no)));
                };
                let (name, value) = match trimmed.split_once('=') {
                    Some((n, v)) => (n.trim(), v.trim()),
                    None => (trimmed, ""),
                };
                if find_option(name).is_none() {
                    entry.unknown.push(line.clone());
                    continue;
                }
                match validate_pair(name, value) {
                    // aria2 reads every option of the entry but gives the
                    // download only those it allows per download
                    // (`load-cookies`, `check-certificate`, `-j` are the
                    // run's): the others are dropped without a word.
                    Ok(_) if !find_option(name).is_some_and(|d| d.per_download()) => {}
                    Ok(value) => entry.options.push((name.to_string(), value)),
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e.at_line(line_no)));
                    }
                }
            } else {
                let uris: Vec<String> = line
                    .split('\t')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .collect();
                let next = InputEntry {
                    uris,
                    line: line_no,
                    ..InputEntry::default()
                };
                if let Some(done) = self.current.replace(next) {
                    return Some(Ok(done));
                }
            }
        }
        self.done = true;
        self.current.take().map(Ok)
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

        // The run's options: valid, but not the download's (aria2 drops
        // them silently).
        let e =
            parse_input_file("http://a\n  max-concurrent-downloads=1\n  check-certificate=false\n")
                .unwrap();
        assert!(e[0].options.is_empty() && e[0].unknown.is_empty());

        let e = parse_input_file("http://a\n\n  split=99999999999999999999\n").unwrap_err();
        assert_eq!(e.line(), Some(3));
        assert!(matches!(
            e.root(),
            OptionError::InvalidValue { name: "split", .. }
        ));

        assert!(parse_input_file("http://a\n  gid=xyz\n").is_err());
        assert!(parse_input_file("http://a\n  help\n").is_err());
    }

    #[test]
    fn reader_yields_an_entry_once_the_next_uri_line_is_read() {
        struct Lines<'a>(&'a [&'a str], usize, std::rc::Rc<std::cell::Cell<usize>>);
        impl std::io::Read for Lines<'_> {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                unreachable!("read through BufRead")
            }
        }
        impl std::io::BufRead for Lines<'_> {
            fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
                Ok(self.0.get(self.1).map_or(&[][..], |l| l.as_bytes()))
            }
            fn consume(&mut self, _: usize) {
                self.1 += 1;
                self.2.set(self.1);
            }
        }
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let lines = ["http://a/1\n", "  out=x\n", "http://a/2\n", "http://a/3\n"];
        let mut r = InputReader::new(Lines(&lines, 0, read.clone()));
        let first = r.next().unwrap().unwrap();
        assert_eq!(first.options, vec![("out".to_string(), "x".to_string())]);
        assert_eq!(read.get(), 3, "only up to the next URI line");
        assert_eq!(r.next().unwrap().unwrap().uris, ["http://a/2"]);
        assert_eq!(r.next().unwrap().unwrap().uris, ["http://a/3"]);
        assert!(r.next().is_none());
    }
}
