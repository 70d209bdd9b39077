use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong with files. `aria2_exit_code` maps each to aria2's
/// table so the CLI reports what a script expects.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("failed to open the file {path}, cause: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory on the way to the file cannot be made (aria2 exit 18),
    /// e.g. `-d` names a regular file.
    #[error("Failed to make the directory {path}, cause: {source}")]
    MakeDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write into the file {path}, cause: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not enough disk space to allocate {len} bytes for {path}: {source}")]
    NoSpace {
        path: PathBuf,
        len: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("File {} exists, but a control file(*.aria2) does not exist. Download was canceled in order to prevent your file from being truncated to 0. If you are sure to download the file all over again, then delete it or add --allow-overwrite=true option and restart aria2.", .0.display())]
    Exists(PathBuf),
    #[error("control file {path} is unusable: {why}")]
    BadControlFile { path: PathBuf, why: String },
    #[error("control file {path}: {source}")]
    ControlIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    /// aria2's exit code for this failure.
    pub fn aria2_exit_code(&self) -> u8 {
        match self {
            StorageError::NoSpace { .. } => 9,
            StorageError::Exists(_) => 13,
            StorageError::Open { .. } => 16,
            StorageError::MakeDir { .. } => 18,
            StorageError::Write { source, .. } if source.raw_os_error() == Some(libc::ENOSPC) => 9,
            StorageError::Write { .. } => 17,
            StorageError::BadControlFile { .. } | StorageError::ControlIo { .. } => 1,
        }
    }
}
