//! Opening a connection for a [`Route`]: name resolution through the
//! per-core cache, Happy Eyeballs, the proxy (CONNECT tunnel for HTTPS,
//! a SOCKS5 CONNECT for every scheme) and the TLS handshake.

use std::time::Duration;

use arietta_http::{encode_connect, HttpError, Proxy, ProxyKind};
use arietta_net::{FamilyPref, NetStream, Socks5Credentials, Socks5Proxy, TcpStream, TlsOptions};
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
    dial_with(route, o, false).await
}

/// [`dial`], offering `h2` before `http/1.1` in ALPN when `h2` is set
/// (`--enable-http2`).
pub(crate) async fn dial_with(
    route: &Route,
    o: &DialOptions<'_>,
    h2: bool,
) -> Result<HttpConnection, ClientError> {
    let (host, port) = (route.host.as_str(), route.port);
    let tcp = match &route.proxy {
        Some(p) if route.is_https() || p.is_socks() => tunnel(p, host, port, o).await?.0,
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
        let cfg = if h2 {
            arietta_net::client_config_h2(o.tls)?
        } else {
            arietta_net::client_config(o.tls)?
        };
        let tls = with_timeout(o.connect_timeout, arietta_net::connect_tls(tcp, host, cfg)).await?;
        NetStream::Tls(Box::new(tls))
    } else {
        NetStream::Plain(tcp)
    };
    Ok(arietta_http::HttpConnection::new(stream))
}

/// Opens a tunnel to `host:port` through `proxy`: an HTTP CONNECT, or a
/// SOCKS5 CONNECT for a SOCKS5 proxy. Returns the stream and any bytes of
/// the far end's that came with an HTTP proxy's answer (an FTP greeting
/// can; a TLS server never speaks first; the SOCKS5 handshake reads
/// nothing past its reply, so there the far end's bytes stay unread).
pub async fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
    o: &DialOptions<'_>,
) -> Result<(TcpStream, Vec<u8>), ClientError> {
    if proxy.is_socks() {
        let tcp = arietta_net::connect_socks5(
            &socks5_proxy(proxy),
            host,
            port,
            o.family,
            o.connect_timeout,
            o.timeout,
        )
        .await?;
        return Ok((tcp, Vec::new()));
    }
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

/// `proxy` (a `socks5://` or `socks5h://` one) as `arietta-net` takes it.
pub fn socks5_proxy(proxy: &Proxy) -> Socks5Proxy {
    Socks5Proxy {
        host: proxy.host.clone(),
        port: proxy.port,
        remote_dns: proxy.kind == ProxyKind::Socks5h,
        credentials: proxy
            .auth
            .as_ref()
            .map(|(user, password)| Socks5Credentials {
                user: user.clone(),
                password: password.clone(),
            }),
    }
}
