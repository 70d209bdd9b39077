//! Waiting on conditions instead of sleeping for a guessed time.
//!
//! A fixed sleep before a signal or a check is either too short on a
//! loaded machine (flaky) or too long everywhere else (slow). Every test
//! waits instead for the thing the sleep stood for: a port accepting, a
//! control file existing, bytes having reached a file, a line in a log.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// Polls `cond` every 10 ms until it holds (true) or `limit` has passed
/// (false, after one last try). Callers assert on the result with a
/// message saying what never happened.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return cond();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How much downloaded data has landed under `path` (a file, or a
/// directory walked recursively): the 4 KiB blocks that are not all zero.
///
/// Counted from content rather than size because a download's file has its
/// full length from the start (preallocation, or a sparse file written out
/// of order); the tests' pattern data never has an all-zero block, so this
/// tells how far a download really got, whatever the allocation mode.
pub fn bytes_landed(path: &Path) -> u64 {
    const BLOCK: usize = 4096;
    if path.is_dir() {
        return std::fs::read_dir(path)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| bytes_landed(&e.path()))
                    .sum()
            })
            .unwrap_or(0);
    }
    let Ok(mut f) = std::fs::File::open(path) else {
        return 0;
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut landed = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) | Err(_) => return landed,
            Ok(n) => n,
        };
        landed += buf[..n]
            .chunks(BLOCK)
            .filter(|b| b.iter().any(|&x| x != 0))
            .map(|b| b.len() as u64)
            .sum::<u64>();
    }
}
