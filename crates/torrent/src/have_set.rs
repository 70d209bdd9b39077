//! The verified-piece set, written by the torrent actor and read by peer
//! tasks on every core (to serve requests and skip writes of pieces that
//! are already ours) without a round trip.

use std::sync::atomic::{AtomicU8, Ordering};

use arietta_bt::bitfield::Bitfield;

/// Pieces that passed their hash check.
#[derive(Debug)]
pub(crate) struct HaveSet {
    bits: Vec<AtomicU8>,
    len: u32,
}

impl HaveSet {
    pub fn new(len: u32) -> HaveSet {
        HaveSet {
            bits: (0..len.div_ceil(8)).map(|_| AtomicU8::new(0)).collect(),
            len,
        }
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn get(&self, i: u32) -> bool {
        i < self.len && self.bits[(i / 8) as usize].load(Ordering::Acquire) & (0x80 >> (i % 8)) != 0
    }

    /// Only the actor sets bits; a piece is never un-had.
    pub fn set(&self, i: u32) {
        if i < self.len {
            self.bits[(i / 8) as usize].fetch_or(0x80 >> (i % 8), Ordering::Release);
        }
    }

    /// Whether every piece of the torrent is here, unselected files' too
    /// (aria2's `allDownloadFinished`).
    pub fn is_full(&self) -> bool {
        (0..self.len).all(|i| self.get(i))
    }

    /// A snapshot of the bytes, in wire order.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bits
            .iter()
            .map(|b| b.load(Ordering::Acquire))
            .collect()
    }

    /// A snapshot in wire form.
    pub fn to_bitfield(&self) -> Bitfield {
        let mut b = Bitfield::new(self.len);
        for i in 0..self.len {
            if self.get(i) {
                b.set(i, true);
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_to_a_bitfield() {
        let h = HaveSet::new(10);
        h.set(0);
        h.set(9);
        h.set(12);
        assert!(h.get(0) && h.get(9) && !h.get(1) && !h.get(12));
        let b = h.to_bitfield();
        assert_eq!(b.count_ones(), 2);
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
    }
}
