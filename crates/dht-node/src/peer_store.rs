//! Peers announced to us (announce_peer), kept so get_peers can answer with
//! `values`. Bounded in every direction: a node on the open internet is
//! told about torrents by anyone.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arietta_dht::NodeId;

/// An announcement expires after this long unless renewed (BEP 5 leaves it
/// open; libtorrent and aria2 use 30 minutes with a 15-minute re-announce).
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);
/// Most torrents remembered.
const MAX_TORRENTS: usize = 2000;
/// Most peers remembered per torrent.
const MAX_PEERS: usize = 500;
/// Most peers returned in one get_peers reply (keeps it under one MTU).
pub const MAX_VALUES: usize = 50;

/// info-hash → announced peers and when they announced.
#[derive(Debug, Default)]
pub struct PeerStore {
    torrents: HashMap<NodeId, HashMap<SocketAddr, Instant>>,
}

impl PeerStore {
    /// Records (or renews) `peer` for `info_hash`.
    pub fn announce(&mut self, info_hash: NodeId, peer: SocketAddr, now: Instant) {
        if !self.torrents.contains_key(&info_hash) && self.torrents.len() >= MAX_TORRENTS {
            self.expire(now);
            if self.torrents.len() >= MAX_TORRENTS {
                return;
            }
        }
        let peers = self.torrents.entry(info_hash).or_default();
        if peers.len() >= MAX_PEERS && !peers.contains_key(&peer) {
            // Make room by dropping the oldest announcement.
            if let Some(oldest) = peers.iter().min_by_key(|(_, t)| **t).map(|(a, _)| *a) {
                peers.remove(&oldest);
            }
        }
        peers.insert(peer, now);
    }

    /// Live peers for `info_hash`, at most [`MAX_VALUES`].
    pub fn peers(&self, info_hash: &NodeId, now: Instant) -> Vec<SocketAddr> {
        self.torrents
            .get(info_hash)
            .into_iter()
            .flatten()
            .filter(|(_, t)| now.saturating_duration_since(**t) < PEER_TTL)
            .map(|(a, _)| *a)
            .take(MAX_VALUES)
            .collect()
    }

    /// Drops expired announcements.
    pub fn expire(&mut self, now: Instant) {
        self.torrents.retain(|_, peers| {
            peers.retain(|_, t| now.saturating_duration_since(*t) < PEER_TTL);
            !peers.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announce_expire_and_bounds() {
        let t0 = Instant::now();
        let ih = NodeId([1; 20]);
        let mut s = PeerStore::default();
        s.announce(ih, "10.0.0.1:1".parse().unwrap(), t0);
        s.announce(ih, "10.0.0.1:1".parse().unwrap(), t0);
        assert_eq!(s.peers(&ih, t0).len(), 1);
        assert!(s.peers(&NodeId([2; 20]), t0).is_empty());
        for i in 0..(MAX_PEERS as u16 + 10) {
            s.announce(ih, SocketAddr::from(([10, 1, 0, 1], i + 1)), t0);
        }
        assert_eq!(s.torrents[&ih].len(), MAX_PEERS);
        assert_eq!(s.peers(&ih, t0).len(), MAX_VALUES);
        let later = t0 + PEER_TTL;
        assert!(s.peers(&ih, later).is_empty());
        s.expire(later);
        assert!(s.torrents.is_empty());
    }
}
