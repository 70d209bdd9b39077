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

/// Why a pattern could not be expanded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    /// The closing bracket that is missing (aria2's wording).
    #[error("Missing '{0}' in the parameterized string.")]
    Unterminated(char),
    #[error("bad range [{0}] in parameterized URI")]
    BadRange(String),
    #[error("parameterized URI expands to more than {MAX_EXPANSION} URIs")]
    TooMany,
}

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

/// `START-END[:STEP]`.
fn range(spec: &str) -> Result<Vec<String>, PatternError> {
    let bad = || PatternError::BadRange(spec.to_owned());
    let (bounds, step) = match spec.split_once(':') {
        Some((b, s)) => (b, s.parse::<u64>().ok().filter(|&s| s > 0).ok_or_else(bad)?),
        None => (spec, 1),
    };
    let (a, b) = bounds.split_once('-').ok_or_else(bad)?;
    let all = |s: &str, f: fn(&u8) -> bool| !s.is_empty() && s.as_bytes().iter().all(f);
    let (start, end, render): (u64, u64, Box<dyn Fn(u64) -> String>) =
        if all(a, u8::is_ascii_digit) && all(b, u8::is_ascii_digit) {
            let width = a.len();
            (
                a.parse().map_err(|_| bad())?,
                b.parse().map_err(|_| bad())?,
                Box::new(move |n| format!("{n:0width$}")),
            )
        } else if all(a, u8::is_ascii_lowercase) && all(b, u8::is_ascii_lowercase) {
            let width = a.len();
            (
                alpha_value(a).ok_or_else(bad)?,
                alpha_value(b).ok_or_else(bad)?,
                Box::new(move |n| alpha(n, width, b'a')),
            )
        } else if all(a, u8::is_ascii_uppercase) && all(b, u8::is_ascii_uppercase) {
            let width = a.len();
            (
                alpha_value(&a.to_ascii_lowercase()).ok_or_else(bad)?,
                alpha_value(&b.to_ascii_lowercase()).ok_or_else(bad)?,
                Box::new(move |n| alpha(n, width, b'A')),
            )
        } else {
            return Err(bad());
        };
    if start > end {
        return Err(bad());
    }
    if (end - start) / step >= MAX_EXPANSION as u64 {
        return Err(PatternError::TooMany);
    }
    Ok((start..=end).step_by(step as usize).map(render).collect())
}

/// `a` = 0, `z` = 25, `ba` = 26: base 26 with `a` as zero.
fn alpha_value(s: &str) -> Option<u64> {
    s.bytes().try_fold(0u64, |acc, c| {
        acc.checked_mul(26)?.checked_add(u64::from(c - b'a'))
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
            expand("[Y-AB]").unwrap_err(),
            PatternError::BadRange("Y-AB".into())
        );
        assert_eq!(expand("[az-bb]").unwrap(), ["az", "ba", "bb"]);
        assert_eq!(expand("plain").unwrap(), ["plain"]);
    }

    #[test]
    fn bad_patterns() {
        assert_eq!(expand("{a,b").unwrap_err(), PatternError::Unterminated('}'));
        assert!(matches!(expand("[5-1]"), Err(PatternError::BadRange(_))));
        assert!(matches!(expand("[1-x]"), Err(PatternError::BadRange(_))));
        assert!(matches!(expand("[1-2:0]"), Err(PatternError::BadRange(_))));
        assert_eq!(expand("[0-99999999]").unwrap_err(), PatternError::TooMany);
        assert_eq!(
            expand("[0-9999][0-9999]").unwrap_err(),
            PatternError::TooMany
        );
    }
}
