use serde::{Deserialize, Serialize};

/// Sorted, disjoint, non-adjacent half-open byte ranges.
///
/// This is what the control file records as done: exact byte ranges rather
/// than a piece bitfield, so a resumed download re-fetches nothing that was
/// already written, however the segments were split.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from arbitrary ranges (merging as needed).
    pub fn from_ranges(it: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut s = Self::new();
        for (a, b) in it {
            s.insert(a, b);
        }
        s
    }

    /// Adds `[start, end)`, merging with neighbours it touches or overlaps.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        // First range whose end is >= start (could merge).
        let i = self.ranges.partition_point(|&(_, e)| e < start);
        let mut j = i;
        let (mut s, mut e) = (start, end);
        while j < self.ranges.len() && self.ranges[j].0 <= e {
            s = s.min(self.ranges[j].0);
            e = e.max(self.ranges[j].1);
            j += 1;
        }
        self.ranges.splice(i..j, std::iter::once((s, e)));
    }

    /// Takes `[start, end)` out of the set: bytes found bad (a piece whose
    /// hash did not match) must be fetched again, and the control file must
    /// stop claiming them.
    pub fn remove(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        for &(a, b) in &self.ranges {
            if b <= start || a >= end {
                out.push((a, b));
                continue;
            }
            if a < start {
                out.push((a, start));
            }
            if b > end {
                out.push((end, b));
            }
        }
        self.ranges = out;
    }

    /// Total bytes covered.
    pub fn covered(&self) -> u64 {
        self.ranges.iter().map(|(a, b)| b - a).sum()
    }

    /// Bytes of `[start, end)` covered by the set.
    pub fn covered_within(&self, start: u64, end: u64) -> u64 {
        self.ranges
            .iter()
            .map(|&(a, b)| b.min(end).saturating_sub(a.max(start)))
            .sum()
    }

    /// Whether every byte of `[start, end)` is in the set.
    pub fn contains_range(&self, start: u64, end: u64) -> bool {
        start >= end || self.ranges.iter().any(|&(a, b)| a <= start && end <= b)
    }

    /// The holes of `[0, len)` not in the set, in order.
    pub fn gaps(&self, len: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut pos = 0;
        for &(a, b) in &self.ranges {
            if a >= len {
                break;
            }
            if a > pos {
                out.push((pos, a));
            }
            pos = pos.max(b);
        }
        if pos < len {
            out.push((pos, len));
        }
        out
    }

    /// Length of the done prefix starting at 0.
    pub fn prefix_len(&self) -> u64 {
        match self.ranges.first() {
            Some(&(0, e)) => e,
            _ => 0,
        }
    }

    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Checks the invariants after decoding untrusted bytes.
    pub fn is_well_formed(&self, len: u64) -> bool {
        self.ranges.iter().all(|&(a, b)| a < b && b <= len)
            && self.ranges.windows(2).all(|w| w[0].1 < w[1].0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_gaps() {
        let mut s = RangeSet::new();
        s.insert(10, 20);
        s.insert(30, 40);
        s.insert(20, 30);
        assert_eq!(s.ranges(), &[(10, 40)]);
        s.insert(0, 5);
        s.insert(50, 60);
        assert_eq!(s.gaps(70), vec![(5, 10), (40, 50), (60, 70)]);
        assert_eq!(s.covered(), 45);
        s.insert(3, 55);
        assert_eq!(s.ranges(), &[(0, 60)]);
        assert!(s.contains_range(10, 60));
        assert!(!s.contains_range(10, 61));
        assert_eq!(s.prefix_len(), 60);
        assert_eq!(s.covered_within(50, 100), 10);
    }

    #[test]
    fn random_inserts_match_a_bitmap() {
        let mut x = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut s = RangeSet::new();
        let mut bits = vec![false; 1000];
        for _ in 0..300 {
            let a = next() % 1000;
            let b = (a + next() % 50).min(1000);
            s.insert(a, b);
            for bit in &mut bits[a as usize..b as usize] {
                *bit = true;
            }
            assert!(s.is_well_formed(1000));
        }
        let n = bits.iter().filter(|b| **b).count() as u64;
        assert_eq!(s.covered(), n);
        for (a, b) in s.gaps(1000) {
            assert!(bits[a as usize..b as usize].iter().all(|b| !b));
        }
    }

    #[test]
    fn remove_cuts_holes() {
        let mut s = RangeSet::from_ranges([(0, 100), (200, 300)]);
        s.remove(50, 250);
        assert_eq!(s.ranges(), &[(0, 50), (250, 300)]);
        s.remove(0, 10);
        s.remove(290, 400);
        assert_eq!(s.ranges(), &[(10, 50), (250, 290)]);
        s.remove(5, 5);
        assert_eq!(s.covered(), 80);
    }
}
