//! How the node's datagrams travel: straight from its own socket, or
//! through a SOCKS5 proxy's UDP relay (`--all-proxy=socks5://…`).

use std::io;
use std::net::SocketAddr;

use arietta_net::Socks5Udp;
use glommio::net::UdpSocket;

pub(crate) enum Transport {
    Direct(UdpSocket),
    /// Queries go out through the relay and answers come back through it.
    /// Nodes that were never sent anything cannot reach us this way (a
    /// relay forwards only what its client's peers send back), so the
    /// node mostly asks; that is what a proxied DHT can be.
    Socks5(Box<Socks5Udp>),
}

impl Transport {
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Transport::Direct(s) => s.local_addr().map_err(io::Error::from),
            Transport::Socks5(u) => u.local_addr(),
        }
    }

    /// Whether `datagram` left; a proxy that cannot relay counts as not.
    pub(crate) async fn send_to(&self, datagram: &[u8], to: SocketAddr) -> bool {
        match self {
            Transport::Direct(s) => s.send_to(datagram, to).await.is_ok(),
            Transport::Socks5(u) => u.send_to_addr(datagram, to).await.is_ok(),
        }
    }

    /// The next datagram and its real source.
    pub(crate) async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match self {
            Transport::Direct(s) => s.recv_from(buf).await.map_err(io::Error::from),
            Transport::Socks5(u) => u.recv_from_addr(buf).await,
        }
    }
}
