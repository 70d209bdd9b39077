//! The crate's error type: what the layers below said, plus timeouts.

use arietta_http::HttpError;
use arietta_net::NetError;

/// Why a dial or an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server (or proxy) spoke bad HTTP, closed early, or answered a
    /// CONNECT or a request with a failing status.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// Resolving, connecting or the TLS handshake failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// `--timeout` (or the caller's limit) passed without an answer; whole
    /// seconds, as aria2 reports them.
    #[error("no response for {0} seconds")]
    Timeout(u64),
    /// The HTTP/2 server did not process the request: its stream was
    /// refused (`REFUSED_STREAM`), or came after the connection's GOAWAY
    /// (RFC 9113 §8.7), so it may go again on another connection.
    #[error("HTTP/2 request not processed: {0}")]
    Refused(String),
    /// A URL this client cannot fetch (a scheme other than http/https).
    #[error("unsupported URL: {0}")]
    Unsupported(String),
}
