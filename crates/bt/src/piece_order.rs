//! Which new piece to start: `--stream-piece-selector` and
//! `--bt-prioritize-piece`, as pure functions over piece indices.
//!
//! aria2 applies `--stream-piece-selector` to HTTP/FTP segments only and
//! always picks BitTorrent pieces rarest-first; arietta lets it choose
//! the BitTorrent order too (`inorder` is how one streams a torrent), with
//! `default` keeping rarest-first.

/// `--stream-piece-selector`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PieceOrder {
    /// `default`: rarest first, ties broken at random.
    #[default]
    RarestFirst,
    /// `inorder`: the lowest index first.
    InOrder,
    /// `random`: any, uniformly.
    Random,
    /// `geom`: aria2's geometric selector: from the first missing piece,
    /// scan windows growing by [`GEOM_BASE`] and take the first missing
    /// piece of the first window whose scan does not run into a piece in
    /// progress; when every window does, fall back to rarest first. The
    /// start of the file comes first, the rest spreads out.
    Geom,
}

/// The growth factor of [`PieceOrder::Geom`]'s windows (aria2's 1.5).
pub const GEOM_BASE: f64 = 1.5;

impl PieceOrder {
    /// From the option's value (`default|inorder|random|geom`).
    pub fn from_option(s: &str) -> Option<PieceOrder> {
        Some(match s {
            "" | "default" => PieceOrder::RarestFirst,
            "inorder" => PieceOrder::InOrder,
            "random" => PieceOrder::Random,
            "geom" => PieceOrder::Geom,
            _ => return None,
        })
    }
}

/// aria2's geometric scan over `0..count` starting at `offset`: windows
/// `[offset + start, offset + end)` with `end` growing by [`GEOM_BASE`];
/// in a window, a piece `in_progress` ends that window's scan and the
/// first `eligible` one is the answer. `None` when no window yields one.
pub fn geom_pick(
    count: u32,
    offset: u32,
    in_progress: impl Fn(u32) -> bool,
    eligible: impl Fn(u32) -> bool,
) -> Option<u32> {
    let (count, offset) = (u64::from(count), u64::from(offset));
    let (mut start, mut end) = (0f64, 1f64);
    while start as u64 + offset < count {
        let lo = start as u64 + offset;
        let hi = count.min(end as u64 + offset);
        for i in lo..hi {
            let i = i as u32;
            if in_progress(i) {
                break;
            }
            if eligible(i) {
                return Some(i);
            }
        }
        start = end;
        end *= GEOM_BASE;
    }
    None
}

/// The pieces `--bt-prioritize-piece` names: those holding each file's
/// first `head` bytes and last `tail` bytes (0: none). `files` gives each
/// file's offset in the torrent and length; empty files have no piece.
pub fn edge_pieces(
    files: impl IntoIterator<Item = (u64, u64)>,
    piece_length: u64,
    head: u64,
    tail: u64,
) -> Vec<u32> {
    let mut out = Vec::new();
    let mut span = |from: u64, to: u64| {
        if to > from && piece_length > 0 {
            out.extend((from / piece_length) as u32..=((to - 1) / piece_length) as u32);
        }
    };
    for (offset, len) in files {
        span(offset, offset + head.min(len));
        span(offset + len - tail.min(len), offset + len);
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values() {
        assert_eq!(
            PieceOrder::from_option("default"),
            Some(PieceOrder::RarestFirst)
        );
        assert_eq!(
            PieceOrder::from_option("inorder"),
            Some(PieceOrder::InOrder)
        );
        assert_eq!(PieceOrder::from_option("geom"), Some(PieceOrder::Geom));
        assert_eq!(PieceOrder::from_option("random"), Some(PieceOrder::Random));
        assert_eq!(PieceOrder::from_option("rarest"), None);
    }

    #[test]
    fn geom_grows_its_windows_past_pieces_in_progress() {
        let none = |_| false;
        assert_eq!(geom_pick(100, 0, none, |_| true), Some(0));
        assert_eq!(geom_pick(100, 5, none, |_| true), Some(5));
        // Piece 0 in progress: window [0,1) stops; [1,1) is empty;
        // [1,2) yields 1.
        assert_eq!(geom_pick(100, 0, |i| i == 0, |_| true), Some(1));
        // 0..4 in progress: windows [0,1), [1,2), [2,3), [3,5) each run
        // into one; [5,7) yields 5 (4 is skipped, as in aria2).
        assert_eq!(geom_pick(100, 0, |i| i < 4, |i| i >= 4), Some(5));
        // Nothing eligible anywhere.
        assert_eq!(geom_pick(10, 0, none, |_| false), None);
        assert_eq!(geom_pick(10, 10, none, |_| true), None);
    }

    #[test]
    fn edge_pieces_cover_each_files_head_and_tail() {
        // Two files of 10 and 25 bytes, pieces of 4: bytes 0..10, 10..35.
        let files = [(0, 10), (10, 25), (35, 0)];
        assert_eq!(edge_pieces(files, 4, 1, 0), vec![0, 2]);
        assert_eq!(edge_pieces(files, 4, 0, 1), vec![2, 8]);
        assert_eq!(edge_pieces(files, 4, 5, 5), vec![0, 1, 2, 3, 7, 8]);
        assert!(edge_pieces(files, 4, 0, 0).is_empty());
        // A size beyond the file is the whole file.
        assert_eq!(edge_pieces([(0, 10)], 4, 1 << 20, 0), vec![0, 1, 2]);
    }
}
