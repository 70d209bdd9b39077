//! Parser for the `257` reply to PWD (RFC 959 Appendix II).

use crate::error::FtpError;

/// Extracts the directory name from a `257` reply: the text between the first
/// `"` and the next unpaired `"`, with `""` standing for one quote.
///
/// aria2 uses this to learn the login directory, which relative paths in
/// the URI are resolved against.
pub fn parse_pwd(text: &str) -> Result<String, FtpError> {
    let malformed = || FtpError::Malformed {
        what: "257",
        text: text.chars().take(120).collect(),
    };
    let (_, quoted) = text.split_once('"').ok_or_else(malformed)?;
    let mut out = String::new();
    let mut chars = quoted.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Ok(out);
            }
        } else {
            out.push(c);
        }
    }
    Err(malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pwd() {
        assert_eq!(parse_pwd("\"/\" is current directory").unwrap(), "/");
        assert_eq!(parse_pwd("\"/home/a\"\"b\"").unwrap(), "/home/a\"b");
        assert_eq!(parse_pwd("\"\"\"\"\"\"").unwrap(), "\"\"");
        assert_eq!(parse_pwd("PWD is \"/x y\" ok").unwrap(), "/x y");
        assert_eq!(parse_pwd("\"\"").unwrap(), "");
        assert_eq!(parse_pwd("\"/é\"").unwrap(), "/é");
    }

    #[test]
    fn pwd_hostile() {
        for bad in ["", "/", "\"/unterminated", "\"a\"\"", "\""] {
            assert!(parse_pwd(bad).is_err(), "{bad}");
        }
    }
}
