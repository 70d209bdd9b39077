//! RFC 8305 ("Happy Eyeballs v2") connection establishment.
//!
//! A host with a broken IPv6 route, or a mirror list whose first address is
//! black-holed, must not cost the user a full TCP timeout: attempts are started
//! one after another, [`ATTEMPT_DELAY`] apart (or at once when the previous one
//! fails), the first to complete wins and the rest are cancelled by dropping
//! them (glommio cancels the in-flight io_uring connect and closes the socket).

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use glommio::net::TcpStream;
use glommio::timer::Timer;

use crate::{resolve, FamilyPref, NetError};

/// RFC 8305's recommended "Connection Attempt Delay".
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// aria2's `--connect-timeout` default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Orders addresses for connection attempts: the family of the first address
/// (the resolver's preference, normally IPv6) first, then alternating between
/// families, each family keeping its own relative order (RFC 8305 §4).
pub fn interleave_families(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let first_v6 = first.is_ipv6();
    let mut preferred = addrs.iter().filter(|a| a.is_ipv6() == first_v6);
    let mut other = addrs.iter().filter(|a| a.is_ipv6() != first_v6);
    let mut out = Vec::with_capacity(addrs.len());
    loop {
        let a = preferred.next();
        let b = other.next();
        if a.is_none() && b.is_none() {
            return out;
        }
        out.extend(a.into_iter().chain(b).copied());
    }
}

type Attempt = Pin<Box<dyn Future<Output = io::Result<TcpStream>>>>;

async fn attempt(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = crate::socket_options::connect_socket(addr)
        .await
        .map_err(|e| with_addr(addr, e))?;
    // Requests and FTP commands are small writes that must not wait for Nagle.
    stream.set_nodelay(true).map_err(io::Error::from)?;
    Ok(stream)
}

/// Names the address in the message: "all addresses failed" is useless to a
/// user without knowing which one gave the last error.
fn with_addr(addr: SocketAddr, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), crate::error::AttemptError { addr, source: e })
}

/// Connects to the first of `addrs` that answers, racing them as RFC 8305
/// describes, within `connect_timeout` overall.
///
/// Errors: [`NetError::Timeout`] when the deadline passes with attempts still
/// pending, otherwise [`NetError::Connect`] with the last attempt's error.
/// The returned stream has `TCP_NODELAY` set. Must run inside a glommio
/// executor.
pub async fn connect(
    addrs: &[SocketAddr],
    connect_timeout: Duration,
) -> Result<TcpStream, NetError> {
    let order = interleave_families(addrs);
    if order.is_empty() {
        return Err(NetError::Connect(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no address to connect to",
        )));
    }
    let mut deadline = Timer::new(connect_timeout);
    let mut next = 0usize;
    let mut attempts: Vec<Attempt> = Vec::with_capacity(order.len().min(8));
    // `None` means "start the next attempt now".
    let mut delay: Option<Timer> = None;
    let mut last_err: Option<io::Error> = None;

    poll_fn(move |cx| {
        loop {
            let due = match delay.as_mut() {
                None => true,
                Some(t) => Pin::new(t).poll(cx).is_ready(),
            };
            let started = next < order.len() && (attempts.is_empty() || due);
            if let (true, Some(addr)) = (started, order.get(next)) {
                attempts.push(Box::pin(attempt(*addr)));
                next += 1;
                let mut t = Timer::new(ATTEMPT_DELAY);
                // Register the timer's waker now so the next attempt starts on
                // time even if nothing else wakes this task.
                let _ = Pin::new(&mut t).poll(cx);
                delay = Some(t);
            }
            let mut failed = false;
            let mut i = 0;
            while let Some(a) = attempts.get_mut(i) {
                match a.as_mut().poll(cx) {
                    Poll::Ready(Ok(stream)) => return Poll::Ready(Ok(stream)),
                    Poll::Ready(Err(e)) => {
                        drop(attempts.swap_remove(i));
                        last_err = Some(e);
                        failed = true;
                    }
                    Poll::Pending => i += 1,
                }
            }
            if attempts.is_empty() && next >= order.len() {
                let e = last_err
                    .take()
                    .unwrap_or_else(|| io::Error::other("connection failed"));
                return Poll::Ready(Err(NetError::Connect(e)));
            }
            if failed {
                delay = None;
            } else if !started {
                break;
            }
        }
        if Pin::new(&mut deadline).poll(cx).is_ready() {
            return Poll::Ready(Err(NetError::Timeout(connect_timeout)));
        }
        Poll::Pending
    })
    .await
}

/// Resolves `host` and connects with [`connect`]. `connect_timeout` covers the
/// connection phase only: getaddrinfo has its own timeouts (resolv.conf).
pub async fn connect_host(
    host: &str,
    port: u16,
    family: FamilyPref,
    connect_timeout: Duration,
) -> Result<TcpStream, NetError> {
    let addrs = resolve(host, port, family).await?;
    connect(&addrs, connect_timeout).await
}

#[cfg(test)]
pub(crate) fn test_executor<G, F>(fut_gen: G)
where
    G: FnOnce() -> F + Send + 'static,
    F: Future<Output = ()> + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .blocking_thread_pool_placement(glommio::PoolPlacement::Unbound(8))
        .spawn(fut_gen)
        .expect("spawn executor")
        .join()
        .expect("executor thread panicked");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;

    fn closed_port() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    /// A loopback address whose SYNs are dropped: a listener with backlog 0
    /// whose accept queue has been filled. Connecting to it hangs like a
    /// black-holed route.
    struct BlackHole {
        _listener: OwnedFd,
        _fillers: Vec<std::net::TcpStream>,
        addr: SocketAddr,
    }

    fn black_hole() -> Option<BlackHole> {
        // SAFETY: plain socket syscalls on a fd we own; the sockaddr is a
        // properly initialised sockaddr_in and the lengths match.
        let (listener, addr) = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0);
            let owned = OwnedFd::from_raw_fd(fd);
            let mut sin: libc::sockaddr_in = std::mem::zeroed();
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let p = &sin as *const libc::sockaddr_in as *const libc::sockaddr;
            assert_eq!(libc::bind(fd, p, len), 0);
            assert_eq!(libc::listen(fd, 0), 0);
            let mut out: libc::sockaddr_in = std::mem::zeroed();
            let mut olen = len;
            let q = &mut out as *mut libc::sockaddr_in as *mut libc::sockaddr;
            assert_eq!(libc::getsockname(owned.as_raw_fd(), q, &mut olen), 0);
            let port = u16::from_be(out.sin_port);
            (owned, SocketAddr::from(([127, 0, 0, 1], port)))
        };
        let mut fillers = Vec::new();
        for _ in 0..8 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => fillers.push(s),
                Err(_) => {
                    return Some(BlackHole {
                        _listener: listener,
                        _fillers: fillers,
                        addr,
                    })
                }
            }
        }
        None
    }

    #[test]
    fn interleaves_families_starting_with_first() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let input = [
            a("[2001:db8::1]:80"),
            a("[2001:db8::2]:80"),
            a("[2001:db8::3]:80"),
            a("192.0.2.1:80"),
            a("192.0.2.2:80"),
        ];
        let out = interleave_families(&input);
        assert_eq!(out, vec![input[0], input[3], input[1], input[4], input[2]]);
        let v4_first = [input[3], input[0], input[4]];
        assert_eq!(
            interleave_families(&v4_first),
            vec![input[3], input[0], input[4]]
        );
        assert!(interleave_families(&[]).is_empty());
    }

    #[test]
    fn falls_back_past_refused_address() {
        test_executor(|| async {
            let listener = glommio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let good = listener.local_addr().unwrap();
            let start = Instant::now();
            let s = connect(&[closed_port(), good], Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(s.peer_addr().unwrap(), good);
            assert!(s.nodelay().unwrap());
            // A refusal starts the next attempt at once, not after 250 ms.
            assert!(start.elapsed() < ATTEMPT_DELAY, "{:?}", start.elapsed());
        });
    }

    #[test]
    fn falls_back_past_black_hole() {
        // Whether the kernel lets a listener black-hole SYNs is the host's
        // capability, not a peer program to install: skip, even in CI.
        let Some(hole) = black_hole() else {
            eprintln!("could not build a black-holed listener here; skipped");
            return;
        };
        let dead = hole.addr;
        test_executor(move || async move {
            let listener = glommio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let good = listener.local_addr().unwrap();
            let start = Instant::now();
            let s = connect(&[dead, good], Duration::from_secs(10))
                .await
                .unwrap();
            let took = start.elapsed();
            assert_eq!(s.peer_addr().unwrap(), good);
            assert!(
                took >= ATTEMPT_DELAY - Duration::from_millis(20),
                "{took:?}"
            );
            assert!(took < Duration::from_secs(2), "{took:?}");

            let start = Instant::now();
            let err = connect(&[dead], Duration::from_millis(300))
                .await
                .unwrap_err();
            assert!(matches!(err, NetError::Timeout(_)), "{err}");
            assert_eq!(err.aria2_exit_code(), 2);
            assert!(start.elapsed() < Duration::from_secs(2));
        });
        drop(hole);
    }

    #[test]
    fn mixed_families_reach_the_ipv4_listener() {
        test_executor(|| async {
            let listener = glommio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let good = listener.local_addr().unwrap();
            // Nothing listens on [::1] at this port (or IPv6 is off): either
            // way the IPv4 address must win without waiting the full delay.
            let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, good.port()));
            let start = Instant::now();
            let s = connect(&[v6, good], Duration::from_secs(5)).await.unwrap();
            assert_eq!(s.peer_addr().unwrap(), good);
            assert!(start.elapsed() < Duration::from_secs(1));
        });
    }

    #[test]
    fn all_refused_reports_last_error() {
        test_executor(|| async {
            let (a, b) = (closed_port(), closed_port());
            let err = connect(&[a, b], Duration::from_secs(5)).await.unwrap_err();
            match &err {
                NetError::Connect(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
                    assert!(e.to_string().contains(&b.to_string()), "{e}");
                }
                other => panic!("unexpected {other}"),
            }
            assert_eq!(err.aria2_exit_code(), 1);
            assert!(connect(&[], Duration::from_secs(1)).await.is_err());
        });
    }

    #[test]
    fn connect_host_localhost() {
        test_executor(|| async {
            let listener = glommio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let s = connect_host(
                "localhost",
                port,
                FamilyPref::V4Only,
                DEFAULT_CONNECT_TIMEOUT,
            )
            .await
            .unwrap();
            assert_eq!(s.peer_addr().unwrap().port(), port);
        });
    }
}
