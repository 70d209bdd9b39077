//! A download cut into pieces as RPC shows it (`numPieces`, `pieceLength`,
//! `bitfield`, and each file's `completedLength`): a torrent's own pieces,
//! or `--piece-length` pieces over an HTTP/FTP file's written ranges, as
//! aria2 accounts for both.

use arietta_storage::RangeSet;

/// Which pieces of a download are complete.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PieceView {
    pub piece_length: u64,
    pub num_pieces: usize,
    /// Length of the byte stream the pieces cut (a torrent's whole stream,
    /// padding and unselected files included).
    pub stream_length: u64,
    /// One bit a piece, piece 0 the high bit of the first byte; `None`
    /// before the download has run (aria2 has no piece storage yet, so it
    /// shows no `bitfield` then).
    pub bits: Option<Vec<u8>>,
}

impl PieceView {
    /// A download that has not learnt its length (or not started):
    /// aria2 shows `--piece-length` and no pieces.
    pub fn unknown(piece_length: u64) -> Self {
        PieceView {
            piece_length,
            ..PieceView::default()
        }
    }

    /// `piece_length` pieces over `[0, total)`; a piece is complete when
    /// `done` covers every byte of it.
    pub fn from_ranges(total: u64, piece_length: u64, done: &RangeSet) -> Self {
        let piece_length = piece_length.max(1);
        let num_pieces = usize::try_from(total.div_ceil(piece_length)).unwrap_or(usize::MAX);
        let mut bits = vec![0u8; num_pieces.div_ceil(8)];
        // Ranges are sorted and disjoint: each piece inside one of them is
        // complete, and the walk visits each piece at most once.
        for &(a, b) in done.ranges() {
            let first = a.div_ceil(piece_length);
            let mut i = first;
            while i < num_pieces as u64 {
                let end = ((i + 1) * piece_length).min(total);
                if end > b {
                    break;
                }
                bits[(i / 8) as usize] |= 0x80 >> (i % 8);
                i += 1;
            }
        }
        PieceView {
            piece_length,
            num_pieces,
            stream_length: total,
            bits: Some(bits),
        }
    }

    /// Every piece of `[0, total)` complete (a finished download).
    pub fn complete(total: u64, piece_length: u64) -> Self {
        let mut done = RangeSet::new();
        done.insert(0, total);
        Self::from_ranges(total, piece_length, &done)
    }

    /// Wraps a torrent's have-set (already in aria2's bit order).
    pub fn from_bits(
        stream_length: u64,
        piece_length: u64,
        num_pieces: usize,
        bits: Option<Vec<u8>>,
    ) -> Self {
        PieceView {
            piece_length,
            num_pieces,
            stream_length,
            bits,
        }
    }

    pub fn has(&self, i: usize) -> bool {
        i < self.num_pieces
            && self
                .bits
                .as_ref()
                .is_some_and(|b| b.get(i / 8).is_some_and(|x| x & (0x80 >> (i % 8)) != 0))
    }

    /// The bitfield in aria2's hex form; `None` where aria2 leaves the key
    /// out (no piece storage, or no pieces).
    pub fn hex(&self) -> Option<String> {
        self.bits
            .as_ref()
            .filter(|b| !b.is_empty())
            .map(hex::encode)
    }

    /// Bytes of `[offset, offset + len)` inside complete pieces: a file's
    /// `completedLength`, as aria2's `getOffsetCompletedLength` counts it.
    pub fn completed_within(&self, offset: u64, len: u64) -> u64 {
        if len == 0 || self.num_pieces == 0 {
            return 0;
        }
        let end = (offset + len).min(self.stream_length);
        let pl = self.piece_length.max(1);
        let first = offset / pl;
        let last = end.div_ceil(pl);
        (first..last)
            .filter(|&i| self.has(i as usize))
            .map(|i| {
                let (ps, pe) = (i * pl, ((i + 1) * pl).min(self.stream_length));
                pe.min(end).saturating_sub(ps.max(offset))
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(r: &[(u64, u64)]) -> RangeSet {
        RangeSet::from_ranges(r.iter().copied())
    }

    #[test]
    fn only_whole_pieces_count_as_complete() {
        // aria2c 1.36, 3 MiB + 1000 bytes at 1 MiB pieces: 4 pieces, and
        // 589824 bytes from the start complete none.
        let total = 3 * 1048576 + 1000;
        let v = PieceView::from_ranges(total, 1048576, &ranges(&[(0, 589824)]));
        assert_eq!(v.num_pieces, 4);
        assert_eq!(v.hex().as_deref(), Some("00"));
        assert_eq!(v.completed_within(0, total), 0);
        let v = PieceView::from_ranges(total, 1048576, &ranges(&[(0, total)]));
        assert_eq!(v.hex().as_deref(), Some("f0"));
        assert_eq!(v.completed_within(0, total), total);
        // The short last piece and a middle one.
        let v = PieceView::from_ranges(
            total,
            1048576,
            &ranges(&[(1048576, 2 * 1048576 + 5), (3 * 1048576, total)]),
        );
        assert_eq!(v.hex().as_deref(), Some("50"));
        assert_eq!(v.completed_within(0, total), 1048576 + 1000);
    }

    #[test]
    fn nine_pieces_take_two_bytes() {
        let v = PieceView::complete(9 * 10, 10);
        assert_eq!(v.hex().as_deref(), Some("ff80"));
    }

    #[test]
    fn a_file_counts_its_share_of_each_complete_piece() {
        // Three files over 4 pieces of 10: [0,15) [15,22) [22,40).
        let v = PieceView::from_bits(40, 10, 4, Some(vec![0b0110_0000]));
        assert_eq!(v.completed_within(0, 15), 5);
        assert_eq!(v.completed_within(15, 7), 7);
        assert_eq!(v.completed_within(22, 18), 8);
    }

    #[test]
    fn no_storage_no_bitfield() {
        let v = PieceView::unknown(1048576);
        assert_eq!(v.hex(), None);
        assert_eq!(v.completed_within(0, 10), 0);
        assert_eq!(
            PieceView::from_ranges(0, 1048576, &RangeSet::new()).hex(),
            None
        );
    }
}
