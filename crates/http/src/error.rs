//! The crate's single error type and its mapping onto aria2's exit codes.

use std::io;

/// Every failure the HTTP layer can report.
///
/// The variants are deliberately fine-grained so that the session layer can
/// decide between "retry on a fresh connection", "try another mirror" and
/// "give up with aria2's exit code N" without string matching. See
/// [`HttpError::aria2_exit_code`] for the one place that mapping lives.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The status line or a header line could not be parsed.
    #[error("HTTP response header was bad or unexpected: {0}")]
    BadHead(&'static str),
    /// The response head did not end within the size limit.
    #[error("HTTP response header section exceeds {limit} bytes")]
    HeaderTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// More header fields than the parser accepts.
    #[error("too many HTTP response header fields")]
    TooManyHeaders,
    /// `Content-Length` is not a number, overflows, or disagrees with another
    /// `Content-Length` field (a response-splitting symptom, RFC 7230 §3.3.2).
    #[error("invalid Content-Length header")]
    BadContentLength,
    /// `Content-Range` does not have the `bytes a-b/len` shape or is
    /// internally inconsistent.
    #[error("invalid Content-Range header")]
    BadContentRange,
    /// Chunked transfer coding framing is malformed.
    #[error("malformed chunked body: {0}")]
    BadChunk(&'static str),
    /// The compressed body could not be inflated.
    #[error("cannot decode {encoding} body: {detail}")]
    Decompress {
        /// `gzip` or `deflate`.
        encoding: &'static str,
        /// The inflater's message.
        detail: String,
    },
    /// The compressed body ended before the compressed stream did.
    #[error("compressed body is truncated")]
    TruncatedCompressedBody,
    /// Inflating produced more than the configured limit.
    #[error("decompressed body exceeds the limit of {limit} bytes")]
    DecompressionBomb {
        /// The configured limit, in bytes.
        limit: u64,
    },
    /// The peer closed the connection before a single byte of the response
    /// head arrived. On a reused keep-alive connection this is the normal
    /// "server timed the idle connection out" race and the request should be
    /// retried on a fresh connection.
    #[error("connection closed before the response started")]
    ConnectionClosed,
    /// The peer closed the connection in the middle of a response.
    #[error("connection closed before the response ended")]
    UnexpectedEof,
    /// An error from the underlying stream.
    #[error("network I/O error: {0}")]
    Io(#[from] io::Error),
    /// The server answered with a status the caller treats as failure.
    /// Worded as aria2 words it: RPC's `errorMessage` shows this text.
    #[error("{}", status_message(*status))]
    Status {
        /// The response status code.
        status: u16,
    },
    /// A `Location` header that cannot be resolved to a URL.
    #[error("invalid redirect location: {0}")]
    BadLocation(String),
    /// A redirect to a scheme this client cannot follow.
    #[error("redirect to unsupported scheme '{}'", .0.escape_debug())]
    UnsupportedRedirectScheme(String),
    /// A proxy setting (option or environment variable) is unusable.
    #[error("invalid proxy setting '{}': {reason}", .value.escape_debug())]
    BadProxy {
        /// The offending value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A URL that cannot be requested over HTTP (no host, wrong scheme).
    #[error("URL cannot be requested over HTTP: {0}")]
    BadUrl(String),
    /// A body read into memory (error page, metalink, redirect body) was
    /// larger than the caller allowed.
    #[error("response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The connection was used out of order (e.g. reading a body before a
    /// head). This is a bug in the caller, reported instead of panicking.
    #[error("HTTP connection misuse: {0}")]
    InvalidState(&'static str),
}

/// aria2's message for a failed HTTP status (`HttpSkipResponseCommand`).
pub fn status_message(status: u16) -> String {
    match status {
        401 => "Authorization failed.".into(),
        404 => "Resource not found".into(),
        s => format!("The response status is not successful. status={s}"),
    }
}

/// aria2's exit code for a final HTTP status, as aria2's
/// `HttpSkipResponseCommand` assigns it.
pub fn status_exit_code(status: u16) -> u8 {
    match status {
        401 | 407 => 24,
        404 | 410 => 3,
        503 => 29,
        _ => 22,
    }
}

impl HttpError {
    /// The aria2 exit code this error corresponds to, so the CLI can report
    /// the same number aria2c would (see aria2's `error_code.h`).
    ///
    /// aria2c 1.36 gives a code of its own only to what it names: a final
    /// status (3, 22, 24, 29), a missing `Location` (22). Everything its
    /// parsers and sockets throw without one — a bad status line or header,
    /// a bad chunk, a refused or reset connection, an early EOF — ends the
    /// run with 1 ("unknown error"), never 6: aria2 never reports 6.
    pub fn aria2_exit_code(&self) -> u8 {
        match self {
            HttpError::BadLocation(_) | HttpError::UnsupportedRedirectScheme(_) => 22,
            HttpError::Status { status } => status_exit_code(*status),
            HttpError::BadProxy { .. } => 28,
            HttpError::BadHead(_)
            | HttpError::HeaderTooLarge { .. }
            | HttpError::TooManyHeaders
            | HttpError::BadContentLength
            | HttpError::BadContentRange
            | HttpError::BadChunk(_)
            | HttpError::ConnectionClosed
            | HttpError::UnexpectedEof
            | HttpError::Io(_)
            | HttpError::Decompress { .. }
            | HttpError::TruncatedCompressedBody
            | HttpError::DecompressionBomb { .. }
            | HttpError::BodyTooLarge { .. }
            | HttpError::BadUrl(_)
            | HttpError::InvalidState(_) => 1,
        }
    }

    /// Whether retrying the same request on a new connection may succeed.
    ///
    /// aria2 retries network failures (up to `--max-tries`) but not protocol
    /// violations; this is the distinction the retry loop needs.
    pub fn is_retryable(&self) -> bool {
        match self {
            HttpError::ConnectionClosed | HttpError::UnexpectedEof | HttpError::Io(_) => true,
            HttpError::Status { status } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_aria2() {
        assert_eq!(HttpError::Status { status: 404 }.aria2_exit_code(), 3);
        assert_eq!(HttpError::Status { status: 401 }.aria2_exit_code(), 24);
        assert_eq!(HttpError::Status { status: 407 }.aria2_exit_code(), 24);
        assert_eq!(HttpError::Status { status: 503 }.aria2_exit_code(), 29);
        assert_eq!(HttpError::Status { status: 500 }.aria2_exit_code(), 22);
        assert_eq!(HttpError::BadHead("x").aria2_exit_code(), 1);
        assert_eq!(HttpError::UnexpectedEof.aria2_exit_code(), 1);
        assert_eq!(
            HttpError::Io(io::Error::from(io::ErrorKind::ConnectionReset)).aria2_exit_code(),
            1
        );
    }

    #[test]
    fn status_messages_are_aria2s() {
        let m = |status| HttpError::Status { status }.to_string();
        assert_eq!(m(404), "Resource not found");
        assert_eq!(m(401), "Authorization failed.");
        assert_eq!(m(500), "The response status is not successful. status=500");
    }

    #[test]
    fn retryable() {
        assert!(HttpError::ConnectionClosed.is_retryable());
        assert!(HttpError::Status { status: 503 }.is_retryable());
        assert!(!HttpError::Status { status: 404 }.is_retryable());
        assert!(!HttpError::BadChunk("x").is_retryable());
    }
}
