//! Piece completion: a piece whose blocks are all written is hashed on the
//! blocking pool of the core whose peer task wrote its last block (where
//! its pages were just touched, and not the actor's core, which many
//! torrents' pieces would queue on); a good one is announced to every peer and joins the
//! control file, a bad one costs its senders a strike; the last good one
//! turns the download into a seed.

use std::sync::atomic::Ordering;
use std::time::Instant;

use arietta_bt::piece_picker::PeerKey;

use super::Session;
use crate::hashing;
use crate::messages::{ToPeer, ToTorrent};

impl Session {
    /// Hashes piece `index` on `core`'s blocking pool; the answer comes
    /// back as [`ToTorrent::Hashed`].
    pub(super) fn hash_piece(&mut self, index: u32, core: usize) {
        if !self.hashing.insert(index) {
            return;
        }
        let layout = self.dl.layout.clone();
        let hashes = self.dl.hashes.clone();
        let me = self.me.clone();
        self.spawner.spawn_on(
            core,
            Box::new(move || {
                Box::pin(async move {
                    let ok = glommio::executor()
                        .spawn_blocking(move || {
                            hashing::verify_piece(&layout, index, &hashes).unwrap_or(false)
                        })
                        .await;
                    let _ = me.send(ToTorrent::Hashed { index, ok });
                })
            }),
        );
    }

    pub(super) fn on_hashed(&mut self, index: u32, ok: bool) {
        self.hashing.remove(&index);
        if ok {
            self.on_piece_passed(index);
        } else {
            self.on_piece_failed(index);
        }
        self.update_stats();
    }

    fn on_piece_passed(&mut self, index: u32) {
        // aria2's line (at its level), which also shows the piece order.
        tracing::info!("we got new piece. index={index}");
        let _ = self.picker.piece_passed(index);
        self.have.set(index);
        self.stream_piece(index);
        self.dirty = true;
        for p in self.peers.values() {
            let _ = p.tx.send(ToPeer::Have(index));
        }
        if self.is_complete() {
            self.on_complete(true);
        } else {
            let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
            for k in keys {
                self.update_interest(k);
            }
        }
    }

    fn on_piece_failed(&mut self, index: u32) {
        tracing::info!("Piece #{index} failed its hash check");
        let contributors = self.picker.piece_failed(index).unwrap_or_default();
        let alone = contributors.len() == 1;
        for k in contributors {
            let Some(addr) = self.peers.get(&k).map(|p| p.addr) else {
                continue;
            };
            if self.candidates.strike(addr, alone) {
                tracing::info!(peer = %addr, "Banning a peer that sent bad data");
                self.send(k, ToPeer::Close);
            }
        }
        self.refill_all();
    }

    /// Every selected piece is verified: seed from now on, and drop the
    /// seeds we were downloading from.
    pub(super) fn on_complete(&mut self, downloaded_now: bool) {
        if self.completed_at.is_some() {
            return;
        }
        tracing::info!("Download complete: seeding");
        self.completed_at = Some(Instant::now());
        self.dl.stats.download_done.store(true, Ordering::Relaxed);
        if downloaded_now {
            self.announce_completed();
        }
        self.save_control();
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            let seed = self.peers.get(&k).is_some_and(|p| p.seed);
            if seed {
                self.send(k, ToPeer::Close);
            } else {
                self.update_interest(k);
            }
        }
    }
}
