//! The coordinator actor: a thin loop over pure state. It owns the queue
//! ([`queue`]), every active download (a sans-IO
//! [`SegmentedDownload`](crate::segmented::SegmentedDownload) or a torrent
//! handle), and carries out what they decide: which core runs which
//! connection, timers, file work on the blocking pool ([`disk_jobs`]),
//! results and events. It runs as one task on core 0 and hears from
//! connections, torrents and RPC ([`control_surface`]) only through its
//! mailbox.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arietta_runtime::{Mailbox, MailboxSender};
use arietta_storage::control_path;
use arietta_torrent::TorrentSource;

use crate::bittorrent::{self, Classified};
use crate::config::DownloadConfig;
use crate::control::{Event, EventKind, GlobalStat};
use crate::download::{DownloadRequest, DownloadResult, LogLevel, Reporter, Status};
use crate::error::FetchError;
use crate::exit_code::ExitCode;
use crate::gid::Gid;
use crate::hooks::Hook;
use crate::messages::{ConnId, ConnTask, FollowDoc, ProbeDecision, ToCoordinator, ToCore};
use crate::net_context::NetContext;
use crate::prepare;
use crate::segmented::{Action, Ctx, ProbeOutcome, SegmentedDownload};
use crate::session_file;

mod active;
mod concurrency;
mod control_surface;
mod disk_jobs;
mod file_work;
mod follow;
mod hook_calls;
mod lineage;
mod outcomes;
mod queue;
pub use queue::DeferredRequests;
mod torrent_cores;
mod torrent_glue;

use active::{Active, DownloadKind, Halt};
use disk_jobs::DiskJobs;
use queue::Queue;
use torrent_cores::TorrentCores;
use torrent_glue::TorrentEntry;

/// How often the readout and the control files are refreshed. A control
/// file is rewritten at every tick while bytes arrive (a small write and a
/// rename, on the blocking pool), so kill -9 costs at most a tick of data;
/// aria2 saves every 60 s.
const TICK: Duration = Duration::from_millis(250);
/// After Ctrl-C, how long connections get to finish their current chunk.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);
/// After [`INTERRUPT_GRACE`], how long running torrents still get to save
/// their control files (a second Ctrl-C ends the process at once).
const INTERRUPT_SAVE_GRACE: Duration = Duration::from_secs(10);

/// Everything the coordinator needs at start.
pub struct CoordinatorSetup {
    pub cores: Vec<MailboxSender<ToCore>>,
    pub requests: Vec<DownloadRequest>,
    /// `--deferred-input`: downloads read as the queue needs them.
    pub deferred: Option<queue::DeferredRequests>,
    pub max_concurrent: usize,
    /// `--optimize-concurrent-downloads` as given (`true`, `false`, `A:B`).
    pub optimize_concurrent: String,
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
    /// Where RPC reads statuses; published in daemon mode only.
    pub board: crate::status_board::StatusBoard,
}

/// What a run produced.
pub struct RunReport {
    pub results: Vec<DownloadResult>,
    pub interrupted: bool,
}

impl RunReport {
    /// aria2's rule: the last error's code; 7 when interrupted with
    /// unfinished downloads, or when one was halted unfinished (INPR:
    /// `--bt-stop-timeout`, a shutdown), and no error.
    pub fn exit_code(&self) -> ExitCode {
        if let Some(r) = self
            .results
            .iter()
            .rev()
            .find(|r| r.status == Status::Error)
        {
            return r.code;
        }
        let halted = self
            .results
            .iter()
            .any(|r| r.status == Status::Removed && r.code == ExitCode::Unfinished);
        if halted || self.interrupted && self.results.iter().any(|r| r.status != Status::Complete) {
            return ExitCode::Unfinished;
        }
        ExitCode::Success
    }
}

pub struct Coordinator {
    cores: Vec<MailboxSender<ToCore>>,
    next_core: usize,
    queue: Queue,
    /// `--optimize-concurrent-downloads`: sets how many of the queue may
    /// run in place of `-j` when on.
    optimizer: Option<concurrency::ConcurrencyOptimizer>,
    active: HashMap<Gid, Active>,
    net: Arc<NetContext>,
    reporter: Box<dyn Reporter>,
    inbox: Mailbox<ToCoordinator>,
    me: MailboxSender<ToCoordinator>,
    interrupted: bool,
    save_cookies: Option<String>,
    daemon: bool,
    subscribers: Vec<MailboxSender<Event>>,
    shutdown: bool,
    save_session: Option<PathBuf>,
    save_session_interval: Duration,
    last_session_save: Instant,
    /// Per-server speeds ranking mirrors (`--uri-selector`).
    stats: crate::server_stat::ServerStatTable,
    stat_out: Option<PathBuf>,
    /// The process's DHT (on this core) and the `Send` link torrent actors
    /// on other cores reach it by: `None` until the first torrent starts
    /// it, then `Some(None)` when it is off or could not start.
    dht: Option<Option<(arietta_torrent::DhtService, arietta_torrent::DhtLink)>>,
    /// Which core runs each torrent's actor.
    torrent_cores: TorrentCores,
    disk: DiskJobs,
    /// The next connection id (CUID) of any segmented download.
    conn_ids: std::rc::Rc<std::cell::Cell<ConnId>>,
    /// Downloads started so far (each one's `start_seq`).
    starts: u64,
    /// `followedBy`/`following` links for RPC.
    lineage: lineage::Lineage,
    /// The statuses RPC reads (daemon mode), and the downloads whose
    /// status may have changed since the last publication (besides those
    /// the queue reports).
    board: Option<crate::status_board::StatusBoard>,
    changed: Vec<Gid>,
    /// The global numbers last published; cleared by each tick.
    global: Option<GlobalStat>,
    /// Interrupt deadlines passed (see `on_interrupt_deadline`).
    interrupt_deadlines: u8,
}

impl Coordinator {
    /// Must be called on the executor it will run on (it starts the disk
    /// job worker there).
    pub fn new(s: CoordinatorSetup) -> Self {
        let max_results = s.daemon.then_some(s.max_results);
        Coordinator {
            torrent_cores: TorrentCores::new(s.cores.len()),
            cores: s.cores,
            next_core: 0,
            queue: {
                let mut q =
                    Queue::new(s.requests, s.max_concurrent, max_results, s.keep_unfinished);
                if let Some(d) = s.deferred {
                    q.set_deferred(d);
                }
                q
            },
            optimizer: concurrency::ConcurrencyOptimizer::from_option(&s.optimize_concurrent),
            active: HashMap::new(),
            net: s.net,
            reporter: s.reporter,
            inbox: s.inbox,
            me: s.me,
            interrupted: false,
            save_cookies: s.save_cookies,
            daemon: s.daemon,
            subscribers: Vec::new(),
            shutdown: false,
            save_session: s.save_session,
            save_session_interval: s.save_session_interval,
            last_session_save: Instant::now(),
            stats: s.server_stats,
            stat_out: s.server_stat_out,
            dht: None,
            disk: DiskJobs::start(),
            conn_ids: std::rc::Rc::new(std::cell::Cell::new(1)),
            starts: 0,
            lineage: lineage::Lineage::default(),
            board: s.daemon.then_some(s.board),
            changed: Vec::new(),
            global: None,
            interrupt_deadlines: 0,
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
        self.publish();
        while !self.done() {
            let Some(msg) = self.inbox.recv().await else {
                break;
            };
            self.handle(msg);
            // Before the next await: an answer sent while handling is read
            // by a task on this core, which runs only after this one yields.
            self.publish();
        }
        ticker.cancel();
        if let Some(Some((dht, _link))) = self.dht.take() {
            if let Err(e) = dht.shutdown().await {
                self.reporter.notice(
                    LogLevel::Error,
                    &format!("Failed to save the DHT routing table: {e}"),
                );
            }
        }
        self.save_at_exit();
        let Coordinator {
            disk,
            inbox,
            mut reporter,
            cores,
            queue,
            interrupted,
            shutdown,
            ..
        } = self;
        disk.drain().await;
        // What the file work had to say (a failed save) is still shown.
        while let Some(msg) = inbox.try_recv() {
            if let ToCoordinator::Notice { level, line } = msg {
                reporter.notice(level, &line);
            }
        }
        for c in &cores {
            let _ = c.send(ToCore::Shutdown);
        }
        RunReport {
            results: queue.into_results(),
            // A daemon told to shut down stops its running downloads as an
            // interrupt does (aria2 exits 7 when one was unfinished).
            interrupted: interrupted || shutdown,
        }
    }

    /// A plain run ends when nothing is left to start; a daemon when it is
    /// told to (and its downloads have stopped).
    fn done(&self) -> bool {
        if self.daemon {
            return (self.shutdown || self.interrupted) && self.active.is_empty();
        }
        // Paused downloads all sit in the queue: when only they are left,
        // nothing more will start.
        self.active.is_empty() && (self.queue.only_paused_left() || self.interrupted)
    }

    /// Whether a worker's message about `conn` belongs to the download's
    /// current run; a paused-and-resumed download's old connections may
    /// still be talking.
    fn current_conn(&self, gid: Gid, conn: ConnId) -> bool {
        matches!(
            self.active.get(&gid),
            Some(Active { kind: DownloadKind::Segmented(s), .. }) if s.owns(conn)
        )
    }

    fn current_run(&self, gid: Gid, run: u64) -> bool {
        matches!(
            self.active.get(&gid),
            Some(Active { kind: DownloadKind::Segmented(s), .. }) if s.run_id() == run
        )
    }

    fn handle(&mut self, msg: ToCoordinator) {
        if let Some(gid) = msg.gid() {
            self.changed.push(gid);
        }
        match msg {
            ToCoordinator::Probed {
                gid,
                conn,
                result,
                reply,
            } => {
                if self.current_conn(gid, conn) {
                    self.on_probed(gid, conn, result, reply);
                } else {
                    let _ = reply.send(ProbeDecision::Stop);
                }
            }
            ToCoordinator::Prepared {
                gid,
                conn,
                result,
                reply,
            } => {
                // A file found complete on disk (`-c`, `-V`) took nothing
                // off the network for it: the probe's bytes are dropped,
                // and aria2 shows 0B/s for such a run.
                let current = self.current_conn(gid, conn);
                let already_done = matches!(&result,
                    Ok(p) if p.total.is_some_and(|t| t > 0 && p.done.gaps(t).is_empty()));
                if already_done && current {
                    if let Some(a) = self.active.get_mut(&gid) {
                        // A fresh counter: the connection may still drain
                        // the body into the old one to keep itself alive.
                        a.received = Arc::default();
                    }
                }
                let decision = if current {
                    self.with_segmented(gid, |s, ctx, out| s.on_prepared(conn, result, ctx, out))
                        .unwrap_or(ProbeDecision::Stop)
                } else {
                    ProbeDecision::Stop
                };
                let _ = reply.send(decision);
            }
            ToCoordinator::NeedWork {
                gid,
                finished,
                at,
                conn,
                reply,
            } => {
                let halted = self.interrupted;
                let work = if self.current_conn(gid, conn) {
                    self.with_segmented(gid, |s, _, _| s.need_work(conn, finished, at, halted))
                        .flatten()
                } else {
                    None
                };
                let _ = reply.send(work);
            }
            ToCoordinator::Written {
                gid,
                conn,
                start,
                end,
            } if self.current_conn(gid, conn) => {
                self.with_segmented(gid, |s, ctx, out| {
                    s.on_written(conn, start, end, ctx.now, out)
                });
            }
            ToCoordinator::PieceChecked { gid, index, ok } => {
                self.with_segmented(gid, |s, ctx, out| s.on_piece_checked(index, ok, ctx, out));
            }
            ToCoordinator::Released { gid, conn, seg } if self.current_conn(gid, conn) => {
                self.with_segmented(gid, |s, _, _| s.release(seg));
            }
            ToCoordinator::StreamEnded { gid, conn, len } if self.current_conn(gid, conn) => {
                self.with_segmented(gid, |s, _, out| s.on_stream_ended(len, out));
            }
            ToCoordinator::ConnEnded {
                gid,
                conn,
                seg,
                result,
            } if self.current_conn(gid, conn) => {
                self.with_segmented(gid, |s, ctx, out| {
                    s.on_conn_ended(conn, seg, result, ctx, out)
                });
            }
            ToCoordinator::Retry {
                gid,
                run,
                uri,
                probe,
            } if self.current_run(gid, run) => {
                self.with_segmented(gid, |s, ctx, out| s.on_retry(uri, probe, ctx, out));
            }
            // A leftover of an earlier run (see `current_conn`).
            ToCoordinator::Written { .. }
            | ToCoordinator::Released { .. }
            | ToCoordinator::StreamEnded { .. }
            | ToCoordinator::ConnEnded { .. }
            | ToCoordinator::Retry { .. } => {}
            ToCoordinator::Finalized { gid, result, path } => self.on_finalized(gid, result, path),
            ToCoordinator::Interrupt => self.on_interrupt(),
            ToCoordinator::InterruptDeadline => self.on_interrupt_deadline(),
            ToCoordinator::Tick => self.on_tick(),
            ToCoordinator::Control(c) => self.on_control(c),
            ToCoordinator::TorrentEnded { gid, result } => self.on_torrent_ended(gid, result),
            ToCoordinator::TorrentReady { gid, download } => self.run_torrent(gid, *download),
            ToCoordinator::Notice { level, line } => self.reporter.notice(level, &line),
            ToCoordinator::Sniffed { gid, found } => self.on_sniffed(gid, found),
        }
    }

    /// Runs one input of a segmented download's state machine and carries
    /// out the actions it returns.
    fn with_segmented<R>(
        &mut self,
        gid: Gid,
        f: impl FnOnce(&mut SegmentedDownload, &Ctx, &mut Vec<Action>) -> R,
    ) -> Option<R> {
        let Some(Active {
            kind: DownloadKind::Segmented(seg),
            ..
        }) = self.active.get_mut(&gid)
        else {
            return None;
        };
        let ctx = Ctx {
            now: Instant::now(),
            stats: &self.stats,
            halted: self.interrupted,
            tick: TICK,
        };
        let span = tracing::debug_span!("download", gid = %gid);
        let _entered = span.enter();
        let mut out = Vec::new();
        let r = f(seg, &ctx, &mut out);
        self.apply(gid, out);
        Some(r)
    }

    /// Carries out a segmented download's actions, in order.
    fn apply(&mut self, gid: Gid, actions: Vec<Action>) {
        for action in actions {
            tracing::trace!(?action, "segmented download action");
            match action {
                Action::Connect { conn, url, probe } => self.spawn_conn(gid, conn, url, probe),
                Action::RetryAfter { uri, probe, after } => {
                    tracing::info!(
                        "GID#{gid} - Retrying mirror #{uri} in {} seconds",
                        after.as_secs_f32()
                    );
                    let me = self.me.clone();
                    let run = match self.active.get(&gid) {
                        Some(Active {
                            kind: DownloadKind::Segmented(s),
                            ..
                        }) => s.run_id(),
                        _ => continue,
                    };
                    glommio::spawn_local(async move {
                        if !after.is_zero() {
                            glommio::timer::sleep(after).await;
                        }
                        let _ = me.send(ToCoordinator::Retry {
                            gid,
                            run,
                            uri,
                            probe,
                        });
                    })
                    .detach();
                }
                Action::CheckPiece { index, check } => self.check_piece(gid, index, check),
                Action::Finalize(job) => self.finalize(gid, job),
                Action::Fail => self.fail(gid),
                Action::Halt => self.stop_interrupted(gid),
                Action::SaveControl => self.save_control(gid),
                Action::StopConnections => {
                    if let Some(a) = self.active.get(&gid) {
                        a.stop.store(true, Ordering::Relaxed);
                    }
                }
                Action::Notice(level, line) => self.reporter.notice(level, &line),
            }
        }
    }

    /// Starts waiting downloads while there are free slots (`-j`).
    ///
    /// Called after every completion, so it scans the active downloads
    /// only when something waits to start, and then once: a scan per
    /// completion made a start-up of 10,000 seeds quadratic.
    fn fill_slots(&mut self) {
        let mut counts = None;
        while !self.interrupted && !self.shutdown && self.queue.has_startable() {
            // A download just started is not a finished seed, and the
            // limit is worked out once per filling (as aria2 does): both
            // hold for the whole loop.
            let (seeds, limit) = match counts {
                Some(c) => c,
                None => *counts.insert((self.detached_seeds(), self.concurrency_limit())),
            };
            let Some(req) = self
                .queue
                .next_to_start_within(self.active.len() - seeds, limit)
            else {
                break;
            };
            self.start(req);
        }
    }

    /// How many downloads may run now: `-j`, or what
    /// `--optimize-concurrent-downloads` makes of the overall speed (see
    /// [`concurrency`]), worked out once per filling as aria2 does.
    fn concurrency_limit(&mut self) -> usize {
        let max = self.queue.max_concurrent();
        let Some(o) = self.optimizer.as_mut() else {
            return max;
        };
        let speed: u64 = self.active.values().map(|a| a.speed()).sum();
        let limit = o.limit(Instant::now(), speed, self.net.overall_limit.rate(), max);
        tracing::debug!(
            "Max concurrent downloads optimized at {limit} ({} currently active) [current speed {speed}B/s]",
            self.active.len()
        );
        limit
    }

    /// Active torrents that `-j` does not count: with
    /// `--bt-detach-seed-only` one that only seeds (aria2's
    /// `numActive - numStoppedSeeding`).
    fn detached_seeds(&self) -> usize {
        self.active
            .values()
            .filter(|a| match &a.kind {
                DownloadKind::Torrent(t) => {
                    t.download_done() && a.request.options.get_bool("bt-detach-seed-only")
                }
                DownloadKind::Segmented(_) => false,
            })
            .count()
    }

    fn start(&mut self, mut req: DownloadRequest) {
        self.starts += 1;
        let gid = *req.gid.get_or_insert_with(Gid::new);
        tracing::info!("GID#{gid} - Starting download of {}", req.uris.join(" "));
        self.announce(EventKind::Start, gid);
        let cfg = Arc::new(DownloadConfig::from_options(&req.options));
        // Kept at 0 (unlimited) too: `changeOption` may set it later.
        let limit = Some(arietta_net::RateLimiter::new(cfg.max_download_limit));
        let classified = bittorrent::classify(&req);
        let kind = match classified {
            Classified::Segmented => DownloadKind::Segmented(Box::new(
                SegmentedDownload::new(cfg, &req.uris, req.metalink.as_deref())
                    .numbered(self.starts, self.conn_ids.clone()),
            )),
            Classified::Torrent(..) | Classified::NeedsSniff => {
                DownloadKind::Torrent(Box::new(TorrentEntry::new(cfg)))
            }
        };
        let sniff = matches!(classified, Classified::NeedsSniff).then(|| req.clone());
        self.changed.push(gid);
        self.active.insert(
            gid,
            Active {
                request: req,
                stop: Arc::default(),
                received: Arc::default(),
                limit,
                started: Instant::now(),
                start_seq: self.starts,
                kind,
                halt: None,
                ticked: None,
            },
        );
        match classified {
            Classified::Torrent(src, web_seeds) => {
                // A torrent read from a file says its files at its start
                // (run_torrent); one whose metadata comes from the network
                // starts with none, as aria2's metadata download does.
                if matches!(src, TorrentSource::Magnet(_) | TorrentSource::Url(_)) {
                    self.run_hook(Hook::Start, gid);
                }
                self.start_torrent(gid, src, web_seeds)
            }
            Classified::Segmented => {
                self.run_hook(Hook::Start, gid);
                self.with_segmented(gid, |s, ctx, out| s.start(ctx, out));
            }
            Classified::NeedsSniff => {
                let req = sniff.expect("cloned above");
                let me = self.me.clone();
                self.disk.run(move || {
                    let found = bittorrent::source_of(&req);
                    let _ = me.send(ToCoordinator::Sniffed { gid, found });
                });
            }
        }
    }

    /// A request sniffed as no torrent runs as a segmented download.
    fn start_segmented(&mut self, gid: Gid) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let seg = SegmentedDownload::new(
            a.cfg().clone(),
            &a.request.uris,
            a.request.metalink.as_deref(),
        )
        .numbered(a.start_seq, self.conn_ids.clone());
        a.kind = DownloadKind::Segmented(Box::new(seg));
        self.run_hook(Hook::Start, gid);
        self.with_segmented(gid, |s, ctx, out| s.start(ctx, out));
    }

    /// Sends connection `conn` to the next core, round-robin. A probe with
    /// `--conditional-get` first looks at the local file, off this thread.
    fn spawn_conn(&mut self, gid: Gid, conn: ConnId, url: String, probe: bool) {
        let core = self.next_core % self.cores.len();
        self.next_core = self.next_core.wrapping_add(1);
        tracing::debug!(
            "CUID#{conn} - {} {url} on core {core}",
            if probe { "Probing" } else { "Connecting to" }
        );
        let Some(a) = self.active.get(&gid) else {
            return;
        };
        let cfg = a.cfg().clone();
        let task = ConnTask {
            gid,
            conn,
            url,
            probe,
            if_modified_since: None,
            cfg: cfg.clone(),
            net: self.net.clone(),
            limit: a.limit.clone(),
            stop: a.stop.clone(),
            received: a.received.clone(),
            to_coord: self.me.clone(),
        };
        let to_core = self.cores[core].clone();
        if !(probe && cfg.conditional_get && !cfg.to_stdout()) {
            if to_core.send(ToCore::Start(Box::new(task))).is_err() {
                self.with_segmented(gid, |s, _, _| s.conn_not_started(conn));
            }
            return;
        }
        glommio::spawn_local(async move {
            let mut task = task;
            let url = task.url.clone();
            task.if_modified_since = glommio::executor()
                .spawn_blocking(move || {
                    let p = prepare::planned_path(&cfg, &url);
                    let has_control = control_path(&p).exists();
                    std::fs::metadata(&p)
                        .and_then(|m| m.modified())
                        .ok()
                        .filter(|_| !has_control)
                })
                .await;
            // A core that is gone means the run is over.
            let _ = to_core.send(ToCore::Start(Box::new(task)));
        })
        .detach();
    }

    fn on_probed(
        &mut self,
        gid: Gid,
        conn: ConnId,
        result: Result<crate::messages::ProbeInfo, FetchError>,
        reply: MailboxSender<ProbeDecision>,
    ) {
        let outcome = self.with_segmented(gid, |s, _, out| s.on_probed(conn, result, out));
        match outcome {
            None | Some(ProbeOutcome::Stop) => {
                let _ = reply.send(ProbeDecision::Stop);
            }
            Some(ProbeOutcome::Follow { final_url, doc }) => {
                let _ = reply.send(ProbeDecision::Stop);
                match doc {
                    FollowDoc::Metalink(body) => self.follow_metalink(gid, &final_url, body),
                    FollowDoc::Torrent(body) => self.follow_torrent(gid, &final_url, body),
                }
            }
            Some(ProbeOutcome::Prepare { cfg, uris, info }) => {
                // Even a small file's create runs on the blocking pool:
                // measured, an openat(O_CREAT) in a directory where
                // thousands of files were just deleted takes ~300 µs on
                // ext4, which inline would stall every connection on this
                // core. These run concurrently (distinct new files).
                let me = self.me.clone();
                glommio::spawn_local(async move {
                    let result = glommio::executor()
                        .spawn_blocking(move || {
                            if cfg.to_stdout() {
                                prepare::prepare_stream(gid.0, &cfg, &info)
                            } else {
                                prepare::prepare(gid, &cfg, &uris, &info)
                            }
                        })
                        .await;
                    let _ = me.send(ToCoordinator::Prepared {
                        gid,
                        conn,
                        result,
                        reply,
                    });
                })
                .detach();
            }
        }
    }

    fn announce(&mut self, kind: EventKind, gid: Gid) {
        self.subscribers
            .retain(|s| s.send(Event { kind, gid }).is_ok());
    }

    fn on_tick(&mut self) {
        if !self.save_session_interval.is_zero()
            && self.last_session_save.elapsed() >= self.save_session_interval
        {
            self.write_session(None);
        }
        self.global = None;
        let gids: Vec<Gid> = self.active.keys().copied().collect();
        let mut progress = Vec::with_capacity(gids.len());
        for gid in gids {
            self.tick_one(gid);
            let Some(a) = self.active.get_mut(&gid) else {
                continue;
            };
            // Speeds move with time, not only with messages: republish the
            // downloads whose numbers did.
            let p = a.progress(gid);
            let now = active::Ticked::of(&p);
            if a.ticked != Some(now) {
                a.ticked = Some(now);
                self.changed.push(gid);
            }
            progress.push(p);
        }
        if !progress.is_empty() {
            self.reporter.progress(&progress);
        }
        if self.optimizer.is_some() {
            // aria2 refills its slots every second, so a faster link lets
            // more downloads start without waiting for one to end.
            self.fill_slots();
        }
    }

    fn tick_one(&mut self, gid: Gid) {
        let Some(received) = self
            .active
            .get(&gid)
            .map(|a| a.received.load(Ordering::Relaxed))
        else {
            return;
        };
        if self
            .with_segmented(gid, |s, ctx, out| s.on_tick(received, ctx, out))
            .is_some()
        {
            return;
        }
        let Some(DownloadKind::Torrent(t)) = self.active.get_mut(&gid).map(|a| &mut a.kind) else {
            return;
        };
        // Payload bytes taken from peers (the actor publishes them every
        // half second), not verified pieces: a piece completes seconds
        // apart on a slow swarm.
        let now = Instant::now();
        let got = t.downloaded();
        t.meter.update(got, now);
        let up = t.uploaded();
        t.up_meter.update(up, now);
        let newly_done = t.download_done() && t.run.as_ref().is_some_and(|r| !r.notified);
        if newly_done {
            self.notify_torrent_done(gid);
        }
    }

    /// The grace after an interrupt is over. The first time, a running
    /// torrent skips its `stopped` announce but is still waited for: it
    /// only has its control file left to write, and a process ending under
    /// it would leave a `.tmp` file behind (and glommio's blocking thread
    /// panicking). Whatever has not stopped by the second deadline (or has
    /// no torrent actor to wait for) ends unfinished.
    fn on_interrupt_deadline(&mut self) {
        self.interrupt_deadlines += 1;
        let last = self.interrupt_deadlines > 1;
        let gids: Vec<Gid> = self.active.keys().copied().collect();
        let mut waiting = false;
        for gid in gids {
            if !last {
                if let Some(Active {
                    kind: DownloadKind::Torrent(t),
                    ..
                }) = self.active.get(&gid)
                {
                    if let Some(run) = t.run.as_ref().filter(|r| r.live.is_some()) {
                        run.force_stop.store(true, Ordering::Relaxed);
                        waiting = true;
                        continue;
                    }
                }
            }
            self.stop_interrupted(gid);
        }
        if waiting {
            let me = self.me.clone();
            glommio::spawn_local(async move {
                glommio::timer::sleep(INTERRUPT_SAVE_GRACE).await;
                let _ = me.send(ToCoordinator::InterruptDeadline);
            })
            .detach();
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
                a.stop.store(true, Ordering::Relaxed);
            }
            self.with_segmented(gid, |s, ctx, out| s.check_stalled(ctx, out));
        }
        let me = self.me.clone();
        glommio::spawn_local(async move {
            glommio::timer::sleep(INTERRUPT_GRACE).await;
            let _ = me.send(ToCoordinator::InterruptDeadline);
        })
        .detach();
    }
}

#[cfg(test)]
mod tests;
