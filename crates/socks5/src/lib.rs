//! The client side of a SOCKS5 handshake (RFC 1928) with username/password
//! authentication (RFC 1929), as pure code: bytes in, bytes out, no socket.
//!
//! [`Handshake`] knows the message sequence — greeting, method choice,
//! optional username/password, CONNECT or UDP ASSOCIATE, reply — and
//! nothing about how the bytes travel, so it is unit-tested and fuzzed
//! without a runtime, and the same machine serves glommio's sockets
//! (`arietta-net`) and the blocking socket of an SFTP thread
//! ([`connect_blocking`]).
//!
//! The machine never asks for more bytes than the current message still
//! needs ([`Handshake::wanted`]), so a driver that reads at most that much
//! never swallows the first bytes of the tunnelled protocol (an FTP
//! server's greeting can follow the CONNECT reply in the same segment).
//!
//! UDP ASSOCIATE ([`Handshake::associate`]) opens a relay for UDP trackers
//! and the DHT; [`encode_datagram`] and [`decode_datagram`] put on and take
//! off the header each relayed datagram carries (RFC 1928 §7).

mod blocking;
mod datagram;
mod error;
mod handshake;

pub use blocking::connect_blocking;
pub use datagram::{decode_datagram, encode_datagram, Datagram, MAX_HEADER};
pub use error::{ReplyCode, Socks5Error};
pub use handshake::{Credentials, Handshake, Target, TargetHost};

/// The IANA-registered SOCKS port, the default when a proxy URI names none.
pub const DEFAULT_PORT: u16 = 1080;
