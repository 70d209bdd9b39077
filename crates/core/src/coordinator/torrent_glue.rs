//! The coordinator's side of a torrent: parse it (off the executor), start
//! its actor on the core with the fewest torrents ([`TorrentCores`]) with a
//! link to the process's DHT, and turn its end (a `TorrentEnded` in the
//! mailbox) into a result. The torrent crate's actor owns the bytes and
//! the piece accounting; the coordinator keeps only what the queue, the
//! readout and RPC need.
//!
//! A magnet's metadata and a `.torrent` by URL are fetched on this core
//! (one small exchange each); the actor that follows moves like any other.
//!
//! [`TorrentCores`]: super::torrent_cores::TorrentCores

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arietta_torrent::{
    DhtLink, DhtService, Job, TorrentConfig, TorrentDownload, TorrentError, TorrentSource,
};

use super::{Coordinator, DownloadKind};
use crate::bittorrent::{CoreMailboxes, TorrentRun};
use crate::config::DownloadConfig;
use crate::download::{LogLevel, Status};
use crate::error::FetchError;
use crate::exit_code::ExitCode;
use crate::gid::Gid;
use crate::hooks::Hook;
use crate::messages::{ToCoordinator, ToCore};
use crate::piece_view::PieceView;
use crate::speed_meter::SpeedMeter;
use crate::torrent_info::TorrentInfo;

/// A torrent download's entry: its live handle once parsed.
pub(super) struct TorrentEntry {
    pub cfg: Arc<DownloadConfig>,
    /// `None` until the torrent is parsed (or while a local file is being
    /// sniffed).
    pub run: Option<TorrentRun>,
    pub path: Option<Arc<PathBuf>>,
    pub last_error: Option<FetchError>,
    pub finishing: bool,
    pub meter: SpeedMeter,
    /// Upload speed, from the actor's uploaded bytes at each tick.
    pub up_meter: SpeedMeter,
    /// What a queued `aria2.addTorrent` already knew, shown until the
    /// actor runs.
    pub preview: Option<Arc<TorrentInfo>>,
    /// A magnet whose metadata came: its own download is complete (all
    /// of the metadata's pieces), its torrent runs under another GID.
    pub metadata_done: bool,
}

impl TorrentEntry {
    pub fn new(cfg: Arc<DownloadConfig>) -> Self {
        TorrentEntry {
            cfg,
            run: None,
            path: None,
            last_error: None,
            finishing: false,
            meter: SpeedMeter::default(),
            up_meter: SpeedMeter::default(),
            preview: None,
            metadata_done: false,
        }
    }

    fn stat(&self, f: impl Fn(&arietta_torrent::TorrentStats) -> u64) -> u64 {
        self.run.as_ref().map_or(0, |t| f(&t.stats))
    }

    pub fn completed(&self) -> u64 {
        self.stat(|s| s.completed.load(Ordering::Relaxed))
    }

    pub fn total(&self) -> u64 {
        self.stat(|s| s.total.load(Ordering::Relaxed))
    }

    pub fn uploaded(&self) -> u64 {
        self.stat(|s| s.uploaded.load(Ordering::Relaxed))
    }

    /// Payload bytes accepted from peers in this run.
    pub fn downloaded(&self) -> u64 {
        self.stat(|s| s.downloaded.load(Ordering::Relaxed))
    }

    /// The torrent's fixed facts: the running actor's, else what the
    /// queued request carried.
    pub fn info(&self) -> Option<&Arc<TorrentInfo>> {
        self.run.as_ref().map(|r| &r.info).or(self.preview.as_ref())
    }

    /// Its pieces: the actor's have-set once it runs (none before: the
    /// files are still being checked, or the metadata fetched).
    pub fn pieces(&self) -> PieceView {
        let Some(info) = self.info() else {
            return PieceView::default();
        };
        if self.metadata_done {
            return PieceView::complete(info.stream_length, info.piece_length);
        }
        let bits = self.run.as_ref().and_then(|r| r.stats.have_bits());
        PieceView::from_bits(info.stream_length, info.piece_length, info.num_pieces, bits)
    }

    pub fn peers(&self) -> usize {
        self.stat(|s| s.peers.load(Ordering::Relaxed) as u64) as usize
    }

    /// The last piece is verified (seeding may go on).
    pub fn download_done(&self) -> bool {
        self.run
            .as_ref()
            .is_some_and(|t| t.stats.download_done.load(Ordering::Relaxed))
    }
}

impl Coordinator {
    pub(super) fn torrent_mut(&mut self, gid: Gid) -> Option<&mut TorrentEntry> {
        match self.active.get_mut(&gid).map(|a| &mut a.kind) {
            Some(DownloadKind::Torrent(t)) => Some(t),
            _ => None,
        }
    }

    fn torrent_failed(&mut self, gid: Gid, e: FetchError) {
        if let Some(t) = self.torrent_mut(gid) {
            t.last_error = Some(e);
        }
        self.fail(gid);
    }

    /// Starts a torrent: a `.torrent` is read and parsed on the blocking
    /// pool; a magnet's metadata (or a remote `.torrent`) comes from the
    /// network first, on this core. Its actor then runs on the least
    /// loaded core ([`Coordinator::run_torrent`]) and its peer tasks
    /// spread over every core from there.
    pub(super) fn start_torrent(&mut self, gid: Gid, src: TorrentSource, web_seeds: Vec<String>) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let preview = a.request.snapshot.as_ref().and_then(|s| s.torrent.clone());
        if let DownloadKind::Torrent(t) = &mut a.kind {
            t.preview = preview;
        }
        let mut cfg = match TorrentConfig::from_options(&a.request.options) {
            Ok(c) => c,
            Err(e) => return self.torrent_failed(gid, e.into()),
        };
        let me = self.me.clone();
        let uri = match src {
            TorrentSource::Magnet(u) | TorrentSource::Url(u) => u,
            local => {
                cfg.web_seeds = web_seeds;
                glommio::spawn_local(async move {
                    let opened = glommio::executor()
                        .spawn_blocking(move || TorrentDownload::open(local, cfg))
                        .await;
                    let _ = me.send(ready_or_ended(gid, opened));
                })
                .detach();
                return;
            }
        };
        // The metadata comes from peers first; until then the entry shows
        // the magnet's hash with no length.
        let is_magnet = uri.starts_with("magnet:");
        let o = &a.request.options;
        if is_magnet && !o.get_bool("enable-dht") && !o.get_bool("enable-dht6") {
            self.reporter.notice(
                LogLevel::Notice,
                "For BitTorrent Magnet URI, enabling DHT is strongly recommended. See --enable-dht option.",
            );
        }
        let hash = arietta_metainfo::Magnet::parse(&uri)
            .ok()
            .and_then(|m| m.info_hash_v1)
            .unwrap_or_default();
        let stop = a.stop.clone();
        let dht = self.dht_for(gid);
        if let Some(t) = self.torrent_mut(gid) {
            t.run = Some(TorrentRun {
                stats: Arc::default(),
                info: Arc::new(TorrentInfo::of_magnet(hash)),
                notified: false,
                force_stop: Arc::default(),
                live: None,
            });
        }
        glommio::spawn_local(async move {
            let r = if is_magnet {
                TorrentDownload::from_magnet(&uri, cfg, &stop, dht).await
            } else {
                TorrentDownload::from_url(&uri, cfg).await
            };
            let _ = me.send(ready_or_ended(gid, r));
        })
        .detach();
    }

    /// A local path was read to tell whether the request is a torrent.
    pub(super) fn on_sniffed(&mut self, gid: Gid, found: Option<(TorrentSource, Vec<String>)>) {
        match found {
            Some((src, seeds)) => self.start_torrent(gid, src, seeds),
            None => self.start_segmented(gid),
        }
    }

    /// The shared DHT for a torrent of `gid`, started on the first call
    /// (one node per process, on this core), as a link any core can use;
    /// `None` when the download has `--enable-dht(6)=false` or the node
    /// could not start.
    fn dht_for(&mut self, gid: Gid) -> Option<DhtLink> {
        let opts = &self.active.get(&gid)?.request.options;
        if !opts.get_bool("enable-dht") && !opts.get_bool("enable-dht6") {
            return None;
        }
        if self.dht.is_none() {
            let started = DhtService::start(opts);
            self.dht = Some(match started {
                Ok(d) => {
                    for w in d.iter().flat_map(|d| d.warnings()) {
                        self.reporter
                            .notice(LogLevel::Warn, &format!("Cannot start the DHT: {w}"));
                    }
                    d.map(|d| {
                        let link = DhtLink::serve(d.clone());
                        (d, link)
                    })
                }
                Err(e) => {
                    self.reporter
                        .notice(LogLevel::Error, &format!("Cannot start the DHT: {e}"));
                    None
                }
            });
        }
        self.dht
            .as_ref()
            .and_then(|d| d.as_ref())
            .map(|(_, l)| l.clone())
    }

    /// Starts a parsed torrent's actor on the core with the fewest
    /// torrents; its end comes back through this mailbox.
    pub(super) fn run_torrent(&mut self, gid: Gid, dl: TorrentDownload) {
        if self.follow_magnet(gid, &dl) {
            return;
        }
        let dht = self.dht_for(gid);
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let stop = a.stop.clone();
        let DownloadKind::Torrent(t) = &mut a.kind else {
            return;
        };
        t.path = Some(Arc::new(dl.root().to_path_buf()));
        t.run = Some(TorrentRun {
            stats: dl.stats(),
            info: Arc::new(TorrentInfo::of(&dl)),
            notified: false,
            force_stop: dl.force_stop_flag(),
            live: Some(dl.live_link()),
        });
        self.run_hook(Hook::Start, gid);
        let core = self.torrent_cores.place(gid);
        let cores = self.cores.clone();
        let me = self.me.clone();
        let hash = hex::encode(dl.info_hash());
        let job: Job = Box::new(move || {
            Box::pin(async move {
                tracing::debug!("GID#{gid} - Torrent {hash} runs on core {core}");
                let spawner = std::rc::Rc::new(CoreMailboxes { cores, home: core });
                let result = dl.run(spawner, stop, dht).await;
                let _ = me.send(ToCoordinator::TorrentEnded { gid, result });
            })
        });
        let job = match self.cores.get(core) {
            Some(tx) => match tx.send(ToCore::Run(job)) {
                Err(ToCore::Run(job)) => job,
                _ => return,
            },
            None => job,
        };
        // No such core, or it has shut down: run the actor here rather
        // than lose it.
        glommio::spawn_local(job()).detach();
    }

    pub(super) fn on_torrent_ended(&mut self, gid: Gid, result: Result<(), TorrentError>) {
        self.torrent_cores.release(gid);
        let Some(t) = self.torrent_mut(gid) else {
            return;
        };
        let done = t.download_done();
        let halt = self.active.get(&gid).and_then(|a| a.halt);
        if let (Some(halt), Ok(()) | Err(TorrentError::Stopped)) = (halt, &result) {
            return self.halted(gid, halt, done);
        }
        match result {
            // Seeding cut short still leaves a complete download.
            Ok(()) | Err(TorrentError::Stopped) if done => {
                self.notify_torrent_done(gid);
                self.complete(gid);
            }
            Err(TorrentError::Stopped) => self.stop_interrupted(gid),
            // aria2 halts the torrent as unfinished (INPR, exit 7), not
            // as an error.
            Err(TorrentError::Stalled { .. }) => {
                self.reporter.notice(
                    LogLevel::Notice,
                    &format!("GID#{gid} Stop downloading torrent due to --bt-stop-timeout option."),
                );
                self.stop_interrupted(gid);
            }
            Ok(()) => self.complete(gid),
            Err(e) => self.torrent_failed(gid, e.into()),
        }
    }

    fn complete(&mut self, gid: Gid) {
        self.report_torrent_finished(gid);
        let r = self.result_of(gid, Status::Complete, ExitCode::Success, None);
        self.finish_with(r);
    }

    /// aria2's `reportDownloadFinished` for a torrent: when the download
    /// stops with every piece (after seeding, or cut short), "Download
    /// complete: PATH" and the share ratio of all time.
    pub(super) fn report_torrent_finished(&mut self, gid: Gid) {
        let Some(t) = self.torrent_mut(gid) else {
            return;
        };
        let path = t.path.as_deref().cloned().unwrap_or_default();
        let (uploaded, completed) = (t.uploaded(), t.completed());
        self.reporter.notice(
            LogLevel::Notice,
            &format!("Download complete: {}", path.display()),
        );
        let ratio = if completed == 0 {
            0.0
        } else {
            uploaded as f64 / completed as f64
        };
        self.reporter.notice(
            LogLevel::Notice,
            &format!(
                "Your share ratio was {ratio:.1}, uploaded/downloaded={}B/{}B",
                arietta_metainfo::abbrev_size(uploaded),
                arietta_metainfo::abbrev_size(completed)
            ),
        );
    }

    /// The last piece is verified: aria2's `onBtDownloadComplete` (event
    /// and hook) fires now, before seeding; "Download complete" waits for
    /// the download to stop ([`Coordinator::report_torrent_finished`]).
    pub(super) fn notify_torrent_done(&mut self, gid: Gid) {
        let Some(t) = self.torrent_mut(gid) else {
            return;
        };
        let Some(run) = t.run.as_mut().filter(|r| !r.notified) else {
            return;
        };
        run.notified = true;
        // Nothing fetched in this run: the files were complete when
        // checked at the start (aria2's hook after hash check).
        let by_check = run.stats.downloaded.load(Ordering::Relaxed) == 0;
        self.announce(crate::control::EventKind::BtComplete, gid);
        let hook_ok = self.active.get(&gid).is_some_and(|a| {
            !by_check
                || a.request
                    .options
                    .get_bool("bt-enable-hook-after-hash-check")
        });
        if hook_ok {
            self.run_hook(Hook::BtComplete, gid);
        }
        // A seed-only torrent may no longer count toward `-j`.
        self.fill_slots();
    }

    /// The BitTorrent part of `tellStatus`.
    pub(super) fn bt_status(t: &TorrentEntry) -> Option<crate::control::BtStatus> {
        let info = t.info()?.clone();
        let Some(run) = &t.run else {
            return Some(crate::control::BtStatus {
                info,
                num_seeders: 0,
                seeder: Some(false),
                peers: Vec::new(),
            });
        };
        let st = &run.stats;
        Some(crate::control::BtStatus {
            info,
            num_seeders: st.seeders.load(Ordering::Relaxed),
            seeder: Some(st.download_done.load(Ordering::Relaxed)),
            peers: st.peer_list.lock().map(|l| l.clone()).unwrap_or_default(),
        })
    }
}

fn ready_or_ended(gid: Gid, r: Result<TorrentDownload, TorrentError>) -> ToCoordinator {
    match r {
        Ok(dl) => ToCoordinator::TorrentReady {
            gid,
            download: Box::new(dl),
        },
        Err(e) => ToCoordinator::TorrentEnded {
            gid,
            result: Err(e),
        },
    }
}
