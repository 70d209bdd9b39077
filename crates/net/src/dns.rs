//! `--async-dns-server`: asking the given DNS servers directly, as aria2
//! does through c-ares, instead of the system resolver.
//!
//! The wire format (RFC 1035) is pure code here — a query for one name
//! and type, and the A/AAAA records of an answer — and the exchange is one
//! UDP datagram each way per server and type, on the calling core.
//! `/etc/hosts` is read first, as c-ares' default lookup order ("fb":
//! file, then bind) does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

/// How long one server gets to answer one query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;

/// The process's DNS settings, set once at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsServers {
    /// `--async-dns-server` (with `--async-dns`): empty means the system
    /// resolver.
    pub servers: Vec<SocketAddr>,
    /// `--enable-async-dns6`: also ask for AAAA records.
    pub ipv6: bool,
}

static SERVERS: OnceLock<DnsServers> = OnceLock::new();

/// Sets the DNS servers for every core; the first call wins.
pub fn set_dns_servers(s: DnsServers) {
    let _ = SERVERS.set(s);
}

pub(crate) fn dns_servers() -> Option<&'static DnsServers> {
    SERVERS.get().filter(|s| !s.servers.is_empty())
}

/// Parses `--async-dns-server`: comma-separated addresses, each with an
/// optional port (`1.1.1.1`, `1.1.1.1:5353`, `[2606:4700::1111]:53`).
pub fn parse_servers(list: &str) -> Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let addr = if let Ok(ip) = s.parse::<IpAddr>() {
            SocketAddr::new(ip, 53)
        } else if let Ok(a) = s.parse::<SocketAddr>() {
            a
        } else if let Ok(ip) = s.trim_matches(['[', ']']).parse::<IpAddr>() {
            SocketAddr::new(ip, 53)
        } else {
            return Err(format!("bad DNS server address: {s}"));
        };
        out.push(addr);
    }
    Ok(out)
}

/// A recursive query for `name` of type `qtype` with id `id`.
pub(crate) fn encode_query(id: u16, name: &str, qtype: u16) -> Option<Vec<u8>> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD=1
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]); // IN
    Some(q)
}

/// Skips a (possibly compressed) name at `at`; the offset after it.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

fn u16_at(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// The A and AAAA records of the answer to query `id`: `Err` with the
/// server's reason for a failed answer, `Ok(empty)` for "no such record".
pub(crate) fn parse_answer(id: u16, msg: &[u8]) -> Result<Vec<IpAddr>, String> {
    let bad = || "malformed DNS answer".to_owned();
    if u16_at(msg, 0).ok_or_else(bad)? != id {
        return Err("DNS answer to another query".into());
    }
    let flags = u16_at(msg, 2).ok_or_else(bad)?;
    match flags & 0x000f {
        0 => {}
        3 => return Err("Domain name not found".into()),
        rcode => return Err(format!("DNS server failure (rcode {rcode})")),
    }
    let qd = u16_at(msg, 4).ok_or_else(bad)?;
    let an = u16_at(msg, 6).ok_or_else(bad)?;
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(msg, at).ok_or_else(bad)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        at = skip_name(msg, at).ok_or_else(bad)?;
        let rtype = u16_at(msg, at).ok_or_else(bad)?;
        let rdlen = usize::from(u16_at(msg, at + 8).ok_or_else(bad)?);
        let data = msg.get(at + 10..at + 10 + rdlen).ok_or_else(bad)?;
        match (rtype, data.len()) {
            (TYPE_A, 4) => out.push(IpAddr::V4(Ipv4Addr::new(
                data[0], data[1], data[2], data[3],
            ))),
            (TYPE_AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(data);
                out.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {}
        }
        at += 10 + rdlen;
    }
    Ok(out)
}

/// `name`'s addresses in `/etc/hosts`, if it lists any.
fn hosts_file(name: &str) -> Vec<IpAddr> {
    let Ok(text) = std::fs::read_to_string("/etc/hosts") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next()?;
            let mut words = l.split_whitespace();
            let ip = words.next()?.parse::<IpAddr>().ok()?;
            words.any(|w| w.eq_ignore_ascii_case(name)).then_some(ip)
        })
        .collect()
}

/// One query to one server over UDP.
async fn ask(server: SocketAddr, name: &str, qtype: u16) -> Result<Vec<IpAddr>, String> {
    let id = rand_id();
    let query = encode_query(id, name, qtype).ok_or("bad host name")?;
    let bind: SocketAddr = if server.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    // Not glommio's `UdpSocket::bind`, which sets `SO_REUSEPORT`: another
    // process's socket could then share the ephemeral port and take this
    // query's answer.
    let sock = {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| e.to_string())?;
        s.bind(&bind.into()).map_err(|e| e.to_string())?;
        glommio::net::UdpSocket::from(s)
    };
    sock.send_to(&query, server)
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let exchange = async {
        loop {
            let (n, from) = sock.recv_from(&mut buf).await.map_err(|e| e.to_string())?;
            // Only the server asked may answer, and only this query.
            if from == server && u16_at(&buf[..n], 0) == Some(id) {
                return parse_answer(id, &buf[..n]);
            }
        }
    };
    futures_lite::future::or(exchange, async {
        glommio::timer::sleep(QUERY_TIMEOUT).await;
        Err(format!("no answer from {server}"))
    })
    .await
}

fn rand_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish() as u16
}

/// `name`'s addresses from `/etc/hosts` or the configured servers (each
/// in turn until one answers): IPv6 first when asked for, as the system
/// resolver orders them.
pub(crate) async fn lookup(cfg: &DnsServers, name: &str) -> Result<Vec<SocketAddr>, String> {
    let listed = hosts_file(name);
    if !listed.is_empty() {
        return Ok(listed
            .into_iter()
            .map(|ip| SocketAddr::new(ip, 0))
            .collect());
    }
    let mut last = String::from("no DNS server");
    for &server in &cfg.servers {
        let mut found = Vec::new();
        let mut answered = false;
        let types: &[u16] = if cfg.ipv6 {
            &[TYPE_AAAA, TYPE_A]
        } else {
            &[TYPE_A]
        };
        for &t in types {
            match ask(server, name, t).await {
                Ok(ips) => {
                    answered = true;
                    found.extend(ips);
                }
                Err(e) => last = e,
            }
        }
        if !found.is_empty() {
            return Ok(found.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect());
        }
        if answered {
            return Err("no address returned".into());
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer to `q` with one A and one AAAA record (names compressed).
    fn answer(q: &[u8]) -> Vec<u8> {
        let mut a = q.to_vec();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 2; // AN=2
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9]);
        a.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        a.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        a
    }

    #[test]
    fn query_and_answer_round_trip() {
        let q = encode_query(0x1234, "files.example.test.", TYPE_A).unwrap();
        assert_eq!(&q[..2], &[0x12, 0x34]);
        assert_eq!(q.len(), 12 + 20 + 4);
        let ips = parse_answer(0x1234, &answer(&q)).unwrap();
        assert_eq!(
            ips,
            vec![
                IpAddr::from([127, 0, 0, 9]),
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            ]
        );
        assert!(parse_answer(0x9999, &answer(&q)).is_err());
        let mut nx = q.clone();
        nx[3] = 0x83;
        assert_eq!(
            parse_answer(0x1234, &nx).unwrap_err(),
            "Domain name not found"
        );
        for cut in 0..answer(&q).len() {
            let _ = parse_answer(0x1234, &answer(&q)[..cut]);
        }
        assert!(encode_query(1, "a..b", TYPE_A).is_none());
    }

    #[test]
    fn server_lists() {
        assert_eq!(
            parse_servers("1.1.1.1, 127.0.0.1:5353,[::1]:53,::2").unwrap(),
            vec![
                "1.1.1.1:53".parse().unwrap(),
                "127.0.0.1:5353".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                "[::2]:53".parse().unwrap(),
            ]
        );
        assert!(parse_servers("dns.example").is_err());
    }

    #[test]
    fn asks_a_server_on_loopback() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = server.recv_from(&mut buf) {
                let _ = server.send_to(&answer(&buf[..n]), from);
            }
        });
        crate::happy_eyeballs::test_executor(move || async move {
            let cfg = DnsServers {
                servers: vec![addr],
                ipv6: false,
            };
            let got = lookup(&cfg, "mirror.arietta.test").await.unwrap();
            assert!(got.contains(&"127.0.0.9:0".parse().unwrap()), "{got:?}");
            // /etc/hosts comes first.
            let local = lookup(&cfg, "localhost").await.unwrap();
            assert!(local.iter().all(|a| a.ip().is_loopback()), "{local:?}");
        });
    }
}
