//! Addresses to dial: every peer source (trackers, DHT, LPD, PEX, the
//! magnet's `x.pe`) offers addresses here; the session takes those due
//! when it has room, and a failed connection waits before its next try.
//! Peers that sent bad data collect strikes and end up banned. Pure
//! bookkeeping: addresses and times in, addresses out.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Delay before re-trying a peer whose connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(10);
/// A peer that contributed to this many failed pieces is banned.
const MAX_STRIKES: u32 = 2;
/// Addresses kept at most, however many trackers, DHT and PEX offer:
/// aria2's `MAX_PEER_LIST_SIZE` (512). When full, addresses already tried
/// and waiting for their retry make room for new ones; when none wait,
/// new addresses are dropped.
pub(super) const MAX_CANDIDATES: usize = 512;

#[derive(Debug, Default)]
pub(super) struct Candidates {
    /// Every address we know of, with when we may try it next.
    next_try: HashMap<SocketAddr, Instant>,
    banned: HashSet<SocketAddr>,
    strikes: HashMap<SocketAddr, u32>,
}

impl Candidates {
    /// Adds `peers` not yet known, skipping banned ones and ourselves
    /// (our `port` on a loopback or unspecified address), up to
    /// [`MAX_CANDIDATES`].
    pub(super) fn offer(&mut self, peers: Vec<SocketAddr>, our_port: u16, now: Instant) {
        for a in peers {
            let ours = a.port() == our_port && (a.ip().is_loopback() || a.ip().is_unspecified());
            if ours || self.banned.contains(&a) || self.next_try.contains_key(&a) {
                continue;
            }
            if self.next_try.len() >= MAX_CANDIDATES {
                self.next_try.retain(|_, t| *t <= now);
                if self.next_try.len() >= MAX_CANDIDATES {
                    continue;
                }
            }
            self.next_try.insert(a, now);
        }
    }

    /// Addresses known now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.next_try.len()
    }

    /// Up to `room` addresses due at `now` that are not `connected`, in
    /// address order; each waits [`RECONNECT_AFTER`] before it is due
    /// again.
    pub(super) fn take_due(
        &mut self,
        now: Instant,
        connected: &HashSet<SocketAddr>,
        room: usize,
    ) -> Vec<SocketAddr> {
        let mut ready: Vec<SocketAddr> = self
            .next_try
            .iter()
            .filter(|(a, t)| **t <= now && !connected.contains(a) && !self.banned.contains(a))
            .map(|(a, _)| *a)
            .collect();
        ready.sort();
        ready.truncate(room);
        for a in &ready {
            self.next_try.insert(*a, now + RECONNECT_AFTER);
        }
        ready
    }

    pub(super) fn ban(&mut self, addr: SocketAddr) {
        self.banned.insert(addr);
    }

    pub(super) fn is_banned(&self, addr: &SocketAddr) -> bool {
        self.banned.contains(addr)
    }

    /// Counts a failed piece against `addr` (`alone`: it sent the whole
    /// piece); true when the peer is now banned.
    pub(super) fn strike(&mut self, addr: SocketAddr, alone: bool) -> bool {
        let strikes = self.strikes.entry(addr).or_insert(0);
        *strikes += 1;
        if alone || *strikes >= MAX_STRIKES {
            self.banned.insert(addr);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn skips_ourselves_and_banned_peers() {
        let now = Instant::now();
        let mut c = Candidates::default();
        c.ban(a("10.0.0.9:1"));
        c.offer(
            vec![
                a("127.0.0.1:6881"),
                a("0.0.0.0:6881"),
                a("10.0.0.9:1"),
                a("127.0.0.1:7000"),
                a("10.0.0.1:6881"),
            ],
            6881,
            now,
        );
        let due = c.take_due(now, &HashSet::new(), usize::MAX);
        assert_eq!(due, vec![a("10.0.0.1:6881"), a("127.0.0.1:7000")]);
    }

    #[test]
    fn takes_at_most_room_in_order_and_retries_later() {
        let now = Instant::now();
        let mut c = Candidates::default();
        c.offer(
            vec![a("10.0.0.3:1"), a("10.0.0.1:1"), a("10.0.0.2:1")],
            6881,
            now,
        );
        let connected: HashSet<SocketAddr> = [a("10.0.0.1:1")].into();
        assert_eq!(c.take_due(now, &connected, 1), vec![a("10.0.0.2:1")]);
        assert_eq!(c.take_due(now, &connected, 5), vec![a("10.0.0.3:1")]);
        assert!(c.take_due(now, &connected, 5).is_empty(), "tried: wait");
        let later = now + RECONNECT_AFTER;
        assert_eq!(c.take_due(later, &HashSet::new(), 5).len(), 3);
        // Offering a known address again does not make it due sooner.
        c.offer(vec![a("10.0.0.3:1")], 6881, later);
        assert!(c.take_due(later, &HashSet::new(), 5).is_empty());
    }

    #[test]
    fn the_set_is_capped_and_tried_addresses_make_room() {
        let now = Instant::now();
        let mut c = Candidates::default();
        let many: Vec<SocketAddr> = (0..100_000u32)
            .map(|i| SocketAddr::from((i.to_be_bytes(), 6881)))
            .collect();
        c.offer(many, 6881, now);
        assert_eq!(c.len(), MAX_CANDIDATES);
        c.offer(vec![a("10.9.9.9:1")], 6881, now);
        assert_eq!(c.len(), MAX_CANDIDATES, "full: new ones wait");
        let tried = c.take_due(now, &HashSet::new(), 10);
        assert_eq!(tried.len(), 10);
        c.offer(vec![a("10.9.9.9:1")], 6881, now);
        assert_eq!(c.len(), MAX_CANDIDATES - 9, "the tried ten made room");
        assert!(c
            .take_due(now, &HashSet::new(), usize::MAX)
            .contains(&a("10.9.9.9:1")));
    }

    #[test]
    fn strikes_ban_a_lone_sender_at_once_and_others_at_the_second() {
        let now = Instant::now();
        let mut c = Candidates::default();
        assert!(c.strike(a("10.0.0.1:1"), true));
        assert!(!c.strike(a("10.0.0.2:1"), false));
        assert!(c.strike(a("10.0.0.2:1"), false));
        c.offer(vec![a("10.0.0.1:1"), a("10.0.0.2:1")], 6881, now);
        assert!(c.take_due(now, &HashSet::new(), 5).is_empty());
        assert!(c.is_banned(&a("10.0.0.2:1")));
    }
}
