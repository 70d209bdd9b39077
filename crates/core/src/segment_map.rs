//! Which bytes of a file are done, which are being fetched and by whom,
//! and which are still free. Owned by the coordinator; connections see only
//! the [`SegmentCursor`] of the segment they hold.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use arietta_storage::RangeSet;

/// Identifies a claimed segment within one download.
pub type SegId = u64;

/// Splits never produce pieces smaller than this, whatever `-k` says:
/// a request per few KiB costs more than it saves.
const MIN_PIECE: u64 = 64 << 10;

/// Where a connection is in its segment, and where it must stop.
///
/// The one piece of memory a connection shares with the coordinator: the
/// coordinator moves `end` down to split a running segment for an idle
/// connection without a round trip to the connection's core. The lock is
/// taken once per read buffer, never contended for long.
#[derive(Debug)]
pub struct SegmentCursor {
    inner: Mutex<(u64, u64)>,
}

impl SegmentCursor {
    pub fn new(start: u64, end: u64) -> Self {
        Self {
            inner: Mutex::new((start, end)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, u64)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `(pos, end)` now.
    pub fn get(&self) -> (u64, u64) {
        *self.lock()
    }

    /// How many bytes may be read next (at most `want`), from where.
    pub fn next_read(&self, want: u64) -> (u64, u64) {
        let (pos, end) = *self.lock();
        (pos, want.min(end.saturating_sub(pos)))
    }

    /// Accounts `got` bytes read at `from`; returns how many of them still
    /// belong to this segment (fewer if a split moved the end meanwhile).
    pub fn advance(&self, from: u64, got: u64) -> u64 {
        let mut g = self.lock();
        debug_assert_eq!(g.0, from);
        let keep = got.min(g.1.saturating_sub(g.0));
        g.0 += keep;
        keep
    }

    /// Gives away everything not read yet: the connection stops at its
    /// next read as if its segment were done.
    fn take_rest(&self) -> Option<(u64, u64)> {
        let mut g = self.lock();
        let (pos, end) = *g;
        if pos >= end {
            return None;
        }
        g.1 = pos;
        Some((pos, end))
    }

    /// Gives away the back half of what is left, if it is worth it.
    fn split(&self, min_half: u64) -> Option<(u64, u64)> {
        let mut g = self.lock();
        let (pos, end) = *g;
        let left = end.saturating_sub(pos);
        if left < 2 * min_half {
            return None;
        }
        // Round to 16 KiB so requests stay aligned with file-system blocks.
        let mid = (pos + left / 2 + 0x3fff) & !0x3fff;
        if mid <= pos || mid >= end {
            return None;
        }
        g.1 = mid;
        Some((mid, end))
    }
}

/// A segment handed to a connection.
#[derive(Clone, Debug)]
pub struct Claim {
    pub id: SegId,
    pub cursor: Arc<SegmentCursor>,
}

/// The plan of one file.
#[derive(Debug)]
pub struct SegmentMap {
    total: u64,
    done: RangeSet,
    free: VecDeque<(u64, u64)>,
    held: HashMap<SegId, Arc<SegmentCursor>>,
    next_id: SegId,
    min_split: u64,
    /// `-o -`: free ranges are handed out front first in pieces of this
    /// size, so the connections work next to each other near the write
    /// cursor instead of far apart (see [`SegmentMap::in_order`]).
    carve: Option<u64>,
}

impl SegmentMap {
    /// Plans the holes of `done` in `[0, total)` into about `split` pieces,
    /// none smaller than `min_split` (aria2's `-s` and `-k`).
    pub fn new(total: u64, done: RangeSet, split: usize, min_split: u64) -> Self {
        let min_split = min_split.max(MIN_PIECE);
        let gaps = done.gaps(total);
        let missing: u64 = gaps.iter().map(|(a, b)| b - a).sum();
        let piece = missing.div_ceil(split.max(1) as u64).max(min_split);
        let mut free = VecDeque::new();
        for (a, b) in gaps {
            let mut s = a;
            while s < b {
                // Avoid a runt at the end: merge a tail shorter than half a piece.
                let e = if b - s < piece.saturating_add(piece / 2) {
                    b
                } else {
                    s + piece
                };
                free.push_back((s, e));
                s = e;
            }
        }
        Self {
            total,
            done,
            free,
            held: HashMap::new(),
            next_id: 1,
            min_split,
            carve: None,
        }
    }

    /// A plan for a download streamed in order (`-o -`): the holes of
    /// `done` are handed out lowest first, `piece` bytes at a time, carved
    /// off the free ranges as connections ask (so the plan stays a few
    /// entries however large the file). With `n` connections the bytes in
    /// flight span about `n × piece` past the write cursor, which the
    /// stream's window must hold.
    pub fn in_order(total: u64, done: RangeSet, piece: u64) -> Self {
        let piece = piece.max(MIN_PIECE);
        let mut m = Self::new(total, done, 1, u64::MAX / 4);
        m.min_split = piece;
        m.carve = Some(piece);
        m
    }

    /// Hands free ranges out `piece` bytes at a time, as aria2 cuts an
    /// HTTP download into `--piece-length` segments when it pipelines:
    /// each is one request with an explicit end.
    pub fn carved(mut self, piece: u64) -> Self {
        self.carve = Some(piece.max(MIN_PIECE));
        self
    }

    /// Takes free range `i` whole, or its first piece when carving.
    fn take_free(&mut self, i: usize) -> Claim {
        let (a, b) = self.free.remove(i).expect("index in range");
        match self.carve {
            Some(p) if b - a > p + p / 2 => {
                self.free.insert(i, (a + p, b));
                self.hold(a, a + p)
            }
            _ => self.hold(a, b),
        }
    }

    /// A plan for a response of unknown length: one unsplittable segment
    /// from 0 until the server closes; [`Self::set_total`] fixes the end.
    pub fn unknown_length() -> Self {
        Self::new(u64::MAX, RangeSet::new(), 1, u64::MAX / 4)
    }

    /// The length became known (the stream ended).
    pub fn set_total(&mut self, len: u64) {
        self.total = len;
        self.free.clear();
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn done(&self) -> &RangeSet {
        &self.done
    }

    pub fn completed_length(&self) -> u64 {
        self.done.covered()
    }

    pub fn is_complete(&self) -> bool {
        self.done.covered() >= self.total
    }

    /// Free pieces plus the running segments that could still be split:
    /// how many more connections would have something to do.
    pub fn available_work(&self) -> usize {
        let free = match self.carve {
            Some(p) => self
                .free
                .iter()
                .map(|(a, b)| usize::try_from((b - a).div_ceil(p)).unwrap_or(usize::MAX))
                .fold(0usize, usize::saturating_add),
            None => self.free.len(),
        };
        free.saturating_add(
            self.held
                .values()
                .filter(|c| {
                    let (p, e) = c.get();
                    e.saturating_sub(p) >= 2 * self.min_split
                })
                .count(),
        )
    }

    fn hold(&mut self, start: u64, end: u64) -> Claim {
        let id = self.next_id;
        self.next_id += 1;
        let cursor = Arc::new(SegmentCursor::new(start, end));
        self.held.insert(id, cursor.clone());
        Claim { id, cursor }
    }

    /// Next work for a connection. `at` is where its open response stream
    /// stands: a free piece starting exactly there is preferred, so the
    /// connection keeps reading without a new request. Otherwise the first
    /// free piece; otherwise the back half of the largest running segment.
    pub fn claim(&mut self, at: Option<u64>) -> Option<Claim> {
        self.claim_by(at, |_, left| left as f64)
    }

    /// Like [`SegmentMap::claim`], splitting the running segment that
    /// `finish` (given its id and the bytes it has left) says will take
    /// longest, among those long enough to split: with per-mirror speeds,
    /// a slow mirror's segment is split before a larger fast one's.
    pub fn claim_by(
        &mut self,
        at: Option<u64>,
        finish: impl Fn(SegId, u64) -> f64,
    ) -> Option<Claim> {
        if let Some(pos) = at {
            if let Some(i) = self.free.iter().position(|&(a, _)| a == pos) {
                return Some(self.take_free(i));
            }
        }
        if !self.free.is_empty() {
            return Some(self.take_free(0));
        }
        let victim = self
            .held
            .iter()
            .filter_map(|(&id, c)| {
                let (p, e) = c.get();
                let left = e.saturating_sub(p);
                (left >= 2 * self.min_split).then(|| (finish(id, left), c))
            })
            .max_by(|x, y| x.0.total_cmp(&y.0))?
            .1
            .clone();
        let (a, b) = victim.split(self.min_split)?;
        Some(self.hold(a, b))
    }

    /// Records bytes written to disk.
    pub fn written(&mut self, start: u64, end: u64) {
        self.done.insert(start, end.min(self.total));
    }

    /// A connection let go of its segment (finished or failed): what it did
    /// not fetch goes back to the free list, at the front so it is taken
    /// next.
    pub fn release(&mut self, id: SegId) {
        if let Some(c) = self.held.remove(&id) {
            let (pos, end) = c.get();
            for (a, b) in self.done.gaps(end) {
                let (a, b) = (a.max(pos), b);
                if a < b {
                    self.free.push_front((a, b));
                }
            }
        }
    }

    /// Bytes `[start, end)` turned out bad (a piece hash mismatch): they
    /// are no longer done and go to the front of the free list, to be
    /// fetched again before anything else.
    pub fn invalidate(&mut self, start: u64, end: u64) {
        let end = end.min(self.total);
        if start >= end {
            return;
        }
        self.done.remove(start, end);
        self.free.push_front((start, end));
    }

    /// Takes back what segment `id` has not fetched yet, for other
    /// connections (its mirror was dropped as too slow): the range goes to
    /// the front of the free list and the holder stops at its next read.
    pub fn reclaim(&mut self, id: SegId) {
        if let Some((a, b)) = self.held.get(&id).and_then(|c| c.take_rest()) {
            self.free.push_front((a, b));
        }
    }

    /// Whether unclaimed work is waiting (not counting splits of running
    /// segments).
    pub fn has_free(&self) -> bool {
        !self.free.is_empty()
    }

    pub fn held_count(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1 << 20;

    #[test]
    fn plans_like_aria2() {
        let m = SegmentMap::new(1024 * M, RangeSet::new(), 16, 20 * M);
        assert_eq!(m.free.len(), 16);
        assert!(m.free.iter().all(|(a, b)| b - a == 64 * M));
        // Small file: one piece.
        let m = SegmentMap::new(64 << 10, RangeSet::new(), 16, 20 * M);
        assert_eq!(m.free.len(), 1);
        // -k bounds the piece count.
        let m = SegmentMap::new(100 * M, RangeSet::new(), 16, 20 * M);
        assert_eq!(m.free.len(), 5);
    }

    #[test]
    fn resumes_only_holes() {
        let done = RangeSet::from_ranges([(0, 10 * M), (50 * M, 60 * M)]);
        let m = SegmentMap::new(100 * M, done, 4, M);
        let sum: u64 = m.free.iter().map(|(a, b)| b - a).sum();
        assert_eq!(sum, 80 * M);
        assert!(m.free.iter().all(|&(a, b)| b <= 50 * M || a >= 60 * M));
    }

    #[test]
    fn steals_half_of_the_largest() {
        let mut m = SegmentMap::new(100 * M, RangeSet::new(), 1, M);
        let a = m.claim(None).unwrap();
        let b = m.claim(None).unwrap();
        let (pa, ea) = a.cursor.get();
        let (pb, eb) = b.cursor.get();
        assert_eq!((pa, ea), (0, pb));
        assert_eq!(eb, 100 * M);
        // The owner of `a` reads past the new end: only its share counts.
        let (from, n) = a.cursor.next_read(u64::MAX);
        assert_eq!(n, ea - from);
    }

    #[test]
    fn invalidated_bytes_are_fetched_again_first() {
        let mut m = SegmentMap::new(4 * M, RangeSet::new(), 1, 8 * M);
        let c = m.claim(None).unwrap();
        m.written(0, 4 * M);
        m.release(c.id);
        assert!(m.is_complete());
        m.invalidate(M, 2 * M);
        assert!(!m.is_complete());
        assert_eq!(m.completed_length(), 3 * M);
        let again = m.claim(None).unwrap();
        assert_eq!(again.cursor.get(), (M, 2 * M));
    }

    #[test]
    fn release_returns_the_unfetched_tail() {
        let mut m = SegmentMap::new(10 * M, RangeSet::new(), 1, 8 * M);
        let c = m.claim(None).unwrap();
        let (from, n) = c.cursor.next_read(M);
        assert_eq!(c.cursor.advance(from, n), M);
        m.written(0, M);
        m.release(c.id);
        let again = m.claim(None).unwrap();
        assert_eq!(again.cursor.get(), (M, 10 * M));
    }

    #[test]
    fn prefers_the_open_stream() {
        let mut m = SegmentMap::new(100 * M, RangeSet::new(), 4, M);
        let _first = m.claim(None).unwrap();
        let c = m.claim(Some(50 * M)).unwrap();
        assert_eq!(c.cursor.get().0, 50 * M);
    }

    #[test]
    fn concurrent_reads_and_splits_cover_every_byte_once() {
        let total = 64 * M;
        let mut m = SegmentMap::new(total, RangeSet::new(), 1, MIN_PIECE);
        let first = m.claim(None).unwrap();
        let cursor = first.cursor.clone();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            loop {
                let (from, n) = cursor.next_read(50_000);
                if n == 0 {
                    break;
                }
                let keep = cursor.advance(from, n);
                got.push((from, from + keep));
            }
            got
        });
        let mut claims = vec![];
        while let Some(c) = m.claim(None) {
            claims.push(c);
            if claims.len() > 20 {
                break;
            }
        }
        let mut ranges = reader.join().unwrap();
        for c in claims {
            let (a, b) = c.cursor.get();
            ranges.push((a, b));
        }
        ranges.sort();
        let mut pos = 0;
        for (a, b) in ranges {
            assert_eq!(a, pos, "gap or overlap");
            pos = b;
        }
        assert_eq!(pos, total);
    }

    #[test]
    fn in_order_hands_out_pieces_lowest_first() {
        let mut m = SegmentMap::in_order(10 * M, RangeSet::from_ranges([(0, M)]), 2 * M);
        assert_eq!(m.available_work(), 5);
        let got: Vec<(u64, u64)> = (0..4)
            .map(|_| m.claim(None).unwrap().cursor.get())
            .collect();
        assert_eq!(
            got,
            [(M, 3 * M), (3 * M, 5 * M), (5 * M, 7 * M), (7 * M, 10 * M)]
        );
        // A failed piece's tail comes back first.
        let mut m = SegmentMap::in_order(10 * M, RangeSet::new(), 2 * M);
        let a = m.claim(None).unwrap();
        let _b = m.claim(None).unwrap();
        m.written(0, M);
        m.release(a.id);
        assert_eq!(m.claim(None).unwrap().cursor.get(), (M, 2 * M));
        assert_eq!(m.claim(None).unwrap().cursor.get(), (4 * M, 6 * M));
    }

    #[test]
    fn reclaim_moves_the_unread_rest_to_the_free_list() {
        let mut m = SegmentMap::new(4 << 20, RangeSet::new(), 1, 1 << 20);
        let c = m.claim(None).expect("one segment");
        let (from, n) = c.cursor.next_read(1 << 20);
        assert_eq!(c.cursor.advance(from, n), 1 << 20);
        m.written(0, 1 << 20);
        m.reclaim(c.id);
        assert_eq!(c.cursor.next_read(10).1, 0, "the holder stops");
        let next = m.claim(None).expect("the rest is free");
        assert_eq!(next.cursor.get(), (1 << 20, 4 << 20));
        m.release(c.id);
        assert!(!m.has_free());
    }

    #[test]
    fn claim_by_splits_the_segment_that_finishes_last() {
        let mut m = SegmentMap::new(8 << 20, RangeSet::new(), 2, 1 << 20);
        let big = m.claim(None).unwrap();
        let small = m.claim(None).unwrap();
        // The second segment is as large, but pretend it crawls.
        let slow = small.id;
        let c = m
            .claim_by(None, |id, left| {
                if id == slow {
                    left as f64 * 100.0
                } else {
                    left as f64
                }
            })
            .expect("a split");
        assert_eq!(small.cursor.get().1, c.cursor.get().0);
        assert_eq!(big.cursor.get(), (0, 4 << 20));
    }
}
