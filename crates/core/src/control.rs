//! Driving a running engine from outside: what RPC (and tests) ask the
//! coordinator, and the events it announces. Requests travel through the
//! coordinator's mailbox like every other message; each carries a one-shot
//! mailbox for its answer, so callers on any core can await it. Status
//! reads need no request: the coordinator publishes them on a
//! [`StatusBoard`] the handle reads.

use std::path::PathBuf;
use std::sync::Arc;

use arietta_options::OptionSet;
use arietta_runtime::{mailbox, MailboxSender};

use crate::download::{DownloadRequest, Status};
use crate::exit_code::ExitCode;
use crate::gid::Gid;
use crate::messages::ToCoordinator;
use crate::piece_view::PieceView;
use crate::status_board::StatusBoard;
use crate::torrent_info::TorrentInfo;

/// A download as RPC's `tellStatus` shows it.
#[derive(Clone, Debug)]
pub struct DownloadStatus {
    pub gid: Gid,
    pub status: Status,
    pub total: u64,
    pub completed: u64,
    pub download_speed: u64,
    pub upload_length: u64,
    pub upload_speed: u64,
    pub connections: usize,
    pub dir: PathBuf,
    pub path: Option<PathBuf>,
    pub uris: Vec<String>,
    /// aria2 reports an error code for every stopped download ("0" when
    /// it completed).
    pub error_code: Option<ExitCode>,
    pub error_message: Option<String>,
    pub options: Arc<OptionSet>,
    /// `numPieces`, `pieceLength`, `bitfield`, and each file's
    /// `completedLength`.
    pub pieces: PieceView,
    /// BitTorrent fields (`infoHash`, `numSeeders`, `seeder`,
    /// `bittorrent`) of a torrent, running or not.
    pub bittorrent: Option<BtStatus>,
    /// `getServers`: the connections of a running HTTP/FTP download.
    pub servers: Vec<ServerStatus>,
    /// `following`: the download whose result queued this one.
    pub following: Option<Gid>,
    /// `followedBy`: the downloads this one's result queued.
    pub followed_by: Vec<Gid>,
    /// `belongsTo`: the download this one is a part of.
    pub belongs_to: Option<Gid>,
}

/// What RPC shows of a torrent.
#[derive(Clone, Debug)]
pub struct BtStatus {
    pub info: Arc<TorrentInfo>,
    pub num_seeders: usize,
    /// Every selected piece is ours (seeding); `None` for a stopped
    /// torrent, where aria2 shows no `seeder`.
    pub seeder: Option<bool>,
    /// Connected peers (`getPeers`).
    pub peers: Vec<arietta_torrent::PeerSummary>,
}

/// One connection of a running download (`getServers`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStatus {
    /// The URI as given.
    pub uri: String,
    /// Where it led (after redirects).
    pub current_uri: String,
    pub download_speed: u64,
}

/// What a download that is not running still shows of its last run (or,
/// for a torrent queued by `aria2.addTorrent`, of its metainfo): it rides
/// on the paused request and on the result, as aria2 keeps a stopped
/// group's piece storage.
#[derive(Clone, Debug, Default)]
pub struct RunSnapshot {
    pub path: Option<PathBuf>,
    pub total: u64,
    pub completed: u64,
    pub uploaded: u64,
    pub pieces: Option<PieceView>,
    pub torrent: Option<Arc<TorrentInfo>>,
}

/// `getGlobalStat`.
#[derive(Clone, Debug, Default)]
pub struct GlobalStat {
    pub download_speed: u64,
    pub upload_speed: u64,
    pub num_active: usize,
    pub num_waiting: usize,
    pub num_stopped: usize,
    pub num_stopped_total: usize,
    /// Bytes written by active downloads and by the stopped ones still
    /// listed (for `/metrics`).
    pub completed_bytes: u64,
    /// Connections open now.
    pub connections: usize,
}

/// Which list `tellActive`/`tellWaiting`/`tellStopped` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    Active,
    /// Waiting and paused, in queue order (as aria2 does).
    Waiting,
    Stopped,
}

/// `changePosition`'s origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    Set,
    Cur,
    End,
}

/// Why a control request was refused; the message is aria2's wording.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ControlError(pub String);

impl ControlError {
    pub(crate) fn no_gid(gid: Gid) -> Self {
        ControlError(format!("GID {gid} is not found"))
    }
}

/// What the coordinator announces (aria2's RPC notifications).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Start,
    Pause,
    Stop,
    Complete,
    Error,
    /// A torrent has every selected piece and seeds from now on
    /// (`aria2.onBtDownloadComplete`).
    BtComplete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub gid: Gid,
}

pub(crate) type Reply<T> = MailboxSender<T>;

/// A request to the coordinator.
pub enum Control {
    /// Queues a download; refused (as aria2 does, "No URI to download.")
    /// when its `gid` option names a download that exists.
    Add {
        request: DownloadRequest,
        position: Option<usize>,
        reply: Reply<Result<Gid, ControlError>>,
    },
    /// A status built now from the coordinator's own state. RPC reads
    /// [`ControlHandle::status`] instead (no round trip); this is the
    /// reference the published one is checked against.
    Status {
        gid: Gid,
        reply: Reply<Option<DownloadStatus>>,
    },
    List {
        which: ListKind,
        offset: i64,
        num: usize,
        reply: Reply<Vec<DownloadStatus>>,
    },
    GlobalStat {
        reply: Reply<GlobalStat>,
    },
    /// `remove`, or `forceRemove` (`force`): a torrent's graceful stop
    /// first tells its trackers it leaves; a forced one does not.
    Remove {
        gid: Gid,
        force: bool,
        reply: Reply<Result<Gid, ControlError>>,
    },
    /// `pause`, or `forcePause` (`force`), as [`Control::Remove`].
    Pause {
        gid: Gid,
        force: bool,
        reply: Reply<Result<Gid, ControlError>>,
    },
    Unpause {
        gid: Gid,
        reply: Reply<Result<Gid, ControlError>>,
    },
    PauseAll {
        force: bool,
        reply: Reply<()>,
    },
    UnpauseAll {
        reply: Reply<()>,
    },
    ChangePosition {
        gid: Gid,
        pos: i64,
        whence: Whence,
        reply: Reply<Result<usize, ControlError>>,
    },
    RemoveResult {
        gid: Gid,
        reply: Reply<Result<(), ControlError>>,
    },
    PurgeResults {
        reply: Reply<()>,
    },
    /// `--max-concurrent-downloads` changed at run time.
    SetMaxConcurrent {
        n: usize,
    },
    /// `--optimize-concurrent-downloads` changed at run time (its new
    /// value: `true`, `false` or `A:B`).
    SetOptimizeConcurrent {
        value: String,
    },
    /// `--max-overall-download-limit` changed at run time.
    SetOverallLimit {
        bytes_per_sec: u64,
    },
    /// `--max-overall-upload-limit` changed at run time.
    SetOverallUploadLimit {
        bytes_per_sec: u64,
    },
    Subscribe {
        events: MailboxSender<Event>,
    },
    Shutdown {
        force: bool,
    },
    /// `changeOption`: per-download options of a queued or running
    /// download. A running one takes a new `max-download-limit` at once;
    /// an option aria2 cannot apply in place (`split`,
    /// `max-connection-per-server`, `seed-time`, …) restarts it with the
    /// new options, as aria2 does.
    ChangeOption {
        gid: Gid,
        options: Vec<(String, String)>,
        reply: Reply<Result<(), ControlError>>,
    },
    /// `changeUri`: remove then add mirrors; answers (deleted, added).
    ChangeUri {
        gid: Gid,
        del: Vec<String>,
        add: Vec<String>,
        position: Option<usize>,
        reply: Reply<Result<(usize, usize), ControlError>>,
    },
    /// `saveSession`: write `--save-session` now.
    SaveSession {
        reply: Reply<Result<(), ControlError>>,
    },
}

/// A cloneable, `Send` handle on the coordinator.
#[derive(Clone)]
pub struct ControlHandle {
    pub(crate) tx: MailboxSender<ToCoordinator>,
    /// Published in daemon mode (`--enable-rpc`), where RPC reads it.
    pub(crate) board: StatusBoard,
}

/// The engine is gone (shut down).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the download engine has shut down")]
pub struct EngineGone;

impl ControlHandle {
    /// Sends the request built by `make` and waits for its answer.
    pub async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Control) -> Result<T, EngineGone> {
        let (tx, rx) = mailbox();
        self.tx
            .send(ToCoordinator::Control(make(tx)))
            .map_err(|_| EngineGone)?;
        rx.recv().await.ok_or(EngineGone)
    }

    /// `tellStatus` and friends: the download's last published status,
    /// read without a round trip through the coordinator (see
    /// [`StatusBoard`] for how fresh it is). `None` for a GID RPC does
    /// not know.
    pub fn status(&self, gid: Gid) -> Option<Arc<DownloadStatus>> {
        self.board.status(gid)
    }

    /// `getGlobalStat`, published like [`ControlHandle::status`].
    pub fn global_stat(&self) -> GlobalStat {
        self.board.global()
    }

    /// Every GID RPC knows, in no order (to expand an abbreviated GID).
    pub fn known_gids(&self) -> Vec<Gid> {
        self.board.gids()
    }

    /// Sends a request that has no answer.
    pub fn tell(&self, c: Control) -> Result<(), EngineGone> {
        self.tx
            .send(ToCoordinator::Control(c))
            .map_err(|_| EngineGone)
    }
}
