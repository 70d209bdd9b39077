//! Local Peer Discovery (BEP 14) datagrams: the HTTP-like `BT-SEARCH`
//! announcement multicast on the LAN.
//!
//! ```text
//! BT-SEARCH * HTTP/1.1\r\n
//! Host: 239.192.152.143:6771\r\n
//! Port: <tcp port>\r\n
//! Infohash: <40 hex digits>\r\n      (one or more)
//! cookie: <opaque>\r\n               (optional: lets a sender drop its own echo)
//! \r\n
//! \r\n
//! ```
//!
//! The socket side (multicast group membership, the 5-minute announce
//! timer) is `arietta-bt-net`'s `lpd` module; this is only the format, so
//! it can be fuzzed.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::{Error, Result};

/// The BEP 14 IPv4 multicast group and port.
pub const LPD_GROUP_V4: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 192, 152, 143), 6771);

/// Info-hashes per datagram we send: keeps one announcement well inside a
/// 1400-byte datagram.
pub const MAX_HASHES_PER_DATAGRAM: usize = 20;

/// Larger datagrams are not LPD (and we never read more than this).
pub const MAX_DATAGRAM: usize = 1400;

/// One announcement.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LpdAnnounce {
    /// The sender's BitTorrent TCP port.
    pub port: u16,
    /// Torrents the sender is in.
    pub info_hashes: Vec<[u8; 20]>,
    /// Sender-chosen token; a receiver that sees its own ignores the message.
    pub cookie: Option<String>,
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn parse_hash(text: &str) -> Option<[u8; 20]> {
    let b = text.as_bytes();
    if b.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, o) in out.iter_mut().enumerate() {
        *o = hex_digit(b[2 * i])? << 4 | hex_digit(b[2 * i + 1])?;
    }
    Some(out)
}

impl LpdAnnounce {
    /// The datagram for `host` (the group as `ip:port`, e.g.
    /// `239.192.152.143:6771`). Send at most [`MAX_HASHES_PER_DATAGRAM`]
    /// hashes in one (see [`LpdAnnounce::split`]).
    pub fn encode(&self, host: &str) -> Vec<u8> {
        let mut s = format!(
            "BT-SEARCH * HTTP/1.1\r\nHost: {host}\r\nPort: {}\r\n",
            self.port
        );
        for ih in &self.info_hashes {
            s.push_str("Infohash: ");
            for b in ih {
                s.push_str(&format!("{b:02x}"));
            }
            s.push_str("\r\n");
        }
        if let Some(c) = &self.cookie {
            s.push_str(&format!("cookie: {c}\r\n"));
        }
        s.push_str("\r\n\r\n");
        s.into_bytes()
    }

    /// One announcement per [`MAX_HASHES_PER_DATAGRAM`] info-hashes.
    pub fn split(port: u16, info_hashes: &[[u8; 20]], cookie: Option<&str>) -> Vec<LpdAnnounce> {
        info_hashes
            .chunks(MAX_HASHES_PER_DATAGRAM)
            .map(|c| LpdAnnounce {
                port,
                info_hashes: c.to_vec(),
                cookie: cookie.map(str::to_string),
            })
            .collect()
    }

    /// Parses a received datagram. Header names are case-insensitive
    /// (clients differ: `Infohash`, `cookie`); unknown headers are ignored;
    /// a message without a valid port or info-hash is an error.
    pub fn decode(datagram: &[u8]) -> Result<LpdAnnounce> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(Error::BadLpd("datagram too large"));
        }
        let text = std::str::from_utf8(datagram).map_err(|_| Error::BadLpd("not text"))?;
        let mut lines = text.split("\r\n");
        if lines.next().map(str::trim) != Some("BT-SEARCH * HTTP/1.1") {
            return Err(Error::BadLpd("not a BT-SEARCH request"));
        }
        let (mut port, mut info_hashes, mut cookie) = (None, Vec::new(), None);
        for line in lines {
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(Error::BadLpd("header line without a colon"));
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("port") {
                port = Some(
                    value
                        .parse::<u16>()
                        .map_err(|_| Error::BadLpd("bad port"))?,
                );
            } else if name.eq_ignore_ascii_case("infohash") {
                let ih = parse_hash(value).ok_or(Error::BadLpd("bad infohash"))?;
                if !info_hashes.contains(&ih) {
                    info_hashes.push(ih);
                }
            } else if name.eq_ignore_ascii_case("cookie") {
                cookie = Some(value.to_string());
            }
        }
        let port = port.filter(|p| *p != 0).ok_or(Error::BadLpd("no port"))?;
        if info_hashes.is_empty() {
            return Err(Error::BadLpd("no infohash"));
        }
        Ok(LpdAnnounce {
            port,
            info_hashes,
            cookie,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bep14_example() {
        let a = LpdAnnounce {
            port: 6881,
            info_hashes: vec![[0xab; 20], [0x01; 20]],
            cookie: Some("x1y2".into()),
        };
        let wire = a.encode("239.192.152.143:6771");
        assert!(wire.starts_with(b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\n"));
        assert!(wire.ends_with(b"\r\n\r\n\r\n"));
        assert_eq!(LpdAnnounce::decode(&wire).unwrap(), a);

        // libtorrent style: upper-case hex, header case as in BEP 14.
        let lt = b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\nInfohash: ABABABABABABABABABABABABABABABABABABABAB\r\n\r\n\r\n";
        let d = LpdAnnounce::decode(lt).unwrap();
        assert_eq!(d.port, 51413);
        assert_eq!(d.info_hashes, vec![[0xab; 20]]);
        assert_eq!(d.cookie, None);
    }

    #[test]
    fn refuses_junk() {
        for bad in [
            &b""[..],
            b"GET / HTTP/1.1\r\n\r\n",
            b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n",
            b"BT-SEARCH * HTTP/1.1\r\nInfohash: ABABABABABABABABABABABABABABABABABABABAB\r\n\r\n",
            b"BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: ABABABABABABABABABABABABABABABABABABABAB\r\n\r\n",
            b"BT-SEARCH * HTTP/1.1\r\nPort: 70000\r\nInfohash: AB\r\n\r\n",
            b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: ZZABABABABABABABABABABABABABABABABABABAB\r\n\r\n",
            b"BT-SEARCH * HTTP/1.1\r\nPort 1\r\n\r\n",
            b"BT-SEARCH * HTTP/1.1\r\n\xff\r\n",
        ] {
            assert!(LpdAnnounce::decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(LpdAnnounce::decode(&vec![b'a'; MAX_DATAGRAM + 1]).is_err());
    }

    #[test]
    fn split_fits_a_datagram() {
        let many: Vec<[u8; 20]> = (0..45u8).map(|i| [i; 20]).collect();
        let parts = LpdAnnounce::split(1, &many, Some("c"));
        assert_eq!(parts.len(), 3);
        for p in &parts {
            assert!(p.encode("239.192.152.143:6771").len() <= MAX_DATAGRAM);
        }
    }
}
