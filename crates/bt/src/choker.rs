//! The choking algorithm (BEP 3's tit-for-tat, as aria2 and libtorrent run
//! it) as pure logic: give it a snapshot of peer statistics and the time,
//! get back the set of peers to unchoke; everyone else is choked.
//!
//! - Every 10 s the interested peers that give us the most (download rate
//!   from them; upload rate to them once we seed, since then nobody gives
//!   us anything) get the regular upload slots.
//! - One more slot is the optimistic unchoke, rotated every 30 s to a
//!   random interested peer, with newly connected peers three times as
//!   likely: that is how a newcomer with nothing gets its first pieces and
//!   how we discover faster peers.
//! - A peer that has not sent us a block for 60 s although we want data
//!   from it is snubbed: it loses its regular slot (it can still win the
//!   optimistic one).

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::piece_picker::PeerKey;

/// Tunables; defaults match aria2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChokerConfig {
    /// Peers unchoked at once, the optimistic slot included
    /// (`--bt-max-upload-slots`-like; aria2 uses 4).
    pub upload_slots: usize,
    /// How often regular slots are recomputed.
    pub rechoke_interval: Duration,
    /// How often the optimistic unchoke moves.
    pub optimistic_interval: Duration,
    /// Silence after which an unchoking peer we want data from is snubbed.
    pub snub_timeout: Duration,
}

impl Default for ChokerConfig {
    fn default() -> Self {
        ChokerConfig {
            upload_slots: 4,
            rechoke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            snub_timeout: Duration::from_secs(60),
        }
    }
}

/// What the choker needs to know about one connected peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerStats {
    /// Coordinator handle.
    pub peer: PeerKey,
    /// The peer wants data from us (only they can use an unchoke).
    pub peer_interested: bool,
    /// We want data from the peer.
    pub am_interested: bool,
    /// Recent rate at which the peer sends us data (bytes/s).
    pub download_rate: u64,
    /// Recent rate at which we send the peer data (bytes/s).
    pub upload_rate: u64,
    /// When the peer last delivered a block, if ever.
    pub last_block_received: Option<Instant>,
    /// When the connection was established.
    pub connected_at: Instant,
}

/// The outcome of a rechoke.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ChokeDecision {
    /// Peers to unchoke (regular slots and the optimistic one); choke all
    /// others.
    pub unchoke: Vec<PeerKey>,
    /// Which of them is the optimistic unchoke.
    pub optimistic: Option<PeerKey>,
}

/// Choking state for one torrent.
#[derive(Debug)]
pub struct Choker {
    config: ChokerConfig,
    last_rechoke: Option<Instant>,
    last_optimistic: Option<Instant>,
    optimistic: Option<PeerKey>,
    rng: StdRng,
}

impl Choker {
    /// A choker whose random choices follow `seed`.
    pub fn new(config: ChokerConfig, seed: u64) -> Self {
        Choker {
            config,
            last_rechoke: None,
            last_optimistic: None,
            optimistic: None,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Whether the peer is snubbed at `now`.
    pub fn is_snubbed(&self, stats: &PeerStats, now: Instant) -> bool {
        let since = stats.last_block_received.unwrap_or(stats.connected_at);
        stats.am_interested && now.saturating_duration_since(since) >= self.config.snub_timeout
    }

    /// Rechokes if the interval has passed since the last rechoke.
    pub fn tick(
        &mut self,
        now: Instant,
        peers: &[PeerStats],
        seeding: bool,
    ) -> Option<ChokeDecision> {
        let due = self
            .last_rechoke
            .is_none_or(|t| now.saturating_duration_since(t) >= self.config.rechoke_interval);
        due.then(|| self.rechoke(now, peers, seeding))
    }

    /// Rechokes now (also call this when an unchoked peer leaves or loses
    /// interest, so its slot is not wasted until the next tick).
    pub fn rechoke(&mut self, now: Instant, peers: &[PeerStats], seeding: bool) -> ChokeDecision {
        self.last_rechoke = Some(now);
        let slots = self.config.upload_slots;
        if slots == 0 {
            self.optimistic = None;
            return ChokeDecision::default();
        }
        let mut regular: Vec<&PeerStats> = peers
            .iter()
            .filter(|p| p.peer_interested && (seeding || !self.is_snubbed(p, now)))
            .collect();
        if seeding {
            regular.sort_by(|a, b| b.upload_rate.cmp(&a.upload_rate).then(a.peer.cmp(&b.peer)));
        } else {
            regular.sort_by(|a, b| {
                b.download_rate
                    .cmp(&a.download_rate)
                    .then(b.upload_rate.cmp(&a.upload_rate))
                    .then(a.peer.cmp(&b.peer))
            });
        }
        regular.truncate(slots - 1);
        let mut unchoke: Vec<PeerKey> = regular.iter().map(|p| p.peer).collect();

        let candidates: Vec<&PeerStats> = peers
            .iter()
            .filter(|p| p.peer_interested && !unchoke.contains(&p.peer))
            .collect();
        let current_ok = self
            .optimistic
            .is_some_and(|o| candidates.iter().any(|p| p.peer == o));
        let rotate = !current_ok
            || self.last_optimistic.is_none_or(|t| {
                now.saturating_duration_since(t) >= self.config.optimistic_interval
            });
        if rotate {
            self.optimistic = self.pick_optimistic(&candidates, now);
            self.last_optimistic = Some(now);
        }
        if let Some(o) = self.optimistic {
            unchoke.push(o);
        }
        ChokeDecision {
            unchoke,
            optimistic: self.optimistic,
        }
    }

    fn pick_optimistic(&mut self, candidates: &[&PeerStats], now: Instant) -> Option<PeerKey> {
        let weight = |p: &PeerStats| {
            if now.saturating_duration_since(p.connected_at) < self.config.optimistic_interval {
                3u64
            } else {
                1
            }
        };
        let total: u64 = candidates.iter().map(|p| weight(p)).sum();
        if total == 0 {
            return None;
        }
        let mut ticket = self.rng.gen_range(0..total);
        for p in candidates {
            let w = weight(p);
            if ticket < w {
                return Some(p.peer);
            }
            ticket -= w;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(peer: u64, down: u64, up: u64, t0: Instant) -> PeerStats {
        PeerStats {
            peer: PeerKey(peer),
            peer_interested: true,
            am_interested: true,
            download_rate: down,
            upload_rate: up,
            last_block_received: Some(t0),
            connected_at: t0,
        }
    }

    #[test]
    fn top_downloaders_plus_one_optimistic() {
        let t0 = Instant::now();
        let mut c = Choker::new(ChokerConfig::default(), 1);
        let peers: Vec<_> = (1..=8).map(|i| stats(i, i * 100, 0, t0)).collect();
        let d = c.tick(t0, &peers, false).unwrap();
        assert_eq!(d.unchoke.len(), 4);
        assert_eq!(&d.unchoke[..3], &[PeerKey(8), PeerKey(7), PeerKey(6)]);
        let opt = d.optimistic.unwrap();
        assert!(opt.0 <= 5);
        assert_eq!(d.unchoke[3], opt);
        // Not due again before 10 s.
        assert!(c.tick(t0 + Duration::from_secs(5), &peers, false).is_none());
        // At 10 s the optimistic unchoke stays (30 s rotation).
        let d2 = c.tick(t0 + Duration::from_secs(10), &peers, false).unwrap();
        assert_eq!(d2.optimistic, Some(opt));
    }

    #[test]
    fn optimistic_rotates_over_time() {
        let t0 = Instant::now();
        let mut c = Choker::new(ChokerConfig::default(), 3);
        let peers: Vec<_> = (1..=20).map(|i| stats(i, 0, 0, t0)).collect();
        let mut seen = std::collections::HashSet::new();
        for round in 0..10u64 {
            let now = t0 + Duration::from_secs(30 * round);
            let d = c.rechoke(now, &peers, false);
            seen.insert(d.optimistic.unwrap());
        }
        assert!(seen.len() > 3, "{seen:?}");
    }

    #[test]
    fn seeding_ranks_by_upload_rate_and_ignores_uninterested() {
        let t0 = Instant::now();
        let mut c = Choker::new(ChokerConfig::default(), 1);
        let mut peers: Vec<_> = (1..=6).map(|i| stats(i, 1000 - i, i * 10, t0)).collect();
        peers[5].peer_interested = false; // peer 6 has the best upload rate
        let d = c.rechoke(t0, &peers, true);
        assert_eq!(&d.unchoke[..3], &[PeerKey(5), PeerKey(4), PeerKey(3)]);
        assert!(!d.unchoke.contains(&PeerKey(6)));
    }

    #[test]
    fn snubbed_peer_loses_regular_slot() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(120);
        let mut c = Choker::new(
            ChokerConfig {
                upload_slots: 2,
                ..Default::default()
            },
            1,
        );
        let mut fast_but_silent = stats(1, 10_000, 0, t0);
        fast_but_silent.last_block_received = Some(t0);
        let mut ok = stats(2, 10, 0, t0);
        ok.last_block_received = Some(now);
        assert!(c.is_snubbed(&fast_but_silent, now));
        assert!(!c.is_snubbed(&ok, now));
        let d = c.rechoke(now, &[fast_but_silent, ok], false);
        assert_eq!(d.unchoke[0], PeerKey(2));
        // The snubbed peer can still be the optimistic unchoke.
        assert_eq!(d.optimistic, Some(PeerKey(1)));
    }

    #[test]
    fn degenerate_inputs() {
        let t0 = Instant::now();
        let mut c = Choker::new(
            ChokerConfig {
                upload_slots: 0,
                ..Default::default()
            },
            1,
        );
        assert!(c
            .rechoke(t0, &[stats(1, 1, 1, t0)], false)
            .unchoke
            .is_empty());
        let mut c = Choker::new(ChokerConfig::default(), 1);
        assert_eq!(c.rechoke(t0, &[], false), ChokeDecision::default());
        // A leaving optimistic peer is replaced at once.
        let peers: Vec<_> = (1..=5).map(|i| stats(i, 0, 0, t0)).collect();
        let d = c.rechoke(t0, &peers, false);
        let gone = d.optimistic.unwrap();
        let rest: Vec<_> = peers.into_iter().filter(|p| p.peer != gone).collect();
        let d2 = c.rechoke(t0 + Duration::from_secs(1), &rest, false);
        assert!(d2.optimistic.is_some_and(|o| o != gone));
    }
}
