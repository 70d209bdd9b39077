use thiserror::Error;

use crate::exit_code::ExitCode;

/// Why a connection or a download failed. Each variant knows its aria2 exit
/// code and whether another try could help.
#[derive(Debug, Error)]
pub enum FetchError {
    #[error(transparent)]
    Http(#[from] arietta_http::HttpError),
    #[error(transparent)]
    Net(#[from] arietta_net::NetError),
    #[error(transparent)]
    Ftp(#[from] arietta_ftp::FtpError),
    #[error(transparent)]
    Storage(#[from] arietta_storage::StorageError),
    #[error(transparent)]
    Sftp(#[from] arietta_sftp::SftpError),
    #[error("the response is not the one requested: {0}")]
    WrongResponse(String),
    /// A range response that is not the range asked for, or reports
    /// another total length: the mirror holds another file (or a changed
    /// one). aria2 aborts the mirror with exit code 8 and this wording.
    #[error("Invalid range header. Request: {req_start}-{req_end}/{req_total}, Response: {start}-{end}/{total}")]
    InvalidRange {
        req_start: u64,
        req_end: u64,
        req_total: u64,
        start: u64,
        end: u64,
        total: u64,
    },
    #[error("too many redirects (limit {0})")]
    TooManyRedirects(usize),
    #[error("the size of the remote file changed from {was} to {now} bytes")]
    SizeChanged { was: u64, now: u64 },
    /// The control file was written with another `--piece-length` and
    /// records progress; aria2's words.
    #[error("WARNING: Detected a change in piece length. You can proceed with --allow-piece-length-change=true, but you may lose some download progress.")]
    PieceLengthChanged,
    /// `--hash-check-only` with `-V` found the file not matching: the
    /// download ends there (aria2 exit 1).
    #[error("Download not complete: {0}")]
    HashCheckOnly(String),
    #[error("checksum error detected: {algo} expected {expected}, got {actual}")]
    Checksum {
        algo: String,
        expected: String,
        actual: String,
    },
    #[error("unsupported checksum type {0}")]
    UnknownChecksum(String),
    #[error("no response for {0} seconds")]
    Timeout(u64),
    #[error("download speed {speed} B/s stayed below --lowest-speed-limit={limit}")]
    TooSlow { speed: u64, limit: u64 },
    #[error("unsupported URI: {0}")]
    UnsupportedUri(String),
    #[error("the download was removed")]
    Removed,
    /// `--max-file-not-found=N` answers of "not found" before any byte.
    #[error("Reached max-file-not-found count={0}")]
    MaxFileNotFound(u32),
    /// A metalink document that cannot be used (bad XML, a DTD, too large,
    /// no usable file).
    #[error("metalink: {0}")]
    Metalink(String),
    /// `--load-cookies` names a browser database that cannot be read.
    #[error("failed to load cookies: {0}")]
    Cookies(String),
    /// A piece failed its metalink chunk checksum and no other mirror is
    /// left to fetch it from.
    #[error("piece {index} failed its {algo} chunk checksum")]
    PieceHash { index: usize, algo: String },
    #[error(transparent)]
    Torrent(#[from] arietta_torrent::TorrentError),
}

impl FetchError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            FetchError::Http(e) => ExitCode::from_u8(e.aria2_exit_code()),
            FetchError::Net(e) => ExitCode::from_u8(e.aria2_exit_code()),
            FetchError::Ftp(e) => ExitCode::from_u8(e.aria2_exit_code()),
            FetchError::Storage(e) => ExitCode::from_u8(e.aria2_exit_code()),
            FetchError::Sftp(e) => ExitCode::from_u8(e.aria2_exit_code()),
            FetchError::WrongResponse(_) => ExitCode::BadHttpResponse,
            FetchError::InvalidRange { .. } => ExitCode::NoResume,
            FetchError::TooManyRedirects(_) => ExitCode::TooManyRedirects,
            FetchError::SizeChanged { .. } => ExitCode::BadHttpResponse,
            FetchError::PieceLengthChanged => ExitCode::PieceLengthMismatch,
            FetchError::HashCheckOnly(_) => ExitCode::Unknown,
            FetchError::Checksum { .. } => ExitCode::Checksum,
            FetchError::UnknownChecksum(_) => ExitCode::BadOption,
            FetchError::Timeout(_) => ExitCode::Timeout,
            FetchError::TooSlow { .. } => ExitCode::TooSlow,
            FetchError::UnsupportedUri(_) => ExitCode::Unknown,
            FetchError::Removed => ExitCode::Unknown,
            FetchError::MaxFileNotFound(_) => ExitCode::MaxFileNotFound,
            FetchError::Metalink(_) => ExitCode::MetalinkParse,
            FetchError::Cookies(_) => ExitCode::Unknown,
            FetchError::PieceHash { .. } => ExitCode::Checksum,
            FetchError::Torrent(e) => ExitCode::from_u8(e.aria2_exit_code()),
        }
    }

    /// Whether trying the same URI again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Http(e) => e.is_retryable(),
            FetchError::Ftp(e) => e.is_retryable(),
            FetchError::Net(e) => match e {
                arietta_net::NetError::Tls(_) | arietta_net::NetError::TlsConfig(_) => false,
                // aria2 aborts the URI at once ("Name resolution for … failed").
                arietta_net::NetError::Resolve { .. } => false,
                // A refused proxy login stays refused.
                arietta_net::NetError::Socks5(s) => !s.is_auth_failure(),
                _ => true,
            },
            FetchError::Sftp(e) => e.is_retryable(),
            FetchError::WrongResponse(_) | FetchError::Timeout(_) => true,
            _ => false,
        }
    }

    /// 404-like: counts against `--max-file-not-found`.
    pub fn is_not_found(&self) -> bool {
        match self {
            // aria2 reports a missing SFTP file as 1, yet it is missing.
            FetchError::Sftp(e) => e.is_not_found(),
            _ => self.exit_code() == ExitCode::NotFound,
        }
    }
}
