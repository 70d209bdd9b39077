//! What the node needs from aria2's options.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use arietta_net::Socks5Proxy;

/// Start-up settings; the engine fills them from `--dht-listen-port`,
/// `--dht-entry-point` (`--dht-entry-point6` for an IPv6 node) and
/// `--dht-file-path` (`--dht-file-path6`).
#[derive(Debug, Clone)]
pub struct DhtConfig {
    /// Address to bind. aria2 binds every interface on the first free port
    /// of `--dht-listen-port`'s range; an IPv6 address makes a BEP 32 node.
    pub listen: SocketAddr,
    /// Nodes to bootstrap from (`host`, `port`); host names are resolved.
    pub entry_points: Vec<(String, u16)>,
    /// Where the routing table is loaded from at start and saved to at
    /// shutdown; `None` keeps it in memory only.
    pub table_file: Option<PathBuf>,
    /// How long to wait for one answer before counting the node as failed.
    pub query_timeout: Duration,
    /// How often the announce-token secret changes (tokens stay valid for
    /// two periods).
    pub token_rotation: Duration,
    /// How often the table is maintained (questionable nodes pinged, stale
    /// buckets refreshed, expired announcements dropped).
    pub maintenance_interval: Duration,
    /// A SOCKS5 `--all-proxy`: every datagram goes through its UDP relay
    /// (UDP ASSOCIATE), each handshake step waiting `query_timeout`.
    pub proxy: Option<Socks5Proxy>,
    /// How long TCP to the proxy may take (`--connect-timeout`).
    pub proxy_connect_timeout: Duration,
}

impl DhtConfig {
    /// Defaults for a node bound to `listen`: BEP 5's 5-minute token
    /// rotation, a 3 s query timeout (a DHT node answers in one round trip
    /// or not at all), maintenance each minute.
    pub fn new(listen: SocketAddr) -> Self {
        DhtConfig {
            listen,
            entry_points: Vec::new(),
            table_file: None,
            query_timeout: Duration::from_secs(3),
            token_rotation: Duration::from_secs(5 * 60),
            maintenance_interval: Duration::from_secs(60),
            proxy: None,
            proxy_connect_timeout: Duration::from_secs(60),
        }
    }

    /// An IPv4 node on every interface at `port` (`--dht-listen-port`).
    pub fn any_v4(port: u16) -> Self {
        DhtConfig::new(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
    }
}

/// Parses a `--dht-entry-point` value: `HOST:PORT` or `[IPv6]:PORT`.
pub fn parse_entry_point(value: &str) -> Option<(String, u16)> {
    let (host, port) = value.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(['[', ']']) {
        return None;
    }
    Some((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points() {
        assert_eq!(
            parse_entry_point("dht.example.org:6881"),
            Some(("dht.example.org".into(), 6881))
        );
        assert_eq!(
            parse_entry_point("[2001:db8::1]:6881"),
            Some(("2001:db8::1".into(), 6881))
        );
        assert_eq!(parse_entry_point("host"), None);
        assert_eq!(parse_entry_point("host:0"), None);
        assert_eq!(parse_entry_point(":6881"), None);
        assert_eq!(parse_entry_point("host:99999"), None);
    }
}
