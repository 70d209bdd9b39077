//! Metalink chunk checksums checked while a download runs
//! (`--realtime-chunk-checksum`): as soon as every byte of a piece is on
//! disk, the piece is read back and hashed on the blocking pool; a bad
//! piece is taken out of the done ranges and fetched again, and the mirrors
//! that wrote it are known so the coordinator can drop them.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use arietta_metalink::PieceHashes;
use arietta_storage::RangeSet;

/// One piece to hash: its index and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PieceJob {
    pub index: usize,
    pub start: u64,
    pub end: u64,
}

/// The verification state of one file.
#[derive(Debug)]
pub struct PieceVerifier {
    hashes: PieceHashes,
    total: u64,
    verified: Vec<bool>,
    pending: HashSet<usize>,
    /// Mirror indexes that wrote bytes into each not-yet-verified piece.
    sources: HashMap<usize, Vec<usize>>,
}

impl PieceVerifier {
    /// Pieces already complete in `done` (resumed from a control file) are
    /// trusted, as aria2 trusts its own control file.
    pub fn new(hashes: PieceHashes, total: u64, done: &RangeSet) -> Self {
        let count = hashes.hashes.len();
        let mut v = PieceVerifier {
            hashes,
            total,
            verified: vec![false; count],
            pending: HashSet::new(),
            sources: HashMap::new(),
        };
        for i in 0..count {
            let (s, e) = v.range(i);
            v.verified[i] = done.contains_range(s, e);
        }
        v
    }

    fn range(&self, index: usize) -> (u64, u64) {
        let start = index as u64 * self.hashes.length;
        (start, (start + self.hashes.length).min(self.total))
    }

    /// Bytes `[start, end)` were written by a connection on mirror `uri`;
    /// returns the pieces this completed, to hash.
    pub fn written(
        &mut self,
        start: u64,
        end: u64,
        uri: Option<usize>,
        done: &RangeSet,
    ) -> Vec<PieceJob> {
        if start >= end || self.hashes.length == 0 {
            return Vec::new();
        }
        let first = (start / self.hashes.length) as usize;
        let last = ((end - 1) / self.hashes.length) as usize;
        let mut jobs = Vec::new();
        for i in first..=last.min(self.verified.len().saturating_sub(1)) {
            if self.verified[i] {
                continue;
            }
            if let Some(u) = uri {
                let s = self.sources.entry(i).or_default();
                if !s.contains(&u) {
                    s.push(u);
                }
            }
            let (s, e) = self.range(i);
            if !self.pending.contains(&i) && done.contains_range(s, e) {
                self.pending.insert(i);
                jobs.push(PieceJob {
                    index: i,
                    start: s,
                    end: e,
                });
            }
        }
        jobs
    }

    /// Whether a hash is still being computed: the file is not finished
    /// until every piece has been checked.
    pub fn busy(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The expected digest and algorithm of a piece, for the blocking job.
    pub fn expected(&self, index: usize) -> Option<(arietta_metalink::HashAlgo, Vec<u8>)> {
        Some((self.hashes.algo, self.hashes.piece(index)?.to_vec()))
    }

    /// Records a hash result. For a bad piece, returns its range and the
    /// mirrors that wrote it.
    pub fn checked(&mut self, index: usize, ok: bool) -> Option<(PieceJob, Vec<usize>)> {
        self.pending.remove(&index);
        let sources = self.sources.remove(&index).unwrap_or_default();
        if ok {
            if let Some(v) = self.verified.get_mut(index) {
                *v = true;
            }
            return None;
        }
        let (start, end) = self.range(index);
        Some((PieceJob { index, start, end }, sources))
    }

    /// The algorithm's aria2 name, for messages.
    pub fn algo_name(&self) -> &'static str {
        self.hashes.algo.aria2_name()
    }
}

/// Reads `[job.start, job.end)` of `path` and compares its digest. Runs on
/// the blocking pool. An unreadable piece counts as bad: fetching it again
/// is the only repair.
pub fn piece_matches(
    path: &Path,
    job: PieceJob,
    algo: arietta_metalink::HashAlgo,
    expected: &[u8],
) -> bool {
    let run = || -> std::io::Result<Vec<u8>> {
        let mut f = std::fs::File::open(path)?;
        f.seek(SeekFrom::Start(job.start))?;
        let mut left = job.end - job.start;
        let mut h = algo.hasher();
        let mut buf = vec![0u8; (1 << 20).min(left as usize).max(1)];
        while left > 0 {
            let want = (buf.len() as u64).min(left) as usize;
            let n = f.read(&mut buf[..want])?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            h.update(&buf[..n]);
            left -= n as u64;
        }
        Ok(h.finalize())
    };
    run().is_ok_and(|d| d == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_metalink::HashAlgo;

    fn hashes(data: &[u8], len: usize) -> PieceHashes {
        PieceHashes {
            algo: HashAlgo::Sha1,
            length: len as u64,
            hashes: data.chunks(len).map(|c| HashAlgo::Sha1.digest(c)).collect(),
        }
    }

    #[test]
    fn pieces_complete_in_any_order() {
        let data = vec![7u8; 25];
        let mut done = RangeSet::new();
        let mut v = PieceVerifier::new(hashes(&data, 10), 25, &done);
        done.insert(5, 12);
        assert!(v.written(5, 12, Some(0), &done).is_empty());
        done.insert(0, 5);
        let jobs = v.written(0, 5, Some(1), &done);
        assert_eq!(
            jobs,
            [PieceJob {
                index: 0,
                start: 0,
                end: 10
            }]
        );
        assert!(v.busy());
        let (job, mut src) = v.checked(0, false).unwrap();
        src.sort();
        assert_eq!((job.start, job.end, src), (0, 10, vec![0, 1]));
        done.insert(12, 25);
        let jobs = v.written(12, 25, None, &done);
        assert_eq!(jobs.iter().map(|j| j.index).collect::<Vec<_>>(), [1, 2]);
        assert!(v.checked(1, true).is_none() && v.checked(2, true).is_none());
        assert!(!v.busy());
    }

    #[test]
    fn resumed_pieces_are_trusted_and_files_hash() {
        let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, &data).unwrap();
        let h = hashes(&data, 1024);
        let v = PieceVerifier::new(h.clone(), 3000, &RangeSet::from_ranges([(0, 2048)]));
        assert!(v.verified[0] && v.verified[1] && !v.verified[2]);
        let job = PieceJob {
            index: 2,
            start: 2048,
            end: 3000,
        };
        assert!(piece_matches(&p, job, HashAlgo::Sha1, h.piece(2).unwrap()));
        assert!(!piece_matches(&p, job, HashAlgo::Sha1, h.piece(1).unwrap()));
    }
}
