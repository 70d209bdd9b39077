//! A cookie jar with RFC 6265 storage and retrieval rules and the
//! Netscape/Mozilla `cookies.txt` format aria2 loads (`--load-cookies`) and
//! saves (`--save-cookies`).
//!
//! Public-suffix checks are deliberately absent: a downloader talks to the
//! hosts the user named, and aria2 does not do them either.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::{Host, Url};

use crate::date::parse_http_date;

/// Most cookies kept per domain; the oldest is evicted beyond this
/// (RFC 6265 §6.1 asks for at least 50).
pub const MAX_COOKIES_PER_DOMAIN: usize = 50;
/// Largest `name=value` accepted (RFC 6265 §6.1 minimum is 4096).
pub const MAX_COOKIE_SIZE: usize = 4096;

/// One stored cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Cookie name.
    pub name: String,
    /// Cookie value, verbatim (quotes included if the server sent them).
    pub value: String,
    /// Lower-case domain without a leading dot.
    pub domain: String,
    /// Sent only to exactly `domain`, not to its subdomains.
    pub host_only: bool,
    /// Path prefix the cookie applies to.
    pub path: String,
    /// Expiry; `None` for a session cookie.
    pub expires: Option<SystemTime>,
    /// Sent over https only.
    pub secure: bool,
    /// `HttpOnly` flag, kept for round-tripping `#HttpOnly_` lines.
    pub http_only: bool,
    creation: u64,
}

impl Cookie {
    fn is_expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|t| t <= now)
    }

    fn matches(&self, host: &str, host_is_ip: bool, path: &str, secure: bool) -> bool {
        let domain_ok = if self.host_only {
            host == self.domain
        } else {
            domain_match(host, host_is_ip, &self.domain)
        };
        domain_ok && path_match(path, &self.path) && (secure || !self.secure)
    }
}

/// Cookies for all hosts of a session.
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
    next_creation: u64,
}

fn request_host(url: &Url) -> Option<(String, bool)> {
    match url.host()? {
        Host::Domain(d) => Some((d.to_ascii_lowercase(), d.parse::<IpAddr>().is_ok())),
        Host::Ipv4(ip) => Some((ip.to_string(), true)),
        Host::Ipv6(ip) => Some((format!("[{ip}]"), true)),
    }
}

/// RFC 6265 §5.1.3.
fn domain_match(host: &str, host_is_ip: bool, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    !host_is_ip
        && host.len() > domain.len()
        && host.ends_with(domain)
        && host.as_bytes().get(host.len() - domain.len() - 1) == Some(&b'.')
}

/// RFC 6265 §5.1.4.
fn path_match(request_path: &str, cookie_path: &str) -> bool {
    if request_path == cookie_path {
        return true;
    }
    request_path.starts_with(cookie_path)
        && (cookie_path.ends_with('/')
            || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/'))
}

/// RFC 6265 §5.1.4 default-path.
fn default_path(url: &Url) -> String {
    let path = url.path();
    if !path.starts_with('/') {
        return String::from("/");
    }
    match path.rfind('/') {
        Some(0) | None => String::from("/"),
        Some(i) => path[..i].to_owned(),
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

fn is_secure_scheme(url: &Url) -> bool {
    matches!(url.scheme(), "https" | "wss")
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored cookies (expired ones included until they are
    /// replaced or [`remove_expired`](Self::remove_expired) runs).
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Whether the jar holds no cookies.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// The stored cookies.
    pub fn iter(&self) -> impl Iterator<Item = &Cookie> {
        self.cookies.iter()
    }

    /// Drops cookies whose expiry has passed.
    pub fn remove_expired(&mut self, now: SystemTime) {
        self.cookies.retain(|c| !c.is_expired(now));
    }

    fn insert(&mut self, mut cookie: Cookie) {
        if let Some(existing) = self
            .cookies
            .iter_mut()
            .find(|c| c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
        {
            cookie.creation = existing.creation;
            *existing = cookie;
            return;
        }
        cookie.creation = self.next_creation;
        self.next_creation += 1;
        let same_domain = self
            .cookies
            .iter()
            .filter(|c| c.domain == cookie.domain)
            .count();
        if same_domain >= MAX_COOKIES_PER_DOMAIN {
            if let Some(oldest) = self
                .cookies
                .iter()
                .enumerate()
                .filter(|(_, c)| c.domain == cookie.domain)
                .min_by_key(|(_, c)| c.creation)
                .map(|(i, _)| i)
            {
                self.cookies.remove(oldest);
            }
        }
        self.cookies.push(cookie);
    }

    /// Loads a Netscape `cookies.txt`: seven tab-separated fields (domain,
    /// include-subdomains, path, secure, expiry, name, value), `#HttpOnly_`
    /// prefixed lines, expiry 0 for session cookies. Malformed and expired
    /// lines are skipped, as aria2 does; returns the number loaded.
    pub fn load_netscape(&mut self, text: &[u8], now: SystemTime) -> usize {
        let mut loaded = 0;
        for raw in text.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(raw);
            let line = line.trim_end_matches('\r');
            let (line, http_only) = match line.strip_prefix("#HttpOnly_") {
                Some(rest) => (rest, true),
                None => (line, false),
            };
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.len() < 6 {
                continue;
            }
            let raw_domain = fields[0].trim();
            let domain = raw_domain.trim_start_matches('.').to_ascii_lowercase();
            let name = fields[5];
            let value = fields.get(6).copied().unwrap_or("");
            if domain.is_empty() || name.is_empty() || has_control(name) || has_control(value) {
                continue;
            }
            let Ok(expiry) = fields[4].trim().parse::<i64>() else {
                continue;
            };
            let expires = match expiry {
                e if e <= 0 => None,
                e => Some(
                    UNIX_EPOCH
                        .checked_add(Duration::from_secs(e.unsigned_abs()))
                        .unwrap_or(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX))),
                ),
            };
            let path = fields[2];
            let cookie = Cookie {
                name: name.to_owned(),
                value: value.to_owned(),
                host_only: !(fields[1].eq_ignore_ascii_case("TRUE") || raw_domain.starts_with('.')),
                domain,
                path: if path.starts_with('/') {
                    path.to_owned()
                } else {
                    String::from("/")
                },
                expires,
                secure: fields[3].eq_ignore_ascii_case("TRUE"),
                http_only,
                creation: 0,
            };
            if cookie.is_expired(now) {
                continue;
            }
            self.insert(cookie);
            loaded += 1;
        }
        loaded
    }

    /// Writes every cookie in Netscape format (session cookies with expiry
    /// 0), loadable by aria2, curl and wget.
    pub fn save_netscape(&self) -> String {
        let mut out = String::from("# Netscape HTTP Cookie File\n");
        for c in &self.cookies {
            let expiry = c
                .expires
                .map(|t| {
                    t.duration_since(UNIX_EPOCH)
                        .map_or(1, |d| d.as_secs().max(1))
                })
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "{}{}{}\t{}\t{}\t{}\t{}\t{}\t{}",
                if c.http_only { "#HttpOnly_" } else { "" },
                if c.host_only { "" } else { "." },
                c.domain,
                if c.host_only { "FALSE" } else { "TRUE" },
                c.path,
                if c.secure { "TRUE" } else { "FALSE" },
                expiry,
                c.name,
                c.value
            );
        }
        out
    }

    /// Stores one `Set-Cookie` header received in answer to `request_url`
    /// (RFC 6265 §5.2–5.3). Returns whether a cookie was stored; cookies for
    /// a domain the host does not belong to are rejected, and an already
    /// expired cookie deletes its stored namesake.
    pub fn store_set_cookie(
        &mut self,
        request_url: &Url,
        header_value: &[u8],
        now: SystemTime,
    ) -> bool {
        let Some((host, host_is_ip)) = request_host(request_url) else {
            return false;
        };
        let header = String::from_utf8_lossy(header_value);
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return false;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty()
            || name.len() + value.len() > MAX_COOKIE_SIZE
            || has_control(name)
            || has_control(value)
        {
            return false;
        }
        let mut expires: Option<SystemTime> = None;
        let mut max_age: Option<SystemTime> = None;
        let mut domain_attr: Option<String> = None;
        let mut path: Option<String> = None;
        let mut secure = false;
        let mut http_only = false;
        for attr in parts {
            let (k, v) = match attr.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (attr.trim(), ""),
            };
            if k.eq_ignore_ascii_case("expires") {
                if let Some(t) = parse_http_date(v.as_bytes()) {
                    expires = Some(t);
                }
            } else if k.eq_ignore_ascii_case("max-age") {
                let digits = v.strip_prefix('-').unwrap_or(v);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                max_age = Some(match v.parse::<i64>() {
                    Ok(n) if n > 0 => now
                        .checked_add(Duration::from_secs(n.unsigned_abs()))
                        .unwrap_or(now + Duration::from_secs(400 * 86_400)),
                    Err(_) if !v.starts_with('-') => now + Duration::from_secs(400 * 86_400),
                    _ => UNIX_EPOCH,
                });
            } else if k.eq_ignore_ascii_case("domain") {
                let d = v.trim_start_matches('.').to_ascii_lowercase();
                if !d.is_empty() {
                    domain_attr = Some(d);
                }
            } else if k.eq_ignore_ascii_case("path") {
                if v.starts_with('/') && !has_control(v) {
                    path = Some(v.to_owned());
                }
            } else if k.eq_ignore_ascii_case("secure") {
                secure = true;
            } else if k.eq_ignore_ascii_case("httponly") {
                http_only = true;
            }
        }
        let (domain, host_only) = match domain_attr {
            Some(d) if d == host => (d, true),
            Some(d) if domain_match(&host, host_is_ip, &d) => (d, false),
            Some(_) => return false,
            None => (host, true),
        };
        let cookie = Cookie {
            name: name.to_owned(),
            value: value.to_owned(),
            domain,
            host_only,
            path: path.unwrap_or_else(|| default_path(request_url)),
            expires: max_age.or(expires),
            secure,
            http_only,
            creation: 0,
        };
        if cookie.is_expired(now) {
            self.cookies.retain(|c| {
                !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
            });
            return false;
        }
        self.insert(cookie);
        true
    }

    /// The `Cookie` header value for a request to `url`, or `None` when no
    /// cookie applies. Longer paths come first, then older cookies
    /// (RFC 6265 §5.4); `Secure` cookies go only over https.
    pub fn cookie_header(&self, url: &Url, now: SystemTime) -> Option<String> {
        let (host, host_is_ip) = request_host(url)?;
        let secure = is_secure_scheme(url);
        let path = url.path();
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| !c.is_expired(now) && c.matches(&host, host_is_ip, path, secure))
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.creation.cmp(&b.creation))
        });
        let mut out = String::new();
        for (i, c) in matching.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(&c.name);
            out.push('=');
            out.push_str(&c.value);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn domain_and_path_rules() {
        let mut jar = CookieJar::new();
        let u = url("http://www.example.com/dir/page.html");
        assert!(jar.store_set_cookie(&u, b"host=1", now()));
        assert!(jar.store_set_cookie(&u, b"dom=2; Domain=.Example.COM; Path=/", now()));
        assert!(jar.store_set_cookie(&u, b"deep=3; path=/dir/sub", now()));
        assert!(!jar.store_set_cookie(&u, b"evil=4; domain=other.com", now()));
        assert!(!jar.store_set_cookie(&u, b"evil=5; domain=ww.example.com", now()));
        assert!(!jar.store_set_cookie(&u, b"noequals", now()));
        assert!(!jar.store_set_cookie(&u, b"=novalue", now()));
        assert_eq!(
            jar.cookie_header(&url("http://www.example.com/dir/sub/x"), now())
                .unwrap(),
            "deep=3; host=1; dom=2"
        );
        assert_eq!(
            jar.cookie_header(&url("http://www.example.com/dir"), now())
                .unwrap(),
            "host=1; dom=2"
        );
        assert_eq!(
            jar.cookie_header(&url("http://www.example.com/dirx"), now())
                .unwrap(),
            "dom=2"
        );
        assert_eq!(
            jar.cookie_header(&url("http://a.b.example.com/"), now())
                .unwrap(),
            "dom=2"
        );
        assert_eq!(
            jar.cookie_header(&url("http://example.com/"), now())
                .unwrap(),
            "dom=2"
        );
        assert!(jar
            .cookie_header(&url("http://notexample.com/"), now())
            .is_none());
    }

    #[test]
    fn expiry_secure_and_replacement() {
        let mut jar = CookieJar::new();
        let u = url("https://h.test/");
        assert!(jar.store_set_cookie(
            &u,
            b"s=1; Secure; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            now()
        ));
        assert!(jar.store_set_cookie(&u, b"e=1; Expires=Wed, 09 Jun 2100 10:18:14 GMT", now()));
        assert_eq!(jar.cookie_header(&u, now()).unwrap(), "s=1; e=1");
        assert_eq!(
            jar.cookie_header(&url("http://h.test/"), now()).unwrap(),
            "e=1"
        );
        assert!(
            jar.cookie_header(&u, now() + Duration::from_secs(61))
                .unwrap()
                == "e=1"
        );
        // Replacement keeps the order slot; deletion via Max-Age=0.
        assert!(jar.store_set_cookie(&u, b"s=2; Secure", now()));
        assert_eq!(jar.cookie_header(&u, now()).unwrap(), "s=2; e=1");
        assert!(!jar.store_set_cookie(&u, b"s=x; Max-Age=0", now()));
        assert!(!jar.store_set_cookie(&u, b"e=x; max-age=-5", now()));
        assert!(jar.cookie_header(&u, now()).is_none());
        assert!(jar.store_set_cookie(&u, b"big=1; Max-Age=99999999999999999999999", now()));
        assert!(jar.store_set_cookie(&u, b"bad=1; Max-Age=1x", now()));
        assert_eq!(jar.len(), 2);
        assert!(!jar.store_set_cookie(&u, b"ctl=a\x01b", now()));
    }

    #[test]
    fn ip_hosts_are_host_only() {
        let mut jar = CookieJar::new();
        let u = url("http://127.0.0.1:8080/a");
        assert!(jar.store_set_cookie(&u, b"a=1; domain=127.0.0.1", now()));
        assert!(!jar.store_set_cookie(&u, b"b=1; domain=0.0.1", now()));
        assert_eq!(
            jar.cookie_header(&url("http://127.0.0.1/x"), now())
                .unwrap(),
            "a=1"
        );
        let v6 = url("http://[::1]/");
        assert!(jar.store_set_cookie(&v6, b"c=1", now()));
        assert_eq!(jar.cookie_header(&v6, now()).unwrap(), "c=1");
    }

    #[test]
    fn per_domain_limit() {
        let mut jar = CookieJar::new();
        let u = url("http://h.test/");
        for i in 0..MAX_COOKIES_PER_DOMAIN + 5 {
            assert!(jar.store_set_cookie(&u, format!("c{i}=v").as_bytes(), now()));
        }
        assert_eq!(jar.len(), MAX_COOKIES_PER_DOMAIN);
        let header = jar.cookie_header(&u, now()).unwrap();
        assert!(header.starts_with("c5=v;"));
    }

    #[test]
    fn netscape_round_trip() {
        let text = b"# Netscape HTTP Cookie File\n\
            .example.com\tTRUE\t/\tFALSE\t0\tsession\tyes\n\
            #HttpOnly_www.example.com\tFALSE\t/p\tTRUE\t4102444800\tho\tv\r\n\
            example.com\tFALSE\t/\tFALSE\t1\texpired\tx\n\
            # a comment\n\
            bad line\n\
            example.com\tFALSE\t/\tFALSE\tnotanumber\tn\tv\n\
            novalue.com\tFALSE\t/\tFALSE\t0\tempty\n\
            \n";
        let mut jar = CookieJar::new();
        assert_eq!(jar.load_netscape(text, now()), 3);
        assert_eq!(
            jar.cookie_header(&url("https://www.example.com/p/q"), now())
                .unwrap(),
            "ho=v; session=yes"
        );
        assert_eq!(
            jar.cookie_header(&url("http://www.example.com/p/q"), now())
                .unwrap(),
            "session=yes"
        );
        assert_eq!(
            jar.cookie_header(&url("http://novalue.com/"), now())
                .unwrap(),
            "empty="
        );
        let saved = jar.save_netscape();
        assert!(saved.contains(".example.com\tTRUE\t/\tFALSE\t0\tsession\tyes\n"));
        assert!(saved.contains("#HttpOnly_www.example.com\tFALSE\t/p\tTRUE\t4102444800\tho\tv\n"));
        let mut again = CookieJar::new();
        assert_eq!(again.load_netscape(saved.as_bytes(), now()), 3);
        assert_eq!(again.save_netscape(), saved);
        assert_eq!(
            CookieJar::new().load_netscape(b"\xff\t\t\t\t\t\t\n\t\n", now()),
            0
        );
    }
}
