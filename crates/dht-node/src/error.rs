//! The one error type of this crate.

use std::io;

/// Why the DHT node could not start or save its table. Errors of single
/// queries are not errors here: an unanswered node is just a failed node.
#[derive(Debug, thiserror::Error)]
pub enum DhtNodeError {
    /// Binding the UDP socket (`--dht-listen-port`) or writing the table
    /// file failed.
    #[error("DHT I/O error: {0}")]
    Io(#[from] io::Error),
    /// No entry point resolved or answered, and no saved table: the node
    /// has nobody to talk to.
    #[error("DHT bootstrap failed: {0}")]
    Bootstrap(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = DhtNodeError> = std::result::Result<T, E>;
