//! The coordinator actor: owns the queue, every download's segment map and
//! the decisions (which core runs which connection, which mirror to drop,
//! when a download is done). It runs as one task on core 0 and hears from
//! connections only through its mailbox.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arietta_runtime::{Mailbox, MailboxSender};
use arietta_storage::{control_path, ControlFile, RangeSet};

use crate::bittorrent::{self, CoreMailboxes, TorrentRun};
use crate::config::DownloadConfig;
use crate::control::{
    Control, ControlError, DownloadStatus, Event, EventKind, GlobalStat, ListKind, Whence,
};
use crate::download::{DownloadRequest, DownloadResult, LogLevel, Progress, Reporter, Status};
use crate::error::FetchError;
use crate::exit_code::ExitCode;
use crate::gid::Gid;
use crate::messages::{
    ConnId, ConnTask, FileTarget, PreparedFile, ProbeDecision, ProbeInfo, ToCoordinator, ToCore,
    Work,
};
use crate::metalink_plan;
use crate::net_context::NetContext;
use crate::piece_verify::{self, PieceJob, PieceVerifier};
use crate::prepare;
use crate::segment_map::{SegId, SegmentMap};
use crate::session_file::{self, SessionEntry};
use crate::waiting_queue::WaitingQueue;

/// How often the readout and the control files are refreshed. A control
/// file is rewritten at every tick while bytes arrive (a small write and a
/// rename), so kill -9 costs at most a tick of data; aria2 saves every 60 s.
const TICK: Duration = Duration::from_millis(250);
/// Whether large files are written with O_DIRECT. Measured on these
/// machines (1 GiB, -x16, ext4 on virtio, 4 alternating runs): buffered
/// io_uring writes 0.49–0.85 s wall / 0.8–1.2 s CPU, O_DIRECT 0.96–1.28 s /
/// 1.3–1.7 s, with `--file-allocation=none` and `falloc` alike. So the
/// page cache stays; the direct path in storage is kept, tested, for disks
/// where it wins.
const DIRECT_IO: bool = false;
/// After Ctrl-C, how long connections get to finish their current chunk.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

mod metalink_hooks;
mod mirror_choice;

use mirror_choice::MirrorSpeed;

struct UriState {
    url: String,
    /// Where redirects led; later connections go straight there.
    resolved: Option<String>,
    tries: u32,
    not_found: u32,
    dead: bool,
    speed: MirrorSpeed,
}

impl UriState {
    /// A fresh mirror; schemes this engine cannot fetch start out dead.
    fn new(url: &str) -> Self {
        UriState {
            url: url.to_owned(),
            resolved: None,
            tries: 0,
            not_found: 0,
            speed: MirrorSpeed::default(),
            dead: !["http://", "https://", "ftp://", "sftp://"]
                .iter()
                .any(|s| {
                    url.get(..s.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(s))
                }),
        }
    }

    fn target(&self) -> &str {
        self.resolved.as_deref().unwrap_or(&self.url)
    }
}

struct Active {
    /// What started it: kept for pause (re-queued), options and status.
    request: DownloadRequest,
    /// Tells this download's connections to stop at the next chunk.
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// `--max-download-limit` for all of this download's connections.
    limit: Option<Arc<arietta_net::RateLimiter>>,
    cfg: Arc<DownloadConfig>,
    uris: Vec<UriState>,
    path: Option<Arc<PathBuf>>,
    map: Option<SegmentMap>,
    file: Option<PreparedFile>,
    /// Connection → the URI it uses.
    conns: HashMap<ConnId, usize>,
    /// Connection → the segment it holds (to take back from a dropped
    /// mirror).
    held: HashMap<ConnId, SegId>,
    next_conn: ConnId,
    /// Retries scheduled but not yet started.
    pending_retries: usize,
    probing: bool,
    finishing: bool,
    started: Instant,
    last_error: Option<FetchError>,
    last_modified: Option<SystemTime>,
    dirty: bool,
    /// Bytes at the previous tick and the smoothed speed.
    tick_bytes: u64,
    speed: u64,
    slow_since: Option<Instant>,
    /// Metalink chunk checksums being checked as pieces complete.
    pieces: Option<PieceVerifier>,
    /// Set for BitTorrent downloads: their actor owns the bytes.
    torrent: Option<TorrentRun>,
}

impl Active {
    fn completed(&self) -> u64 {
        if let Some(t) = &self.torrent {
            return t.stats.completed.load(std::sync::atomic::Ordering::Relaxed);
        }
        self.map.as_ref().map_or(0, SegmentMap::completed_length)
    }

    fn total(&self) -> u64 {
        if let Some(t) = &self.torrent {
            return t.stats.total.load(std::sync::atomic::Ordering::Relaxed);
        }
        match (&self.map, &self.file) {
            (Some(m), Some(f)) if f.total.is_some() => m.total(),
            _ => 0,
        }
    }

    fn live_uris(&self) -> impl Iterator<Item = usize> + '_ {
        self.uris
            .iter()
            .enumerate()
            .filter(|(_, u)| !u.dead)
            .map(|(i, _)| i)
    }

    /// How many connections this download should run: `-s`, bounded by
    /// `-x` per live mirror.
    fn wanted_conns(&self) -> usize {
        let live = self.live_uris().count();
        self.cfg.split.min(self.cfg.max_conn_per_server * live)
    }

    fn control_record(&self) -> Option<(PathBuf, ControlFile)> {
        let f = self.file.as_ref().filter(|f| f.control)?;
        let map = self.map.as_ref()?;
        Some((
            control_path(&f.path),
            ControlFile {
                total_length: map.total(),
                completed: map.done().clone(),
                uris: self.uris.iter().map(|u| u.url.clone()).collect(),
                validator: f.validator.clone(),
            },
        ))
    }
}

/// Everything the coordinator needs at start.
pub struct CoordinatorSetup {
    pub cores: Vec<MailboxSender<ToCore>>,
    pub requests: Vec<DownloadRequest>,
    pub max_concurrent: usize,
    pub net: Arc<NetContext>,
    pub reporter: Box<dyn Reporter>,
    pub inbox: Mailbox<ToCoordinator>,
    pub me: MailboxSender<ToCoordinator>,
    pub save_cookies: Option<String>,
    /// Daemon mode (`--enable-rpc`): keep running with an empty queue
    /// until told to shut down.
    pub daemon: bool,
    /// `--max-download-result`: stopped downloads kept in daemon mode.
    pub max_results: usize,
    /// `--keep-unfinished-download-result`: never drop unfinished results
    /// to honour `--max-download-result` (the session must list them).
    pub keep_unfinished: bool,
    /// `--save-session` and `--save-session-interval` (zero: only at exit).
    pub save_session: Option<PathBuf>,
    pub save_session_interval: Duration,
    /// Server speeds loaded from `--server-stat-if`.
    pub server_stats: crate::server_stat::ServerStatTable,
    /// `--server-stat-of`: where they are saved at exit.
    pub server_stat_out: Option<PathBuf>,
}

/// What a run produced.
pub struct RunReport {
    pub results: Vec<DownloadResult>,
    pub interrupted: bool,
}

impl RunReport {
    /// aria2's rule: the last error's code; 7 when interrupted with
    /// unfinished downloads and no error.
    pub fn exit_code(&self) -> ExitCode {
        if let Some(r) = self
            .results
            .iter()
            .rev()
            .find(|r| r.status == Status::Error)
        {
            return r.code;
        }
        if self.interrupted && self.results.iter().any(|r| r.status != Status::Complete) {
            return ExitCode::Unfinished;
        }
        ExitCode::Success
    }
}

pub struct Coordinator {
    cores: Vec<MailboxSender<ToCore>>,
    next_core: usize,
    waiting: WaitingQueue,
    active: HashMap<Gid, Active>,
    results: Vec<DownloadResult>,
    max_concurrent: usize,
    net: Arc<NetContext>,
    reporter: Box<dyn Reporter>,
    inbox: Mailbox<ToCoordinator>,
    me: MailboxSender<ToCoordinator>,
    interrupted: bool,
    save_cookies: Option<String>,
    daemon: bool,
    max_results: usize,
    /// Queued downloads that are paused (they keep their queue position).
    paused: std::collections::HashSet<Gid>,
    subscribers: Vec<MailboxSender<Event>>,
    shutdown: bool,
    /// Stopped downloads dropped by `--max-download-result` (for
    /// `numStoppedTotal`).
    purged_total: usize,
    save_session: Option<PathBuf>,
    save_session_interval: Duration,
    last_session_save: Instant,
    keep_unfinished: bool,
    /// Per-server speeds ranking mirrors (`--uri-selector`).
    stats: crate::server_stat::ServerStatTable,
    stat_out: Option<PathBuf>,
    /// The process's DHT: `None` until the first torrent starts it, then
    /// `Some(None)` when it is off or could not start.
    dht: Option<Option<arietta_torrent::DhtService>>,
}

impl Coordinator {
    pub fn new(s: CoordinatorSetup) -> Self {
        let waiting = WaitingQueue::from(s.requests);
        let paused = waiting
            .iter()
            .filter(|r| r.options.get_bool("pause"))
            .filter_map(|r| r.gid)
            .collect();
        Coordinator {
            cores: s.cores,
            next_core: 0,
            waiting,
            active: HashMap::new(),
            results: Vec::new(),
            max_concurrent: s.max_concurrent.max(1),
            net: s.net,
            reporter: s.reporter,
            inbox: s.inbox,
            me: s.me,
            interrupted: false,
            save_cookies: s.save_cookies,
            daemon: s.daemon,
            max_results: s.max_results,
            paused,
            subscribers: Vec::new(),
            shutdown: false,
            purged_total: 0,
            save_session: s.save_session,
            save_session_interval: s.save_session_interval,
            last_session_save: Instant::now(),
            keep_unfinished: s.keep_unfinished,
            stats: s.server_stats,
            stat_out: s.server_stat_out,
            dht: None,
        }
    }

    /// Runs until the queue is empty (or an interrupt), then stops the cores.
    pub async fn run(mut self) -> RunReport {
        let ticker = {
            let me = self.me.clone();
            glommio::spawn_local(async move {
                loop {
                    glommio::timer::sleep(TICK).await;
                    if me.send(ToCoordinator::Tick).is_err() {
                        break;
                    }
                }
            })
            .detach()
        };
        self.fill_slots();
        while !self.done() {
            let Some(msg) = self.inbox.recv().await else {
                break;
            };
            self.handle(msg);
        }
        ticker.cancel();
        if let Some(Some(dht)) = self.dht.take() {
            if let Err(e) = dht.shutdown().await {
                self.reporter.notice(
                    LogLevel::Error,
                    &format!("Failed to save the DHT routing table: {e}"),
                );
            }
        }
        self.save_server_stats();
        if let Err(e) = self.write_session() {
            self.reporter
                .notice(LogLevel::Error, &format!("Failed to save the session: {e}"));
        }
        if let Some(p) = &self.save_cookies {
            if let Err(e) = self.net.save_cookies(p) {
                self.reporter.notice(
                    LogLevel::Error,
                    &format!("Failed to save cookies to {p}: {e}"),
                );
            }
        }
        for c in &self.cores {
            let _ = c.send(ToCore::Shutdown);
        }
        RunReport {
            results: self.results,
            interrupted: self.interrupted,
        }
    }

    /// A plain run ends when nothing is left to start; a daemon when it is
    /// told to (and its downloads have stopped).
    fn done(&self) -> bool {
        if self.daemon {
            return (self.shutdown || self.interrupted) && self.active.is_empty();
        }
        // Paused downloads all sit in `waiting`: when only they are left,
        // nothing more will start.
        self.active.is_empty() && (self.waiting.len() == self.paused.len() || self.interrupted)
    }

    fn handle(&mut self, msg: ToCoordinator) {
        match msg {
            ToCoordinator::Probed {
                gid,
                conn,
                result,
                reply,
            } => self.on_probed(gid, conn, result, reply),
            ToCoordinator::Prepared { gid, result, reply } => self.on_prepared(gid, result, reply),
            ToCoordinator::NeedWork {
                gid,
                finished,
                at,
                conn,
                reply,
            } => {
                let work = self.active.get_mut(&gid).and_then(|a| {
                    let map = a.map.as_mut()?;
                    if let Some(id) = finished {
                        map.release(id);
                    }
                    if a.finishing || self.interrupted {
                        return None;
                    }
                    // A mirror dropped while this connection ran (it served
                    // a bad piece) gets no more work while others live.
                    let mirror = a.conns.get(&conn).copied();
                    let dropped = mirror.is_some_and(|u| a.uris[u].dead);
                    if dropped && a.uris.iter().any(|u| !u.dead) {
                        return None;
                    }
                    // A far slower mirror takes free work only: splitting
                    // a faster mirror's segment would hand it bytes the
                    // faster one would fetch sooner.
                    let slow = mirror.is_some_and(|u| a.is_slow_mirror(u));
                    let speeds = a.segment_speeds();
                    let map = a.map.as_mut()?;
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
                    a.held.insert(conn, claim.id);
                    Some(Work {
                        claim,
                        target: FileTarget {
                            path: a.path.clone()?,
                            direct: DIRECT_IO && a.file.as_ref().is_some_and(|f| f.control),
                        },
                        total: a.file.as_ref().and_then(|f| f.total),
                        ranged: a.file.as_ref().is_some_and(|f| f.ranges),
                    })
                });
                let _ = reply.send(work);
            }
            ToCoordinator::Written {
                gid,
                conn,
                start,
                end,
            } => self.on_written(gid, conn, start, end),
            ToCoordinator::PieceChecked { gid, index, ok } => self.on_piece_checked(gid, index, ok),
            ToCoordinator::StreamEnded { gid, len } => {
                if let Some(a) = self.active.get_mut(&gid) {
                    if let Some(m) = a.map.as_mut() {
                        m.set_total(len);
                    }
                    if let Some(f) = a.file.as_mut() {
                        f.total = Some(len);
                    }
                    self.finalize(gid);
                }
            }
            ToCoordinator::ConnEnded {
                gid,
                conn,
                seg,
                result,
            } => self.on_conn_ended(gid, conn, seg, result),
            ToCoordinator::Retry { gid, uri, probe } => {
                if let Some(a) = self.active.get_mut(&gid) {
                    a.pending_retries = a.pending_retries.saturating_sub(1);
                    if !a.finishing && !self.interrupted {
                        self.spawn_conn(gid, uri, probe);
                    }
                    self.check_stalled(gid);
                }
            }
            ToCoordinator::Finalized { gid, result } => self.on_finalized(gid, result),
            ToCoordinator::Interrupt => self.on_interrupt(),
            ToCoordinator::InterruptDeadline => {
                let gids: Vec<Gid> = self.active.keys().copied().collect();
                for gid in gids {
                    self.stop_interrupted(gid);
                }
            }
            ToCoordinator::Tick => self.on_tick(),
            ToCoordinator::Control(c) => self.on_control(c),
            ToCoordinator::TorrentEnded { gid, result } => self.on_torrent_ended(gid, result),
            ToCoordinator::TorrentReady { gid, download } => self.run_torrent(gid, *download),
        }
    }

    /// Starts waiting downloads while there are free slots (`-j`).
    fn fill_slots(&mut self) {
        // Paused downloads are all in `waiting`; when every waiting one is
        // paused there is nothing to start (and no reason to scan a daemon's
        // 10,000-entry queue on every addUri).
        while !self.interrupted
            && !self.shutdown
            && self.active.len() < self.max_concurrent
            && self.waiting.len() > self.paused.len()
        {
            let next = self
                .waiting
                .iter()
                .position(|r| !r.gid.is_some_and(|g| self.paused.contains(&g)));
            let Some(req) = next.and_then(|i| self.waiting.remove(i)) else {
                break;
            };
            self.start(req);
        }
    }

    fn start(&mut self, mut req: DownloadRequest) {
        let gid = *req.gid.get_or_insert_with(Gid::new);
        self.announce(EventKind::Start, gid);
        let cfg = Arc::new(DownloadConfig::from_options(&req.options));
        let uris: Vec<UriState> = req.uris.iter().map(|u| UriState::new(u)).collect();
        let now = Instant::now();
        let limit = (cfg.max_download_limit > 0)
            .then(|| arietta_net::RateLimiter::new(cfg.max_download_limit));
        let mut a = Active {
            request: req.clone(),
            stop: Arc::default(),
            limit,
            cfg,
            uris,
            path: None,
            map: None,
            file: None,
            conns: HashMap::new(),
            held: HashMap::new(),
            next_conn: 1,
            pending_retries: 0,
            probing: false,
            finishing: false,
            started: now,
            last_error: None,
            last_modified: None,
            dirty: false,
            tick_bytes: 0,
            speed: 0,
            slow_since: None,
            pieces: None,
            torrent: None,
        };
        if let Some((src, web_seeds)) = bittorrent::source_of(&req) {
            self.active.insert(gid, a);
            self.start_torrent(gid, src, web_seeds);
            return;
        }
        let first = a.ranked(&self.stats).first().copied();
        if first.is_none() {
            a.last_error = Some(FetchError::UnsupportedUri(req.uris.join(" ")));
        }
        self.active.insert(gid, a);
        match first {
            Some(i) => self.spawn_conn(gid, i, true),
            None => self.fail(gid),
        }
    }

    /// Parses the torrent and starts its actor on this core; its peer
    /// tasks spread over every core.
    fn start_torrent(
        &mut self,
        gid: Gid,
        src: arietta_torrent::TorrentSource,
        web_seeds: Vec<String>,
    ) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        if let arietta_torrent::TorrentSource::Magnet(_) | arietta_torrent::TorrentSource::Url(_) =
            &src
        {
            // The metadata comes from peers first; until then the entry
            // shows the magnet's hash with no length.
            let cfg = match arietta_torrent::TorrentConfig::from_options(&a.request.options) {
                Ok(c) => c,
                Err(e) => {
                    a.last_error = Some(e.into());
                    self.fail(gid);
                    return;
                }
            };
            let uri = match &src {
                arietta_torrent::TorrentSource::Magnet(u)
                | arietta_torrent::TorrentSource::Url(u) => u.clone(),
                _ => String::new(),
            };
            let is_magnet = uri.starts_with("magnet:");
            let hash = arietta_metainfo::Magnet::parse(&uri)
                .ok()
                .and_then(|m| m.info_hash_v1)
                .unwrap_or_default();
            a.torrent = Some(TorrentRun {
                stats: Arc::default(),
                info_hash: hash,
                name: String::new(),
                announce_list: Vec::new(),
                files: Vec::new(),
                notified: false,
            });
            let stop = a.stop.clone();
            let me = self.me.clone();
            let dht = self.dht_for(gid);
            glommio::spawn_local(async move {
                let r = if is_magnet {
                    arietta_torrent::TorrentDownload::from_magnet(&uri, cfg, &stop, dht).await
                } else {
                    arietta_torrent::TorrentDownload::from_url(&uri, cfg).await
                };
                let msg = match r {
                    Ok(dl) => ToCoordinator::TorrentReady {
                        gid,
                        download: Box::new(dl),
                    },
                    Err(e) => ToCoordinator::TorrentEnded {
                        gid,
                        result: Err(e),
                    },
                };
                let _ = me.send(msg);
            })
            .detach();
            return;
        }
        let opened =
            arietta_torrent::TorrentConfig::from_options(&a.request.options).and_then(|mut cfg| {
                cfg.web_seeds = web_seeds;
                arietta_torrent::TorrentDownload::open(src, cfg)
            });
        match opened {
            Ok(dl) => self.run_torrent(gid, dl),
            Err(e) => {
                a.last_error = Some(e.into());
                self.fail(gid);
            }
        }
    }

    /// The shared DHT for a torrent of `gid`, started on the first call
    /// (one node per process, on this core); `None` when the download has
    /// `--enable-dht(6)=false` or the node could not start.
    fn dht_for(&mut self, gid: Gid) -> Option<arietta_torrent::DhtService> {
        let opts = &self.active.get(&gid)?.request.options;
        if !opts.get_bool("enable-dht") && !opts.get_bool("enable-dht6") {
            return None;
        }
        if self.dht.is_none() {
            let started = arietta_torrent::DhtService::start(opts);
            self.dht = Some(match started {
                Ok(d) => {
                    for w in d.iter().flat_map(|d| d.warnings()) {
                        self.reporter
                            .notice(LogLevel::Warn, &format!("Cannot start the DHT: {w}"));
                    }
                    d
                }
                Err(e) => {
                    self.reporter
                        .notice(LogLevel::Error, &format!("Cannot start the DHT: {e}"));
                    None
                }
            });
        }
        self.dht.clone().flatten()
    }

    /// Starts a parsed torrent's actor on this core.
    fn run_torrent(&mut self, gid: Gid, dl: arietta_torrent::TorrentDownload) {
        let dht = self.dht_for(gid);
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        a.path = Some(Arc::new(dl.root().to_path_buf()));
        a.torrent = Some(TorrentRun {
            stats: dl.stats(),
            info_hash: dl.info_hash(),
            name: dl.metainfo().name.clone(),
            announce_list: dl.metainfo().announce_list.clone(),
            files: dl.files(),
            notified: false,
        });
        let spawner = std::rc::Rc::new(CoreMailboxes(self.cores.clone()));
        let stop = a.stop.clone();
        let me = self.me.clone();
        glommio::spawn_local(async move {
            let result = dl.run(spawner, stop, dht).await;
            let _ = me.send(ToCoordinator::TorrentEnded { gid, result });
        })
        .detach();
    }

    fn on_torrent_ended(&mut self, gid: Gid, result: Result<(), arietta_torrent::TorrentError>) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let done = a.torrent.as_ref().is_some_and(|t| {
            t.stats
                .download_done
                .load(std::sync::atomic::Ordering::Relaxed)
        });
        match result {
            // Seeding cut short still leaves a complete download.
            Ok(()) | Err(arietta_torrent::TorrentError::Stopped) if done => {
                self.notify_torrent_done(gid);
                let r = self.result_of(gid, Status::Complete, ExitCode::Success, None);
                self.finish_with(r);
            }
            Err(arietta_torrent::TorrentError::Stopped) => self.stop_interrupted(gid),
            Ok(()) => {
                let r = self.result_of(gid, Status::Complete, ExitCode::Success, None);
                self.finish_with(r);
            }
            Err(e) => {
                a.last_error = Some(e.into());
                self.fail(gid);
            }
        }
    }

    /// aria2 says "Download complete" when the last piece is verified,
    /// before seeding.
    fn notify_torrent_done(&mut self, gid: Gid) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let Some(t) = a.torrent.as_mut() else { return };
        if t.notified {
            return;
        }
        t.notified = true;
        let path = a.path.as_deref().cloned().unwrap_or_default();
        self.reporter.notice(
            LogLevel::Notice,
            &format!("Download complete: {}", path.display()),
        );
    }

    fn spawn_conn(&mut self, gid: Gid, uri: usize, probe: bool) {
        let core = self.next_core % self.cores.len();
        self.next_core = self.next_core.wrapping_add(1);
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let conn = a.next_conn;
        a.next_conn += 1;
        a.conns.insert(conn, uri);
        if probe {
            a.probing = true;
        }
        let url = a.uris[uri].target().to_owned();
        let if_modified_since = if probe && a.cfg.conditional_get {
            let p = prepare::planned_path(&a.cfg, &url);
            let has_control = control_path(&p).exists();
            std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .ok()
                .filter(|_| !has_control)
        } else {
            None
        };
        let task = ConnTask {
            gid,
            conn,
            url,
            probe,
            if_modified_since,
            cfg: a.cfg.clone(),
            net: self.net.clone(),
            limit: a.limit.clone(),
            stop: a.stop.clone(),
            to_coord: self.me.clone(),
        };
        if self.cores[core]
            .send(ToCore::Start(Box::new(task)))
            .is_err()
        {
            a.conns.remove(&conn);
        }
    }

    fn on_probed(
        &mut self,
        gid: Gid,
        conn: ConnId,
        result: Result<ProbeInfo, FetchError>,
        reply: arietta_runtime::MailboxSender<ProbeDecision>,
    ) {
        let Some(a) = self.active.get_mut(&gid) else {
            let _ = reply.send(ProbeDecision::Stop);
            return;
        };
        let mut info = match result {
            Ok(i) => i,
            Err(e) => {
                let _ = reply.send(ProbeDecision::Stop);
                // The connection reports ConnEnded with the error too; keep
                // the probe flag until then so no second probe starts.
                a.last_error = Some(e);
                return;
            }
        };
        if let Some(body) = info.metalink.take() {
            let _ = reply.send(ProbeDecision::Stop);
            self.follow_metalink(gid, &info.final_url, &body);
            return;
        }
        // Metalink/HTTP: more mirrors of the same file, and its digest.
        for m in &info.mirrors {
            if !a
                .uris
                .iter()
                .any(|u| &u.url == m || u.resolved.as_ref() == Some(m))
            {
                a.uris.push(UriState::new(m));
            }
        }
        if let (None, Some(d)) = (&a.cfg.checksum, &info.digest) {
            let mut cfg = (*a.cfg).clone();
            cfg.checksum = Some(crate::config::Checksum {
                algo: d.algo.aria2_name().to_owned(),
                hex: d.to_hex(),
            });
            a.cfg = Arc::new(cfg);
        }
        if let Some(&u) = a.conns.get(&conn) {
            if info.final_url != a.uris[u].url {
                a.uris[u].resolved = Some(info.final_url.clone());
            }
        }
        a.last_modified = info.last_modified;
        if info.not_modified {
            let _ = reply.send(ProbeDecision::Stop);
            let path = prepare::planned_path(&a.cfg, &info.final_url);
            self.reporter.notice(
                LogLevel::Notice,
                &format!("File {} is up to date (304 Not Modified).", path.display()),
            );
            a.path = Some(Arc::new(path));
            a.finishing = true;
            let _ = self.me.send(ToCoordinator::Finalized {
                gid,
                result: Ok(()),
            });
            return;
        }
        let cfg = a.cfg.clone();
        let uris: Vec<String> = a.uris.iter().map(|u| u.url.clone()).collect();
        // Even a small file's create runs on the blocking pool: measured,
        // an openat(O_CREAT) in a directory where thousands of files were
        // just deleted takes ~300 µs on ext4, which inline would stall
        // every connection on this core.
        let me = self.me.clone();
        glommio::spawn_local(async move {
            let result = glommio::executor()
                .spawn_blocking(move || prepare::prepare(&cfg, &uris, &info))
                .await;
            let _ = me.send(ToCoordinator::Prepared { gid, result, reply });
        })
        .detach();
    }

    fn on_prepared(
        &mut self,
        gid: Gid,
        result: Result<PreparedFile, FetchError>,
        reply: arietta_runtime::MailboxSender<ProbeDecision>,
    ) {
        let Some(a) = self.active.get_mut(&gid) else {
            let _ = reply.send(ProbeDecision::Stop);
            return;
        };
        a.probing = false;
        let pf = match result {
            Ok(pf) => pf,
            Err(e) => {
                let _ = reply.send(ProbeDecision::Stop);
                a.last_error = Some(e);
                // Not retryable: a local problem (file exists, disk full).
                for u in &mut a.uris {
                    u.dead = true;
                }
                return;
            }
        };
        let declared = a.request.metalink.as_ref().and_then(|m| m.size);
        if let (Some(want), Some(got)) = (declared, pf.total) {
            if want != got {
                // Not the file the metalink describes.
                let _ = reply.send(ProbeDecision::Stop);
                a.last_error = Some(FetchError::SizeChanged {
                    was: want,
                    now: got,
                });
                for u in &mut a.uris {
                    u.dead = true;
                }
                return;
            }
        }
        let path = Arc::new(pf.path.clone());
        a.path = Some(path.clone());
        let target = FileTarget {
            path,
            direct: DIRECT_IO && pf.control,
        };
        let map = match pf.total {
            Some(t) if pf.ranges => {
                SegmentMap::new(t, pf.done.clone(), a.cfg.split, a.cfg.min_split_size)
            }
            Some(t) => SegmentMap::new(t, RangeSet::new(), 1, u64::MAX / 4),
            None => SegmentMap::unknown_length(),
        };
        let chunk_hashes = a
            .request
            .metalink
            .as_ref()
            .and_then(|m| m.pieces.clone())
            .filter(|_| a.cfg.realtime_chunk_checksum && pf.ranges);
        if let (Some(h), Some(t)) = (chunk_hashes, pf.total) {
            if h.fits_size(t) {
                a.pieces = Some(PieceVerifier::new(h, t, &pf.done));
            }
        }
        a.map = Some(map);
        a.file = Some(pf);
        a.tick_bytes = a.completed();
        if a.cfg.dry_run {
            let _ = reply.send(ProbeDecision::Stop);
            a.finishing = true;
            let _ = self.me.send(ToCoordinator::Finalized {
                gid,
                result: Ok(()),
            });
            return;
        }
        // The probe is this download's only connection.
        let probe_conn = (a.conns.len() == 1)
            .then(|| a.conns.keys().next().copied())
            .flatten();
        let map = a.map.as_mut().expect("just set");
        if map.is_complete() && a.file.as_ref().is_some_and(|f| f.total.is_some()) {
            let _ = reply.send(ProbeDecision::Stop);
            self.finalize(gid);
            return;
        }
        let decision = match map.claim(Some(0)) {
            Some(claim) if claim.cursor.get().0 == 0 => {
                if let Some(c) = probe_conn {
                    a.held.insert(c, claim.id);
                }
                ProbeDecision::Stream { claim, target }
            }
            Some(claim) => {
                map.release(claim.id);
                ProbeDecision::AskForWork { target }
            }
            None => ProbeDecision::AskForWork { target },
        };
        let _ = reply.send(decision);
        self.add_connections(gid);
    }

    /// Brings the download up to its wanted connection count, spreading
    /// connections over live mirrors round-robin.
    fn add_connections(&mut self, gid: Gid) {
        let Some(a) = self.active.get(&gid) else {
            return;
        };
        let Some(map) = a.map.as_ref() else { return };
        // Connections still draining on a dropped mirror take no new work.
        let have = a.conns.values().filter(|&&u| !a.uris[u].dead).count() + a.pending_retries;
        let want = a.wanted_conns().min(have + map.available_work());
        let live: Vec<usize> = a.live_uris().collect();
        if live.is_empty() {
            return;
        }
        let per_uri = a.cfg.max_conn_per_server;
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for &u in a.conns.values() {
            *counts.entry(u).or_default() += 1;
        }
        // inorder: round-robin over the list; feedback/adaptive: the best
        // ranked mirror with room (`-x`), a far slower one only while
        // free work waits (it would otherwise ask and be sent away).
        let inorder = a.cfg.uri_selector == crate::config::UriSelector::InOrder;
        let ranked: Vec<usize> = if inorder {
            live.clone()
        } else {
            let free = map.has_free();
            a.ranked(&self.stats)
                .into_iter()
                .filter(|&u| free || !a.is_slow_mirror(u))
                .collect()
        };
        if ranked.is_empty() {
            return;
        }
        let mut plan = Vec::new();
        for i in 0..want.saturating_sub(have) {
            let rot = if inorder { i } else { 0 };
            let pick = (0..ranked.len())
                .map(|k| ranked[(rot + k) % ranked.len()])
                .find(|u| counts.get(u).copied().unwrap_or(0) < per_uri);
            let Some(u) = pick else { break };
            *counts.entry(u).or_default() += 1;
            plan.push(u);
        }
        for u in plan {
            self.spawn_conn(gid, u, false);
        }
    }

    fn on_conn_ended(
        &mut self,
        gid: Gid,
        conn: ConnId,
        seg: Option<SegId>,
        result: Result<(), FetchError>,
    ) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let Some(uri) = a.conns.remove(&conn) else {
            return;
        };
        a.held.remove(&conn);
        if let (Some(id), Some(m)) = (seg, a.map.as_mut()) {
            m.release(id);
        }
        let was_probe = a.map.is_none();
        if was_probe {
            a.probing = false;
        }
        if result.is_err() {
            if let (Some(f), Some(m)) = (a.file.as_ref(), a.map.as_mut()) {
                if !f.ranges && !m.is_complete() {
                    // No ranges: what was written cannot be continued; the
                    // next try streams the whole body again from byte 0.
                    *m = match f.total {
                        Some(t) => SegmentMap::new(t, RangeSet::new(), 1, u64::MAX / 4),
                        None => SegmentMap::unknown_length(),
                    };
                }
            }
        }
        match result {
            Ok(()) => {
                // A connection stopped because its mirror was dropped:
                // its share of the work goes to the others.
                if !a.finishing && !self.interrupted {
                    self.add_connections(gid);
                }
            }
            Err(e) => {
                let u = &mut a.uris[uri];
                u.tries += 1;
                if e.is_not_found() {
                    u.not_found += 1;
                }
                let max_tries = a.cfg.max_tries;
                let out_of_tries = max_tries != 0 && u.tries >= max_tries;
                let nf_limit = a.cfg.max_file_not_found;
                let too_many_nf = e.is_not_found() && (nf_limit == 0 || u.not_found >= nf_limit);
                if !e.is_retryable() || out_of_tries || too_many_nf {
                    u.dead = true;
                }
                let message = format!("CUID#{conn} - {} : {e}", u.url);
                let dead = u.dead;
                a.last_error = Some(e);
                if !a.finishing && !self.interrupted {
                    self.reporter.notice(LogLevel::Warn, &message);
                }
                let Some(a) = self.active.get_mut(&gid) else {
                    return;
                };
                if !dead && !a.finishing && !self.interrupted {
                    a.pending_retries += 1;
                    let wait = a.cfg.retry_wait;
                    let me = self.me.clone();
                    glommio::spawn_local(async move {
                        if !wait.is_zero() {
                            glommio::timer::sleep(wait).await;
                        }
                        let _ = me.send(ToCoordinator::Retry {
                            gid,
                            uri,
                            probe: was_probe,
                        });
                    })
                    .detach();
                } else if was_probe && !a.finishing {
                    // Probe on the next mirror.
                    let next = a.ranked(&self.stats).first().copied();
                    if let Some(next) = next {
                        self.spawn_conn(gid, next, true);
                    }
                } else {
                    self.add_connections(gid);
                }
            }
        }
        self.check_stalled(gid);
    }

    /// A download with no connection, no scheduled retry and work left has
    /// failed; one whose work is all done is finalized by `Written`.
    fn check_stalled(&mut self, gid: Gid) {
        let Some(a) = self.active.get(&gid) else {
            return;
        };
        if a.finishing
            || !a.conns.is_empty()
            || a.pending_retries > 0
            || a.probing
            || a.torrent.is_some()
        {
            return;
        }
        if self.interrupted {
            self.stop_interrupted(gid);
            return;
        }
        if a.map.as_ref().is_some_and(|m| m.is_complete())
            && a.file.as_ref().is_some_and(|f| f.total.is_some())
        {
            self.finalize(gid);
            return;
        }
        let live = a.ranked(&self.stats).first().copied();
        match (live, a.map.is_some()) {
            // Work is left and a mirror still lives (even if earlier
            // connections failed on it): keep going.
            (Some(u), true) => self.spawn_conn(gid, u, false),
            (Some(u), false) => self.spawn_conn(gid, u, true),
            (None, _) => self.fail(gid),
        }
    }

    fn finalize(&mut self, gid: Gid) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        if a.finishing || a.pieces.as_ref().is_some_and(PieceVerifier::busy) {
            // Finalized when the last piece hash comes back.
            return;
        }
        a.finishing = true;
        let cfg = a.cfg.clone();
        let Some(path) = a.path.clone() else { return };
        let control = a.file.as_ref().is_some_and(|f| f.control);
        let lm = a.last_modified;
        if !control && cfg.checksum.is_none() && !cfg.remote_time {
            // Nothing to verify, stamp or delete.
            self.on_finalized(gid, Ok(()));
            return;
        }
        let me = self.me.clone();
        glommio::spawn_local(async move {
            let result = glommio::executor()
                .spawn_blocking(move || prepare::finish(&cfg, &path, control, lm))
                .await;
            let _ = me.send(ToCoordinator::Finalized { gid, result });
        })
        .detach();
    }

    fn on_finalized(&mut self, gid: Gid, result: Result<(), FetchError>) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        match result {
            Ok(()) => {
                let sig = a
                    .request
                    .metalink
                    .as_ref()
                    .and_then(|m| m.signature.clone());
                if let (Some(sig), Some(p)) = (sig, &a.path) {
                    let mut sig_path = p.as_os_str().to_owned();
                    sig_path.push(".sig");
                    if let Err(e) = std::fs::write(&sig_path, sig) {
                        self.reporter.notice(
                            LogLevel::Warn,
                            &format!("Failed to save the signature {sig_path:?}: {e}"),
                        );
                    }
                }
                let r = self.result_of(gid, Status::Complete, ExitCode::Success, None);
                if let Some(p) = &r.path {
                    self.reporter.notice(
                        LogLevel::Notice,
                        &format!("Download complete: {}", p.display()),
                    );
                }
                self.finish_with(r);
            }
            Err(e) => {
                a.last_error = Some(e);
                self.fail(gid);
            }
        }
    }

    fn fail(&mut self, gid: Gid) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        a.finishing = true;
        let err = a.last_error.take();
        let (code, msg) = match &err {
            Some(e) => (e.exit_code(), Some(e.to_string())),
            None => (ExitCode::Unknown, None),
        };
        if let Some(m) = &msg {
            self.reporter.notice(
                LogLevel::Error,
                &format!("Download aborted. gid#{gid}: {m}"),
            );
        }
        // Keep the control file: a later run resumes what was fetched.
        self.save_control(gid, true);
        let r = self.result_of(gid, Status::Error, code, msg);
        self.finish_with(r);
    }

    fn result_of(
        &mut self,
        gid: Gid,
        status: Status,
        code: ExitCode,
        message: Option<String>,
    ) -> DownloadResult {
        let a = self.active.remove(&gid).expect("active download");
        self.record_server_stats(&a);
        DownloadResult {
            gid,
            status,
            code,
            message,
            path: a.path.as_deref().cloned(),
            uri: a.uris.first().map(|u| u.url.clone()).unwrap_or_default(),
            uris: a.request.uris.clone(),
            options: a.request.options.clone(),
            completed: a.completed(),
            total: a.total(),
            elapsed: a.started.elapsed(),
        }
    }

    fn finish_with(&mut self, r: DownloadResult) {
        let kind = match r.status {
            Status::Complete => EventKind::Complete,
            Status::Error => EventKind::Error,
            _ => EventKind::Stop,
        };
        self.announce(kind, r.gid);
        self.reporter.finished(&r);
        self.push_result(r);
        self.fill_slots();
    }

    fn push_result(&mut self, r: DownloadResult) {
        self.results.push(r);
        if !self.daemon {
            return;
        }
        let unfinished =
            |r: &DownloadResult| r.status == Status::Error || r.code == ExitCode::Unfinished;
        while self.results.len() > self.max_results {
            // Oldest first; unfinished ones survive when asked to.
            let victim = self
                .results
                .iter()
                .position(|r| !(self.keep_unfinished && unfinished(r)));
            let Some(i) = victim else { break };
            self.results.remove(i);
            self.purged_total += 1;
        }
    }

    fn announce(&mut self, kind: EventKind, gid: Gid) {
        self.subscribers
            .retain(|s| s.send(Event { kind, gid }).is_ok());
    }

    fn save_control(&mut self, gid: Gid, force: bool) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        if a.finishing && !force {
            return;
        }
        if !(a.dirty || force) {
            return;
        }
        if let Some((path, rec)) = a.control_record() {
            // Small and rare (once a second per download): written inline.
            if let Err(e) = rec.save(&path) {
                self.reporter.notice(
                    LogLevel::Error,
                    &format!("Failed to save control file: {e}"),
                );
            }
            a.dirty = false;
        }
    }

    /// Writes `--save-session` (a no-op without it): every unfinished
    /// download, active ones first, in queue order.
    fn write_session(&mut self) -> std::io::Result<()> {
        let Some(path) = self.save_session.clone() else {
            return Ok(());
        };
        self.last_session_save = Instant::now();
        let mut active: Vec<&Active> = self.active.values().filter(|a| !a.finishing).collect();
        active.sort_by_key(|a| a.started);
        let mut entries: Vec<SessionEntry> = active
            .iter()
            .map(|a| SessionEntry {
                request: a.request.clone(),
                paused: false,
                started: true,
            })
            .collect();
        entries.extend(self.waiting.iter().map(|r| SessionEntry {
            request: r.clone(),
            paused: r.gid.is_some_and(|g| self.paused.contains(&g)),
            started: false,
        }));
        // Results that stopped unfinished (interrupted, errors) are kept too,
        // as aria2 does, so a restart retries them.
        entries.extend(
            self.results
                .iter()
                .filter(|r| r.status == Status::Error || r.code == ExitCode::Unfinished)
                .map(|r| SessionEntry {
                    request: DownloadRequest {
                        gid: Some(r.gid),
                        uris: r.uris.clone(),
                        options: r.options.clone(),
                        metalink: None,
                    },
                    paused: false,
                    started: true,
                }),
        );
        session_file::save(&path, &session_file::render(&entries))
    }

    fn on_tick(&mut self) {
        if !self.save_session_interval.is_zero()
            && self.last_session_save.elapsed() >= self.save_session_interval
        {
            if let Err(e) = self.write_session() {
                self.reporter
                    .notice(LogLevel::Error, &format!("Failed to save the session: {e}"));
            }
        }
        let gids: Vec<Gid> = self.active.keys().copied().collect();
        let mut progress = Vec::with_capacity(gids.len());
        for gid in gids {
            let due = self.active.get(&gid).is_some_and(|a| a.dirty);
            if due {
                self.save_control(gid, false);
            }
            let torrent_done = self.active.get(&gid).is_some_and(|a| {
                a.torrent.as_ref().is_some_and(|t| {
                    !t.notified
                        && t.stats
                            .download_done
                            .load(std::sync::atomic::Ordering::Relaxed)
                })
            });
            if torrent_done {
                self.notify_torrent_done(gid);
            }
            let Some(a) = self.active.get_mut(&gid) else {
                continue;
            };
            let done = a.completed();
            let inst = done.saturating_sub(a.tick_bytes) as f64 / TICK.as_secs_f64();
            a.tick_bytes = done;
            a.speed = if a.speed == 0 {
                inst as u64
            } else {
                (a.speed as f64 * 0.6 + inst * 0.4) as u64
            };
            let limit = a.cfg.lowest_speed_limit;
            let grace = a
                .cfg
                .timeout
                .min(Duration::from_secs(30))
                .max(Duration::from_secs(3));
            if !a.finishing {
                self.mirror_tick(gid, grace);
            }
            let Some(a) = self.active.get_mut(&gid) else {
                continue;
            };
            if limit > 0 && a.map.is_some() && !a.finishing {
                if a.speed < limit {
                    let since = *a.slow_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > grace {
                        a.last_error = Some(FetchError::TooSlow {
                            speed: a.speed,
                            limit,
                        });
                        self.fail(gid);
                        continue;
                    }
                } else {
                    a.slow_since = None;
                }
            }
            progress.push(Progress {
                gid,
                completed: done,
                total: a.total(),
                speed: a.speed,
                connections: match &a.torrent {
                    Some(t) => t.stats.peers.load(std::sync::atomic::Ordering::Relaxed),
                    None => a.conns.len(),
                },
                path: a.path.as_deref().cloned(),
            });
        }
        if !progress.is_empty() {
            self.reporter.progress(&progress);
        }
    }

    fn on_interrupt(&mut self) {
        if self.interrupted {
            return;
        }
        self.interrupted = true;
        self.reporter.notice(
            LogLevel::Notice,
            "Shutdown sequence commencing... Press Ctrl-C again for emergency shutdown.",
        );
        // Connections stop at their next chunk and report what they wrote;
        // each download is saved when its last connection has ended
        // (check_stalled) or when the grace period is over.
        let gids: Vec<Gid> = self.active.keys().copied().collect();
        for gid in gids {
            if let Some(a) = self.active.get(&gid) {
                a.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            self.check_stalled(gid);
        }
        let me = self.me.clone();
        glommio::spawn_local(async move {
            glommio::timer::sleep(INTERRUPT_GRACE).await;
            let _ = me.send(ToCoordinator::InterruptDeadline);
        })
        .detach();
    }

    fn stop_interrupted(&mut self, gid: Gid) {
        if self.active.get(&gid).is_some_and(|a| a.finishing) {
            return;
        }
        self.save_control(gid, true);
        let r = self.result_of(gid, Status::Removed, ExitCode::Unfinished, None);
        self.reporter.finished(&r);
        self.push_result(r);
    }
}

/// Requests from RPC.
impl Coordinator {
    fn on_control(&mut self, c: Control) {
        match c {
            Control::Add {
                mut request,
                position,
                reply,
            } => {
                let gid = *request.gid.get_or_insert_with(Gid::new);
                if request.options.get_bool("pause") {
                    self.paused.insert(gid);
                }
                let at = position.unwrap_or(usize::MAX).min(self.waiting.len());
                self.waiting.insert(at, request);
                let _ = reply.send(gid);
                self.fill_slots();
            }
            Control::Status { gid, reply } => {
                let _ = reply.send(self.status_of(gid));
            }
            Control::List {
                which,
                offset,
                num,
                reply,
            } => {
                let _ = reply.send(self.list(which, offset, num));
            }
            Control::GlobalStat { reply } => {
                let waiting = self.waiting.len();
                let stat = GlobalStat {
                    download_speed: self.active.values().map(|a| a.speed).sum(),
                    num_active: self.active.len(),
                    num_waiting: waiting,
                    num_stopped: self.results.len(),
                    num_stopped_total: self.results.len() + self.purged_total,
                    completed_bytes: self.active.values().map(Active::completed).sum::<u64>()
                        + self.results.iter().map(|r| r.completed).sum::<u64>(),
                    connections: self.active.values().map(|a| a.conns.len()).sum(),
                };
                let _ = reply.send(stat);
            }
            Control::Remove { gid, reply } => {
                let _ = reply.send(self.remove(gid));
            }
            Control::Pause { gid, reply } => {
                let _ = reply.send(self.pause(gid));
            }
            Control::Unpause { gid, reply } => {
                let r = if self.paused.remove(&gid) {
                    self.fill_slots();
                    Ok(gid)
                } else {
                    Err(ControlError(format!("GID#{gid} cannot be unpaused now")))
                };
                let _ = reply.send(r);
            }
            Control::PauseAll { reply } => {
                let gids: Vec<Gid> = self
                    .active
                    .keys()
                    .copied()
                    .chain(self.waiting.iter().filter_map(|r| r.gid))
                    .collect();
                for gid in gids {
                    let _ = self.pause(gid);
                }
                let _ = reply.send(());
            }
            Control::UnpauseAll { reply } => {
                self.paused.clear();
                self.fill_slots();
                let _ = reply.send(());
            }
            Control::ChangePosition {
                gid,
                pos,
                whence,
                reply,
            } => {
                let _ = reply.send(self.change_position(gid, pos, whence));
            }
            Control::RemoveResult { gid, reply } => {
                let before = self.results.len();
                self.results.retain(|r| r.gid != gid);
                // aria2's numStoppedTotal counts results removed by RPC too.
                self.purged_total += before - self.results.len();
                let r = if self.results.len() < before {
                    Ok(())
                } else {
                    Err(ControlError(format!(
                        "Could not remove download result of GID#{gid}"
                    )))
                };
                let _ = reply.send(r);
            }
            Control::PurgeResults { reply } => {
                self.purged_total += self.results.len();
                self.results.clear();
                let _ = reply.send(());
            }
            Control::SetMaxConcurrent { n } => {
                self.max_concurrent = n.max(1);
                self.fill_slots();
            }
            Control::SetOverallLimit { bytes_per_sec } => {
                self.net.overall_limit.set_rate(bytes_per_sec);
            }
            Control::Subscribe { events } => self.subscribers.push(events),
            Control::ChangeOption {
                gid,
                options,
                reply,
            } => {
                let _ = reply.send(self.change_option(gid, &options));
            }
            Control::ChangeUri {
                gid,
                del,
                add,
                position,
                reply,
            } => {
                let _ = reply.send(self.change_uri(gid, &del, &add, position));
            }
            Control::SaveSession { reply } => {
                let r = match &self.save_session {
                    None => Err(ControlError("Filename is not given.".into())),
                    Some(_) => self
                        .write_session()
                        .map_err(|e| ControlError(e.to_string())),
                };
                let _ = reply.send(r);
            }
            Control::Shutdown { force } => {
                self.shutdown = true;
                let gids: Vec<Gid> = self.active.keys().copied().collect();
                for gid in gids {
                    // Graceful or forced, progress is saved: the control
                    // file makes a later run resume.
                    let _ = force;
                    self.stop_active(gid, Status::Removed, ExitCode::Unfinished);
                }
            }
        }
    }

    /// Stops an active download now: its connections stop at their next
    /// chunk and its control file is saved.
    fn stop_active(&mut self, gid: Gid, status: Status, code: ExitCode) -> Option<DownloadResult> {
        let a = self.active.get(&gid)?;
        a.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.save_control(gid, true);
        let r = self.result_of(gid, status, code, None);
        Some(r)
    }

    fn remove(&mut self, gid: Gid) -> Result<Gid, ControlError> {
        if let Some(r) = self.stop_active(gid, Status::Removed, ExitCode::Success) {
            self.finish_with(r);
            return Ok(gid);
        }
        let i = self
            .waiting
            .position(gid)
            .ok_or_else(|| ControlError::no_gid(gid))?;
        let req = self.waiting.remove(i).expect("index from position");
        self.paused.remove(&gid);
        let r = DownloadResult {
            gid,
            status: Status::Removed,
            code: ExitCode::Success,
            message: None,
            path: None,
            uri: req.uris.first().cloned().unwrap_or_default(),
            uris: req.uris.clone(),
            options: req.options.clone(),
            completed: 0,
            total: 0,
            elapsed: Duration::ZERO,
        };
        self.finish_with(r);
        Ok(gid)
    }

    /// Active → stopped and re-queued at the front, paused; waiting →
    /// paused in place. A paused download resumes from its control file.
    fn pause(&mut self, gid: Gid) -> Result<Gid, ControlError> {
        if let Some(a) = self.active.get(&gid) {
            let mut request = a.request.clone();
            // Resuming must continue our own partial file, never rename it.
            let mut opts = (*request.options).clone();
            let _ = opts.set("continue", "true");
            request.options = Arc::new(opts);
            self.stop_active(gid, Status::Paused, ExitCode::Success);
            self.waiting.push_front(request);
            self.paused.insert(gid);
            self.announce(EventKind::Pause, gid);
            self.fill_slots();
            return Ok(gid);
        }
        if self.waiting.contains(gid) {
            if !self.paused.insert(gid) {
                // aria2 refuses to pause what is already paused.
                return Err(ControlError(format!("GID#{gid} cannot be paused now")));
            }
            self.announce(EventKind::Pause, gid);
            return Ok(gid);
        }
        Err(ControlError::no_gid(gid))
    }

    fn request_mut(&mut self, gid: Gid) -> Option<&mut DownloadRequest> {
        if let Some(a) = self.active.get_mut(&gid) {
            return Some(&mut a.request);
        }
        self.waiting.get_mut(gid)
    }

    fn change_option(
        &mut self,
        gid: Gid,
        options: &[(String, String)],
    ) -> Result<(), ControlError> {
        let req = self
            .request_mut(gid)
            .ok_or_else(|| ControlError::no_gid(gid))?;
        let mut set = (*req.options).clone();
        for (k, v) in options {
            set.change_for_download(k, v)
                .map_err(|e| ControlError(e.to_string()))?;
        }
        let limit = set.get_size("max-download-limit");
        req.options = Arc::new(set);
        if let Some(a) = self.active.get_mut(&gid) {
            if let Some(l) = &a.limit {
                l.set_rate(limit);
            }
        }
        Ok(())
    }

    fn change_uri(
        &mut self,
        gid: Gid,
        del: &[String],
        add: &[String],
        position: Option<usize>,
    ) -> Result<(usize, usize), ControlError> {
        let req = self
            .request_mut(gid)
            .ok_or_else(|| ControlError::no_gid(gid))?;
        let mut deleted = 0;
        for d in del {
            // aria2 removes one occurrence per listed URI.
            if let Some(i) = req.uris.iter().position(|u| u == d) {
                req.uris.remove(i);
                deleted += 1;
            }
        }
        let at = position.unwrap_or(usize::MAX).min(req.uris.len());
        for (k, u) in add.iter().enumerate() {
            req.uris.insert(at + k, u.clone());
        }
        if let Some(a) = self.active.get_mut(&gid) {
            for d in del {
                if let Some(u) = a.uris.iter_mut().find(|u| &u.url == d && !u.dead) {
                    u.dead = true;
                }
            }
            for u in add {
                a.uris.push(UriState::new(u));
            }
            self.add_connections(gid);
        }
        Ok((deleted, add.len()))
    }

    fn change_position(
        &mut self,
        gid: Gid,
        pos: i64,
        whence: Whence,
    ) -> Result<usize, ControlError> {
        let i = self
            .waiting
            .position(gid)
            .ok_or_else(|| ControlError::no_gid(gid))?;
        let len = self.waiting.len() as i64;
        let target = match whence {
            Whence::Set => pos,
            Whence::Cur => i as i64 + pos,
            Whence::End => len - 1 + pos,
        }
        .clamp(0, len - 1) as usize;
        let req = self.waiting.remove(i).expect("index from position");
        self.waiting.insert(target, req);
        Ok(target)
    }

    fn status_of(&self, gid: Gid) -> Option<DownloadStatus> {
        if let Some(a) = self.active.get(&gid) {
            return Some(self.active_status(a, gid));
        }
        if let Some(r) = self.waiting.get(gid) {
            return Some(self.queued_status(r));
        }
        self.results
            .iter()
            .rev()
            .find(|r| r.gid == gid)
            .map(stopped_status)
    }

    fn active_status(&self, a: &Active, gid: Gid) -> DownloadStatus {
        DownloadStatus {
            gid,
            status: Status::Active,
            total: a.total(),
            completed: a.completed(),
            download_speed: a.speed,
            connections: a.conns.len(),
            dir: a.cfg.dir.clone(),
            path: a.path.as_deref().cloned(),
            uris: a.request.uris.clone(),
            error_code: None,
            error_message: None,
            options: a.request.options.clone(),
            bittorrent: a.torrent.as_ref().map(|t| {
                let st = &t.stats;
                let get =
                    |v: &std::sync::atomic::AtomicU64| v.load(std::sync::atomic::Ordering::Relaxed);
                crate::control::BtStatus {
                    info_hash: hex::encode(t.info_hash),
                    name: t.name.clone(),
                    announce_list: t.announce_list.clone(),
                    num_seeders: st.seeders.load(std::sync::atomic::Ordering::Relaxed),
                    seeder: st.download_done.load(std::sync::atomic::Ordering::Relaxed),
                    upload_length: get(&st.uploaded),
                    files: t.files.clone(),
                    peers: st.peer_list.lock().map(|l| l.clone()).unwrap_or_default(),
                }
            }),
        }
    }

    fn queued_status(&self, r: &DownloadRequest) -> DownloadStatus {
        let gid = r.gid.unwrap_or(Gid(0));
        DownloadStatus {
            gid,
            status: if self.paused.contains(&gid) {
                Status::Paused
            } else {
                Status::Waiting
            },
            total: 0,
            completed: 0,
            download_speed: 0,
            connections: 0,
            dir: crate::config::download_dir(&r.options),
            path: None,
            uris: r.uris.clone(),
            error_code: None,
            error_message: None,
            options: r.options.clone(),
            bittorrent: None,
        }
    }

    fn list(&self, which: ListKind, offset: i64, num: usize) -> Vec<DownloadStatus> {
        let all: Vec<DownloadStatus> = match which {
            ListKind::Active => {
                let mut v: Vec<_> = self
                    .active
                    .iter()
                    .map(|(g, a)| self.active_status(a, *g))
                    .collect();
                v.sort_by_key(|s| std::cmp::Reverse(s.gid));
                v
            }
            ListKind::Waiting => self.waiting.iter().map(|r| self.queued_status(r)).collect(),
            ListKind::Stopped => self.results.iter().map(stopped_status).collect(),
        };
        slice_like_aria2(all, offset, num)
    }
}

fn stopped_status(r: &DownloadResult) -> DownloadStatus {
    DownloadStatus {
        gid: r.gid,
        status: r.status,
        total: r.total,
        completed: r.completed,
        download_speed: 0,
        connections: 0,
        dir: crate::config::download_dir(&r.options),
        path: r.path.clone(),
        uris: r.uris.clone(),
        error_code: Some(r.code),
        error_message: r.message.clone(),
        options: r.options.clone(),
        bittorrent: None,
    }
}

/// aria2's `tellWaiting`/`tellStopped` paging: a negative offset counts
/// from the end and then walks backwards.
fn slice_like_aria2(all: Vec<DownloadStatus>, offset: i64, num: usize) -> Vec<DownloadStatus> {
    let len = all.len() as i64;
    if offset >= 0 {
        all.into_iter().skip(offset as usize).take(num).collect()
    } else {
        let start = len + offset;
        if start < 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut i = start;
        while i >= 0 && out.len() < num {
            out.push(all[i as usize].clone());
            i -= 1;
        }
        out
    }
}
