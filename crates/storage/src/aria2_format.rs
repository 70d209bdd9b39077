//! aria2's `.aria2` layout, so that aria2c and arietta resume each other's
//! partial downloads. The fields are those of aria2's
//! `DefaultBtProgressInfoFile.cc`: version (2 bytes, `0000` host order,
//! `0001` network order), extension (4 bytes, bit 0 of the last: a
//! torrent), info-hash length and info hash, piece length (u32), total
//! length (u64), upload length (u64), the bitfield of complete pieces
//! (MSB first), then the in-flight pieces: index, length and a bitfield of
//! their 16 KiB blocks.
//!
//! arietta keeps one thing aria2 has no field for, the remote entity's
//! validator (ETag or Last-Modified), so a file changed on the server is
//! not spliced onto old bytes. It goes in a trailer after aria2's fields:
//! aria2 reads exactly its fields and ignores what follows, and drops the
//! trailer when it rewrites the file. The trailer ends with an xxh3 of the
//! whole file, so a torn or edited arietta file is refused.

use crate::{ControlFile, RangeSet};

/// aria2's block: the unit of an in-flight piece's bitfield.
pub const BLOCK_LENGTH: u64 = 16 << 10;
const INFO_HASH_LENGTH: usize = 20;
const TRAILER_MAGIC: &[u8; 8] = b"ARIETTA\x02";

/// Encodes `cf` as version 0001 with arietta's trailer.
pub(crate) fn encode(cf: &ControlFile) -> Vec<u8> {
    let pl = u64::from(cf.piece_length.max(1));
    let total = cf.total_length;
    let mut out = vec![0x00, 0x01];
    match &cf.info_hash {
        Some(h) => {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(&(INFO_HASH_LENGTH as u32).to_be_bytes());
            out.extend_from_slice(h);
        }
        None => {
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&0u32.to_be_bytes());
        }
    }
    out.extend_from_slice(&(pl as u32).to_be_bytes());
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&cf.upload_length.to_be_bytes());
    let pieces = total.div_ceil(pl);
    let mut bitfield = vec![0u8; pieces.div_ceil(8) as usize];
    let mut in_flight = Vec::new();
    for i in 0..pieces {
        let (s, e) = (i * pl, ((i + 1) * pl).min(total));
        if cf.completed.contains_range(s, e) {
            set_bit(&mut bitfield, i);
        } else if cf.completed.covered_within(s, e) >= BLOCK_LENGTH.min(e - s) {
            let blocks = (e - s).div_ceil(BLOCK_LENGTH);
            let mut bits = vec![0u8; blocks.div_ceil(8) as usize];
            let mut any = false;
            for j in 0..blocks {
                let bs = s + j * BLOCK_LENGTH;
                if cf.completed.contains_range(bs, (bs + BLOCK_LENGTH).min(e)) {
                    set_bit(&mut bits, j);
                    any = true;
                }
            }
            if any {
                in_flight.push((i as u32, (e - s) as u32, bits));
            }
        }
    }
    out.extend_from_slice(&(bitfield.len() as u32).to_be_bytes());
    out.extend_from_slice(&bitfield);
    out.extend_from_slice(&(in_flight.len() as u32).to_be_bytes());
    for (index, len, bits) in in_flight {
        out.extend_from_slice(&index.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&(bits.len() as u32).to_be_bytes());
        out.extend_from_slice(&bits);
    }
    out.extend_from_slice(TRAILER_MAGIC);
    let validator = cf.validator.as_deref().unwrap_or("");
    out.push(u8::from(cf.validator.is_some()));
    out.extend_from_slice(&(validator.len() as u32).to_be_bytes());
    out.extend_from_slice(validator.as_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&sum.to_be_bytes());
    out
}

/// Decodes version 0000 or 0001, from aria2c or arietta; every failure
/// names why (aria2's wording where it has one).
pub(crate) fn decode(bytes: &[u8]) -> Result<ControlFile, String> {
    let mut r = Reader {
        bytes,
        pos: 0,
        big_endian: true,
    };
    let big_endian = match r.take(2)? {
        [0, 0] => false,
        [0, 1] => true,
        v => {
            return Err(format!(
                "Unsupported ctrl file version: {:02x}{:02x}",
                v[0], v[1]
            ))
        }
    };
    r.big_endian = big_endian;
    let torrent = r.take(4)?[3] & 1 != 0;
    let ih_len = r.u32()? as usize;
    if ih_len > INFO_HASH_LENGTH || (torrent && ih_len != INFO_HASH_LENGTH) {
        return Err(format!("Invalid info hash length: {ih_len}"));
    }
    let ih = r.take(ih_len)?;
    let info_hash = (ih_len == INFO_HASH_LENGTH).then(|| ih.try_into().expect("20 bytes"));
    let piece_length = r.u32()?;
    if piece_length == 0 {
        return Err("piece length must not be 0".into());
    }
    let pl = u64::from(piece_length);
    let total = r.u64()?;
    let upload_length = r.u64()?;
    let pieces = total.div_ceil(pl);
    let bf_len = r.u32()? as u64;
    if bf_len != pieces.div_ceil(8) {
        return Err(format!(
            "bitfield length mismatch. expected: {}, actual: {bf_len}",
            pieces.div_ceil(8)
        ));
    }
    let bitfield = r.take(bf_len as usize)?;
    let mut completed = RangeSet::new();
    for i in 0..pieces {
        if bit(bitfield, i) {
            completed.insert(i * pl, ((i + 1) * pl).min(total));
        }
    }
    for _ in 0..r.u32()? {
        let index = u64::from(r.u32()?);
        if index >= pieces {
            return Err(format!("piece index out of range: {index}"));
        }
        let len = u64::from(r.u32()?);
        if len > pl {
            return Err(format!("piece length out of range: {len}"));
        }
        let blocks = len.div_ceil(BLOCK_LENGTH);
        let bits_len = r.u32()? as u64;
        if bits_len != blocks.div_ceil(8) {
            return Err(format!(
                "piece bitfield length mismatch. expected: {} actual: {bits_len}",
                blocks.div_ceil(8)
            ));
        }
        let bits = r.take(bits_len as usize)?;
        let start = index * pl;
        let end = (start + len).min(total);
        for j in 0..blocks {
            let bs = start + j * BLOCK_LENGTH;
            if bit(bits, j) && bs < end {
                completed.insert(bs, (bs + BLOCK_LENGTH).min(end));
            }
        }
    }
    let validator = trailer(bytes, r.pos)?;
    Ok(ControlFile {
        total_length: total,
        completed,
        piece_length,
        info_hash,
        upload_length,
        validator,
    })
}

/// arietta's trailer after aria2's fields: none (aria2c wrote the file),
/// or one whose checksum covers the whole file.
fn trailer(bytes: &[u8], at: usize) -> Result<Option<String>, String> {
    if at == bytes.len() {
        return Ok(None);
    }
    let bad = || "damaged arietta trailer (torn or edited file)".to_owned();
    let rest = &bytes[at..];
    if rest.len() < TRAILER_MAGIC.len() + 13 || &rest[..8] != TRAILER_MAGIC {
        return Err(bad());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if xxhash_rust::xxh3::xxh3_64(body).to_be_bytes() != sum {
        return Err(bad());
    }
    let has = rest[8];
    let len = u32::from_be_bytes(rest[9..13].try_into().expect("4 bytes")) as usize;
    if has > 1 || 13 + len + 8 != rest.len() {
        return Err(bad());
    }
    let text = std::str::from_utf8(&rest[13..13 + len]).map_err(|_| bad())?;
    Ok((has == 1).then(|| text.to_owned()))
}

fn set_bit(bits: &mut [u8], i: u64) {
    bits[(i / 8) as usize] |= 0x80 >> (i % 8);
}

fn bit(bits: &[u8], i: u64) -> bool {
    bits[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
}

/// Reads aria2's integers in the version's byte order.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| "truncated control file".to_owned())?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
        Ok(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
}
