//! Dialling a peer the way aria2 does: MSE first, a plain connection only
//! when the options allow it; through a SOCKS5 `--all-proxy` when one is
//! set (beyond aria2, which never proxies peers). The data connections and
//! the magnet metadata fetch both open peers this way, so it lives here
//! once.

use std::net::SocketAddr;
use std::time::Duration;

use arietta_net::{FamilyPref, Socks5Proxy};
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;

use crate::mse_stream::{connect, CryptoPolicy, MseStream};

/// Why a dial gave up; the text is what the engine records as the peer's
/// last error.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// TCP did not connect (refused, unreachable, timed out).
    #[error("connect failed: {0}")]
    Connect(std::io::Error),
    /// The SOCKS5 proxy could not be reached or refused the connection.
    #[error("connect through the proxy failed: {0}")]
    Proxy(arietta_net::NetError),
    /// MSE failed and `--bt-require-crypto` forbids the plain retry.
    #[error("encryption handshake failed: {0}")]
    Encryption(crate::BtNetError),
    /// Sending the plain BitTorrent handshake failed.
    #[error("write failed: {0}")]
    Write(std::io::Error),
}

/// A TCP connection to a peer, through the SOCKS5 proxy when there is one,
/// else with the process's socket options (`--interface`,
/// `--socket-recv-buffer-size`); once connected, `--dscp`, which aria2
/// applies to peer connections only.
async fn tcp(
    addr: SocketAddr,
    timeout: Duration,
    via: Option<&Socks5Proxy>,
) -> Result<TcpStream, DialError> {
    let s = match via {
        Some(p) => {
            let ip = addr.ip().to_string();
            arietta_net::connect_socks5(p, &ip, addr.port(), FamilyPref::Any, timeout, timeout)
                .await
                .map_err(DialError::Proxy)?
        }
        None => arietta_net::connect(&[addr], timeout).await.map_err(|e| {
            DialError::Connect(match e {
                arietta_net::NetError::Connect(e) | arietta_net::NetError::Io(e) => e,
                arietta_net::NetError::Timeout(_) => {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out")
                }
                other => std::io::Error::other(other.to_string()),
            })
        })?,
    };
    let _ = s.set_nodelay(true);
    arietta_net::apply_dscp(&s);
    Ok(s)
}

/// Connects to `addr` and sends our BitTorrent `handshake`: inside MSE's
/// initial payload (RC4, or an obfuscated handshake with a plain payload
/// when `--bt-min-crypto-level=plain` lets the other side choose); a peer
/// that does not speak MSE gets a second connection with the handshake in
/// the clear, unless `--bt-require-crypto`. Either way the returned stream
/// has sent the handshake and yields the peer's first. With `via`, both
/// connections go through that SOCKS5 proxy.
pub async fn dial(
    addr: SocketAddr,
    info_hash: [u8; 20],
    handshake: &[u8],
    crypto: &CryptoPolicy,
    connect_timeout: Duration,
    via: Option<&Socks5Proxy>,
) -> Result<MseStream<TcpStream>, DialError> {
    let s = tcp(addr, connect_timeout, via).await?;
    let mse_error = match connect(s, info_hash, handshake, crypto).await {
        Ok(c) => return Ok(c.stream),
        Err(e) => e,
    };
    if crypto.require_crypto {
        return Err(DialError::Encryption(mse_error));
    }
    let mut s = MseStream::plaintext(tcp(addr, connect_timeout, via).await?);
    s.write_all(handshake).await.map_err(DialError::Write)?;
    s.flush().await.map_err(DialError::Write)?;
    Ok(s)
}
