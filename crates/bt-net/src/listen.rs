//! The BitTorrent listening sockets: IPv4 and IPv6 on one port.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Pending connections the kernel queues per socket: a swarm finding a
/// seeder of hundreds of torrents dials it in bursts.
const BACKLOG: i32 = 1024;

/// The sockets bound on one port of `--listen-port`.
#[derive(Debug)]
pub struct ListenSockets {
    /// The port bound (the one asked for, or the kernel's choice for 0).
    pub port: u16,
    /// `0.0.0.0:port`, then `[::]:port` (IPv6 only) when the host has IPv6;
    /// under `--interface` the interface's first address of each family
    /// that binds instead (see [`arietta_net::bind_passive`]).
    pub sockets: Vec<std::net::TcpListener>,
}

/// Binds the first port of `ports` free on IPv4 (aria2 takes the first
/// free one of `--listen-port`), plus IPv6 on the same port where that
/// works: two sockets, the IPv6 one with `IPV6_V6ONLY`, rather than one
/// dual-stack socket, so a host without IPv6 still listens on IPv4.
///
/// `SO_REUSEADDR` lets a restart rebind while old connections sit in
/// TIME_WAIT; there is deliberately no `SO_REUSEPORT` (glommio's own bind
/// sets it), which would let a second process bind the same port and take
/// half of the connections meant for the first.
pub fn bind_listen_sockets(ports: &[u16]) -> io::Result<ListenSockets> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no port to listen on");
    for &p in ports {
        // IPv4 first; an interface with IPv6 addresses only listens there.
        let (first, v6_first) = match arietta_net::bind_passive(false, p, bind_one) {
            Ok(s) => (s, false),
            Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable => {
                match arietta_net::bind_passive(true, p, bind_one) {
                    Ok(s) => (s, true),
                    Err(e6) => {
                        last = if e6.kind() == io::ErrorKind::AddrNotAvailable {
                            e
                        } else {
                            e6
                        };
                        continue;
                    }
                }
            }
            Err(e) => {
                last = e;
                continue;
            }
        };
        let port = first.local_addr()?.port();
        let mut sockets = vec![first];
        if !v6_first {
            match arietta_net::bind_passive(true, port, bind_one) {
                Ok(s) => sockets.push(s),
                Err(e) => tracing::debug!("No IPv6 listener on port {port}: {e}"),
            }
        }
        return Ok(ListenSockets { port, sockets });
    }
    Err(last)
}

/// Stops a listening socket for every handle to it (the accept in flight
/// on another handle ends, the port can be bound again), where closing one
/// of several handles would not.
pub fn stop_listening(socket: &std::net::TcpListener) -> io::Result<()> {
    socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Both)
}

fn bind_one(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_the_first_free_port_on_both_families() {
        let taken = bind_listen_sockets(&[0]).unwrap();
        let next = bind_listen_sockets(&[taken.port, 0]).unwrap();
        assert_ne!(next.port, taken.port, "a bound port is skipped");
        assert!(bind_listen_sockets(&[taken.port]).is_err());
        for s in &next.sockets {
            assert_eq!(s.local_addr().unwrap().port(), next.port);
        }
    }
}
