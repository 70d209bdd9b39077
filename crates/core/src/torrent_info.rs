//! What RPC shows of a torrent that does not change while it runs: its
//! metainfo (`bittorrent`, `infoHash`) and its files laid out on disk.
//! Built once, when the torrent is parsed (or when `aria2.addTorrent`
//! queues it, so a waiting or paused torrent shows it as aria2 does), and
//! shared by every status answer after that.

use std::path::PathBuf;
use std::sync::Arc;

use arietta_metainfo::Metainfo;
use arietta_options::OptionSet;
use arietta_torrent::{TorrentConfig, TorrentDownload};

/// One file of the torrent's stream as aria2 lists it: BEP 47 padding
/// files included, the alignment gaps of v2 torrents left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentFile {
    pub path: PathBuf,
    /// Offset of its first byte in the torrent's stream.
    pub offset: u64,
    pub length: u64,
    pub selected: bool,
}

/// A torrent's fixed facts.
#[derive(Clone, Debug, Default)]
pub struct TorrentInfo {
    /// Lowercase hex info-hash, as peers know the swarm.
    pub info_hash: String,
    pub name: String,
    pub announce_list: Vec<Vec<String>>,
    pub comment: Option<String>,
    /// Seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    pub multi_file: bool,
    /// Whether the info dictionary is known: a magnet still fetching it
    /// has only the hash (aria2 then shows no `info`).
    pub has_metadata: bool,
    pub piece_length: u64,
    pub num_pieces: usize,
    /// Length of the stream the pieces cut, padding included.
    pub stream_length: u64,
    pub files: Vec<TorrentFile>,
}

impl TorrentInfo {
    pub fn of(dl: &TorrentDownload) -> Self {
        let meta = dl.metainfo();
        let layout = dl.layout();
        TorrentInfo {
            info_hash: hex::encode(dl.info_hash()),
            name: meta.name.clone(),
            announce_list: meta.announce_list.clone(),
            comment: meta.comment.clone().filter(|c| !c.is_empty()),
            creation_date: meta.creation_date.filter(|d| *d != 0),
            multi_file: meta.multi_file,
            has_metadata: true,
            piece_length: meta.piece_length,
            num_pieces: usize::try_from(meta.piece_count).unwrap_or(usize::MAX),
            stream_length: layout.total,
            files: layout
                .files
                .iter()
                .filter(|f| f.listed)
                .map(|f| TorrentFile {
                    path: f.path.clone(),
                    offset: f.offset,
                    length: f.length,
                    selected: f.selected,
                })
                .collect(),
        }
    }

    /// A magnet before its metadata: only the hash.
    pub fn of_magnet(info_hash: [u8; 20]) -> Self {
        TorrentInfo {
            info_hash: hex::encode(info_hash),
            ..TorrentInfo::default()
        }
    }

    /// A magnet's own download once its metadata came, as aria2 shows it:
    /// one file, `[METADATA]NAME`, the info dictionary's length in 16 KiB
    /// pieces (ut_metadata's), the magnet's trackers.
    pub fn of_metadata(info_hash: &str, name: &str, len: u64, announce: Vec<Vec<String>>) -> Self {
        const METADATA_PIECE: u64 = 16 << 10;
        TorrentInfo {
            info_hash: info_hash.to_owned(),
            name: name.to_owned(),
            announce_list: announce,
            piece_length: METADATA_PIECE,
            num_pieces: usize::try_from(len.div_ceil(METADATA_PIECE)).unwrap_or(usize::MAX),
            stream_length: len,
            files: vec![TorrentFile {
                path: format!("[METADATA]{name}").into(),
                offset: 0,
                length: len,
                selected: true,
            }],
            ..TorrentInfo::default()
        }
    }

    /// What a torrent queued with `options` will show, before it runs
    /// (`None` when it cannot be laid out; it then fails when it starts).
    /// Touches no file.
    pub fn preview(meta: Metainfo, options: &Arc<OptionSet>) -> Option<Arc<Self>> {
        let cfg = TorrentConfig::from_options(options).ok()?;
        let dl = TorrentDownload::from_metainfo(meta, cfg).ok()?;
        Some(Arc::new(Self::of(&dl)))
    }
}
