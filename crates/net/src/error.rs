//! The one error type of the crate and its mapping onto aria2's exit codes.

use std::io;
use std::time::Duration;

/// Everything that can go wrong below the protocol layer.
///
/// Variants are split along the lines aria2 draws with its exit codes, so the
/// CLI can report the same status a script written for aria2 expects.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Name resolution failed or produced no usable address (aria2 exit 19).
    #[error("could not resolve {host}: {reason}")]
    Resolve {
        /// The host name as given by the user.
        host: String,
        /// Why: the resolver's message, or "no IPv4 address" after filtering.
        reason: String,
    },
    /// `--connect-timeout` elapsed before any address answered (aria2 exit 2).
    #[error("connection timed out after {} seconds", .0.as_secs_f64())]
    Timeout(Duration),
    /// Every address refused or was unreachable; holds the last error seen
    /// (aria2 exit 1: aria2c 1.36 never reports 6, "network problem").
    /// Worded as aria2's: the system's reason only (the address is in the
    /// log's `Connecting to` line, and in the held error's `Debug`).
    #[error("Failed to establish connection, cause: {}", cause(.0))]
    Connect(#[source] io::Error),
    /// I/O on an established connection failed (aria2 exit 1).
    #[error("network I/O error: {0}")]
    Io(#[from] io::Error),
    /// The TLS handshake failed: untrusted certificate, name mismatch,
    /// protocol alert... Carries rustls' message (aria2 exit 1).
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The TLS client configuration could not be built: unreadable or empty
    /// `--ca-certificate`, bad `--certificate`/`--private-key` (aria2 exit 1).
    #[error("TLS configuration error: {0}")]
    TlsConfig(String),
    /// A SOCKS5 proxy refused the login (aria2 exit 24, as for a refused
    /// HTTP login) or could not connect to the target (exit 1).
    #[error(transparent)]
    Socks5(#[from] arietta_socks5::Socks5Error),
    /// `--interface`/`--multiple-interface` names no address of this host
    /// (aria2 exit 1, with aria2's wording).
    #[error("Failed to find given interface {0}, cause: not available")]
    Interface(String),
}

/// One connection attempt's error, naming the address it was for: with
/// several addresses, the last error alone does not say which one failed.
#[derive(Debug)]
pub(crate) struct AttemptError {
    pub addr: std::net::SocketAddr,
    pub source: io::Error,
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.addr, self.source)
    }
}

impl std::error::Error for AttemptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The system's reason for `e` as `strerror` words it (aria2's `cause:`):
/// without the address an attempt added or Rust's "(os error N)".
fn cause(e: &io::Error) -> String {
    if let Some(a) = e.get_ref().and_then(|i| i.downcast_ref::<AttemptError>()) {
        return cause(&a.source);
    }
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

impl NetError {
    /// The aria2c exit status this error stands for.
    ///
    /// Values follow aria2c 1.36: 19 name resolution failed, 2 timeout,
    /// and 1 for the rest. aria2 throws refused connections, resets and
    /// TLS failures without a code of their own, so they end as 1; its
    /// table's 6 ("network problem") is never produced.
    pub fn aria2_exit_code(&self) -> u8 {
        match self {
            NetError::Resolve { .. } => 19,
            NetError::Timeout(_) => 2,
            NetError::Socks5(e) if e.is_auth_failure() => 24,
            NetError::Connect(_)
            | NetError::Io(_)
            | NetError::Tls(_)
            | NetError::TlsConfig(_)
            | NetError::Socks5(_)
            | NetError::Interface(_) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_aria2() {
        let resolve = NetError::Resolve {
            host: "x".into(),
            reason: "y".into(),
        };
        assert_eq!(resolve.aria2_exit_code(), 19);
        assert_eq!(
            NetError::Timeout(Duration::from_secs(1)).aria2_exit_code(),
            2
        );
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(NetError::Connect(refused).aria2_exit_code(), 1);
        // aria2's wording: the system's reason, not the address.
        let attempt = AttemptError {
            addr: "127.0.0.1:1".parse().unwrap(),
            source: io::Error::from_raw_os_error(libc::ECONNREFUSED),
        };
        let e = NetError::Connect(io::Error::new(io::ErrorKind::ConnectionRefused, attempt));
        assert_eq!(
            e.to_string(),
            "Failed to establish connection, cause: Connection refused"
        );
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(NetError::from(reset).aria2_exit_code(), 1);
        assert_eq!(NetError::Tls("bad".into()).aria2_exit_code(), 1);
    }
}
