//! File names from metalink documents are attacker-chosen paths; this is the
//! one gate they pass before reaching the file system.

/// Returns the name if it is a safe relative path, `None` otherwise.
///
/// Refused: empty names, absolute paths (`/x`, `\x`, `C:x`), any `..` or `.`
/// component, empty components (`a//b`, trailing `/`), NUL and other control
/// characters. Backslashes count as separators for these checks because the
/// same document may be used on Windows. aria2 likewise skips such entries
/// rather than rewriting them, so a user never gets a file somewhere other
/// than the name the document shows.
pub fn sanitize_file_name(name: &str) -> Option<&str> {
    if name.is_empty() || name.chars().any(char::is_control) {
        return None;
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return None;
    }
    if let [drive, b':', ..] = name.as_bytes() {
        if drive.is_ascii_alphabetic() {
            return None;
        }
    }
    let bad = name
        .split(['/', '\\'])
        .any(|part| part.is_empty() || part == "." || part == "..");
    (!bad).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::sanitize_file_name as s;

    #[test]
    fn accepts_plain_and_nested() {
        assert_eq!(s("file.iso"), Some("file.iso"));
        assert_eq!(s("dir/sub/file..iso"), Some("dir/sub/file..iso"));
        assert_eq!(s("..hidden"), Some("..hidden"));
    }

    #[test]
    fn refuses_traversal_and_absolute() {
        for bad in [
            "",
            "..",
            "../x",
            "a/../b",
            "a/..",
            "/etc/passwd",
            "\\x",
            "a\\..\\b",
            "C:\\x",
            "c:x",
            "a//b",
            "a/",
            "./a",
            "a/./b",
            "a\0b",
            "a\nb",
        ] {
            assert_eq!(s(bad), None, "{bad:?}");
        }
    }
}
