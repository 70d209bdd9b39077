//! Announcing to trackers: HTTP and HTTPS (BEP 3/23 through the
//! download's [`HttpClient`], so proxies, TLS options, `--user-agent` and
//! `--header` apply) and UDP (BEP 15 through `bt::tracker_udp`, names
//! resolved by `arietta-net`, or through a SOCKS5 proxy's UDP relay),
//! tiers in order (BEP 12). Each announce is a short task; the torrent
//! actor owns the schedule.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arietta_bt::tracker_udp::{self, AddressFamily, Event};
use arietta_http_client::HttpClient;
use arietta_metainfo::AnnounceEvent;
use arietta_net::{Socks5Proxy, Socks5Target, Socks5TargetHost, Socks5Udp};

/// What an announce carries about us.
#[derive(Clone, Debug)]
pub struct AnnounceParams {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Option<AnnounceEvent>,
    pub key: u32,
    pub ip: Option<String>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// The download's HTTP client; `connect_timeout` and `timeout` replace
    /// its own for announces.
    pub http: HttpClient,
    /// A SOCKS5 `--all-proxy`: UDP announces go through its UDP relay
    /// (HTTP ones go through it by way of `http`).
    pub udp_proxy: Option<Arc<Socks5Proxy>>,
}

/// A tracker's answer.
#[derive(Clone, Debug, Default)]
pub struct AnnounceReply {
    pub interval: Option<Duration>,
    pub peers: Vec<SocketAddr>,
    pub seeders: Option<u64>,
    pub leechers: Option<u64>,
}

/// Runs `f`, giving up after `d`.
pub(crate) async fn with_timeout<T>(d: Duration, f: impl Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(f.await) }, async {
        glommio::timer::sleep(d).await;
        None
    })
    .await
}

/// Announces to the first tracker of the tiers that answers; the tier's
/// answering tracker moves to the front (BEP 12).
pub async fn announce_tiers(
    tiers: &mut [Vec<String>],
    p: &AnnounceParams,
) -> Result<AnnounceReply, String> {
    let mut last = String::from("no tracker");
    for tier in tiers.iter_mut() {
        for i in 0..tier.len() {
            match announce_one(&tier[i], p).await {
                Ok(r) => {
                    let t = tier.remove(i);
                    tier.insert(0, t);
                    return Ok(r);
                }
                Err(e) => last = format!("{}: {e}", tier[i]),
            }
        }
    }
    Err(last)
}

/// One announce to one tracker URL.
pub async fn announce_one(url: &str, p: &AnnounceParams) -> Result<AnnounceReply, String> {
    if url.starts_with("udp://") {
        announce_udp(url, p).await
    } else if url.starts_with("http://") || url.starts_with("https://") {
        announce_http(url, p).await
    } else {
        Err("unsupported tracker scheme".into())
    }
}

async fn announce_http(base: &str, p: &AnnounceParams) -> Result<AnnounceReply, String> {
    let req = arietta_metainfo::AnnounceRequest {
        info_hash: p.info_hash,
        peer_id: p.peer_id,
        port: p.port,
        uploaded: p.uploaded,
        downloaded: p.downloaded,
        left: p.left,
        event: p.event,
        compact: true,
        numwant: Some(50),
        key: Some(p.key),
        tracker_id: None,
        ip: p.ip.as_deref(),
        ipv6: None,
        supportcrypto: false,
        requirecrypto: false,
    };
    let full = arietta_metainfo::announce_url(base, &req);
    let url = url::Url::parse(&full).map_err(|e| e.to_string())?;
    let body = p
        .http
        .with_timeouts(p.connect_timeout, p.timeout)
        .get_bytes(&url, 4 << 20)
        .await
        .map_err(|e| e.to_string())?;
    let a = arietta_metainfo::parse_announce_response(&body).map_err(|e| e.to_string())?;
    if let Some(f) = a.failure_reason {
        return Err(format!("tracker failure: {f}"));
    }
    Ok(AnnounceReply {
        interval: a.interval.map(|s| Duration::from_secs(u64::from(s))),
        peers: a.peers,
        seeders: a.complete,
        leechers: a.incomplete,
    })
}

async fn announce_udp(base: &str, p: &AnnounceParams) -> Result<AnnounceReply, String> {
    let url = url::Url::parse(base).map_err(|e| e.to_string())?;
    let host = url.host_str().ok_or("no host")?.to_owned();
    let port = url.port().ok_or("no port")?;
    let family = p.http.config().family;
    let relayed;
    let sock;
    let path = match &p.udp_proxy {
        Some(proxy) => {
            // The socket talks to the relay, so it takes the proxy's
            // family; the tracker's name goes to a socks5h:// proxy as is.
            let bind = if proxy.host.parse::<std::net::Ipv6Addr>().is_ok() {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let udp = glommio::net::UdpSocket::bind(bind).map_err(|e| e.to_string())?;
            relayed = Socks5Udp::new(udp, (**proxy).clone(), p.connect_timeout, p.timeout);
            UdpPath::Relayed(&relayed, Socks5Target::new(&host, port))
        }
        None => {
            let addr = arietta_net::resolve(&host, port, family)
                .await
                .map_err(|e| e.to_string())?[0];
            // aria2 speaks to UDP trackers from its DHT socket, which is
            // bound to an `--interface` address; so is this one.
            sock = arietta_net::bind_passive(addr.is_ipv6(), 0, |a| {
                glommio::net::UdpSocket::bind(a).map_err(std::io::Error::from)
            })
            .map_err(|e| e.to_string())?;
            UdpPath::Direct(&sock, addr)
        }
    };
    let mut rng = rand::thread_rng();
    let mut buf = vec![0u8; 4096];
    // BEP 15 retransmits at 15 s × 2^n; bounded here by --bt-tracker-timeout.
    let deadline = std::time::Instant::now() + p.timeout;
    let tid = tracker_udp::transaction_id(&mut rng);
    let ctx = UdpCtx { path, deadline };
    let conn_id = match ctx
        .exchange(
            &mut buf,
            &tracker_udp::encode_connect(tid),
            tid,
            tracker_udp::action::CONNECT,
        )
        .await?
    {
        tracker_udp::Response::Connect { connection_id, .. } => connection_id,
        _ => return Err("unexpected tracker response".into()),
    };
    let tid = tracker_udp::transaction_id(&mut rng);
    let req = tracker_udp::AnnounceRequest {
        connection_id: conn_id,
        transaction_id: tid,
        info_hash: p.info_hash,
        peer_id: p.peer_id,
        downloaded: p.downloaded,
        left: p.left,
        uploaded: p.uploaded,
        event: match p.event {
            None => Event::None,
            Some(AnnounceEvent::Started) => Event::Started,
            Some(AnnounceEvent::Completed) => Event::Completed,
            Some(AnnounceEvent::Stopped) => Event::Stopped,
        },
        ip: p.ip.as_deref().and_then(|s| s.parse().ok()),
        key: p.key,
        num_want: Some(50),
        port: p.port,
    };
    match ctx
        .exchange(&mut buf, &req.encode(), tid, tracker_udp::action::ANNOUNCE)
        .await?
    {
        tracker_udp::Response::Announce { response, .. } => Ok(AnnounceReply {
            interval: Some(Duration::from_secs(u64::from(response.interval))),
            peers: response.peers,
            seeders: Some(u64::from(response.seeders)),
            leechers: Some(u64::from(response.leechers)),
        }),
        _ => Err("unexpected tracker response".into()),
    }
}

/// How an announce's datagrams travel.
enum UdpPath<'a> {
    /// Straight to the tracker's address.
    Direct(&'a glommio::net::UdpSocket, SocketAddr),
    /// Through a SOCKS5 proxy's UDP relay, to the tracker as the proxy
    /// should reach it (a name with `socks5h://`).
    Relayed(&'a Socks5Udp, Socks5Target),
}

impl UdpPath<'_> {
    async fn send(&self, packet: &[u8]) -> Result<(), String> {
        match self {
            UdpPath::Direct(sock, addr) => sock
                .send_to(packet, *addr)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            UdpPath::Relayed(relay, to) => {
                relay.send_to(packet, to).await.map_err(|e| e.to_string())
            }
        }
    }

    /// The next datagram from the tracker, and the tracker's address
    /// family (for the width of the peers it lists). Through a relay, the
    /// source the relay reports must be the address asked for; a name
    /// asked for is answered from whatever address the proxy resolved.
    async fn recv(&self, buf: &mut [u8]) -> std::io::Result<(usize, AddressFamily)> {
        let family = |ip: std::net::IpAddr| {
            if ip.is_ipv4() {
                AddressFamily::V4
            } else {
                AddressFamily::V6
            }
        };
        loop {
            match self {
                UdpPath::Direct(sock, addr) => {
                    let (len, from) = sock.recv_from(buf).await?;
                    if from == *addr {
                        return Ok((len, family(addr.ip())));
                    }
                }
                UdpPath::Relayed(relay, to) => {
                    let (len, from) = relay.recv_from(buf).await?;
                    let Socks5TargetHost::Ip(ip) = from.host else {
                        continue;
                    };
                    let asked = match &to.host {
                        Socks5TargetHost::Ip(want) => *want == ip,
                        Socks5TargetHost::Domain(_) => true,
                    };
                    if asked && from.port == to.port {
                        return Ok((len, family(ip)));
                    }
                }
            }
        }
    }
}

struct UdpCtx<'a> {
    path: UdpPath<'a>,
    deadline: std::time::Instant,
}

impl UdpCtx<'_> {
    /// Sends `packet` and waits for the matching answer, retransmitting on
    /// BEP 15's schedule until the deadline.
    async fn exchange(
        &self,
        buf: &mut [u8],
        packet: &[u8],
        tid: u32,
        action: u32,
    ) -> Result<tracker_udp::Response, String> {
        let mut n = 0;
        loop {
            let left = self
                .deadline
                .saturating_duration_since(std::time::Instant::now());
            let wait = tracker_udp::retransmit_timeout(n).unwrap_or(left).min(left);
            if wait.is_zero() {
                return Err("tracker timed out".to_string());
            }
            self.path.send(packet).await?;
            let got = with_timeout(wait, async {
                loop {
                    let (len, family) = self.path.recv(buf).await?;
                    match tracker_udp::parse_expected(&buf[..len], family, tid, action) {
                        Ok(r) => return Ok::<_, std::io::Error>(Ok(r)),
                        Err(arietta_bt::Error::TrackerFailure(m)) => return Ok(Err(m)),
                        Err(_) => continue,
                    }
                }
            })
            .await;
            match got {
                Some(Ok(Ok(r))) => return Ok(r),
                Some(Ok(Err(m))) => return Err(format!("tracker failure: {m}")),
                Some(Err(e)) => return Err(e.to_string()),
                None => n += 1,
            }
        }
    }
}
