//! Parsers for the passive-mode replies: `227` (PASV) and `229` (EPSV).

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::error::FtpError;

/// Extracts the address from a `227` reply text.
///
/// RFC 959 does not fix the wording, and servers vary (`Entering Passive
/// Mode (h1,h2,h3,h4,p1,p2)`, `=h1,h2,...`, no parentheses), so this finds
/// the first run of six comma-separated numbers 0..=255 anywhere in the text.
/// Port 0 is refused. Callers usually connect to the control connection's
/// host instead of the returned IP when it is private or unroutable, as
/// servers behind NAT often advertise their inside address.
pub fn parse_pasv(text: &str) -> Result<SocketAddrV4, FtpError> {
    let bytes = text.as_bytes();
    let malformed = || FtpError::Malformed {
        what: "227",
        text: text.chars().take(120).collect(),
    };
    let mut start = 0;
    while start < bytes.len() {
        // A number that continues a longer comma list (a seventh field seen
        // from its second element) does not start the address.
        let before = bytes.get(..start).unwrap_or_default();
        let prev_non_space = before.iter().rev().find(|&&b| b != b' ');
        let at_number_start = bytes.get(start).is_some_and(u8::is_ascii_digit)
            && !before.last().is_some_and(u8::is_ascii_digit)
            && prev_non_space != Some(&b',');
        if at_number_start {
            if let Some(nums) = six_numbers(bytes.get(start..).unwrap_or_default()) {
                let [a, b, c, d, p1, p2] = nums;
                let port = u16::from_be_bytes([p1, p2]);
                if port == 0 {
                    return Err(malformed());
                }
                return Ok(SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port));
            }
        }
        start += 1;
    }
    Err(malformed())
}

/// Reads `n,n,n,n,n,n` (spaces allowed after commas) from the start of `s`.
fn six_numbers(s: &[u8]) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut i = 0;
    for (k, slot) in out.iter_mut().enumerate() {
        if k > 0 {
            if s.get(i) != Some(&b',') {
                return None;
            }
            i += 1;
            while s.get(i) == Some(&b' ') {
                i += 1;
            }
        }
        let mut value: u32 = 0;
        let mut digits = 0;
        while let Some(&d) = s.get(i).filter(|d| d.is_ascii_digit()) {
            value = value * 10 + u32::from(d - b'0');
            digits += 1;
            i += 1;
            if digits > 3 {
                return None;
            }
        }
        if digits == 0 {
            return None;
        }
        *slot = u8::try_from(value).ok()?;
    }
    // A seventh number means this is not the address we are looking for.
    if s.get(i) == Some(&b',') && s.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some(out)
}

/// Extracts the port from a `229` reply text: `(<d><d><d>port<d>)` where
/// `<d>` is one printable delimiter, usually `|` (RFC 2428 §3). The data
/// connection goes to the control connection's host.
pub fn parse_epsv(text: &str) -> Result<u16, FtpError> {
    let malformed = || FtpError::Malformed {
        what: "229",
        text: text.chars().take(120).collect(),
    };
    let bytes = text.as_bytes();
    for (open, _) in bytes.iter().enumerate().filter(|(_, &b)| b == b'(') {
        if let Some(port) = epsv_body(bytes.get(open + 1..).unwrap_or_default()) {
            return if port == 0 {
                Err(malformed())
            } else {
                Ok(port)
            };
        }
    }
    Err(malformed())
}

fn epsv_body(s: &[u8]) -> Option<u16> {
    let d = *s.first()?;
    if !(33..=126).contains(&d) || d.is_ascii_digit() {
        return None;
    }
    if s.get(1) != Some(&d) || s.get(2) != Some(&d) {
        return None;
    }
    let rest = s.get(3..)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 5 {
        return None;
    }
    if rest.get(digits) != Some(&d) || rest.get(digits + 1) != Some(&b')') {
        return None;
    }
    let port = std::str::from_utf8(rest.get(..digits)?).ok()?;
    port.parse::<u16>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasv_forms() {
        let want = SocketAddrV4::new(Ipv4Addr::new(192, 168, 0, 10), 4 * 256 + 1);
        assert_eq!(
            parse_pasv("Entering Passive Mode (192,168,0,10,4,1)").unwrap(),
            want
        );
        assert_eq!(
            parse_pasv("Entering Passive Mode (192,168,0,10,4,1).").unwrap(),
            want
        );
        assert_eq!(parse_pasv("=192,168,0,10,4,1").unwrap(), want);
        assert_eq!(parse_pasv("192,168,0,10,4,1").unwrap(), want);
        assert_eq!(
            parse_pasv("Mode 2 is (192, 168, 0, 10, 4, 1)").unwrap(),
            want
        );
        assert_eq!(parse_pasv("x 1,2 then (192,168,0,10,4,1)").unwrap(), want);
    }

    #[test]
    fn pasv_hostile() {
        for bad in [
            "",
            "Entering Passive Mode",
            "(192,168,0,10,4)",
            "(256,168,0,10,4,1)",
            "(192,168,0,10,4,1000)",
            "(0,0,0,0,0,0)",
            "(1,2,3,4,5,6,7)",
            "(0001,2,3,4,5,6)",
            "99999999999999999999999,1,1,1,1,1",
            "(,,,,,)",
        ] {
            assert!(parse_pasv(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn epsv_forms() {
        assert_eq!(
            parse_epsv("Entering Extended Passive Mode (|||6446|)").unwrap(),
            6446
        );
        assert_eq!(parse_epsv("ok (!!!21!)").unwrap(), 21);
        assert_eq!(parse_epsv("a (b) then (|||65535|)").unwrap(), 65535);
    }

    #[test]
    fn epsv_hostile() {
        for bad in [
            "",
            "(|||)",
            "(|||0|)",
            "(|||65536|)",
            "(||6446|)",
            "(|!|6446|)",
            "(|||6446|",
            "(|||6446!)",
            "(111222|)",
            "(",
            "(|||123456|)",
        ] {
            assert!(parse_epsv(bad).is_err(), "{bad}");
        }
    }
}
