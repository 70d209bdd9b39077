//! BEP 15 UDP tracker protocol: packet encoding/parsing plus the small
//! pieces of bookkeeping (transaction ids, connection-id lifetime, retry
//! schedule) that the I/O task needs to get right.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::{Error, Result};

/// Magic constant opening every connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// A connection id may be used for one minute after it was received.
pub const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);
/// BEP 15 limits a scrape to about 74 info hashes per packet.
pub const MAX_SCRAPE_HASHES: usize = 74;

/// Action codes.
pub mod action {
    #![allow(missing_docs)]
    pub const CONNECT: u32 = 0;
    pub const ANNOUNCE: u32 = 1;
    pub const SCRAPE: u32 = 2;
    pub const ERROR: u32 = 3;
}

/// A fresh random transaction id; BEP 15 needs them unpredictable so an
/// off-path attacker cannot spoof responses.
pub fn transaction_id(rng: &mut (impl RngCore + ?Sized)) -> u32 {
    rng.next_u32()
}

/// Time to wait for a response after the `n`-th try (`n` from 0):
/// 15 · 2^n seconds, as BEP 15 specifies. `None` after try 8 (about an hour
/// in total): give up on this tracker for this announce.
pub fn retransmit_timeout(n: u32) -> Option<Duration> {
    (n <= 8).then(|| Duration::from_secs(15u64 << n))
}

/// Event field of an announce.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// Regular re-announce.
    None = 0,
    /// Download finished.
    Completed = 1,
    /// First announce.
    Started = 2,
    /// Leaving the swarm.
    Stopped = 3,
}

/// Connect request (16 bytes).
pub fn encode_connect(transaction_id: u32) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    out[8..12].copy_from_slice(&action::CONNECT.to_be_bytes());
    out[12..].copy_from_slice(&transaction_id.to_be_bytes());
    out
}

/// Announce request fields.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AnnounceRequest {
    /// From the connect response.
    pub connection_id: u64,
    /// Fresh per request.
    pub transaction_id: u32,
    /// Torrent.
    pub info_hash: [u8; 20],
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// Announce event.
    pub event: Event,
    /// `--bt-external-ip` (IPv4 only in BEP 15); `None` lets the tracker
    /// use the packet's source address.
    pub ip: Option<Ipv4Addr>,
    /// Random key identifying us across IP changes.
    pub key: u32,
    /// Peers wanted; `None` for the tracker's default (-1).
    pub num_want: Option<u32>,
    /// Our listening port.
    pub port: u16,
}

impl AnnounceRequest {
    /// Wire form (98 bytes).
    pub fn encode(&self) -> [u8; 98] {
        let mut out = [0u8; 98];
        out[0..8].copy_from_slice(&self.connection_id.to_be_bytes());
        out[8..12].copy_from_slice(&action::ANNOUNCE.to_be_bytes());
        out[12..16].copy_from_slice(&self.transaction_id.to_be_bytes());
        out[16..36].copy_from_slice(&self.info_hash);
        out[36..56].copy_from_slice(&self.peer_id);
        out[56..64].copy_from_slice(&self.downloaded.to_be_bytes());
        out[64..72].copy_from_slice(&self.left.to_be_bytes());
        out[72..80].copy_from_slice(&self.uploaded.to_be_bytes());
        out[80..84].copy_from_slice(&(self.event as u32).to_be_bytes());
        let ip = self.ip.map_or(0, u32::from);
        out[84..88].copy_from_slice(&ip.to_be_bytes());
        out[88..92].copy_from_slice(&self.key.to_be_bytes());
        let num_want = self
            .num_want
            .map_or(-1i32, |n| i32::try_from(n).unwrap_or(i32::MAX));
        out[92..96].copy_from_slice(&num_want.to_be_bytes());
        out[96..98].copy_from_slice(&self.port.to_be_bytes());
        out
    }
}

/// Scrape request for up to [`MAX_SCRAPE_HASHES`] torrents (extra hashes
/// are dropped: the tracker would truncate or refuse the packet anyway).
pub fn encode_scrape(connection_id: u64, transaction_id: u32, info_hashes: &[[u8; 20]]) -> Vec<u8> {
    let hashes = &info_hashes[..info_hashes.len().min(MAX_SCRAPE_HASHES)];
    let mut out = Vec::with_capacity(16 + 20 * hashes.len());
    out.extend_from_slice(&connection_id.to_be_bytes());
    out.extend_from_slice(&action::SCRAPE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    for h in hashes {
        out.extend_from_slice(h);
    }
    out
}

/// Which address family the socket that received a response uses; BEP 15
/// says it decides whether peers are 6 (IPv4) or 18 (IPv6) bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AddressFamily {
    /// 4-byte address + 2-byte port per peer.
    V4,
    /// 16-byte address + 2-byte port per peer.
    V6,
}

/// Announce response fields.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AnnounceResponse {
    /// Seconds to wait before re-announcing.
    pub interval: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// Peers with everything.
    pub seeders: u32,
    /// Peer addresses (port 0 entries dropped: unreachable).
    pub peers: Vec<SocketAddr>,
}

/// One torrent's scrape counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ScrapeEntry {
    /// Seeds.
    pub seeders: u32,
    /// Completed downloads.
    pub completed: u32,
    /// Leechers.
    pub leechers: u32,
}

/// A parsed tracker response. The error action is returned as
/// [`Error::TrackerFailure`] by [`parse_response`] instead.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Response {
    /// Connect response.
    Connect {
        /// Echoed transaction id.
        transaction_id: u32,
        /// Id for subsequent requests.
        connection_id: u64,
    },
    /// Announce response.
    Announce {
        /// Echoed transaction id.
        transaction_id: u32,
        /// Contents.
        response: AnnounceResponse,
    },
    /// Scrape response, one entry per requested hash in order.
    Scrape {
        /// Echoed transaction id.
        transaction_id: u32,
        /// Counts.
        entries: Vec<ScrapeEntry>,
    },
    /// Error action: the tracker refused the request.
    Error {
        /// Echoed transaction id.
        transaction_id: u32,
        /// Human-readable reason.
        message: String,
    },
}

impl Response {
    /// The transaction id the response carries.
    pub fn transaction_id(&self) -> u32 {
        match self {
            Response::Connect { transaction_id, .. }
            | Response::Announce { transaction_id, .. }
            | Response::Scrape { transaction_id, .. }
            | Response::Error { transaction_id, .. } => *transaction_id,
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn truncated() -> Error {
    Error::BadTrackerPacket("truncated")
}

/// Parses any response datagram. Never panics; trailing bytes that do not
/// form a whole peer or scrape entry are ignored, as trackers in the wild
/// occasionally pad.
pub fn parse_response(packet: &[u8], family: AddressFamily) -> Result<Response> {
    let act = u32_at(packet, 0).ok_or_else(truncated)?;
    let transaction_id = u32_at(packet, 4).ok_or_else(truncated)?;
    let body = &packet[8..];
    match act {
        action::CONNECT => {
            let id = body.get(..8).ok_or_else(truncated)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(id);
            Ok(Response::Connect {
                transaction_id,
                connection_id: u64::from_be_bytes(a),
            })
        }
        action::ANNOUNCE => {
            let interval = u32_at(body, 0).ok_or_else(truncated)?;
            let leechers = u32_at(body, 4).ok_or_else(truncated)?;
            let seeders = u32_at(body, 8).ok_or_else(truncated)?;
            let peers = parse_peers(&body[12..], family);
            Ok(Response::Announce {
                transaction_id,
                response: AnnounceResponse {
                    interval,
                    leechers,
                    seeders,
                    peers,
                },
            })
        }
        action::SCRAPE => {
            let entries = body
                .chunks_exact(12)
                .map(|c| ScrapeEntry {
                    seeders: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                    completed: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                    leechers: u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
                })
                .collect();
            Ok(Response::Scrape {
                transaction_id,
                entries,
            })
        }
        action::ERROR => {
            let text = String::from_utf8_lossy(body);
            Ok(Response::Error {
                transaction_id,
                message: text.trim_end_matches('\0').to_string(),
            })
        }
        _ => Err(Error::BadTrackerPacket("unknown action")),
    }
}

/// Compact peer list in the given family's format.
pub fn parse_peers(data: &[u8], family: AddressFamily) -> Vec<SocketAddr> {
    match family {
        AddressFamily::V4 => data
            .chunks_exact(6)
            .map(|c| {
                let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
                let port = u16::from_be_bytes([c[4], c[5]]);
                SocketAddr::V4(SocketAddrV4::new(ip, port))
            })
            .filter(|a| a.port() != 0)
            .collect(),
        AddressFamily::V6 => data
            .chunks_exact(18)
            .map(|c| {
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&c[..16]);
                let port = u16::from_be_bytes([c[16], c[17]]);
                SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0))
            })
            .filter(|a| a.port() != 0)
            .collect(),
    }
}

/// Parses a response and checks it answers the request we sent: matching
/// transaction id and the expected action (an error action becomes
/// [`Error::TrackerFailure`]). Responses that fail this check are best
/// dropped and waited past, not treated as the tracker's answer: they may be
/// stale retransmissions or spoofed.
pub fn parse_expected(
    packet: &[u8],
    family: AddressFamily,
    expected_transaction: u32,
    expected_action: u32,
) -> Result<Response> {
    let resp = parse_response(packet, family)?;
    let got = resp.transaction_id();
    if got != expected_transaction {
        return Err(Error::TransactionMismatch {
            expected: expected_transaction,
            got,
        });
    }
    let act = match &resp {
        Response::Connect { .. } => action::CONNECT,
        Response::Announce { .. } => action::ANNOUNCE,
        Response::Scrape { .. } => action::SCRAPE,
        Response::Error { message, .. } => return Err(Error::TrackerFailure(message.clone())),
    };
    if act != expected_action {
        return Err(Error::BadTrackerPacket("unexpected action"));
    }
    Ok(resp)
}

/// A tracker's connection id and when we got it. Keep one per tracker
/// address; reuse it while [`valid`](Self::valid), reconnect after.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ConnectionId {
    /// The id.
    pub id: u64,
    /// When the connect response arrived.
    pub obtained: Instant,
}

impl ConnectionId {
    /// Records an id received at `now`.
    pub fn new(id: u64, now: Instant) -> Self {
        ConnectionId { id, obtained: now }
    }

    /// Whether the id may still be used at `now` (BEP 15: one minute).
    pub fn valid(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.obtained) < CONNECTION_ID_LIFETIME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(act: u32, tid: u32) -> Vec<u8> {
        let mut v = act.to_be_bytes().to_vec();
        v.extend_from_slice(&tid.to_be_bytes());
        v
    }

    #[test]
    fn connect_roundtrip() {
        let req = encode_connect(0x1234_5678);
        assert_eq!(&req[..8], &[0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80]);
        assert_eq!(&req[8..12], &[0, 0, 0, 0]);
        let mut resp = header(action::CONNECT, 0x1234_5678);
        resp.extend_from_slice(&0xdead_beef_0bad_f00du64.to_be_bytes());
        assert_eq!(
            parse_expected(&resp, AddressFamily::V4, 0x1234_5678, action::CONNECT).unwrap(),
            Response::Connect {
                transaction_id: 0x1234_5678,
                connection_id: 0xdead_beef_0bad_f00d
            }
        );
        assert!(matches!(
            parse_expected(&resp, AddressFamily::V4, 1, action::CONNECT),
            Err(Error::TransactionMismatch { .. })
        ));
        assert!(parse_response(&resp[..15], AddressFamily::V4).is_err());
    }

    #[test]
    fn announce_encoding() {
        let req = AnnounceRequest {
            connection_id: 42,
            transaction_id: 7,
            info_hash: [1; 20],
            peer_id: [2; 20],
            downloaded: 3,
            left: 4,
            uploaded: 5,
            event: Event::Started,
            ip: None,
            key: 9,
            num_want: None,
            port: 6881,
        };
        let w = req.encode();
        assert_eq!(u64::from_be_bytes(w[0..8].try_into().unwrap()), 42);
        assert_eq!(u32_at(&w, 8), Some(action::ANNOUNCE));
        assert_eq!(u32_at(&w, 80), Some(2));
        assert_eq!(u32_at(&w, 84), Some(0));
        assert_eq!(&w[92..96], &[0xff; 4]);
        assert_eq!(&w[96..], &6881u16.to_be_bytes());
    }

    #[test]
    fn announce_response_v4_and_v6() {
        let mut resp = header(action::ANNOUNCE, 1);
        for v in [1800u32, 5, 10] {
            resp.extend_from_slice(&v.to_be_bytes());
        }
        let mut v4 = resp.clone();
        v4.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1]);
        v4.extend_from_slice(&[10, 0, 0, 2, 0, 0]); // port 0: dropped
        v4.extend_from_slice(&[1, 2, 3]); // partial: ignored
        let Response::Announce { response, .. } = parse_response(&v4, AddressFamily::V4).unwrap()
        else {
            panic!()
        };
        assert_eq!(response.interval, 1800);
        assert_eq!(response.seeders, 10);
        assert_eq!(response.peers, vec!["127.0.0.1:6881".parse().unwrap()]);

        let mut v6 = resp;
        let ip: Ipv6Addr = "2001:db8::1".parse().unwrap();
        v6.extend_from_slice(&ip.octets());
        v6.extend_from_slice(&51413u16.to_be_bytes());
        let Response::Announce { response, .. } = parse_response(&v6, AddressFamily::V6).unwrap()
        else {
            panic!()
        };
        assert_eq!(response.peers, vec!["[2001:db8::1]:51413".parse().unwrap()]);
        // Too short for the fixed header.
        assert!(parse_response(&header(action::ANNOUNCE, 1), AddressFamily::V4).is_err());
    }

    #[test]
    fn scrape_and_error() {
        let req = encode_scrape(5, 6, &[[1; 20]; 100]);
        assert_eq!(req.len(), 16 + 20 * MAX_SCRAPE_HASHES);
        let mut resp = header(action::SCRAPE, 6);
        for v in [1u32, 2, 3, 4, 5, 6] {
            resp.extend_from_slice(&v.to_be_bytes());
        }
        let Response::Scrape { entries, .. } = parse_response(&resp, AddressFamily::V4).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            entries,
            vec![
                ScrapeEntry {
                    seeders: 1,
                    completed: 2,
                    leechers: 3
                },
                ScrapeEntry {
                    seeders: 4,
                    completed: 5,
                    leechers: 6
                }
            ]
        );
        let mut err = header(action::ERROR, 6);
        err.extend_from_slice(b"torrent not registered\0");
        assert_eq!(
            parse_expected(&err, AddressFamily::V4, 6, action::ANNOUNCE),
            Err(Error::TrackerFailure("torrent not registered".into()))
        );
        let mut bad = header(9, 6);
        bad.extend_from_slice(&[0; 8]);
        assert!(parse_response(&bad, AddressFamily::V4).is_err());
        assert!(parse_response(&[], AddressFamily::V4).is_err());
    }

    #[test]
    fn schedule_and_expiry() {
        assert_eq!(retransmit_timeout(0), Some(Duration::from_secs(15)));
        assert_eq!(retransmit_timeout(3), Some(Duration::from_secs(120)));
        assert_eq!(retransmit_timeout(8), Some(Duration::from_secs(3840)));
        assert_eq!(retransmit_timeout(9), None);
        assert_eq!(retransmit_timeout(u32::MAX), None);
        let t0 = Instant::now();
        let c = ConnectionId::new(1, t0);
        assert!(c.valid(t0 + Duration::from_secs(59)));
        assert!(!c.valid(t0 + Duration::from_secs(60)));
        let mut rng = rand::thread_rng();
        let _ = transaction_id(&mut rng);
    }
}
