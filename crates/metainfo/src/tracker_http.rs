//! The HTTP tracker protocol as pure functions (BEP 3, 7, 23, 48).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arietta_bencode::{Value, ValueKind};

use crate::error::Error;
use crate::percent_encode_all;

/// The `event` of an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceEvent {
    Started,
    Stopped,
    Completed,
}

/// Everything an announce reports. `compact` should stay on: trackers may
/// refuse non-compact requests, and compact replies are far smaller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest<'a> {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Option<AnnounceEvent>,
    pub compact: bool,
    pub numwant: Option<u32>,
    /// Lets the tracker recognize us across IP changes.
    pub key: Option<u32>,
    /// Echoed from an earlier reply's `tracker id`.
    pub tracker_id: Option<&'a [u8]>,
    /// `--bt-external-ip`.
    pub ip: Option<&'a str>,
    pub ipv6: Option<Ipv6Addr>,
    /// MSE support (`supportcrypto=1`), as aria2 sends.
    pub supportcrypto: bool,
    /// `--bt-require-crypto` (`requirecrypto=1`).
    pub requirecrypto: bool,
}

/// Builds the announce URL on top of `base` (which may carry its own query,
/// e.g. a passkey). Binary values are percent-encoded byte for byte.
pub fn announce_url(base: &str, req: &AnnounceRequest<'_>) -> String {
    let base = base.split('#').next().unwrap_or_default();
    let sep = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut url = String::with_capacity(base.len() + 256);
    url.push_str(base);
    url.push_str(sep);
    url.push_str("info_hash=");
    url.push_str(&percent_encode_all(&req.info_hash));
    finish(url, req)
}

fn finish(mut url: String, req: &AnnounceRequest<'_>) -> String {
    use std::fmt::Write;
    let _ = write!(
        url,
        "&peer_id={}&port={}&uploaded={}&downloaded={}&left={}",
        percent_encode_all(&req.peer_id),
        req.port,
        req.uploaded,
        req.downloaded,
        req.left
    );
    if req.compact {
        url.push_str("&compact=1");
    }
    if let Some(k) = req.key {
        let _ = write!(url, "&key={k:08X}");
    }
    if let Some(n) = req.numwant {
        let _ = write!(url, "&numwant={n}");
    }
    if let Some(e) = req.event {
        url.push_str(match e {
            AnnounceEvent::Started => "&event=started",
            AnnounceEvent::Stopped => "&event=stopped",
            AnnounceEvent::Completed => "&event=completed",
        });
    }
    if let Some(id) = req.tracker_id {
        let _ = write!(url, "&trackerid={}", percent_encode_all(id));
    }
    if let Some(ip) = req.ip {
        let _ = write!(url, "&ip={}", percent_encode_all(ip.as_bytes()));
    }
    if let Some(ip6) = req.ipv6 {
        let _ = write!(
            url,
            "&ipv6={}",
            percent_encode_all(ip6.to_string().as_bytes())
        );
    }
    if req.supportcrypto {
        url.push_str("&supportcrypto=1");
    }
    if req.requirecrypto {
        url.push_str("&requirecrypto=1");
    }
    url
}

/// A tracker's reply. A `failure reason` is a valid reply, not a parse error:
/// the caller shows it and may retry later.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Announce {
    pub failure_reason: Option<String>,
    pub warning_message: Option<String>,
    /// Seconds until the next regular announce.
    pub interval: Option<u32>,
    pub min_interval: Option<u32>,
    pub tracker_id: Option<Vec<u8>>,
    /// Seeders.
    pub complete: Option<u64>,
    /// Leechers.
    pub incomplete: Option<u64>,
    /// Peers from `peers` (compact or dictionaries) and `peers6`, without
    /// duplicates or port 0. Dictionary peers given by host name are skipped.
    pub peers: Vec<SocketAddr>,
}

fn int_u32(v: Option<&Value<'_>>) -> Option<u32> {
    v.and_then(Value::as_int)
        .and_then(|i| u32::try_from(i).ok())
}

fn int_u64(v: Option<&Value<'_>>) -> Option<u64> {
    v.and_then(Value::as_int)
        .and_then(|i| u64::try_from(i).ok())
}

fn push_peer(peers: &mut Vec<SocketAddr>, addr: SocketAddr) {
    if addr.port() != 0 && !peers.contains(&addr) {
        peers.push(addr);
    }
}

/// Parses compact IPv4 peers (6 bytes each); a trailing partial entry is ignored.
pub(crate) fn compact_v4(bytes: &[u8], out: &mut Vec<SocketAddr>) {
    for c in bytes.chunks_exact(6) {
        let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
        push_peer(
            out,
            SocketAddr::new(IpAddr::V4(ip), u16::from_be_bytes([c[4], c[5]])),
        );
    }
}

/// Parses compact IPv6 peers (18 bytes each).
pub(crate) fn compact_v6(bytes: &[u8], out: &mut Vec<SocketAddr>) {
    for c in bytes.chunks_exact(18) {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&c[..16]);
        let port = u16::from_be_bytes([c[16], c[17]]);
        push_peer(
            out,
            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port),
        );
    }
}

/// Parses an announce reply body.
pub fn parse_announce_response(bytes: &[u8]) -> Result<Announce, Error> {
    let root = arietta_bencode::decode(bytes)?;
    if root.as_dict().is_none() {
        return Err(Error::invalid("announce reply", "not a dictionary"));
    }
    let text = |k: &str| {
        root.get(k)
            .and_then(Value::as_bytes)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    };
    let mut a = Announce {
        failure_reason: text("failure reason"),
        warning_message: text("warning message"),
        interval: int_u32(root.get("interval")),
        min_interval: int_u32(root.get("min interval")),
        tracker_id: root
            .get("tracker id")
            .and_then(Value::as_bytes)
            .map(<[u8]>::to_vec),
        complete: int_u64(root.get("complete")),
        incomplete: int_u64(root.get("incomplete")),
        peers: Vec::new(),
    };
    match root.get("peers").map(|v| &v.kind) {
        Some(ValueKind::Bytes(b)) => compact_v4(b, &mut a.peers),
        Some(ValueKind::List(list)) => {
            for p in list {
                let ip = p
                    .get("ip")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<IpAddr>().ok());
                let port = int_u32(p.get("port")).and_then(|p| u16::try_from(p).ok());
                if let (Some(ip), Some(port)) = (ip, port) {
                    push_peer(&mut a.peers, SocketAddr::new(ip, port));
                }
            }
        }
        _ => {}
    }
    if let Some(b) = root.get("peers6").and_then(Value::as_bytes) {
        compact_v6(b, &mut a.peers);
    }
    if a.failure_reason.is_none() && a.interval.is_none() && a.peers.is_empty() {
        return Err(Error::Missing("interval"));
    }
    Ok(a)
}

/// The scrape URL by the convention of replacing the last path segment's
/// `announce` with `scrape`; `None` when the tracker cannot be scraped.
pub fn scrape_url(announce: &str) -> Option<String> {
    let (path, query) = match announce.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (announce, None),
    };
    let slash = path.rfind('/')?;
    let last = path.get(slash + 1..)?;
    let rest = last.strip_prefix("announce")?;
    let mut url = format!("{}scrape{}", path.get(..=slash)?, rest);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Some(url)
}

/// One torrent's numbers from a scrape reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeEntry {
    pub info_hash: [u8; 20],
    pub complete: u64,
    pub downloaded: u64,
    pub incomplete: u64,
}

/// Parses a scrape reply (`files` keyed by raw info-hash).
pub fn parse_scrape_response(bytes: &[u8]) -> Result<Vec<ScrapeEntry>, Error> {
    let root = arietta_bencode::decode(bytes)?;
    if let Some(reason) = root.get("failure reason").and_then(Value::as_bytes) {
        return Err(Error::invalid(
            "scrape reply",
            String::from_utf8_lossy(reason),
        ));
    }
    let files = root
        .get("files")
        .and_then(Value::as_dict)
        .ok_or(Error::Missing("files"))?;
    Ok(files
        .iter()
        .filter_map(|(k, v)| {
            Some(ScrapeEntry {
                info_hash: (*k).try_into().ok()?,
                complete: int_u64(v.get("complete")).unwrap_or(0),
                downloaded: int_u64(v.get("downloaded")).unwrap_or(0),
                incomplete: int_u64(v.get("incomplete")).unwrap_or(0),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> AnnounceRequest<'static> {
        AnnounceRequest {
            info_hash:
                *b"\x12\x34\x56\x78\x9a\xbc\xde\xf1\x23\x45\x67\x89\xab\xcd\xef\x12\x34\x56\x78\x9a",
            peer_id: *b"-AR0001-abc~._ 012%&",
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: Some(AnnounceEvent::Started),
            compact: true,
            numwant: Some(50),
            key: Some(0xdead_beef),
            tracker_id: None,
            ip: Some("1.2.3.4"),
            ipv6: Some("::1".parse().unwrap()),
            supportcrypto: true,
            requirecrypto: false,
        }
    }

    #[test]
    fn url_encodes_binary_and_appends_to_queries() {
        let u = announce_url("http://t/ann?passkey=x#frag", &req());
        assert_eq!(
            u,
            "http://t/ann?passkey=x&info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A\
             &peer_id=-AR0001-abc~._%20012%25%26&port=6881&uploaded=1&downloaded=2&left=3\
             &compact=1&key=DEADBEEF&numwant=50&event=started&ip=1.2.3.4&ipv6=%3A%3A1&supportcrypto=1"
        );
        assert!(announce_url("http://t/a", &req()).starts_with("http://t/a?info_hash="));
        assert!(announce_url("http://t/a?", &req()).starts_with("http://t/a?info_hash="));
    }

    #[test]
    fn compact_dict_and_v6_peers() {
        let mut body =
            b"d8:completei5e10:incompletei3e8:intervali1800e12:min intervali60e5:peers12:".to_vec();
        body.extend_from_slice(&[1, 2, 3, 4, 0x1a, 0xe1, 5, 6, 7, 8, 0, 0]);
        body.extend_from_slice(b"6:peers618:");
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe2]);
        body.extend_from_slice(b"10:tracker id2:ide");
        let a = parse_announce_response(&body).unwrap();
        assert_eq!(a.interval, Some(1800));
        assert_eq!(a.min_interval, Some(60));
        assert_eq!(a.complete, Some(5));
        assert_eq!(a.incomplete, Some(3));
        assert_eq!(a.tracker_id.as_deref(), Some(&b"id"[..]));
        let expect: Vec<SocketAddr> = vec![
            "1.2.3.4:6881".parse().unwrap(),
            "[::1]:6882".parse().unwrap(),
        ];
        assert_eq!(a.peers, expect);

        let dict = b"d8:intervali900e5:peersld2:ip7:1.2.3.47:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti80eed2:ip4:host4:porti1eed2:ip3:::14:porti99999eeee";
        let a = parse_announce_response(dict).unwrap();
        assert_eq!(a.peers, vec!["1.2.3.4:80".parse::<SocketAddr>().unwrap()]);
    }

    #[test]
    fn failure_and_garbage() {
        let a = parse_announce_response(b"d14:failure reason9:not founde").unwrap();
        assert_eq!(a.failure_reason.as_deref(), Some("not found"));
        assert!(parse_announce_response(b"<html>").is_err());
        assert!(parse_announce_response(b"le").is_err());
        assert!(parse_announce_response(b"de").is_err());
    }

    #[test]
    fn scrape() {
        assert_eq!(
            scrape_url("http://t/announce").as_deref(),
            Some("http://t/scrape")
        );
        assert_eq!(
            scrape_url("http://t/x/announce.php?k=1").as_deref(),
            Some("http://t/x/scrape.php?k=1")
        );
        assert_eq!(scrape_url("http://t/a"), None);
        let body =
            b"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:downloadedi2e10:incompletei3eeee";
        let s = parse_scrape_response(body).unwrap();
        assert_eq!(
            s,
            vec![ScrapeEntry {
                info_hash: [b'a'; 20],
                complete: 1,
                downloaded: 2,
                incomplete: 3
            }]
        );
    }
}
