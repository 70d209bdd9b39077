//! BitTorrent networking on glommio that sits between a raw socket and the
//! torrent engine: the Message Stream Encryption handshake and encrypted
//! stream ([`mse_stream`]), dialling a peer MSE-first ([`dial()`]), the
//! listening sockets ([`bind_listen_sockets`]) and Local Peer Discovery
//! ([`lpd`]).
//!
//! The protocol logic lives in `arietta-bt` as pure state machines; this
//! crate only moves bytes between them and sockets, so each piece here is a
//! thin async loop that the engine's per-peer and per-torrent tasks call.
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod dial;
mod error;
mod listen;
pub mod lpd;
pub mod mse_stream;

pub use dial::{dial, DialError};
pub use error::{BtNetError, Result};
pub use listen::{bind_listen_sockets, stop_listening, ListenSockets};
pub use mse_stream::{
    accept, accept_shared, connect, Accepted, Connected, CryptoPolicy, MseStream, Routed,
    StreamState,
};
