//! The strict, bounded decoder.

use crate::error::Error;
use crate::value::{Value, ValueKind};

/// Resource bounds for one decode. The defaults admit torrents with hundreds
/// of thousands of files yet refuse bencode bombs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest list/dict nesting accepted (the decoder recurses per level).
    pub max_depth: usize,
    /// Most values (of any type, containers included) in one input.
    pub max_items: usize,
    /// Largest input in bytes.
    pub max_input: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_items: 4_000_000,
            max_input: 64 << 20,
        }
    }
}

/// Decodes exactly one value spanning all of `input`, with default limits.
pub fn decode(input: &[u8]) -> Result<Value<'_>, Error> {
    decode_with(input, Limits::default())
}

/// Decodes exactly one value spanning all of `input`.
pub fn decode_with(input: &[u8], limits: Limits) -> Result<Value<'_>, Error> {
    let (value, rest) = decode_prefix_with(input, limits)?;
    if !rest.is_empty() {
        return Err(Error::TrailingData {
            offset: value.span.end,
            count: rest.len(),
        });
    }
    Ok(value)
}

/// Decodes one value from the start of `input` and returns the bytes after
/// it — for messages that append raw data after a bencoded header
/// (ut_metadata `data` pieces).
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, &[u8]), Error> {
    decode_prefix_with(input, Limits::default())
}

/// [`decode_prefix`] with explicit limits.
pub fn decode_prefix_with(input: &[u8], limits: Limits) -> Result<(Value<'_>, &[u8]), Error> {
    if input.len() > limits.max_input {
        return Err(Error::TooLarge {
            size: input.len(),
            limit: limits.max_input,
        });
    }
    let mut d = Decoder {
        input,
        pos: 0,
        items: 0,
        limits,
    };
    let value = d.value(0)?;
    let rest = input.get(d.pos..).unwrap_or_default();
    Ok((value, rest))
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    items: usize,
    limits: Limits,
}

impl<'a> Decoder<'a> {
    fn peek(&self) -> Result<u8, Error> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(Error::UnexpectedEof { offset: self.pos })
    }

    fn count_item(&mut self) -> Result<(), Error> {
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(Error::TooManyItems {
                limit: self.limits.max_items,
            });
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, Error> {
        self.count_item()?;
        let start = self.pos;
        let kind = match self.peek()? {
            b'i' => {
                self.pos += 1;
                ValueKind::Int(self.int()?)
            }
            b'0'..=b'9' => ValueKind::Bytes(self.bytes()?),
            b'l' => {
                if depth >= self.limits.max_depth {
                    return Err(Error::TooDeep {
                        limit: self.limits.max_depth,
                    });
                }
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                ValueKind::List(items)
            }
            b'd' => {
                if depth >= self.limits.max_depth {
                    return Err(Error::TooDeep {
                        limit: self.limits.max_depth,
                    });
                }
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    match self.peek()? {
                        b'e' => break,
                        b'0'..=b'9' => {}
                        _ => return Err(Error::NonStringKey { offset: self.pos }),
                    }
                    self.count_item()?;
                    let key = self.bytes()?;
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                }
                self.pos += 1;
                ValueKind::Dict(entries)
            }
            byte => {
                return Err(Error::UnexpectedByte {
                    byte,
                    offset: self.pos,
                })
            }
        };
        let span = start..self.pos;
        let raw = self.input.get(span.clone()).unwrap_or_default();
        Ok(Value { kind, raw, span })
    }

    /// Reads the digits of an integer after `i`, through the closing `e`.
    fn int(&mut self) -> Result<i64, Error> {
        let start = self.pos;
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        let mut value: i64 = 0;
        loop {
            let b = self.peek()?;
            if b == b'e' {
                break;
            }
            if !b.is_ascii_digit() {
                return Err(Error::UnexpectedByte {
                    byte: b,
                    offset: self.pos,
                });
            }
            let digit = i64::from(b - b'0');
            // Accumulate negatively so i64::MIN is representable.
            value = value
                .checked_mul(10)
                .and_then(|v| {
                    if negative {
                        v.checked_sub(digit)
                    } else {
                        v.checked_add(digit)
                    }
                })
                .ok_or(Error::Overflow { offset: start })?;
            self.pos += 1;
        }
        let ndigits = self.pos - digits_start;
        let first = self.input.get(digits_start).copied();
        if ndigits == 0 || (first == Some(b'0') && (ndigits > 1 || negative)) {
            return Err(Error::BadNumber { offset: start });
        }
        self.pos += 1; // the 'e'
        Ok(value)
    }

    /// Reads `<len>:<bytes>`.
    fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let start = self.pos;
        let mut len: usize = 0;
        loop {
            let b = self.peek()?;
            if b == b':' {
                break;
            }
            if !b.is_ascii_digit() {
                return Err(Error::UnexpectedByte {
                    byte: b,
                    offset: self.pos,
                });
            }
            len = len
                .checked_mul(10)
                .and_then(|l| l.checked_add(usize::from(b - b'0')))
                .ok_or(Error::Overflow { offset: start })?;
            self.pos += 1;
        }
        let ndigits = self.pos - start;
        if ndigits == 0 || (ndigits > 1 && self.input.get(start) == Some(&b'0')) {
            return Err(Error::BadNumber { offset: start });
        }
        self.pos += 1; // the ':'
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.input.len())
            .ok_or(Error::UnexpectedEof {
                offset: self.input.len(),
            })?;
        let bytes = self.input.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &[u8]) -> Error {
        decode(input).expect_err(&format!("{:?} should fail", String::from_utf8_lossy(input)))
    }

    #[test]
    fn integers() {
        assert_eq!(decode(b"i0e").unwrap().as_int(), Some(0));
        assert_eq!(decode(b"i-42e").unwrap().as_int(), Some(-42));
        assert_eq!(
            decode(b"i9223372036854775807e").unwrap().as_int(),
            Some(i64::MAX)
        );
        assert_eq!(
            decode(b"i-9223372036854775808e").unwrap().as_int(),
            Some(i64::MIN)
        );
        assert!(matches!(
            err(b"i9223372036854775808e"),
            Error::Overflow { .. }
        ));
        assert!(matches!(
            err(b"i-9223372036854775809e"),
            Error::Overflow { .. }
        ));
        assert!(matches!(err(b"i-0e"), Error::BadNumber { .. }));
        assert!(matches!(err(b"i03e"), Error::BadNumber { .. }));
        assert!(matches!(err(b"i-03e"), Error::BadNumber { .. }));
        assert!(matches!(err(b"ie"), Error::BadNumber { .. }));
        assert!(matches!(err(b"i-e"), Error::BadNumber { .. }));
        assert!(matches!(err(b"i+1e"), Error::UnexpectedByte { .. }));
        assert!(matches!(err(b"i1"), Error::UnexpectedEof { .. }));
        assert!(matches!(err(b"i1.5e"), Error::UnexpectedByte { .. }));
    }

    #[test]
    fn strings() {
        assert_eq!(decode(b"0:").unwrap().as_bytes(), Some(&b""[..]));
        assert_eq!(decode(b"4:spam").unwrap().as_str(), Some("spam"));
        assert!(matches!(err(b"04:spam"), Error::BadNumber { .. }));
        assert!(matches!(err(b"5:spam"), Error::UnexpectedEof { .. }));
        assert!(matches!(err(b"4spam"), Error::UnexpectedByte { .. }));
        assert!(matches!(err(b"4"), Error::UnexpectedEof { .. }));
        assert!(matches!(
            err(b"99999999999999999999999999:x"),
            Error::Overflow { .. }
        ));
        assert!(matches!(
            err(b"18446744073709551615:x"),
            Error::UnexpectedEof { .. }
        ));
    }

    #[test]
    fn containers_keep_order_and_spans() {
        let input = b"d1:zi1e1:al4:spami-3eee";
        let v = decode(input).unwrap();
        let d = v.as_dict().unwrap();
        assert_eq!(d[0].0, b"z");
        assert_eq!(d[1].0, b"a");
        let list = v.get("a").unwrap();
        assert_eq!(list.raw, b"l4:spami-3ee");
        assert_eq!(&input[list.span.clone()], list.raw);
        assert_eq!(list.as_list().unwrap()[1].raw, b"i-3e");
        assert_eq!(v.raw, &input[..]);
    }

    #[test]
    fn structural_errors() {
        assert!(matches!(err(b""), Error::UnexpectedEof { .. }));
        assert!(matches!(err(b"l"), Error::UnexpectedEof { .. }));
        assert!(matches!(err(b"d1:a"), Error::UnexpectedEof { .. }));
        assert!(matches!(err(b"di1ei2ee"), Error::NonStringKey { .. }));
        assert!(matches!(err(b"x"), Error::UnexpectedByte { .. }));
        assert!(matches!(err(b"e"), Error::UnexpectedByte { .. }));
        assert!(matches!(
            err(b"i1ei2e"),
            Error::TrailingData {
                offset: 3,
                count: 3
            }
        ));
    }

    #[test]
    fn prefix_returns_rest() {
        let (v, rest) = decode_prefix(b"d8:msg_typei1ee\x00\x01raw").unwrap();
        assert_eq!(v.get("msg_type").unwrap().as_int(), Some(1));
        assert_eq!(rest, b"\x00\x01raw");
    }

    #[test]
    fn bombs_are_refused() {
        let deep: Vec<u8> = std::iter::repeat_n(b'l', 100_000)
            .chain(std::iter::repeat_n(b'e', 100_000))
            .collect();
        assert!(matches!(err(&deep), Error::TooDeep { limit: 64 }));
        let ok: Vec<u8> = std::iter::repeat_n(b'l', 64)
            .chain(std::iter::repeat_n(b'e', 64))
            .collect();
        assert!(decode(&ok).is_ok());

        let limits = Limits {
            max_items: 1000,
            ..Limits::default()
        };
        let mut many = vec![b'l'];
        many.extend(std::iter::repeat_n(&b"i0e"[..], 1000).flatten());
        many.push(b'e');
        assert!(matches!(
            decode_with(&many, limits),
            Err(Error::TooManyItems { limit: 1000 })
        ));
        let small = Limits {
            max_input: 4,
            ..Limits::default()
        };
        assert!(matches!(
            decode_with(b"4:spam", small),
            Err(Error::TooLarge { size: 6, limit: 4 })
        ));
    }
}
