//! What the coordinator publishes for RPC to read without asking it: each
//! download's [`DownloadStatus`] and the [`GlobalStat`].
//!
//! A status read used to be a round trip through the coordinator's mailbox
//! (send, wake the coordinator task, build the status, send back, wake the
//! RPC task): most of a pipelined `tellStatus`'s latency, and the reason it
//! stayed under three times aria2c's rate. Now the coordinator republishes
//! what changed after every message it handles (in daemon mode, the only
//! reader), and RPC reads the last published record under a lock held for a
//! map lookup.
//!
//! Freshness: the coordinator and the RPC server both run on core 0, and the
//! coordinator publishes before it yields, so anything it has answered (an
//! `addUri`'s GID, a pause) is on the board when the RPC task reads the
//! answer. Progress of a running download is republished with every message
//! about it and at every tick (250 ms), which is as live as aria2's own
//! numbers (its speeds are per-second averages).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::control::{DownloadStatus, GlobalStat};
use crate::gid::Gid;

/// A cloneable, `Send` reader (and, for the coordinator, writer) of the
/// published statuses.
#[derive(Clone, Default)]
pub struct StatusBoard {
    inner: Arc<Mutex<Board>>,
}

#[derive(Default)]
struct Board {
    downloads: HashMap<Gid, Arc<DownloadStatus>>,
    global: GlobalStat,
}

impl StatusBoard {
    /// The lock is held only for map operations, none of which can panic
    /// halfway through an update, so a poisoned board is still consistent.
    fn lock(&self) -> MutexGuard<'_, Board> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last published status of `gid` (active, waiting, paused or one
    /// of the kept results); `None` when RPC does not know it.
    pub fn status(&self, gid: Gid) -> Option<Arc<DownloadStatus>> {
        self.lock().downloads.get(&gid).cloned()
    }

    /// The last published `getGlobalStat`.
    pub fn global(&self) -> GlobalStat {
        self.lock().global.clone()
    }

    /// Every GID RPC knows (to expand an abbreviated one), in no order.
    pub fn gids(&self) -> Vec<Gid> {
        self.lock().downloads.keys().copied().collect()
    }

    /// Replaces (`Some`) or drops (`None`) each listed download's record and
    /// the global numbers, in one step for readers.
    pub(crate) fn publish(
        &self,
        changed: impl IntoIterator<Item = (Gid, Option<DownloadStatus>)>,
        global: GlobalStat,
    ) {
        // Built outside the lock: readers wait only for the map updates.
        let changed: Vec<(Gid, Option<Arc<DownloadStatus>>)> = changed
            .into_iter()
            .map(|(g, st)| (g, st.map(Arc::new)))
            .collect();
        let mut b = self.lock();
        for (gid, st) in changed {
            match st {
                Some(st) => {
                    b.downloads.insert(gid, st);
                }
                None => {
                    b.downloads.remove(&gid);
                }
            }
        }
        b.global = global;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::Status;

    fn status(gid: u64, completed: u64) -> DownloadStatus {
        DownloadStatus {
            gid: Gid(gid),
            status: Status::Waiting,
            total: 0,
            completed,
            download_speed: 0,
            upload_length: 0,
            upload_speed: 0,
            connections: 0,
            dir: ".".into(),
            path: None,
            uris: Vec::new(),
            error_code: None,
            error_message: None,
            options: Arc::default(),
            pieces: crate::piece_view::PieceView::unknown(1 << 20),
            bittorrent: None,
            servers: Vec::new(),
            following: None,
            followed_by: Vec::new(),
            belongs_to: None,
        }
    }

    #[test]
    fn publishing_replaces_and_drops_records() {
        let board = StatusBoard::default();
        let reader = board.clone();
        board.publish(
            [(Gid(1), Some(status(1, 0))), (Gid(2), Some(status(2, 0)))],
            GlobalStat {
                num_waiting: 2,
                ..GlobalStat::default()
            },
        );
        assert_eq!(reader.status(Gid(1)).unwrap().completed, 0);
        assert_eq!(reader.global().num_waiting, 2);
        board.publish(
            [(Gid(1), Some(status(1, 7))), (Gid(2), None)],
            GlobalStat::default(),
        );
        assert_eq!(reader.status(Gid(1)).unwrap().completed, 7);
        assert!(reader.status(Gid(2)).is_none());
        assert_eq!(reader.gids(), vec![Gid(1)]);
        assert_eq!(reader.global().num_waiting, 0);
    }
}
