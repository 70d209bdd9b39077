//! Message framing (RFC 7230 §3.3.3 and §4.1): where a response body ends
//! and which input bytes belong to it (length, chunked, until close).

use std::ops::Range;

use crate::error::HttpError;
use crate::response::ResponseHead;

/// Longest chunk-size line accepted, extensions included.
pub const MAX_CHUNK_LINE: usize = 4096;
/// Largest trailer section accepted after the last chunk.
pub const MAX_TRAILER_SIZE: usize = 64 * 1024;

/// How the end of a response body is determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body at all (HEAD, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes follow.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// The body ends when the server closes the connection; the connection
    /// cannot be reused.
    UntilClose,
}

impl BodyKind {
    /// Applies RFC 7230 §3.3.3 to a response head.
    ///
    /// `Transfer-Encoding` beats `Content-Length`; a transfer coding that
    /// does not end in `chunked` means read-until-close. An invalid
    /// `Content-Length` is an error rather than a guess.
    pub fn for_response(head: &ResponseHead, request_was_head: bool) -> Result<Self, HttpError> {
        if request_was_head || (100..200).contains(&head.status) || matches!(head.status, 204 | 304)
        {
            return Ok(BodyKind::Empty);
        }
        if head.has_transfer_encoding() {
            return Ok(if head.is_chunked() {
                BodyKind::Chunked
            } else {
                BodyKind::UntilClose
            });
        }
        Ok(match head.content_length()? {
            Some(0) => BodyKind::Empty,
            Some(n) => BodyKind::Length(n),
            None => BodyKind::UntilClose,
        })
    }
}

/// One step of framing decoding over an input slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Bytes of the input used up (framing and body); the rest belongs to a
    /// later call or, once `finished`, to the next response.
    pub consumed: usize,
    /// The body bytes found, as a range of the input within `..consumed`.
    pub body: Range<usize>,
    /// Whether the body is complete.
    pub finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SizePhase {
    Digits,
    AfterDigits,
    Extension,
    Cr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length {
        remaining: u64,
    },
    UntilClose,
    ChunkSize {
        size: u64,
        digits: u32,
        phase: SizePhase,
        line_len: usize,
    },
    ChunkData {
        remaining: u64,
    },
    ChunkDataEnd {
        saw_cr: bool,
    },
    Trailer {
        at_line_start: bool,
        saw_cr: bool,
        total: usize,
    },
    Done,
}

const CHUNK_SIZE_START: State = State::ChunkSize {
    size: 0,
    digits: 0,
    phase: SizePhase::Digits,
    line_len: 0,
};

/// Removes message framing from a response body, one input slice at a time.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    body_bytes: u64,
}

impl BodyDecoder {
    /// A decoder for a body framed as `kind`.
    pub fn new(kind: BodyKind) -> Self {
        let state = match kind {
            BodyKind::Empty | BodyKind::Length(0) => State::Done,
            BodyKind::Length(n) => State::Length { remaining: n },
            BodyKind::Chunked => CHUNK_SIZE_START,
            BodyKind::UntilClose => State::UntilClose,
        };
        BodyDecoder {
            state,
            body_bytes: 0,
        }
    }

    /// Whether the whole body has been seen.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// Body bytes produced so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Whether the body is delimited by connection close.
    pub fn is_until_close(&self) -> bool {
        self.state == State::UntilClose
    }

    /// When the decoder is in the middle of raw body bytes, how many may be
    /// read from the stream straight into the caller's buffer (bypassing
    /// `next_span`). `None` while framing bytes are expected.
    pub fn direct_read_limit(&self) -> Option<u64> {
        match self.state {
            State::Length { remaining } | State::ChunkData { remaining } if remaining > 0 => {
                Some(remaining)
            }
            State::UntilClose => Some(u64::MAX),
            _ => None,
        }
    }

    /// Accounts for `n` body bytes the caller read directly; `n` must not
    /// exceed [`direct_read_limit`](Self::direct_read_limit).
    pub fn advance_direct(&mut self, n: usize) -> Result<(), HttpError> {
        let n64 = n as u64;
        if self.direct_read_limit().is_none_or(|limit| n64 > limit) {
            return Err(HttpError::InvalidState(
                "direct read past the body's raw bytes",
            ));
        }
        self.take_data(n64);
        Ok(())
    }

    fn take_data(&mut self, n: u64) {
        self.body_bytes = self.body_bytes.saturating_add(n);
        match &mut self.state {
            State::Length { remaining } => {
                *remaining -= n;
                if *remaining == 0 {
                    self.state = State::Done;
                }
            }
            State::ChunkData { remaining } => {
                *remaining -= n;
                if *remaining == 0 {
                    self.state = State::ChunkDataEnd { saw_cr: false };
                }
            }
            _ => {}
        }
    }

    /// Tells the decoder the stream ended. Fine for a read-until-close body
    /// (which is then finished) or a finished one; otherwise the body was
    /// cut short.
    pub fn on_eof(&mut self) -> Result<(), HttpError> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(HttpError::UnexpectedEof),
        }
    }

    /// Consumes framing from `input` up to and including the next run of
    /// body bytes (at most `max_body` of them) and reports where those are.
    ///
    /// Returns with an empty `body` and `consumed == input.len()` when more
    /// input is needed. With `max_body == 0` no body bytes are consumed.
    pub fn next_span(&mut self, input: &[u8], max_body: usize) -> Result<Span, HttpError> {
        let mut pos = 0usize;
        loop {
            let avail = input.len() - pos;
            match self.state {
                State::Done => {
                    return Ok(Span {
                        consumed: pos,
                        body: pos..pos,
                        finished: true,
                    })
                }
                State::Length { remaining } | State::ChunkData { remaining } => {
                    let n = clamp(remaining, avail.min(max_body));
                    self.take_data(n as u64);
                    return Ok(Span {
                        consumed: pos + n,
                        body: pos..pos + n,
                        finished: self.state == State::Done,
                    });
                }
                State::UntilClose => {
                    let n = avail.min(max_body);
                    self.take_data(n as u64);
                    return Ok(Span {
                        consumed: pos + n,
                        body: pos..pos + n,
                        finished: false,
                    });
                }
                _ => {}
            }
            let Some(&b) = input.get(pos) else {
                return Ok(Span {
                    consumed: pos,
                    body: pos..pos,
                    finished: false,
                });
            };
            pos += 1;
            self.framing_byte(b)?;
        }
    }

    fn framing_byte(&mut self, b: u8) -> Result<(), HttpError> {
        self.state = match self.state {
            State::ChunkSize {
                size,
                digits,
                phase,
                line_len,
            } => {
                let line_len = line_len + 1;
                if line_len > MAX_CHUNK_LINE {
                    return Err(HttpError::BadChunk("chunk size line too long"));
                }
                let next = |phase| State::ChunkSize {
                    size,
                    digits,
                    phase,
                    line_len,
                };
                match (phase, b) {
                    (SizePhase::Digits, b) if b.is_ascii_hexdigit() => {
                        let d = u64::from(hex_value(b));
                        let size = size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(d))
                            .ok_or(HttpError::BadChunk("chunk size overflows"))?;
                        State::ChunkSize {
                            size,
                            digits: digits + 1,
                            phase,
                            line_len,
                        }
                    }
                    (SizePhase::Digits, _) if digits == 0 => {
                        return Err(HttpError::BadChunk("missing chunk size"))
                    }
                    (SizePhase::Digits | SizePhase::AfterDigits, b' ' | b'\t') => {
                        next(SizePhase::AfterDigits)
                    }
                    (SizePhase::Digits | SizePhase::AfterDigits | SizePhase::Extension, b';') => {
                        next(SizePhase::Extension)
                    }
                    (SizePhase::Digits | SizePhase::AfterDigits | SizePhase::Extension, b'\r') => {
                        next(SizePhase::Cr)
                    }
                    (_, b'\n') => {
                        if size == 0 {
                            State::Trailer {
                                at_line_start: true,
                                saw_cr: false,
                                total: 0,
                            }
                        } else {
                            State::ChunkData { remaining: size }
                        }
                    }
                    (SizePhase::Extension, _) => next(SizePhase::Extension),
                    _ => return Err(HttpError::BadChunk("invalid chunk size line")),
                }
            }
            State::ChunkDataEnd { saw_cr } => match (saw_cr, b) {
                (false, b'\r') => State::ChunkDataEnd { saw_cr: true },
                (_, b'\n') => CHUNK_SIZE_START,
                _ => return Err(HttpError::BadChunk("missing CRLF after chunk data")),
            },
            State::Trailer {
                at_line_start,
                saw_cr,
                total,
            } => {
                let total = total + 1;
                if total > MAX_TRAILER_SIZE {
                    return Err(HttpError::BadChunk("trailer section too large"));
                }
                match (at_line_start, saw_cr, b) {
                    (true, _, b'\n') => State::Done,
                    (true, false, b'\r') => State::Trailer {
                        at_line_start: true,
                        saw_cr: true,
                        total,
                    },
                    (true, true, _) => return Err(HttpError::BadChunk("bad trailer line ending")),
                    (_, _, b'\n') => State::Trailer {
                        at_line_start: true,
                        saw_cr: false,
                        total,
                    },
                    _ => State::Trailer {
                        at_line_start: false,
                        saw_cr: false,
                        total,
                    },
                }
            }
            State::Length { .. } | State::ChunkData { .. } | State::UntilClose | State::Done => {
                return Err(HttpError::InvalidState("framing byte outside framing"))
            }
        };
        Ok(())
    }

    /// Decodes as much of `input` as possible, appending body bytes to
    /// `out`. Returns the bytes of `input` consumed and whether the body is
    /// complete; unconsumed bytes after completion belong to the next
    /// response.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), HttpError> {
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or(&[]);
            let span = self.next_span(rest, usize::MAX)?;
            if let Some(body) = rest.get(span.body.clone()) {
                out.extend_from_slice(body);
            }
            pos += span.consumed;
            if span.finished || pos >= input.len() || span.consumed == 0 {
                return Ok((pos, span.finished));
            }
        }
    }
}

fn clamp(remaining: u64, avail: usize) -> usize {
    usize::try_from(remaining).map_or(avail, |r| r.min(avail))
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::parse_head;

    fn kind(raw: &str, was_head: bool) -> Result<BodyKind, HttpError> {
        let (h, _) = parse_head(raw.as_bytes()).unwrap().unwrap();
        BodyKind::for_response(&h, was_head)
    }

    #[test]
    fn body_kind_rules() {
        assert_eq!(
            kind("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false).unwrap(),
            BodyKind::Length(5)
        );
        assert_eq!(
            kind("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true).unwrap(),
            BodyKind::Empty
        );
        assert_eq!(
            kind("HTTP/1.1 204 No\r\nContent-Length: 5\r\n\r\n", false).unwrap(),
            BodyKind::Empty
        );
        assert_eq!(
            kind("HTTP/1.1 304 NM\r\n\r\n", false).unwrap(),
            BodyKind::Empty
        );
        assert_eq!(
            kind("HTTP/1.1 100 Continue\r\n\r\n", false).unwrap(),
            BodyKind::Empty
        );
        assert_eq!(
            kind("HTTP/1.1 200 OK\r\n\r\n", false).unwrap(),
            BodyKind::UntilClose
        );
        assert_eq!(
            kind("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false).unwrap(),
            BodyKind::Empty
        );
        assert_eq!(
            kind(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                false
            )
            .unwrap(),
            BodyKind::Chunked
        );
        assert_eq!(
            kind("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false).unwrap(),
            BodyKind::UntilClose
        );
        assert!(kind("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
    }

    /// Feeds `input` in pieces of `step` bytes, the way a socket delivers it.
    fn decode_in_steps(
        kind: BodyKind,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, usize, bool), HttpError> {
        let mut d = BodyDecoder::new(kind);
        let mut out = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut total_consumed = 0;
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            let (n, fin) = d.decode(&buf, &mut out)?;
            buf.drain(..n);
            total_consumed += n;
            if fin {
                return Ok((out, total_consumed, true));
            }
        }
        Ok((out, total_consumed, d.is_finished()))
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let wire = b"5;name=\"va;l\"\r\nhello\r\n6 ; x\r\n world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\nY: z\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, 100] {
            let (out, consumed, fin) = decode_in_steps(BodyKind::Chunked, wire, step).unwrap();
            assert!(fin, "step {step}");
            assert_eq!(out, b"hello world0123456789");
            assert_eq!(&wire[consumed..], b"NEXT");
        }
    }

    #[test]
    fn chunked_bare_lf_and_leading_zeros() {
        let wire = b"0005\nhello\n00\n\n";
        let (out, consumed, fin) = decode_in_steps(BodyKind::Chunked, wire, 1).unwrap();
        assert!(fin);
        assert_eq!(out, b"hello");
        assert_eq!(consumed, wire.len());
    }

    #[test]
    fn chunked_errors() {
        let bad: &[&[u8]] = &[
            b"\r\n",
            b"g\r\n",
            b"-1\r\n",
            b"5\r\nhelloX\r\n",
            b"5\rX",
            b"10000000000000000\r\n",
            b"0\r\n\rX",
            b"5 5\r\n",
        ];
        for wire in bad {
            assert!(
                decode_in_steps(BodyKind::Chunked, wire, 1).is_err(),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        // Largest representable size is fine (and needs more data).
        let (_, _, fin) = decode_in_steps(BodyKind::Chunked, b"ffffffffffffffff\r\nab", 1).unwrap();
        assert!(!fin);
        let mut long = b"1;".to_vec();
        long.resize(MAX_CHUNK_LINE + 1, b'x');
        assert!(decode_in_steps(BodyKind::Chunked, &long, 64).is_err());
        let mut trailer = b"0\r\n".to_vec();
        for _ in 0..MAX_TRAILER_SIZE / 8 + 1 {
            trailer.extend_from_slice(b"X: abc\r\n");
        }
        assert!(decode_in_steps(BodyKind::Chunked, &trailer, 4096).is_err());
    }

    #[test]
    fn length_and_until_close() {
        let (out, consumed, fin) = decode_in_steps(BodyKind::Length(5), b"helloEXTRA", 3).unwrap();
        assert!(fin);
        assert_eq!(out, b"hello");
        assert_eq!(consumed, 5);
        let mut d = BodyDecoder::new(BodyKind::Length(5));
        let mut out = Vec::new();
        d.decode(b"hel", &mut out).unwrap();
        assert!(matches!(d.on_eof(), Err(HttpError::UnexpectedEof)));
        let mut d = BodyDecoder::new(BodyKind::UntilClose);
        assert_eq!(d.decode(b"abc", &mut out).unwrap(), (3, false));
        d.on_eof().unwrap();
        assert!(d.is_finished());
        let mut d = BodyDecoder::new(BodyKind::Empty);
        assert_eq!(d.decode(b"HTTP/1.1", &mut out).unwrap(), (0, true));
    }

    #[test]
    fn zero_copy_spans_and_direct_reads() {
        let wire = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let mut d = BodyDecoder::new(BodyKind::Chunked);
        let s = d.next_span(wire, 2).unwrap();
        assert_eq!((s.consumed, s.body.clone(), s.finished), (5, 3..5, false));
        assert_eq!(d.direct_read_limit(), Some(1));
        d.advance_direct(1).unwrap();
        assert!(d.advance_direct(1).is_err());
        let s = d.next_span(&wire[6..], 100).unwrap();
        assert_eq!(&wire[6..][s.body.clone()], b"de");
        let s2 = d.next_span(&wire[6 + s.consumed..], 100).unwrap();
        assert!(s2.finished);
        assert_eq!(6 + s.consumed + s2.consumed, wire.len());
        assert_eq!(d.body_bytes(), 5);

        let mut d = BodyDecoder::new(BodyKind::Length(u64::MAX));
        assert_eq!(d.direct_read_limit(), Some(u64::MAX));
        assert_eq!(d.next_span(b"xyz", 0).unwrap().consumed, 0);
    }

    /// A stream that ends anywhere inside chunked framing (size line, data,
    /// data CRLF, trailer) is cut short; only the complete body may end.
    #[test]
    fn eof_in_every_chunked_state_is_unexpected() {
        let wire = b"3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n";
        for cut in 0..wire.len() {
            let mut d = BodyDecoder::new(BodyKind::Chunked);
            let mut out = Vec::new();
            let (consumed, fin) = d.decode(&wire[..cut], &mut out).unwrap();
            assert!(!fin, "cut {cut}");
            assert_eq!(consumed, cut);
            assert!(!d.is_until_close());
            assert!(
                matches!(d.on_eof(), Err(HttpError::UnexpectedEof)),
                "cut {cut}"
            );
        }
        let mut d = BodyDecoder::new(BodyKind::Chunked);
        let mut out = Vec::new();
        assert_eq!(d.decode(wire, &mut out).unwrap(), (wire.len(), true));
        assert_eq!(out, b"abc");
        d.on_eof().unwrap();
    }
}
