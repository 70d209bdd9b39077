//! The peer registry: one entry per connection slot (dialled, accepted or
//! a web seed), the tasks behind them spread over the cores, and what the
//! actor learns about each peer as its connection goes.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use arietta_bt::piece_picker::PeerKey;
use arietta_runtime::{mailbox, MailboxSender};
use tracing::Instrument;

use super::{Session, TICK};
use crate::messages::ToPeer;
use crate::peer::{run_peer, PeerSetup, PeerSource};
use crate::stats::PeerSummary;

/// aria2's `minPeers_` (40): below this many peers a leecher dials
/// whatever its speed.
const MIN_PEERS: usize = 40;

/// Whether a leecher with `peers` connections downloading at `speed`
/// dials more, as aria2's `ActivePeerConnectionCommand` decides: while
/// under [`MIN_PEERS`], or slower than `--bt-request-peer-speed-limit`
/// (cut to `--max-download-limit` when that is lower, since a capped
/// download can never be faster). 0 for either limit means none.
fn wants_more_peers(peers: usize, speed: u64, request_limit: u64, download_limit: u64) -> bool {
    let threshold = match download_limit {
        0 => request_limit,
        cap => request_limit.min(cap),
    };
    peers < MIN_PEERS || speed < threshold
}

pub(super) struct PeerEntry {
    pub(super) tx: MailboxSender<ToPeer>,
    /// The core its task runs on: where the pieces it completes are hashed.
    pub(super) core: usize,
    pub(super) addr: SocketAddr,
    pub(super) peer_id: Option<[u8; 20]>,
    pub(super) choking_us: bool,
    pub(super) am_interested: bool,
    pub(super) am_choking: bool,
    pub(super) seed: bool,
    /// Requests answered since the last refill.
    pub(super) answered: usize,
    /// Bytes moved since the last tick, for the per-peer speeds.
    pub(super) tick_down: u64,
    pub(super) tick_up: u64,
    pub(super) down_speed: u64,
    pub(super) up_speed: u64,
    pub(super) peer_interested: bool,
    pub(super) connected_at: Instant,
    pub(super) last_block: Option<Instant>,
    /// Where the peer accepts connections: its address when we dialled
    /// it, the extension handshake's `p` when it dialled us. What PEX
    /// tells others.
    pub(super) listen_addr: Option<SocketAddr>,
}

impl PeerEntry {
    fn new(
        tx: MailboxSender<ToPeer>,
        core: usize,
        addr: SocketAddr,
        listen_addr: Option<SocketAddr>,
    ) -> Self {
        PeerEntry {
            tx,
            core,
            addr,
            peer_id: None,
            choking_us: true,
            am_interested: false,
            am_choking: true,
            seed: false,
            answered: 0,
            tick_down: 0,
            tick_up: 0,
            down_speed: 0,
            up_speed: 0,
            peer_interested: false,
            connected_at: Instant::now(),
            last_block: None,
            listen_addr,
        }
    }
}

impl Session {
    pub(super) fn send(&self, key: PeerKey, m: ToPeer) {
        if let Some(p) = self.peers.get(&key) {
            let _ = p.tx.send(m);
        }
    }

    fn max_peers(&self) -> usize {
        match self.dl.cfg.max_peers {
            0 => usize::MAX,
            n => n,
        }
    }

    pub(super) fn add_candidates(&mut self, peers: Vec<SocketAddr>) {
        self.candidates.offer(peers, self.port, Instant::now());
        self.connect_more();
    }

    /// Dials the candidates that are due, up to `--bt-max-peers`.
    pub(super) fn connect_more(&mut self) {
        if self.is_complete() {
            // Seeding: leechers come to us.
            return;
        }
        let speed: u64 = self.peers.values().map(|p| p.down_speed).sum();
        let cfg = &self.dl.cfg;
        if !wants_more_peers(
            self.peers.len(),
            speed,
            cfg.request_peer_speed_limit,
            cfg.max_download_limit,
        ) {
            return;
        }
        let connected: HashSet<SocketAddr> = self.peers.values().map(|p| p.addr).collect();
        let room = self.max_peers().saturating_sub(self.peers.len());
        for a in self.candidates.take_due(Instant::now(), &connected, room) {
            self.start_peer(PeerSource::Outgoing(a), a);
        }
    }

    /// Starts the torrent's `url-list` web seeds and the HTTP URIs given
    /// next to it, each as a peer with every piece (BEP 19), unless the
    /// download is already complete.
    pub(crate) fn start_web_seeds(&mut self) {
        if self.is_complete() {
            return;
        }
        let mut bases: Vec<String> = self.dl.meta.url_list.clone();
        for u in &self.dl.cfg.web_seeds {
            if !bases.contains(u) {
                bases.push(u.clone());
            }
        }
        for (i, base) in bases.iter().enumerate() {
            let Some(urls) = crate::web_seed::file_urls(&self.dl.meta, base) else {
                continue;
            };
            // A placeholder address: web seeds are never dialled as peers.
            let addr = SocketAddr::from(([0, 0, 0, 0], (i + 1) as u16));
            let http = self.dl.cfg.http.clone();
            self.start_peer(PeerSource::WebSeed(Arc::new(urls), http), addr);
        }
    }

    /// An accepted connection gets a peer slot when the peer is not
    /// banned and the torrent has fewer than `--bt-max-peers`; else it is
    /// closed at once. Its place in the process-wide count
    /// ([`crate::MAX_INCOMING_PER_PROCESS`]) was taken when it was accepted.
    pub(super) fn on_incoming(&mut self, mut s: crate::listener::IncomingPeer, addr: SocketAddr) {
        if self.candidates.is_banned(&addr) || self.peers.len() >= self.max_peers() {
            tracing::debug!(peer = %addr, "Refusing an incoming connection");
            return;
        }
        let slot = s.take_slot();
        self.start_peer_with(PeerSource::Incoming(s), addr, slot);
    }

    /// Gives the connection a slot and runs its task on the next core,
    /// counting from the actor's own.
    fn start_peer(&mut self, source: PeerSource, addr: SocketAddr) {
        self.start_peer_with(source, addr, None);
    }

    fn start_peer_with(
        &mut self,
        source: PeerSource,
        addr: SocketAddr,
        incoming_slot: Option<crate::IncomingSlot>,
    ) {
        let key = PeerKey(self.next_key);
        self.next_key += 1;
        let (tx, inbox) = mailbox();
        let setup = PeerSetup {
            key,
            addr,
            info_hash: self.dl.info_hash,
            our_id: self.peer_id,
            layout: self.dl.layout.clone(),
            have: self.have.clone(),
            to_torrent: self.me.clone(),
            inbox,
            upload_limits: self.upload_limits.clone(),
            download_limit: self.download_limit.clone(),
            crypto: self.dl.cfg.crypto,
            proxy: self.dl.cfg.peer_proxy.clone(),
            pex: self.discovery.pex,
            listen_port: self.port,
            max_open_files: self.dl.cfg.max_open_files,
            peer_agent: self.dl.cfg.peer_agent.clone(),
            incoming_slot,
        };
        let cores = self.spawner.core_count().max(1);
        let core = self.next_core % cores;
        self.next_core = self.next_core.wrapping_add(1);
        let listen_addr = matches!(source, PeerSource::Outgoing(_)).then_some(addr);
        self.peers
            .insert(key, PeerEntry::new(tx, core, addr, listen_addr));
        self.picker.add_peer(key);
        // aria2's bare `CUID#n - ` prefix (not under the torrent's span);
        // the address is in the lines that name the peer (`From: ADDR …`).
        let span = tracing::info_span!(parent: None, "peer", cuid = key.0);
        self.spawner.spawn_on(
            core,
            Box::new(move || Box::pin(run_peer(source, setup).instrument(span))),
        );
    }

    /// The handshake named the peer; a second connection to the same peer
    /// is closed.
    pub(super) fn on_handshaken(&mut self, key: PeerKey, peer_id: [u8; 20]) {
        let dup = self
            .peers
            .iter()
            .any(|(k, p)| *k != key && p.peer_id == Some(peer_id));
        if dup {
            self.send(key, ToPeer::Close);
            return;
        }
        if let Some(p) = self.peers.get_mut(&key) {
            p.peer_id = Some(peer_id);
        }
    }

    pub(super) fn on_closed(&mut self, key: PeerKey, ban: bool, reason: Option<String>) {
        let addr = self.peers.get(&key).map(|p| p.addr);
        tracing::debug!(
            peer = ?addr,
            cuid = key.0,
            ban,
            "Peer connection closed: {}",
            reason.as_deref().unwrap_or("done")
        );
        if reason.is_some() {
            self.last_peer_error = reason;
        }
        let freed = self.picker.remove_peer(key);
        if let Some(p) = self.peers.remove(&key) {
            if ban {
                self.candidates.ban(p.addr);
            }
            if !p.am_choking {
                self.rechoke(true);
            }
        }
        if !freed.is_empty() {
            self.refill_all();
        }
    }

    /// A peer with every piece is of no use to a finished download.
    pub(super) fn mark_seed(&mut self, key: PeerKey, seed: bool) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.seed = seed;
        }
        if seed && self.is_complete() {
            self.send(key, ToPeer::Close);
        }
    }

    /// Per-peer speeds over the last tick, and the list RPC's `getPeers`
    /// reads.
    pub(super) fn refresh_peer_list(&mut self) {
        let per_sec = |b: u64| (b as f64 / TICK.as_secs_f64()) as u64;
        for p in self.peers.values_mut() {
            p.down_speed = per_sec(std::mem::take(&mut p.tick_down));
            p.up_speed = per_sec(std::mem::take(&mut p.tick_up));
        }
        let list = self
            .peers
            .values()
            // Web seeds sit at 0.0.0.0:N; aria2's getPeers lists only peers.
            .filter(|p| p.peer_id.is_some() && !p.addr.ip().is_unspecified())
            .map(|p| PeerSummary {
                addr: p.addr,
                peer_id: p.peer_id,
                seeder: p.seed,
                am_choking: p.am_choking,
                peer_choking: p.choking_us,
                download_speed: p.down_speed,
                upload_speed: p.up_speed,
            })
            .collect();
        if let Ok(mut l) = self.dl.stats.peer_list.lock() {
            *l = list;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dials_more_while_few_or_slow() {
        assert!(wants_more_peers(39, u64::MAX, 50_000, 0), "few");
        assert!(wants_more_peers(45, 10_000, 50_000, 0), "slow");
        assert!(!wants_more_peers(45, 60_000, 50_000, 0), "fast enough");
        assert!(!wants_more_peers(45, 20_000, 50_000, 20_000), "at its cap");
        assert!(!wants_more_peers(45, 0, 0, 0), "no threshold");
    }
}
