//! The routing table file (`--dht-file-path`): saved at exit, loaded at
//! start so we need not bootstrap from scratch.
//!
//! Layout (all integers big-endian):
//! ```text
//! magic "ARDH" | version u8 (1) | reserved [u8; 3] | saved_at u64 (Unix s)
//! own_id [u8; 20] | count u32
//! count × { id [u8; 20] | family u8 (4|6) | ip [u8; 4|16] | port u16 }
//! sha1 [u8; 20] over everything above
//! ```
//! The checksum catches truncated or half-written files (a crash during
//! save); a bad file is an error and the caller bootstraps instead.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use sha1::{Digest, Sha1};

use crate::error::DhtError;
use crate::node_id::{Node, NodeId};

const MAGIC: &[u8; 4] = b"ARDH";
const VERSION: u8 = 1;
const HEADER: usize = 4 + 1 + 3 + 8 + 20 + 4;

/// The contents of a table file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedTable {
    pub own_id: NodeId,
    /// When it was saved (Unix seconds), so stale tables can be distrusted.
    pub saved_at: u64,
    pub nodes: Vec<Node>,
}

/// Serializes a table.
pub fn save_table(own_id: NodeId, nodes: &[Node], saved_at: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + nodes.len() * 39 + 20);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&saved_at.to_be_bytes());
    out.extend_from_slice(&own_id.0);
    let count = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for n in nodes.iter().take(count as usize) {
        out.extend_from_slice(&n.id.0);
        match n.addr.ip() {
            IpAddr::V4(ip) => {
                out.push(4);
                out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                out.push(6);
                out.extend_from_slice(&ip.octets());
            }
        }
        out.extend_from_slice(&n.addr.port().to_be_bytes());
    }
    let sum = Sha1::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Parses a table file, verifying magic, version and checksum.
pub fn load_table(bytes: &[u8]) -> Result<SavedTable, DhtError> {
    let bad = DhtError::TableFile;
    if bytes.len() < HEADER + 20 {
        return Err(bad("truncated"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 20);
    if Sha1::digest(body).as_slice() != sum {
        return Err(bad("checksum mismatch"));
    }
    if body.get(..4) != Some(MAGIC) {
        return Err(bad("not a DHT table file"));
    }
    if body.get(4) != Some(&VERSION) {
        return Err(bad("unsupported version"));
    }
    let mut r = Reader { b: body, pos: 8 };
    let saved_at = u64::from_be_bytes(r.array()?);
    let own_id = NodeId(r.array()?);
    let count = u32::from_be_bytes(r.array()?);
    let mut nodes = Vec::with_capacity((count as usize).min(body.len() / 27));
    for _ in 0..count {
        let id = NodeId(r.array()?);
        let [family] = r.array()?;
        let ip: IpAddr = match family {
            4 => Ipv4Addr::from(r.array::<4>()?).into(),
            6 => Ipv6Addr::from(r.array::<16>()?).into(),
            _ => return Err(bad("bad address family")),
        };
        let port = u16::from_be_bytes(r.array()?);
        nodes.push(Node {
            id,
            addr: SocketAddr::new(ip, port),
        });
    }
    if r.pos != body.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(SavedTable {
        own_id,
        saved_at,
        nodes,
    })
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DhtError> {
        let end = self
            .pos
            .checked_add(N)
            .ok_or(DhtError::TableFile("truncated"))?;
        let s = self
            .b
            .get(self.pos..end)
            .ok_or(DhtError::TableFile("truncated"))?;
        self.pos = end;
        s.try_into().map_err(|_| DhtError::TableFile("truncated"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let nodes = vec![
            Node {
                id: NodeId([1; 20]),
                addr: "1.2.3.4:6881".parse().unwrap(),
            },
            Node {
                id: NodeId([2; 20]),
                addr: "[2001:db8::5]:51413".parse().unwrap(),
            },
        ];
        let bytes = save_table(NodeId([9; 20]), &nodes, 1_700_000_000);
        let t = load_table(&bytes).unwrap();
        assert_eq!(
            t,
            SavedTable {
                own_id: NodeId([9; 20]),
                saved_at: 1_700_000_000,
                nodes: nodes.clone()
            }
        );
        for cut in 0..bytes.len() {
            assert!(load_table(&bytes[..cut]).is_err());
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            assert!(load_table(&b).is_err(), "flip at {i}");
        }
        assert_eq!(
            load_table(&save_table(NodeId::default(), &[], 0))
                .unwrap()
                .nodes,
            vec![]
        );
    }

    #[test]
    fn valid_checksum_bad_contents() {
        // Forge a checksum over a body with a huge count: must not allocate or panic.
        let mut body = save_table(NodeId::default(), &[], 0);
        body.truncate(body.len() - 20);
        let n = body.len();
        body[n - 4..].copy_from_slice(&u32::MAX.to_be_bytes());
        let sum = Sha1::digest(&body);
        body.extend_from_slice(&sum);
        assert!(load_table(&body).is_err());
    }
}
