//! Metalink/HTTP (RFC 6249): mirrors from `Link:` headers and whole-file
//! digests from `Digest:` headers (RFC 3230), parsed from header values.

use base64::Engine;

use crate::hash::{Checksum, HashAlgo};

/// One link-value of a `Link:` header (RFC 8288 syntax, RFC 6249 params).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkValue {
    /// The target as written between `<` and `>`; may be relative to the
    /// request URI.
    pub uri: String,
    /// Relation types, lower-cased (`duplicate`, `describedby`).
    pub rels: Vec<String>,
    /// `pri`: 1 best; `None` when absent or out of range 1..=999999.
    pub pri: Option<u32>,
    /// `geo`: country code, lower-cased.
    pub geo: Option<String>,
    /// `pref`: the server wants this mirror used first (RFC 6249 §3.4).
    pub pref: bool,
    /// `type`: for `describedby`, e.g. `application/metalink4+xml`.
    pub media_type: Option<String>,
}

impl LinkValue {
    /// A mirror of the requested file (`rel=duplicate`).
    pub fn is_duplicate(&self) -> bool {
        self.rels.iter().any(|r| r == "duplicate")
    }

    /// The target made absolute against the URI of the response that
    /// carried the header (RFC 8288 §3.1); `None` if it cannot be.
    pub fn absolute_uri(&self, request_uri: &url::Url) -> Option<url::Url> {
        request_uri.join(&self.uri).ok()
    }

    /// A metalink describing the file (`rel=describedby` with a metalink
    /// media type), which aria2 fetches instead when `--follow-metalink`.
    pub fn is_metalink(&self) -> bool {
        self.rels.iter().any(|r| r == "describedby")
            && self
                .media_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/metalink4+xml"))
    }
}

/// Splits on `sep` outside `<…>` and `"…"` (with `\` escapes in quotes).
fn split_outside(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut in_angle, mut in_quote, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        match c {
            '"' => in_quote = true,
            '<' => in_angle = true,
            '>' => in_angle = false,
            c if c == sep && !in_angle => {
                parts.push(s.get(start..i).unwrap_or(""));
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(s.get(start..).unwrap_or(""));
    parts
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    match v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => v.to_string(),
    }
}

/// Parses one `Link:` header value (which may hold several comma-separated
/// links). Malformed link-values are skipped; the rest are returned in
/// order. Call once per `Link:` header line.
pub fn parse_link_header(value: &str) -> Vec<LinkValue> {
    let mut out = Vec::new();
    for item in split_outside(value, ',') {
        let mut params = split_outside(item, ';').into_iter();
        let Some(target) = params.next().map(str::trim) else {
            continue;
        };
        let Some(uri) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
            continue;
        };
        let uri = uri.trim();
        if uri.is_empty() {
            continue;
        }
        let mut link = LinkValue {
            uri: uri.to_string(),
            ..LinkValue::default()
        };
        for param in params {
            let (key, val) = match param.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(unquote(v))),
                None => (param.trim().to_ascii_lowercase(), None),
            };
            match (key.as_str(), val) {
                // RFC 8288: only the first occurrence of rel counts.
                ("rel", Some(v)) if link.rels.is_empty() => {
                    link.rels = v
                        .split_ascii_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect();
                }
                ("pri", Some(v)) => {
                    link.pri = v
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|p| (1..=999_999).contains(p));
                }
                ("geo", Some(v)) => {
                    let g = v.trim().to_ascii_lowercase();
                    link.geo = (!g.is_empty()).then_some(g);
                }
                ("pref", _) => link.pref = true,
                ("type", Some(v)) => link.media_type = Some(v.trim().to_string()),
                _ => {}
            }
        }
        out.push(link);
    }
    out
}

/// Mirrors from `rel=duplicate` links in the order RFC 6249 and aria2 use:
/// `pref` links first, then by `pri` (absent = lowest), ties in header order.
pub fn duplicate_mirrors(links: &[LinkValue]) -> Vec<&LinkValue> {
    let mut d: Vec<&LinkValue> = links.iter().filter(|l| l.is_duplicate()).collect();
    d.sort_by_key(|l| (!l.pref, l.pri.unwrap_or(crate::LOWEST_PRIORITY)));
    d
}

/// Parses a `Digest:` header value (`SHA-256=base64, MD5=base64`) into the
/// checksums aria2 can use. Unknown algorithms and bad encodings are
/// skipped; a digest of the wrong length is skipped too.
pub fn parse_digest_header(value: &str) -> Vec<Checksum> {
    let mut out = Vec::new();
    for item in value.split(',') {
        let Some((name, b64)) = item.split_once('=') else {
            continue;
        };
        let Some(algo) = HashAlgo::from_name(name) else {
            continue;
        };
        let b64 = b64.trim();
        let Ok(digest) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            continue;
        };
        if digest.len() == algo.digest_len() {
            out.push(Checksum { algo, digest });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6249_example() {
        let v = "<http://www2.example.com/example.ext>; rel=duplicate; pri=2; geo=DE, \
                 <ftp://ftp.example.com/example.ext>; rel=\"duplicate\"; pri=1; pref, \
                 <http://example.com/example.ext.meta4>; rel=describedby; type=\"application/metalink4+xml\", \
                 <http://example.com/example.ext.asc>; rel=describedby; type=\"application/pgp-signature\"";
        let links = parse_link_header(v);
        assert_eq!(links.len(), 4);
        assert_eq!(links[0].geo.as_deref(), Some("de"));
        assert_eq!(links[0].pri, Some(2));
        assert!(links[1].pref && links[1].is_duplicate());
        assert!(links[2].is_metalink() && !links[3].is_metalink());
        let m: Vec<_> = duplicate_mirrors(&links)
            .iter()
            .map(|l| l.uri.as_str())
            .collect();
        assert_eq!(
            m,
            [
                "ftp://ftp.example.com/example.ext",
                "http://www2.example.com/example.ext"
            ]
        );
    }

    #[test]
    fn relative_targets_resolved() {
        let links =
            parse_link_header("</mirror/f.iso>; rel=duplicate, <ftp://m/f.iso>; rel=duplicate");
        let base = url::Url::parse("http://example.com/dl/f.iso").unwrap();
        assert_eq!(
            links[0].absolute_uri(&base).unwrap().as_str(),
            "http://example.com/mirror/f.iso"
        );
        assert_eq!(
            links[1].absolute_uri(&base).unwrap().as_str(),
            "ftp://m/f.iso"
        );
    }

    #[test]
    fn commas_and_semicolons_inside_uri_and_quotes() {
        let v = "<http://a/x,y;z>; rel=\"duplicate other\"; title=\"a, b; c\"; pri=7";
        let links = parse_link_header(v);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].uri, "http://a/x,y;z");
        assert_eq!(links[0].rels, ["duplicate", "other"]);
        assert_eq!(links[0].pri, Some(7));
    }

    #[test]
    fn garbage_link_headers() {
        for v in [
            "",
            "<",
            ">",
            "<>; rel=duplicate",
            "http://x; rel=duplicate",
            ",,,",
            "<a>; pri=0; pri=x",
            "\"<unterminated",
        ] {
            for l in parse_link_header(v) {
                assert!(l.pri.is_none());
            }
        }
    }

    #[test]
    fn digest_header() {
        // sha-256("abc"), md5("abc")
        let v = "SHA-256=ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=, MD5=kAFQmDzST7DWlj99KOF/cg==, UNIXsum=30637, SHA=bogus";
        let d = parse_digest_header(v);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].algo, HashAlgo::Sha256);
        assert!(d[0].matches(b"abc"));
        assert!(d[1].matches(b"abc"));
        assert!(parse_digest_header("SHA-256=AAAA").is_empty());
    }
}
