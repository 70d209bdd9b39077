//! Parsers for the `213` replies to SIZE (RFC 3659 §4) and MDTM (§3).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::FtpError;

/// Parses the size from a `213` reply to SIZE: decimal digits only.
pub fn parse_size(text: &str) -> Result<u64, FtpError> {
    let t = text.trim();
    let malformed = || FtpError::Malformed {
        what: "SIZE",
        text: text.chars().take(120).collect(),
    };
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    t.parse::<u64>().map_err(|_| malformed())
}

/// Parses `YYYYMMDDhhmmss[.sss]` (UTC) from a `213` reply to MDTM, for
/// `--remote-time`. Out-of-range fields are refused rather than normalised,
/// so a broken server cannot set a silly timestamp; a leap second (60) is
/// clamped to 59.
pub fn parse_mdtm(text: &str) -> Result<SystemTime, FtpError> {
    let t = text.trim();
    let malformed = || FtpError::Malformed {
        what: "MDTM",
        text: text.chars().take(120).collect(),
    };
    let (main, frac) = match t.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (t, None),
    };
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let field = |r: std::ops::Range<usize>| -> Result<u32, FtpError> {
        main.get(r)
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(malformed)
    };
    let year = field(0..4)?;
    let month = field(4..6)?;
    let day = field(6..8)?;
    let hour = field(8..10)?;
    let minute = field(10..12)?;
    let second = field(12..14)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(malformed());
    }
    let nanos = match frac {
        None => 0,
        Some(f) => {
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            let digits: u32 = f.parse().map_err(|_| malformed())?;
            let scale = 10u32.pow(9 - f.len() as u32);
            digits.saturating_mul(scale)
        }
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second.min(59));
    let time = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nanos))))
    };
    time.ok_or_else(malformed)
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`); exact for the 0..=9999 years MDTM can express.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size() {
        assert_eq!(parse_size("1234").unwrap(), 1234);
        assert_eq!(parse_size(" 0 ").unwrap(), 0);
        assert_eq!(parse_size("18446744073709551615").unwrap(), u64::MAX);
        for bad in ["", "+1", "-1", "12a", "18446744073709551616", "1 2"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mdtm() {
        let t = parse_mdtm("20231114221320").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let t = parse_mdtm("20231114221320.5").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::new(1_700_000_000, 500_000_000));
        assert_eq!(parse_mdtm("19700101000000").unwrap(), UNIX_EPOCH);
        assert_eq!(
            parse_mdtm("19691231235959").unwrap(),
            UNIX_EPOCH - Duration::from_secs(1)
        );
        assert_eq!(
            parse_mdtm("20000229000000").unwrap(),
            UNIX_EPOCH + Duration::from_secs(951_782_400)
        );
        assert!(parse_mdtm("00000101000000").is_ok());
        assert!(parse_mdtm("99991231235960.999999999").is_ok());
    }

    #[test]
    fn mdtm_hostile() {
        for bad in [
            "",
            "2023111422132",
            "202311142213200",
            "20231314221320",
            "20230229000000",
            "19000229000000",
            "20231100221320",
            "20231114241320",
            "20231114226020",
            "20231114221361",
            "20231114221320.",
            "20231114221320.1234567890",
            "2023111422132x",
            "+2023111422132",
            "191231114221320",
        ] {
            assert!(parse_mdtm(bad).is_err(), "{bad}");
        }
    }
}
