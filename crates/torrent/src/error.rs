use thiserror::Error;

/// Why a torrent download could not start or stopped.
#[derive(Debug, Error)]
pub enum TorrentError {
    #[error("cannot read the torrent file {path}: {source}")]
    ReadTorrent {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Metainfo(#[from] arietta_metainfo::Error),
    #[error("{0}")]
    BadOption(String),
    #[error("the magnet link has no v1 info-hash (v2-only magnets are not supported yet)")]
    V2Only,
    #[error("bad v2 piece layers: {0}")]
    PieceLayers(&'static str),
    #[error("magnet links are not supported yet: {0}")]
    MagnetUnsupported(String),
    #[error("file path {0} escapes the download directory")]
    UnsafePath(String),
    #[error("file I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on any port of {0}")]
    Listen(String),
    #[error("InfoHash {0} is already registered.")]
    DuplicateInfoHash(String),
    #[error(transparent)]
    Storage(#[from] arietta_storage::StorageError),
    #[error("the download was stopped")]
    Stopped,
    /// `--hash-check-only` found pieces missing: the download ends there.
    #[error("Download not complete: {0}")]
    HashCheckOnly(String),
    #[error("no data for {secs} seconds (--bt-stop-timeout) {last_peer_error}")]
    Stalled { secs: u64, last_peer_error: String },
    #[error("cannot fetch the torrent's metadata: {0}")]
    Metadata(String),
    #[error("DHT: {0}")]
    Dht(String),
    #[error("cannot save the metadata to {path}: {source}")]
    SaveMetadata {
        path: String,
        source: std::io::Error,
    },
}

impl TorrentError {
    /// aria2's exit code for this error (see `arietta_core::ExitCode`).
    pub fn aria2_exit_code(&self) -> u8 {
        match self {
            TorrentError::ReadTorrent { .. } => 1,
            TorrentError::Metainfo(e) => match e {
                arietta_metainfo::Error::Bencode(_) => 25,
                arietta_metainfo::Error::Magnet(_) => 27,
                arietta_metainfo::Error::Selection { .. } => 28,
                _ => 26,
            },
            TorrentError::BadOption(_) => 28,
            TorrentError::V2Only => 26,
            TorrentError::PieceLayers(_) => 26,
            TorrentError::MagnetUnsupported(_) => 27,
            TorrentError::UnsafePath(_) => 26,
            TorrentError::Io { .. } => 17,
            TorrentError::Listen(_) => 1,
            TorrentError::DuplicateInfoHash(_) => 12,
            TorrentError::Storage(e) => e.aria2_exit_code(),
            TorrentError::Stopped => 7,
            TorrentError::HashCheckOnly(_) => 1,
            TorrentError::Metadata(_) => 1,
            TorrentError::Stalled { .. } => 7,
            TorrentError::SaveMetadata { .. } => 16,
            TorrentError::Dht(_) => 1,
        }
    }
}

pub(crate) fn io_err(path: &std::path::Path, source: std::io::Error) -> TorrentError {
    TorrentError::Io {
        path: path.display().to_string(),
        source,
    }
}
