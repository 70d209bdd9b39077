//! What the outside world sees of a download: its request, its live
//! numbers and its result.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arietta_options::OptionSet;

use crate::exit_code::ExitCode;
use crate::gid::Gid;

/// One download to run: URIs of the same file (mirrors) and its options.
#[derive(Clone, Debug)]
pub struct DownloadRequest {
    pub gid: Option<Gid>,
    pub uris: Vec<String>,
    pub options: Arc<OptionSet>,
    /// What a metalink said about this file (declared size, piece hashes,
    /// signature); `None` for plain URIs.
    pub metalink: Option<Arc<crate::metalink_plan::MetalinkFile>>,
    /// What `tellStatus` shows of it while it waits: its last run's
    /// progress (a paused download), or a queued torrent's metainfo.
    pub snapshot: Option<Arc<crate::control::RunSnapshot>>,
    /// A torrent held in memory: one followed from an HTTP response
    /// (`--follow-torrent`), which may have no file on disk to name.
    pub torrent: Option<Arc<[u8]>>,
}

impl DownloadRequest {
    /// Writes each network URI as aria2's `FileEntry::addUri` stores it
    /// (`percentEncodeMini`: bytes outside `!`..`~`, and `"`, `<`, `>`, as
    /// `%XX`), so the session file, RPC and the console show what aria2
    /// shows. Local paths and magnets are left as given.
    pub fn encode_uris(&mut self) {
        for u in &mut self.uris {
            let network = ["http://", "https://", "ftp://", "sftp://"]
                .iter()
                .any(|s| u.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)));
            let plain = |b: u8| b > 0x20 && b < 0x7f && !matches!(b, b'"' | b'<' | b'>');
            if network && !u.bytes().all(plain) {
                let mut out = String::with_capacity(u.len() + 8);
                for b in u.bytes() {
                    if plain(b) {
                        out.push(char::from(b));
                    } else {
                        out.push_str(&format!("%{b:02X}"));
                    }
                }
                *u = out;
            }
        }
    }

    /// A request for plain URIs (mirrors of one file).
    pub fn new(uris: Vec<String>, options: Arc<OptionSet>) -> Self {
        DownloadRequest {
            gid: None,
            uris,
            options,
            metalink: None,
            snapshot: None,
            torrent: None,
        }
    }
}

/// aria2's status words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Waiting,
    Paused,
    Error,
    Complete,
    Removed,
}

impl Status {
    /// The word aria2's RPC uses (`tellStatus`'s `status`).
    pub fn word(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Waiting => "waiting",
            Status::Paused => "paused",
            Status::Error => "error",
            Status::Complete => "complete",
            Status::Removed => "removed",
        }
    }
}

/// Live numbers for the readout.
#[derive(Clone, Debug)]
pub struct Progress {
    pub gid: Gid,
    pub completed: u64,
    pub total: u64,
    pub speed: u64,
    pub connections: usize,
    /// The first file it writes (a torrent's first selected file).
    pub path: Option<PathBuf>,
    /// Files it writes after `path` (aria2's `(Nmore)`).
    pub more_files: usize,
    /// Bytes uploaded by this run (aria2 shows `UL:` once it is non-zero)
    /// and in all (the parenthesised total).
    pub uploaded: u64,
    pub upload_speed: u64,
    /// A torrent's swarm; `None` for other downloads.
    pub bt: Option<BtProgress>,
}

/// What the readout shows of a torrent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BtProgress {
    /// Every selected piece is ours: aria2 shows `SEED(ratio)` instead of
    /// sizes.
    pub seeding: bool,
    /// Connected peers that have every piece (`SD:`).
    pub seeders: usize,
}

/// A finished (or stopped) download, for the "Download Results" table.
#[derive(Clone, Debug)]
pub struct DownloadResult {
    pub gid: Gid,
    pub status: Status,
    pub code: ExitCode,
    pub message: Option<String>,
    pub path: Option<PathBuf>,
    pub uri: String,
    /// Every URI and the options it ran with, for RPC's `tellStopped`.
    pub uris: Vec<String>,
    pub options: Arc<OptionSet>,
    pub completed: u64,
    pub total: u64,
    /// Bytes this run took off the network (aria2's
    /// `sessionDownloadLength`): the average speed's, so bytes resumed
    /// from an earlier run do not count.
    pub session_bytes: u64,
    pub elapsed: Duration,
    /// Pieces, upload and torrent facts for RPC's stopped entries.
    pub snapshot: Option<Arc<crate::control::RunSnapshot>>,
}

impl DownloadResult {
    /// This run's average speed, bytes/s; `None` when it took under a
    /// millisecond (aria2 shows `n/a`).
    pub fn avg_speed(&self) -> Option<u64> {
        let ms = self.elapsed.as_millis();
        (u128::from(self.session_bytes) * 1000)
            .checked_div(ms)
            .map(|bps| u64::try_from(bps).unwrap_or(u64::MAX))
    }
}

/// How much a notice matters (aria2's log levels that the engine uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Notice,
    Warn,
    Error,
}

/// Receives what the coordinator wants shown. The CLI implements it (the
/// console); tests and RPC can implement it too.
pub trait Reporter: Send {
    /// Called about twice a second with every active download.
    fn progress(&mut self, active: &[Progress]);
    /// A log line ("Download complete: PATH", connection errors).
    /// `#[track_caller]` lets an implementation that logs it (the CLI's)
    /// name the line of the coordinator that said it, as aria2's log does.
    #[track_caller]
    fn notice(&mut self, level: LogLevel, line: &str);
    /// A download ended.
    fn finished(&mut self, result: &DownloadResult);
}

/// A reporter that prints nothing (`-q`).
pub struct QuietReporter;

impl Reporter for QuietReporter {
    fn progress(&mut self, _: &[Progress]) {}
    fn notice(&mut self, _: LogLevel, _: &str) {}
    fn finished(&mut self, _: &DownloadResult) {}
}
