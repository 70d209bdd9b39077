//! One segmented download (HTTP, FTP, SFTP, one file from many mirrors) as
//! a sans-IO state machine, in the manner of quinn-proto's `Connection`:
//! the coordinator feeds it what happened (a probe's answer, bytes written,
//! a connection's end, a tick) together with the time, and gets back
//! [`Action`]s to carry out (open a connection, retry later, hash a piece,
//! save the control file, finalize, fail). It owns the segment map, the
//! mirrors and their speeds; it never touches a socket, a file or a timer,
//! so every rule here is unit-tested without any (see `tests.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arietta_metalink::PieceHashes;
use arietta_storage::{control_path, ControlFile, RangeSet, StorageError};

use crate::config::DownloadConfig;
use crate::control::ServerStatus;
use crate::download::LogLevel;
use crate::error::FetchError;
use crate::messages::{ConnId, FileTarget, PreparedFile, ProbeDecision, ProbeInfo, Work};
use crate::piece_verify::{PieceJob, PieceVerifier};
use crate::piece_view::PieceView;
use crate::prepare;
use crate::segment_map::{SegId, SegmentMap};
use crate::server_stat::ServerStatTable;
use crate::speed_meter::SpeedMeter;
use failure_lines::{failure_lines, Fate};

mod failure_lines;
mod mirrors;
mod pieces;
#[cfg(test)]
mod tests;

pub(crate) use mirrors::UriState;

/// Whether large files are written with O_DIRECT. Measured on these
/// machines (1 GiB, -x16, ext4 on virtio, 4 alternating runs): buffered
/// io_uring writes 0.49–0.85 s wall / 0.8–1.2 s CPU, O_DIRECT 0.96–1.28 s /
/// 1.3–1.7 s, with `--file-allocation=none` and `falloc` alike. So the
/// page cache stays; the direct path in storage is kept, tested, for disks
/// where it wins.
const DIRECT_IO: bool = false;

/// What every input needs to know of the world outside the download.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    /// Server speeds from `--server-stat-if` and earlier downloads, for
    /// `--uri-selector`.
    pub stats: &'a ServerStatTable,
    /// The run is being interrupted: no new work, no retries.
    pub halted: bool,
    /// How long a tick is, for speeds.
    pub tick: Duration,
}

/// A connection to hash a finished metalink piece: where and against what.
#[derive(Debug, Clone)]
pub(crate) struct PieceCheck {
    pub path: Arc<PathBuf>,
    pub job: PieceJob,
    pub algo: arietta_metalink::HashAlgo,
    pub digest: Vec<u8>,
}

/// The blocking work that ends a download whose bytes are all in.
#[derive(Debug, Clone)]
pub(crate) struct FinishJob {
    pub cfg: Arc<DownloadConfig>,
    pub path: Arc<PathBuf>,
    pub control: bool,
    pub last_modified: Option<SystemTime>,
    /// `-V` already matched the whole-file hash at the start.
    pub verified: bool,
    /// `-o -`: wait until this many bytes reached stdout (instead of any
    /// file work).
    pub stream_len: Option<u64>,
}

/// `-o -`: the size of the pieces handed out in order, for `split`
/// connections: the connections together stay within half the stream's
/// window of the write cursor, so the one at the cursor is never held up
/// by the others' bytes; never below 1 MiB (a request per smaller piece
/// costs more than it saves).
fn stream_piece(split: usize) -> u64 {
    (arietta_storage::STREAM_WINDOW / (2 * split.max(1) as u64)).max(1 << 20)
}

/// What the machine asks its driver to do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Open connection `conn` to `url` on some core; `probe` is the first
    /// connection, which learns the file.
    Connect {
        conn: ConnId,
        url: String,
        probe: bool,
    },
    /// Try mirror `uri` again after `after`; answer with
    /// [`SegmentedDownload::on_retry`].
    RetryAfter {
        uri: usize,
        probe: bool,
        after: Duration,
    },
    /// Hash a completed metalink piece (`None`: it cannot be checked, count
    /// it good); answer with [`SegmentedDownload::on_piece_checked`].
    CheckPiece {
        index: usize,
        check: Option<PieceCheck>,
    },
    /// Every byte is in: run the job (checksum, `--remote-time`, control
    /// file removal) off the executor, or nothing, then complete.
    Finalize(Option<FinishJob>),
    /// Give up: the download failed with [`SegmentedDownload::take_error`].
    Fail,
    /// Interrupted and idle: save and stop as unfinished.
    Halt,
    /// Snapshot the control file now ([`SegmentedDownload::control_snapshot`]).
    SaveControl,
    /// Stop every connection of this download at its next chunk.
    StopConnections,
    Notice(LogLevel, String),
}

/// What a probe's answer leads to.
pub(crate) enum ProbeOutcome {
    /// Tell the probe to stop; anything else is already in the actions.
    Stop,
    /// The response is a metalink or torrent to follow
    /// (`--follow-metalink`, `--follow-torrent`).
    Follow {
        final_url: String,
        doc: crate::messages::FollowDoc,
    },
    /// Prepare the file off the executor with these, then call
    /// [`SegmentedDownload::on_prepared`].
    Prepare {
        cfg: Arc<DownloadConfig>,
        uris: Vec<String>,
        info: Box<ProbeInfo>,
    },
}

/// aria2's default `--startup-idle-time`: how long a download may run
/// below `--lowest-speed-limit` before it is given up.
const STARTUP_IDLE_TIME: Duration = Duration::from_secs(10);

/// One segmented download's whole state.
pub(crate) struct SegmentedDownload {
    cfg: Arc<DownloadConfig>,
    uris: Vec<UriState>,
    path: Option<Arc<PathBuf>>,
    /// The path `-o` (or a metalink's file name) gives before any answer:
    /// what aria2 names a download by in its results, hooks and RPC even
    /// when it fails before a file is made.
    named: Option<Arc<PathBuf>>,
    map: Option<SegmentMap>,
    file: Option<PreparedFile>,
    /// Connection → the URI it uses.
    conns: HashMap<ConnId, usize>,
    /// Connection → the segment it holds (to take back from a dropped
    /// mirror).
    held: HashMap<ConnId, SegId>,
    /// Where connection ids come from: the coordinator's one counter, so a
    /// CUID never repeats in a process (as aria2's).
    conn_ids: std::rc::Rc<std::cell::Cell<ConnId>>,
    /// This run's id: a paused and restarted download is a new run under
    /// the same GID, and the messages its old connections and timers still
    /// send must not be taken for the new run's (which once left a resumed
    /// download waiting forever on a connection that had already stopped).
    run: u64,
    /// Retries scheduled but not yet started.
    pending_retries: usize,
    probing: bool,
    finishing: bool,
    last_error: Option<FetchError>,
    /// The error a connection's "Download aborted." line already showed,
    /// so the download's end does not say it again.
    reported: Option<String>,
    /// "Not found" answers from all mirrors together: aria2 counts
    /// `--max-file-not-found` per download, not per URI.
    not_found: u32,
    /// Mirrors that could not continue the recorded progress.
    resume_failures: u32,
    /// The recorded progress is given up: the next prepare starts over.
    start_over: bool,
    last_modified: Option<SystemTime>,
    /// Progress not yet in the control file.
    dirty: bool,
    meter: SpeedMeter,
    slow_since: Option<Instant>,
    /// A metalink's declared size: a server reporting another length is
    /// not this file.
    declared_size: Option<u64>,
    /// A metalink's chunk checksums, before the file is known.
    piece_hashes: Option<PieceHashes>,
    /// Metalink chunk checksums being checked as pieces complete.
    pieces: Option<PieceVerifier>,
    /// The whole body, read in memory by the probe (a followed metalink):
    /// its length, all of it done.
    whole: Option<u64>,
}

/// The download's URIs with aria2's copy counts (`splitURI` in its
/// `download_helper.cc`): fewer URIs than `-s` are listed
/// `min(s / n, x)` times, and the first `s % n` once more unless that
/// count reached `-x`.
fn with_copies(uris: &[String], cfg: &DownloadConfig) -> Vec<UriState> {
    let (n, split, max_iter) = (uris.len(), cfg.split, cfg.max_conn_per_server);
    uris.iter()
        .enumerate()
        .map(|(i, u)| {
            let mut st = UriState::new(u);
            if n > 0 && n < split {
                let num = (split / n).min(max_iter);
                let extra = usize::from(num < max_iter && i < split % n);
                st.copies = (num + extra).max(1) as u32;
            }
            st
        })
        .collect()
}

impl SegmentedDownload {
    pub fn new(
        cfg: Arc<DownloadConfig>,
        uris: &[String],
        metalink: Option<&crate::metalink_plan::MetalinkFile>,
    ) -> Self {
        let named = cfg
            .out
            .as_ref()
            .filter(|_| !cfg.to_stdout())
            .and_then(|_| uris.first())
            .map(|u| Arc::new(crate::prepare::planned_path(&cfg, u)));
        let uris = with_copies(uris, &cfg);
        SegmentedDownload {
            cfg,
            uris,
            path: None,
            named,
            map: None,
            file: None,
            conns: HashMap::new(),
            held: HashMap::new(),
            conn_ids: std::rc::Rc::new(std::cell::Cell::new(1)),
            run: 0,
            pending_retries: 0,
            probing: false,
            finishing: false,
            last_error: None,
            reported: None,
            not_found: 0,
            resume_failures: 0,
            start_over: false,
            last_modified: None,
            dirty: false,
            meter: SpeedMeter::default(),
            slow_since: None,
            declared_size: metalink.and_then(|m| m.size),
            piece_hashes: metalink.and_then(|m| m.pieces.clone()),
            pieces: None,
            whole: None,
        }
    }

    pub fn cfg(&self) -> &Arc<DownloadConfig> {
        &self.cfg
    }

    pub fn path(&self) -> Option<&Arc<PathBuf>> {
        self.path.as_ref().or(self.named.as_ref())
    }

    pub fn set_path(&mut self, path: PathBuf) {
        self.path = Some(Arc::new(path));
    }

    pub fn finishing(&self) -> bool {
        self.finishing
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    pub fn speed(&self) -> u64 {
        self.meter.speed()
    }

    /// The first URI as given (the results table shows it).
    pub fn first_uri(&self) -> Option<&str> {
        self.uris.first().map(|u| u.url.as_str())
    }

    pub fn completed(&self) -> u64 {
        if let Some(n) = self.whole {
            return n;
        }
        self.map.as_ref().map_or(0, SegmentMap::completed_length)
    }

    /// The probe read the whole body (`len` bytes) in memory: it counts
    /// as downloaded, as aria2 counts a followed metalink.
    pub fn took_whole(&mut self, len: u64) {
        self.whole = Some(len);
    }

    pub fn total(&self) -> u64 {
        if let Some(n) = self.whole {
            return n;
        }
        match (&self.map, &self.file) {
            (Some(m), Some(f)) if f.total.is_some() => m.total(),
            _ => 0,
        }
    }

    /// `piece_length` pieces over the written ranges, once the length is
    /// known (aria2 shows none before).
    pub fn pieces(&self, piece_length: u64) -> PieceView {
        if let Some(n) = self.whole {
            return PieceView::complete(n, piece_length);
        }
        match (&self.map, self.total()) {
            (Some(m), total) if total > 0 => PieceView::from_ranges(total, piece_length, m.done()),
            _ => PieceView::unknown(piece_length),
        }
    }

    /// Each open connection: its mirror as given, where it led, and its
    /// share of that mirror's speed.
    pub fn servers(&self) -> Vec<ServerStatus> {
        let mut per_uri: HashMap<usize, u64> = HashMap::new();
        for u in self.conns.values() {
            *per_uri.entry(*u).or_default() += 1;
        }
        let mut conns: Vec<(&ConnId, &usize)> = self.conns.iter().collect();
        conns.sort();
        conns
            .into_iter()
            .filter_map(|(_, &u)| {
                let m = self.uris.get(u)?;
                Some(ServerStatus {
                    uri: m.url.clone(),
                    current_uri: m.target().to_owned(),
                    download_speed: m.speed.speed / per_uri[&u].max(1),
                })
            })
            .collect()
    }

    /// Marks the end: no more work is handed out.
    pub fn set_finishing(&mut self) {
        self.finishing = true;
    }

    pub fn set_error(&mut self, e: FetchError) {
        self.last_error = Some(e);
    }

    /// The error the download fails with, taken once.
    pub fn take_error(&mut self) -> Option<FetchError> {
        self.last_error.take()
    }

    /// Whether a connection's "Download aborted." line already showed
    /// `e` (aria2 says it once, where the connection gave up).
    pub fn error_reported(&self, e: &FetchError) -> bool {
        self.reported.as_deref() == Some(e.to_string().as_str())
    }

    /// Makes this run `run` (the coordinator's count of starts), numbering
    /// its connections from the shared `conn_ids`: no id repeats across
    /// runs of one GID.
    pub fn numbered(mut self, run: u64, conn_ids: std::rc::Rc<std::cell::Cell<ConnId>>) -> Self {
        self.run = run;
        self.conn_ids = conn_ids;
        self
    }

    pub fn run_id(&self) -> u64 {
        self.run
    }

    /// Whether `conn` is one of this run's live connections; anything else
    /// is a leftover of a paused or stopped run.
    pub fn owns(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    /// A `Connect` could not be carried out (its core is gone): forget the
    /// connection so it does not count as running.
    pub fn conn_not_started(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }

    /// Starts the download: a probe on the best mirror, or a failure when
    /// no URI can be fetched.
    pub fn start(&mut self, ctx: &Ctx, out: &mut Vec<Action>) {
        match self.ranked(ctx.stats).first().copied() {
            Some(u) => self.connect(u, true, out),
            None => {
                let all: Vec<&str> = self.uris.iter().map(|u| u.url.as_str()).collect();
                self.last_error = Some(FetchError::UnsupportedUri(all.join(" ")));
                out.push(Action::Fail);
            }
        }
    }

    fn connect(&mut self, uri: usize, probe: bool, out: &mut Vec<Action>) {
        let conn = self.conn_ids.get();
        self.conn_ids.set(conn + 1);
        self.conns.insert(conn, uri);
        self.uris[uri].picks += 1;
        if probe {
            self.probing = true;
        }
        out.push(Action::Connect {
            conn,
            url: self.uris[uri].target().to_owned(),
            probe,
        });
    }

    /// The probe's answer: the file's facts (or an error, which the
    /// connection's end reports again).
    pub fn on_probed(
        &mut self,
        conn: ConnId,
        result: Result<ProbeInfo, FetchError>,
        out: &mut Vec<Action>,
    ) -> ProbeOutcome {
        let mut info = match result {
            Ok(i) => i,
            Err(e) => {
                // The connection reports ConnEnded with the error too; keep
                // the probe flag until then so no second probe starts.
                self.last_error = Some(e);
                return ProbeOutcome::Stop;
            }
        };
        if let Some(doc) = info.follow.take() {
            return ProbeOutcome::Follow {
                final_url: info.final_url,
                doc,
            };
        }
        // Metalink/HTTP: more mirrors of the same file, and its digest.
        for m in &info.mirrors {
            if !self
                .uris
                .iter()
                .any(|u| &u.url == m || u.resolved.as_ref() == Some(m))
            {
                self.uris.push(UriState::new(m));
            }
        }
        if let (None, Some(d)) = (&self.cfg.checksum, &info.digest) {
            let mut cfg = (*self.cfg).clone();
            cfg.checksum = Some(crate::config::Checksum {
                algo: d.algo.aria2_name().to_owned(),
                hex: d.to_hex(),
            });
            self.cfg = Arc::new(cfg);
        }
        if let Some(&u) = self.conns.get(&conn) {
            if info.final_url != self.uris[u].url {
                self.uris[u].resolved = Some(info.final_url.clone());
            }
        }
        self.last_modified = info.last_modified;
        if info.not_modified {
            let path = prepare::planned_path(&self.cfg, &info.final_url);
            out.push(Action::Notice(
                LogLevel::Notice,
                format!("File {} is up to date (304 Not Modified).", path.display()),
            ));
            self.path = Some(Arc::new(path));
            self.finishing = true;
            out.push(Action::Finalize(None));
            return ProbeOutcome::Stop;
        }
        ProbeOutcome::Prepare {
            cfg: self.prepare_cfg(),
            uris: self.uris.iter().map(|u| u.url.clone()).collect(),
            info: Box::new(info),
        }
    }

    /// The options prepare sees. With `--always-resume=false` a mirror
    /// that cannot resume is still refused while others may (prepare fails
    /// with "Invalid range header" and [`Self::on_prepared`] moves on), until
    /// the download decides to start over.
    fn prepare_cfg(&self) -> Arc<DownloadConfig> {
        if self.cfg.always_resume != self.start_over {
            return self.cfg.clone();
        }
        let mut cfg = (*self.cfg).clone();
        cfg.always_resume = !self.start_over;
        Arc::new(cfg)
    }

    /// aria2's `--always-resume`/`--max-resume-failure-tries`: the probed
    /// mirror cannot continue the recorded progress. It is dropped and the
    /// next mirror probed; with `--always-resume=false`, once N mirrors (or,
    /// for 0, all) have failed, the download starts over on all of them.
    /// With none left otherwise, the download fails with `e` (exit 8).
    fn on_cannot_resume(&mut self, e: FetchError, out: &mut Vec<Action>) -> ProbeDecision {
        let probe = self.conns.iter().next().map(|(&c, &u)| (c, u));
        if let Some((_, u)) = probe {
            self.uris[u].dead = true;
            self.uris[u].cannot_resume = true;
        }
        self.resume_failures += 1;
        let live = self.uris.iter().any(|u| !u.dead);
        let n = self.cfg.max_resume_failure_tries;
        if !self.cfg.always_resume && (!live || (n > 0 && self.resume_failures >= n)) {
            out.push(Action::Notice(
                LogLevel::Notice,
                format!(
                    "CUID#{} - Failed to resume download. Download from scratch.",
                    probe.map_or(0, |(c, _)| c)
                ),
            ));
            self.start_over = true;
            for u in self.uris.iter_mut().filter(|u| u.cannot_resume) {
                u.dead = false;
            }
        } else if !live {
            return self.give_up(e);
        }
        self.last_error = Some(e);
        // The probe ends; the next one goes to the best live mirror.
        ProbeDecision::Stop
    }

    /// The file is prepared (or could not be): answer the probe and start
    /// the other connections.
    pub fn on_prepared(
        &mut self,
        conn: ConnId,
        result: Result<PreparedFile, FetchError>,
        ctx: &Ctx,
        out: &mut Vec<Action>,
    ) -> ProbeDecision {
        self.probing = false;
        let pf = match result {
            Ok(pf) => pf,
            Err(e @ FetchError::InvalidRange { .. }) if !self.start_over => {
                return self.on_cannot_resume(e, out);
            }
            Err(e) => {
                // Not retryable: a local problem (file exists, disk full),
                // reported as aria2 reports it, under the URI being read.
                if let FetchError::Storage(StorageError::Exists(p)) = &e {
                    self.path = Some(Arc::new(p.clone()));
                }
                if let Some(&uri) = self.conns.get(&conn) {
                    let lines = failure_lines(conn, &self.uris[uri], &e, Fate::Abort);
                    for info in lines.info {
                        tracing::info!("{info}");
                    }
                    if let Some(error) = lines.error.filter(|_| !ctx.halted) {
                        self.reported = Some(e.to_string());
                        out.push(Action::Notice(LogLevel::Error, error));
                    }
                }
                return self.give_up(e);
            }
        };
        if let (Some(want), Some(got)) = (self.declared_size, pf.total) {
            if want != got {
                // Not the file the metalink describes.
                return self.give_up(FetchError::SizeChanged {
                    was: want,
                    now: got,
                });
            }
        }
        let path = Arc::new(pf.path.clone());
        self.path = Some(path.clone());
        let stream = self.cfg.to_stdout();
        let target = FileTarget {
            path,
            direct: DIRECT_IO && pf.control,
            stream,
        };
        let map = match pf.total {
            Some(t) if pf.ranges && stream => {
                SegmentMap::in_order(t, pf.done.clone(), stream_piece(self.cfg.split))
            }
            Some(t) if pf.ranges && self.pipelines() => {
                SegmentMap::new(t, pf.done.clone(), self.cfg.split, self.cfg.min_split_size)
                    .carved(u64::from(self.cfg.piece_length))
            }
            Some(t) if pf.ranges => {
                SegmentMap::new(t, pf.done.clone(), self.cfg.split, self.cfg.min_split_size)
            }
            Some(t) => SegmentMap::new(t, RangeSet::new(), 1, u64::MAX / 4),
            None => SegmentMap::unknown_length(),
        };
        let chunk_hashes = self
            .piece_hashes
            .clone()
            // A streamed piece is gone before it could be checked.
            .filter(|_| self.cfg.realtime_chunk_checksum && pf.ranges && !stream);
        if let (Some(h), Some(t)) = (chunk_hashes, pf.total) {
            if h.fits_size(t) {
                self.pieces = Some(PieceVerifier::new(h, t, &pf.done));
            }
        }
        self.map = Some(map);
        self.file = Some(pf);
        if self.cfg.dry_run {
            self.finishing = true;
            out.push(Action::Finalize(None));
            return ProbeDecision::Stop;
        }
        // The probe is this download's only connection.
        let probe_conn = (self.conns.len() == 1)
            .then(|| self.conns.keys().next().copied())
            .flatten();
        let map = self.map.as_mut().expect("just set");
        if map.is_complete() && self.file.as_ref().is_some_and(|f| f.total.is_some()) {
            self.finalize(out);
            return ProbeDecision::Stop;
        }
        let decision = match map.claim(Some(0)) {
            Some(claim) if claim.cursor.get().0 == 0 => {
                if let Some(c) = probe_conn {
                    self.held.insert(c, claim.id);
                }
                ProbeDecision::Stream { claim, target }
            }
            Some(claim) => {
                map.release(claim.id);
                ProbeDecision::AskForWork { target }
            }
            None => ProbeDecision::AskForWork { target },
        };
        self.add_connections(ctx, out);
        decision
    }

    /// A problem no mirror can cure (a local one, or a document that is
    /// not what was asked for): every mirror is dropped, so the probe's end
    /// fails the download with `e`.
    pub fn give_up(&mut self, e: FetchError) -> ProbeDecision {
        self.last_error = Some(e);
        for u in &mut self.uris {
            u.dead = true;
        }
        ProbeDecision::Stop
    }

    /// A connection asks for its next segment (after finishing `finished`;
    /// `at`: where its open response stands, to continue without a new
    /// request).
    pub fn need_work(
        &mut self,
        conn: ConnId,
        finished: Option<SegId>,
        at: Option<u64>,
        halted: bool,
    ) -> Option<Work> {
        let map = self.map.as_mut()?;
        if let Some(id) = finished {
            map.release(id);
        }
        if self.finishing || halted {
            return None;
        }
        // A mirror dropped while this connection ran (it served a bad
        // piece) gets no more work while others live.
        let mirror = self.conns.get(&conn).copied();
        let dropped = mirror.is_some_and(|u| self.uris[u].dead);
        if dropped && self.uris.iter().any(|u| !u.dead) {
            return None;
        }
        // A far slower mirror takes free work only: splitting a faster
        // mirror's segment would hand it bytes the faster one would fetch
        // sooner.
        let slow = mirror.is_some_and(|u| self.is_slow_mirror(u));
        let speeds = self.segment_speeds();
        let map = self.map.as_mut()?;
        if slow && !map.has_free() && at.is_none() {
            return None;
        }
        let claim = match &speeds {
            // Split the segment that would finish last.
            Some((by_seg, fallback)) => map.claim_by(at, |id, left| {
                let s = by_seg.get(&id).copied().unwrap_or(*fallback);
                left as f64 / s.max(1.0)
            })?,
            None => map.claim(at)?,
        };
        self.held.insert(conn, claim.id);
        let file = self.file.as_ref();
        Some(Work {
            claim,
            target: FileTarget {
                path: self.path.clone()?,
                direct: DIRECT_IO && file.is_some_and(|f| f.control),
                stream: self.cfg.to_stdout(),
            },
            total: file.and_then(|f| f.total),
            ranged: file.is_some_and(|f| f.ranges),
        })
    }

    /// `--enable-http-pipelining` on a download from HTTP(S) mirrors only:
    /// its segments are cut to `--piece-length` so that a connection has a
    /// next request to send ahead (an FTP segment costs a data connection
    /// each, so a download with FTP mirrors keeps the usual plan).
    fn pipelines(&self) -> bool {
        self.cfg.http_pipelining
            && self
                .uris
                .iter()
                .all(|u| u.url.starts_with("http://") || u.url.starts_with("https://"))
    }

    /// A connection gives back a claim it no longer works on; its unfetched
    /// rest goes back to the free list.
    pub fn release(&mut self, seg: SegId) {
        if let Some(map) = self.map.as_mut() {
            map.release(seg);
        }
    }

    /// A response of unknown length ended cleanly at `len`.
    pub fn on_stream_ended(&mut self, len: u64, out: &mut Vec<Action>) {
        if let Some(m) = self.map.as_mut() {
            m.set_total(len);
        }
        if let Some(f) = self.file.as_mut() {
            f.total = Some(len);
        }
        self.finalize(out);
    }

    /// Brings the download up to its wanted connection count, spreading
    /// connections over live mirrors as aria2 does: the selector ranks
    /// the mirrors, but a new connection takes the best one among those
    /// used least so far (aria2 removes a URI from its list when a
    /// connection takes it and refills the list from the spent ones only
    /// when it runs dry), skipping hosts already at `-x`.
    pub fn add_connections(&mut self, ctx: &Ctx, out: &mut Vec<Action>) {
        let Some(map) = self.map.as_ref() else { return };
        // Connections still draining on a dropped mirror take no new work.
        let have =
            self.conns.values().filter(|&&u| !self.uris[u].dead).count() + self.pending_retries;
        let want = self.wanted_conns().min(have + map.available_work());
        let free = map.has_free();
        // A far slower mirror only while free work waits (it would
        // otherwise ask and be sent away).
        let ranked: Vec<usize> = self
            .ranked(ctx.stats)
            .into_iter()
            .filter(|&u| free || !self.is_slow_mirror(u))
            .collect();
        if ranked.is_empty() {
            return;
        }
        let mut per_host = self.conns_per_host();
        let mut picks: HashMap<usize, u32> =
            ranked.iter().map(|&u| (u, self.uris[u].picks)).collect();
        let mut plan = Vec::new();
        for _ in 0..want.saturating_sub(have) {
            let Some(u) = self.pick_uri(&ranked, &picks, &per_host) else {
                break;
            };
            *per_host.entry(self.uris[u].host()).or_default() += 1;
            *picks.entry(u).or_default() += 1;
            plan.push(u);
        }
        for u in plan {
            self.connect(u, false, out);
        }
    }

    /// The mirror for one more connection: among `ranked` (best first)
    /// whose host is below `-x`, the least used; without `--reuse-uri`
    /// only one with copies left in aria2's list.
    fn pick_uri(
        &self,
        ranked: &[usize],
        picks: &HashMap<usize, u32>,
        per_host: &HashMap<String, usize>,
    ) -> Option<usize> {
        let cap = self.cfg.max_conn_per_server;
        ranked
            .iter()
            .copied()
            .filter(|&u| per_host.get(&self.uris[u].host()).copied().unwrap_or(0) < cap)
            .filter(|&u| {
                self.cfg.reuse_uri || picks.get(&u).copied().unwrap_or(0) < self.uris[u].copies
            })
            // min_by_key keeps the first of equals: the best ranked.
            .min_by_key(|u| picks.get(u).copied().unwrap_or(0))
    }

    /// Live connections per host (`-x` counts hosts, not URIs).
    fn conns_per_host(&self) -> HashMap<String, usize> {
        let mut per_host: HashMap<String, usize> = HashMap::new();
        for &u in self.conns.values() {
            *per_host.entry(self.uris[u].host()).or_default() += 1;
        }
        per_host
    }

    /// How many connections this download should run: `-s`, bounded by
    /// `-x` per live host.
    fn wanted_conns(&self) -> usize {
        let hosts: std::collections::HashSet<String> =
            self.live_uris().map(|u| self.uris[u].host()).collect();
        self.cfg
            .split
            .min(self.cfg.max_conn_per_server * hosts.len())
    }

    /// A connection ended, cleanly or with an error: retry, move on to
    /// another mirror, or fail when none is left.
    pub fn on_conn_ended(
        &mut self,
        conn: ConnId,
        seg: Option<SegId>,
        result: Result<(), FetchError>,
        ctx: &Ctx,
        out: &mut Vec<Action>,
    ) {
        let Some(uri) = self.conns.remove(&conn) else {
            return;
        };
        self.held.remove(&conn);
        if let (Some(id), Some(m)) = (seg, self.map.as_mut()) {
            m.release(id);
        }
        let was_probe = self.map.is_none();
        if was_probe {
            self.probing = false;
        }
        if result.is_err() {
            self.restart_unranged();
        }
        match result {
            Ok(()) => {
                // A connection stopped because its mirror was dropped: its
                // share of the work goes to the others.
                if !self.finishing && !ctx.halted {
                    self.add_connections(ctx, out);
                }
            }
            Err(e) => self.on_conn_failed(conn, uri, was_probe, e, ctx, out),
        }
        self.check_stalled(ctx, out);
    }

    /// Without ranges, what was written cannot be continued: the next try
    /// streams the whole body again from byte 0.
    fn restart_unranged(&mut self) {
        if let (Some(f), Some(m)) = (self.file.as_ref(), self.map.as_mut()) {
            if !f.ranges && !m.is_complete() {
                *m = match f.total {
                    Some(t) => SegmentMap::new(t, RangeSet::new(), 1, u64::MAX / 4),
                    None => SegmentMap::unknown_length(),
                };
            }
        }
    }

    fn on_conn_failed(
        &mut self,
        conn: ConnId,
        uri: usize,
        was_probe: bool,
        e: FetchError,
        ctx: &Ctx,
        out: &mut Vec<Action>,
    ) {
        if self.path.is_none() {
            // aria2 names the file from the URI once the FTP size is
            // settled, so a file missing there (not a missing directory)
            // is reported with its path.
            if let FetchError::Ftp(arietta_ftp::FtpError::NotFound { command, .. }) = &e {
                if *command != "CWD" {
                    let planned = crate::prepare::planned_path(&self.cfg, &self.uris[uri].url);
                    self.path = Some(Arc::new(planned));
                }
            }
        }
        let u = &mut self.uris[uri];
        u.tries += 1;
        if e.is_not_found() {
            u.not_found += 1;
            self.not_found += 1;
        }
        let nf_limit = self.cfg.max_file_not_found;
        // aria2 gives the whole download up (exit 4) once the count is
        // reached before a byte came; the file not yet known stands for that.
        if e.is_not_found() && nf_limit > 0 && self.not_found >= nf_limit && self.map.is_none() {
            let message = format!("CUID#{conn} - {} : {e}", u.url);
            for u in &mut self.uris {
                u.dead = true;
            }
            self.last_error = Some(FetchError::MaxFileNotFound(nf_limit));
            if !self.finishing && !ctx.halted {
                out.push(Action::Notice(LogLevel::Warn, message));
            }
            return;
        }
        let max_tries = self.cfg.max_tries;
        let out_of_tries = max_tries != 0 && u.tries >= max_tries;
        let too_many_nf = e.is_not_found() && (nf_limit == 0 || u.not_found >= nf_limit);
        // With `--max-file-not-found`, aria2 retries a "not found" answer.
        let retryable = e.is_retryable() || (e.is_not_found() && nf_limit > 0);
        if !retryable || out_of_tries || too_many_nf {
            u.dead = true;
        }
        let dead = u.dead;
        let fate = if !retryable || too_many_nf {
            Fate::Abort
        } else if out_of_tries {
            Fate::OutOfTries
        } else {
            Fate::Retry
        };
        let lines = failure_lines(conn, u, &e, fate);
        for info in lines.info {
            tracing::info!("{info}");
        }
        if let Some(error) = lines.error {
            if !self.finishing && !ctx.halted {
                self.reported = Some(e.to_string());
                out.push(Action::Notice(LogLevel::Error, error));
            }
        }
        self.last_error = Some(e);
        if !dead && !self.finishing && !ctx.halted {
            self.pending_retries += 1;
            out.push(Action::RetryAfter {
                uri,
                probe: was_probe,
                after: self.cfg.retry_wait,
            });
        } else if was_probe && !self.finishing {
            // Probe on the next mirror.
            if let Some(next) = self.ranked(ctx.stats).first().copied() {
                self.connect(next, true, out);
            }
        } else {
            self.add_connections(ctx, out);
        }
    }

    /// A retry's wait is over.
    pub fn on_retry(&mut self, uri: usize, probe: bool, ctx: &Ctx, out: &mut Vec<Action>) {
        self.pending_retries = self.pending_retries.saturating_sub(1);
        if !self.finishing && !ctx.halted {
            self.connect(uri, probe, out);
        }
        self.check_stalled(ctx, out);
    }

    /// A download with no connection, no scheduled retry and work left has
    /// failed (or, interrupted, halts); one whose work is all done is
    /// finalized.
    pub fn check_stalled(&mut self, ctx: &Ctx, out: &mut Vec<Action>) {
        if self.finishing || !self.conns.is_empty() || self.pending_retries > 0 || self.probing {
            return;
        }
        if ctx.halted {
            out.push(Action::Halt);
            return;
        }
        if self.map.as_ref().is_some_and(|m| m.is_complete())
            && self.file.as_ref().is_some_and(|f| f.total.is_some())
        {
            self.finalize(out);
            return;
        }
        let live = self.ranked(ctx.stats).first().copied();
        match (live, self.map.is_some()) {
            // Work is left and a mirror still lives (even if earlier
            // connections failed on it): keep going.
            (Some(u), true) => self.connect(u, false, out),
            (Some(u), false) => self.connect(u, true, out),
            (None, _) => out.push(Action::Fail),
        }
    }

    /// All bytes are in (and every piece hash has come back): verify,
    /// stamp, drop the control file.
    fn finalize(&mut self, out: &mut Vec<Action>) {
        if self.finishing || self.pieces.as_ref().is_some_and(PieceVerifier::busy) {
            // Finalized when the last piece hash comes back.
            return;
        }
        self.finishing = true;
        let Some(path) = self.path.clone() else {
            return;
        };
        let control = self.file.as_ref().is_some_and(|f| f.control);
        if self.cfg.to_stdout() {
            out.push(Action::Finalize(Some(FinishJob {
                cfg: self.cfg.clone(),
                path,
                control: false,
                last_modified: None,
                verified: false,
                stream_len: Some(self.completed()),
            })));
            return;
        }
        if !control && self.cfg.checksum.is_none() && !self.cfg.remote_time {
            // Nothing to verify, stamp or delete.
            out.push(Action::Finalize(None));
            return;
        }
        out.push(Action::Finalize(Some(FinishJob {
            cfg: self.cfg.clone(),
            path,
            control,
            last_modified: self.last_modified,
            verified: self.file.as_ref().is_some_and(|f| f.verified),
            stream_len: None,
        })));
    }

    /// The periodic tick: speeds, slow mirrors dropped, the whole download
    /// failed below `--lowest-speed-limit`, the control file refreshed.
    /// `received`: the bytes this run's connections have read off the
    /// network so far, counted as they arrive (the speed is theirs, as
    /// aria2's is, not the written chunks', which on a slow link come
    /// seconds apart).
    pub fn on_tick(&mut self, received: u64, ctx: &Ctx, out: &mut Vec<Action>) {
        // `--auto-save-interval=0`: saved only when the download stops.
        if self.dirty && !self.finishing && !self.cfg.auto_save_interval.is_zero() {
            out.push(Action::SaveControl);
        }
        let speed = self.meter.update(received, ctx.now);
        let limit = self.cfg.lowest_speed_limit;
        // aria2 judges the speed once a connection is 10 s old (its hidden
        // `--startup-idle-time`); a shorter `--timeout` shortens it here.
        let grace = self
            .cfg
            .timeout
            .min(STARTUP_IDLE_TIME)
            .max(Duration::from_secs(3));
        if self.finishing {
            return;
        }
        self.mirror_tick(grace, ctx, out);
        if limit == 0 || self.map.is_none() {
            return;
        }
        if speed < limit {
            let since = *self.slow_since.get_or_insert(ctx.now);
            if ctx.now.saturating_duration_since(since) > grace {
                self.last_error = Some(FetchError::TooSlow { speed, limit });
                out.push(Action::Fail);
            }
        } else {
            self.slow_since = None;
        }
    }

    /// The control file as it should read now, or `None` when this
    /// download keeps none; clears the dirty mark.
    pub fn control_snapshot(&mut self) -> Option<(PathBuf, ControlFile)> {
        let f = self.file.as_ref().filter(|f| f.control)?;
        let map = self.map.as_ref()?;
        self.dirty = false;
        Some((
            control_path(&f.path),
            ControlFile {
                piece_length: self.cfg.piece_length,
                ..ControlFile::new(map.total(), map.done().clone(), f.validator.clone())
            },
        ))
    }

    /// `aria2.changeUri` on a running download: deleted URIs' mirrors are
    /// dropped, added ones join.
    pub fn change_uris(
        &mut self,
        del: &[String],
        add: &[String],
        ctx: &Ctx,
        out: &mut Vec<Action>,
    ) {
        for d in del {
            if let Some(u) = self.uris.iter_mut().find(|u| &u.url == d && !u.dead) {
                u.dead = true;
            }
        }
        for u in add {
            self.uris.push(UriState::new(u));
        }
        self.add_connections(ctx, out);
    }
}
