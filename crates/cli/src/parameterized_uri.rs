//! `-P/--parameterized-uri`: aria2's URI patterns.
//!
//! `{a,b,c}` picks each alternative; `[000-100:2]` counts with a step,
//! zero-padded to the width of the first bound; `[a-z]` / `[A-Z]` count in
//! letters (several letters count in base 26, like aria2's
//! `AlphaNumberDecorator`). Several patterns multiply out, first pattern
//! varying slowest.

/// Most URIs one pattern may expand to: beyond this it is a typo, not a
/// download plan, and would only exhaust memory.
pub const MAX_EXPANSION: usize = 1_000_000;

/// Why a pattern could not be expanded, in aria2's words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    /// The closing bracket that is missing.
    #[error("Missing '{0}' in the parameterized string.")]
    Unterminated(char),
    /// `[1-9:x]`, and `[1-9:0]`, which aria2 accepts and then loops on
    /// forever.
    #[error("A step count must be a positive number.")]
    BadStep,
    #[error("Loop step overflow.")]
    StepOverflow,
    /// No `-` between the bounds.
    #[error("Loop range missing.")]
    RangeMissing,
    /// A bound over 65535.
    #[error("Loop range overflow.")]
    RangeOverflow,
    /// Bounds that are neither both numbers nor both lower- or upper-case
    /// letters.
    #[error("Invalid loop range.")]
    InvalidRange,
    #[error("parameterized URI expands to more than {MAX_EXPANSION} URIs")]
    TooMany,
}

/// aria2's limit on a loop's bounds and step.
const LOOP_MAX: u64 = u16::MAX as u64;

enum Token {
    Literal(String),
    Choice(Vec<String>),
}

/// Expands `pattern` into every URI it names, in aria2's order.
pub fn expand(pattern: &str) -> Result<Vec<String>, PatternError> {
    let tokens = tokenize(pattern)?;
    let mut out = vec![String::new()];
    for t in tokens {
        match t {
            Token::Literal(s) => out.iter_mut().for_each(|u| u.push_str(&s)),
            Token::Choice(alts) => {
                if out.len().saturating_mul(alts.len()) > MAX_EXPANSION {
                    return Err(PatternError::TooMany);
                }
                out = out
                    .iter()
                    .flat_map(|u| alts.iter().map(move |a| format!("{u}{a}")))
                    .collect();
            }
        }
    }
    Ok(out)
}

fn tokenize(p: &str) -> Result<Vec<Token>, PatternError> {
    let mut tokens = Vec::new();
    let mut lit = String::new();
    let mut rest = p;
    while let Some(c) = rest.chars().next() {
        match c {
            '{' => {
                let end = rest.find('}').ok_or(PatternError::Unterminated('}'))?;
                tokens.push(Token::Literal(std::mem::take(&mut lit)));
                let alts = rest[1..end].split(',').map(str::to_owned).collect();
                tokens.push(Token::Choice(alts));
                rest = &rest[end + 1..];
            }
            '[' => {
                let end = rest.find(']').ok_or(PatternError::Unterminated(']'))?;
                tokens.push(Token::Literal(std::mem::take(&mut lit)));
                tokens.push(Token::Choice(range(&rest[1..end])?));
                rest = &rest[end + 1..];
            }
            _ => {
                lit.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    tokens.push(Token::Literal(lit));
    Ok(tokens)
}

/// `START-END[:STEP]`, as aria2's `expandLoop` reads it: the bounds are
/// both numbers or both lower- or upper-case letters (base 26), zero-padded
/// only when written with the same width; a range whose start is past its
/// end names nothing and vanishes from the URI.
fn range(spec: &str) -> Result<Vec<String>, PatternError> {
    let (bounds, step) = match spec.split_once(':') {
        Some((b, s)) => {
            let step: u64 = s.parse().map_err(|_| PatternError::BadStep)?;
            if step == 0 {
                return Err(PatternError::BadStep);
            }
            if step > LOOP_MAX {
                return Err(PatternError::StepOverflow);
            }
            (b, step)
        }
        None => (spec, 1),
    };
    let (a, b) = bounds.split_once('-').ok_or(PatternError::RangeMissing)?;
    let all = |s: &str, f: fn(&u8) -> bool| !s.is_empty() && s.as_bytes().iter().all(f);
    let width = if a.len() == b.len() { a.len() } else { 0 };
    let (start, end, render): (u64, u64, Box<dyn Fn(u64) -> String>) =
        if all(a, u8::is_ascii_digit) && all(b, u8::is_ascii_digit) {
            let n = |s: &str| s.parse::<u64>().map_err(|_| PatternError::RangeMissing);
            (n(a)?, n(b)?, Box::new(move |n| format!("{n:0width$}")))
        } else if all(a, u8::is_ascii_lowercase) && all(b, u8::is_ascii_lowercase) {
            (
                alpha_value(a, b'a'),
                alpha_value(b, b'a'),
                Box::new(move |n| alpha(n, width, b'a')),
            )
        } else if all(a, u8::is_ascii_uppercase) && all(b, u8::is_ascii_uppercase) {
            (
                alpha_value(a, b'A'),
                alpha_value(b, b'A'),
                Box::new(move |n| alpha(n, width, b'A')),
            )
        } else {
            return Err(PatternError::InvalidRange);
        };
    if start > LOOP_MAX || end > LOOP_MAX {
        return Err(PatternError::RangeOverflow);
    }
    if start > end {
        return Ok(vec![String::new()]);
    }
    if (end - start) / step >= MAX_EXPANSION as u64 {
        return Err(PatternError::TooMany);
    }
    Ok((start..=end).step_by(step as usize).map(render).collect())
}

/// `a` = 0, `z` = 25, `ba` = 26: base 26 with `zero` as zero; saturates
/// (anything past 65535 is refused by the caller).
fn alpha_value(s: &str, zero: u8) -> u64 {
    s.bytes().fold(0u64, |acc, c| {
        acc.saturating_mul(26).saturating_add(u64::from(c - zero))
    })
}

fn alpha(mut n: u64, width: usize, zero: u8) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(zero + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    while digits.len() < width {
        digits.push(zero);
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_and_ranges_multiply() {
        assert_eq!(
            expand("http://{a,b}/f[1-3:2]").unwrap(),
            ["http://a/f1", "http://a/f3", "http://b/f1", "http://b/f3"]
        );
        assert_eq!(
            expand("x[08-10]").unwrap(),
            ["x08", "x09", "x10"],
            "zero-padded to the first bound's width"
        );
        assert_eq!(expand("[a-c]").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            expand("x[Y-AB]y").unwrap(),
            ["xy"],
            "start past end names nothing"
        );
        assert_eq!(
            expand("[008-10]").unwrap(),
            ["8", "9", "10"],
            "widths differ: no padding"
        );
        assert_eq!(expand("[az-bb]").unwrap(), ["az", "ba", "bb"]);
        assert_eq!(expand("plain").unwrap(), ["plain"]);
    }

    #[test]
    fn bad_patterns() {
        assert_eq!(expand("{a,b").unwrap_err(), PatternError::Unterminated('}'));
        assert_eq!(expand("a[5-1]b").unwrap(), ["ab"]);
        assert_eq!(expand("[1-x]").unwrap_err(), PatternError::InvalidRange);
        assert_eq!(expand("[-5]").unwrap_err(), PatternError::InvalidRange);
        assert_eq!(expand("[15]").unwrap_err(), PatternError::RangeMissing);
        assert_eq!(expand("[1-2:0]").unwrap_err(), PatternError::BadStep);
        assert_eq!(expand("[1-2:x]").unwrap_err(), PatternError::BadStep);
        assert_eq!(
            expand("[1-2:70000]").unwrap_err(),
            PatternError::StepOverflow
        );
        assert_eq!(
            expand("[0-99999999]").unwrap_err(),
            PatternError::RangeOverflow
        );
        assert_eq!(expand("[1-3").unwrap_err(), PatternError::Unterminated(']'));
        assert_eq!(
            expand("[0-9999][0-9999]").unwrap_err(),
            PatternError::TooMany
        );
    }
}
