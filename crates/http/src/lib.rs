//! HTTP/1.1 client protocol for arietta.
//!
//! Everything except [`connection`] is pure: bytes in, typed values out, no
//! I/O and no runtime, so it can be unit-tested and fuzzed directly (see
//! `fuzz/fuzz_targets/http_response.rs`). [`HttpConnection`] is the thin
//! async layer that moves bytes between a stream and these parsers; it is
//! generic over `futures_io` traits so it runs on glommio sockets and on
//! futures-rustls TLS streams alike.
//!
//! What this crate deliberately leaves to its callers: connection pooling,
//! timeouts, retries, redirect counting, and deciding what a status code
//! means for a download (see [`HttpError::aria2_exit_code`] for the exit-code
//! mapping).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod body;
pub mod connection;
pub mod content_disposition;
pub mod cookies;
pub mod date;
pub mod error;
pub mod netrc;
pub mod proxy;
pub mod redirect;
pub mod request;
pub mod response;

pub use body::{BodyDecoder, BodyKind, ContentDecoder, Span};
pub use connection::{BodyChunk, HttpConnection};
pub use cookies::{Cookie, CookieJar};
pub use date::{format_http_date, parse_http_date};
pub use error::{status_exit_code, HttpError};
pub use netrc::{Netrc, NetrcEntry};
pub use proxy::{Proxy, ProxyKind, ProxySettings};
pub use redirect::resolve_location;
pub use request::{encode_connect, Method, ProxyAuth, RequestSpec};
pub use response::{parse_head, ContentRange, Encoding, ResponseHead};
