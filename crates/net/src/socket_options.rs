//! The socket settings aria2 keeps process-wide (its `SocketCore` statics):
//! `--interface`/`--multiple-interface` (the source addresses outgoing
//! connections bind to, and the addresses listening and UDP sockets bind
//! to: [`bind_passive`]), `--socket-recv-buffer-size` (`SO_RCVBUF`) and
//! `--dscp` (the DS field of BitTorrent traffic).
//!
//! They are set once at start, before any executor runs, and read by every
//! core: a read-only global is simpler than threading them through every
//! dial of every protocol, and it is exactly aria2's scope (none of them is
//! a per-download option).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use glommio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, Type};

use crate::{FamilyPref, NetError};

/// Process-wide socket settings; [`SocketOptions::default`] changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// One address set per interface: `--interface` gives one, and
    /// `--multiple-interface` one per name, used in turn connection after
    /// connection as aria2 does. Empty: the kernel picks the source.
    pub bind_sets: Vec<Vec<IpAddr>>,
    /// `--socket-recv-buffer-size` in bytes; 0 keeps the system's.
    pub recv_buffer: u32,
    /// `--dscp`: the DSCP value (the TOS byte is this shifted left by 2),
    /// for BitTorrent peer connections only, as in aria2. 0: unchanged.
    pub dscp: u32,
}

impl SocketOptions {
    /// Whether an outgoing connection needs its socket prepared before
    /// `connect` (bound, or its receive buffer sized so the SYN advertises
    /// the matching window scale).
    fn before_connect(&self) -> bool {
        !self.bind_sets.is_empty() || self.recv_buffer > 0
    }
}

static OPTIONS: OnceLock<SocketOptions> = OnceLock::new();
static NEXT_SET: AtomicUsize = AtomicUsize::new(0);

/// Sets the process's socket options; the first call wins (start-up sets
/// them once, before any connection).
pub fn set_socket_options(o: SocketOptions) {
    let _ = OPTIONS.set(o);
}

/// The process's socket options (the defaults when never set).
pub fn socket_options() -> &'static SocketOptions {
    OPTIONS.get_or_init(SocketOptions::default)
}

/// Binds a listening or UDP socket on `port` as aria2's passive
/// `SocketCore::bind` does under `--interface`/`--multiple-interface`: to
/// each address of the bound interfaces of the `v6` family in turn, the
/// first that `bind` takes; with no interface set, to the unspecified
/// address (`0.0.0.0` or `::`). The BitTorrent listening sockets, the DHT
/// nodes and the UDP tracker sockets go through here, as in aria2.
pub fn bind_passive<T>(
    v6: bool,
    port: u16,
    bind: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    bind_passive_with(&socket_options().bind_sets, v6, port, bind)
}

fn bind_passive_with<T>(
    bind_sets: &[Vec<IpAddr>],
    v6: bool,
    port: u16,
    mut bind: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    if bind_sets.is_empty() {
        let any: IpAddr = if v6 {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        return bind(SocketAddr::new(any, port));
    }
    let mut last = None;
    for ip in bind_sets.iter().flatten().filter(|ip| ip.is_ipv6() == v6) {
        match bind(SocketAddr::new(*ip, port)) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!(
                "the bound interface has no IPv{} address",
                if v6 { 6 } else { 4 }
            ),
        )
    }))
}

/// The addresses of `iface`: an interface's own addresses (`eth0`, `lo`),
/// else the addresses `iface` resolves to that this host can bind (an IP
/// literal or a host name), as aria2's `getInterfaceAddress` looks them
/// up. Empty when none is found; `family` drops the other family's.
pub fn interface_addresses(iface: &str, family: FamilyPref) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = interface_table()
        .into_iter()
        .filter(|(name, ip)| name == iface && family.allows(ip))
        .map(|(_, ip)| ip)
        .collect();
    if out.is_empty() {
        use std::net::ToSocketAddrs;
        let host = iface
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(iface);
        for a in (host, 0u16).to_socket_addrs().into_iter().flatten() {
            let ip = a.ip();
            // Only an address of this host binds: that is how aria2 tells
            // a local name from any other.
            if family.allows(&ip) && !out.contains(&ip) && bind_probe(ip) {
                out.push(ip);
            }
        }
    }
    out
}

fn bind_probe(ip: IpAddr) -> bool {
    let Ok(s) = Socket::new(
        Domain::for_address(SocketAddr::new(ip, 0)),
        Type::STREAM,
        None,
    ) else {
        return false;
    };
    s.bind(&SocketAddr::new(ip, 0).into()).is_ok()
}

/// Every (interface name, address) pair of this host, from getifaddrs(3).
fn interface_table() -> Vec<(String, IpAddr)> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut at = head;
    while !at.is_null() {
        // SAFETY: `at` is a node of the list getifaddrs returned, alive
        // until freeifaddrs; its name is a NUL-terminated string and its
        // address, when not null, a sockaddr of the family it names.
        unsafe {
            let ifa = &*at;
            if !ifa.ifa_addr.is_null() {
                let name = std::ffi::CStr::from_ptr(ifa.ifa_name)
                    .to_string_lossy()
                    .into_owned();
                match i32::from((*ifa.ifa_addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                        let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                        out.push((name, IpAddr::V4(ip)));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                        let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                        out.push((name, IpAddr::V6(ip)));
                    }
                    _ => {}
                }
            }
            at = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// Connects to `addr` with the process's socket options: a plain io_uring
/// connect when none applies, else a socket bound and sized first.
pub(crate) async fn connect_socket(addr: SocketAddr) -> io::Result<TcpStream> {
    connect_with(addr, socket_options()).await
}

async fn connect_with(addr: SocketAddr, o: &SocketOptions) -> io::Result<TcpStream> {
    if !o.before_connect() {
        return TcpStream::connect(addr).await.map_err(io::Error::from);
    }
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if o.recv_buffer > 0 {
        // aria2 warns and goes on when the kernel refuses the size.
        if let Err(e) = sock.set_recv_buffer_size(o.recv_buffer as usize) {
            tracing::warn!("Failed to set socket buffer size. Cause: {e}");
        }
    }
    if !o.bind_sets.is_empty() {
        let set = &o.bind_sets[NEXT_SET.fetch_add(1, Ordering::Relaxed) % o.bind_sets.len()];
        bind_one_of(&sock, set, addr)?;
    }
    sock.set_nonblocking(true)?;
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let mut stream = TcpStream::from(sock);
    // glommio has no public "wait until writable": a zero-length send
    // waits on io_uring for the handshake (EAGAIN until it completes) and
    // then reports the connect's error, if any, without sending a byte.
    futures_lite::AsyncWriteExt::write(&mut stream, &[]).await?;
    Ok(stream)
}

/// A blocking connect with the process's socket options, for the one
/// client that runs on a thread of its own (SFTP's libssh2 session).
/// `timeout` zero waits as long as the kernel does.
pub fn connect_blocking(addr: SocketAddr, timeout: Duration) -> io::Result<std::net::TcpStream> {
    let o = socket_options();
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if o.recv_buffer > 0 {
        if let Err(e) = sock.set_recv_buffer_size(o.recv_buffer as usize) {
            tracing::warn!("Failed to set socket buffer size. Cause: {e}");
        }
    }
    if !o.bind_sets.is_empty() {
        let set = &o.bind_sets[NEXT_SET.fetch_add(1, Ordering::Relaxed) % o.bind_sets.len()];
        bind_one_of(&sock, set, addr)?;
    }
    if timeout.is_zero() {
        sock.connect(&addr.into())?;
    } else {
        sock.connect_timeout(&addr.into(), timeout)?;
    }
    let _ = sock.set_nodelay(true);
    Ok(sock.into())
}

/// Binds `sock` to the first address of `set` of `to`'s family, as aria2
/// tries each address of the interface in turn.
fn bind_one_of(sock: &Socket, set: &[IpAddr], to: SocketAddr) -> io::Result<()> {
    let mut last = None;
    for ip in set.iter().filter(|ip| ip.is_ipv6() == to.is_ipv6()) {
        match sock.bind(&SocketAddr::new(*ip, 0).into()) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("no address of the bound interface can reach {to}"),
        )
    }))
}

/// `--dscp` on a BitTorrent peer connection (outgoing or accepted):
/// `IP_TOS` or `IPV6_TCLASS` by the socket's family. A failure is logged
/// only, as aria2 does.
pub fn apply_dscp(stream: &TcpStream) {
    let dscp = socket_options().dscp;
    if dscp != 0 {
        set_tos(stream, dscp);
    }
}

fn set_tos(stream: &TcpStream, dscp: u32) {
    let tos: libc::c_int = (dscp << 2) as libc::c_int;
    let (level, name) = match stream.local_addr() {
        Ok(SocketAddr::V4(_)) => (libc::IPPROTO_IP, libc::IP_TOS),
        Ok(SocketAddr::V6(_)) => (libc::IPPROTO_IPV6, libc::IPV6_TCLASS),
        Err(_) => return,
    };
    // SAFETY: setsockopt on a socket we hold, with an int option value of
    // the size given.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            level,
            name,
            &tos as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::info!("Applying DSCP value failed: {}", io::Error::last_os_error());
    }
}

/// Fails when `iface` names no address here, with aria2's message.
pub fn require_interface(iface: &str, family: FamilyPref) -> Result<Vec<IpAddr>, NetError> {
    let found = interface_addresses(iface, family);
    if found.is_empty() {
        return Err(NetError::Interface(iface.to_owned()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_name_and_by_address() {
        let lo = interface_addresses("lo", FamilyPref::V4Only);
        assert!(lo.contains(&IpAddr::from([127, 0, 0, 1])), "{lo:?}");
        let lit = interface_addresses("127.0.0.2", FamilyPref::Any);
        assert_eq!(lit, vec![IpAddr::from([127, 0, 0, 2])]);
        assert!(interface_addresses("no-such-if0", FamilyPref::Any).is_empty());
        // An address of another host does not bind, so it names nothing.
        assert!(interface_addresses("192.0.2.1", FamilyPref::Any).is_empty());
        let e = require_interface("no-such-if0", FamilyPref::Any).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Failed to find given interface no-such-if0, cause: not available"
        );
    }

    #[test]
    fn passive_binds_try_the_interface_addresses_in_turn() {
        let any = |v6| bind_passive_with(&[], v6, 7, Ok::<_, io::Error>).unwrap();
        assert_eq!(any(false), SocketAddr::from(([0, 0, 0, 0], 7)));
        assert_eq!(
            any(true).ip(),
            IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED)
        );
        let sets = vec![
            vec![IpAddr::from([127, 0, 0, 2]), IpAddr::from([127, 0, 0, 3])],
            vec![IpAddr::from([127, 0, 0, 4])],
        ];
        let mut tried = Vec::new();
        let got = bind_passive_with(&sets, false, 0, |a| {
            tried.push(a.ip());
            if a.ip() == IpAddr::from([127, 0, 0, 4]) {
                Ok(a)
            } else {
                Err(io::Error::from(io::ErrorKind::AddrInUse))
            }
        })
        .unwrap();
        assert_eq!(got.ip(), IpAddr::from([127, 0, 0, 4]));
        assert_eq!(tried.len(), 3);
        let e = bind_passive_with(&sets, true, 0, Ok::<_, io::Error>).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrNotAvailable);
    }

    #[test]
    fn connect_binds_and_sizes_the_socket() {
        crate::happy_eyeballs::test_executor(|| async {
            let listener = glommio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let to = listener.local_addr().unwrap();
            let o = SocketOptions {
                bind_sets: vec![
                    vec![IpAddr::from([127, 0, 0, 2])],
                    vec![IpAddr::from([127, 0, 0, 3])],
                ],
                recv_buffer: 65536,
                dscp: 0,
            };
            let a = connect_with(to, &o).await.unwrap();
            let b = connect_with(to, &o).await.unwrap();
            let ips = [a.local_addr().unwrap().ip(), b.local_addr().unwrap().ip()];
            // --multiple-interface: the sets are used in turn.
            assert!(ips.contains(&IpAddr::from([127, 0, 0, 2])), "{ips:?}");
            assert!(ips.contains(&IpAddr::from([127, 0, 0, 3])), "{ips:?}");
            let got = socket2::SockRef::from(&a).recv_buffer_size().unwrap();
            // Linux doubles the asked size for its bookkeeping.
            assert_eq!(got, 2 * 65536);

            let refused = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap()
            };
            let e = connect_with(refused, &o).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
        });
    }

    #[test]
    fn dscp_sets_the_tos_byte() {
        crate::happy_eyeballs::test_executor(|| async {
            let listener = glommio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let to = listener.local_addr().unwrap();
            let s = TcpStream::connect(to).await.unwrap();
            set_tos(&s, 8);
            let got = socket2::SockRef::from(&s).tos().unwrap();
            assert_eq!(got, 8 << 2, "CS1 = DSCP 8 is TOS 0x20");
        });
    }

    #[test]
    fn binds_in_family() {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let set = [
            IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
            IpAddr::from([127, 0, 0, 3]),
        ];
        bind_one_of(&s, &set, to).unwrap();
        let local = s.local_addr().unwrap().as_socket().unwrap();
        assert_eq!(local.ip(), IpAddr::from([127, 0, 0, 3]));
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        assert!(bind_one_of(&s, &set[..1], to).is_err());
    }
}
