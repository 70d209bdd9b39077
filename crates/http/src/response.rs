//! Parsing HTTP/1.x response heads and interpreting their header fields.

use std::time::{Duration, SystemTime};

use crate::content_disposition;
use crate::date::parse_http_date;
use crate::error::HttpError;

/// Largest response head accepted, status line and terminating empty line
/// included. Real servers stay far below; the bound keeps a hostile server
/// from making us buffer without end.
pub const MAX_HEAD_SIZE: usize = 64 * 1024;
/// Largest number of header fields accepted in one response.
pub const MAX_HEADERS: usize = 100;

/// A parsed status line and header fields.
///
/// Header values are kept as bytes because servers send Latin-1 and raw
/// UTF-8 in `Content-Disposition` and `Location`; the typed accessors decide
/// how to decode each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Status code.
    pub status: u16,
    /// Reason phrase (lossily decoded; informational only).
    pub reason: String,
    /// Header fields in arrival order with their original name case.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// The content coding a response body uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No coding (or `identity`).
    Identity,
    /// `gzip` / `x-gzip`.
    Gzip,
    /// `deflate` (zlib-wrapped or, from broken servers, raw).
    Deflate,
    /// Anything else, or several stacked codings: the body cannot be decoded
    /// here and should be stored as sent.
    Unsupported,
}

/// A parsed `Content-Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes start-end/total` (`total` is `None` for `/*`); `end` is
    /// inclusive.
    Bytes {
        /// First byte position.
        start: u64,
        /// Last byte position, inclusive.
        end: u64,
        /// Complete length of the representation, if known.
        total: Option<u64>,
    },
    /// `bytes */total`, sent with 416 Range Not Satisfiable.
    Unsatisfied {
        /// Complete length of the representation.
        total: u64,
    },
}

/// The header's own text (`bytes 0-99/100`), for error messages.
impl std::fmt::Display for ContentRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContentRange::Bytes {
                start,
                end,
                total: Some(t),
            } => write!(f, "bytes {start}-{end}/{t}"),
            ContentRange::Bytes {
                start,
                end,
                total: None,
            } => write!(f, "bytes {start}-{end}/*"),
            ContentRange::Unsatisfied { total } => write!(f, "bytes */{total}"),
        }
    }
}

/// Parses a response head at the start of `buf`.
///
/// Returns `Ok(None)` while the head is incomplete, or the head and the
/// number of bytes it occupied; the body (or a pipelined response) follows.
pub fn parse_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, HttpError> {
    let window = &buf[..buf.len().min(MAX_HEAD_SIZE)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let status = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .parse_response(&mut resp, window)
        .map_err(map_httparse_error)?;
    let consumed = match status {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial if buf.len() >= MAX_HEAD_SIZE => {
            return Err(HttpError::HeaderTooLarge {
                limit: MAX_HEAD_SIZE,
            })
        }
        httparse::Status::Partial => return Ok(None),
    };
    let version = resp.version.ok_or(HttpError::BadHead("missing version"))?;
    let status = resp.code.ok_or(HttpError::BadHead("missing status"))?;
    if !(100..=999).contains(&status) {
        return Err(HttpError::BadHead("status code out of range"));
    }
    let headers = resp
        .headers
        .iter()
        .map(|h| {
            // Unfold obs-fold continuation lines into single spaces.
            let value = h
                .value
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            (h.name.to_owned(), value)
        })
        .collect();
    let head = ResponseHead {
        version,
        status,
        reason: String::from_utf8_lossy(resp.reason.unwrap_or("").as_bytes()).into_owned(),
        headers,
    };
    Ok(Some((head, consumed)))
}

fn map_httparse_error(e: httparse::Error) -> HttpError {
    match e {
        httparse::Error::TooManyHeaders => HttpError::TooManyHeaders,
        httparse::Error::HeaderName => HttpError::BadHead("invalid header name"),
        httparse::Error::HeaderValue => HttpError::BadHead("invalid header value"),
        httparse::Error::NewLine => HttpError::BadHead("invalid line ending"),
        httparse::Error::Status => HttpError::BadHead("invalid status line"),
        httparse::Error::Token => HttpError::BadHead("invalid token"),
        httparse::Error::Version => HttpError::BadHead("not an HTTP/1.x response"),
    }
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 20 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

impl ResponseHead {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of header `name`, in order.
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The comma-separated list elements of every `name` field, trimmed.
    fn list_elements<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers_all(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim_ows)
            .filter(|e| !e.is_empty())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.list_elements(name)
            .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether the status is a redirect that carries a `Location` to follow.
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }

    /// The declared body length.
    ///
    /// Repeated fields, or a comma list like `5, 5`, are accepted only when
    /// every value is the same number (RFC 7230 §3.3.2); anything else is an
    /// error because it is how request smuggling and response splitting
    /// look.
    pub fn content_length(&self) -> Result<Option<u64>, HttpError> {
        let mut found: Option<u64> = None;
        let mut any = false;
        for value in self.headers_all("content-length") {
            any = true;
            for elem in value.split(|&b| b == b',') {
                let n = parse_u64(trim_ows(elem)).ok_or(HttpError::BadContentLength)?;
                match found {
                    Some(prev) if prev != n => return Err(HttpError::BadContentLength),
                    _ => found = Some(n),
                }
            }
        }
        if any && found.is_none() {
            return Err(HttpError::BadContentLength);
        }
        Ok(found)
    }

    /// The parsed `Content-Range`, validated so that `start <= end < total`.
    pub fn content_range(&self) -> Result<Option<ContentRange>, HttpError> {
        let Some(raw) = self.header("content-range") else {
            return Ok(None);
        };
        parse_content_range(trim_ows(raw))
            .map(Some)
            .ok_or(HttpError::BadContentRange)
    }

    /// Whether the final transfer coding is `chunked`.
    pub fn is_chunked(&self) -> bool {
        self.list_elements("transfer-encoding")
            .last()
            .is_some_and(|e| e.eq_ignore_ascii_case(b"chunked"))
    }

    /// Whether any `Transfer-Encoding` field is present.
    pub fn has_transfer_encoding(&self) -> bool {
        self.header("transfer-encoding").is_some()
    }

    /// The content coding to undo after de-chunking.
    pub fn content_encoding(&self) -> Encoding {
        let mut result = Encoding::Identity;
        for coding in self.list_elements("content-encoding") {
            let this = if coding.eq_ignore_ascii_case(b"identity") {
                continue;
            } else if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip")
            {
                Encoding::Gzip
            } else if coding.eq_ignore_ascii_case(b"deflate") {
                Encoding::Deflate
            } else {
                return Encoding::Unsupported;
            };
            if result != Encoding::Identity {
                return Encoding::Unsupported;
            }
            result = this;
        }
        result
    }

    /// The `Location` value as a string. Raw non-ASCII bytes (which some
    /// servers send) are percent-encoded so the URL parser accepts them.
    pub fn location(&self) -> Option<String> {
        let raw = trim_ows(self.header("location")?);
        if raw.is_empty() {
            return None;
        }
        let mut s = String::with_capacity(raw.len());
        for &b in raw {
            if b.is_ascii() && !b.is_ascii_control() {
                s.push(char::from(b));
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        Some(s)
    }

    /// Whether the connection may be reused after this response: HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with `Connection:
    /// keep-alive`.
    pub fn keep_alive(&self) -> bool {
        if self.has_token("connection", "close") {
            return false;
        }
        self.version >= 1 || self.has_token("connection", "keep-alive")
    }

    /// Whether the server advertises byte ranges (`Accept-Ranges: bytes`).
    /// A 206 answer proves it too; aria2 checks that separately.
    pub fn accepts_ranges(&self) -> bool {
        self.has_token("accept-ranges", "bytes")
    }

    /// `Last-Modified` as a time, for `--remote-time` and conditional GET.
    pub fn last_modified(&self) -> Option<SystemTime> {
        parse_http_date(self.header("last-modified")?)
    }

    /// Raw `Set-Cookie` values, for [`crate::CookieJar::store_set_cookie`].
    pub fn set_cookies(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.headers_all("set-cookie")
    }

    /// A safe bare file name from `Content-Disposition`, if any.
    /// `default_utf8`: `--content-disposition-default-utf8`.
    pub fn content_disposition_filename(&self, default_utf8: bool) -> Option<String> {
        content_disposition::filename(self.header("content-disposition")?, default_utf8)
    }

    /// How long to wait before retrying (`Retry-After` as seconds or as a
    /// date relative to `now`); a past date yields zero.
    pub fn retry_after(&self, now: SystemTime) -> Option<Duration> {
        let raw = trim_ows(self.header("retry-after")?);
        if let Some(secs) = parse_u64(raw) {
            return Some(Duration::from_secs(secs));
        }
        let at = parse_http_date(raw)?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// Raw `WWW-Authenticate` challenges.
    pub fn www_authenticate(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.headers_all("www-authenticate")
    }

    /// Raw `Proxy-Authenticate` challenges.
    pub fn proxy_authenticate(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.headers_all("proxy-authenticate")
    }

    /// Whether a `WWW-Authenticate` challenge offers the Basic scheme — the
    /// only one aria2 answers.
    pub fn offers_basic_auth(&self) -> bool {
        self.www_authenticate().any(|c| {
            let c = trim_ows(c);
            c.len() >= 5
                && c[..5].eq_ignore_ascii_case(b"basic")
                && c.get(5).is_none_or(|b| *b == b' ' || *b == b',')
        })
    }
}

fn parse_content_range(v: &[u8]) -> Option<ContentRange> {
    let unit_len = v.iter().position(|&b| b == b' ' || b == b'=')?;
    let (unit, rest) = v.split_at(unit_len);
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let rest = trim_ows(rest.get(1..)?);
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (range, total) = (trim_ows(&rest[..slash]), trim_ows(&rest[slash + 1..]));
    let total = if total == b"*" {
        None
    } else {
        Some(parse_u64(total)?)
    };
    if range == b"*" {
        return Some(ContentRange::Unsatisfied { total: total? });
    }
    let dash = range.iter().position(|&b| b == b'-')?;
    let start = parse_u64(trim_ows(&range[..dash]))?;
    let end = parse_u64(trim_ows(&range[dash + 1..]))?;
    if start > end || total.is_some_and(|t| end >= t) {
        return None;
    }
    Some(ContentRange::Bytes { start, end, total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn head(raw: &str) -> ResponseHead {
        let (h, n) = parse_head(raw.as_bytes()).unwrap().unwrap();
        assert_eq!(n, raw.len());
        h
    }

    #[test]
    fn parses_and_reports_consumed() {
        let raw = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nX: y\r\n\r\nBODY";
        let (h, n) = parse_head(raw).unwrap().unwrap();
        assert_eq!(&raw[n..], b"BODY");
        assert_eq!(
            (h.version, h.status, h.reason.as_str()),
            (1, 206, "Partial Content")
        );
        assert_eq!(h.header("content-LENGTH"), Some(&b"10"[..]));
        assert_eq!(h.content_length().unwrap(), Some(10));
        for cut in 0..raw.len() - 4 {
            assert!(parse_head(&raw[..cut]).unwrap().is_none(), "cut {cut}");
        }
    }

    #[test]
    fn bad_heads() {
        assert!(matches!(
            parse_head(b"HTTP/2 200 OK\r\n\r\n"),
            Err(HttpError::BadHead(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 20 OK\r\n\r\n"),
            Err(HttpError::BadHead(_))
        ));
        assert!(matches!(
            parse_head(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(HttpError::BadHead(_))
        ));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n").is_err());
        let mut many = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..150 {
            many.push_str(&format!("X-{i}: v\r\n"));
        }
        many.push_str("\r\n");
        assert!(matches!(
            parse_head(many.as_bytes()),
            Err(HttpError::TooManyHeaders)
        ));
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.resize(MAX_HEAD_SIZE + 10, b'a');
        assert!(matches!(
            parse_head(&big),
            Err(HttpError::HeaderTooLarge { .. })
        ));
        // Exactly at the limit but incomplete is also too large.
        big.truncate(MAX_HEAD_SIZE);
        assert!(matches!(
            parse_head(&big),
            Err(HttpError::HeaderTooLarge { .. })
        ));
        big.truncate(MAX_HEAD_SIZE - 1);
        assert!(parse_head(&big).unwrap().is_none());
    }

    #[test]
    fn lenient_forms() {
        let h = head("HTTP/1.0 200\r\nX-Folded: a\r\n b\r\nLatin: caf\u{e9}\r\n\r\n");
        assert_eq!(h.version, 0);
        assert_eq!(h.reason, "");
        assert_eq!(h.header("x-folded"), Some(&b"a   b"[..]));
        let (h, n) = parse_head(b"HTTP/1.1 301 Moved\nLocation: /x\n\nrest")
            .unwrap()
            .unwrap();
        assert_eq!((h.status, n), (301, 33));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n").is_err());
        assert!(parse_head(b"\0\0\0\0").is_err());
    }

    #[test]
    fn content_length_rules() {
        let cl = |v: &str| head(&format!("HTTP/1.1 200 OK\r\n{v}\r\n")).content_length();
        assert_eq!(cl("").unwrap(), None);
        assert_eq!(cl("Content-Length: 0\r\n").unwrap(), Some(0));
        assert_eq!(cl("Content-Length:  42 \r\n").unwrap(), Some(42));
        assert_eq!(
            cl("Content-Length: 5\r\ncontent-length: 5\r\n").unwrap(),
            Some(5)
        );
        assert_eq!(cl("Content-Length: 5, 5\r\n").unwrap(), Some(5));
        assert_eq!(
            cl("Content-Length: 18446744073709551615\r\n").unwrap(),
            Some(u64::MAX)
        );
        for bad in [
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: -1\r\n",
            "Content-Length: +5\r\n",
            "Content-Length: 0x10\r\n",
            "Content-Length: \r\n",
            "Content-Length: 5,\r\n",
            "Content-Length: 18446744073709551616\r\n",
            "Content-Length: 99999999999999999999999\r\n",
        ] {
            assert!(cl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_range_forms() {
        let cr = |v: &str| {
            head(&format!("HTTP/1.1 206 OK\r\nContent-Range: {v}\r\n\r\n")).content_range()
        };
        assert_eq!(
            cr("bytes 0-99/1000").unwrap(),
            Some(ContentRange::Bytes {
                start: 0,
                end: 99,
                total: Some(1000)
            })
        );
        assert_eq!(
            cr("bytes 5-5/*").unwrap(),
            Some(ContentRange::Bytes {
                start: 5,
                end: 5,
                total: None
            })
        );
        assert_eq!(
            cr("bytes */1000").unwrap(),
            Some(ContentRange::Unsatisfied { total: 1000 })
        );
        assert_eq!(
            cr("BYTES 1 - 2 / 3").unwrap(),
            Some(ContentRange::Bytes {
                start: 1,
                end: 2,
                total: Some(3)
            })
        );
        assert_eq!(
            cr("bytes=0-0/1").unwrap(),
            Some(ContentRange::Bytes {
                start: 0,
                end: 0,
                total: Some(1)
            })
        );
        for bad in [
            "bytes 5-4/10",
            "bytes 0-10/10",
            "bytes */*",
            "items 0-1/2",
            "bytes 0-1",
            "bytes -1/2",
            "bytes",
            "",
            "bytes 0-99999999999999999999/1",
        ] {
            assert!(cr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_semantics() {
        assert!(head("HTTP/1.1 200 OK\r\n\r\n").keep_alive());
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n").keep_alive());
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\n\r\n").keep_alive());
        assert!(!head("HTTP/1.0 200 OK\r\n\r\n").keep_alive());
        assert!(head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
    }

    #[test]
    fn codings() {
        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n",
        );
        assert!(h.is_chunked());
        assert!(!head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").is_chunked());
        let enc = |v: &str| {
            head(&format!("HTTP/1.1 200 OK\r\nContent-Encoding: {v}\r\n\r\n")).content_encoding()
        };
        assert_eq!(enc("gzip"), Encoding::Gzip);
        assert_eq!(enc("X-GZIP"), Encoding::Gzip);
        assert_eq!(enc("deflate"), Encoding::Deflate);
        assert_eq!(enc("identity"), Encoding::Identity);
        assert_eq!(enc("br"), Encoding::Unsupported);
        assert_eq!(enc("gzip, gzip"), Encoding::Unsupported);
        assert_eq!(
            head("HTTP/1.1 200 OK\r\n\r\n").content_encoding(),
            Encoding::Identity
        );
    }

    #[test]
    fn misc_accessors() {
        let h = head(
            "HTTP/1.1 302 Found\r\nLocation: /caf\u{e9} x\r\nAccept-Ranges: none, Bytes\r\n\
             Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\
             Retry-After: 120\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\
             Content-Disposition: attachment; filename=\"../r.txt\"\r\n\r\n",
        );
        assert!(h.is_redirect());
        assert_eq!(h.location().unwrap(), "/caf%C3%A9 x");
        assert!(h.accepts_ranges());
        assert_eq!(
            h.last_modified(),
            Some(UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(
            h.set_cookies().collect::<Vec<_>>(),
            vec![&b"a=1"[..], b"b=2"]
        );
        assert_eq!(h.retry_after(UNIX_EPOCH), Some(Duration::from_secs(120)));
        assert!(h.offers_basic_auth());
        assert_eq!(
            h.content_disposition_filename(false).as_deref(),
            Some("r.txt")
        );
        let now = UNIX_EPOCH + Duration::from_secs(784_111_700);
        let h = head("HTTP/1.1 503 x\r\nRetry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\nWWW-Authenticate: Basically\r\n\r\n");
        assert_eq!(h.retry_after(now), Some(Duration::from_secs(77)));
        assert!(!h.offers_basic_auth());
        assert!(!h.accepts_ranges());
        assert!(h.location().is_none());
    }
}
