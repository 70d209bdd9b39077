//! Incremental, I/O-free body decoding: message framing (RFC 7230 §3.3.3 and
//! §4.1) and content codings (gzip, deflate).
//!
//! The framing decoder never copies body bytes on its own: [`BodyDecoder::next_span`]
//! tells the caller which part of its input is body, so the identity hot path
//! can write straight from the socket buffer to disk. [`BodyDecoder::decode`]
//! is the convenient copying form for small bodies and tests.

mod content;
mod framing;

pub use content::ContentDecoder;
pub use framing::{BodyDecoder, BodyKind, Span, MAX_CHUNK_LINE, MAX_TRAILER_SIZE};
