//! Block request scheduling: interest follows what the picker says a peer
//! can give us, each unchoked peer's pipeline is kept topped up in
//! batches, written blocks are credited, and a peer that sits on our
//! requests is dropped so its blocks go to others.

use std::time::{Duration, Instant};

use arietta_bt::piece_geometry::BlockRef;
use arietta_bt::piece_picker::{BlockOutcome, PeerKey};

use super::Session;
use crate::messages::ToPeer;

/// Blocks kept requested per unchoked peer: 128 × 16 KiB = 2 MiB in flight,
/// enough to fill a loopback pipe across the cross-core round trip.
const PIPELINE: usize = 128;
/// Top up once this many requests have been answered, so refills go out in
/// batches rather than one message per block.
const REFILL_BATCH: usize = 16;
/// A peer that holds requests of ours and sends nothing for this long is
/// dropped, so its blocks go to others.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// How many blocks to ask a peer for now: none while it chokes us or we
/// are not interested, else what tops its pipeline up to [`PIPELINE`].
fn requests_wanted(choking_us: bool, am_interested: bool, outstanding: usize) -> usize {
    if choking_us || !am_interested {
        return 0;
    }
    PIPELINE.saturating_sub(outstanding)
}

/// Whether a peer that unchoked us and holds `outstanding` requests has
/// sent nothing for [`STALL_TIMEOUT`] (counted from the connection when it
/// never sent a block).
fn is_stalled(
    now: Instant,
    choking_us: bool,
    outstanding: usize,
    last_block: Option<Instant>,
    connected_at: Instant,
) -> bool {
    !choking_us
        && outstanding > 0
        && now.saturating_duration_since(last_block.unwrap_or(connected_at)) >= STALL_TIMEOUT
}

impl Session {
    pub(super) fn update_interest(&mut self, key: PeerKey) {
        let want = !self.is_complete() && self.picker.is_interesting(key);
        if let Some(p) = self.peers.get_mut(&key) {
            if p.am_interested != want {
                p.am_interested = want;
                let _ = p.tx.send(ToPeer::Interested(want));
            }
            if want && !p.choking_us {
                self.refill(key);
            }
        }
    }

    /// Tops the peer's pipeline up to [`PIPELINE`] requests.
    pub(super) fn refill(&mut self, key: PeerKey) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.answered = 0;
        let n = requests_wanted(p.choking_us, p.am_interested, self.picker.outstanding(key));
        if n == 0 {
            return;
        }
        let blocks = self.picker.pick(key, n, None);
        if !blocks.is_empty() {
            let _ = p.tx.send(ToPeer::Request(blocks));
        }
    }

    pub(super) fn refill_all(&mut self) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            self.refill(k);
        }
    }

    pub(super) fn on_choked(&mut self, key: PeerKey) {
        let _ = self.picker.peer_choked(key);
        if let Some(p) = self.peers.get_mut(&key) {
            p.choking_us = true;
        }
        self.refill_all();
    }

    pub(super) fn on_unchoked(&mut self, key: PeerKey) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.choking_us = false;
        }
        self.refill(key);
    }

    /// Blocks are on disk (one read's worth from one peer): credit them,
    /// cancel their duplicates (endgame), hash each piece they complete on
    /// the core of the peer that completed it, and refill the peer every
    /// [`REFILL_BATCH`] answers.
    pub(super) fn on_blocks_written(&mut self, key: PeerKey, blocks: Vec<BlockRef>) {
        self.last_data = Instant::now();
        self.block_reports.note(blocks.len());
        let core = self.peers.get(&key).map_or(0, |p| p.core);
        let mut bytes = 0;
        for block in &blocks {
            bytes += u64::from(block.length);
            match self.picker.block_received(key, block) {
                BlockOutcome::Unwanted => {}
                BlockOutcome::Accepted {
                    piece_complete,
                    cancels,
                } => {
                    self.downloaded += u64::from(block.length);
                    for (k, b) in cancels {
                        self.send(k, ToPeer::Cancel(b));
                    }
                    if piece_complete {
                        self.hash_piece(block.index, core);
                    }
                }
            }
        }
        if let Some(p) = self.peers.get_mut(&key) {
            p.last_block = Some(Instant::now());
            p.tick_down += bytes;
            p.answered += blocks.len();
            if p.answered >= REFILL_BATCH {
                self.refill(key);
            }
        }
    }

    pub(super) fn close_stalled_peers(&mut self) {
        let now = Instant::now();
        let stalled: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(k, p)| {
                is_stalled(
                    now,
                    p.choking_us,
                    self.picker.outstanding(**k),
                    p.last_block,
                    p.connected_at,
                )
            })
            .map(|(k, _)| *k)
            .collect();
        for k in stalled {
            tracing::debug!(peer = ?self.peers.get(&k).map(|p| p.addr), "Dropping a stalled peer");
            self.send(k, ToPeer::Close);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelines_only_unchoked_interesting_peers_up_to_the_cap() {
        assert_eq!(requests_wanted(true, true, 0), 0);
        assert_eq!(requests_wanted(false, false, 0), 0);
        assert_eq!(requests_wanted(false, true, 0), PIPELINE);
        assert_eq!(requests_wanted(false, true, PIPELINE - 3), 3);
        assert_eq!(requests_wanted(false, true, PIPELINE + 1), 0);
    }

    #[test]
    fn a_peer_is_stalled_only_while_it_owes_us_blocks() {
        let t0 = Instant::now();
        let later = t0 + STALL_TIMEOUT;
        assert!(is_stalled(later, false, 1, None, t0));
        assert!(
            !is_stalled(later, true, 1, None, t0),
            "choked: not its fault"
        );
        assert!(!is_stalled(later, false, 0, None, t0), "owes nothing");
        assert!(!is_stalled(
            later,
            false,
            1,
            Some(t0 + Duration::from_secs(1)),
            t0
        ));
        assert!(!is_stalled(t0, false, 1, None, t0));
    }
}
