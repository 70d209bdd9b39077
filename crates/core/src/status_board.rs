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
//!
//! The order of `tellActive`, `tellWaiting` and `tellStopped` is published
//! too, as three lists of GIDs, so those reads skip the coordinator as well.
//! The coordinator rebuilds them only after a message that moved something
//! in or out of its queue (not for progress), so a 10,000-entry queue costs
//! one copy of its GIDs per add or removal, not per tick.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::control::{DownloadStatus, GlobalStat, ListKind};
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
    order: Order,
}

/// The GIDs of each list, in the order aria2 lists them.
#[derive(Clone, Default)]
pub(crate) struct Order {
    /// In the order they started.
    pub active: Arc<[Gid]>,
    /// Waiting and paused, in queue order.
    pub waiting: Arc<[Gid]>,
    /// Oldest result first.
    pub stopped: Arc<[Gid]>,
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

    /// `tellActive` (`offset` 0, every one), `tellWaiting` or
    /// `tellStopped`: the published statuses of that list's page, paged as
    /// aria2 pages (a negative offset counts from the end, backwards).
    pub fn list(&self, which: ListKind, offset: i64, num: usize) -> Vec<Arc<DownloadStatus>> {
        let b = self.lock();
        let gids = match which {
            ListKind::Active => &b.order.active,
            ListKind::Waiting => &b.order.waiting,
            ListKind::Stopped => &b.order.stopped,
        };
        slice_like_aria2(gids, offset, num)
            .into_iter()
            .filter_map(|g| b.downloads.get(&g).cloned())
            .collect()
    }

    /// Every GID RPC knows (to expand an abbreviated one), in no order.
    pub fn gids(&self) -> Vec<Gid> {
        self.lock().downloads.keys().copied().collect()
    }

    /// Replaces (`Some`) or drops (`None`) each listed download's record and
    /// the global numbers, in one step for readers.
    /// `order`, when given, replaces the lists' order.
    pub(crate) fn publish(
        &self,
        changed: impl IntoIterator<Item = (Gid, Option<DownloadStatus>)>,
        global: GlobalStat,
        order: Option<Order>,
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
        if let Some(order) = order {
            b.order = order;
        }
    }
}

/// aria2's `tellWaiting`/`tellStopped` paging: a negative offset counts
/// from the end and then walks backwards.
pub(crate) fn slice_like_aria2<T: Clone>(all: &[T], offset: i64, num: usize) -> Vec<T> {
    let len = all.len() as i64;
    if offset >= 0 {
        let from = usize::try_from(offset).unwrap_or(usize::MAX).min(all.len());
        return all[from..].iter().take(num).cloned().collect();
    }
    let start = len + offset;
    if start < 0 {
        return Vec::new();
    }
    (0..=start)
        .rev()
        .take(num)
        .map(|i| all[i as usize].clone())
        .collect()
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
            Some(Order {
                waiting: Arc::from([Gid(2), Gid(1)]),
                ..Order::default()
            }),
        );
        let listed: Vec<Gid> = reader
            .list(ListKind::Waiting, 0, 10)
            .iter()
            .map(|s| s.gid)
            .collect();
        assert_eq!(listed, vec![Gid(2), Gid(1)]);
        assert_eq!(reader.status(Gid(1)).unwrap().completed, 0);
        assert_eq!(reader.global().num_waiting, 2);
        board.publish(
            [(Gid(1), Some(status(1, 7))), (Gid(2), None)],
            GlobalStat::default(),
            None,
        );
        assert_eq!(reader.status(Gid(1)).unwrap().completed, 7);
        assert!(reader.status(Gid(2)).is_none());
        assert_eq!(reader.gids(), vec![Gid(1)]);
        assert_eq!(reader.global().num_waiting, 0);
        // A dropped record is left out of a list still naming it.
        assert_eq!(reader.list(ListKind::Waiting, 0, 10).len(), 1);
    }

    #[test]
    fn paging_with_negative_offsets() {
        let all = [0, 1, 2, 3, 4];
        assert_eq!(slice_like_aria2(&all, 1, 2), vec![1, 2]);
        assert_eq!(slice_like_aria2(&all, 9, 2), Vec::<i32>::new());
        assert_eq!(slice_like_aria2(&all, -1, 3), vec![4, 3, 2]);
        assert_eq!(slice_like_aria2(&all, -5, 3), vec![0]);
        assert!(slice_like_aria2(&all, -6, 3).is_empty());
    }
}
