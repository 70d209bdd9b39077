//! Network plumbing for arietta on glommio: name resolution, RFC 8305 "Happy
//! Eyeballs" connection setup, TLS (rustls), a plain/TLS stream type and the
//! cross-core token-bucket rate limiter, and
//! connections and UDP relays through SOCKS5 proxies.
//!
//! Protocol crates (`http`, `ftp`, ...) sit on top of [`NetStream`]; they never
//! touch sockets or certificates themselves, so the policies aria2 users rely on
//! (`--disable-ipv6`, `--connect-timeout`, `--check-certificate`,
//! `--max-overall-download-limit`, ...) live in one place.
#![deny(unsafe_op_in_unsafe_fn)]

mod dns;
mod error;
mod happy_eyeballs;
mod rate_limit;
mod resolve;
mod socket_options;
mod socks5;
mod socks5_udp;
mod stream;
mod tls;

/// The handshake machine's types, for callers building a [`Socks5Proxy`]
/// or addressing a [`Socks5Udp`] datagram.
pub use arietta_socks5::{
    Credentials as Socks5Credentials, Socks5Error, Target as Socks5Target,
    TargetHost as Socks5TargetHost,
};
pub use dns::{parse_servers as parse_dns_servers, set_dns_servers, DnsServers};
pub use error::NetError;
pub use happy_eyeballs::{
    connect, connect_host, interleave_families, ATTEMPT_DELAY, DEFAULT_CONNECT_TIMEOUT,
};
pub use rate_limit::{take_all, Grant, RateLimiter};
pub use resolve::{clear_cache, resolve, FamilyPref, CACHE_TTL};
pub use socket_options::{
    apply_dscp, bind_passive, connect_blocking, interface_addresses, require_interface,
    set_socket_options, socket_options, SocketOptions,
};
pub use socks5::{connect_socks5, Socks5Proxy};
pub use socks5_udp::{Socks5Udp, RETRY_AFTER as SOCKS5_UDP_RETRY_AFTER};
pub use stream::NetStream;
pub use tls::{client_config, client_config_h2, connect_tls, TlsOptions, TlsStream};

/// Re-exported so callers name the same `TcpStream` type this crate returns.
pub use glommio::net::TcpStream;
