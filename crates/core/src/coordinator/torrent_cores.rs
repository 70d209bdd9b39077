//! Which core runs each torrent's actor. Every `BlocksWritten`, `Hashed`
//! and tick of a torrent lands on its actor's core, so running them all on
//! the coordinator's core made it the bottleneck of many torrents at once.

use std::collections::HashMap;

use crate::gid::Gid;

/// Torrent actors per core; a new one goes where fewest run.
pub(super) struct TorrentCores {
    running: Vec<usize>,
    placed: HashMap<Gid, usize>,
}

/// The core with the fewest actors; on a tie, any core before core 0,
/// which also runs the coordinator, the DHT and metadata fetches.
pub(super) fn least_loaded(running: &[usize]) -> usize {
    (0..running.len())
        .min_by_key(|&c| (running[c], c == 0))
        .unwrap_or(0)
}

impl TorrentCores {
    pub(super) fn new(cores: usize) -> Self {
        TorrentCores {
            running: vec![0; cores.max(1)],
            placed: HashMap::new(),
        }
    }

    /// Picks the core for `gid`'s actor and counts it there.
    pub(super) fn place(&mut self, gid: Gid) -> usize {
        self.release(gid);
        let core = least_loaded(&self.running);
        self.running[core] += 1;
        self.placed.insert(gid, core);
        core
    }

    /// `gid`'s actor ended (a no-op when it never ran).
    pub(super) fn release(&mut self, gid: Gid) {
        if let Some(core) = self.placed.remove(&gid) {
            self.running[core] = self.running[core].saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewest_actors_win_and_ties_avoid_the_coordinators_core() {
        assert_eq!(least_loaded(&[0]), 0);
        assert_eq!(least_loaded(&[0, 0]), 1);
        assert_eq!(least_loaded(&[0, 1]), 0);
        assert_eq!(least_loaded(&[1, 1, 0, 0]), 2);
        assert_eq!(least_loaded(&[2, 3, 2]), 2);
        assert_eq!(least_loaded(&[]), 0);
    }

    #[test]
    fn torrents_spread_and_freed_cores_are_reused() {
        let mut cores = TorrentCores::new(2);
        let (a, b, c) = (Gid(1), Gid(2), Gid(3));
        assert_eq!(cores.place(a), 1);
        assert_eq!(cores.place(b), 0);
        assert_eq!(cores.place(c), 1);
        cores.release(b);
        cores.release(b);
        assert_eq!(cores.running, vec![0, 2]);
        assert_eq!(cores.place(b), 0);
        cores.release(Gid(9));
        assert_eq!(cores.running, vec![1, 2]);
    }
}
