//! `Range` request header evaluation against a body of known length.

/// What a single-resource `Range` header asks of a body of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutcome {
    /// No usable range (absent, malformed, multi-range, other unit): 200 with the whole body.
    Full,
    /// 206 for the inclusive byte span `start..=end`.
    Partial {
        /// First byte offset.
        start: u64,
        /// Last byte offset, inclusive (already clipped to the body).
        end: u64,
    },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Evaluates a `Range` header value per RFC 9110 §14.
///
/// Syntactically invalid headers are ignored (200 full), which the RFC
/// permits; multi-range requests are answered with the full body because
/// nothing in arietta sends them. Never panics and never overflows.
pub fn evaluate_range(header: &str, len: u64) -> RangeOutcome {
    let header = header.trim();
    let Some((unit, spec)) = header.split_once('=') else {
        return RangeOutcome::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeOutcome::Full;
    }
    let mut specs = spec.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(one), None) = (specs.next(), specs.next()) else {
        return RangeOutcome::Full;
    };
    let Some((first, last)) = one.split_once('-') else {
        return RangeOutcome::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if first.is_empty() {
        let Some(suffix) = num(last) else {
            return RangeOutcome::Full;
        };
        if suffix == 0 || len == 0 {
            return RangeOutcome::Unsatisfiable;
        }
        return RangeOutcome::Partial {
            start: len.saturating_sub(suffix),
            end: len - 1,
        };
    }
    let Some(start) = num(first) else {
        return RangeOutcome::Full;
    };
    let end = if last.is_empty() {
        None
    } else {
        match num(last) {
            Some(e) if e >= start => Some(e),
            _ => return RangeOutcome::Full,
        }
    };
    if start >= len {
        return RangeOutcome::Unsatisfiable;
    }
    let end = end.map_or(len - 1, |e| e.min(len - 1));
    RangeOutcome::Partial { start, end }
}

#[cfg(test)]
mod tests {
    use super::RangeOutcome::*;
    use super::*;

    #[test]
    fn single_ranges() {
        assert_eq!(
            evaluate_range("bytes=0-9", 100),
            Partial { start: 0, end: 9 }
        );
        assert_eq!(
            evaluate_range("bytes=90-", 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            evaluate_range("bytes=90-500", 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            evaluate_range("bytes=-10", 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            evaluate_range("bytes=-1000", 100),
            Partial { start: 0, end: 99 }
        );
        assert_eq!(
            evaluate_range("Bytes = 5-5", 100),
            Partial { start: 5, end: 5 }
        );
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(evaluate_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(evaluate_range("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(evaluate_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(evaluate_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(evaluate_range("bytes=-5", 0), Unsatisfiable);
    }

    #[test]
    fn ignored_headers() {
        for h in [
            "",
            "bytes",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=0-1,5-6",
            "bytes=-",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(evaluate_range(h, 100), Full, "{h:?}");
        }
        assert_eq!(
            evaluate_range("bytes=0-18446744073709551615", u64::MAX),
            Partial {
                start: 0,
                end: u64::MAX - 1
            }
        );
    }
}
