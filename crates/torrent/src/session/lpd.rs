//! BEP 14 Local Peer Discovery for one torrent: announce on the LAN
//! multicast group and hand peers announcing this torrent to the actor.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arietta_runtime::MailboxSender;

use super::Session;
use crate::messages::ToTorrent;

/// Answer an LPD announcement from a new peer with ours, at most this
/// often, so a peer that started after us learns of us without waiting for
/// the next five-minute round.
const LPD_ANSWER_GAP: Duration = Duration::from_secs(2);

impl Session {
    /// Starts LPD when the options and the private flag allow it; a socket
    /// that cannot be bound leaves it off with a warning.
    pub(super) fn start_lpd(&self) -> Option<glommio::task::JoinHandle<()>> {
        if !self.discovery.lpd {
            return None;
        }
        let mut cfg = arietta_bt_net::lpd::LpdConfig::new(self.port);
        cfg.interface = match &self.dl.cfg.lpd_interface {
            crate::config::LpdInterface::Default => None,
            crate::config::LpdInterface::Address(ip) => Some(*ip),
            crate::config::LpdInterface::Missing(name) => {
                tracing::info!(
                    "LpdMessageReceiver not initialized: --bt-lpd-interface={name} has no IPv4 address."
                );
                return None;
            }
        };
        match arietta_bt_net::lpd::Lpd::bind(cfg) {
            Ok(l) => {
                Some(glommio::spawn_local(run_lpd(l, self.dl.info_hash, self.me.clone())).detach())
            }
            Err(e) => {
                tracing::warn!("Local Peer Discovery is off: {e}");
                None
            }
        }
    }
}

/// BEP 14 for one torrent: announce now and every five minutes (and, at
/// most every [`LPD_ANSWER_GAP`], in answer to a peer we had not heard
/// of), and hand peers announcing this torrent to the actor.
async fn run_lpd(lpd: arietta_bt_net::lpd::Lpd, info_hash: [u8; 20], me: MailboxSender<ToTorrent>) {
    use arietta_bt_net::lpd::ANNOUNCE_INTERVAL;
    let mut known: HashSet<SocketAddr> = HashSet::new();
    let _ = lpd.announce(&[info_hash]).await;
    let mut last = Instant::now();
    // An answer owed to a newcomer, sent once the gap since our last
    // announcement allows.
    let mut answer_owed = false;
    loop {
        let mut due = ANNOUNCE_INTERVAL.saturating_sub(last.elapsed());
        if answer_owed {
            due = due.min(LPD_ANSWER_GAP.saturating_sub(last.elapsed()));
        }
        let heard = futures_lite::future::or(async { Some(lpd.recv().await) }, async {
            glommio::timer::sleep(due).await;
            None
        })
        .await;
        match heard {
            None => {
                let _ = lpd.announce(&[info_hash]).await;
                last = Instant::now();
                answer_owed = false;
            }
            Some(Ok(peer)) if peer.info_hashes.contains(&info_hash) => {
                if known.insert(peer.addr) {
                    if me.send(ToTorrent::Peers(vec![peer.addr])).is_err() {
                        return;
                    }
                    answer_owed = true;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(_)) => glommio::timer::sleep(Duration::from_secs(1)).await,
        }
    }
}
