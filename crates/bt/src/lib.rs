//! BitTorrent protocol pieces for arietta, written as pure code: bytes in,
//! typed values or decisions out, no sockets and no clocks of their own.
//!
//! Keeping these free of I/O lets the per-core peer tasks drive them over any
//! stream (plain TCP, an MSE-encrypted stream, an in-memory buffer in a test)
//! and lets `fuzz/` hammer the parsers without a runtime. The pieces are:
//!
//! - [`peer_wire`]: the BEP 3 handshake and messages, BEP 6 fast extension,
//!   BEP 10 extension framing, and a streaming [`peer_wire::MessageDecoder`].
//! - [`bitfield`] and [`piece_geometry`]: piece sets and the piece/block
//!   layout every other module agrees on.
//! - [`piece_picker`]: rarest-first block selection with endgame mode, owned
//!   by one actor (the torrent's coordinator), in the order [`piece_order`]
//!   names (`--stream-piece-selector`, `--bt-prioritize-piece`).
//! - [`choker`]: the 10 s rechoke / 30 s optimistic unchoke algorithm.
//! - [`tracker_udp`]: BEP 15 UDP tracker packets and retry schedule.
//! - [`mse`]: Message Stream Encryption (the "PE"/"MSE" handshake and RC4).
//! - [`pex`]: BEP 11 peer exchange (`ut_pex`) messages.
//! - [`lpd`]: BEP 14 Local Peer Discovery datagrams.
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

pub mod bitfield;
pub mod choker;
mod error;
mod extended_text;
pub mod lpd;
pub mod mse;
pub mod peer_wire;
pub mod pex;
pub mod piece_geometry;
pub mod piece_order;
pub mod piece_picker;
pub mod tracker_udp;

pub use error::{Error, Result};
pub use extended_text::{extended_text, WireText};
