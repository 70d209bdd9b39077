//! HTTP date parsing and formatting without a calendar crate.
//!
//! Parsing follows the lenient algorithm of RFC 6265 §5.1.1 rather than the
//! three exact grammars of RFC 7231 §7.1.1.1: it accepts IMF-fixdate
//! (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37
//! GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) as well as the many broken
//! variants real servers emit in `Expires` and `Last-Modified`, which is what
//! both RFCs ask recipients to be.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Parses an HTTP or cookie date; `None` when it is not a valid date.
pub fn parse_http_date(input: &[u8]) -> Option<SystemTime> {
    let secs = parse_date_secs(input)?;
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

/// Formats `t` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only
/// form a sender may generate (RFC 7231 §7.1.1.1).
pub fn format_http_date(t: SystemTime) -> String {
    let secs: i64 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX / 2),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = (days + 4).rem_euclid(7) as usize;
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAY_NAMES[weekday],
        d,
        MONTH_NAMES[(m - 1) as usize],
        y,
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn is_delimiter(b: u8) -> bool {
    matches!(b, 0x09 | 0x20..=0x2f | 0x3b..=0x40 | 0x5b..=0x60 | 0x7b..=0x7e)
}

/// Splits a leading run of 1..=max digits; the rest must not start with a digit.
fn leading_digits(tok: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let n = tok.iter().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    let value = tok[..n]
        .iter()
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
    Some((value, &tok[n..]))
}

fn parse_time(tok: &[u8]) -> Option<(u32, u32, u32)> {
    let (h, rest) = leading_digits(tok, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let (m, rest) = leading_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let (s, _) = leading_digits(rest, 1, 2)?;
    Some((h, m, s))
}

fn parse_date_secs(input: &[u8]) -> Option<i64> {
    let mut time = None;
    let mut day = None;
    let mut month = None;
    let mut year = None;
    for tok in input.split(|&b| is_delimiter(b)).filter(|t| !t.is_empty()) {
        if time.is_none() {
            if let Some(t) = parse_time(tok) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some((d, _)) = leading_digits(tok, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() && tok.len() >= 3 {
            let prefix = [
                tok[0].to_ascii_lowercase(),
                tok[1].to_ascii_lowercase(),
                tok[2].to_ascii_lowercase(),
            ];
            if let Some(i) = MONTHS.iter().position(|m| **m == prefix) {
                month = Some(i as u32 + 1);
                continue;
            }
        }
        if year.is_none() {
            if let Some((y, _)) = leading_digits(tok, 2, 4) {
                year = Some(y);
                continue;
            }
        }
    }
    let (h, mi, s) = time?;
    let (d, mo, mut y) = (day?, month?, year?);
    if y < 70 {
        y += 2000;
    } else if y < 100 {
        y += 1900;
    }
    if y < 1601 || h > 23 || mi > 59 || s > 59 || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s))
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        // Leap year: divisible by 4 and not by 100, or divisible by 400.
        2 if matches!((y % 4, y % 100, y % 400), (0, 1.., _) | (_, _, 0)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> Option<i64> {
        parse_date_secs(s.as_bytes())
    }

    #[test]
    fn three_rfc7231_forms() {
        let want = Some(784_111_777);
        assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), want);
        assert_eq!(secs("Sunday, 06-Nov-94 08:49:37 GMT"), want);
        assert_eq!(secs("Sun Nov  6 08:49:37 1994"), want);
    }

    #[test]
    fn lenient_and_invalid() {
        assert_eq!(secs("06 nov 1994 8:49:37"), Some(784_111_777));
        assert_eq!(secs("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(secs("Wed, 31 Dec 1969 23:59:59 GMT"), Some(-1));
        assert_eq!(secs("Mon, 29 Feb 2021 00:00:00 GMT"), None);
        assert_eq!(secs("Tue, 29 Feb 2000 00:00:00 GMT"), Some(951_782_400));
        assert_eq!(secs("Sun, 06 Nov 1994 24:00:00 GMT"), None);
        assert_eq!(secs("Sun, 06 Nov 1500 08:49:37 GMT"), None);
        assert_eq!(secs(""), None);
        assert_eq!(secs("0"), None);
        assert_eq!(secs("99999999999999999999:1:1 1 jan 2000"), None);
        assert!(parse_http_date(b"\xff\xfe Jan 1 1:1:1 2000").is_some());
    }

    #[test]
    fn format_round_trip() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(format_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date(format_http_date(t).as_bytes()), Some(t));
        for s in [0i64, 951_782_400, 4_102_444_800, 253_402_300_799] {
            let t = UNIX_EPOCH + Duration::from_secs(s as u64);
            assert_eq!(parse_http_date(format_http_date(t).as_bytes()), Some(t));
        }
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(format_http_date(before), "Wed, 31 Dec 1969 23:59:59 GMT");
    }
}
