//! What we give peers: upload slots (the choker's choice, applied) and,
//! every [`PEX_INTERVAL`], the peers we know through `ut_pex`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arietta_bt::choker::PeerStats;
use arietta_bt::pex::{PexFlags, PexPeer};

use super::Session;
use crate::messages::ToPeer;

/// How often peers get a `ut_pex` message: aria2's (and BEP 11's) minute.
const PEX_INTERVAL: Duration = Duration::from_secs(60);

/// The peer set to tell the peer listening at `own` (it is not told about
/// itself), from every peer's listening address and whether it seeds.
fn pex_list(all: &[(SocketAddr, bool)], own: Option<SocketAddr>) -> Vec<PexPeer> {
    all.iter()
        .filter(|(a, _)| Some(*a) != own)
        .map(|&(addr, seed)| PexPeer {
            addr,
            flags: PexFlags(if seed { PexFlags::SEED } else { 0 }),
        })
        .collect()
}

impl Session {
    /// Every [`PEX_INTERVAL`], tells each peer (through its task, which
    /// sends only the difference from its last message) the peers we are
    /// connected to.
    pub(super) fn send_pex(&mut self) {
        if !self.discovery.pex || self.last_pex.elapsed() < PEX_INTERVAL {
            return;
        }
        self.last_pex = Instant::now();
        let all: Vec<(SocketAddr, bool)> = self
            .peers
            .values()
            .filter(|p| p.peer_id.is_some())
            .filter_map(|p| p.listen_addr.map(|a| (a, p.seed)))
            .collect();
        for p in self.peers.values().filter(|p| p.peer_id.is_some()) {
            let _ = p.tx.send(ToPeer::Pex(pex_list(&all, p.listen_addr)));
        }
    }

    /// Applies the choker's choice of upload slots (now, or when due).
    pub(super) fn rechoke(&mut self, now_please: bool) {
        let now = Instant::now();
        let stats: Vec<PeerStats> = self
            .peers
            .iter()
            .filter(|(_, p)| p.peer_id.is_some())
            .map(|(k, p)| PeerStats {
                peer: *k,
                peer_interested: p.peer_interested,
                am_interested: p.am_interested,
                download_rate: p.down_speed,
                upload_rate: p.up_speed,
                last_block_received: p.last_block,
                connected_at: p.connected_at,
            })
            .collect();
        let seeding = self.is_complete();
        let decision = if now_please {
            Some(self.choker.rechoke(now, &stats, seeding))
        } else {
            self.choker.tick(now, &stats, seeding)
        };
        let Some(d) = decision else { return };
        for (k, p) in self.peers.iter_mut() {
            let choke = !d.unchoke.contains(k);
            if p.am_choking != choke {
                p.am_choking = choke;
                let _ = p.tx.send(ToPeer::Choke(choke));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pex_tells_each_peer_of_the_others_with_their_seed_flag() {
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1".parse().unwrap();
        let all = [(a, true), (b, false)];
        let to_a = pex_list(&all, Some(a));
        assert_eq!(to_a.len(), 1);
        assert_eq!(to_a[0].addr, b);
        assert_eq!(to_a[0].flags.0 & PexFlags::SEED, 0);
        let to_unknown = pex_list(&all, None);
        assert_eq!(to_unknown.len(), 2);
        assert_eq!(to_unknown[0].flags.0 & PexFlags::SEED, PexFlags::SEED);
    }
}
