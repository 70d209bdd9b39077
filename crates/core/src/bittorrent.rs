//! The coordinator's side of BitTorrent: which requests are torrents, and
//! the hook through which a torrent's actor spreads peer tasks over cores.

use std::path::Path;
use std::sync::Arc;

use arietta_runtime::MailboxSender;
use arietta_torrent::{CoreSpawner, Job, TorrentSource, TorrentStats};

use crate::download::DownloadRequest;
use crate::messages::ToCore;

/// A torrent download's live handle, kept in the coordinator's entry.
pub struct TorrentRun {
    pub stats: Arc<TorrentStats>,
    pub info_hash: [u8; 20],
    pub name: String,
    pub announce_list: Vec<Vec<String>>,
    pub files: Vec<(std::path::PathBuf, u64, bool)>,
    /// "Download complete" was shown (seeding may go on).
    pub notified: bool,
}

/// What makes a request a torrent, as in aria2: `-T FILE`, a `magnet:`
/// URI, or a positional argument naming a local `.torrent` file.
pub fn source_of(req: &DownloadRequest) -> Option<TorrentSource> {
    if let Some(t) = req
        .options
        .get_opt_str("torrent-file")
        .filter(|s| !s.is_empty())
    {
        return Some(TorrentSource::File(t.into()));
    }
    let [uri] = req.uris.as_slice() else {
        return None;
    };
    if uri.starts_with("magnet:") {
        return Some(TorrentSource::Magnet(uri.clone()));
    }
    if !uri.contains("://") && Path::new(uri).is_file() {
        return Some(TorrentSource::File(uri.into()));
    }
    None
}

/// Spawns torrent peer tasks on the engine's cores through their mailboxes.
pub struct CoreMailboxes(pub Vec<MailboxSender<ToCore>>);

impl CoreSpawner for CoreMailboxes {
    fn core_count(&self) -> usize {
        self.0.len()
    }

    fn spawn_on(&self, core: usize, job: Job) {
        if let Some(tx) = self.0.get(core % self.0.len().max(1)) {
            let _ = tx.send(ToCore::Run(job));
        }
    }
}
