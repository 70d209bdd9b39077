//! The crate's one error type.

use std::io;

/// Why a helper process (nginx) could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No nginx binary at `/usr/sbin/nginx` or on `PATH`: tests should skip.
    #[error("nginx is not installed")]
    NotInstalled,
    #[error("i/o error: {0}")]
    /// Creating the temp dir or config, or spawning nginx, failed.
    Io(#[from] io::Error),
    /// nginx ran but never accepted connections; carries its error log.
    #[error("nginx failed to start: {0}")]
    StartFailed(String),
}
