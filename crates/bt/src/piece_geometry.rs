//! Piece and block layout of a torrent.

use crate::{Error, Result};

/// The block size everyone requests: BEP 3 clients (aria2, libtorrent) send
/// and expect 16 KiB requests, and many drop peers asking for more.
pub const BLOCK_LEN: u32 = 16 * 1024;

/// A block within a piece, as named by `request`, `cancel` and `reject`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct BlockRef {
    /// Piece index.
    pub index: u32,
    /// Byte offset within the piece.
    pub begin: u32,
    /// Length in bytes.
    pub length: u32,
}

/// The piece length and total length of a torrent, from which piece sizes
/// (the last one is usually short) and block layout follow. Every module
/// derives sizes from this one type so they cannot disagree.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PieceGeometry {
    piece_length: u32,
    total_length: u64,
    piece_count: u32,
}

impl PieceGeometry {
    /// Checks that the layout is representable: a non-zero piece length and
    /// at most `u32::MAX` pieces (piece indices are 32-bit on the wire).
    pub fn new(piece_length: u32, total_length: u64) -> Result<Self> {
        if piece_length == 0 {
            return Err(Error::BadGeometry("piece length is zero"));
        }
        let count = total_length.div_ceil(u64::from(piece_length));
        let piece_count =
            u32::try_from(count).map_err(|_| Error::BadGeometry("more than 2^32 pieces"))?;
        Ok(PieceGeometry {
            piece_length,
            total_length,
            piece_count,
        })
    }

    /// Nominal piece length.
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// Sum of all file lengths.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// Number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.piece_count
    }

    /// Size of piece `index`, or `None` past the end.
    pub fn piece_size(&self, index: u32) -> Option<u32> {
        if index >= self.piece_count {
            return None;
        }
        let start = u64::from(index) * u64::from(self.piece_length);
        let size = (self.total_length - start).min(u64::from(self.piece_length));
        // `size` ≤ piece_length, which is a u32.
        Some(size as u32)
    }

    /// Number of [`BLOCK_LEN`] blocks in piece `index` (0 past the end).
    pub fn block_count(&self, index: u32) -> u32 {
        self.piece_size(index)
            .map_or(0, |size| size.div_ceil(BLOCK_LEN))
    }

    /// Block number `block` of piece `index`, with the short tail block
    /// sized correctly.
    pub fn block(&self, index: u32, block: u32) -> Option<BlockRef> {
        let size = self.piece_size(index)?;
        let begin = block.checked_mul(BLOCK_LEN)?;
        if begin >= size {
            return None;
        }
        Some(BlockRef {
            index,
            begin,
            length: (size - begin).min(BLOCK_LEN),
        })
    }

    /// Checks that a block named by a peer lies inside its piece and is no
    /// longer than `max_block` (a `request` for more than that is how a
    /// peer makes us read megabytes per message; aria2 and libtorrent refuse
    /// anything over 16 KiB by default).
    pub fn validate_block(&self, block: &BlockRef, max_block: u32) -> Result<()> {
        let bad = |reason| Error::BadBlock {
            index: block.index,
            begin: block.begin,
            length: block.length,
            reason,
        };
        let size = self.piece_size(block.index).ok_or(Error::PieceOutOfRange {
            index: block.index,
            count: self.piece_count,
        })?;
        if block.length == 0 {
            return Err(bad("zero length"));
        }
        if block.length > max_block {
            return Err(bad("longer than the block limit"));
        }
        match block.begin.checked_add(block.length) {
            Some(end) if end <= size => Ok(()),
            _ => Err(bad("extends past the end of the piece")),
        }
    }

    /// Block number of `begin` if it is aligned to [`BLOCK_LEN`] and the
    /// block matches the standard layout; used to map received `piece`
    /// messages back to picker blocks.
    pub fn block_number(&self, block: &BlockRef) -> Option<u32> {
        if !block.begin.is_multiple_of(BLOCK_LEN) {
            return None;
        }
        let n = block.begin / BLOCK_LEN;
        (self.block(block.index, n)? == *block).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let g = PieceGeometry::new(32768, 100_000).unwrap();
        assert_eq!(g.piece_count(), 4);
        assert_eq!(g.piece_size(3), Some(100_000 - 3 * 32768));
        assert_eq!(g.piece_size(4), None);
        assert_eq!(g.block_count(0), 2);
        assert_eq!(g.block_count(3), 1);
        assert_eq!(
            g.block(3, 0),
            Some(BlockRef {
                index: 3,
                begin: 0,
                length: 1696
            })
        );
        assert_eq!(g.block(3, 1), None);
        assert_eq!(g.block(0, u32::MAX), None);
    }

    #[test]
    fn degenerate() {
        assert!(PieceGeometry::new(0, 10).is_err());
        assert!(PieceGeometry::new(1, u64::MAX).is_err());
        let empty = PieceGeometry::new(16384, 0).unwrap();
        assert_eq!(empty.piece_count(), 0);
        assert_eq!(empty.piece_size(0), None);
    }

    #[test]
    fn block_validation() {
        let g = PieceGeometry::new(32768, 40000).unwrap();
        let ok = BlockRef {
            index: 1,
            begin: 0,
            length: 7232,
        };
        assert!(g.validate_block(&ok, BLOCK_LEN).is_ok());
        let past = BlockRef { length: 7233, ..ok };
        assert!(g.validate_block(&past, BLOCK_LEN).is_err());
        let big = BlockRef {
            index: 0,
            begin: 0,
            length: 32768,
        };
        assert!(g.validate_block(&big, BLOCK_LEN).is_err());
        assert!(g.validate_block(&big, 32768).is_ok());
        let wrap = BlockRef {
            index: 0,
            begin: u32::MAX,
            length: 2,
        };
        assert!(g.validate_block(&wrap, BLOCK_LEN).is_err());
        let zero = BlockRef { length: 0, ..ok };
        assert!(g.validate_block(&zero, BLOCK_LEN).is_err());
        let range = BlockRef { index: 2, ..ok };
        assert_eq!(
            g.validate_block(&range, BLOCK_LEN),
            Err(Error::PieceOutOfRange { index: 2, count: 2 })
        );
        assert_eq!(g.block_number(&ok), Some(0));
        assert_eq!(g.block_number(&BlockRef { begin: 1, ..ok }), None);
    }
}
