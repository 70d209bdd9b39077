//! The crate's one error type.
//!
//! Most variants end up on the wire, so their `Display` text is worded the
//! way aria2 1.36 words it: clients (AriaNg, aria2p, webui-aria2) show these
//! strings to users and some match on them.

use thiserror::Error;

/// Everything that can go wrong while decoding, authorizing or validating an
/// RPC request, or while speaking WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The body is not well-formed JSON (or nests deeper than allowed).
    /// JSON-RPC code -32700.
    #[error("Parse error.")]
    ParseError,
    /// Well-formed JSON that is not a request object (no `method`, no `id`,
    /// a batch element that is not an object). JSON-RPC code -32600.
    #[error("Invalid Request.")]
    InvalidRequest,
    /// `params` present but not an array (aria2 has no named parameters).
    /// JSON-RPC code -32602.
    #[error("Invalid params.")]
    InvalidParams,
    /// The body exceeds `--rpc-max-request-size`. Not answered with an RPC
    /// error: aria2 drops the connection, and so should the daemon.
    #[error("request of {size} bytes exceeds the limit of {limit} bytes")]
    RequestTooLarge {
        /// Bytes offered.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The XML-RPC body could not be understood.
    #[error("Failed to parse xml-rpc request: {0}")]
    Xml(String),
    /// Missing or wrong `token:SECRET`.
    #[error("Unauthorized")]
    Unauthorized,
    /// A method name aria2 does not know.
    #[error("No such method: {0}")]
    NoSuchMethod(String),
    /// A method-level failure (bad parameter shape, invalid GID, ...), with
    /// aria2's message; always code 1 on the wire.
    #[error("{0}")]
    Fault(String),
    /// The WebSocket peer broke the protocol; the connection must be closed
    /// with `close_code`.
    #[error("websocket: {reason}")]
    WebSocket {
        /// RFC 6455 status code to send in our close frame
        /// (1002 protocol error, 1007 bad UTF-8, 1009 too big).
        close_code: u16,
        /// What was wrong, for logs.
        reason: &'static str,
    },
    /// The HTTP request asked for a WebSocket upgrade but cannot get one.
    #[error("websocket handshake: {0}")]
    Handshake(&'static str),
}

impl Error {
    /// The numeric code put into a JSON-RPC `error.code` or XML-RPC
    /// `faultCode`. aria2 uses 1 for every method-level failure and the
    /// JSON-RPC 2.0 reserved codes only for envelope problems.
    pub fn code(&self) -> i64 {
        match self {
            Error::ParseError => -32700,
            Error::InvalidRequest => -32600,
            Error::InvalidParams => -32602,
            _ => 1,
        }
    }

    /// Shorthand for a method-level [`Error::Fault`].
    pub(crate) fn fault(message: impl Into<String>) -> Self {
        Error::Fault(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_aria2() {
        assert_eq!(Error::ParseError.code(), -32700);
        assert_eq!(Error::InvalidRequest.code(), -32600);
        assert_eq!(Error::InvalidParams.code(), -32602);
        assert_eq!(Error::Unauthorized.code(), 1);
        assert_eq!(Error::NoSuchMethod("x".into()).code(), 1);
        assert_eq!(
            Error::NoSuchMethod("aria2.foo".into()).to_string(),
            "No such method: aria2.foo"
        );
        assert_eq!(Error::Unauthorized.to_string(), "Unauthorized");
    }
}
