//! The crate's one error type and its mapping onto aria2's exit codes.

use thiserror::Error;

/// Why an SFTP session or a read failed.
#[derive(Debug, Error)]
pub enum SftpError {
    /// The host name did not resolve to any address.
    #[error("could not resolve {host}: {detail}")]
    Resolve { host: String, detail: String },
    /// No address accepted a TCP connection within `--connect-timeout`.
    #[error("could not connect to {host}:{port}: {detail}")]
    Connect {
        host: String,
        port: u16,
        detail: String,
    },
    /// The SSH handshake (key exchange) failed.
    #[error("SSH handshake with {host} failed: {detail}")]
    Handshake { host: String, detail: String },
    /// The server's host key is not the one `--ssh-host-key-md` names. No
    /// credentials were sent.
    #[error(
        "unexpected SSH host key of {host}: expected {algo}={expected}, actual {algo}={actual}"
    )]
    HostKeyMismatch {
        host: String,
        algo: &'static str,
        expected: String,
        actual: String,
    },
    /// `--ssh-host-key-md` names an algorithm or digest length libssh2
    /// cannot produce.
    #[error("invalid --ssh-host-key-md: {0}")]
    BadHostKeyOption(String),
    /// Every authentication method was refused.
    #[error("SFTP authentication failed for user {user}: {detail}")]
    Auth { user: String, detail: String },
    /// The remote file does not exist.
    #[error("SFTP: no such file {path}")]
    NotFound { path: String },
    /// The server refused access to the remote file.
    #[error("SFTP: permission denied for {path}")]
    PermissionDenied { path: String },
    /// The remote path names something that is not a regular file.
    #[error("SFTP: {path} is not a regular file")]
    NotAFile { path: String },
    /// The server did not answer within `--timeout`.
    #[error("SFTP: no answer from the server within {0} seconds")]
    Timeout(u64),
    /// The file ended before the requested range did (it shrank).
    #[error("SFTP: the file ended at {at}, before the requested range")]
    UnexpectedEof { at: u64 },
    /// Any other SSH or SFTP failure.
    #[error("SFTP {what} failed: {detail}")]
    Protocol { what: &'static str, detail: String },
    /// The SOCKS5 proxy (`--all-proxy=socks5://…`) failed the handshake:
    /// a refused login (exit 24, as HTTP's) or a refused CONNECT (exit 1).
    #[error(transparent)]
    Socks5(#[from] arietta_socks5::Socks5Error),
    /// The connection's thread is gone (it failed to start or panicked).
    #[error("SFTP connection thread ended")]
    ThreadGone,
}

impl SftpError {
    /// The exit code aria2c reports for this failure, so scripts written
    /// against aria2c keep working: 19 name resolution, 2 timeout, 28 a bad
    /// `--ssh-host-key-md`, and 1 for everything else. aria2c 1.36's SSH
    /// layer throws its failures (refused login, missing file, host key
    /// mismatch, a cut session) without a code of their own, so a script
    /// sees 1 where HTTP would give 24 or 3.
    pub fn aria2_exit_code(&self) -> u8 {
        match self {
            SftpError::Resolve { .. } => 19,
            SftpError::Timeout(_) => 2,
            SftpError::BadHostKeyOption(_) => 28,
            SftpError::Socks5(e) if e.is_auth_failure() => 24,
            SftpError::Socks5(_)
            | SftpError::Connect { .. }
            | SftpError::Handshake { .. }
            | SftpError::HostKeyMismatch { .. }
            | SftpError::Auth { .. }
            | SftpError::NotFound { .. }
            | SftpError::PermissionDenied { .. }
            | SftpError::NotAFile { .. }
            | SftpError::UnexpectedEof { .. }
            | SftpError::Protocol { .. }
            | SftpError::ThreadGone => 1,
        }
    }

    /// Whether connecting again may help. A wrong host key, refused
    /// credentials or a missing file will not change on a retry.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SftpError::Connect { .. }
                | SftpError::Handshake { .. }
                | SftpError::Timeout(_)
                | SftpError::UnexpectedEof { .. }
                | SftpError::Protocol { .. }
        ) || matches!(self, SftpError::Socks5(e) if !e.is_auth_failure())
    }

    /// Whether this is aria2's "resource not found" (counts against
    /// `--max-file-not-found`).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            SftpError::NotFound { .. } | SftpError::NotAFile { .. }
        )
    }
}
