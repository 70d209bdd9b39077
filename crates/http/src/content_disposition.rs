//! Extracting a safe file name from `Content-Disposition` (RFC 6266).
//!
//! The value comes from an untrusted server and ends up as a path on disk,
//! so whatever is decoded is reduced to a bare file name: no directory
//! parts, no control characters, never `.` or `..`.

use base64::Engine as _;
use percent_encoding::percent_decode;

/// The file name a `Content-Disposition` value suggests, or `None`.
///
/// `filename*` (RFC 8187: `UTF-8''%e2%82%ac%20rates.txt`, ISO-8859-1 too) is
/// preferred over `filename`. The raw bytes of a plain `filename` are
/// ISO-8859-1, as RFC 2616 and aria2 say (a UTF-8 name comes out as
/// mojibake, exactly as aria2c saves it), or UTF-8 with `default_utf8`
/// (`--content-disposition-default-utf8`; invalid UTF-8 then names
/// nothing, as in aria2). `%XX` escapes and RFC 2047 encoded words in it
/// are decoded as browsers do, since servers send both.
pub fn filename(value: &[u8], default_utf8: bool) -> Option<String> {
    let params = parse_params(value);
    let ext = params
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("filename*"))
        .and_then(|(_, v)| decode_ext_value(v))
        .and_then(sanitize);
    if ext.is_some() {
        return ext;
    }
    params
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("filename"))
        .and_then(|(_, v)| decode_plain(v, default_utf8))
        .and_then(sanitize)
}

/// Splits `type; name=value; name="quoted"` into `(name, value)` pairs.
/// The disposition type is skipped; a value that starts straight with a
/// parameter (no type, as some servers send) is handled too.
fn parse_params(v: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut params = Vec::new();
    let mut pos = 0;
    // Skip the disposition type unless it is already a parameter.
    let first_end = v.iter().position(|&b| b == b';').unwrap_or(v.len());
    if !v.get(..first_end).unwrap_or(&[]).contains(&b'=') {
        pos = first_end;
    }
    while pos < v.len() {
        while matches!(v.get(pos), Some(b' ' | b'\t' | b';')) {
            pos += 1;
        }
        let name_start = pos;
        while !matches!(v.get(pos), None | Some(b'=' | b';')) {
            pos += 1;
        }
        let name =
            String::from_utf8_lossy(trim(v.get(name_start..pos).unwrap_or(&[]))).into_owned();
        if v.get(pos) != Some(&b'=') {
            continue;
        }
        pos += 1;
        while matches!(v.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        let mut value = Vec::new();
        if v.get(pos) == Some(&b'"') {
            pos += 1;
            while let Some(&b) = v.get(pos) {
                pos += 1;
                match b {
                    b'"' => break,
                    b'\\' => {
                        if let Some(&escaped) = v.get(pos) {
                            value.push(escaped);
                            pos += 1;
                        }
                    }
                    _ => value.push(b),
                }
            }
            // Skip anything between the closing quote and the next ';'.
            while !matches!(v.get(pos), None | Some(b';')) {
                pos += 1;
            }
        } else {
            let start = pos;
            while !matches!(v.get(pos), None | Some(b';')) {
                pos += 1;
            }
            value.extend_from_slice(trim(v.get(start..pos).unwrap_or(&[])));
        }
        if !name.is_empty() {
            params.push((name, value));
        }
    }
    params
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// `charset'language'percent-encoded` (RFC 8187 §3.2.1).
fn decode_ext_value(v: &[u8]) -> Option<String> {
    let mut parts = v.splitn(3, |&b| b == b'\'');
    let charset = parts.next()?;
    let _language = parts.next()?;
    let encoded = parts.next()?;
    let bytes: Vec<u8> = percent_decode(encoded).collect();
    if charset.eq_ignore_ascii_case(b"utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case(b"iso-8859-1") {
        Some(latin1(&bytes))
    } else {
        None
    }
}

fn decode_plain(v: &[u8], default_utf8: bool) -> Option<String> {
    if let Some(s) = decode_encoded_word(v) {
        return Some(s);
    }
    if v.contains(&b'%') {
        // Percent escapes of UTF-8 octets, as browsers send back: taken
        // when they decode to UTF-8, else the raw bytes stand.
        let decoded: Vec<u8> = percent_decode(v).collect();
        if decoded.as_slice() != v {
            if let Ok(s) = String::from_utf8(decoded) {
                return Some(s);
            }
        }
    }
    if default_utf8 {
        String::from_utf8(v.to_vec()).ok()
    } else {
        Some(latin1(v))
    }
}

/// One RFC 2047 encoded word, `=?charset?B|Q?text?=`, as old servers send.
fn decode_encoded_word(v: &[u8]) -> Option<String> {
    let inner = v.strip_prefix(b"=?")?.strip_suffix(b"?=")?;
    let mut parts = inner.splitn(3, |&b| b == b'?');
    let charset = parts.next()?;
    let mode = parts.next()?;
    let text = parts.next()?;
    let bytes = if mode.eq_ignore_ascii_case(b"b") {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    } else if mode.eq_ignore_ascii_case(b"q") {
        let spaced: Vec<u8> = text
            .iter()
            .map(|&b| if b == b'_' { b' ' } else { b })
            .collect();
        let mut out = Vec::with_capacity(spaced.len());
        let mut i = 0;
        while let Some(&b) = spaced.get(i) {
            let hex = spaced
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match (b, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        out
    } else {
        return None;
    };
    if charset.eq_ignore_ascii_case(b"utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case(b"iso-8859-1") {
        Some(latin1(&bytes))
    } else {
        None
    }
}

/// Reduces `name` to its last path component without control characters.
fn sanitize(name: String) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        None
    } else {
        Some(cleaned.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &str) -> Option<String> {
        filename(v.as_bytes(), false)
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(
            f("attachment; filename=foo.txt").as_deref(),
            Some("foo.txt")
        );
        assert_eq!(
            f("attachment; filename=\"foo bar.txt\"").as_deref(),
            Some("foo bar.txt")
        );
        assert_eq!(
            f("attachment;filename=\"a\\\"b\\\\c.txt\"").as_deref(),
            Some("c.txt")
        );
        assert_eq!(
            f("attachment;filename=\"a\\\"b.txt\"").as_deref(),
            Some("a\"b.txt")
        );
        assert_eq!(
            f("ATTACHMENT; FILENAME = x.bin ; size=3").as_deref(),
            Some("x.bin")
        );
        assert_eq!(f("filename=bare.txt").as_deref(), Some("bare.txt"));
        assert_eq!(
            f("inline; filename=\"semi;colon.txt\"").as_deref(),
            Some("semi;colon.txt")
        );
        assert_eq!(
            f("attachment; filename=my file.txt").as_deref(),
            Some("my file.txt")
        );
        assert_eq!(f("attachment"), None);
        assert_eq!(f(""), None);
        assert_eq!(f("attachment; filename=\"\""), None);
        assert_eq!(
            f("attachment; filename=\"unterminated"),
            Some("unterminated".into())
        );
    }

    #[test]
    fn extended_values_win() {
        assert_eq!(
            f("attachment; filename=\"EURO rates.txt\"; filename*=UTF-8''%e2%82%ac%20rates.txt")
                .as_deref(),
            Some("\u{20ac} rates.txt")
        );
        assert_eq!(
            f("attachment; filename*=iso-8859-1'en'%A3%20rates").as_deref(),
            Some("\u{a3} rates")
        );
        // Invalid UTF-8 or unknown charset in filename* falls back to filename.
        assert_eq!(
            f("attachment; filename*=UTF-8''%ff; filename=ok.txt").as_deref(),
            Some("ok.txt")
        );
        assert_eq!(
            f("attachment; filename*=koi8-r''%c1; filename=ok.txt").as_deref(),
            Some("ok.txt")
        );
        assert_eq!(
            f("attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd").as_deref(),
            Some("passwd")
        );
    }

    #[test]
    fn legacy_encodings() {
        assert_eq!(
            filename(b"attachment; filename=\"caf\xe9.txt\"", false).as_deref(),
            Some("caf\u{e9}.txt")
        );
        // Raw UTF-8 is ISO-8859-1 to aria2 unless told otherwise.
        let utf8 = "attachment; filename=\"caf\u{e9}.txt\"".as_bytes();
        assert_eq!(
            filename(utf8, false).as_deref(),
            Some("caf\u{c3}\u{a9}.txt")
        );
        assert_eq!(filename(utf8, true).as_deref(), Some("caf\u{e9}.txt"));
        // With default UTF-8, bytes that are not UTF-8 name nothing.
        assert_eq!(
            filename(b"attachment; filename=\"caf\xe9.txt\"", true),
            None
        );
        assert_eq!(
            f("attachment; filename=\"%E2%82%AC.txt\"").as_deref(),
            Some("\u{20ac}.txt")
        );
        assert_eq!(
            f("attachment; filename=\"100%.txt\"").as_deref(),
            Some("100%.txt")
        );
        assert_eq!(
            f("attachment; filename=\"=?UTF-8?B?4oKsLnR4dA==?=\"").as_deref(),
            Some("\u{20ac}.txt")
        );
        assert_eq!(
            f("attachment; filename=\"=?ISO-8859-1?Q?caf=E9_x.txt?=\"").as_deref(),
            Some("caf\u{e9} x.txt")
        );
    }

    #[test]
    fn path_traversal_and_controls() {
        assert_eq!(
            f("attachment; filename=\"../../etc/passwd\"").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            f("attachment; filename=\"..\\\\..\\\\win.ini\"").as_deref(),
            Some("win.ini")
        );
        assert_eq!(f("attachment; filename=\"dir/\""), None);
        assert_eq!(f("attachment; filename=\"..\""), None);
        assert_eq!(f("attachment; filename=\".\""), None);
        assert_eq!(
            f("attachment; filename*=UTF-8''a%00b%0A.txt").as_deref(),
            Some("ab.txt")
        );
        assert_eq!(f("attachment; filename*=UTF-8''%2E%2E"), None);
        assert_eq!(
            f("attachment; filename=\"  spaced  \"").as_deref(),
            Some("spaced")
        );
    }

    #[test]
    fn never_panics_on_junk() {
        let junk: &[&[u8]] = &[
            b";;;;",
            b"=",
            b"\"",
            b"a=\"\\",
            b"filename*='",
            b"filename*=''",
            b"filename==?",
            b"\xff\xfe=\xff",
            b"filename=\"=?utf-8?q?=E?=\"",
        ];
        for j in junk {
            let _ = (filename(j, false), filename(j, true));
        }
    }
}
