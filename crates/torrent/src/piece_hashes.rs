//! What each piece must hash to: SHA-1 for v1 (and hybrid) torrents, or a
//! BEP 52 SHA-256 merkle root for v2-only ones.
//!
//! v2 hashes 16 KiB blocks and builds a binary tree over each file. A piece
//! of a file longer than one piece is checked against its entry in the
//! file's `piece layers` (the root of that piece's subtree, missing leaves
//! being zero hashes); a file of at most one piece has no layer and its
//! piece is checked against the file's `pieces root` (a tree over its own
//! blocks, padded to a power of two). v2 files start on piece boundaries,
//! so a file's last piece ends early: only its data part is hashed.

use arietta_metainfo::Metainfo;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::TorrentError;

/// BEP 52's leaf size.
const BLOCK: usize = 16 * 1024;

/// The expected hash of one v2 piece.
#[derive(Clone, Debug)]
pub struct V2Piece {
    root: [u8; 32],
    /// Bytes of file data in the piece (the rest, if any, is alignment).
    data_len: usize,
    /// Leaves the subtree has: the piece's blocks, or the file's blocks
    /// rounded up to a power of two for a file of one piece.
    leaves: usize,
}

/// Expected hashes for every piece of a torrent.
#[derive(Clone, Debug)]
pub enum PieceHashes {
    /// Concatenated SHA-1 digests, 20 bytes a piece.
    V1(Vec<u8>),
    /// One entry per piece; `None` where the torrent gives no hash (never
    /// passes).
    V2(Vec<Option<V2Piece>>),
}

impl PieceHashes {
    /// The hashes `meta` gives: v1 when it has them (hybrids download as
    /// v1), otherwise its v2 piece layers and pieces roots.
    pub fn new(meta: &Metainfo) -> Result<PieceHashes, TorrentError> {
        if meta.info_hash_v1.is_some() {
            return Ok(PieceHashes::V1(meta.pieces.clone()));
        }
        let pl = meta.piece_length;
        let count = usize::try_from(meta.piece_count).map_err(|_| bad("too many pieces"))?;
        let mut pieces = vec![None; count];
        for f in meta.files.iter().filter(|f| f.length > 0 && !f.padding) {
            let root = f
                .pieces_root
                .ok_or_else(|| bad("a file has no pieces root"))?;
            let first = f.offset / pl;
            let n = f.length.div_ceil(pl);
            if f.length <= pl {
                let blocks = (f.length as usize).div_ceil(BLOCK);
                let slot = pieces
                    .get_mut(first as usize)
                    .ok_or_else(|| bad("file past the last piece"))?;
                *slot = Some(V2Piece {
                    root,
                    data_len: f.length as usize,
                    leaves: blocks.next_power_of_two(),
                });
                continue;
            }
            let layer = meta
                .piece_layers
                .get(&root)
                .ok_or_else(|| bad("a file's piece layer is missing"))?;
            if layer.len() as u64 != n * 32 {
                return Err(bad("a piece layer has the wrong length"));
            }
            if merkle_root(
                layer.chunks(32).map(to_hash).collect(),
                n.next_power_of_two() as usize,
                &pad_hash(pl as usize / BLOCK),
            ) != root
            {
                return Err(bad("a piece layer does not match its pieces root"));
            }
            for (i, h) in layer.chunks(32).enumerate() {
                let slot = pieces
                    .get_mut((first + i as u64) as usize)
                    .ok_or_else(|| bad("file past the last piece"))?;
                let data = (f.length - i as u64 * pl).min(pl) as usize;
                *slot = Some(V2Piece {
                    root: to_hash(h),
                    data_len: data,
                    leaves: pl as usize / BLOCK,
                });
            }
        }
        Ok(PieceHashes::V2(pieces))
    }

    /// Whether `data` (the whole piece as laid out, alignment included) is
    /// piece `index`.
    pub fn matches(&self, index: u32, data: &[u8]) -> bool {
        match self {
            PieceHashes::V1(h) => {
                let i = index as usize * 20;
                h.get(i..i + 20)
                    .is_some_and(|e| Sha1::digest(data).as_slice() == e)
            }
            PieceHashes::V2(p) => match p.get(index as usize) {
                Some(Some(p)) => data
                    .get(..p.data_len)
                    .is_some_and(|d| piece_root(d, p.leaves) == p.root),
                _ => false,
            },
        }
    }
}

fn bad(why: &'static str) -> TorrentError {
    TorrentError::PieceLayers(why)
}

fn to_hash(b: &[u8]) -> [u8; 32] {
    let mut h = [0u8; 32];
    h.copy_from_slice(b);
    h
}

fn pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut s = Sha256::new();
    s.update(a);
    s.update(b);
    s.finalize().into()
}

/// The root of a tree of `leaves` zero leaves: what a missing subtree
/// of that size hashes to.
fn pad_hash(leaves: usize) -> [u8; 32] {
    let mut h = [0u8; 32];
    let mut n = 1;
    while n < leaves {
        h = pair(&h, &h);
        n *= 2;
    }
    h
}

/// The root over `nodes`, completed to `width` (a power of two) with
/// `pad`, the hash of a missing node at this level.
fn merkle_root(mut nodes: Vec<[u8; 32]>, width: usize, pad: &[u8; 32]) -> [u8; 32] {
    nodes.resize(width.max(1), *pad);
    while nodes.len() > 1 {
        nodes = nodes.chunks(2).map(|c| pair(&c[0], &c[1])).collect();
    }
    nodes[0]
}

/// The root of `data`'s 16 KiB blocks in a subtree of `leaves` leaves.
fn piece_root(data: &[u8], leaves: usize) -> [u8; 32] {
    let blocks: Vec<[u8; 32]> = data
        .chunks(BLOCK)
        .map(|b| Sha256::digest(b).into())
        .collect();
    merkle_root(blocks, leaves, &[0u8; 32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_block_is_its_hash() {
        let d = vec![7u8; 100];
        assert_eq!(piece_root(&d, 1), <[u8; 32]>::from(Sha256::digest(&d)));
    }

    #[test]
    fn short_piece_pads_with_zero_leaves() {
        let d = vec![1u8; BLOCK + 5];
        let a: [u8; 32] = Sha256::digest(&d[..BLOCK]).into();
        let b: [u8; 32] = Sha256::digest(&d[BLOCK..]).into();
        let z = [0u8; 32];
        assert_eq!(piece_root(&d, 4), pair(&pair(&a, &b), &pair(&z, &z)));
        assert_eq!(pad_hash(2), pair(&z, &z));
    }
}
