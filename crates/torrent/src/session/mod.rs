//! The per-torrent actor: owns the piece picker, the verified-piece set,
//! the peer registry, interest and unchoking, the tracker schedule, fast
//! resume and the seeding rules. Peer tasks run on every core and talk to
//! it through mailboxes; it runs on whichever core the engine placed it
//! (the coordinator spreads torrents over the cores), and pieces are hashed
//! on the cores of the peers that complete them.
//!
//! Each job has its module: [`peers`] (the registry and connection slots),
//! [`candidates`] (addresses to dial, retries and bans), [`requests`]
//! (interest and block request pipelining), [`pieces`] (hash checks and
//! completion), [`control`] (control-file saves), [`announce`] (the
//! tracker schedule), [`choking`] (upload slots and PEX), [`seeding`]
//! (when to stop), [`unselected`] (`--bt-remove-unselected-file`) and
//! [`lpd`] (BEP 14). Incoming connections reach it through the process's
//! shared listener ([`crate::listener`]). Where a decision is a pure
//! function of state and time it sits
//! in a plain struct or function there, tested without sockets.

mod announce;
mod candidates;
mod choking;
mod control;
mod lpd;
mod peers;
mod pieces;
mod requests;
mod seeding;
mod stream_out;
mod unselected;

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arietta_bt::bitfield::Bitfield;
use arietta_bt::choker::{Choker, ChokerConfig};
use arietta_bt::piece_geometry::PieceGeometry;
use arietta_bt::piece_picker::{PeerKey, PiecePicker};
use arietta_net::RateLimiter;
use arietta_runtime::{mailbox, Mailbox, MailboxSender};

use crate::discovery::Discovery;
use crate::download::{PeerSink, TorrentDownload};
use crate::have_set::HaveSet;
use crate::listener::{Registration, Registry};
use crate::messages::{ToPeer, ToTorrent};
use crate::spawner::CoreSpawner;
use crate::tracker::with_timeout;
use crate::TorrentError;

use announce::Tracker;
use candidates::Candidates;
use control::ControlSaves;
use peers::PeerEntry;
use seeding::SeedingRules;

const TICK: Duration = Duration::from_millis(500);

/// Counts of `BlocksWritten` messages and the blocks they carried: the
/// cross-core traffic the peer tasks' batching saves, logged at the end.
#[derive(Default)]
struct BlockReports {
    messages: u64,
    blocks: u64,
}

impl BlockReports {
    fn note(&mut self, blocks: usize) {
        self.messages += 1;
        self.blocks += blocks as u64;
    }
}

/// `--max-overall-upload-limit`: one bucket for every torrent of the
/// process, as aria2 has.
/// RPC's `changeGlobalOption` of `--max-overall-upload-limit`: every
/// running torrent's uploads take the new rate at once.
pub fn set_overall_upload_limit(rate: u64) {
    overall_upload_limiter(rate);
}

fn overall_upload_limiter(rate: u64) -> Arc<RateLimiter> {
    static OVERALL: std::sync::OnceLock<Arc<RateLimiter>> = std::sync::OnceLock::new();
    let l = OVERALL.get_or_init(|| RateLimiter::new(rate));
    l.set_rate(rate);
    l.clone()
}

pub(crate) struct Session {
    dl: TorrentDownload,
    picker: PiecePicker,
    have: Arc<HaveSet>,
    peer_id: [u8; 20],
    port: u16,
    /// Our place on the process's shared listener; dropped (no more
    /// incoming peers) when the run ends.
    registration: Option<Registration>,
    peers: HashMap<PeerKey, PeerEntry>,
    next_key: u64,
    /// Where the next peer task goes (round-robin from the actor's core).
    next_core: usize,
    /// Block reports heard, to show how well peer tasks batch them.
    block_reports: BlockReports,
    /// Addresses we know of, when to try them next, strikes and bans.
    candidates: Candidates,
    tracker: Tracker,
    completed_at: Option<Instant>,
    /// Pieces passed since the control file was last saved.
    dirty: bool,
    /// The control file on disk already holds `have` (read from it at
    /// start, or saved since the last change): a save would write the
    /// same bytes, and 10,000 seeds starting or stopping need not.
    control_current: bool,
    control: ControlSaves,
    last_data: Instant,
    uploaded: u64,
    downloaded: u64,
    spawner: Rc<dyn CoreSpawner>,
    stop: Arc<AtomicBool>,
    me: MailboxSender<ToTorrent>,
    inbox: Mailbox<ToTorrent>,
    /// Every peer's uploads pass these: this torrent's
    /// `--max-upload-limit` first (unlimited at 0, kept so RPC can set
    /// it later), then the process's overall one.
    upload_limits: Vec<Arc<RateLimiter>>,
    /// `--max-download-limit` (unlimited at 0, as the upload one).
    download_limit: Option<Arc<RateLimiter>>,
    /// PEX, LPD and DHT as the options and the private flag allow.
    discovery: Discovery,
    last_pex: Instant,
    hashing: HashSet<u32>,
    /// Why the last peer connection ended, for the error when none is left.
    last_peer_error: Option<String>,
    /// A disk error that ends the download.
    fatal: Option<String>,
    /// `--bt-stop-timeout` passed without a byte.
    stalled: Option<Duration>,
    /// `-o -`: tells the streaming task which pieces passed.
    stream: Option<MailboxSender<u32>>,
    /// `-o -`: how the stream ended, once it has.
    stream_end: Option<Result<(), String>>,
    /// Upload slots: aria2's 4 slots, rechoked every 10 s, one optimistic.
    choker: Choker,
    seeding: SeedingRules,
}

/// The picker for a torrent that wants `wanted` and has `initial`.
fn picker_for(
    dl: &TorrentDownload,
    initial: &[bool],
    have: &HaveSet,
) -> Result<PiecePicker, TorrentError> {
    let piece_count = dl.meta.piece_count as u32;
    let geometry = PieceGeometry::new(dl.meta.piece_length as u32, dl.meta.total_length)
        .map_err(|e| TorrentError::BadOption(e.to_string()))?;
    let mut picker = PiecePicker::new(geometry, rand::random());
    let mut wanted = Bitfield::new(piece_count);
    for (i, w) in dl.wanted.iter().enumerate() {
        if *w {
            wanted.set(i as u32, true);
        }
    }
    picker
        .set_wanted(wanted)
        .map_err(|e| TorrentError::BadOption(e.to_string()))?;
    let cfg = &dl.cfg;
    picker.set_order(cfg.piece_order);
    if cfg.prioritize_head > 0 || cfg.prioritize_tail > 0 {
        let files = dl
            .layout
            .files
            .iter()
            .filter(|f| f.selected && !f.padding)
            .map(|f| (f.offset, f.length));
        picker.set_priority(arietta_bt::piece_order::edge_pieces(
            files,
            dl.layout.piece_length,
            cfg.prioritize_head,
            cfg.prioritize_tail,
        ));
    }
    for (i, h) in initial.iter().enumerate() {
        if *h {
            let _ = picker.set_have(i as u32);
            have.set(i as u32);
        }
    }
    Ok(picker)
}

/// The hashes peers may ask for this torrent by: the swarm's, and for a
/// hybrid torrent also the v2 hash cut to 20 bytes (BEP 52 peers).
fn served_hashes(dl: &TorrentDownload) -> Vec<[u8; 20]> {
    let mut hashes = vec![dl.info_hash];
    if let Some(v2) = dl.meta.info_hash_v2 {
        let mut short = [0u8; 20];
        short.copy_from_slice(&v2[..20]);
        if short != dl.info_hash {
            hashes.push(short);
        }
    }
    hashes
}

impl Session {
    pub(crate) fn new(
        mut dl: TorrentDownload,
        initial: Vec<bool>,
        from_control: bool,
        spawner: Rc<dyn CoreSpawner>,
        stop: Arc<AtomicBool>,
    ) -> Result<Session, TorrentError> {
        let have = Arc::new(HaveSet::new(dl.meta.piece_count as u32));
        let picker = picker_for(&dl, &initial, &have)?;
        let _ = dl.stats.have.set(have.clone());
        let tracker = Tracker::new(&dl.meta, &dl.cfg, Instant::now());
        let (me, inbox) = std::mem::replace(&mut dl.mailbox, mailbox());
        let registration = Registry::global().register(
            &served_hashes(&dl),
            me.clone(),
            dl.cfg.crypto,
            &dl.cfg.listen_ports,
        )?;
        let port = registration.port();
        dl.stats.port.store(usize::from(port), Ordering::Relaxed);
        // The overall limiter is always there (unlimited at 0):
        // `changeGlobalOption` may set it while this torrent runs.
        let upload_limits = vec![
            RateLimiter::new(dl.cfg.max_upload_limit),
            overall_upload_limiter(dl.cfg.max_overall_upload_limit),
        ];
        let discovery = Discovery::decide(dl.meta.private, &dl.cfg);
        if dl.cfg.peer_proxy.is_some() {
            announce::warn_proxy_bypass(&discovery);
        }
        Ok(Session {
            peer_id: dl.cfg.peer_id(),
            upload_limits,
            discovery,
            last_pex: Instant::now(),
            download_limit: Some(RateLimiter::new(dl.cfg.max_download_limit)),
            seeding: SeedingRules::from_config(&dl.cfg),
            dl,
            picker,
            have,
            port,
            registration: Some(registration),
            peers: HashMap::new(),
            next_key: 1,
            next_core: spawner.home_core(),
            block_reports: BlockReports::default(),
            candidates: Candidates::default(),
            tracker,
            completed_at: None,
            dirty: false,
            control_current: from_control,
            control: ControlSaves::default(),
            last_data: Instant::now(),
            uploaded: 0,
            downloaded: 0,
            spawner,
            stop,
            me,
            inbox,
            hashing: HashSet::new(),
            last_peer_error: None,
            fatal: None,
            stalled: None,
            stream: None,
            stream_end: None,
            choker: Choker::new(ChokerConfig::default(), rand::random()),
        })
    }

    pub(crate) fn info_hash(&self) -> [u8; 20] {
        self.dl.info_hash
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn peer_sink(&self) -> PeerSink {
        PeerSink(self.me.clone())
    }

    pub(crate) fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    fn is_complete(&self) -> bool {
        self.picker.is_complete()
    }

    fn left(&self) -> u64 {
        let mut left = 0;
        for (i, w) in self.dl.wanted.iter().enumerate() {
            if *w && !self.have.get(i as u32) {
                left += self.dl.layout.piece_range(i as u32).1;
            }
        }
        left
    }

    /// Publishes the live numbers. `completedLength` counts, as aria2's
    /// does, the blocks of pieces still in flight while the torrent runs;
    /// the last publication, after the peers are gone, counts verified
    /// pieces only, since only those are kept for the next run.
    fn update_stats(&self) {
        self.publish_stats(true);
    }

    fn publish_stats(&self, in_flight: bool) {
        let s = &self.dl.stats;
        let total = s.total.load(Ordering::Relaxed);
        let partial = if in_flight {
            self.picker.partial_bytes()
        } else {
            0
        };
        let done = (self.dl.layout.total - self.left() + partial)
            .saturating_sub(self.dl.layout.total - total)
            .min(total);
        s.completed.store(done, Ordering::Relaxed);
        // Web seeds (at 0.0.0.0:N) are not peers in aria2's counts.
        let peers = self
            .peers
            .values()
            .filter(|p| !p.addr.ip().is_unspecified());
        let (n, seeds) = peers.fold((0, 0), |(n, s), p| (n + 1, s + usize::from(p.seed)));
        s.peers.store(n, Ordering::Relaxed);
        s.seeders.store(seeds, Ordering::Relaxed);
        s.uploaded.store(self.uploaded, Ordering::Relaxed);
        s.downloaded.store(self.downloaded, Ordering::Relaxed);
    }

    /// Runs the actor until the torrent is done seeding, stopped or failed,
    /// then closes every peer and says goodbye to the trackers.
    pub(crate) async fn run(mut self: Box<Self>) -> Result<(), TorrentError> {
        let ticker = {
            let me = self.me.clone();
            glommio::spawn_local(async move {
                loop {
                    glommio::timer::sleep(TICK).await;
                    if me.send(ToTorrent::Tick).is_err() {
                        break;
                    }
                }
            })
            .detach()
        };
        let lpd = self.start_lpd();
        self.start_stream();
        if self.is_complete() {
            self.on_complete(false);
        }
        self.maybe_announce();
        self.update_stats();
        let result = loop {
            if let Some(r) = self.finished() {
                break r;
            }
            let Some(msg) = self.inbox.recv().await else {
                break Err(TorrentError::Stopped);
            };
            self.handle(msg);
        };
        if result.is_ok() {
            // `--seed-time`/`--seed-ratio` met, in aria2's words.
            tracing::info!(notice = true, "Seeding is over.");
        }
        match &result {
            Ok(()) => tracing::info!(
                uploaded = self.uploaded,
                downloaded = self.downloaded,
                block_reports = self.block_reports.messages,
                blocks = self.block_reports.blocks,
                "Seeding is over"
            ),
            Err(e) => tracing::info!(
                uploaded = self.uploaded,
                downloaded = self.downloaded,
                block_reports = self.block_reports.messages,
                blocks = self.block_reports.blocks,
                "Torrent ended: {e}"
            ),
        }
        self.registration = None;
        ticker.cancel();
        if let Some(l) = lpd {
            l.cancel();
        }
        self.close_all_peers().await;
        self.publish_stats(false);
        self.settle_control_file().await;
        if self.dl.cfg.remove_unselected_file && self.is_complete() && self.fatal.is_none() {
            let layout = self.dl.layout.clone();
            let _ = glommio::executor()
                .spawn_blocking(move || unselected::remove_unselected_files(&layout))
                .await;
        }
        if !self.dl.force_stop.load(Ordering::Relaxed) {
            // Boxed: the tracker client's future is ~19 KiB, and held
            // inline it would make every torrent actor that large for its
            // whole life (10,000 seeding torrents: 190 MB) though it runs
            // once, at the end.
            Box::pin(self.announce_stopped()).await;
        }
        result
    }

    /// RPC's `changeOption`: limits change for every peer at once; a new
    /// peer cap or request speed applies to the next dials.
    fn change_live(&mut self, o: crate::LiveOptions) {
        tracing::info!("Options changed in place: {o:?}");
        let cfg = &mut self.dl.cfg;
        cfg.max_peers = o.max_peers;
        cfg.max_upload_limit = o.max_upload_limit;
        cfg.max_download_limit = o.max_download_limit;
        cfg.request_peer_speed_limit = o.request_peer_speed_limit;
        cfg.remove_unselected_file = o.remove_unselected_file;
        if let Some(l) = self.upload_limits.first() {
            l.set_rate(o.max_upload_limit);
        }
        if let Some(l) = &self.download_limit {
            l.set_rate(o.max_download_limit);
        }
        self.connect_more();
    }

    /// Closes every peer, giving their tasks a moment to flush their last
    /// blocks before the process may end.
    async fn close_all_peers(&mut self) {
        for p in self.peers.values() {
            let _ = p.tx.send(ToPeer::Close);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.peers.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match with_timeout(left, self.inbox.recv()).await {
                Some(Some(ToTorrent::Closed { key, .. })) => {
                    self.peers.remove(&key);
                }
                Some(Some(_)) => {}
                _ => break,
            }
        }
    }

    /// `Some` when the run is over: stopped, failed, or seeding is done.
    fn finished(&self) -> Option<Result<(), TorrentError>> {
        if let Some(reason) = &self.fatal {
            return Some(Err(TorrentError::Io {
                path: self.dl.layout.root.display().to_string(),
                source: std::io::Error::other(reason.clone()),
            }));
        }
        if let Some(t) = self.stalled {
            return Some(Err(TorrentError::Stalled {
                secs: t.as_secs(),
                last_peer_error: self.last_peer_error.clone().unwrap_or_default(),
            }));
        }
        if self.stop.load(Ordering::Relaxed) {
            return Some(Err(TorrentError::Stopped));
        }
        if let Some(Err(why)) = &self.stream_end {
            return Some(Err(TorrentError::Io {
                path: "-".into(),
                source: std::io::Error::other(why.clone()),
            }));
        }
        let at = self.completed_at?;
        if self.streaming() {
            return None;
        }
        let total = self.dl.stats.total.load(Ordering::Relaxed);
        self.seeding
            .done(at.elapsed(), self.uploaded, total)
            .then_some(Ok(()))
    }

    fn handle(&mut self, msg: ToTorrent) {
        match msg {
            ToTorrent::Tick => self.on_tick(),
            ToTorrent::ChangeLive(o) => self.change_live(o),
            ToTorrent::Incoming(s, addr) => self.on_incoming(*s, addr),
            ToTorrent::Handshaken { key, peer_id } => self.on_handshaken(key, peer_id),
            ToTorrent::Bitfield { key, have } => {
                let seed = have.is_full();
                if self.picker.peer_bitfield(key, &have).is_ok() {
                    self.mark_seed(key, seed);
                }
                self.update_interest(key);
            }
            ToTorrent::HaveAll { key } => {
                self.picker.peer_have_all(key);
                self.mark_seed(key, true);
                self.update_interest(key);
            }
            ToTorrent::HaveNone { key } => {
                self.picker.peer_have_none(key);
                self.update_interest(key);
            }
            ToTorrent::Have { key, index } => {
                let _ = self.picker.peer_have(key, index);
                self.update_interest(key);
            }
            ToTorrent::Choked { key } => self.on_choked(key),
            ToTorrent::Unchoked { key } => self.on_unchoked(key),
            ToTorrent::Interested { key, interested } => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_interested = interested;
                }
                self.rechoke(true);
            }
            ToTorrent::BlocksWritten { key, blocks } => self.on_blocks_written(key, blocks),
            ToTorrent::Rejected { key, block } => {
                self.picker.request_failed(key, &block);
                self.refill_all();
            }
            ToTorrent::Uploaded { key, bytes } => {
                self.uploaded += bytes;
                if let Some(p) = self.peers.get_mut(&key) {
                    p.tick_up += bytes;
                }
            }
            ToTorrent::Closed { key, ban, reason } => self.on_closed(key, ban, reason),
            ToTorrent::Announced(r) => self.on_announced(*r),
            ToTorrent::DiskFailed { reason } => {
                if self.fatal.is_none() {
                    tracing::error!("Writing to disk failed: {reason}");
                    self.fatal = Some(reason);
                }
            }
            ToTorrent::Hashed { index, ok } => self.on_hashed(index, ok),
            ToTorrent::Streamed(r) => {
                if let Err(e) = &r {
                    tracing::error!("Writing to stdout failed: {e}");
                }
                self.stream_end = Some(r);
            }
            ToTorrent::Peers(p) => self.add_candidates(p),
            ToTorrent::ListenPort { key, port } => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.listen_addr = Some(std::net::SocketAddr::new(p.addr.ip(), port));
                }
            }
        }
    }

    fn on_tick(&mut self) {
        self.refresh_peer_list();
        tracing::trace!(
            peers = self.peers.len(),
            uploaded = self.uploaded,
            downloaded = self.downloaded,
            left = self.left(),
            complete = self.is_complete(),
            "tick"
        );
        if self.dirty {
            self.save_control();
        }
        self.rechoke(false);
        self.close_stalled_peers();
        self.maybe_announce();
        self.connect_more();
        self.send_pex();
        self.update_stats();
        if let Some(t) = self.dl.cfg.stop_timeout {
            if !self.is_complete() && self.last_data.elapsed() >= t {
                tracing::warn!("No data for {}s: stopping (--bt-stop-timeout)", t.as_secs());
                self.stalled = Some(t);
            }
        }
    }
}
