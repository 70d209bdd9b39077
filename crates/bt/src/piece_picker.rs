//! Rarest-first block selection with endgame mode.
//!
//! One [`PiecePicker`] per torrent, owned by the torrent's coordinator
//! actor. Peer tasks on other cores never touch it directly: they send
//! events (a peer's bitfield, a `have`, a received block, a choke, a
//! disconnect) and receive decisions (blocks to request, requests to
//! cancel, contributors to blame for a bad piece). Every method is such an
//! event → decision step, with no clock and no I/O, so the whole policy is
//! unit-testable and deterministic under a seeded RNG.
//!
//! Policy, as aria2 and libtorrent do it:
//! 1. finish pieces already in progress (fewest free blocks first), so
//!    pieces complete, get verified and can be shared quickly;
//! 2. otherwise start the rarest piece the peer has, ties broken at random
//!    so peers with the same view do not all chase the same piece;
//! 3. once every missing block is requested (endgame), request blocks again
//!    from other peers so one slow peer cannot hold up the finish; when a
//!    block arrives, the other requests for it are returned for cancelling.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::bitfield::Bitfield;
use crate::piece_geometry::{BlockRef, PieceGeometry};
use crate::piece_order::{geom_pick, PieceOrder};
use crate::{Error, Result};

/// The coordinator's handle for a connected peer (not the 20-byte BitTorrent
/// peer id, which peers choose and may duplicate).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct PeerKey(pub u64);

#[derive(Clone, Debug, PartialEq, Eq)]
enum BlockState {
    Free,
    Requested(Vec<PeerKey>),
    Received,
}

#[derive(Debug)]
struct Partial {
    blocks: Vec<BlockState>,
    free: u32,
    received: u32,
    contributors: Vec<PeerKey>,
}

#[derive(Debug)]
struct PeerState {
    have: Bitfield,
    requested: HashSet<BlockRef>,
}

/// What became of a received block.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// Not a block we need (already have it, piece done, misaligned): drop
    /// the data.
    Unwanted,
    /// Stored. If `piece_complete`, hash the piece and report back with
    /// [`PiecePicker::piece_passed`] or [`PiecePicker::piece_failed`].
    /// `cancels` lists endgame duplicates to cancel on other peers.
    Accepted {
        /// Every block of the piece is now in.
        piece_complete: bool,
        /// Other peers' outstanding requests for this block.
        cancels: Vec<(PeerKey, BlockRef)>,
    },
}

/// Piece and block accounting for one torrent.
#[derive(Debug)]
pub struct PiecePicker {
    geometry: PieceGeometry,
    have: Bitfield,
    wanted: Bitfield,
    availability: Vec<u32>,
    peers: HashMap<PeerKey, PeerState>,
    partial: BTreeMap<u32, Partial>,
    rng: StdRng,
    order: PieceOrder,
    /// `--bt-prioritize-piece`: started before any other, ascending.
    priority: Vec<u32>,
    /// Where [`PieceOrder::Geom`] starts: the first missing piece when it
    /// first picked (aria2 fixes it when the bitfield is loaded).
    geom_offset: Option<u32>,
}

impl PiecePicker {
    /// A picker with nothing downloaded and every piece wanted. `seed`
    /// makes tie-breaking reproducible in tests; use a random one in
    /// production.
    pub fn new(geometry: PieceGeometry, seed: u64) -> Self {
        let n = geometry.piece_count();
        PiecePicker {
            geometry,
            have: Bitfield::new(n),
            wanted: Bitfield::full(n),
            availability: vec![0; n as usize],
            peers: HashMap::new(),
            partial: BTreeMap::new(),
            rng: StdRng::seed_from_u64(seed),
            order: PieceOrder::default(),
            priority: Vec::new(),
            geom_offset: None,
        }
    }

    /// Which new piece to start (`--stream-piece-selector`).
    pub fn set_order(&mut self, order: PieceOrder) {
        self.order = order;
    }

    /// Pieces to start before all others (`--bt-prioritize-piece`), in
    /// the picker's order among themselves; indices past the end are
    /// ignored.
    pub fn set_priority(&mut self, mut pieces: Vec<u32>) {
        pieces.retain(|&i| i < self.geometry.piece_count());
        pieces.sort_unstable();
        pieces.dedup();
        self.priority = pieces;
    }

    /// The layout this picker works on.
    pub fn geometry(&self) -> &PieceGeometry {
        &self.geometry
    }

    /// Pieces we have (verified).
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// Restricts downloading to `wanted` (`--select-file`): other pieces
    /// are never picked.
    pub fn set_wanted(&mut self, wanted: Bitfield) -> Result<()> {
        if wanted.len() != self.geometry.piece_count() {
            return Err(Error::BadBitfield(
                "wanted set does not match the piece count",
            ));
        }
        self.wanted = wanted;
        Ok(())
    }

    /// Marks a piece as already present (resume from the control file or a
    /// hash check).
    pub fn set_have(&mut self, index: u32) -> Result<()> {
        self.check_index(index)?;
        self.have.set(index, true);
        if let Some(p) = self.partial.remove(&index) {
            self.forget_requests(index, p);
        }
        Ok(())
    }

    /// Bytes received of wanted pieces not yet verified (hashing included):
    /// aria2's in-flight piece length, which its `completedLength` adds
    /// to the verified pieces so a torrent of big pieces moves smoothly.
    pub fn partial_bytes(&self) -> u64 {
        self.partial
            .iter()
            .filter(|(i, _)| self.wanted.get(**i))
            .map(|(&i, p)| {
                p.blocks
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| matches!(b, BlockState::Received))
                    .map(|(n, _)| {
                        self.geometry
                            .block(i, n as u32)
                            .map_or(0, |b| u64::from(b.length))
                    })
                    .sum::<u64>()
            })
            .sum()
    }

    /// True once every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        (0..self.geometry.piece_count()).all(|i| self.have.get(i) || !self.wanted.get(i))
    }

    /// How many connected peers have `index`.
    pub fn availability(&self, index: u32) -> u32 {
        self.availability.get(index as usize).copied().unwrap_or(0)
    }

    fn check_index(&self, index: u32) -> Result<()> {
        if index < self.geometry.piece_count() {
            Ok(())
        } else {
            Err(Error::PieceOutOfRange {
                index,
                count: self.geometry.piece_count(),
            })
        }
    }

    fn peer_mut(&mut self, peer: PeerKey) -> &mut PeerState {
        let n = self.geometry.piece_count();
        self.peers.entry(peer).or_insert_with(|| PeerState {
            have: Bitfield::new(n),
            requested: HashSet::new(),
        })
    }

    /// Registers a connection (implicit in every other peer event too).
    pub fn add_peer(&mut self, peer: PeerKey) {
        self.peer_mut(peer);
    }

    /// A peer's `bitfield` message (already validated against the piece
    /// count with [`Bitfield::from_wire`]). Replaces what we knew.
    pub fn peer_bitfield(&mut self, peer: PeerKey, have: &Bitfield) -> Result<()> {
        if have.len() != self.geometry.piece_count() {
            return Err(Error::BadBitfield("length does not match the piece count"));
        }
        let old = std::mem::replace(&mut self.peer_mut(peer).have, have.clone());
        for i in old.iter_ones() {
            self.availability[i as usize] = self.availability[i as usize].saturating_sub(1);
        }
        for i in have.iter_ones() {
            self.availability[i as usize] += 1;
        }
        Ok(())
    }

    /// BEP 6 `have all`.
    pub fn peer_have_all(&mut self, peer: PeerKey) {
        let full = Bitfield::full(self.geometry.piece_count());
        // Lengths match by construction.
        let _ = self.peer_bitfield(peer, &full);
    }

    /// BEP 6 `have none`.
    pub fn peer_have_none(&mut self, peer: PeerKey) {
        let empty = Bitfield::new(self.geometry.piece_count());
        let _ = self.peer_bitfield(peer, &empty);
    }

    /// A `have` message. Returns true when the piece is one we still want,
    /// i.e. the peer may have just become interesting.
    pub fn peer_have(&mut self, peer: PeerKey, index: u32) -> Result<bool> {
        self.check_index(index)?;
        let state = self.peer_mut(peer);
        if !state.have.get(index) {
            state.have.set(index, true);
            self.availability[index as usize] += 1;
        }
        Ok(self.wanted.get(index) && !self.have.get(index))
    }

    /// Whether the peer has any piece we want and lack (send `interested`).
    pub fn is_interesting(&self, peer: PeerKey) -> bool {
        self.peers.get(&peer).is_some_and(|p| {
            p.have
                .iter_ones()
                .any(|i| self.wanted.get(i) && !self.have.get(i))
        })
    }

    /// Blocks the peer has been asked for and not yet delivered.
    pub fn outstanding(&self, peer: PeerKey) -> usize {
        self.peers.get(&peer).map_or(0, |p| p.requested.len())
    }

    /// A peer disconnected: its pieces no longer count towards availability
    /// and its outstanding requests become free for others. Returns them.
    pub fn remove_peer(&mut self, peer: PeerKey) -> Vec<BlockRef> {
        let Some(state) = self.peers.remove(&peer) else {
            return Vec::new();
        };
        for i in state.have.iter_ones() {
            self.availability[i as usize] = self.availability[i as usize].saturating_sub(1);
        }
        let mut freed: Vec<BlockRef> = state.requested.into_iter().collect();
        freed.sort();
        for b in &freed {
            self.unrequest(peer, b);
        }
        freed
    }

    /// The peer choked us (without the fast extension all its pending
    /// requests are void) or we gave up on it (snubbed): release every
    /// outstanding request. Returns them.
    pub fn peer_choked(&mut self, peer: PeerKey) -> Vec<BlockRef> {
        let Some(state) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let mut freed: Vec<BlockRef> = state.requested.drain().collect();
        freed.sort();
        for b in &freed {
            self.unrequest(peer, b);
        }
        freed
    }

    /// One request will not be answered (BEP 6 `reject`, our `cancel`, a
    /// per-request timeout): the block becomes pickable again unless other
    /// peers also have it requested.
    pub fn request_failed(&mut self, peer: PeerKey, block: &BlockRef) {
        if let Some(state) = self.peers.get_mut(&peer) {
            if state.requested.remove(block) {
                self.unrequest(peer, block);
            }
        }
    }

    fn unrequest(&mut self, peer: PeerKey, block: &BlockRef) {
        let Some(n) = self.geometry.block_number(block) else {
            return;
        };
        let Some(p) = self.partial.get_mut(&block.index) else {
            return;
        };
        if let Some(BlockState::Requested(who)) = p.blocks.get_mut(n as usize) {
            who.retain(|&k| k != peer);
            if who.is_empty() {
                p.blocks[n as usize] = BlockState::Free;
                p.free += 1;
            }
        }
    }

    fn forget_requests(&mut self, index: u32, partial: Partial) {
        for (n, state) in partial.blocks.into_iter().enumerate() {
            if let BlockState::Requested(who) = state {
                if let Some(b) = self.geometry.block(index, n as u32) {
                    for k in who {
                        if let Some(ps) = self.peers.get_mut(&k) {
                            ps.requested.remove(&b);
                        }
                    }
                }
            }
        }
    }

    /// Chooses up to `max` blocks to request from `peer` and records them
    /// as requested. With `allowed` set (BEP 6 allowed-fast pieces while
    /// the peer chokes us) only those pieces are considered.
    pub fn pick(&mut self, peer: PeerKey, max: usize, allowed: Option<&[u32]>) -> Vec<BlockRef> {
        let mut picked = Vec::new();
        if max == 0 || !self.peers.contains_key(&peer) {
            return picked;
        }
        let ok = |i: u32| allowed.is_none_or(|a| a.contains(&i));

        // 1. Pieces in progress, nearly finished first (lowest first in
        //    order).
        let by_index = self.order == PieceOrder::InOrder;
        let mut in_progress: Vec<(u32, u32)> = self
            .partial
            .iter()
            .filter(|(&i, p)| p.free > 0 && ok(i) && self.peer_has(peer, i))
            .map(|(&i, p)| (if by_index { 0 } else { p.free }, i))
            .collect();
        in_progress.sort_unstable();
        for (_, index) in in_progress {
            self.take_free_blocks(peer, index, max, &mut picked);
            if picked.len() >= max {
                return picked;
            }
        }

        // 2. A new piece: a prioritized one first, then any, each in the
        //    picker's order.
        while picked.len() < max {
            let Some(index) = self.next_unstarted(peer, &ok) else {
                break;
            };
            let blocks = self.geometry.block_count(index);
            self.partial.insert(
                index,
                Partial {
                    blocks: vec![BlockState::Free; blocks as usize],
                    free: blocks,
                    received: 0,
                    contributors: Vec::new(),
                },
            );
            self.take_free_blocks(peer, index, max, &mut picked);
        }

        // 3. Endgame: nothing is free anywhere, duplicate requests.
        if picked.len() < max && self.in_endgame() {
            let mut candidates: Vec<(usize, BlockRef)> = Vec::new();
            for (&index, p) in &self.partial {
                if !ok(index) || !self.peer_has(peer, index) {
                    continue;
                }
                for (n, state) in p.blocks.iter().enumerate() {
                    if let BlockState::Requested(who) = state {
                        if !who.contains(&peer) {
                            if let Some(b) = self.geometry.block(index, n as u32) {
                                candidates.push((who.len(), b));
                            }
                        }
                    }
                }
            }
            candidates.sort_unstable();
            for (_, b) in candidates.into_iter().take(max - picked.len()) {
                if let Some(p) = self.partial.get_mut(&b.index) {
                    if let Some(n) = self.geometry.block_number(&b) {
                        if let Some(BlockState::Requested(who)) = p.blocks.get_mut(n as usize) {
                            who.push(peer);
                        }
                    }
                }
                self.peer_mut(peer).requested.insert(b);
                picked.push(b);
            }
        }
        picked
    }

    fn peer_has(&self, peer: PeerKey, index: u32) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.have.get(index))
    }

    /// A piece to start with `peer`: wanted, missing, not in progress,
    /// one the peer has and `ok` allows.
    fn startable(&self, peer: PeerKey, i: u32, ok: &dyn Fn(u32) -> bool) -> bool {
        !self.have.get(i)
            && self.wanted.get(i)
            && !self.partial.contains_key(&i)
            && ok(i)
            && self.peer_has(peer, i)
    }

    fn next_unstarted(&mut self, peer: PeerKey, ok: &dyn Fn(u32) -> bool) -> Option<u32> {
        if !self.priority.is_empty() {
            let prio: Vec<u32> = self
                .priority
                .iter()
                .copied()
                .filter(|&i| self.startable(peer, i, ok))
                .collect();
            let order = match self.order {
                PieceOrder::Geom => PieceOrder::InOrder,
                o => o,
            };
            if let Some(i) = self.choose(order, prio) {
                return Some(i);
            }
        }
        if self.order == PieceOrder::Geom {
            let count = self.geometry.piece_count();
            let offset = *self.geom_offset.get_or_insert_with(|| {
                (0..count)
                    .find(|&i| !self.have.get(i) && self.wanted.get(i))
                    .unwrap_or(0)
            });
            let found = geom_pick(
                count,
                offset,
                |i| self.partial.contains_key(&i),
                |i| self.startable(peer, i, ok),
            );
            if found.is_some() {
                return found;
            }
        }
        let candidates: Vec<u32> = match self.peers.get(&peer) {
            Some(state) => state
                .have
                .iter_ones()
                .filter(|&i| self.startable(peer, i, ok))
                .collect(),
            None => return None,
        };
        let order = match self.order {
            PieceOrder::Geom => PieceOrder::RarestFirst,
            o => o,
        };
        self.choose(order, candidates)
    }

    /// One of `candidates` (ascending) by `order`; geom is done by the
    /// caller.
    fn choose(&mut self, order: PieceOrder, candidates: Vec<u32>) -> Option<u32> {
        match order {
            PieceOrder::InOrder | PieceOrder::Geom => candidates.first().copied(),
            PieceOrder::Random => (!candidates.is_empty())
                .then(|| candidates[self.rng.gen_range(0..candidates.len())]),
            PieceOrder::RarestFirst => self.rarest_of(candidates),
        }
    }

    fn rarest_of(&mut self, candidates: Vec<u32>) -> Option<u32> {
        let mut best: Option<(u32, u32)> = None;
        let mut ties = 0u32;
        for i in candidates {
            let avail = self.availability[i as usize];
            match best {
                Some((a, _)) if avail > a => {}
                Some((a, _)) if avail == a => {
                    ties += 1;
                    if self.rng.gen_range(0..ties) == 0 {
                        best = Some((avail, i));
                    }
                }
                _ => {
                    best = Some((avail, i));
                    ties = 1;
                }
            }
        }
        best.map(|(_, i)| i)
    }

    fn take_free_blocks(&mut self, peer: PeerKey, index: u32, max: usize, out: &mut Vec<BlockRef>) {
        let Some(p) = self.partial.get_mut(&index) else {
            return;
        };
        let mut newly = Vec::new();
        for (n, state) in p.blocks.iter_mut().enumerate() {
            if out.len() + newly.len() >= max {
                break;
            }
            if *state == BlockState::Free {
                if let Some(b) = self.geometry.block(index, n as u32) {
                    *state = BlockState::Requested(vec![peer]);
                    p.free -= 1;
                    newly.push(b);
                }
            }
        }
        let requested = &mut self.peer_mut(peer).requested;
        requested.extend(newly.iter().copied());
        out.extend(newly);
    }

    /// True when no wanted block is free any more: every missing block is
    /// requested from someone (or received and awaiting the hash check).
    pub fn in_endgame(&self) -> bool {
        if self.is_complete() {
            return false;
        }
        let unstarted = (0..self.geometry.piece_count())
            .any(|i| self.wanted.get(i) && !self.have.get(i) && !self.partial.contains_key(&i));
        !unstarted && self.partial.values().all(|p| p.free == 0)
    }

    /// A `piece` message's data arrived from `peer` (after validating its
    /// bounds). Blocks we did not request are still taken if we need them:
    /// after a choke the peer may deliver what we already gave up on.
    pub fn block_received(&mut self, peer: PeerKey, block: &BlockRef) -> BlockOutcome {
        let Some(n) = self.geometry.block_number(block) else {
            return BlockOutcome::Unwanted;
        };
        if let Some(ps) = self.peers.get_mut(&peer) {
            ps.requested.remove(block);
        }
        let Some(p) = self.partial.get_mut(&block.index) else {
            return BlockOutcome::Unwanted;
        };
        let Some(slot) = p.blocks.get_mut(n as usize) else {
            return BlockOutcome::Unwanted;
        };
        let mut cancels = Vec::new();
        match std::mem::replace(slot, BlockState::Received) {
            BlockState::Received => return BlockOutcome::Unwanted,
            BlockState::Free => p.free -= 1,
            BlockState::Requested(who) => {
                cancels = who
                    .into_iter()
                    .filter(|&k| k != peer)
                    .map(|k| (k, *block))
                    .collect();
            }
        }
        p.received += 1;
        if !p.contributors.contains(&peer) {
            p.contributors.push(peer);
        }
        let piece_complete = p.received as usize == p.blocks.len();
        for (k, b) in &cancels {
            if let Some(ps) = self.peers.get_mut(k) {
                ps.requested.remove(b);
            }
        }
        BlockOutcome::Accepted {
            piece_complete,
            cancels,
        }
    }

    /// The piece hashed correctly: it is ours to announce (`have`).
    pub fn piece_passed(&mut self, index: u32) -> Result<()> {
        self.set_have(index)
    }

    /// The piece failed its hash check: every block is downloaded again.
    /// Returns the peers that contributed blocks, so the session can count
    /// strikes against them and ban repeat offenders (a peer that sent the
    /// whole piece alone is certainly guilty).
    pub fn piece_failed(&mut self, index: u32) -> Result<Vec<PeerKey>> {
        self.check_index(index)?;
        let Some(p) = self.partial.remove(&index) else {
            return Ok(Vec::new());
        };
        let contributors = p.contributors.clone();
        self.forget_requests(index, p);
        Ok(contributors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::piece_geometry::BLOCK_LEN;

    const A: PeerKey = PeerKey(1);
    const B: PeerKey = PeerKey(2);
    const C: PeerKey = PeerKey(3);

    fn picker(pieces: u32, blocks_per_piece: u32) -> PiecePicker {
        let len = BLOCK_LEN * blocks_per_piece;
        PiecePicker::new(
            PieceGeometry::new(len, u64::from(len) * u64::from(pieces)).unwrap(),
            7,
        )
    }

    #[test]
    fn partial_bytes_count_received_blocks_until_the_piece_passes() {
        let mut p = picker(2, 4);
        p.add_peer(A);
        p.peer_have_all(A);
        let got = p.pick(A, 3, None);
        assert_eq!(p.partial_bytes(), 0);
        for b in &got[..2] {
            p.block_received(A, b);
        }
        assert_eq!(p.partial_bytes(), 2 * u64::from(BLOCK_LEN));
        p.piece_passed(got[0].index).unwrap();
        assert_eq!(p.partial_bytes(), 0, "a passed piece counts as verified");
    }

    fn bf(len: u32, ones: &[u32]) -> Bitfield {
        let mut b = Bitfield::new(len);
        for &i in ones {
            b.set(i, true);
        }
        b
    }

    #[test]
    fn rarest_first() {
        let mut p = picker(4, 2);
        p.peer_have_all(A);
        p.peer_bitfield(B, &bf(4, &[0, 1, 3])).unwrap();
        p.peer_bitfield(C, &bf(4, &[0, 1])).unwrap();
        // Piece 2 has availability 1, piece 3 has 2, pieces 0/1 have 3.
        let got = p.pick(A, 2, None);
        assert!(got.iter().all(|b| b.index == 2), "{got:?}");
        let got = p.pick(A, 2, None);
        assert!(got.iter().all(|b| b.index == 3), "{got:?}");
        assert_eq!(p.outstanding(A), 4);
    }

    #[test]
    fn partial_pieces_preferred() {
        let mut p = picker(4, 4);
        p.peer_have_all(A);
        p.peer_have_all(B);
        let first = p.pick(A, 1, None);
        // B continues A's piece instead of starting another.
        let second = p.pick(B, 3, None);
        assert!(second.iter().all(|b| b.index == first[0].index));
        assert_eq!(second.len(), 3);
    }

    #[test]
    fn peer_without_pieces_gets_nothing_and_is_not_interesting() {
        let mut p = picker(4, 1);
        p.peer_have_none(A);
        assert!(!p.is_interesting(A));
        assert!(p.pick(A, 10, None).is_empty());
        assert!(p.peer_have(A, 3).unwrap());
        assert!(p.is_interesting(A));
        assert_eq!(p.pick(A, 10, None).len(), 1);
        assert!(p.peer_have(A, 4).is_err());
    }

    #[test]
    fn full_download_and_verification() {
        let mut p = picker(3, 2);
        p.peer_have_all(A);
        let blocks = p.pick(A, 100, None);
        assert_eq!(blocks.len(), 6);
        let mut completed = Vec::new();
        for b in &blocks {
            match p.block_received(A, b) {
                BlockOutcome::Accepted {
                    piece_complete,
                    cancels,
                } => {
                    assert!(cancels.is_empty());
                    if piece_complete {
                        completed.push(b.index);
                    }
                }
                BlockOutcome::Unwanted => panic!("unexpected"),
            }
        }
        completed.sort();
        assert_eq!(completed, vec![0, 1, 2]);
        for i in completed {
            p.piece_passed(i).unwrap();
        }
        assert!(p.is_complete());
        assert!(!p.in_endgame());
        assert_eq!(p.block_received(A, &blocks[0]), BlockOutcome::Unwanted);
        assert!(!p.is_interesting(A));
    }

    #[test]
    fn failed_piece_returns_blocks_and_blames_contributors() {
        let mut p = picker(1, 2);
        p.peer_have_all(A);
        p.peer_have_all(B);
        let a = p.pick(A, 1, None);
        let b = p.pick(B, 1, None);
        p.block_received(A, &a[0]);
        let BlockOutcome::Accepted { piece_complete, .. } = p.block_received(B, &b[0]) else {
            panic!()
        };
        assert!(piece_complete);
        let mut blamed = p.piece_failed(0).unwrap();
        blamed.sort();
        assert_eq!(blamed, vec![A, B]);
        assert_eq!(p.pick(A, 10, None).len(), 2);
    }

    #[test]
    fn choke_and_disconnect_release_requests() {
        let mut p = picker(2, 2);
        p.peer_have_all(A);
        p.peer_have_all(B);
        let got = p.pick(A, 4, None);
        assert_eq!(got.len(), 4);
        assert!(p.in_endgame());
        assert_eq!(p.peer_choked(A).len(), 4);
        assert!(!p.in_endgame());
        assert_eq!(p.pick(B, 4, None).len(), 4);
        let freed = p.remove_peer(B);
        assert_eq!(freed.len(), 4);
        assert_eq!(p.availability(0), 1);
        let again = p.pick(A, 1, None);
        p.request_failed(A, &again[0]);
        assert_eq!(p.outstanding(A), 0);
        assert_eq!(p.pick(A, 4, None).len(), 4);
    }

    #[test]
    fn endgame_duplicates_and_cancels() {
        let mut p = picker(1, 2);
        p.peer_have_all(A);
        p.peer_have_all(B);
        let a = p.pick(A, 2, None);
        assert_eq!(a.len(), 2);
        assert!(p.in_endgame());
        let b = p.pick(B, 2, None);
        assert_eq!(b.len(), 2, "endgame duplicates A's requests");
        // A never gets its own blocks twice.
        assert!(p.pick(A, 2, None).is_empty());
        match p.block_received(B, &a[0]) {
            BlockOutcome::Accepted { cancels, .. } => assert_eq!(cancels, vec![(A, a[0])]),
            other => panic!("{other:?}"),
        }
        assert_eq!(p.outstanding(A), 1);
        assert_eq!(p.outstanding(B), 1);
    }

    #[test]
    fn allowed_fast_and_wanted_filters() {
        let mut p = picker(4, 1);
        p.peer_have_all(A);
        let got = p.pick(A, 4, Some(&[2]));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].index, 2);
        p.set_wanted(bf(4, &[2, 3])).unwrap();
        let got = p.pick(A, 4, None);
        assert_eq!(got.iter().map(|b| b.index).collect::<Vec<_>>(), vec![3]);
        assert!(p.set_wanted(bf(5, &[])).is_err());
    }

    #[test]
    fn random_tie_break_spreads_peers() {
        let mut p = picker(64, 1);
        let mut firsts = HashSet::new();
        for k in 0..16 {
            p.peer_have_all(PeerKey(k));
        }
        for k in 0..16 {
            firsts.insert(p.pick(PeerKey(k), 1, None)[0].index);
        }
        assert_eq!(firsts.len(), 16);
        // And the choice is not simply ascending order.
        assert!(firsts.iter().any(|&i| i >= 16));
    }

    #[test]
    fn bitfield_replacement_and_bad_length() {
        let mut p = picker(4, 1);
        p.peer_bitfield(A, &bf(4, &[0, 1])).unwrap();
        p.peer_bitfield(A, &bf(4, &[1, 2])).unwrap();
        assert_eq!(
            (0..4).map(|i| p.availability(i)).collect::<Vec<_>>(),
            vec![0, 1, 1, 0]
        );
        assert!(p.peer_bitfield(A, &bf(3, &[])).is_err());
        p.set_have(1).unwrap();
        assert_eq!(
            p.pick(A, 4, None)
                .iter()
                .map(|b| b.index)
                .collect::<Vec<_>>(),
            vec![2]
        );
        assert!(p.set_have(9).is_err());
    }

    fn starts(p: &mut PiecePicker, peer: PeerKey, n: usize) -> Vec<u32> {
        (0..n)
            .filter_map(|_| p.pick(peer, 1, None).first().map(|b| b.index))
            .collect()
    }

    #[test]
    fn inorder_starts_pieces_lowest_first_whatever_their_rarity() {
        let mut p = picker(6, 1);
        p.set_order(PieceOrder::InOrder);
        p.peer_have_all(A);
        p.peer_bitfield(B, &bf(6, &[0, 1, 2])).unwrap();
        assert_eq!(starts(&mut p, A, 6), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn inorder_continues_the_lowest_piece_in_progress() {
        let mut p = picker(3, 4);
        p.set_order(PieceOrder::InOrder);
        p.peer_have_all(A);
        p.peer_have_all(B);
        assert_eq!(p.pick(A, 6, None).len(), 6, "piece 0 whole, half of 1");
        let got = p.pick(B, 3, None);
        assert_eq!(
            got.iter().map(|b| b.index).collect::<Vec<_>>(),
            vec![1, 1, 2]
        );
    }

    #[test]
    fn random_order_covers_everything_not_ascending() {
        let mut p = picker(32, 1);
        p.set_order(PieceOrder::Random);
        p.peer_have_all(A);
        let got = starts(&mut p, A, 32);
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..32).collect::<Vec<_>>());
        assert_ne!(got, sorted);
    }

    #[test]
    fn geom_starts_at_the_first_missing_piece_and_spreads_out() {
        let mut p = picker(20, 1);
        p.set_have(0).unwrap();
        p.set_order(PieceOrder::Geom);
        p.peer_have_all(A);
        // Nothing in progress: each pick is the first missing piece after
        // the offset, and what is in progress pushes the scan outwards.
        let first = p.pick(A, 1, None);
        assert_eq!(first[0].index, 1);
        let got = starts(&mut p, A, 4);
        assert_eq!(got, vec![2, 3, 4, 6], "aria2's windows skip piece 5");
        // Every piece gets picked in the end.
        assert_eq!(starts(&mut p, A, 20).len(), 14);
    }

    #[test]
    fn prioritized_pieces_come_first_in_order() {
        let mut p = picker(10, 1);
        p.set_priority(vec![9, 0, 42]);
        p.peer_have_all(A);
        p.peer_bitfield(B, &bf(10, &[0, 9, 4])).unwrap();
        // Rarest-first elsewhere, but 0 and 9 (availability 2) go before
        // the rarer pieces (availability 1).
        let mut first = starts(&mut p, A, 2);
        first.sort_unstable();
        assert_eq!(first, vec![0, 9]);
        assert!(!starts(&mut p, A, 1).contains(&4), "4 is common now");
        let mut q = picker(10, 1);
        q.set_order(PieceOrder::InOrder);
        q.set_priority(vec![9, 5]);
        q.peer_have_all(A);
        assert_eq!(starts(&mut q, A, 4), vec![5, 9, 0, 1]);
    }

    #[test]
    fn short_last_piece_blocks() {
        let g = PieceGeometry::new(2 * BLOCK_LEN, u64::from(3 * BLOCK_LEN) + 100).unwrap();
        let mut p = PiecePicker::new(g, 1);
        p.peer_have_all(A);
        let mut got = p.pick(A, 10, None);
        got.sort();
        assert_eq!(got.len(), 4);
        assert_eq!(got[3].length, 100);
        assert_eq!(got[2].length, BLOCK_LEN);
    }
}
