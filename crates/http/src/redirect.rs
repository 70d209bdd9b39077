//! Resolving redirect targets.

use url::Url;

use crate::error::HttpError;

/// Resolves a `Location` value (absolute, scheme-relative, absolute-path or
/// relative, RFC 7231 §7.1.2) against the URL that was requested.
///
/// Only `http`, `https` and `ftp` targets are returned; aria2 follows a
/// redirect to FTP, and the caller picks the protocol. The fragment of the
/// result is dropped: it never reaches a server.
pub fn resolve_location(base: &Url, location: &str) -> Result<Url, HttpError> {
    let location = location.trim();
    if location.is_empty() {
        return Err(HttpError::BadLocation(String::from("empty Location")));
    }
    let mut url = base
        .join(location)
        .map_err(|e| HttpError::BadLocation(format!("{location}: {e}")))?;
    match url.scheme() {
        "http" | "https" | "ftp" => {}
        other => return Err(HttpError::UnsupportedRedirectScheme(other.to_owned())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(HttpError::BadLocation(format!("{location}: no host")));
    }
    url.set_fragment(None);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(base: &str, loc: &str) -> Result<String, HttpError> {
        resolve_location(&Url::parse(base).unwrap(), loc).map(|u| u.to_string())
    }

    #[test]
    fn forms() {
        let base = "http://h.test:8080/a/b/c?q=1";
        assert_eq!(r(base, "https://other/x").unwrap(), "https://other/x");
        assert_eq!(r(base, "//cdn.test/f").unwrap(), "http://cdn.test/f");
        assert_eq!(r(base, "/root").unwrap(), "http://h.test:8080/root");
        assert_eq!(r(base, "d").unwrap(), "http://h.test:8080/a/b/d");
        assert_eq!(
            r(base, "../up?x=2#frag").unwrap(),
            "http://h.test:8080/a/up?x=2"
        );
        assert_eq!(r(base, "?only").unwrap(), "http://h.test:8080/a/b/c?only");
        assert_eq!(
            r(base, " /spaced path ").unwrap(),
            "http://h.test:8080/spaced%20path"
        );
        assert_eq!(r(base, "ftp://mirror/file").unwrap(), "ftp://mirror/file");
        assert_eq!(
            r(base, "/caf%C3%A9").unwrap(),
            "http://h.test:8080/caf%C3%A9"
        );
    }

    #[test]
    fn rejects() {
        let base = "http://h.test/";
        assert!(matches!(
            r(base, "javascript:alert(1)"),
            Err(HttpError::UnsupportedRedirectScheme(_))
        ));
        assert!(matches!(
            r(base, "file:///etc/passwd"),
            Err(HttpError::UnsupportedRedirectScheme(_))
        ));
        assert!(matches!(r(base, ""), Err(HttpError::BadLocation(_))));
        assert!(matches!(r(base, "http://"), Err(HttpError::BadLocation(_))));
        assert!(matches!(
            r(base, "http://[::1"),
            Err(HttpError::BadLocation(_))
        ));
    }
}
