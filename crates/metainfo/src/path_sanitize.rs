//! Turning attacker-controlled names from a torrent into path components
//! that can never leave the download directory.
//!
//! A v1 torrent's name and paths follow aria2 1.36 exactly (so `-S`, the
//! magnet link and the files on disk match it): each element is taken as
//! UTF-8 or percent-encoded whole ([`encode_non_utf8`]), the elements are
//! joined with `/` — a `/` inside one is a directory separator there, as
//! in aria2 — and the joined path is refused when
//! [`detect_dir_traversal`] says so.
//!
//! A v2 `file tree`, which aria2 1.36 cannot read, keeps arietta's own
//! policy (rejecting `..`, rewriting everything else harmlessly so that odd
//! but honest torrents load):
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

/// aria2's `isUtf8`: UTF-8 without control characters other than
/// `\b\t\n\f\r` (and no DEL).
fn is_aria2_utf8(raw: &[u8]) -> bool {
    std::str::from_utf8(raw).is_ok_and(|s| {
        s.bytes()
            .all(|b| !(b < 0x20 || b == 0x7f) || matches!(b, 0x08..=0x0a | 0x0c | 0x0d))
    })
}

/// aria2's `encodeNonUtf8`: the text as is when [`is_aria2_utf8`], else
/// all of it percent-encoded (`ctl\x01x` → `ctl%01x`).
pub fn encode_non_utf8(raw: &[u8]) -> String {
    if is_aria2_utf8(raw) {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        percent_encode_all(raw)
    }
}

/// aria2's `detectDirTraversal`: a control character, `.` or `..`
/// anywhere as a component, a leading or a trailing `/`.
pub fn detect_dir_traversal(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    s.bytes().any(|b| b < 0x20 || b == 0x7f)
        || s == "."
        || s == ".."
        || s.starts_with('/')
        || s.starts_with("./")
        || s.starts_with("../")
        || s.contains("/../")
        || s.contains("/./")
        || s.ends_with('/')
        || s.ends_with("/.")
        || s.ends_with("/..")
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
    fn aria2_text_and_traversal() {
        assert_eq!(encode_non_utf8(b"a/b c"), "a/b c");
        assert_eq!(encode_non_utf8(b"ctl\x01x"), "ctl%01x");
        assert_eq!(encode_non_utf8(b"tab\tx"), "tab\tx");
        assert_eq!(encode_non_utf8(b"\xff"), "%FF");
        for bad in [
            ".", "..", "/a", "./a", "../a", "a/../b", "a/./b", "a/", "a/.", "a/..", "t\tx",
        ] {
            assert!(detect_dir_traversal(bad), "{bad}");
        }
        for ok in ["", "a", "a/b", "a//b", "...", "a/..b", "C:x", "a\\b"] {
            assert!(!detect_dir_traversal(ok), "{ok}");
        }
    }
}
