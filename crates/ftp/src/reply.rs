//! Streaming parser for FTP control-connection replies (RFC 959 §4.2).
//!
//! Bytes arrive from the socket in arbitrary pieces; [`ReplyParser`] buffers
//! them and hands out whole [`Reply`] values. Line and reply sizes are capped
//! so that a hostile server cannot make us buffer without bound.

use crate::error::FtpError;

/// Default cap on one reply line; real servers stay far below this.
pub const DEFAULT_MAX_LINE: usize = 8 * 1024;
/// Default cap on a whole multi-line reply (FEAT and HELP lists are the
/// longest seen in practice, a few KiB).
pub const DEFAULT_MAX_REPLY: usize = 64 * 1024;

/// One complete server reply: the three-digit code and its text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code, 100..=599.
    pub code: u16,
    /// Text of each line with the code prefix and line ending removed. For a
    /// multi-line reply, inner lines are kept verbatim (they may start with a
    /// space or even with other digits).
    pub lines: Vec<String>,
}

impl Reply {
    /// Builds a single-line reply; handy for tests and for the session.
    pub fn new(code: u16, text: &str) -> Self {
        Reply {
            code,
            lines: vec![text.to_owned()],
        }
    }

    /// 1yz: the command started; another reply follows.
    pub fn is_preliminary(&self) -> bool {
        self.code / 100 == 1
    }
    /// 2yz: the command completed.
    pub fn is_completion(&self) -> bool {
        self.code / 100 == 2
    }
    /// 3yz: the command needs a follow-up (PASS after USER, RETR after REST).
    pub fn is_intermediate(&self) -> bool {
        self.code / 100 == 3
    }
    /// 4yz or 5yz: the command failed.
    pub fn is_negative(&self) -> bool {
        self.code >= 400
    }

    /// The text of the first line, which carries the payload for single-line
    /// replies (227, 229, 213, 257).
    pub fn first_line(&self) -> &str {
        self.lines.first().map(String::as_str).unwrap_or("")
    }

    /// All lines joined with `\n`, for error messages and logs.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// Incremental reply parser: [`push`](Self::push) bytes, then call
/// [`next_reply`](Self::next_reply) until it yields `Ok(None)`.
///
/// After an error the stream cannot be trusted; drop the connection.
#[derive(Debug)]
pub struct ReplyParser {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed as lines.
    pos: usize,
    max_line: usize,
    max_reply: usize,
    /// A multi-line reply in progress: its code, lines so far, bytes so far.
    open: Option<(u16, Vec<String>, usize)>,
}

impl Default for ReplyParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyParser {
    /// A parser with the default limits.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_LINE, DEFAULT_MAX_REPLY)
    }

    /// A parser with explicit limits on one line and on one whole reply.
    pub fn with_limits(max_line: usize, max_reply: usize) -> Self {
        ReplyParser {
            buf: Vec::new(),
            pos: 0,
            max_line: max_line.max(4),
            max_reply,
            open: None,
        }
    }

    /// Appends bytes read from the control connection.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes pushed but not yet consumed as complete lines.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// True while a multi-line reply has started but not finished.
    pub fn in_reply(&self) -> bool {
        self.open.is_some()
    }

    /// Returns the next complete reply, `Ok(None)` if more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, FtpError> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() > self.max_line {
                    return Err(FtpError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                return Ok(None);
            };
            if nl > self.max_line {
                return Err(FtpError::LineTooLong {
                    limit: self.max_line,
                });
            }
            let raw = rest.get(..nl).unwrap_or_default();
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line_len = nl + 1;
            let text = String::from_utf8_lossy(line).into_owned();
            self.pos += line_len;

            match self.open.take() {
                None => {
                    let (code, sep) = line_code(line).ok_or_else(|| FtpError::BadReplyLine {
                        line: truncate(&text),
                    })?;
                    let body = text.get(4..).unwrap_or("").to_owned();
                    if sep == b'-' {
                        if line_len > self.max_reply {
                            return Err(FtpError::ReplyTooLarge {
                                limit: self.max_reply,
                            });
                        }
                        self.open = Some((code, vec![body], line_len));
                    } else {
                        return Ok(Some(Reply {
                            code,
                            lines: vec![body],
                        }));
                    }
                }
                Some((code, mut lines, size)) => {
                    let size = size.saturating_add(line_len);
                    if size > self.max_reply {
                        return Err(FtpError::ReplyTooLarge {
                            limit: self.max_reply,
                        });
                    }
                    let ends = matches!(line_code(line), Some((c, b' ')) if c == code);
                    if ends {
                        lines.push(text.get(4..).unwrap_or("").to_owned());
                        return Ok(Some(Reply { code, lines }));
                    }
                    lines.push(text);
                    self.open = Some((code, lines, size));
                }
            }
        }
    }
}

/// Parses `ddd` + separator at the start of a line. A bare `ddd` counts as
/// a single-line reply with empty text (seen from some embedded servers).
fn line_code(line: &[u8]) -> Option<(u16, u8)> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    if !(100..600).contains(&code) {
        return None;
    }
    match line.get(3) {
        None => Some((code, b' ')),
        Some(&b' ') => Some((code, b' ')),
        Some(&b'-') => Some((code, b'-')),
        Some(_) => None,
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Result<Vec<Reply>, FtpError> {
        let mut p = ReplyParser::new();
        p.push(input);
        let mut out = Vec::new();
        while let Some(r) = p.next_reply()? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn single_line() {
        let r = all(b"220 Welcome\r\n").unwrap();
        assert_eq!(r, vec![Reply::new(220, "Welcome")]);
    }

    #[test]
    fn bare_lf_and_bare_code() {
        let r = all(b"200 ok\n226\r\n").unwrap();
        assert_eq!(r[0], Reply::new(200, "ok"));
        assert_eq!(r[1], Reply::new(226, ""));
    }

    #[test]
    fn multi_line_with_tricky_inner_lines() {
        let input =
            b"230-Welcome\r\n  indented\r\n230-still going\r\n123 other code\r\n230 done\r\n";
        let r = all(input).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].code, 230);
        assert_eq!(
            r[0].lines,
            vec![
                "Welcome",
                "  indented",
                "230-still going",
                "123 other code",
                "done"
            ]
        );
    }

    #[test]
    fn byte_at_a_time_matches_whole() {
        let input = b"211-Features:\r\n EPSV\r\n SIZE\r\n211 End\r\n220 x\r\n";
        let mut p = ReplyParser::new();
        let mut got = Vec::new();
        for b in input {
            p.push(std::slice::from_ref(b));
            while let Some(r) = p.next_reply().unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got, all(input).unwrap());
        assert_eq!(got.len(), 2);
        assert_eq!(p.buffered(), 0);
    }

    #[test]
    fn incomplete_waits() {
        let mut p = ReplyParser::new();
        p.push(b"230-a\r\n230 b");
        assert_eq!(p.next_reply().unwrap(), None);
        assert!(p.in_reply());
        p.push(b"\r\n");
        assert_eq!(p.next_reply().unwrap().unwrap().lines, vec!["a", "b"]);
    }

    #[test]
    fn hostile_input() {
        assert!(matches!(
            all(b"hello\r\n"),
            Err(FtpError::BadReplyLine { .. })
        ));
        assert!(matches!(
            all(b"20 x\r\n"),
            Err(FtpError::BadReplyLine { .. })
        ));
        assert!(matches!(
            all(b"999 x\r\n"),
            Err(FtpError::BadReplyLine { .. })
        ));
        assert!(matches!(
            all(b"200x\r\n"),
            Err(FtpError::BadReplyLine { .. })
        ));
        assert!(matches!(all(b"\r\n"), Err(FtpError::BadReplyLine { .. })));
        assert!(all(b"\xff\xfe\xfd \r\n").is_err());
        assert!(all(b"200 \xff\xfe\r\n").is_ok());

        let mut p = ReplyParser::with_limits(16, 64);
        p.push(&[b'2'; 17]);
        assert!(matches!(p.next_reply(), Err(FtpError::LineTooLong { .. })));

        let mut p = ReplyParser::with_limits(16, 64);
        p.push(b"200-");
        for _ in 0..20 {
            p.push(b"xxxxxxx\r\n");
        }
        assert!(matches!(
            p.next_reply(),
            Err(FtpError::ReplyTooLarge { .. })
        ));
    }

    #[test]
    fn long_stream_compacts_buffer() {
        let mut p = ReplyParser::new();
        for _ in 0..10_000 {
            p.push(b"200 ok\r\n");
            assert_eq!(p.next_reply().unwrap().unwrap().code, 200);
        }
        assert!(p.buf.len() < 64);
    }
}
