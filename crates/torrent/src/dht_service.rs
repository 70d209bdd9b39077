//! The process's DHT: one node per address family (BEP 5, BEP 32) on the
//! coordinator's core, started on the first torrent and shared by every
//! torrent through a cheap clone. Torrents ask it for peers when they start
//! and every 15 minutes (aria2's interval), announcing their listen port.
//! A SOCKS5 `--all-proxy` at start carries its datagrams (UDP ASSOCIATE).

use std::cell::Cell;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arietta_dht_node::{parse_entry_point, DhtConfig, DhtHandle, DhtNode};
use arietta_options::OptionSet;

use crate::config::parse_ports;
use crate::download::PeerSink;
use crate::TorrentError;

/// aria2 looks a torrent up in the DHT every 15 minutes.
const LOOKUP_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// How long a lookup waits for the bootstrap before going ahead anyway.
const BOOTSTRAP_WAIT: Duration = Duration::from_secs(20);

struct Inner {
    nodes: Vec<DhtHandle>,
    /// Set once every node's bootstrap ended (well or not): lookups before
    /// that would search an empty table.
    bootstrapped: Cell<usize>,
    /// Why a requested node (IPv4 or IPv6) did not start, when the other did.
    warnings: Vec<String>,
}

/// A handle to the running DHT nodes; clones share them (all on one core).
#[derive(Clone)]
pub struct DhtService(Rc<Inner>);

fn node_config(o: &OptionSet, listen: SocketAddr, entry: &str, file: &str) -> DhtConfig {
    let mut c = DhtConfig::new(listen);
    c.entry_points = o
        .get_opt_str(entry)
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter_map(|v| parse_entry_point(v.trim()))
        .collect();
    c.table_file = o
        .get_opt_str(file)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    let timeout = o.get_u64("dht-message-timeout");
    if timeout > 0 {
        c.query_timeout = Duration::from_secs(timeout);
    }
    // A SOCKS5 --all-proxy carries the DHT through its UDP relay, as it
    // carries the peers; a bad value is reported by the downloads that use
    // it, not here.
    c.proxy = arietta_http_client::proxies_from_options(o)
        .ok()
        .and_then(|p| p.all)
        .filter(|p| p.is_socks())
        .map(|p| arietta_http_client::socks5_proxy(&p));
    c.proxy_connect_timeout = Duration::from_secs(o.get_u64("connect-timeout"));
    c
}

/// Starts a node on the first free port of `ports`: on `config.listen`'s
/// address when it names one (`--dht-listen-addr6`), else on the address
/// aria2's DHT socket takes, an `--interface` address of the family or the
/// unspecified one ([`arietta_net::bind_passive`]).
fn start_on(ports: &[u16], config: DhtConfig) -> Result<DhtHandle, String> {
    let mut last = String::from("no port");
    let v6 = config.listen.is_ipv6();
    for &p in ports {
        let start = |listen: SocketAddr| {
            let mut c = config.clone();
            c.listen = listen;
            DhtNode::start(c).map_err(|e| std::io::Error::other(e.to_string()))
        };
        let started = if config.listen.ip().is_unspecified() {
            arietta_net::bind_passive(v6, p, start)
        } else {
            start(SocketAddr::new(config.listen.ip(), p))
        };
        match started {
            Ok(h) => {
                let at = h.local_addr();
                tracing::info!(
                    notice = true,
                    "IPv{} DHT: listening on UDP port {}",
                    if at.is_ipv4() { 4 } else { 6 },
                    at.port()
                );
                return Ok(h);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

impl DhtService {
    /// Starts the nodes `--enable-dht`/`--enable-dht6` ask for on the first
    /// free port of `--dht-listen-port`, loading `--dht-file-path(6)`, and
    /// bootstraps them in the background from `--dht-entry-point(6)` and
    /// the saved nodes. `Ok(None)` when both are off. A bootstrap that
    /// finds nobody (no entry point, no saved table, no network) only
    /// leaves the table empty: it never holds a download up.
    pub fn start(o: &OptionSet) -> Result<Option<DhtService>, TorrentError> {
        let v4 = o.get_bool("enable-dht");
        let v6 = o.get_bool("enable-dht6");
        if !v4 && !v6 {
            return Ok(None);
        }
        let ports = parse_ports(o.get_str("dht-listen-port"))
            .map_err(|_| TorrentError::BadOption("bad --dht-listen-port value".into()))?;
        let mut nodes = Vec::new();
        let mut errors = Vec::new();
        if v4 {
            let c = node_config(
                o,
                SocketAddr::from(([0, 0, 0, 0], 0)),
                "dht-entry-point",
                "dht-file-path",
            );
            match start_on(&ports, c) {
                Ok(h) => nodes.push(h),
                Err(e) => errors.push(format!("IPv4: {e}")),
            }
        }
        if v6 {
            let addr: IpAddr = o
                .get_opt_str("dht-listen-addr6")
                .and_then(|s| s.parse().ok())
                .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
            // Same port as the IPv4 node when there is one, as aria2 does.
            let ports6 = nodes
                .first()
                .map_or(ports.clone(), |h| vec![h.local_addr().port()]);
            let c = node_config(
                o,
                SocketAddr::new(addr, 0),
                "dht-entry-point6",
                "dht-file-path6",
            );
            match start_on(&ports6, c) {
                Ok(h) => {
                    if let Some(first) = nodes.first() {
                        first.pair(&h);
                    }
                    nodes.push(h)
                }
                Err(e) => errors.push(format!("IPv6: {e}")),
            }
        }
        if nodes.is_empty() {
            return Err(TorrentError::Dht(errors.join("; ")));
        }
        let svc = DhtService(Rc::new(Inner {
            nodes,
            bootstrapped: Cell::new(0),
            warnings: errors,
        }));
        for node in svc.0.nodes.clone() {
            let me = svc.clone();
            glommio::spawn_local(async move {
                let _ = node.bootstrap().await;
                me.0.bootstrapped.set(me.0.bootstrapped.get() + 1);
            })
            .detach();
        }
        Ok(Some(svc))
    }

    /// Nodes that were asked for but could not start (e.g. no IPv6).
    pub fn warnings(&self) -> &[String] {
        &self.0.warnings
    }

    /// The UDP ports the nodes listen on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.0.nodes.iter().map(DhtHandle::local_addr).collect()
    }

    async fn wait_bootstrap(&self) {
        let until = Instant::now() + BOOTSTRAP_WAIT;
        while self.0.bootstrapped.get() < self.0.nodes.len() && Instant::now() < until {
            glommio::timer::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Peers for `info_hash` from every node (a magnet's metadata search).
    pub async fn get_peers(&self, info_hash: [u8; 20]) -> Vec<SocketAddr> {
        self.wait_bootstrap().await;
        let mut out = Vec::new();
        for n in &self.0.nodes {
            for p in n.get_peers(info_hash).await {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Looks `info_hash` up and announces TCP `port` on every node.
    pub async fn announce(&self, info_hash: [u8; 20], port: u16) -> Vec<SocketAddr> {
        self.wait_bootstrap().await;
        let mut out = Vec::new();
        for n in &self.0.nodes {
            for p in n.announce(info_hash, port).await.peers {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Feeds a running torrent: announce now and every 15 minutes, handing
    /// what the lookups find to `sink`, until the torrent ends or `stop`.
    /// Never call it for a private torrent (BEP 27).
    pub fn feed(&self, info_hash: [u8; 20], port: u16, sink: PeerSink, stop: Arc<AtomicBool>) {
        let me = self.clone();
        glommio::spawn_local(async move {
            loop {
                let peers = me.announce(info_hash, port).await;
                if stop.load(Ordering::Relaxed) || !sink.add(peers) {
                    return;
                }
                let until = Instant::now() + LOOKUP_INTERVAL;
                while Instant::now() < until {
                    glommio::timer::sleep(Duration::from_secs(1)).await;
                    if stop.load(Ordering::Relaxed) || !sink.add(Vec::new()) {
                        return;
                    }
                }
            }
        })
        .detach();
    }

    /// Stops the nodes and saves their routing tables (`--dht-file-path`).
    pub async fn shutdown(&self) -> Result<(), TorrentError> {
        let mut first = None;
        for n in &self.0.nodes {
            if let Err(e) = n.shutdown().await {
                first.get_or_insert(TorrentError::Dht(e.to_string()));
            }
        }
        first.map_or(Ok(()), Err)
    }
}
