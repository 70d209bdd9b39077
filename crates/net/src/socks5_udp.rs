//! UDP through a SOCKS5 proxy (RFC 1928 UDP ASSOCIATE) on glommio, for
//! UDP trackers (BEP 15) and the DHT (BEP 5).
//!
//! An association is a TCP control connection to the proxy plus a UDP
//! relay the proxy opens for it; the relay lives exactly as long as the
//! control connection. [`Socks5Udp`] owns one local UDP socket for its
//! whole life, opens an association on the first send, watches the
//! control connection, and opens a new one on the next send after the
//! proxy closed it. Every datagram to the relay carries RFC 1928 §7's
//! header naming its destination; every datagram from the relay has it
//! stripped and its real source reported.
//!
//! A proxy that cannot relay UDP (microsocks answers UDP ASSOCIATE with
//! "command not supported") is not asked again for [`RETRY_AFTER`], so a
//! DHT sending hundreds of queries does not open hundreds of connections,
//! and a warning says once per process what that costs. Nothing then goes
//! around the proxy: a user who set one does not want UDP leaking out
//! directly.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use arietta_socks5::{decode_datagram, encode_datagram, Handshake, Target, TargetHost};
use futures_lite::AsyncReadExt;
use glommio::net::UdpSocket;
use glommio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::socks5::run_handshake;
use crate::{resolve, FamilyPref, NetError, Socks5Proxy};

/// How long a failed association is remembered before the proxy is asked
/// again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// A UDP socket whose datagrams go through a SOCKS5 proxy's UDP relay.
/// Single-core (`Rc` inside), like the glommio socket it wraps.
pub struct Socks5Udp {
    socket: UdpSocket,
    proxy: Socks5Proxy,
    connect_timeout: Duration,
    timeout: Duration,
    assoc: RefCell<Option<Association>>,
    /// Held while associating: concurrent senders wait for one association
    /// instead of each opening their own.
    associating: Semaphore,
    /// When the last association failed, and why.
    failed: RefCell<Option<(Instant, String)>>,
}

/// One association: the relay's address and the task that owns the
/// control connection (dropping it closes the connection, which ends the
/// association at the proxy).
struct Association {
    relay: SocketAddr,
    alive: Rc<Cell<bool>>,
    _control: glommio::Task<()>,
}

impl Socks5Udp {
    /// Wraps `socket` (bound by the caller: the DHT binds its listen
    /// port). The proxy is connected over `socket`'s address family, since
    /// the relay it reports must be reachable from the socket; TCP to the
    /// proxy waits `connect_timeout`, each handshake step `timeout`.
    pub fn new(
        socket: UdpSocket,
        proxy: Socks5Proxy,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Socks5Udp {
        Socks5Udp {
            socket,
            proxy,
            connect_timeout,
            timeout,
            assoc: RefCell::new(None),
            associating: Semaphore::new(1),
            failed: RefCell::new(None),
        }
    }

    /// The local socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr().map_err(io::Error::from)
    }

    /// The proxy the datagrams go through.
    pub fn proxy(&self) -> &Socks5Proxy {
        &self.proxy
    }

    fn family(&self) -> FamilyPref {
        match self.local_addr() {
            Ok(a) if a.is_ipv6() => FamilyPref::V6Only,
            _ => FamilyPref::V4Only,
        }
    }

    /// Sends `payload` to `to` through the relay, associating first when
    /// there is no live association. A name in `to` goes to the proxy as
    /// a name with `socks5h://` and is resolved here with `socks5://`.
    pub async fn send_to(&self, payload: &[u8], to: &Target) -> Result<(), NetError> {
        let resolved;
        let to = match &to.host {
            TargetHost::Domain(name) if !self.proxy.remote_dns => {
                let addr = resolve(name, to.port, self.family()).await?[0];
                resolved = Target::new(&addr.ip().to_string(), addr.port());
                &resolved
            }
            _ => to,
        };
        let datagram = encode_datagram(to, payload)?;
        let relay = self.relay().await?;
        self.socket
            .send_to(&datagram, relay)
            .await
            .map_err(io::Error::from)?;
        Ok(())
    }

    /// [`Socks5Udp::send_to`] for an address.
    pub async fn send_to_addr(&self, payload: &[u8], to: SocketAddr) -> Result<(), NetError> {
        self.send_to(payload, &Target::new(&to.ip().to_string(), to.port()))
            .await
    }

    /// Waits for the next datagram the relay hands back, puts its payload
    /// at the start of `buf` and returns its length and real source.
    /// Datagrams from anyone but the current relay, malformed ones and
    /// fragments are dropped. `buf` needs [`arietta_socks5::MAX_HEADER`]
    /// bytes of room beyond the largest payload.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Target)> {
        loop {
            let (n, src) = self.socket.recv_from(buf).await?;
            let relay = self.assoc.borrow().as_ref().map(|a| a.relay);
            if relay != Some(src) {
                debug!("Dropping a UDP datagram from {src}: not the SOCKS5 relay");
                continue;
            }
            let (from, start) = match decode_datagram(&buf[..n]) {
                Ok(d) => (d.from, n - d.payload.len()),
                Err(e) => {
                    debug!("Dropping a datagram from the SOCKS5 relay {src}: {e}");
                    continue;
                }
            };
            buf.copy_within(start..n, 0);
            return Ok((n - start, from));
        }
    }

    /// [`Socks5Udp::recv_from`] for callers that deal in addresses: a
    /// source the relay names by domain (relays write addresses) is dropped.
    pub async fn recv_from_addr(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.recv_from(buf).await?;
            if let TargetHost::Ip(ip) = from.host {
                return Ok((n, SocketAddr::new(ip, from.port)));
            }
        }
    }

    fn live_relay(&self) -> Option<SocketAddr> {
        self.assoc
            .borrow()
            .as_ref()
            .filter(|a| a.alive.get())
            .map(|a| a.relay)
    }

    /// The live association's relay, associating when there is none.
    async fn relay(&self) -> Result<SocketAddr, NetError> {
        if let Some(r) = self.live_relay() {
            return Ok(r);
        }
        let _permit = self
            .associating
            .acquire_permit(1)
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        if let Some(r) = self.live_relay() {
            return Ok(r);
        }
        if let Some((at, why)) = &*self.failed.borrow() {
            if at.elapsed() < RETRY_AFTER {
                return Err(io::Error::other(why.clone()).into());
            }
        }
        if let Some(old) = self.assoc.borrow_mut().take() {
            info!(
                "SOCKS5 proxy {}:{} ended the UDP association (relay {}); associating again",
                self.proxy.host, self.proxy.port, old.relay
            );
        }
        match self.associate().await {
            Ok(a) => {
                let relay = a.relay;
                *self.assoc.borrow_mut() = Some(a);
                *self.failed.borrow_mut() = None;
                Ok(relay)
            }
            Err(e) => {
                warn_once(format!(
                    "SOCKS5 proxy {}:{} cannot relay UDP ({e}): UDP trackers and the DHT \
                     get no answers through it; TCP trackers and peers still use it",
                    self.proxy.host, self.proxy.port
                ));
                *self.failed.borrow_mut() = Some((Instant::now(), e.to_string()));
                Err(e)
            }
        }
    }

    /// Opens the control connection, runs UDP ASSOCIATE on it and starts
    /// the task that notices when the proxy closes it.
    async fn associate(&self) -> Result<Association, NetError> {
        let local = self.local_addr()?;
        let mut tcp = crate::connect_host(
            &self.proxy.host,
            self.proxy.port,
            self.family(),
            self.connect_timeout,
        )
        .await?;
        // Our datagrams' source as far as we know it: the port, and the
        // address when bound to one (zeros let the proxy take the control
        // connection's).
        let client = Target::new(&local.ip().to_string(), local.port());
        let h = Handshake::associate(client, self.proxy.credentials.clone())?;
        let bound = run_handshake(&mut tcp, h, self.timeout).await?;
        let relay_ip = match bound.host {
            // "Send to me": the address the control connection reached.
            TargetHost::Ip(ip) if ip.is_unspecified() => {
                tcp.peer_addr().map_err(io::Error::from)?.ip()
            }
            TargetHost::Ip(ip) => ip,
            TargetHost::Domain(name) => resolve(&name, bound.port, self.family()).await?[0].ip(),
        };
        let relay = SocketAddr::new(relay_ip, bound.port);
        if relay.is_ipv6() != local.is_ipv6() {
            return Err(io::Error::other(format!(
                "the SOCKS5 UDP relay {relay} is of another address family than {local}"
            ))
            .into());
        }
        debug!(
            "SOCKS5 proxy {}:{} relays UDP for {local} at {relay}",
            self.proxy.host, self.proxy.port
        );
        let alive = Rc::new(Cell::new(true));
        let flag = alive.clone();
        let control = glommio::spawn_local(async move {
            // The proxy sends nothing more on this connection; its end (or
            // an error) is the end of the association.
            let mut b = [0u8; 64];
            while matches!(tcp.read(&mut b).await, Ok(n) if n > 0) {}
            flag.set(false);
            debug!("SOCKS5 UDP association for relay {relay} closed by the proxy");
        });
        Ok(Association {
            relay,
            alive,
            _control: control,
        })
    }
}

/// Each distinct warning once per process: a seedbox starts thousands of
/// torrents, each announcing through the same refusing proxy.
fn warn_once(line: String) {
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.contains(&line) {
        warn!("{line}");
        warned.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::happy_eyeballs::test_executor;
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A minimal SOCKS5 UDP relay on loopback: each control connection
    /// gets a fresh relay socket (reported as 0.0.0.0, "the address you
    /// reached"), which answers each datagram uppercased as if from its
    /// destination; after `per_assoc` datagrams it closes the control
    /// connection. `refuse`: answers UDP ASSOCIATE as microsocks does.
    /// Returns the port and the count of control connections.
    fn relay_server(per_assoc: usize, refuse: bool) -> (u16, Arc<AtomicUsize>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        std::thread::spawn(move || {
            for tcp in l.incoming() {
                let mut tcp = tcp.unwrap();
                c.fetch_add(1, Ordering::SeqCst);
                let mut greet = [0u8; 3];
                tcp.read_exact(&mut greet).unwrap();
                tcp.write_all(&[5, 0]).unwrap();
                let mut req = [0u8; 10];
                tcp.read_exact(&mut req).unwrap();
                assert_eq!(req[..4], [5, 3, 0, 1]);
                if refuse {
                    tcp.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
                    continue;
                }
                let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let [hi, lo] = udp.local_addr().unwrap().port().to_be_bytes();
                tcp.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, hi, lo]).unwrap();
                for _ in 0..per_assoc {
                    let mut b = [0u8; 600];
                    let (n, client) = udp.recv_from(&mut b).unwrap();
                    let d = decode_datagram(&b[..n]).unwrap();
                    let back = encode_datagram(&d.from, &d.payload.to_ascii_uppercase()).unwrap();
                    udp.send_to(&back, client).unwrap();
                }
            }
        });
        (port, count)
    }

    fn client(port: u16) -> Socks5Udp {
        let proxy = Socks5Proxy {
            host: "127.0.0.1".into(),
            port,
            remote_dns: true,
            credentials: None,
        };
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let d = Duration::from_secs(5);
        Socks5Udp::new(sock, proxy, d, d)
    }

    #[test]
    fn relays_both_ways_and_reassociates_after_the_proxy_closes() {
        test_executor(|| async {
            let (port, count) = relay_server(1, false);
            let u = client(port);
            let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
            let mut buf = [0u8; 600];
            for (round, word) in [(1, &b"ping"[..]), (2, b"pong")] {
                u.send_to_addr(word, to).await.unwrap();
                let (n, from) = u.recv_from_addr(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], word.to_ascii_uppercase());
                assert_eq!(from, to);
                assert_eq!(count.load(Ordering::SeqCst), round);
                // The server closes the control connection after one
                // datagram: give the watcher a moment to notice.
                glommio::timer::sleep(Duration::from_millis(200)).await;
            }
            // A name goes to a socks5h:// proxy as a name.
            u.send_to(b"named", &Target::new("tracker.example", 80))
                .await
                .unwrap();
            let (n, from) = u.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"NAMED");
            assert_eq!(from.to_string(), "tracker.example:80");
        });
    }

    #[test]
    fn a_refusing_proxy_is_not_asked_again_at_once() {
        test_executor(|| async {
            let (port, count) = relay_server(0, true);
            let u = client(port);
            let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
            let e = u.send_to_addr(b"x", to).await.unwrap_err();
            assert_eq!(
                e.to_string(),
                "SOCKS5 proxy refused UDP ASSOCIATE: command not supported"
            );
            let again = u.send_to_addr(b"x", to).await.unwrap_err();
            assert!(
                again.to_string().contains("command not supported"),
                "{again}"
            );
            assert_eq!(count.load(Ordering::SeqCst), 1);
        });
    }
}
