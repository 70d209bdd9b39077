//! What cores and the coordinator say to each other. Every message crosses
//! threads through a [`MailboxSender`]; replies travel in a one-shot
//! mailbox carried by the request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use arietta_runtime::MailboxSender;

use crate::config::DownloadConfig;
use crate::error::FetchError;
use crate::gid::Gid;
use crate::net_context::NetContext;
use crate::segment_map::{Claim, SegId};

/// Identifies one connection of one download.
pub type ConnId = u64;

/// What the first response told us about the remote file.
#[derive(Clone, Debug)]
pub struct ProbeInfo {
    /// URL after redirects; later connections go straight there.
    pub final_url: String,
    /// Entity length, when the server said it and the body is not
    /// transformed (gzip).
    pub total: Option<u64>,
    /// Whether byte ranges work (a 206 to our `bytes=0-`).
    pub ranges: bool,
    pub disposition_name: Option<String>,
    pub last_modified: Option<SystemTime>,
    pub validator: Option<String>,
    /// 304 to a conditional GET: the local file is current.
    pub not_modified: bool,
    /// Metalink/HTTP (RFC 6249) `Link: rel=duplicate` mirrors, best first,
    /// absolute.
    pub mirrors: Vec<String>,
    /// Metalink/HTTP `Digest:` (the strongest one offered), for final
    /// verification when no `--checksum` was given.
    pub digest: Option<arietta_metalink::Checksum>,
    /// The whole body, when the response is a metalink or a torrent to
    /// follow (`--follow-metalink`, `--follow-torrent`).
    pub follow: Option<FollowDoc>,
}

/// A small document that a download turns into other downloads.
#[derive(Clone, Debug)]
pub enum FollowDoc {
    Metalink(Vec<u8>),
    Torrent(Vec<u8>),
}

#[cfg(test)]
impl ProbeInfo {
    /// A plain ranged response of `total` bytes at `url`, for tests.
    pub(crate) fn ranged(url: &str, total: u64) -> Self {
        ProbeInfo {
            final_url: url.into(),
            total: Some(total),
            ranges: true,
            disposition_name: None,
            last_modified: None,
            validator: None,
            not_modified: false,
            mirrors: vec![],
            digest: None,
            follow: None,
        }
    }
}

/// The file as prepared for writing after the probe.
#[derive(Debug)]
pub struct PreparedFile {
    pub path: PathBuf,
    /// Bytes already in the file (from the control file or `-c`).
    pub done: arietta_storage::RangeSet,
    pub total: Option<u64>,
    pub ranges: bool,
    /// Whether a control file records progress (large, ranged files).
    pub control: bool,
    pub validator: Option<String>,
    /// `-V` found the file on disk matching its whole-file hash: the
    /// check is done, and said so, already.
    pub verified: bool,
}

/// Where a connection writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileTarget {
    pub path: Arc<PathBuf>,
    /// Large ranged downloads write whole pages with O_DIRECT.
    pub direct: bool,
    /// `-o -`: the bytes go to the process's stdout sink, not to `path`.
    pub stream: bool,
}

/// The coordinator's answer to a probe.
pub enum ProbeDecision {
    /// Keep reading the open response into this segment of `path`.
    Stream { claim: Claim, target: FileTarget },
    /// Close the response (nothing to fetch from its start) but stay as a
    /// worker: ask for work.
    AskForWork { target: FileTarget },
    /// Stop this connection.
    Stop,
}

/// Work handed to a connection.
pub struct Work {
    pub claim: Claim,
    pub target: FileTarget,
    /// The file's length, to check each 206's Content-Range against.
    pub total: Option<u64>,
    /// Whether the server does ranges; without them every (re)try is a
    /// whole-body GET from byte 0.
    pub ranged: bool,
}

/// Core → coordinator.
pub enum ToCoordinator {
    Probed {
        gid: Gid,
        conn: ConnId,
        result: Result<ProbeInfo, FetchError>,
        reply: MailboxSender<ProbeDecision>,
    },
    NeedWork {
        gid: Gid,
        /// The segment it just finished, released before the new claim.
        finished: Option<SegId>,
        /// Where its open response stands, to continue without a request.
        at: Option<u64>,
        /// Which connection asks: one on a dropped mirror gets no work.
        conn: ConnId,
        reply: MailboxSender<Option<Work>>,
    },
    /// A connection gives back a segment it claimed ahead (HTTP
    /// pipelining) or finished without asking for more work.
    Released { gid: Gid, conn: ConnId, seg: SegId },
    /// Bytes `[start, end)` are in the file (the write completed); `conn`
    /// wrote them, so a bad piece can be blamed on its mirror.
    Written {
        gid: Gid,
        conn: ConnId,
        start: u64,
        end: u64,
    },
    /// The blocking pool hashed a piece against its metalink checksum.
    PieceChecked { gid: Gid, index: usize, ok: bool },
    /// A response of unknown length ended cleanly at `len`.
    StreamEnded { gid: Gid, conn: ConnId, len: u64 },
    ConnEnded {
        gid: Gid,
        conn: ConnId,
        seg: Option<SegId>,
        result: Result<(), FetchError>,
    },
    /// A timer fired: retry a connection (for run `run` of the download).
    Retry {
        gid: Gid,
        run: u64,
        uri: usize,
        probe: bool,
    },
    /// The blocking pool finished preparing the file after a probe.
    Prepared {
        gid: Gid,
        /// The probing connection the file was prepared for.
        conn: ConnId,
        result: Result<PreparedFile, FetchError>,
        reply: MailboxSender<ProbeDecision>,
    },
    /// The finishing work is done (checksum, stamp, control file
    /// removed); `path`: the file the download ended up as, when only that
    /// work could tell (a followed metalink saved under a new name).
    Finalized {
        gid: Gid,
        result: Result<(), FetchError>,
        path: Option<PathBuf>,
    },
    /// A line from work done off this thread (a failed control-file or
    /// session save).
    Notice {
        level: crate::download::LogLevel,
        line: String,
    },
    /// A request naming a local file was read: a torrent, or not one.
    Sniffed {
        gid: Gid,
        found: Option<(arietta_torrent::TorrentSource, Vec<String>)>,
    },
    /// SIGINT/SIGTERM: save and stop.
    Interrupt,
    /// Connections had their chance to report their last writes after an
    /// interrupt; stop the rest now.
    InterruptDeadline,
    /// Periodic tick (readout, control files, speed checks).
    Tick,
    /// A request from RPC or another driver.
    Control(crate::control::Control),
    /// A magnet link's metadata arrived: run the torrent.
    TorrentReady {
        gid: Gid,
        download: Box<arietta_torrent::TorrentDownload>,
    },
    /// A torrent's actor ended (seeding done, stopped, or failed).
    TorrentEnded {
        gid: Gid,
        result: Result<(), arietta_torrent::TorrentError>,
    },
}

impl ToCoordinator {
    /// The download this message is about, whose published status may
    /// change with it. A control request names none here: what it changes
    /// is reported by the queue and the coordinator where it changes.
    pub(crate) fn gid(&self) -> Option<Gid> {
        match self {
            ToCoordinator::Probed { gid, .. }
            | ToCoordinator::NeedWork { gid, .. }
            | ToCoordinator::Released { gid, .. }
            | ToCoordinator::Written { gid, .. }
            | ToCoordinator::PieceChecked { gid, .. }
            | ToCoordinator::StreamEnded { gid, .. }
            | ToCoordinator::ConnEnded { gid, .. }
            | ToCoordinator::Retry { gid, .. }
            | ToCoordinator::Prepared { gid, .. }
            | ToCoordinator::Finalized { gid, .. }
            | ToCoordinator::Sniffed { gid, .. }
            | ToCoordinator::TorrentReady { gid, .. }
            | ToCoordinator::TorrentEnded { gid, .. } => Some(*gid),
            ToCoordinator::Notice { .. }
            | ToCoordinator::Interrupt
            | ToCoordinator::InterruptDeadline
            | ToCoordinator::Tick
            | ToCoordinator::Control(_) => None,
        }
    }
}

/// A connection to start on a core.
pub struct ConnTask {
    pub gid: Gid,
    pub conn: ConnId,
    pub url: String,
    pub probe: bool,
    /// Continue a partial file from the probe (used by `-c` without a
    /// control file and by `--conditional-get`).
    pub if_modified_since: Option<SystemTime>,
    pub cfg: Arc<DownloadConfig>,
    pub net: Arc<NetContext>,
    /// `--max-download-limit`, shared by this download's connections on
    /// every core.
    pub limit: Option<Arc<arietta_net::RateLimiter>>,
    /// Set by the coordinator to stop the download's connections at their
    /// next chunk boundary (interrupt, removal).
    pub stop: Arc<std::sync::atomic::AtomicBool>,
    /// The download's count of bytes read off the network: every read
    /// adds to it as the bytes arrive, for the speed (the coordinator
    /// samples it each tick; no message per read).
    pub received: Arc<std::sync::atomic::AtomicU64>,
    pub to_coord: MailboxSender<ToCoordinator>,
}

/// Coordinator → core.
pub enum ToCore {
    Start(Box<ConnTask>),
    /// Run a task on this core (a torrent's peer connection).
    Run(arietta_torrent::Job),
    Shutdown,
}
