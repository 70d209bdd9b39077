//! The routing table file (`--dht-file-path`, `--dht-file-path6`): saved
//! at exit, loaded at start so we need not bootstrap from scratch. It is
//! aria2's file, byte for byte (its `DHTRoutingTableSerializer`, format
//! version 3; version 2 is read too), because the two share the default
//! path `~/.cache/aria2/dht.dat`: each reads what the other saved.
//!
//! Layout (integers big-endian):
//! ```text
//! a1 a2 | 02 | 00 00 00 | 00 03            magic, format, reserved, version
//! saved_at u64 (Unix s)                    (version 2: u32, 4 reserved)
//! [0; 8] | own_id [u8; 20] | [0; 4]
//! count u32 | [0; 4]
//! count × { len u8 (6|18) | [0; 7] | compact ip+port, padded to 24
//!           | id [u8; 20] | [0; 4] }       56 bytes each
//! ```
//! aria2 has no checksum: a file cut short is an error (the caller then
//! bootstraps), an entry of the other family or with a zero address is
//! skipped, as aria2 skips it.

use crate::error::DhtError;
use crate::node_id::{compact_addr, parse_compact_addr, Node, NodeId};

const MAGIC: [u8; 3] = [0xa1, 0xa2, 0x02];
const VERSION: u8 = 3;
const HEADER: usize = 8 + 8 + 8 + 20 + 4 + 4 + 4;
const ENTRY: usize = 1 + 7 + 24 + 20 + 4;

/// The contents of a table file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedTable {
    pub own_id: NodeId,
    /// When it was saved (Unix seconds), so stale tables can be distrusted.
    pub saved_at: u64,
    pub nodes: Vec<Node>,
}

/// Serializes a table as aria2 does; each node carries its own family's
/// compact form (a node's table holds one family, as aria2's files do).
pub fn save_table(own_id: NodeId, nodes: &[Node], saved_at: u64) -> Vec<u8> {
    let count = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER + count as usize * ENTRY);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[0, 0, 0, 0, VERSION]);
    out.extend_from_slice(&saved_at.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&own_id.0);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    for n in nodes.iter().take(count as usize) {
        let compact = compact_addr(&n.addr);
        out.push(compact.len() as u8);
        out.extend_from_slice(&[0; 7]);
        out.extend_from_slice(&compact);
        out.extend_from_slice(&[0u8; 24][compact.len()..]);
        out.extend_from_slice(&n.id.0);
        out.extend_from_slice(&[0; 4]);
    }
    out
}

/// Parses a table file of aria2's versions 2 and 3.
pub fn load_table(bytes: &[u8]) -> Result<SavedTable, DhtError> {
    let bad = DhtError::TableFile;
    let mut r = Reader { b: bytes, pos: 0 };
    let header: [u8; 8] = r.array()?;
    let version = match header {
        [0xa1, 0xa2, 0x02, 0, 0, 0, 0, v @ (2 | 3)] => v,
        _ => return Err(bad("bad header")),
    };
    let saved_at = if version == 2 {
        let t = u32::from_be_bytes(r.array()?);
        r.array::<4>()?;
        u64::from(t)
    } else {
        u64::from_be_bytes(r.array()?)
    };
    r.array::<8>()?;
    let own_id = NodeId(r.array()?);
    r.array::<4>()?;
    let count = u32::from_be_bytes(r.array()?);
    r.array::<4>()?;
    let room = bytes.len().saturating_sub(r.pos) / ENTRY;
    if count as usize > room {
        return Err(bad("truncated"));
    }
    let mut nodes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let [len] = r.array()?;
        r.array::<7>()?;
        let compact: [u8; 24] = r.array()?;
        let id = NodeId(r.array()?);
        r.array::<4>()?;
        // Another length is another family's entry; an all-zero address
        // one aria2 wrote for a node it could not pack: both skipped.
        let Some(peer) = compact.get(..usize::from(len)) else {
            continue;
        };
        let Some(addr) = parse_compact_addr(peer).filter(|_| peer.iter().any(|&b| b != 0)) else {
            continue;
        };
        nodes.push(Node { id, addr });
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

    fn nodes() -> Vec<Node> {
        vec![
            Node {
                id: NodeId([1; 20]),
                addr: "1.2.3.4:6881".parse().unwrap(),
            },
            Node {
                id: NodeId([2; 20]),
                addr: "[2001:db8::5]:51413".parse().unwrap(),
            },
        ]
    }

    #[test]
    fn round_trip_and_truncation() {
        let bytes = save_table(NodeId([9; 20]), &nodes(), 1_700_000_000);
        assert_eq!(bytes.len(), HEADER + 2 * ENTRY);
        let t = load_table(&bytes).unwrap();
        assert_eq!(
            t,
            SavedTable {
                own_id: NodeId([9; 20]),
                saved_at: 1_700_000_000,
                nodes: nodes()
            }
        );
        for cut in 0..bytes.len() {
            assert!(load_table(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(
            load_table(&save_table(NodeId::default(), &[], 0))
                .unwrap()
                .nodes,
            vec![]
        );
    }

    #[test]
    fn aria2s_layout_byte_for_byte() {
        let b = save_table(NodeId([9; 20]), &nodes()[..1], 0x0102_0304);
        assert_eq!(&b[..8], &[0xa1, 0xa2, 0x02, 0, 0, 0, 0, 0x03]);
        assert_eq!(&b[8..16], &0x0102_0304u64.to_be_bytes());
        assert_eq!(&b[24..44], &[9; 20]);
        assert_eq!(&b[48..52], &1u32.to_be_bytes());
        let e = &b[HEADER..];
        assert_eq!(e[0], 6);
        assert_eq!(&e[8..14], &[1, 2, 3, 4, 0x1a, 0xe1]);
        assert_eq!(&e[32..52], &[1; 20]);
    }

    #[test]
    fn version_2_and_odd_entries() {
        let mut b = save_table(NodeId([9; 20]), &nodes()[..1], 0);
        // Version 2: a 32-bit time then 4 reserved bytes.
        b[7] = 2;
        b[8..16].copy_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0]);
        let t = load_table(&b).unwrap();
        assert_eq!((t.saved_at, t.nodes.len()), (7, 1));
        // An entry with a zero address or an unknown length is skipped.
        b[HEADER + 8..HEADER + 14].fill(0);
        assert!(load_table(&b).unwrap().nodes.is_empty());
        b[HEADER] = 9;
        assert!(load_table(&b).unwrap().nodes.is_empty());
        b[0] = b'A';
        assert!(load_table(&b).is_err());
    }

    #[test]
    fn a_huge_count_does_not_allocate() {
        let mut b = save_table(NodeId::default(), &[], 0);
        b[48..52].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(load_table(&b).is_err());
    }
}
