//! One running download as the coordinator holds it: its request, its
//! stop flag, and the engine that runs it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::torrent_glue::TorrentEntry;
use crate::config::DownloadConfig;
use crate::control::{RunSnapshot, ServerStatus};
use crate::download::{BtProgress, DownloadRequest, Progress};
use crate::error::FetchError;
use crate::gid::Gid;
use crate::piece_view::PieceView;
use crate::segmented::SegmentedDownload;

/// One running download.
pub(super) struct Active {
    /// What started it: kept for pause (re-queued), options and status.
    pub(super) request: DownloadRequest,
    /// Tells this download's connections (or torrent) to stop at the next
    /// chunk.
    pub(super) stop: Arc<AtomicBool>,
    /// Bytes this download's connections have read off the network, added
    /// by each read on whichever core (no message per read): what its
    /// speed is measured on.
    pub(super) received: Arc<AtomicU64>,
    /// `--max-download-limit` for all of this download's connections.
    pub(super) limit: Option<Arc<arietta_net::RateLimiter>>,
    pub(super) started: Instant,
    /// Its place in start order (`tellActive` and the session list active
    /// downloads so; two starts may share an `Instant`).
    pub(super) start_seq: u64,
    pub(super) kind: DownloadKind,
    /// Told to stop, and why: kept while a torrent winds down (a graceful
    /// stop waits for the trackers' `stopped` announce, as aria2's does),
    /// during which RPC still shows it active.
    pub(super) halt: Option<Halt>,
    /// The time-driven numbers the last tick published: a tick republishes
    /// a download only when one of them moved, so thousands of idle seeds
    /// cost the coordinator nothing per tick (rebuilding every status each
    /// tick made a 10,000-torrent start-up quadratic).
    pub(super) ticked: Option<Ticked>,
}

/// What can change with time alone, without a message naming the download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ticked {
    completed: u64,
    speed: u64,
    upload_length: u64,
    upload_speed: u64,
    connections: usize,
}

impl Ticked {
    /// The numbers a tick compares against [`Active::ticked`], taken from
    /// the readout's progress the tick computes anyway.
    pub(super) fn of(p: &Progress) -> Ticked {
        Ticked {
            completed: p.completed,
            speed: p.speed,
            upload_length: p.uploaded,
            upload_speed: p.upload_speed,
            connections: p.connections,
        }
    }
}

/// What becomes of a running download once it has stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Halt {
    /// `remove`/`forceRemove`: a result with `errorCode` 31 (or complete,
    /// for a torrent that was only seeding).
    Remove,
    /// `pause`/`forcePause`: back to the queue's front, paused.
    Pause,
    /// `changeOption` of an option that does not apply in place: back to
    /// the queue's front, waiting, to start again with the new options
    /// (aria2's restart: no pause event).
    Restart,
    /// `shutdown`/`forceShutdown`: an unfinished result.
    Shutdown,
}

/// What kind of engine runs a download.
pub(super) enum DownloadKind {
    /// HTTP(S)/FTP/SFTP mirrors of one file, in segments.
    Segmented(Box<SegmentedDownload>),
    /// A torrent (file, magnet, URL or metalink metaurl).
    Torrent(Box<TorrentEntry>),
}

impl Active {
    pub(super) fn completed(&self) -> u64 {
        match &self.kind {
            DownloadKind::Segmented(s) => s.completed(),
            DownloadKind::Torrent(t) => t.completed(),
        }
    }

    pub(super) fn total(&self) -> u64 {
        match &self.kind {
            DownloadKind::Segmented(s) => s.total(),
            DownloadKind::Torrent(t) => t.total(),
        }
    }

    pub(super) fn speed(&self) -> u64 {
        match &self.kind {
            DownloadKind::Segmented(s) => s.speed(),
            DownloadKind::Torrent(t) => t.meter.speed(),
        }
    }

    /// Bytes this run took off the network: what its connections read, or
    /// a torrent's payload from peers.
    pub(super) fn session_bytes(&self) -> u64 {
        match &self.kind {
            DownloadKind::Segmented(_) => self.received.load(Ordering::Relaxed),
            DownloadKind::Torrent(t) => t.downloaded(),
        }
    }

    pub(super) fn upload_length(&self) -> u64 {
        match &self.kind {
            DownloadKind::Segmented(_) => 0,
            DownloadKind::Torrent(t) => t.uploaded(),
        }
    }

    pub(super) fn upload_speed(&self) -> u64 {
        match &self.kind {
            DownloadKind::Segmented(_) => 0,
            DownloadKind::Torrent(t) => t.up_meter.speed(),
        }
    }

    /// `numPieces`/`pieceLength`/`bitfield`: a torrent's own pieces;
    /// `--piece-length` ones over a segmented download's written ranges.
    pub(super) fn pieces(&self) -> PieceView {
        match &self.kind {
            DownloadKind::Segmented(s) => s.pieces(self.request.options.get_size("piece-length")),
            DownloadKind::Torrent(t) => t.pieces(),
        }
    }

    /// `getServers`: each connection's URI, where it led, its speed.
    pub(super) fn servers(&self) -> Vec<ServerStatus> {
        match &self.kind {
            DownloadKind::Segmented(s) => s.servers(),
            DownloadKind::Torrent(_) => Vec::new(),
        }
    }

    /// What this download shows once stopped or paused.
    pub(super) fn snapshot(&self) -> Arc<RunSnapshot> {
        let torrent = match &self.kind {
            DownloadKind::Torrent(t) => t.info().cloned(),
            DownloadKind::Segmented(_) => None,
        };
        Arc::new(RunSnapshot {
            path: self.path().map(|p| (**p).clone()),
            total: self.total(),
            completed: self.completed(),
            uploaded: self.upload_length(),
            pieces: Some(self.pieces()),
            torrent,
        })
    }

    /// The readout's numbers.
    pub(super) fn progress(&self, gid: Gid) -> Progress {
        let mut p = Progress {
            gid,
            completed: self.completed(),
            total: self.total(),
            speed: self.speed(),
            connections: self.connections(),
            path: self.path().map(|p| (**p).clone()),
            more_files: 0,
            uploaded: self.upload_length(),
            upload_speed: self.upload_speed(),
            bt: None,
        };
        if let DownloadKind::Torrent(t) = &self.kind {
            if let Some(info) = t.info() {
                let mut selected = info.files.iter().filter(|f| f.selected);
                if let Some(first) = selected.next() {
                    p.path = Some(first.path.clone());
                    p.more_files = selected.count();
                }
            }
            let (seeding, seeders) = t.run.as_ref().map_or((false, 0), |r| {
                (
                    r.stats.download_done.load(Ordering::Relaxed),
                    r.stats.seeders.load(Ordering::Relaxed),
                )
            });
            p.bt = Some(BtProgress { seeding, seeders });
        }
        p
    }

    /// Open connections (peers, for a torrent).
    pub(super) fn connections(&self) -> usize {
        match &self.kind {
            DownloadKind::Segmented(s) => s.connections(),
            DownloadKind::Torrent(t) => t.peers(),
        }
    }

    pub(super) fn cfg(&self) -> &Arc<DownloadConfig> {
        match &self.kind {
            DownloadKind::Segmented(s) => s.cfg(),
            DownloadKind::Torrent(t) => &t.cfg,
        }
    }

    pub(super) fn path(&self) -> Option<&Arc<PathBuf>> {
        match &self.kind {
            DownloadKind::Segmented(s) => s.path(),
            DownloadKind::Torrent(t) => t.path.as_ref(),
        }
    }

    pub(super) fn set_path(&mut self, path: PathBuf) {
        match &mut self.kind {
            DownloadKind::Segmented(s) => s.set_path(path),
            DownloadKind::Torrent(t) => t.path = Some(Arc::new(path)),
        }
    }

    pub(super) fn finishing(&self) -> bool {
        match &self.kind {
            DownloadKind::Segmented(s) => s.finishing(),
            DownloadKind::Torrent(t) => t.finishing,
        }
    }

    pub(super) fn set_finishing(&mut self) {
        match &mut self.kind {
            DownloadKind::Segmented(s) => s.set_finishing(),
            DownloadKind::Torrent(t) => t.finishing = true,
        }
    }

    pub(super) fn set_error(&mut self, e: FetchError) {
        match &mut self.kind {
            DownloadKind::Segmented(s) => s.set_error(e),
            DownloadKind::Torrent(t) => t.last_error = Some(e),
        }
    }

    pub(super) fn take_error(&mut self) -> Option<FetchError> {
        match &mut self.kind {
            DownloadKind::Segmented(s) => s.take_error(),
            DownloadKind::Torrent(t) => t.last_error.take(),
        }
    }
}
