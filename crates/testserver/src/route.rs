//! What the server does for one path: the body, its headers, and the faults
//! to inject. Built with chained methods so a test reads as a sentence:
//! `Route::new(body).chunked().throttle(1 << 20).truncate_after(1000)`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where a route's bytes come from.
#[derive(Debug, Clone)]
pub enum Body {
    /// Held in memory and shared between connections without copying.
    Bytes(Arc<Vec<u8>>),
    /// Read from disk at request time with positional reads, so large files
    /// cost no memory and edits between requests are seen.
    File(PathBuf),
}

/// Fixed `Last-Modified` default so tests don't depend on the clock
/// (2020-09-13T12:26:40Z).
pub const DEFAULT_LAST_MODIFIED: u64 = 1_600_000_000;

/// How `Last-Modified` is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastModified {
    /// File mtime for file bodies, [`DEFAULT_LAST_MODIFIED`] for memory bodies.
    Default,
    At(u64),
    Omitted,
}

/// Full behaviour of one path. See the builder methods for each knob.
#[derive(Debug, Clone)]
pub struct Route {
    pub(crate) body: Body,
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) no_range: bool,
    pub(crate) chunked: bool,
    pub(crate) gzip: bool,
    pub(crate) deflate: bool,
    pub(crate) redirect: Option<(String, u16)>,
    pub(crate) basic_auth: Option<(String, String)>,
    pub(crate) set_cookies: Vec<String>,
    pub(crate) require_cookie: Option<String>,
    pub(crate) content_disposition: Option<String>,
    pub(crate) retry_after: Option<u64>,
    pub(crate) throttle: Option<u64>,
    pub(crate) first_byte_delay: Option<Duration>,
    pub(crate) truncate_after: Option<u64>,
    pub(crate) reset_after: Option<u64>,
    pub(crate) lie_content_length: Option<i64>,
    pub(crate) wrong_content_range: bool,
    pub(crate) shrink_after_first: Option<u64>,
    pub(crate) garbage_headers: bool,
    pub(crate) fail_first_n: Option<(u64, u16)>,
    pub(crate) close_after_each_response: bool,
    pub(crate) no_content_length: bool,
    pub(crate) last_modified: LastModified,
    pub(crate) etag: bool,
}

impl Route {
    /// A 200 route serving `body` with Range support, `Last-Modified`,
    /// `ETag` and keep-alive: the well-behaved server every fault departs from.
    pub fn new(body: impl Into<Vec<u8>>) -> Route {
        Route::with_body(Body::Bytes(Arc::new(body.into())))
    }

    /// Like [`Route::new`] but shares an existing buffer (no copy of a 256 MiB body per route).
    pub fn shared(body: Arc<Vec<u8>>) -> Route {
        Route::with_body(Body::Bytes(body))
    }

    /// Serves a file from disk, read per request; its mtime becomes `Last-Modified`.
    pub fn file(path: impl Into<PathBuf>) -> Route {
        Route::with_body(Body::File(path.into()))
    }

    fn with_body(body: Body) -> Route {
        Route {
            body,
            status: 200,
            content_type: "application/octet-stream".into(),
            headers: Vec::new(),
            no_range: false,
            chunked: false,
            gzip: false,
            deflate: false,
            redirect: None,
            basic_auth: None,
            set_cookies: Vec::new(),
            require_cookie: None,
            content_disposition: None,
            retry_after: None,
            throttle: None,
            first_byte_delay: None,
            truncate_after: None,
            reset_after: None,
            lie_content_length: None,
            wrong_content_range: false,
            shrink_after_first: None,
            garbage_headers: false,
            fail_first_n: None,
            close_after_each_response: false,
            no_content_length: false,
            last_modified: LastModified::Default,
            etag: true,
        }
    }

    /// A redirect (301, 302, 303, 307 or 308) to `location`, sent verbatim so
    /// relative, absolute and looping targets can all be tested.
    pub fn redirect_to(location: &str, status: u16) -> Route {
        Route::new(Vec::new()).redirect(location, status)
    }

    /// Turns this route into a redirect; the other settings (auth, cookies,
    /// `fail_first_n`) still apply before it.
    pub fn redirect(mut self, location: &str, status: u16) -> Route {
        self.redirect = Some((location.to_owned(), status));
        self
    }

    /// Answers with `code` and the body as an error page, never honouring Range.
    pub fn status(mut self, code: u16) -> Route {
        self.status = code;
        self
    }

    /// Adds `Retry-After: secs` to error answers (503 from `status` or `fail_first_n`).
    pub fn retry_after(mut self, secs: u64) -> Route {
        self.retry_after = Some(secs);
        self
    }

    /// Any extra response header.
    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `Content-Type` of the body (default `application/octet-stream`).
    pub fn content_type(mut self, value: &str) -> Route {
        self.content_type = value.to_owned();
        self
    }

    /// Ignores `Range` and omits `Accept-Ranges`, answering 200 with the
    /// whole body like `python3 -m http.server`.
    pub fn no_range(mut self) -> Route {
        self.no_range = true;
        self
    }

    /// Frames the body with `Transfer-Encoding: chunked` in chunks of varied sizes
    /// (1 byte up to 32 KiB) so decoders meet chunk boundaries everywhere.
    pub fn chunked(mut self) -> Route {
        self.chunked = true;
        self
    }

    /// `Content-Encoding: gzip` when the request accepts gzip (then 200 full, no Range).
    pub fn gzip(mut self) -> Route {
        self.gzip = true;
        self
    }

    /// `Content-Encoding: deflate` (zlib-wrapped, as HTTP means it) when accepted.
    pub fn deflate(mut self) -> Route {
        self.deflate = true;
        self
    }

    /// 401 with `WWW-Authenticate: Basic` unless the request carries these credentials.
    pub fn basic_auth(mut self, user: &str, pass: &str) -> Route {
        self.basic_auth = Some((user.to_owned(), pass.to_owned()));
        self
    }

    /// Adds one `Set-Cookie` line (verbatim) to every answer.
    pub fn set_cookie(mut self, line: &str) -> Route {
        self.set_cookies.push(line.to_owned());
        self
    }

    /// 403 unless the `Cookie` header carries exactly this `name=value` pair.
    pub fn require_cookie(mut self, pair: &str) -> Route {
        self.require_cookie = Some(pair.to_owned());
        self
    }

    /// `Content-Disposition` header, verbatim (for `filename=` / `filename*=` tests).
    pub fn content_disposition(mut self, value: &str) -> Route {
        self.content_disposition = Some(value.to_owned());
        self
    }

    /// Caps this route's body rate; the lower of this and the server-wide
    /// throttle applies. Sleeps are ~20 ms apart so a killed client stops mid-body.
    pub fn throttle(mut self, bytes_per_sec: u64) -> Route {
        self.throttle = Some(bytes_per_sec);
        self
    }

    /// Waits before the status line, for connect/first-byte timeout tests.
    pub fn first_byte_delay(mut self, delay: Duration) -> Route {
        self.first_byte_delay = Some(delay);
        self
    }

    /// Headers promise the full length, then the connection closes (FIN, and
    /// no TLS close_notify) after `n` body bytes.
    pub fn truncate_after(mut self, n: u64) -> Route {
        self.truncate_after = Some(n);
        self
    }

    /// After `n` body bytes the socket is closed with `SO_LINGER 0`, so the client sees RST.
    pub fn reset_after(mut self, n: u64) -> Route {
        self.reset_after = Some(n);
        self
    }

    /// `Content-Length` is off by `delta` from the bytes sent (the whole body
    /// is sent either way), then the connection closes.
    pub fn lie_content_length(mut self, delta: i64) -> Route {
        self.lie_content_length = Some(delta);
        self
    }

    /// Range requests get a 206 for a different span than asked (shifted to
    /// start at 0, or at 1 when 0 was asked), with a truthful `Content-Range`.
    pub fn wrong_content_range(mut self) -> Route {
        self.wrong_content_range = true;
        self
    }

    /// Every request after the first sees the body cut to `len` bytes: a
    /// file replaced by a shorter one while a download of it runs.
    pub fn shrink_after_first(mut self, len: u64) -> Route {
        self.shrink_after_first = Some(len);
        self
    }

    /// Answers with bytes that are not HTTP at all, then closes.
    pub fn garbage_headers(mut self) -> Route {
        self.garbage_headers = true;
        self
    }

    /// The first `n` requests for this path get `status` (e.g. 503); later ones succeed.
    pub fn fail_first_n(mut self, n: u64, status: u16) -> Route {
        self.fail_first_n = Some((n, status));
        self
    }

    /// `Connection: close` on every answer, then close: no keep-alive.
    pub fn close_after_each_response(mut self) -> Route {
        self.close_after_each_response = true;
        self
    }

    /// No `Content-Length` and no chunking: the body ends at connection close (HTTP/1.0 style).
    pub fn no_content_length(mut self) -> Route {
        self.no_content_length = true;
        self
    }

    /// `Last-Modified` as Unix seconds (file routes default to the file's mtime).
    pub fn last_modified(mut self, unix_secs: u64) -> Route {
        self.last_modified = LastModified::At(unix_secs);
        self
    }

    /// Sends neither `Last-Modified` nor `ETag` and ignores conditional headers.
    pub fn no_validators(mut self) -> Route {
        self.last_modified = LastModified::Omitted;
        self.etag = false;
        self
    }
}
