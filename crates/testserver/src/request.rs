//! Request-head parsing and the record of what clients sent.

/// Requests whose head exceeds this are answered 431 and the connection closed.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// How much of a request body is kept in [`RecordedRequest::body`].
pub(crate) const MAX_RECORDED_BODY: usize = 64 * 1024;

/// One request as the server saw it, kept so tests can assert on what the
/// client asked for (ranges, conditional headers, cookies, credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Which accepted connection carried it (counts from 0), to assert keep-alive reuse.
    pub connection: u64,
    /// Method as sent (`GET`, `HEAD`, …).
    pub method: String,
    /// The request target exactly as sent (may include a query).
    pub target: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub version: u8,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, truncated to 64 KiB.
    pub body: Vec<u8>,
    /// Its bytes were already waiting when the answer to the connection's
    /// previous request had been sent: the client pipelined it.
    pub pipelined: bool,
}

impl RecordedRequest {
    /// First value of a header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// The `Range` header, the field tests look at most.
    pub fn range(&self) -> Option<&str> {
        self.header("range")
    }
}

pub(crate) fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    pub version: u8,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// Path without query or fragment; absolute-form targets lose scheme and authority.
    pub fn path(&self) -> &str {
        request_path(&self.target)
    }

    /// Declared body length; `Err` for a malformed or chunked body (the
    /// connection is then closed after answering, since framing is unknown).
    pub fn body_length(&self) -> Result<u64, ()> {
        if self.header("transfer-encoding").is_some() {
            return Err(());
        }
        match self.header("content-length") {
            None => Ok(0),
            Some(v) => v.trim().parse().map_err(|_| ()),
        }
    }

    /// Whether the client lets the connection stay open after this exchange.
    pub fn wants_keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        let has = |tok: &str| conn.split(',').any(|t| t.trim() == tok);
        if self.version == 0 {
            has("keep-alive")
        } else {
            !has("close")
        }
    }
}

/// Path of a request target: `/a/b?x` → `/a/b`, `http://h:1/a` → `/a`.
pub(crate) fn request_path(target: &str) -> &str {
    let mut t = target;
    if let Some(pos) = t.find("://") {
        let after = &t[pos + 3..];
        t = after.find('/').map_or("/", |i| &after[i..]);
    }
    let end = t.find(['?', '#']).unwrap_or(t.len());
    &t[..end]
}

/// Parses a request head at the start of `buf`.
///
/// `Ok(None)` means more bytes are needed; `Ok(Some((head, n)))` means the
/// head occupies `buf[..n]` and any following bytes belong to the body or
/// to a pipelined request.
pub(crate) fn parse_request_head(
    buf: &[u8],
) -> Result<Option<(RequestHead, usize)>, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf)? {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(n) => {
            let head = RequestHead {
                method: req.method.unwrap_or("").to_owned(),
                target: req.path.unwrap_or("").to_owned(),
                version: req.version.unwrap_or(1),
                headers: req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect(),
            };
            Ok(Some((head, n)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pipelined_heads() {
        let buf =
            b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\nGET /b HTTP/1.0\r\n\r\n";
        let (h, n) = parse_request_head(buf).unwrap().unwrap();
        assert_eq!(h.path(), "/a");
        assert_eq!(h.header("RANGE"), Some("bytes=0-1"));
        assert!(h.wants_keep_alive());
        let (h2, n2) = parse_request_head(&buf[n..]).unwrap().unwrap();
        assert_eq!(h2.target, "/b");
        assert!(!h2.wants_keep_alive());
        assert_eq!(n + n2, buf.len());
        assert_eq!(parse_request_head(b"GET / HTTP/1.1\r\nHo").unwrap(), None);
        assert!(parse_request_head(b"\x00\x01junk\r\n\r\n").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(request_path("http://127.0.0.1:5/x/y?q"), "/x/y");
        assert_eq!(request_path("https://h"), "/");
        assert_eq!(request_path("/f#frag"), "/f");
    }
}
