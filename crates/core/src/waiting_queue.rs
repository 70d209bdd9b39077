//! The queue of downloads waiting for a slot (and the paused ones, which
//! keep their place in it), in queue order with lookup by GID.
//!
//! A daemon may hold tens of thousands of queued downloads while clients
//! poll `tellStatus` for each: a lookup must not scan the queue (it was a
//! fifth of the coordinator's time in the RPC profile at 10,000 queued).

use std::collections::{HashMap, VecDeque};

use crate::download::DownloadRequest;
use crate::gid::Gid;

/// Queue order as GIDs, the requests in a map by GID. Every request in the
/// queue has a GID (one is assigned on the way in).
#[derive(Default)]
pub struct WaitingQueue {
    order: VecDeque<Gid>,
    requests: HashMap<Gid, DownloadRequest>,
}

impl WaitingQueue {
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Requests in queue order.
    pub fn iter(&self) -> impl Iterator<Item = &DownloadRequest> + '_ {
        self.order.iter().filter_map(|g| self.requests.get(g))
    }

    /// The GIDs in queue order, without looking their requests up (the
    /// order RPC's lists are published in, copied after every add).
    pub fn gids(&self) -> impl ExactSizeIterator<Item = Gid> + '_ {
        self.order.iter().copied()
    }

    pub fn get(&self, gid: Gid) -> Option<&DownloadRequest> {
        self.requests.get(&gid)
    }

    pub fn get_mut(&mut self, gid: Gid) -> Option<&mut DownloadRequest> {
        self.requests.get_mut(&gid)
    }

    pub fn contains(&self, gid: Gid) -> bool {
        self.requests.contains_key(&gid)
    }

    /// Queue position of `gid`.
    pub fn position(&self, gid: Gid) -> Option<usize> {
        if !self.contains(gid) {
            return None;
        }
        self.order.iter().position(|g| *g == gid)
    }

    /// Inserts at `at` (clamped to the end); a request queued again under
    /// a GID already present replaces the old entry. Every request enters
    /// here, so this is where its URIs take aria2's stored form
    /// ([`DownloadRequest::encode_uris`], which a second pass leaves as is).
    pub fn insert(&mut self, at: usize, mut req: DownloadRequest) {
        let gid = *req.gid.get_or_insert_with(Gid::new);
        req.encode_uris();
        if self.requests.insert(gid, req).is_some() {
            self.order.retain(|g| *g != gid);
        }
        self.order.insert(at.min(self.order.len()), gid);
    }

    pub fn push_front(&mut self, req: DownloadRequest) {
        self.insert(0, req);
    }

    /// Removes the request at queue position `i`.
    pub fn remove(&mut self, i: usize) -> Option<DownloadRequest> {
        let gid = self.order.remove(i)?;
        self.requests.remove(&gid)
    }
}

impl From<Vec<DownloadRequest>> for WaitingQueue {
    fn from(v: Vec<DownloadRequest>) -> Self {
        let mut q = WaitingQueue::default();
        for r in v {
            q.insert(usize::MAX, r);
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn req(g: u64) -> DownloadRequest {
        DownloadRequest {
            gid: Some(Gid(g)),
            uris: vec![format!("http://h/{g}")],
            options: Arc::new(arietta_options::OptionSet::default()),
            metalink: None,
            snapshot: None,
            torrent: None,
        }
    }

    #[test]
    fn keeps_order_and_finds_by_gid() {
        let mut q = WaitingQueue::from(vec![req(1), req(2), req(3)]);
        q.insert(1, req(4));
        q.push_front(req(5));
        let order: Vec<u64> = q.iter().map(|r| r.gid.unwrap().0).collect();
        assert_eq!(order, [5, 1, 4, 2, 3]);
        assert_eq!(q.position(Gid(2)), Some(3));
        assert_eq!(q.get(Gid(4)).unwrap().uris[0], "http://h/4");
        assert_eq!(q.remove(0).unwrap().gid, Some(Gid(5)));
        assert!(!q.contains(Gid(5)));
        assert_eq!(q.len(), 4);
    }

    #[test]
    fn requeued_gid_replaces_the_old_entry() {
        let mut q = WaitingQueue::from(vec![req(1), req(2)]);
        q.push_front(req(2));
        let order: Vec<u64> = q.iter().map(|r| r.gid.unwrap().0).collect();
        assert_eq!(order, [2, 1]);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn assigns_a_gid_when_missing() {
        let mut q = WaitingQueue::default();
        let mut r = req(0);
        r.gid = None;
        q.insert(0, r);
        assert!(q.iter().next().unwrap().gid.is_some());
    }
}
