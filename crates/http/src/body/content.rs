//! Content codings (gzip, deflate) undone after framing has been removed.

use flate2::{Decompress, FlushDecompress, Status};

use crate::error::HttpError;
use crate::response::Encoding;

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
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

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
