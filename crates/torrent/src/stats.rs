//! Live numbers of a torrent, written by its actor and read by the
//! coordinator (readout, RPC) from any core.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, OnceLock};

use crate::have_set::HaveSet;

/// One connected peer as RPC's `getPeers` shows it.
#[derive(Clone, Debug)]
pub struct PeerSummary {
    pub addr: SocketAddr,
    pub peer_id: Option<[u8; 20]>,
    pub seeder: bool,
    pub am_choking: bool,
    pub peer_choking: bool,
    /// Bytes/s over the last tick.
    pub download_speed: u64,
    pub upload_speed: u64,
}

/// Live numbers, read by the coordinator (readout, RPC) from any core.
#[derive(Debug, Default)]
pub struct TorrentStats {
    /// Connected peers, refreshed every tick.
    pub peer_list: std::sync::Mutex<Vec<PeerSummary>>,
    /// Verified bytes of the selected files.
    pub completed: AtomicU64,
    /// Length of the selected files.
    pub total: AtomicU64,
    pub uploaded: AtomicU64,
    pub downloaded: AtomicU64,
    pub peers: AtomicUsize,
    pub seeders: AtomicUsize,
    /// Every selected piece is verified (seeding from now on).
    pub download_done: AtomicBool,
    /// The port we listen on (0 until bound).
    pub port: AtomicUsize,
    /// The verified pieces, once the actor runs (the very set peer tasks
    /// read, so RPC's `bitfield` costs no message).
    pub(crate) have: OnceLock<Arc<HaveSet>>,
}

impl TorrentStats {
    /// The verified pieces, piece 0 the high bit of the first byte (the
    /// wire's and aria2's order); `None` until the actor runs.
    pub fn have_bits(&self) -> Option<Vec<u8>> {
        self.have.get().map(|h| h.to_bytes())
    }
}
