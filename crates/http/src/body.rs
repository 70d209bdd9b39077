//! Incremental, I/O-free body decoding: message framing (RFC 7230 §3.3.3 and
//! §4.1) and content codings (gzip, deflate).
//!
//! The framing decoder never copies body bytes on its own: [`BodyDecoder::next_span`]
//! tells the caller which part of its input is body, so the identity hot path
//! can write straight from the socket buffer to disk. [`BodyDecoder::decode`]
//! is the convenient copying form for small bodies and tests.

use std::ops::Range;

use flate2::{Decompress, FlushDecompress, Status};

use crate::error::HttpError;
use crate::response::{Encoding, ResponseHead};

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

/// Undoes a `Content-Encoding` (after framing has been removed).
///
/// For `Identity` and `Unsupported` it copies input through unchanged, but
/// callers on the hot path should skip it entirely in that case.
pub struct ContentDecoder {
    encoding: Encoding,
    inflater: Option<Decompress>,
    sniff: Vec<u8>,
    /// Inflate output lands here first: zero-filled once, reused, so no
    /// per-call initialisation of the caller's buffer is needed.
    scratch: Vec<u8>,
    input_seen: u64,
    produced: u64,
    limit: Option<u64>,
    ended: bool,
}

/// Output produced per inflate call: the size of the scratch buffer.
const INFLATE_STEP: usize = 64 * 1024;

impl ContentDecoder {
    /// A decoder for `encoding` with no output limit.
    pub fn new(encoding: Encoding) -> Self {
        let inflater = match encoding {
            Encoding::Gzip => Some(Decompress::new_gzip(15)),
            _ => None,
        };
        ContentDecoder {
            encoding,
            inflater,
            sniff: Vec::new(),
            scratch: Vec::new(),
            input_seen: 0,
            produced: 0,
            limit: None,
            ended: false,
        }
    }

    /// Fails decoding once more than `limit` bytes have been produced, so a
    /// tiny compressed response cannot fill the disk or memory.
    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Decoded bytes produced so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// Whether the compressed stream reached its end marker.
    pub fn is_finished(&self) -> bool {
        self.ended
    }

    fn encoding_name(&self) -> &'static str {
        match self.encoding {
            Encoding::Gzip => "gzip",
            _ => "deflate",
        }
    }

    /// Decodes all of `input`, appending to `out`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), HttpError> {
        let mut pos = 0;
        while pos < input.len() {
            let rest = input.get(pos..).unwrap_or(&[]);
            let before = out.len();
            let used = self.decode_bounded(rest, out, INFLATE_STEP)?;
            if used == 0 && out.len() == before {
                return Err(HttpError::Decompress {
                    encoding: self.encoding_name(),
                    detail: String::from("inflater made no progress"),
                });
            }
            pos += used;
        }
        // Flush output the inflater still holds for already-consumed input.
        while matches!(self.encoding, Encoding::Gzip | Encoding::Deflate)
            && !self.ended
            && self.inflater.is_some()
        {
            let before = out.len();
            self.decode_bounded(&[], out, INFLATE_STEP)?;
            if out.len() == before {
                break;
            }
        }
        Ok(())
    }

    /// Decodes from `input`, appending at most `max_out` bytes to `out`.
    /// Returns how many input bytes were consumed; call again with the rest
    /// (or with an empty slice to drain pending output).
    pub fn decode_bounded(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_out: usize,
    ) -> Result<usize, HttpError> {
        match self.encoding {
            Encoding::Identity | Encoding::Unsupported => {
                let n = input.len().min(max_out);
                out.extend_from_slice(input.get(..n).unwrap_or(&[]));
                self.note_output(n)?;
                return Ok(n);
            }
            Encoding::Gzip | Encoding::Deflate => {}
        }
        let mut consumed = 0;
        let mut input = input;
        if self.inflater.is_none() {
            // Raw deflate from broken servers vs. RFC-correct zlib wrapping
            // is decided from the first two bytes, which may arrive apart.
            let need = 2 - self.sniff.len().min(2);
            let take = need.min(input.len());
            self.sniff
                .extend_from_slice(input.get(..take).unwrap_or(&[]));
            consumed += take;
            input = input.get(take..).unwrap_or(&[]);
            let [cmf, flg] = match self.sniff[..] {
                [a, b] => [a, b],
                _ => return Ok(consumed),
            };
            let zlib = cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0;
            self.inflater = Some(Decompress::new(zlib));
            let sniffed = std::mem::take(&mut self.sniff);
            let mut pending: &[u8] = &sniffed;
            while !pending.is_empty() {
                let used = self.inflate(pending, out, usize::MAX)?;
                if used == 0 {
                    break;
                }
                pending = pending.get(used..).unwrap_or(&[]);
            }
        }
        let used = self.inflate(input, out, max_out)?;
        Ok(consumed + used)
    }

    fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max_out: usize,
    ) -> Result<usize, HttpError> {
        let name = self.encoding_name();
        let start_len = out.len();
        let mut consumed = 0;
        loop {
            if self.ended {
                // A further gzip member (concatenated gzip files) restarts
                // the inflater; anything else after the end is junk some
                // servers append, and is ignored.
                if self.encoding == Encoding::Gzip && input.first() == Some(&0x1f) {
                    self.inflater = Some(Decompress::new_gzip(15));
                    self.ended = false;
                } else {
                    consumed += input.len();
                    self.input_seen = self.input_seen.saturating_add(input.len() as u64);
                    return Ok(consumed);
                }
            }
            let room = max_out.saturating_sub(out.len() - start_len);
            if room == 0 {
                return Ok(consumed);
            }
            let step = room.min(INFLATE_STEP);
            let Some(inflater) = self.inflater.as_mut() else {
                return Ok(consumed);
            };
            if self.scratch.len() < INFLATE_STEP {
                self.scratch.resize(INFLATE_STEP, 0);
            }
            let scratch = self.scratch.get_mut(..step).unwrap_or(&mut []);
            let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
            let status = inflater.decompress(input, scratch, FlushDecompress::None);
            let used = (inflater.total_in() - in_before) as usize;
            let produced = (inflater.total_out() - out_before) as usize;
            out.extend_from_slice(scratch.get(..produced).unwrap_or(&[]));
            let status = status.map_err(|e| HttpError::Decompress {
                encoding: name,
                detail: e.to_string(),
            })?;
            input = input.get(used..).unwrap_or(&[]);
            consumed += used;
            self.input_seen = self.input_seen.saturating_add(used as u64);
            self.note_output(produced)?;
            if status == Status::StreamEnd {
                self.ended = true;
                continue;
            }
            if used == 0 && produced == 0 {
                return Ok(consumed);
            }
            if input.is_empty() && produced < step {
                return Ok(consumed);
            }
        }
    }

    fn note_output(&mut self, n: usize) -> Result<(), HttpError> {
        self.produced = self.produced.saturating_add(n as u64);
        match self.limit {
            Some(limit) if self.produced > limit => Err(HttpError::DecompressionBomb { limit }),
            _ => Ok(()),
        }
    }

    /// Checks, at the end of the body, that the compressed stream was
    /// complete. An empty body is accepted (servers label empty 200s with
    /// `Content-Encoding: gzip`).
    pub fn finish(&self) -> Result<(), HttpError> {
        let compressed = matches!(self.encoding, Encoding::Gzip | Encoding::Deflate);
        if compressed && !self.ended && (self.input_seen > 0 || !self.sniff.is_empty()) {
            return Err(HttpError::TruncatedCompressedBody);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::parse_head;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

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

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode_all(enc: Encoding, input: &[u8], step: usize) -> Result<Vec<u8>, HttpError> {
        let mut d = ContentDecoder::new(enc);
        let mut out = Vec::new();
        for piece in input.chunks(step) {
            d.decode(piece, &mut out)?;
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn gzip_and_both_deflate_flavours() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let gz = gzip(&data);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&data).unwrap();
        let z = z.finish().unwrap();
        let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(&data).unwrap();
        let raw = raw.finish().unwrap();
        for step in [1, 5, 4096, usize::MAX / 2] {
            assert_eq!(decode_all(Encoding::Gzip, &gz, step).unwrap(), data);
            assert_eq!(decode_all(Encoding::Deflate, &z, step).unwrap(), data);
            assert_eq!(decode_all(Encoding::Deflate, &raw, step).unwrap(), data);
        }
    }

    #[test]
    fn gzip_members_trailing_junk_truncation_and_bombs() {
        let mut two = gzip(b"hello ");
        two.extend(gzip(b"world"));
        assert_eq!(decode_all(Encoding::Gzip, &two, 3).unwrap(), b"hello world");
        let mut junk = gzip(b"abc");
        junk.extend_from_slice(b"\0\0junk");
        assert_eq!(decode_all(Encoding::Gzip, &junk, 100).unwrap(), b"abc");
        let gz = gzip(b"abcdefgh");
        assert!(matches!(
            decode_all(Encoding::Gzip, &gz[..gz.len() - 4], 100),
            Err(HttpError::TruncatedCompressedBody)
        ));
        assert!(decode_all(Encoding::Gzip, b"not gzip at all", 100).is_err());
        assert_eq!(decode_all(Encoding::Gzip, b"", 100).unwrap(), b"");

        let zeros = gzip(&vec![0u8; 10_000_000]);
        let mut d = ContentDecoder::new(Encoding::Gzip).with_limit(1_000_000);
        let mut out = Vec::new();
        assert!(matches!(
            d.decode(&zeros, &mut out),
            Err(HttpError::DecompressionBomb { .. })
        ));
        assert!(out.len() <= 1_000_000 + INFLATE_STEP);
    }

    #[test]
    fn bounded_decode_drains() {
        let data = vec![7u8; 300_000];
        let gz = gzip(&data);
        let mut d = ContentDecoder::new(Encoding::Gzip);
        let mut out = Vec::new();
        let mut pos = 0;
        let mut rounds = 0;
        while !d.is_finished() {
            let before = out.len();
            pos += d.decode_bounded(&gz[pos..], &mut out, 1000).unwrap();
            assert!(out.len() - before <= 1000);
            rounds += 1;
            assert!(rounds < 10_000);
        }
        assert_eq!(out, data);
        assert_eq!(pos, gz.len());
        assert_eq!(decode_all(Encoding::Identity, b"xyz", 1).unwrap(), b"xyz");
    }
}
