//! Opening a connection for a [`Route`]: name resolution through the
//! per-core cache, Happy Eyeballs, the proxy (CONNECT tunnel for HTTPS)
//! and the TLS handshake.

use std::time::Duration;

use arietta_http::{encode_connect, HttpError, Proxy};
use arietta_net::{FamilyPref, NetStream, TcpStream, TlsOptions};
use tracing::info;

use crate::{with_timeout, ClientError, HttpConnection, Route};

/// The connection-level settings of a dial.
#[derive(Debug, Clone, Copy)]
pub struct DialOptions<'a> {
    /// `--ca-certificate`, `--check-certificate`, … (the rustls config is
    /// built once per distinct value and shared, see
    /// [`arietta_net::client_config`]).
    pub tls: &'a TlsOptions,
    /// `--disable-ipv6` gives [`FamilyPref::V4Only`].
    pub family: FamilyPref,
    /// `--connect-timeout`: for the TCP connect and, again, the TLS
    /// handshake.
    pub connect_timeout: Duration,
    /// `--timeout`: for the proxy's answer to CONNECT (zero: no limit).
    pub timeout: Duration,
}

/// Connects to `route`'s origin (through its proxy when it has one) and,
/// for https, completes the TLS handshake with the origin.
pub async fn dial(route: &Route, o: &DialOptions<'_>) -> Result<HttpConnection, ClientError> {
    let (host, port) = (route.host.as_str(), route.port);
    let tcp = match &route.proxy {
        Some(p) if route.is_https() => tunnel(p, host, port, o).await?.0,
        Some(p) => {
            info!(
                "Connecting to proxy {}:{} for {host}:{port}",
                p.host, p.port
            );
            arietta_net::connect_host(&p.host, p.port, o.family, o.connect_timeout).await?
        }
        None => {
            info!("Connecting to {host}:{port}");
            arietta_net::connect_host(host, port, o.family, o.connect_timeout).await?
        }
    };
    let stream = if route.is_https() {
        let cfg = arietta_net::client_config(o.tls)?;
        let tls = with_timeout(o.connect_timeout, arietta_net::connect_tls(tcp, host, cfg)).await?;
        NetStream::Tls(Box::new(tls))
    } else {
        NetStream::Plain(tcp)
    };
    Ok(arietta_http::HttpConnection::new(stream))
}

/// Opens a CONNECT tunnel to `host:port` through `proxy`. Returns the
/// stream and any bytes of the far end's that came with the proxy's answer
/// (an FTP greeting can; a TLS server never speaks first).
pub async fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
    o: &DialOptions<'_>,
) -> Result<(TcpStream, Vec<u8>), ClientError> {
    info!(
        "Connecting to proxy {}:{} for a tunnel to {host}:{port}",
        proxy.host, proxy.port
    );
    let tcp =
        arietta_net::connect_host(&proxy.host, proxy.port, o.family, o.connect_timeout).await?;
    let mut c = arietta_http::HttpConnection::new(NetStream::Plain(tcp));
    let auth = proxy.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
    let head = with_timeout(o.timeout, async {
        c.send(&encode_connect(host, port, auth)).await?;
        c.read_head().await
    })
    .await?;
    if !(200..300).contains(&head.status) {
        return Err(HttpError::Status {
            status: head.status,
        }
        .into());
    }
    match c.into_parts() {
        (NetStream::Plain(t), early) => Ok((t, early)),
        (NetStream::Tls(_), _) => unreachable!("tunnel opened on a plain stream"),
    }
}
