//! Local Peer Discovery (BEP 14, `--bt-enable-lpd`) on a multicast UDP
//! socket.
//!
//! How the engine uses it: one [`Lpd`] per process, bound when the first
//! non-private torrent starts. A task calls [`Lpd::announce`] with every
//! active public torrent's info-hash each [`ANNOUNCE_INTERVAL`], and
//! another loops on [`Lpd::recv`], handing each [`LpdPeer`] to the
//! torrents it names as a connection candidate. Private torrents (BEP 27)
//! are never announced and ignore LPD peers.
//!
//! The socket sets `SO_REUSEADDR`/`SO_REUSEPORT` (other clients on the
//! host listen on the same group port) and multicast loopback (so two
//! clients on one host find each other); each instance drops its own
//! announcements by their random cookie.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use arietta_bt::lpd::{LpdAnnounce, LPD_GROUP_V4, MAX_DATAGRAM};
use glommio::net::UdpSocket;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::Result;

/// How often to re-announce. BEP 14 asks for at most one announcement a
/// minute per torrent; aria2 and libtorrent use 5 minutes.
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Where and how to run LPD.
#[derive(Clone, Copy, Debug)]
pub struct LpdConfig {
    /// Our BitTorrent TCP listening port, announced to the LAN.
    pub port: u16,
    /// `--bt-lpd-interface` as an address: join the group and send on that
    /// interface only. `None`: the system's default multicast interface.
    pub interface: Option<Ipv4Addr>,
    /// The group; BEP 14's `239.192.152.143:6771` unless a test needs its
    /// own.
    pub group: SocketAddrV4,
}

impl LpdConfig {
    /// BEP 14's group, default interface, announcing TCP `port`.
    pub fn new(port: u16) -> Self {
        LpdConfig {
            port,
            interface: None,
            group: LPD_GROUP_V4,
        }
    }
}

/// A peer found on the LAN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LpdPeer {
    /// Where to connect: the datagram's source IP and the announced port.
    pub addr: SocketAddr,
    /// The torrents it is in.
    pub info_hashes: Vec<[u8; 20]>,
}

/// A bound LPD socket.
pub struct Lpd {
    socket: UdpSocket,
    config: LpdConfig,
    cookie: String,
}

impl std::fmt::Debug for Lpd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lpd")
            .field("config", &self.config)
            .field("cookie", &self.cookie)
            .finish()
    }
}

impl Lpd {
    /// Binds the group port on all addresses and joins the group. Fails on
    /// a host without multicast (no route to 239.0.0.0/8, no interface),
    /// which the engine reports once and then runs without LPD.
    pub fn bind(config: LpdConfig) -> Result<Lpd> {
        let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_reuse_address(true)?;
        sock.set_reuse_port(true)?;
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, config.group.port());
        sock.bind(&SocketAddr::V4(any).into())?;
        let interface = config.interface.unwrap_or(Ipv4Addr::UNSPECIFIED);
        sock.join_multicast_v4(config.group.ip(), &interface)?;
        if let Some(ifaddr) = config.interface {
            sock.set_multicast_if_v4(&ifaddr)?;
        }
        sock.set_multicast_loop_v4(true)?;
        // Link-local scope: an LPD announcement must not leave the LAN.
        sock.set_multicast_ttl_v4(1)?;
        let cookie = format!("ar{:016x}", rand::random::<u64>());
        Ok(Lpd {
            socket: UdpSocket::from(sock),
            config,
            cookie,
        })
    }

    /// Our cookie (each announcement carries it; echoes are dropped).
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// Multicasts one announcement for `info_hashes` (split into as many
    /// datagrams as needed).
    pub async fn announce(&self, info_hashes: &[[u8; 20]]) -> Result<()> {
        let host = self.config.group.to_string();
        for a in LpdAnnounce::split(self.config.port, info_hashes, Some(&self.cookie)) {
            self.socket
                .send_to(&a.encode(&host), SocketAddr::V4(self.config.group))
                .await
                .map_err(std::io::Error::from)?;
        }
        Ok(())
    }

    /// Waits for the next announcement from another client; malformed
    /// datagrams and our own echoes are skipped.
    pub async fn recv(&self) -> Result<LpdPeer> {
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        loop {
            let (n, src) = self
                .socket
                .recv_from(&mut buf)
                .await
                .map_err(std::io::Error::from)?;
            let Ok(a) = LpdAnnounce::decode(&buf[..n]) else {
                continue;
            };
            if a.cookie.as_deref() == Some(self.cookie.as_str()) {
                continue;
            }
            return Ok(LpdPeer {
                addr: SocketAddr::new(src.ip(), a.port),
                info_hashes: a.info_hashes,
            });
        }
    }
}
