//! Peer Exchange (BEP 11, `ut_pex`): the extended message in which
//! connected peers tell each other which peers they have gained and lost
//! since the last message (at most one a minute).
//!
//! The engine registers `ut_pex` in its BEP 10 extended handshake, and
//! every minute sends each peer a [`PexMessage`] built from the difference
//! between the peer set it last advertised and the current one
//! ([`PexMessage::diff`]). Received messages are decoded with
//! [`PexMessage::decode`] and their `added` peers become connection
//! candidates (never for private torrents, BEP 27). Decoding is bounded:
//! a hostile peer cannot make us keep more than [`MAX_PEERS_PER_LIST`]
//! addresses per list.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arietta_bencode::{Limits, OwnedValue};

use crate::{Error, Result};

/// BEP 11 caps each list at 50 entries per message; we accept a little
/// more on input (some clients overshoot) and drop the excess.
pub const MAX_PEERS_PER_LIST: usize = 200;

/// How many added/dropped peers we put into one message we send (BEP 11).
pub const MAX_SENT_PER_LIST: usize = 50;

/// The name under which the extension is registered in the extended
/// handshake's `m` dictionary.
pub const EXTENSION_NAME: &str = "ut_pex";

/// A PEX message is small: a few hundred compact peers at most.
const PEX_LIMITS: Limits = Limits {
    max_depth: 4,
    max_items: 64,
    max_input: 16 * 1024,
};

/// Per-peer flags (the `added.f` / `added6.f` bytes).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub struct PexFlags(pub u8);

impl PexFlags {
    /// The peer prefers encrypted connections (MSE).
    pub const PREFERS_ENCRYPTION: u8 = 0x01;
    /// The peer is a seed (or upload-only): a seed need not connect to it.
    pub const SEED: u8 = 0x02;
    /// The peer supports uTP.
    pub const UTP: u8 = 0x04;
    /// The peer supports `ut_holepunch`.
    pub const HOLEPUNCH: u8 = 0x08;
    /// The sender made an outgoing connection to this peer: it is reachable.
    pub const REACHABLE: u8 = 0x10;

    /// Whether every bit of `flag` is set.
    pub fn has(self, flag: u8) -> bool {
        self.0 & flag == flag
    }
}

/// A peer in the `added` lists, with its flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct PexPeer {
    /// Address to connect to.
    pub addr: SocketAddr,
    /// What the sender knows about it.
    pub flags: PexFlags,
}

/// One `ut_pex` message; IPv4 and IPv6 peers are kept together and split
/// into `added`/`added6` on the wire.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PexMessage {
    /// Peers the sender connected to since its last message.
    pub added: Vec<PexPeer>,
    /// Peers the sender disconnected from since its last message.
    pub dropped: Vec<SocketAddr>,
}

fn compact(addr: &SocketAddr, v4: &mut Vec<u8>, v6: &mut Vec<u8>) -> bool {
    let out = match addr.ip() {
        IpAddr::V4(ip) => {
            v4.extend_from_slice(&ip.octets());
            v4
        }
        IpAddr::V6(ip) => {
            v6.extend_from_slice(&ip.octets());
            v6
        }
    };
    out.extend_from_slice(&addr.port().to_be_bytes());
    addr.is_ipv4()
}

fn parse_compact(bytes: &[u8], v6: bool) -> Vec<SocketAddr> {
    let entry = if v6 { 18 } else { 6 };
    bytes
        .chunks_exact(entry)
        .take(MAX_PEERS_PER_LIST)
        .filter_map(|c| {
            let (ip, port) = c.split_at(entry - 2);
            let ip: IpAddr = if v6 {
                Ipv6Addr::from(<[u8; 16]>::try_from(ip).ok()?).into()
            } else {
                Ipv4Addr::from(<[u8; 4]>::try_from(ip).ok()?).into()
            };
            let port = u16::from_be_bytes([port[0], port[1]]);
            // Port 0 is nobody; an unspecified address is nowhere.
            (port != 0 && !ip.is_unspecified()).then_some(SocketAddr::new(ip, port))
        })
        .collect()
}

impl PexMessage {
    /// The message that moves a peer from believing `previous` to believing
    /// `current`: what the engine sends each minute. Lists are capped at
    /// [`MAX_SENT_PER_LIST`]; peers left out are simply announced next time
    /// (the caller should then remember only what was actually sent).
    pub fn diff(previous: &[PexPeer], current: &[PexPeer]) -> PexMessage {
        let before: HashSet<SocketAddr> = previous.iter().map(|p| p.addr).collect();
        let now: HashSet<SocketAddr> = current.iter().map(|p| p.addr).collect();
        PexMessage {
            added: current
                .iter()
                .filter(|p| !before.contains(&p.addr))
                .take(MAX_SENT_PER_LIST)
                .copied()
                .collect(),
            dropped: previous
                .iter()
                .filter(|p| !now.contains(&p.addr))
                .take(MAX_SENT_PER_LIST)
                .map(|p| p.addr)
                .collect(),
        }
    }

    /// Whether there is nothing to say (BEP 11: then send nothing).
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.dropped.is_empty()
    }

    /// The bencoded payload (what follows the extended message id byte).
    pub fn encode(&self) -> Vec<u8> {
        let (mut a4, mut a6, mut f4, mut f6) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for p in &self.added {
            if compact(&p.addr, &mut a4, &mut a6) {
                f4.push(p.flags.0);
            } else {
                f6.push(p.flags.0);
            }
        }
        let (mut d4, mut d6) = (Vec::new(), Vec::new());
        for a in &self.dropped {
            compact(a, &mut d4, &mut d6);
        }
        let mut root = OwnedValue::dict()
            .insert("added", a4)
            .insert("added.f", f4)
            .insert("dropped", d4);
        // IPv6 keys only when there are IPv6 peers: older clients choke on
        // nothing, but smaller messages are kinder.
        if !a6.is_empty() || !d6.is_empty() {
            root = root
                .insert("added6", a6)
                .insert("added6.f", f6)
                .insert("dropped6", d6);
        }
        arietta_bencode::encode(&root)
    }

    /// Parses a received payload. Missing keys mean empty lists; a missing
    /// or short flags string means flags 0 for the peers it does not cover.
    /// A payload that is not a bencoded dictionary, or a key of the wrong
    /// type, is an error (the engine then ignores the message, it does not
    /// drop the peer).
    pub fn decode(payload: &[u8]) -> Result<PexMessage> {
        let bad = |_| Error::BadPex("not bencode");
        let (root, _) = arietta_bencode::decode_prefix_with(payload, PEX_LIMITS).map_err(bad)?;
        if root.as_dict().is_none() {
            return Err(Error::BadPex("not a dictionary"));
        }
        let bytes = |key: &'static str| -> Result<&[u8]> {
            match root.get(key) {
                None => Ok(&[]),
                Some(v) => v.as_bytes().ok_or(Error::BadPex(key)),
            }
        };
        let mut msg = PexMessage::default();
        for (list, flags, v6) in [("added", "added.f", false), ("added6", "added6.f", true)] {
            let flags = bytes(flags)?;
            let peers = parse_compact_with_flags(bytes(list)?, flags, v6);
            msg.added.extend(peers);
        }
        msg.dropped = parse_compact(bytes("dropped")?, false);
        msg.dropped.extend(parse_compact(bytes("dropped6")?, true));
        Ok(msg)
    }
}

/// Like [`parse_compact`], but keeps each entry's flag byte aligned with
/// its position in the list even when entries are filtered out.
fn parse_compact_with_flags(bytes: &[u8], flags: &[u8], v6: bool) -> Vec<PexPeer> {
    let entry = if v6 { 18 } else { 6 };
    bytes
        .chunks_exact(entry)
        .take(MAX_PEERS_PER_LIST)
        .enumerate()
        .filter_map(|(i, c)| {
            let addr = *parse_compact(c, v6).first()?;
            let flags = PexFlags(flags.get(i).copied().unwrap_or(0));
            Some(PexPeer { addr, flags })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str, flags: u8) -> PexPeer {
        PexPeer {
            addr: s.parse().unwrap(),
            flags: PexFlags(flags),
        }
    }

    #[test]
    fn round_trip_v4_and_v6() {
        let msg = PexMessage {
            added: vec![
                peer("10.0.0.1:6881", PexFlags::SEED | PexFlags::REACHABLE),
                peer("[2001:db8::1]:51413", PexFlags::PREFERS_ENCRYPTION),
                peer("192.168.1.2:1", 0),
            ],
            dropped: vec!["1.2.3.4:5".parse().unwrap(), "[::2]:7".parse().unwrap()],
        };
        let wire = msg.encode();
        let back = PexMessage::decode(&wire).unwrap();
        // Decoding groups by family: v4 first.
        assert_eq!(back.added.len(), 3);
        assert_eq!(back.added[0], msg.added[0]);
        assert_eq!(back.added[1], msg.added[2]);
        assert_eq!(back.added[2], msg.added[1]);
        assert!(back.added[0].flags.has(PexFlags::SEED));
        assert_eq!(back.dropped, msg.dropped);
    }

    #[test]
    fn decodes_a_libtorrent_style_message() {
        // added: 1.2.3.4:0x1ae1 (6881) and 5.6.7.8:0x1ae2, one flag byte only.
        let mut wire = b"d5:added12:".to_vec();
        wire.extend_from_slice(&[1, 2, 3, 4, 0x1a, 0xe1, 5, 6, 7, 8, 0x1a, 0xe2]);
        wire.extend_from_slice(b"7:added.f1:\x027:dropped0:e");
        let m = PexMessage::decode(&wire).unwrap();
        assert_eq!(
            m.added,
            vec![peer("1.2.3.4:6881", 2), peer("5.6.7.8:6882", 0)]
        );
        assert!(m.dropped.is_empty());
        // Empty dict: nothing.
        assert!(PexMessage::decode(b"de").unwrap().is_empty());
    }

    #[test]
    fn hostile_input_is_bounded_or_refused() {
        assert!(PexMessage::decode(b"").is_err());
        assert!(PexMessage::decode(b"li1ee").is_err());
        assert!(PexMessage::decode(b"d5:addedi3ee").is_err());
        // Trailing partial entry, port 0 and 0.0.0.0 are dropped.
        let mut wire = b"d5:added15:".to_vec();
        wire.extend_from_slice(&[1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 1, 1, 9, 9, 9]);
        wire.extend_from_slice(b"e");
        assert!(PexMessage::decode(&wire).unwrap().added.is_empty());
        // Thousands of peers: capped.
        let many = vec![7u8; 6 * 3000];
        let mut wire = format!("d5:added{}:", many.len()).into_bytes();
        wire.extend_from_slice(&many);
        wire.push(b'e');
        assert!(PexMessage::decode(&wire).is_err(), "over the size limit");
        let many = vec![7u8; 6 * 400];
        let mut wire = format!("d5:added{}:", many.len()).into_bytes();
        wire.extend_from_slice(&many);
        wire.push(b'e');
        assert_eq!(
            PexMessage::decode(&wire).unwrap().added.len(),
            MAX_PEERS_PER_LIST
        );
    }

    #[test]
    fn diff_reports_changes_only() {
        let a = peer("10.0.0.1:1", 0);
        let b = peer("10.0.0.2:1", 0);
        let c = peer("10.0.0.3:1", PexFlags::SEED);
        let m = PexMessage::diff(&[a, b], &[b, c]);
        assert_eq!(m.added, vec![c]);
        assert_eq!(m.dropped, vec![a.addr]);
        assert!(PexMessage::diff(&[a], &[a]).is_empty());
        let many: Vec<PexPeer> = (0..120u16)
            .map(|i| peer(&format!("10.1.0.1:{}", i + 1), 0))
            .collect();
        assert_eq!(PexMessage::diff(&[], &many).added.len(), MAX_SENT_PER_LIST);
    }
}
