//! The per-torrent actor: owns the piece picker, the verified-piece set,
//! the peer registry, interest and unchoking, the tracker schedule, fast
//! resume and the seeding rules. Peer tasks run on every core and talk to
//! it through mailboxes; it runs on the core that started the download.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arietta_bt::bitfield::Bitfield;
use arietta_bt::choker::{Choker, ChokerConfig, PeerStats};
use arietta_bt::piece_geometry::PieceGeometry;
use arietta_bt::piece_picker::{BlockOutcome, PeerKey, PiecePicker};
use arietta_metainfo::{AnnounceEvent, Metainfo};
use arietta_net::RateLimiter;
use arietta_runtime::{mailbox, Mailbox, MailboxSender};
use arietta_storage::control_path;

use crate::config::TorrentConfig;
use crate::discovery::Discovery;
use crate::error::io_err;
use crate::hashing;
use crate::have_set::HaveSet;
use crate::layout::Layout;
use crate::messages::{ToPeer, ToTorrent};
use crate::peer::{run_peer, PeerSetup, PeerSource};
use crate::piece_hashes::PieceHashes;
use crate::resume;
use crate::tracker::{announce_tiers, with_timeout, AnnounceParams, AnnounceReply};
use crate::TorrentError;

/// Blocks kept requested per unchoked peer: 128 × 16 KiB = 2 MiB in flight,
/// enough to fill a loopback pipe across the cross-core round trip.
const PIPELINE: usize = 128;
/// Top up once this many requests have been answered, so refills go out in
/// batches rather than one message per block.
const REFILL_BATCH: usize = 16;
const TICK: Duration = Duration::from_millis(500);
/// Delay before re-trying a peer whose connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(10);
/// A peer that contributed to this many failed pieces is banned.
const MAX_STRIKES: u32 = 2;
/// A peer that holds requests of ours and sends nothing for this long is
/// dropped, so its blocks go to others.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How often peers get a `ut_pex` message: aria2's (and BEP 11's) minute.
const PEX_INTERVAL: Duration = Duration::from_secs(60);
/// Answer an LPD announcement from a new peer with ours, at most this
/// often, so a peer that started after us learns of us without waiting for
/// the next five-minute round.
const LPD_ANSWER_GAP: Duration = Duration::from_secs(2);

/// `--max-overall-upload-limit`: one bucket for every torrent of the
/// process, as aria2 has.
fn overall_upload_limiter(rate: u64) -> Arc<RateLimiter> {
    static OVERALL: std::sync::OnceLock<Arc<RateLimiter>> = std::sync::OnceLock::new();
    let l = OVERALL.get_or_init(|| RateLimiter::new(rate));
    l.set_rate(rate);
    l.clone()
}

/// A job to run on one core's executor (a peer connection task).
pub type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// Runs jobs on the engine's cores: the hook through which a torrent
/// spreads its peer connections over the thread-per-core runtime.
pub trait CoreSpawner {
    fn core_count(&self) -> usize;
    fn spawn_on(&self, core: usize, job: Job);
}

/// Runs every job on the current core (tests, single-core runs).
pub struct CurrentCore;

impl CoreSpawner for CurrentCore {
    fn core_count(&self) -> usize {
        1
    }
    fn spawn_on(&self, _core: usize, job: Job) {
        glommio::spawn_local(job()).detach();
    }
}

/// One connected peer as RPC's `getPeers` shows it.
#[derive(Clone, Debug)]
pub struct PeerSummary {
    pub addr: SocketAddr,
    pub peer_id: Option<[u8; 20]>,
    pub seeder: bool,
    pub am_choking: bool,
    pub peer_choking: bool,
    /// Bytes/s over the last tick.
    pub download_speed: u64,
    pub upload_speed: u64,
}

/// Live numbers, read by the coordinator (readout, RPC) from any core.
#[derive(Debug, Default)]
pub struct TorrentStats {
    /// Connected peers, refreshed every tick.
    pub peer_list: std::sync::Mutex<Vec<PeerSummary>>,
    /// Verified bytes of the selected files.
    pub completed: AtomicU64,
    /// Length of the selected files.
    pub total: AtomicU64,
    pub uploaded: AtomicU64,
    pub downloaded: AtomicU64,
    pub peers: AtomicUsize,
    pub seeders: AtomicUsize,
    /// Every selected piece is verified (seeding from now on).
    pub download_done: AtomicBool,
    /// The port we listen on (0 until bound).
    pub port: AtomicUsize,
}

/// Where a torrent comes from.
#[derive(Clone, Debug)]
pub enum TorrentSource {
    File(PathBuf),
    Bytes(Vec<u8>),
    Magnet(String),
    /// An http(s):// `.torrent` to fetch first (a metalink's
    /// `<metaurl mediatype="torrent">`).
    Url(String),
}

/// Feeds peer addresses from other sources (DHT, LPD, PEX) into a running
/// torrent: the hook those components plug into.
#[derive(Clone)]
pub struct PeerSink(MailboxSender<ToTorrent>);

impl PeerSink {
    /// Offers addresses to connect to; false once the torrent has ended.
    pub fn add(&self, peers: Vec<SocketAddr>) -> bool {
        self.0.send(ToTorrent::Peers(peers)).is_ok()
    }
}

/// A torrent ready to run: parsed, laid out, options read.
pub struct TorrentDownload {
    mailbox: (MailboxSender<ToTorrent>, Mailbox<ToTorrent>),
    meta: Arc<Metainfo>,
    cfg: TorrentConfig,
    layout: Arc<Layout>,
    wanted: Vec<bool>,
    info_hash: [u8; 20],
    /// What each piece must hash to (SHA-1 or v2 merkle roots).
    hashes: Arc<PieceHashes>,
    stats: Arc<TorrentStats>,
}

impl TorrentDownload {
    /// Parses the torrent and checks its paths; touches no data file.
    pub fn open(source: TorrentSource, cfg: TorrentConfig) -> Result<Self, TorrentError> {
        let bytes = match source {
            TorrentSource::File(p) => std::fs::read(&p).map_err(|e| TorrentError::ReadTorrent {
                path: p.display().to_string(),
                source: e,
            })?,
            TorrentSource::Bytes(b) => b,
            TorrentSource::Magnet(m) | TorrentSource::Url(m) => {
                return Err(TorrentError::MagnetUnsupported(m))
            }
        };
        Self::from_metainfo(Metainfo::parse(&bytes)?, cfg)
    }

    /// Fetches a `.torrent` over HTTP(S) (a metalink's torrent metaurl),
    /// then opens it like a local one.
    pub async fn from_url(uri: &str, cfg: TorrentConfig) -> Result<Self, TorrentError> {
        let bytes = crate::web_seed::fetch_whole(uri, &cfg.http)
            .await
            .map_err(|e| TorrentError::ReadTorrent {
                path: uri.to_owned(),
                source: std::io::Error::other(e),
            })?;
        Self::open(TorrentSource::Bytes(bytes), cfg)
    }

    /// Resolves a magnet link: fetches the info dictionary from peers
    /// (BEP 9; peers from trackers, `x.pe` and `dht` when given),
    /// optionally saves it (`--bt-save-metadata`), and lays the torrent out
    /// like a `.torrent` with the magnet's trackers.
    pub async fn from_magnet(
        uri: &str,
        cfg: TorrentConfig,
        stop: &Arc<AtomicBool>,
        dht: Option<crate::DhtService>,
    ) -> Result<Self, TorrentError> {
        let magnet = arietta_metainfo::Magnet::parse(uri)?;
        let info =
            crate::metadata::fetch_metadata(&magnet, &cfg, cfg.peer_id(), stop, dht.as_ref())
                .await?;
        let mut meta = Metainfo::from_info(&info)?;
        meta.announce_list = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
        meta.announce = magnet.trackers.first().cloned();
        meta.url_list = magnet.web_seeds.clone();
        if cfg.save_metadata || cfg.metadata_only {
            let hash = meta.info_hash_v1.ok_or(TorrentError::V2Only)?;
            let path = cfg.dir.join(format!("{}.torrent", hex::encode(hash)));
            let mut out = b"d".to_vec();
            if let Some(a) = &meta.announce {
                out.extend_from_slice(format!("8:announce{}:{a}", a.len()).as_bytes());
            }
            out.extend_from_slice(b"4:info");
            out.extend_from_slice(&info);
            out.push(b'e');
            std::fs::create_dir_all(&cfg.dir)
                .and_then(|()| std::fs::write(&path, &out))
                .map_err(|source| TorrentError::SaveMetadata {
                    path: path.display().to_string(),
                    source,
                })?;
        }
        Self::from_metainfo(meta, cfg)
    }

    pub fn from_metainfo(meta: Metainfo, cfg: TorrentConfig) -> Result<Self, TorrentError> {
        // BEP 52: a v2-only torrent's peers and trackers know it by its
        // SHA-256 info-hash cut to 20 bytes.
        let info_hash = match (meta.info_hash_v1, meta.info_hash_v2) {
            (Some(h), _) => h,
            (None, Some(h2)) => {
                let mut h = [0u8; 20];
                h.copy_from_slice(&h2[..20]);
                h
            }
            (None, None) => return Err(TorrentError::V2Only),
        };
        let hashes = Arc::new(PieceHashes::new(&meta)?);
        let selected = match &cfg.select_file {
            Some(spec) => Some(arietta_metainfo::select_files(
                spec,
                meta.visible_files().count(),
            )?),
            None => None,
        };
        let layout = Layout::new(&meta, &cfg.dir, selected.as_deref(), &cfg.index_out)?;
        let wanted = layout.wanted_pieces(meta.piece_count as u32);
        let stats = Arc::new(TorrentStats::default());
        let total: u64 = layout
            .files
            .iter()
            .filter(|f| f.selected && !f.padding)
            .map(|f| f.length)
            .sum();
        stats.total.store(total, Ordering::Relaxed);
        Ok(TorrentDownload {
            mailbox: mailbox(),
            meta: Arc::new(meta),
            cfg,
            layout: Arc::new(layout),
            wanted,
            info_hash,
            hashes,
            stats,
        })
    }

    /// Where other peer sources deliver addresses.
    pub fn peer_sink(&self) -> PeerSink {
        PeerSink(self.mailbox.0.clone())
    }

    pub fn stats(&self) -> Arc<TorrentStats> {
        self.stats.clone()
    }

    pub fn info_hash(&self) -> [u8; 20] {
        self.info_hash
    }

    pub fn metainfo(&self) -> &Metainfo {
        &self.meta
    }

    /// `dir/NAME`: the path the download is known by.
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// The selected files on disk with their lengths (for RPC `getFiles`).
    pub fn files(&self) -> Vec<(PathBuf, u64, bool)> {
        self.layout
            .files
            .iter()
            .filter(|f| !f.padding)
            .map(|f| (f.path.clone(), f.length, f.selected))
            .collect()
    }

    /// Downloads, then seeds until `--seed-ratio`/`--seed-time`; returns
    /// early with [`TorrentError::Stopped`] when `stop` is raised. With
    /// `dht`, the torrent finds peers and announces itself there too,
    /// unless it is private (BEP 27: trackers only).
    pub async fn run(
        self,
        spawner: Rc<dyn CoreSpawner>,
        stop: Arc<AtomicBool>,
        dht: Option<crate::DhtService>,
    ) -> Result<(), TorrentError> {
        let dht = dht.filter(|_| !self.meta.private);
        if self.cfg.metadata_only {
            return Ok(());
        }
        let piece_count = self.meta.piece_count as u32;
        let layout = self.layout.clone();
        let cfg = self.cfg.clone();
        let wanted = self.wanted.clone();
        let hashes = self.hashes.clone();
        let info_hash = self.info_hash;
        let control = control_path(&layout.root);
        let initial = glommio::executor()
            .spawn_blocking(move || -> Result<Vec<bool>, TorrentError> {
                layout.prepare()?;
                if !cfg.check_integrity {
                    if let Some(have) = resume::load(&control, &layout, piece_count, &info_hash) {
                        return Ok(have);
                    }
                }
                if !layout.has_existing_data() {
                    return Ok(vec![false; piece_count as usize]);
                }
                if cfg.seed_unverified && !cfg.check_integrity && layout.all_present() {
                    return Ok(wanted.clone());
                }
                let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
                hashing::check_all(&layout, &hashes, &wanted, threads)
            })
            .await?;
        let complete = initial
            .iter()
            .zip(self.wanted.iter())
            .all(|(have, want)| *have || !*want);
        if self.cfg.check_integrity && !self.cfg.hash_check_seed && complete {
            // aria2: `-V` on complete files with `--bt-hash-check-seed=false`
            // ends after the check instead of seeding.
            return Ok(());
        }
        let mut session = Session::new(self, initial, spawner, stop)?;
        if let Some(dht) = &dht {
            let sink = PeerSink(session.me.clone());
            dht.feed(
                session.dl.info_hash,
                session.port,
                sink,
                session.stop.clone(),
            );
        }
        session.start_web_seeds();
        session.run().await
    }
}

struct PeerEntry {
    tx: MailboxSender<ToPeer>,
    addr: SocketAddr,
    peer_id: Option<[u8; 20]>,
    choking_us: bool,
    am_interested: bool,
    am_choking: bool,
    seed: bool,
    /// Requests answered since the last refill.
    answered: usize,
    /// Bytes moved since the last tick, for the per-peer speeds.
    tick_down: u64,
    tick_up: u64,
    down_speed: u64,
    up_speed: u64,
    peer_interested: bool,
    connected_at: Instant,
    last_block: Option<Instant>,
    /// Where the peer accepts connections: its address when we dialled
    /// it, the extension handshake's `p` when it dialled us. What PEX
    /// tells others.
    listen_addr: Option<SocketAddr>,
}

struct Session {
    dl: TorrentDownload,
    picker: PiecePicker,
    have: Arc<HaveSet>,
    peer_id: [u8; 20],
    port: u16,
    listener: Option<Rc<glommio::net::TcpListener>>,
    peers: HashMap<PeerKey, PeerEntry>,
    next_key: u64,
    next_core: usize,
    /// Addresses we know of, with when we may try them next.
    candidates: HashMap<SocketAddr, Instant>,
    banned: HashSet<SocketAddr>,
    strikes: HashMap<SocketAddr, u32>,
    tiers: Vec<Vec<String>>,
    next_announce: Option<Instant>,
    announcing: bool,
    interval: Duration,
    started_announced: bool,
    completed_at: Option<Instant>,
    pending_completed_event: bool,
    dirty: bool,
    last_data: Instant,
    uploaded: u64,
    downloaded: u64,
    key: u32,
    spawner: Rc<dyn CoreSpawner>,
    stop: Arc<AtomicBool>,
    me: MailboxSender<ToTorrent>,
    inbox: Mailbox<ToTorrent>,
    upload_limits: Vec<Arc<RateLimiter>>,
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
    /// Upload slots: aria2's 4 slots, rechoked every 10 s, one optimistic.
    choker: Choker,
}

fn bind_listener(ports: &[u16]) -> Result<(glommio::net::TcpListener, u16), TorrentError> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    for &p in ports {
        // Bound by std, not glommio: glommio sets SO_REUSEPORT (two
        // processes could share the port) and not SO_REUSEADDR (a restart
        // could not rebind while old connections sit in TIME_WAIT).
        if let Ok(l) = std::net::TcpListener::bind(("0.0.0.0", p)) {
            // SAFETY: the fd is a bound, listening TCP socket whose
            // ownership moves into the glommio listener (into_raw_fd gives
            // it up), on this executor's thread.
            #[allow(unsafe_code)]
            let l = unsafe { glommio::net::TcpListener::from_raw_fd(l.into_raw_fd()) };
            return Ok((l, p));
        }
    }
    Err(TorrentError::Listen(format!("{ports:?}")))
}

impl Session {
    fn new(
        mut dl: TorrentDownload,
        initial: Vec<bool>,
        spawner: Rc<dyn CoreSpawner>,
        stop: Arc<AtomicBool>,
    ) -> Result<Session, TorrentError> {
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
        let have = Arc::new(HaveSet::new(piece_count));
        for (i, h) in initial.iter().enumerate() {
            if *h {
                let _ = picker.set_have(i as u32);
                have.set(i as u32);
            }
        }
        let (listener, port) = bind_listener(&dl.cfg.listen_ports)?;
        dl.stats.port.store(usize::from(port), Ordering::Relaxed);
        let mut tiers: Vec<Vec<String>> = dl
            .meta
            .announce_list
            .iter()
            .map(|t| {
                t.iter()
                    .filter(|u| !dl.cfg.exclude_trackers.iter().any(|x| x == "*" || x == *u))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .filter(|t| !t.is_empty())
            .collect();
        if !dl.cfg.extra_trackers.is_empty() {
            tiers.push(dl.cfg.extra_trackers.clone());
        }
        let (me, inbox) = std::mem::replace(&mut dl.mailbox, mailbox());
        let limit = |v: u64| (v > 0).then(|| RateLimiter::new(v));
        let mut upload_limits: Vec<Arc<RateLimiter>> =
            limit(dl.cfg.max_upload_limit).into_iter().collect();
        if dl.cfg.max_overall_upload_limit > 0 {
            upload_limits.push(overall_upload_limiter(dl.cfg.max_overall_upload_limit));
        }
        Ok(Session {
            peer_id: dl.cfg.peer_id(),
            upload_limits,
            discovery: Discovery::decide(dl.meta.private, &dl.cfg),
            last_pex: Instant::now(),
            download_limit: limit(dl.cfg.max_download_limit),
            dl,
            picker,
            have,
            port,
            listener: Some(Rc::new(listener)),
            peers: HashMap::new(),
            next_key: 1,
            next_core: 0,
            candidates: HashMap::new(),
            banned: HashSet::new(),
            strikes: HashMap::new(),
            tiers,
            next_announce: Some(Instant::now()),
            announcing: false,
            interval: Duration::from_secs(120),
            started_announced: false,
            completed_at: None,
            pending_completed_event: false,
            dirty: false,
            last_data: Instant::now(),
            uploaded: 0,
            downloaded: 0,
            key: rand::random(),
            spawner,
            stop,
            me,
            inbox,
            hashing: HashSet::new(),
            last_peer_error: None,
            fatal: None,
            stalled: None,
            choker: Choker::new(ChokerConfig::default(), rand::random()),
        })
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

    fn update_stats(&self) {
        let s = &self.dl.stats;
        let total = s.total.load(Ordering::Relaxed);
        let done = (self.dl.layout.total - self.left())
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

    async fn run(mut self) -> Result<(), TorrentError> {
        let listener = self.listener.clone().expect("listener");
        let accept = {
            let me = self.me.clone();
            glommio::spawn_local(async move {
                while let Ok(s) = listener.shared_accept().await {
                    let addr = s.peer_addr().ok();
                    if let Some(addr) = addr {
                        if me.send(ToTorrent::Incoming(s, addr)).is_err() {
                            break;
                        }
                    }
                }
            })
            .detach()
        };
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
        let lpd = self
            .discovery
            .lpd
            .then(|| {
                let mut cfg = arietta_bt_net::lpd::LpdConfig::new(self.port);
                cfg.interface = self.dl.cfg.lpd_interface;
                match arietta_bt_net::lpd::Lpd::bind(cfg) {
                    Ok(l) => Some(
                        glommio::spawn_local(run_lpd(l, self.dl.info_hash, self.me.clone()))
                            .detach(),
                    ),
                    Err(e) => {
                        eprintln!("Local Peer Discovery is off: {e}");
                        None
                    }
                }
            })
            .flatten();
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
        if std::env::var_os("ARIETTA_BT_TRACE").is_some() {
            eprintln!(
                "bt: finished {:?} up={} down={}",
                result.as_ref().map_err(ToString::to_string),
                self.uploaded,
                self.downloaded
            );
        }
        accept.cancel();
        ticker.cancel();
        if let Some(l) = lpd {
            l.cancel();
        }
        self.listener = None;
        for p in self.peers.values() {
            let _ = p.tx.send(ToPeer::Close);
        }
        // Give peer tasks a moment to flush their last blocks before the
        // process may end.
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
        self.update_stats();
        let control = control_path(&self.dl.layout.root);
        if result.is_ok() {
            let _ = std::fs::remove_file(&control);
        } else {
            self.save_control();
        }
        if self.started_announced && !self.tiers.is_empty() {
            let mut p = self.announce_params(Some(AnnounceEvent::Stopped));
            p.timeout = p.timeout.min(Duration::from_secs(3));
            p.connect_timeout = p.connect_timeout.min(Duration::from_secs(3));
            let mut tiers = self.tiers.clone();
            let _ = with_timeout(Duration::from_secs(5), announce_tiers(&mut tiers, &p)).await;
        }
        result
    }

    /// `Some` when the run is over: stopped, or seeding is done.
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
        let at = self.completed_at?;
        let cfg = &self.dl.cfg;
        if let Some(t) = cfg.seed_time {
            if at.elapsed() >= t {
                return Some(Ok(()));
            }
        }
        if cfg.seed_ratio > 0.0 {
            let total = self.dl.stats.total.load(Ordering::Relaxed).max(1);
            if self.uploaded as f64 / total as f64 >= cfg.seed_ratio {
                return Some(Ok(()));
            }
        }
        None
    }

    fn announce_params(&self, event: Option<AnnounceEvent>) -> AnnounceParams {
        AnnounceParams {
            info_hash: self.dl.info_hash,
            peer_id: self.peer_id,
            port: self.port,
            uploaded: self.uploaded,
            downloaded: self.downloaded,
            left: self.left(),
            event,
            key: self.key,
            ip: self.dl.cfg.external_ip.clone(),
            connect_timeout: self.dl.cfg.tracker_connect_timeout,
            timeout: self.dl.cfg.tracker_timeout,
            http: self.dl.cfg.http.clone(),
        }
    }

    fn maybe_announce(&mut self) {
        if self.announcing || self.tiers.is_empty() {
            return;
        }
        let event = if !self.started_announced {
            Some(AnnounceEvent::Started)
        } else if self.pending_completed_event {
            Some(AnnounceEvent::Completed)
        } else if self.next_announce.is_some_and(|t| Instant::now() >= t) {
            None
        } else {
            return;
        };
        if event == Some(AnnounceEvent::Completed) {
            self.pending_completed_event = false;
        }
        self.started_announced = true;
        self.announcing = true;
        let p = self.announce_params(event);
        let mut tiers = self.tiers.clone();
        let me = self.me.clone();
        glommio::spawn_local(async move {
            let r = announce_tiers(&mut tiers, &p).await;
            let _ = me.send(ToTorrent::Announced(r));
        })
        .detach();
    }

    fn on_announced(&mut self, r: Result<AnnounceReply, String>) {
        self.announcing = false;
        if std::env::var_os("ARIETTA_BT_TRACE").is_some() {
            eprintln!("bt: announce {:?}", r.as_ref().map(|a| &a.peers));
        }
        match r {
            Ok(reply) => {
                if let Some(i) = reply.interval {
                    self.interval = i.max(Duration::from_secs(10));
                }
                let interval = self.dl.cfg.tracker_interval.unwrap_or(self.interval);
                self.next_announce = Some(Instant::now() + interval);
                self.add_candidates(reply.peers);
            }
            Err(_) => {
                // aria2 retries a failed tracker after a minute.
                self.next_announce = Some(Instant::now() + Duration::from_secs(60));
            }
        }
    }

    fn add_candidates(&mut self, peers: Vec<SocketAddr>) {
        let now = Instant::now();
        for a in peers {
            let ours = a.port() == self.port && (a.ip().is_loopback() || a.ip().is_unspecified());
            if ours || self.banned.contains(&a) {
                continue;
            }
            self.candidates.entry(a).or_insert(now);
        }
        self.connect_more();
    }

    fn max_peers(&self) -> usize {
        match self.dl.cfg.max_peers {
            0 => usize::MAX,
            n => n,
        }
    }

    fn connect_more(&mut self) {
        if self.is_complete() {
            // Seeding: leechers come to us.
            return;
        }
        let now = Instant::now();
        let connected: HashSet<SocketAddr> = self.peers.values().map(|p| p.addr).collect();
        let mut ready: Vec<SocketAddr> = self
            .candidates
            .iter()
            .filter(|(a, t)| **t <= now && !connected.contains(a) && !self.banned.contains(a))
            .map(|(a, _)| *a)
            .collect();
        ready.sort();
        for a in ready {
            if self.peers.len() >= self.max_peers() {
                break;
            }
            self.candidates.insert(a, now + RECONNECT_AFTER);
            self.start_peer(PeerSource::Outgoing(a), a);
        }
    }

    /// Starts the torrent's `url-list` web seeds and the HTTP URIs given
    /// next to it, each as a peer with every piece (BEP 19), unless the
    /// download is already complete.
    fn start_web_seeds(&mut self) {
        if self.is_complete() {
            return;
        }
        let mut bases: Vec<String> = self.dl.meta.url_list.clone();
        for u in &self.dl.cfg.web_seeds {
            if !bases.contains(u) {
                bases.push(u.clone());
            }
        }
        for (i, base) in bases.iter().enumerate() {
            let Some(urls) = crate::web_seed::file_urls(&self.dl.meta, base) else {
                continue;
            };
            // A placeholder address: web seeds are never dialled as peers.
            let addr = SocketAddr::from(([0, 0, 0, 0], (i + 1) as u16));
            let http = self.dl.cfg.http.clone();
            self.start_peer(PeerSource::WebSeed(Arc::new(urls), http), addr);
        }
    }

    fn start_peer(&mut self, source: PeerSource, addr: SocketAddr) {
        let key = PeerKey(self.next_key);
        self.next_key += 1;
        let (tx, inbox) = mailbox();
        let setup = PeerSetup {
            key,
            info_hash: self.dl.info_hash,
            our_id: self.peer_id,
            layout: self.dl.layout.clone(),
            have: self.have.clone(),
            to_torrent: self.me.clone(),
            inbox,
            upload_limits: self.upload_limits.clone(),
            download_limit: self.download_limit.clone(),
            crypto: self.dl.cfg.crypto,
            pex: self.discovery.pex,
            listen_port: self.port,
            max_open_files: self.dl.cfg.max_open_files,
        };
        let listen_addr = matches!(source, PeerSource::Outgoing(_)).then_some(addr);
        self.peers.insert(
            key,
            PeerEntry {
                tx,
                addr,
                peer_id: None,
                choking_us: true,
                am_interested: false,
                am_choking: true,
                seed: false,
                answered: 0,
                tick_down: 0,
                tick_up: 0,
                down_speed: 0,
                up_speed: 0,
                peer_interested: false,
                connected_at: Instant::now(),
                last_block: None,
                listen_addr,
            },
        );
        self.picker.add_peer(key);
        let cores = self.spawner.core_count().max(1);
        let core = self.next_core % cores;
        self.next_core = self.next_core.wrapping_add(1);
        self.spawner
            .spawn_on(core, Box::new(move || Box::pin(run_peer(source, setup))));
    }

    fn send(&self, key: PeerKey, m: ToPeer) {
        if let Some(p) = self.peers.get(&key) {
            let _ = p.tx.send(m);
        }
    }

    fn handle(&mut self, msg: ToTorrent) {
        match msg {
            ToTorrent::Tick => self.on_tick(),
            ToTorrent::Incoming(s, addr) => {
                if self.banned.contains(&addr) || self.peers.len() >= self.max_peers() {
                    return;
                }
                self.start_peer(PeerSource::Incoming(s), addr);
            }
            ToTorrent::Handshaken { key, peer_id } => {
                let dup = self
                    .peers
                    .iter()
                    .any(|(k, p)| *k != key && p.peer_id == Some(peer_id));
                if dup {
                    self.send(key, ToPeer::Close);
                    return;
                }
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_id = Some(peer_id);
                }
            }
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
            ToTorrent::Choked { key } => {
                let _ = self.picker.peer_choked(key);
                if let Some(p) = self.peers.get_mut(&key) {
                    p.choking_us = true;
                }
                self.refill_all();
            }
            ToTorrent::Unchoked { key } => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.choking_us = false;
                }
                self.refill(key);
            }
            ToTorrent::Interested { key, interested } => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_interested = interested;
                }
                self.rechoke(true);
            }
            ToTorrent::BlockWritten { key, block } => {
                self.last_data = Instant::now();
                match self.picker.block_received(key, &block) {
                    BlockOutcome::Unwanted => {}
                    BlockOutcome::Accepted {
                        piece_complete,
                        cancels,
                    } => {
                        self.downloaded += u64::from(block.length);
                        for (k, b) in cancels {
                            self.send(k, ToPeer::Cancel(b));
                        }
                        if piece_complete {
                            self.hash_piece(block.index);
                        }
                    }
                }
                if let Some(p) = self.peers.get_mut(&key) {
                    p.last_block = Some(Instant::now());
                    p.tick_down += u64::from(block.length);
                    p.answered += 1;
                    if p.answered >= REFILL_BATCH {
                        self.refill(key);
                    }
                }
            }
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
            ToTorrent::Closed { key, ban, reason } => {
                if std::env::var_os("ARIETTA_BT_TRACE").is_some() {
                    eprintln!("bt: peer {key:?} closed: {reason:?} ban={ban}");
                }
                if reason.is_some() {
                    self.last_peer_error = reason;
                }
                let freed = self.picker.remove_peer(key);
                if let Some(p) = self.peers.remove(&key) {
                    if ban {
                        self.banned.insert(p.addr);
                    }
                    if !p.am_choking {
                        self.rechoke(true);
                    }
                }
                if !freed.is_empty() {
                    self.refill_all();
                }
            }
            ToTorrent::Announced(r) => self.on_announced(r),
            ToTorrent::DiskFailed { reason } => {
                self.fatal.get_or_insert(reason);
            }
            ToTorrent::Hashed { index, ok } => self.on_hashed(index, ok),
            ToTorrent::Peers(p) => self.add_candidates(p),
            ToTorrent::ListenPort { key, port } => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.listen_addr = Some(SocketAddr::new(p.addr.ip(), port));
                }
            }
        }
    }

    /// Every [`PEX_INTERVAL`], tells each peer (through its task, which
    /// sends only the difference from its last message) the peers we are
    /// connected to.
    fn send_pex(&mut self) {
        if !self.discovery.pex || self.last_pex.elapsed() < PEX_INTERVAL {
            return;
        }
        self.last_pex = Instant::now();
        let all: Vec<(SocketAddr, bool)> = self
            .peers
            .values()
            .filter(|p| p.peer_id.is_some())
            .filter_map(|p| p.listen_addr.map(|a| (a, p.seed)))
            .collect();
        for p in self.peers.values().filter(|p| p.peer_id.is_some()) {
            let list = all
                .iter()
                .filter(|(a, _)| Some(*a) != p.listen_addr)
                .map(|&(addr, seed)| arietta_bt::pex::PexPeer {
                    addr,
                    flags: arietta_bt::pex::PexFlags(if seed {
                        arietta_bt::pex::PexFlags::SEED
                    } else {
                        0
                    }),
                })
                .collect();
            let _ = p.tx.send(ToPeer::Pex(list));
        }
    }

    /// Applies the choker's choice of upload slots (now, or when due).
    fn rechoke(&mut self, now_please: bool) {
        let now = Instant::now();
        let stats: Vec<PeerStats> = self
            .peers
            .iter()
            .filter(|(_, p)| p.peer_id.is_some())
            .map(|(k, p)| PeerStats {
                peer: *k,
                peer_interested: p.peer_interested,
                am_interested: p.am_interested,
                download_rate: p.down_speed,
                upload_rate: p.up_speed,
                last_block_received: p.last_block,
                connected_at: p.connected_at,
            })
            .collect();
        let seeding = self.is_complete();
        let decision = if now_please {
            Some(self.choker.rechoke(now, &stats, seeding))
        } else {
            self.choker.tick(now, &stats, seeding)
        };
        let Some(d) = decision else { return };
        for (k, p) in self.peers.iter_mut() {
            let choke = !d.unchoke.contains(k);
            if p.am_choking != choke {
                p.am_choking = choke;
                let _ = p.tx.send(ToPeer::Choke(choke));
            }
        }
    }

    fn mark_seed(&mut self, key: PeerKey, seed: bool) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.seed = seed;
        }
        if seed && self.is_complete() {
            self.send(key, ToPeer::Close);
        }
    }

    fn update_interest(&mut self, key: PeerKey) {
        let want = !self.is_complete() && self.picker.is_interesting(key);
        if let Some(p) = self.peers.get_mut(&key) {
            if p.am_interested != want {
                p.am_interested = want;
                let _ = p.tx.send(ToPeer::Interested(want));
            }
            if want && !p.choking_us {
                self.refill(key);
            }
        }
    }

    /// Tops the peer's pipeline up to [`PIPELINE`] requests.
    fn refill(&mut self, key: PeerKey) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.answered = 0;
        if p.choking_us || !p.am_interested {
            return;
        }
        let out = self.picker.outstanding(key);
        if out >= PIPELINE {
            return;
        }
        let blocks = self.picker.pick(key, PIPELINE - out, None);
        if !blocks.is_empty() {
            let _ = p.tx.send(ToPeer::Request(blocks));
        }
    }

    fn refill_all(&mut self) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            self.refill(k);
        }
    }

    fn hash_piece(&mut self, index: u32) {
        if !self.hashing.insert(index) {
            return;
        }
        let layout = self.dl.layout.clone();
        let hashes = self.dl.hashes.clone();
        let me = self.me.clone();
        glommio::spawn_local(async move {
            let ok = glommio::executor()
                .spawn_blocking(move || {
                    hashing::verify_piece(&layout, index, &hashes).unwrap_or(false)
                })
                .await;
            let _ = me.send(ToTorrent::Hashed { index, ok });
        })
        .detach();
    }

    fn on_hashed(&mut self, index: u32, ok: bool) {
        self.hashing.remove(&index);
        if ok {
            let _ = self.picker.piece_passed(index);
            self.have.set(index);
            self.dirty = true;
            for p in self.peers.values() {
                let _ = p.tx.send(ToPeer::Have(index));
            }
            if self.is_complete() {
                self.on_complete(true);
            } else {
                let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
                for k in keys {
                    self.update_interest(k);
                }
            }
        } else {
            let contributors = self.picker.piece_failed(index).unwrap_or_default();
            let alone = contributors.len() == 1;
            for k in contributors {
                let Some(addr) = self.peers.get(&k).map(|p| p.addr) else {
                    continue;
                };
                let strikes = self.strikes.entry(addr).or_insert(0);
                *strikes += 1;
                if alone || *strikes >= MAX_STRIKES {
                    self.banned.insert(addr);
                    self.send(k, ToPeer::Close);
                }
            }
            self.refill_all();
        }
        self.update_stats();
    }

    fn on_complete(&mut self, downloaded_now: bool) {
        if self.completed_at.is_some() {
            return;
        }
        self.completed_at = Some(Instant::now());
        self.dl.stats.download_done.store(true, Ordering::Relaxed);
        if downloaded_now {
            self.pending_completed_event = true;
        }
        self.save_control();
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            let seed = self.peers.get(&k).is_some_and(|p| p.seed);
            if seed {
                self.send(k, ToPeer::Close);
            } else {
                self.update_interest(k);
            }
        }
    }

    fn save_control(&mut self) {
        self.dirty = false;
        let rec = resume::record(&self.dl.layout, &self.have, &self.dl.info_hash);
        let path = control_path(&self.dl.layout.root);
        // Small (a range per run of pieces) and at most twice a second.
        if let Err(e) = rec.save(&path) {
            let _ = io_err(&path, std::io::Error::other(e.to_string()));
        }
    }

    fn on_tick(&mut self) {
        let per_sec = |b: u64| (b as f64 / TICK.as_secs_f64()) as u64;
        for p in self.peers.values_mut() {
            p.down_speed = per_sec(std::mem::take(&mut p.tick_down));
            p.up_speed = per_sec(std::mem::take(&mut p.tick_up));
        }
        let list = self
            .peers
            .values()
            // Web seeds sit at 0.0.0.0:N; aria2's getPeers lists only peers.
            .filter(|p| p.peer_id.is_some() && !p.addr.ip().is_unspecified())
            .map(|p| PeerSummary {
                addr: p.addr,
                peer_id: p.peer_id,
                seeder: p.seed,
                am_choking: p.am_choking,
                peer_choking: p.choking_us,
                download_speed: p.down_speed,
                upload_speed: p.up_speed,
            })
            .collect();
        if let Ok(mut l) = self.dl.stats.peer_list.lock() {
            *l = list;
        }
        if std::env::var_os("ARIETTA_BT_TRACE").is_some() {
            eprintln!(
                "bt: peers={} up={} down={} left={} complete={}",
                self.peers.len(),
                self.uploaded,
                self.downloaded,
                self.left(),
                self.is_complete()
            );
        }
        if self.dirty {
            self.save_control();
        }
        self.rechoke(false);
        let now = Instant::now();
        let stalled: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(k, p)| {
                !p.choking_us
                    && self.picker.outstanding(**k) > 0
                    && now.saturating_duration_since(p.last_block.unwrap_or(p.connected_at))
                        >= STALL_TIMEOUT
            })
            .map(|(k, _)| *k)
            .collect();
        for k in stalled {
            self.send(k, ToPeer::Close);
        }
        self.maybe_announce();
        self.connect_more();
        self.send_pex();
        self.update_stats();
        if let Some(t) = self.dl.cfg.stop_timeout {
            if !self.is_complete() && self.last_data.elapsed() >= t {
                self.stalled = Some(t);
            }
        }
    }
}

/// BEP 14 for one torrent: announce now and every five minutes (and, at
/// most every [`LPD_ANSWER_GAP`], in answer to a peer we had not heard
/// of), and hand peers announcing this torrent to the actor.
async fn run_lpd(lpd: arietta_bt_net::lpd::Lpd, info_hash: [u8; 20], me: MailboxSender<ToTorrent>) {
    use arietta_bt_net::lpd::ANNOUNCE_INTERVAL;
    let mut known: HashSet<SocketAddr> = HashSet::new();
    let _ = lpd.announce(&[info_hash]).await;
    let mut last = Instant::now();
    // An answer owed to a newcomer, sent once the gap since our last
    // announcement allows.
    let mut answer_owed = false;
    loop {
        let mut due = ANNOUNCE_INTERVAL.saturating_sub(last.elapsed());
        if answer_owed {
            due = due.min(LPD_ANSWER_GAP.saturating_sub(last.elapsed()));
        }
        let heard = futures_lite::future::or(async { Some(lpd.recv().await) }, async {
            glommio::timer::sleep(due).await;
            None
        })
        .await;
        match heard {
            None => {
                let _ = lpd.announce(&[info_hash]).await;
                last = Instant::now();
                answer_owed = false;
            }
            Some(Ok(peer)) if peer.info_hashes.contains(&info_hash) => {
                if known.insert(peer.addr) {
                    if me.send(ToTorrent::Peers(vec![peer.addr])).is_err() {
                        return;
                    }
                    answer_owed = true;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(_)) => glommio::timer::sleep(Duration::from_secs(1)).await,
        }
    }
}
