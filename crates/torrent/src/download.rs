//! A torrent before it runs: where it comes from (a `.torrent`, bytes, a
//! magnet, a URL), parsed and laid out, then [`TorrentDownload::run`],
//! which checks what is on disk and hands over to the per-torrent actor.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arietta_metainfo::Metainfo;
use arietta_runtime::{mailbox, Mailbox, MailboxSender};
use arietta_storage::control_path;
use tracing::Instrument;

use crate::config::TorrentConfig;
use crate::hashing;
use crate::layout::Layout;
use crate::messages::ToTorrent;
use crate::piece_hashes::PieceHashes;
use crate::resume;
use crate::session::Session;
use crate::spawner::CoreSpawner;
use crate::stats::TorrentStats;
use crate::TorrentError;

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
pub struct PeerSink(pub(crate) MailboxSender<ToTorrent>);

impl PeerSink {
    /// Offers addresses to connect to; false once the torrent has ended.
    pub fn add(&self, peers: Vec<SocketAddr>) -> bool {
        self.0.send(ToTorrent::Peers(peers)).is_ok()
    }
}

/// Changes a running torrent's [`LiveOptions`](crate::LiveOptions) (RPC's
/// `changeOption`), from any core.
#[derive(Clone)]
pub struct LiveLink(MailboxSender<ToTorrent>);

impl LiveLink {
    /// False once the torrent has ended.
    pub fn change(&self, o: crate::LiveOptions) -> bool {
        self.0.send(ToTorrent::ChangeLive(o)).is_ok()
    }
}

/// `--bt-load-saved-metadata`: the `dir/HASH.torrent` a
/// `--bt-save-metadata` run left for this magnet, when it is there and is
/// the magnet's torrent (same info-hash); `None` sends us to the peers.
fn saved_metadata(dir: &std::path::Path, magnet: &arietta_metainfo::Magnet) -> Option<Metainfo> {
    let hash = magnet.info_hash_v1?;
    let path = dir.join(format!("{}.torrent", hex::encode(hash)));
    let meta = Metainfo::parse(&std::fs::read(path).ok()?).ok()?;
    (meta.info_hash_v1 == Some(hash)).then_some(meta)
}

/// A torrent ready to run: parsed, laid out, options read.
pub struct TorrentDownload {
    pub(crate) mailbox: (MailboxSender<ToTorrent>, Mailbox<ToTorrent>),
    pub(crate) meta: Arc<Metainfo>,
    pub(crate) cfg: TorrentConfig,
    pub(crate) layout: Arc<Layout>,
    pub(crate) wanted: Vec<bool>,
    pub(crate) info_hash: [u8; 20],
    /// What each piece must hash to (SHA-1 or v2 merkle roots).
    pub(crate) hashes: Arc<PieceHashes>,
    pub(crate) stats: Arc<TorrentStats>,
    /// Raised with the stop flag by aria2's forced stops (`forceRemove`,
    /// `forcePause`, `forceShutdown`): the run ends without telling the
    /// trackers it leaves, as aria2's force halt skips the `stopped`
    /// announce the graceful forms wait for.
    pub(crate) force_stop: Arc<AtomicBool>,
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
        dht: Option<crate::DhtLink>,
    ) -> Result<Self, TorrentError> {
        let magnet = arietta_metainfo::Magnet::parse(uri)?;
        if cfg.load_saved_metadata {
            if let Some(meta) = saved_metadata(&cfg.dir, &magnet) {
                tracing::info!("Loaded the metadata saved for the magnet: no fetch needed");
                return Self::from_metainfo(meta, cfg);
            }
        }
        crate::listener::Registry::global().bind_early(&cfg.listen_ports);
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
            let out = torrent_file(meta.announce.as_deref(), &info);
            let dir = cfg.dir.clone();
            let saved = path.clone();
            glommio::executor()
                .spawn_blocking(move || {
                    std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&saved, &out))
                })
                .await
                .map_err(|source| TorrentError::SaveMetadata {
                    path: path.display().to_string(),
                    source,
                })?;
        }
        Self::from_metainfo(meta, cfg)
    }

    pub fn from_metainfo(meta: Metainfo, cfg: TorrentConfig) -> Result<Self, TorrentError> {
        let info_hash = meta.swarm_info_hash().ok_or(TorrentError::V2Only)?;
        let hashes = Arc::new(PieceHashes::new(&meta)?);
        let selected = match &cfg.select_file {
            Some(spec) => Some(arietta_metainfo::select_files(spec, meta.files.len())?),
            None => None,
        };
        let layout = Layout::new(&meta, &cfg.dir, selected.as_deref(), &cfg.index_out)?;
        let wanted = layout.wanted_pieces(meta.piece_count as u32);
        let stats = Arc::new(TorrentStats::default());
        let total: u64 = layout
            .files
            .iter()
            .filter(|f| f.selected && f.listed)
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
            force_stop: Arc::default(),
        })
    }

    /// Where other peer sources deliver addresses.
    pub fn peer_sink(&self) -> PeerSink {
        PeerSink(self.mailbox.0.clone())
    }

    /// Where RPC's `changeOption` sends what applies in place.
    pub fn live_link(&self) -> LiveLink {
        LiveLink(self.mailbox.0.clone())
    }

    pub fn stats(&self) -> Arc<TorrentStats> {
        self.stats.clone()
    }

    /// The flag that makes a stop skip the trackers' `stopped` announce
    /// (raise it before the stop flag).
    pub fn force_stop_flag(&self) -> Arc<AtomicBool> {
        self.force_stop.clone()
    }

    pub fn info_hash(&self) -> [u8; 20] {
        self.info_hash
    }

    pub fn metainfo(&self) -> &Metainfo {
        &self.meta
    }

    /// Its files in stream order, as laid out under `--dir`.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// `dir/NAME`: the path the download is known by.
    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// The torrent's files on disk with their lengths and whether each is
    /// selected (for RPC `getFiles`), padding files included as aria2
    /// lists them.
    pub fn files(&self) -> Vec<(PathBuf, u64, bool)> {
        self.layout
            .files
            .iter()
            .filter(|f| f.listed)
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
        dht: Option<crate::DhtLink>,
    ) -> Result<(), TorrentError> {
        let dht = dht.filter(|_| !self.meta.private);
        if self.cfg.metadata_only {
            return Ok(());
        }
        let (initial, from_control) = self.initial_pieces().await?;
        let complete = initial
            .iter()
            .zip(self.wanted.iter())
            .all(|(have, want)| *have || !*want);
        if self.cfg.check_integrity && !self.cfg.hash_check_seed && complete {
            // aria2: `-V` on complete files with `--bt-hash-check-seed=false`
            // ends after the check instead of seeding.
            return Ok(());
        }
        if self.cfg.check_integrity && self.cfg.hash_check_only {
            return self.end_after_check(&initial, complete).await;
        }
        let span = tracing::info_span!("torrent", info_hash = %hex::encode(self.info_hash));
        async move {
            // Boxed, like the actor's run future below: with thousands of
            // torrents the actor's state is held once, not copied into
            // each enclosing future.
            let mut session = Box::new(Session::new(self, initial, from_control, spawner, stop)?);
            if let Some(dht) = &dht {
                dht.feed(
                    session.info_hash(),
                    session.port(),
                    session.peer_sink(),
                    session.stop_flag(),
                );
            }
            session.start_web_seeds();
            session.run().await
        }
        .instrument(span)
        .await
    }

    /// `--hash-check-only`: complete files end the download there (no
    /// seeding); missing pieces end it as aria2 does, in error with the
    /// verified pieces recorded so a later run resumes from them.
    async fn end_after_check(&self, initial: &[bool], complete: bool) -> Result<(), TorrentError> {
        if complete {
            return Ok(());
        }
        let root = self.layout.root.clone();
        tracing::error!("Checksum error detected. file={}", root.display());
        let have = crate::have_set::HaveSet::new(initial.len() as u32);
        for (i, _) in initial.iter().enumerate().filter(|(_, h)| **h) {
            have.set(i as u32);
        }
        let record = resume::record(&self.layout, &have, &self.info_hash);
        let control = control_path(&root);
        glommio::executor()
            .spawn_blocking(move || record.save(&control))
            .await?;
        Err(TorrentError::HashCheckOnly(root.display().to_string()))
    }

    /// The pieces already on disk, from the control file (fast resume:
    /// `true` beside them) or by hashing what is there, on the blocking
    /// pool.
    async fn initial_pieces(&self) -> Result<(Vec<bool>, bool), TorrentError> {
        let piece_count = self.meta.piece_count as u32;
        let layout = self.layout.clone();
        let cfg = self.cfg.clone();
        let wanted = self.wanted.clone();
        let hashes = self.hashes.clone();
        let info_hash = self.info_hash;
        let control = control_path(&layout.root);
        glommio::executor()
            .spawn_blocking(move || -> Result<(Vec<bool>, bool), TorrentError> {
                layout.prepare()?;
                if !cfg.check_integrity {
                    if let Some(have) = resume::load(&control, &layout, piece_count, &info_hash) {
                        return Ok((have, true));
                    }
                }
                if !layout.has_existing_data() {
                    return Ok((vec![false; piece_count as usize], false));
                }
                if cfg.seed_unverified && !cfg.check_integrity && layout.all_present() {
                    return Ok((wanted.clone(), false));
                }
                let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
                Ok((
                    hashing::check_all(&layout, &hashes, &wanted, threads)?,
                    false,
                ))
            })
            .await
    }
}

/// A `.torrent` holding `info` (as fetched, byte for byte, so its hash
/// stays the magnet's) and the first tracker, as `--bt-save-metadata`
/// writes it.
fn torrent_file(announce: Option<&str>, info: &[u8]) -> Vec<u8> {
    let mut out = b"d".to_vec();
    if let Some(a) = announce {
        out.extend_from_slice(format!("8:announce{}:{a}", a.len()).as_bytes());
    }
    out.extend_from_slice(b"4:info");
    out.extend_from_slice(info);
    out.push(b'e');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_metadata_is_a_torrent_around_the_fetched_info() {
        let info = b"d4:name1:ae";
        assert_eq!(torrent_file(None, info), b"d4:infod4:name1:aee".to_vec());
        let t = torrent_file(Some("http://t/a"), info);
        assert_eq!(t, b"d8:announce10:http://t/a4:infod4:name1:aee".to_vec());
    }
}
