//! The one error type of this crate.

use std::io;
use std::time::Duration;

/// What can end an encrypted handshake or a discovery socket. The engine
/// treats every variant of a peer handshake as "drop this peer"; only
/// [`BtNetError::Io`] on a bind is worth reporting to the user.
#[derive(Debug, thiserror::Error)]
pub enum BtNetError {
    /// The socket failed (reset, refused, bind error).
    #[error("network I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the MSE protocol or offered nothing we accept
    /// (`--bt-min-crypto-level`, `--bt-require-crypto`).
    #[error(transparent)]
    Protocol(#[from] arietta_bt::Error),
    /// The peer closed the connection in the middle of the handshake.
    #[error("peer closed the connection during the encryption handshake")]
    Closed,
    /// The handshake did not finish in time.
    #[error("encryption handshake timed out after {} seconds", .0.as_secs_f32())]
    Timeout(Duration),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = BtNetError> = std::result::Result<T, E>;
