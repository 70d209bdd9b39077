//! 160-bit node IDs, XOR distance, and compact node info.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A DHT node ID (or info-hash: they share the key space). `Ord` compares
/// big-endian bytes, so comparing two XOR distances compares closeness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub [u8; 20]);

impl NodeId {
    /// XOR distance to `other`.
    pub fn distance(&self, other: &NodeId) -> NodeId {
        let mut d = [0u8; 20];
        for (i, b) in d.iter_mut().enumerate() {
            *b = self.0[i] ^ other.0[i];
        }
        NodeId(d)
    }

    /// Number of leading bits shared with `other` (160 when equal). This is
    /// the routing table's bucket index.
    pub fn common_prefix_len(&self, other: &NodeId) -> usize {
        let d = self.distance(other);
        for (i, b) in d.0.iter().enumerate() {
            if *b != 0 {
                return i * 8 + b.leading_zeros() as usize;
            }
        }
        160
    }

    /// An ID sharing exactly `prefix` leading bits with `self`, the rest
    /// taken from `random` — a lookup target that refreshes bucket `prefix`.
    pub fn random_in_bucket(&self, prefix: usize, random: [u8; 20]) -> NodeId {
        let mut out = random;
        for bit in 0..prefix.min(160) {
            let (byte, mask) = (bit / 8, 0x80u8 >> (bit % 8));
            out[byte] = (out[byte] & !mask) | (self.0[byte] & mask);
        }
        if prefix < 160 {
            let (byte, mask) = (prefix / 8, 0x80u8 >> (prefix % 8));
            out[byte] = (out[byte] & !mask) | (!self.0[byte] & mask);
        }
        NodeId(out)
    }

    pub(crate) fn from_slice(b: &[u8]) -> Option<NodeId> {
        <[u8; 20]>::try_from(b).ok().map(NodeId)
    }
}

/// A node: its ID and UDP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node {
    pub id: NodeId,
    pub addr: SocketAddr,
}

/// Compact peer info: 6 bytes (IPv4) or 18 bytes (IPv6).
pub(crate) fn compact_addr(addr: &SocketAddr) -> Vec<u8> {
    let mut v = match addr.ip() {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    v.extend_from_slice(&addr.port().to_be_bytes());
    v
}

pub(crate) fn parse_compact_addr(b: &[u8]) -> Option<SocketAddr> {
    match b.len() {
        6 => {
            let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            Some(SocketAddr::new(ip.into(), u16::from_be_bytes([b[4], b[5]])))
        }
        18 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[..16]);
            Some(SocketAddr::new(
                Ipv6Addr::from(o).into(),
                u16::from_be_bytes([b[16], b[17]]),
            ))
        }
        _ => None,
    }
}

/// Compact node info: 20-byte ID followed by compact peer info.
pub(crate) fn compact_nodes(nodes: &[Node], out: &mut Vec<u8>) {
    for n in nodes {
        out.extend_from_slice(&n.id.0);
        out.extend(compact_addr(&n.addr));
    }
}

/// Parses 26-byte (v4) or 38-byte (v6) compact nodes; a trailing partial
/// entry and port-0 nodes are dropped, since real nodes send both.
pub(crate) fn parse_compact_nodes(b: &[u8], entry: usize) -> Vec<Node> {
    b.chunks_exact(entry)
        .filter_map(|c| {
            let id = NodeId::from_slice(c.get(..20)?)?;
            let addr = parse_compact_addr(c.get(20..)?)?;
            (addr.port() != 0).then_some(Node { id, addr })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_prefix() {
        let a = NodeId([0; 20]);
        let mut b = [0u8; 20];
        b[2] = 0x10;
        let b = NodeId(b);
        assert_eq!(a.common_prefix_len(&b), 19);
        assert_eq!(a.common_prefix_len(&a), 160);
        assert_eq!(a.distance(&b), b);
        for prefix in [0, 1, 7, 8, 19, 100, 159] {
            let r = a.random_in_bucket(prefix, [0xff; 20]);
            assert_eq!(a.common_prefix_len(&r), prefix);
            let r = b.random_in_bucket(prefix, [0x00; 20]);
            assert_eq!(b.common_prefix_len(&r), prefix);
        }
    }

    #[test]
    fn compact_round_trip() {
        let nodes = [
            Node {
                id: NodeId([1; 20]),
                addr: "1.2.3.4:5".parse().unwrap(),
            },
            Node {
                id: NodeId([2; 20]),
                addr: "[2001:db8::1]:6881".parse().unwrap(),
            },
        ];
        let mut v4 = Vec::new();
        compact_nodes(&nodes[..1], &mut v4);
        assert_eq!(v4.len(), 26);
        assert_eq!(parse_compact_nodes(&v4, 26), nodes[..1]);
        let mut v6 = Vec::new();
        compact_nodes(&nodes[1..], &mut v6);
        assert_eq!(v6.len(), 38);
        v6.push(0);
        assert_eq!(parse_compact_nodes(&v6, 38), nodes[1..]);
    }
}
