//! Building HTTP/1.1 request heads.
//!
//! Requests are encoded into one contiguous buffer so the connection can send
//! them with a single write. Header values that would let a caller (or a
//! hostile URL or cookie file) inject extra header lines are dropped rather
//! than sent.

use std::time::SystemTime;

use base64::Engine as _;
use url::Url;

use crate::date::format_http_date;

/// aria2's `Want-Digest` value: the digests it can check, strongest first.
pub const WANT_DIGEST: &str = "SHA-512;q=1, SHA-256;q=1, SHA;q=0.1";

/// The request methods a downloader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Fetch the resource.
    Get,
    /// Probe size, range support and file name without a body.
    Head,
}

impl Method {
    /// The method token as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// How a request travels through a plain (non-tunnelling) HTTP proxy.
///
/// With a proxy the request-target becomes the absolute URL (RFC 7230
/// §5.3.2) and credentials for the proxy go in `Proxy-Authorization`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyAuth {
    /// `(user, password)` for Basic proxy authentication, if any.
    pub credentials: Option<(String, String)>,
}

/// Everything that goes into one request head.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// GET or HEAD.
    pub method: Method,
    /// The resource; its user-info is used for Basic auth when `basic_auth`
    /// is `None`, as aria2 does for `http://user:pass@host/` URIs.
    pub url: Url,
    /// `Range: bytes=start-end` with an *inclusive* end, or `bytes=start-`.
    pub range: Option<(u64, Option<u64>)>,
    /// Extra `Name: value` pairs from `--header`. A pair whose name equals a
    /// built-in header replaces it, so users can override e.g. `Accept`.
    pub headers: Vec<(String, String)>,
    /// `User-Agent` value (`--user-agent`).
    pub user_agent: String,
    /// `Referer` value (`--referer`).
    pub referer: Option<String>,
    /// `(user, password)` for Basic authentication.
    pub basic_auth: Option<(String, String)>,
    /// A ready `Cookie` header value from the cookie jar.
    pub cookie: Option<String>,
    /// Send `Accept-Encoding: deflate, gzip` (`--http-accept-gzip`).
    pub accept_gzip: bool,
    /// Send `If-Modified-Since` (`--conditional-get`).
    pub if_modified_since: Option<SystemTime>,
    /// Ask to keep the connection open (`--enable-http-keep-alive`).
    pub keep_alive: bool,
    /// Send `Pragma`/`Cache-Control: no-cache` (`--http-no-cache`).
    pub no_cache: bool,
    /// Send aria2's `Want-Digest` (RFC 3230) so the server may answer with
    /// a `Digest` to check the file against; off with
    /// `--no-want-digest-header`.
    pub want_digest: bool,
    /// Send the request through a plain HTTP proxy in absolute form.
    pub via_proxy: Option<ProxyAuth>,
}

impl RequestSpec {
    /// A GET of `url` with aria2's defaults and no optional headers.
    pub fn new(method: Method, url: Url) -> Self {
        RequestSpec {
            method,
            url,
            range: None,
            headers: Vec::new(),
            user_agent: String::from(concat!("arietta/", env!("CARGO_PKG_VERSION"))),
            referer: None,
            basic_auth: None,
            cookie: None,
            accept_gzip: false,
            if_modified_since: None,
            keep_alive: true,
            no_cache: false,
            want_digest: false,
            via_proxy: None,
        }
    }

    /// The request-target: origin-form (`/path?query`) or, via a proxy,
    /// absolute-form without user-info or fragment.
    pub fn request_target(&self) -> String {
        if self.via_proxy.is_some() {
            let mut u = self.url.clone();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_fragment(None);
            return u.to_string();
        }
        let mut target = String::from(self.url.path());
        if target.is_empty() {
            target.push('/');
        }
        if let Some(q) = self.url.query() {
            target.push('?');
            target.push_str(q);
        }
        target
    }

    /// Encodes the request head, terminated by the empty line.
    pub fn encode(&self) -> Vec<u8> {
        let mut builtin: Vec<(&str, String)> = Vec::with_capacity(12);
        builtin.push(("User-Agent", self.user_agent.clone()));
        builtin.push(("Accept", String::from("*/*")));
        builtin.push(("Host", host_header(&self.url)));
        if self.accept_gzip {
            builtin.push(("Accept-Encoding", String::from("deflate, gzip")));
        }
        if self.no_cache {
            builtin.push(("Pragma", String::from("no-cache")));
            builtin.push(("Cache-Control", String::from("no-cache")));
        }
        let connection = if self.keep_alive {
            "keep-alive"
        } else {
            "close"
        };
        builtin.push(("Connection", String::from(connection)));
        if let Some((start, end)) = self.range {
            let value = match end {
                Some(end) => format!("bytes={start}-{end}"),
                None => format!("bytes={start}-"),
            };
            builtin.push(("Range", value));
        }
        if let Some(referer) = &self.referer {
            builtin.push(("Referer", referer.clone()));
        }
        if let Some(t) = self.if_modified_since {
            builtin.push(("If-Modified-Since", format_http_date(t)));
        }
        if let Some((user, pass)) = self.effective_basic_auth() {
            builtin.push(("Authorization", basic_credentials(&user, &pass)));
        }
        if let Some(cookie) = &self.cookie {
            builtin.push(("Cookie", cookie.clone()));
        }
        if let Some(proxy) = &self.via_proxy {
            if let Some((user, pass)) = &proxy.credentials {
                builtin.push(("Proxy-Authorization", basic_credentials(user, pass)));
            }
        }
        if self.want_digest {
            builtin.push(("Want-Digest", String::from(WANT_DIGEST)));
        }

        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.request_target().as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &builtin {
            let overridden = self
                .headers
                .iter()
                .any(|(n, _)| n.trim().eq_ignore_ascii_case(name));
            if !overridden {
                push_header(&mut out, name, value);
            }
        }
        for (name, value) in &self.headers {
            push_header(&mut out, name.trim(), value.trim());
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn effective_basic_auth(&self) -> Option<(String, String)> {
        if let Some(auth) = &self.basic_auth {
            return Some(auth.clone());
        }
        if self.url.username().is_empty() {
            return None;
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        Some((
            decode(self.url.username()),
            decode(self.url.password().unwrap_or("")),
        ))
    }
}

/// `Host` value: host plus the port when it is not the scheme's default,
/// IPv6 literals in brackets (the `url` crate already brackets them).
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn basic_credentials(user: &str, pass: &str) -> String {
    let raw = format!("{user}:{pass}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
    )
}

fn is_valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Appends `name: value\r\n`, silently dropping pairs that would break the
/// framing (CR, LF or NUL in the value; a non-token name).
fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    if !is_valid_header_name(name) || value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return;
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Encodes a `CONNECT host:port` request that opens a TLS tunnel through an
/// HTTP proxy. IPv6 literals are bracketed in the authority.
pub fn encode_connect(host: &str, port: u16, proxy_auth: Option<(&str, &str)>) -> Vec<u8> {
    let host: String = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .chars()
        .filter(|c| !c.is_ascii_control() && *c != ' ')
        .collect();
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"CONNECT ");
    out.extend_from_slice(authority.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    push_header(&mut out, "Host", &authority);
    if let Some((user, pass)) = proxy_auth {
        push_header(
            &mut out,
            "Proxy-Authorization",
            &basic_credentials(user, pass),
        );
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn text(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn minimal_get() {
        let mut spec = RequestSpec::new(
            Method::Get,
            Url::parse("http://example.com/a%20b?x=1#frag").unwrap(),
        );
        spec.user_agent = "aria2/1.36.0".into();
        assert_eq!(
            text(spec.encode()),
            "GET /a%20b?x=1 HTTP/1.1\r\nUser-Agent: aria2/1.36.0\r\nAccept: */*\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn full_featured_request() {
        let mut spec = RequestSpec::new(
            Method::Head,
            Url::parse("https://u%40x:p%3Aw@[::1]:8443/f").unwrap(),
        );
        spec.range = Some((100, Some(199)));
        spec.accept_gzip = true;
        spec.keep_alive = false;
        spec.no_cache = true;
        spec.referer = Some("http://ref/".into());
        spec.cookie = Some("a=b; c=d".into());
        spec.if_modified_since = Some(UNIX_EPOCH + Duration::from_secs(784_111_777));
        let s = text(spec.encode());
        assert!(s.starts_with("HEAD /f HTTP/1.1\r\n"), "{s}");
        assert!(s.contains("\r\nHost: [::1]:8443\r\n"));
        assert!(s.contains("\r\nAccept-Encoding: deflate, gzip\r\n"));
        assert!(s.contains("\r\nConnection: close\r\n"));
        assert!(s.contains("\r\nRange: bytes=100-199\r\n"));
        assert!(s.contains("\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n"));
        assert!(s.contains("\r\nReferer: http://ref/\r\n"));
        assert!(s.contains("\r\nCookie: a=b; c=d\r\n"));
        assert!(s.contains("\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
        // "u@x:p:w" from the percent-decoded user-info.
        assert!(
            s.contains("\r\nAuthorization: Basic dUB4OnA6dw==\r\n"),
            "{s}"
        );
        assert!(s.ends_with("\r\n\r\n"));
    }

    #[test]
    fn open_range_and_default_port() {
        let mut spec = RequestSpec::new(Method::Get, Url::parse("https://h:443").unwrap());
        spec.range = Some((5, None));
        let s = text(spec.encode());
        assert!(s.starts_with("GET / HTTP/1.1\r\n"));
        assert!(s.contains("\r\nHost: h\r\n"));
        assert!(s.contains("\r\nRange: bytes=5-\r\n"));
        assert!(!s.contains("Accept-Encoding"));
    }

    #[test]
    fn user_headers_override_and_injection_is_dropped() {
        let mut spec = RequestSpec::new(Method::Get, Url::parse("http://h:8080/").unwrap());
        spec.headers = vec![
            ("accept".into(), "text/plain".into()),
            ("X-Evil".into(), "a\r\nInjected: 1".into()),
            ("Bad Name".into(), "v".into()),
            ("X-Ok".into(), " v ".into()),
        ];
        spec.referer = Some("x\ny".into());
        let s = text(spec.encode());
        assert!(s.contains("\r\naccept: text/plain\r\n"));
        assert!(!s.contains("Accept: */*"));
        assert!(!s.contains("Injected"));
        assert!(!s.contains("Bad Name"));
        assert!(!s.contains("Referer"));
        assert!(s.contains("\r\nX-Ok: v\r\n"));
        assert!(s.contains("\r\nHost: h:8080\r\n"));
    }

    #[test]
    fn proxy_absolute_form() {
        let mut spec = RequestSpec::new(Method::Get, Url::parse("http://user:pw@h/p?q#f").unwrap());
        spec.via_proxy = Some(ProxyAuth {
            credentials: Some(("pu".into(), "pp".into())),
        });
        let s = text(spec.encode());
        assert!(s.starts_with("GET http://h/p?q HTTP/1.1\r\n"), "{s}");
        assert!(s.contains("\r\nProxy-Authorization: Basic cHU6cHA=\r\n"));
        assert!(s.contains("\r\nAuthorization: Basic dXNlcjpwdw==\r\n"));
    }

    #[test]
    fn connect() {
        assert_eq!(
            text(encode_connect("example.com", 443, None)),
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        );
        let s = text(encode_connect("::1", 8443, Some(("a", "b"))));
        assert!(s.starts_with("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n"));
        assert!(s.contains("Proxy-Authorization: Basic YTpi\r\n"));
        assert!(text(encode_connect("[::1]", 1, None)).starts_with("CONNECT [::1]:1 "));
    }
}
