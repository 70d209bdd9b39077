//! Connecting through a SOCKS5 proxy on glommio: the TCP connection to the
//! proxy, then `arietta-socks5`'s handshake machine driven over it.
//!
//! Every TCP client of arietta that honours a SOCKS5 proxy (HTTP(S), FTP
//! control and data, BitTorrent peers, HTTP trackers through the HTTP
//! client) comes through [`connect_socks5`]; SFTP's blocking thread runs
//! the same machine with `arietta_socks5::connect_blocking`.

use std::time::Duration;

use arietta_socks5::{Credentials, Handshake, Target, TargetHost};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use tracing::debug;

use crate::{resolve, FamilyPref, NetError};

/// A SOCKS5 proxy and how names reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks5Proxy {
    /// The proxy's host name or IP literal (unbracketed).
    pub host: String,
    pub port: u16,
    /// `socks5h://`: send host names for the proxy to resolve. Otherwise
    /// (`socks5://`) names are resolved here and the proxy gets an address.
    pub remote_dns: bool,
    /// RFC 1929 username/password, when the proxy wants them.
    pub credentials: Option<Credentials>,
}

/// Connects to `host:port` through `proxy`: TCP to the proxy within
/// `connect_timeout` (Happy Eyeballs over the proxy's addresses), then the
/// handshake, each wait for the proxy bounded by `timeout` (zero: none).
/// The returned stream is the target's: the proxy only relays.
pub async fn connect_socks5(
    proxy: &Socks5Proxy,
    host: &str,
    port: u16,
    family: FamilyPref,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<TcpStream, NetError> {
    let mut target = Target::new(host, port);
    if !proxy.remote_dns {
        if let TargetHost::Domain(_) = target.host {
            // `socks5://`: the name is ours to resolve (and `--disable-ipv6`
            // applies to it); the first address of the resolver's order.
            let addr = resolve(host, port, family).await?[0];
            target = Target::new(&addr.ip().to_string(), port);
        }
    }
    debug!(
        "Connecting to SOCKS5 proxy {}:{} for {target}",
        proxy.host, proxy.port
    );
    let mut tcp = crate::connect_host(&proxy.host, proxy.port, family, connect_timeout).await?;
    let h = Handshake::new(target, proxy.credentials.clone())?;
    let bound = run_handshake(&mut tcp, h, timeout).await?;
    debug!("SOCKS5 proxy connected; its side is {bound}");
    Ok(tcp)
}

/// Drives `h` over `tcp` (connected to the proxy) to its reply, each wait
/// for the proxy bounded by `timeout` (zero: none); returns the address
/// the proxy bound. Shared by CONNECT and UDP ASSOCIATE.
pub(crate) async fn run_handshake(
    tcp: &mut TcpStream,
    h: Handshake,
    timeout: Duration,
) -> Result<Target, NetError> {
    let handshake = drive(tcp, h);
    if timeout.is_zero() {
        handshake.await
    } else {
        future::or(handshake, async {
            glommio::timer::sleep(timeout).await;
            Err(NetError::Timeout(timeout))
        })
        .await
    }
}

async fn drive(tcp: &mut TcpStream, mut h: Handshake) -> Result<Target, NetError> {
    let mut buf = [0u8; 262];
    loop {
        let out = h.transmit();
        if !out.is_empty() {
            tcp.write_all(&out).await?;
        }
        if let Some(bound) = h.bound() {
            return Ok(bound.clone());
        }
        // Never more than the current message: bytes after the reply are
        // the target's (an FTP greeting) and must stay in the socket.
        let n = h.wanted().min(buf.len());
        let got = tcp.read(&mut buf[..n]).await?;
        if got == 0 {
            return Err(arietta_socks5::Socks5Error::Closed.into());
        }
        h.feed(&buf[..got])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::happy_eyeballs::test_executor;
    use glommio::net::TcpListener;

    /// A one-connection SOCKS5 server that wants a login, checks the
    /// request names `want_host`, and then speaks for the target.
    async fn serve_one(l: TcpListener, want_host: Vec<u8>, password_ok: bool) {
        let mut c = l.accept().await.unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(b, [5, 2, 0, 2]);
        c.write_all(&[5, 2]).await.unwrap();
        let mut login = [0u8; 7];
        c.read_exact(&mut login).await.unwrap();
        assert_eq!(&login, &[1, 1, b'u', 3, b'p', b'w', b'd']);
        if !password_ok {
            c.write_all(&[1, 1]).await.unwrap();
            return;
        }
        c.write_all(&[1, 0]).await.unwrap();
        let mut req = vec![0u8; 4 + want_host.len() + 2];
        c.read_exact(&mut req).await.unwrap();
        assert_eq!(&req[..3], &[5, 1, 0]);
        assert_eq!(&req[4..4 + want_host.len()], &want_host[..]);
        // Reply and the target's first bytes in one write.
        c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 1, b'h', b'i'])
            .await
            .unwrap();
    }

    fn proxy(port: u16, remote_dns: bool) -> Socks5Proxy {
        Socks5Proxy {
            host: "127.0.0.1".into(),
            port,
            remote_dns,
            credentials: Some(Credentials {
                user: "u".into(),
                password: "pwd".into(),
            }),
        }
    }

    #[test]
    fn remote_dns_sends_the_name_and_leaves_early_bytes() {
        test_executor(|| async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let mut domain = vec![9];
            domain.extend_from_slice(b"localhost");
            let server = glommio::spawn_local(serve_one(l, domain, true));
            let d = Duration::from_secs(5);
            let mut s = connect_socks5(&proxy(port, true), "localhost", 80, FamilyPref::Any, d, d)
                .await
                .unwrap();
            let mut hi = [0u8; 2];
            s.read_exact(&mut hi).await.unwrap();
            assert_eq!(&hi, b"hi");
            server.await;
        });
    }

    #[test]
    fn local_dns_sends_an_address_and_a_refused_login_is_an_auth_failure() {
        test_executor(|| async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let server = glommio::spawn_local(serve_one(l, vec![127, 0, 0, 1], true));
            let d = Duration::from_secs(5);
            connect_socks5(
                &proxy(port, false),
                "127.0.0.1",
                80,
                FamilyPref::V4Only,
                d,
                d,
            )
            .await
            .unwrap();
            server.await;

            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let server = glommio::spawn_local(serve_one(l, Vec::new(), false));
            let e = connect_socks5(&proxy(port, true), "h", 80, FamilyPref::Any, d, d)
                .await
                .unwrap_err();
            assert_eq!(e.aria2_exit_code(), 24, "{e}");
            server.await;
        });
    }
}
