//! Turning attacker-controlled names from a torrent into path components
//! that can never leave the download directory.
//!
//! Policy (aria2 rejects traversal outright; we do the same for `..` and
//! rewrite everything else harmlessly so that odd but honest torrents load):
//! - `..` → the torrent is rejected ([`Error::UnsafePath`]).
//! - empty and `.` components → dropped (`a//b` and `a/./b` mean `a/b`).
//! - `/` and `\` inside a component → `%2F` / `%5C`, so one component stays
//!   one directory level and can never become absolute.
//! - control bytes (NUL included) and DEL → `%XX`, like aria2's `escapePath`.
//! - a leading Windows drive (`C:`) → `C%3A`.
//! - bytes that are not UTF-8 → the whole component is percent-encoded,
//!   like aria2's `encodeNonUtf8`.

use crate::error::Error;
use crate::percent_encode_all;

/// Decodes a text field: UTF-8 as is, anything else percent-encoded the way
/// aria2 does, so the name is stable and reversible rather than lossy.
pub fn decode_text(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => percent_encode_all(raw),
    }
}

/// Sanitizes one path component. `Ok(None)` means "drop it" (empty or `.`).
pub fn sanitize_component(raw: &[u8]) -> Result<Option<String>, Error> {
    let text = decode_text(raw);
    match text.as_str() {
        "" | "." => return Ok(None),
        ".." => return Err(Error::UnsafePath(text)),
        _ => {}
    }
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    for (i, ch) in text.char_indices() {
        let escape = match ch {
            '\0'..='\u{1f}' | '\u{7f}' | '/' | '\\' => true,
            ':' => drive && i == 1,
            _ => false,
        };
        if escape {
            out.push_str(&format!("%{:02X}", ch as u32));
        } else {
            out.push(ch);
        }
    }
    Ok(Some(out))
}

/// Sanitizes a list of components; at least one must remain.
pub(crate) fn sanitize_path<'a>(
    raw: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for c in raw {
        if let Some(s) = sanitize_component(c)? {
            out.push(s);
        }
    }
    if out.is_empty() {
        return Err(Error::UnsafePath("empty path".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(raw: &[u8]) -> Option<String> {
        sanitize_component(raw).unwrap()
    }

    #[test]
    fn rewrites_and_rejects() {
        assert_eq!(one(b"plain name.txt").as_deref(), Some("plain name.txt"));
        assert_eq!(one(b"").as_deref(), None);
        assert_eq!(one(b".").as_deref(), None);
        assert!(matches!(
            sanitize_component(b".."),
            Err(Error::UnsafePath(_))
        ));
        assert_eq!(one(b"...").as_deref(), Some("..."));
        assert_eq!(one(b"/etc/passwd").as_deref(), Some("%2Fetc%2Fpasswd"));
        assert_eq!(one(b"..\\..\\x").as_deref(), Some("..%5C..%5Cx"));
        assert_eq!(one(b"a\0b\x1f\x7f").as_deref(), Some("a%00b%1F%7F"));
        assert_eq!(one(b"C:").as_deref(), Some("C%3A"));
        assert_eq!(one(b"c:\\windows").as_deref(), Some("c%3A%5Cwindows"));
        assert_eq!(one(b"a:b").as_deref(), Some("a%3Ab"));
        assert_eq!(one(b"ab:c").as_deref(), Some("ab:c"));
        assert_eq!(one("日本語".as_bytes()).as_deref(), Some("日本語"));
        assert_eq!(one(b"a\xffb c").as_deref(), Some("a%FFb%20c"));
    }

    #[test]
    fn paths_need_a_component() {
        assert_eq!(
            sanitize_path([&b"a"[..], b"", b".", b"b"]).unwrap(),
            vec!["a", "b"]
        );
        assert!(sanitize_path([&b""[..], b"."]).is_err());
        assert!(sanitize_path([&b"a"[..], b"..", b"b"]).is_err());
    }
}
