//! A fixed-length set of piece indices, stored the way the wire sends it
//! (most significant bit of byte 0 is piece 0).

use crate::{Error, Result};

/// Pieces a peer (or we) have. The length is the torrent's piece count; bits
/// past it ("spare bits") are always zero, so `as_bytes` can go straight into
/// a `bitfield` message.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

fn byte_len(len: u32) -> usize {
    (len as usize).div_ceil(8)
}

impl Bitfield {
    /// An empty set over `len` pieces.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; byte_len(len)],
            len,
            ones: 0,
        }
    }

    /// The set of all `len` pieces (a seed, or a `have all` message).
    pub fn full(len: u32) -> Self {
        let mut bytes = vec![0xff; byte_len(len)];
        let spare = (bytes.len() * 8) as u64 - u64::from(len);
        if let Some(last) = bytes.last_mut() {
            *last &= 0xffu8 << spare;
        }
        Bitfield {
            bytes,
            len,
            ones: len,
        }
    }

    /// Validates a received `bitfield` payload against the torrent's piece
    /// count: BEP 3 says a wrong length or set spare bits means the peer is
    /// broken (or hostile) and the connection should be dropped.
    pub fn from_wire(bytes: &[u8], len: u32) -> Result<Self> {
        if bytes.len() != byte_len(len) {
            return Err(Error::BadBitfield("length does not match the piece count"));
        }
        let spare = (bytes.len() * 8) as u64 - u64::from(len);
        if let Some(&last) = bytes.last() {
            let mask = !(0xffu8 << spare);
            if spare > 0 && last & mask != 0 {
                return Err(Error::BadBitfield("spare bits are set"));
            }
        }
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len,
            ones,
        })
    }

    /// Number of pieces the set ranges over.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True for a zero-piece torrent (never valid, but never a panic).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `index` is in the set; out-of-range indices are not.
    pub fn get(&self, index: u32) -> bool {
        if index >= self.len {
            return false;
        }
        let byte = self.bytes[(index / 8) as usize];
        byte & (0x80 >> (index % 8)) != 0
    }

    /// Adds or removes `index`. Returns false (and changes nothing) when the
    /// index is out of range, so a `have` for a bogus piece cannot corrupt
    /// the spare bits.
    pub fn set(&mut self, index: u32, value: bool) -> bool {
        if index >= self.len {
            return false;
        }
        let mask = 0x80u8 >> (index % 8);
        let byte = &mut self.bytes[(index / 8) as usize];
        let was = *byte & mask != 0;
        if value && !was {
            *byte |= mask;
            self.ones += 1;
        } else if !value && was {
            *byte &= !mask;
            self.ones -= 1;
        }
        true
    }

    /// How many pieces are in the set.
    pub fn count_ones(&self) -> u32 {
        self.ones
    }

    /// True when every piece is in the set (the peer is a seed).
    pub fn is_full(&self) -> bool {
        self.ones == self.len
    }

    /// The wire form, ready for a `bitfield` message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Indices in the set, ascending.
    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(move |&i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_clears_spare_bits() {
        let b = Bitfield::full(10);
        assert_eq!(b.as_bytes(), &[0xff, 0xc0]);
        assert!(b.is_full());
        assert_eq!(Bitfield::full(16).as_bytes(), &[0xff, 0xff]);
        assert_eq!(Bitfield::full(0).as_bytes(), &[] as &[u8]);
    }

    #[test]
    fn wire_validation() {
        assert!(Bitfield::from_wire(&[0xff, 0xc0], 10).is_ok());
        assert_eq!(
            Bitfield::from_wire(&[0xff, 0xe0], 10),
            Err(Error::BadBitfield("spare bits are set"))
        );
        assert!(Bitfield::from_wire(&[0xff], 10).is_err());
        assert!(Bitfield::from_wire(&[0xff, 0, 0], 10).is_err());
        assert!(Bitfield::from_wire(&[], 0).is_ok());
        let b = Bitfield::from_wire(&[0b1010_0000, 0x40], 10).unwrap();
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![0, 2, 9]);
        assert_eq!(b.count_ones(), 3);
    }

    #[test]
    fn set_and_get() {
        let mut b = Bitfield::new(9);
        assert!(b.set(8, true));
        assert!(!b.set(9, true));
        assert!(b.get(8));
        assert!(!b.get(9));
        assert!(!b.get(u32::MAX));
        b.set(8, true);
        assert_eq!(b.count_ones(), 1);
        b.set(8, false);
        assert_eq!(b.count_ones(), 0);
        assert_eq!(b.as_bytes(), &[0, 0]);
    }
}
