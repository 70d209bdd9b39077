//! The k-bucket routing table (BEP 5), as pure state driven by the caller's
//! clock. One table per address family (BEP 32).
//!
//! Buckets are indexed by the length of the prefix a node shares with our
//! ID. That is the split-bucket table of BEP 5 unrolled: only the buckets
//! near our own ID are ever full-resolution, which a flat array of 160
//! buckets gives without split bookkeeping.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::node_id::{Node, NodeId};

/// Bucket size.
pub const K: usize = 8;
/// A node unheard of for this long becomes questionable (BEP 5).
const FRESH: Duration = Duration::from_secs(15 * 60);
/// Consecutive unanswered queries after which a node is bad.
const MAX_FAILURES: u32 = 2;

/// BEP 5 node health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    Good,
    Questionable,
    Bad,
}

/// How we heard from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    /// It answered one of our queries: proof that it is reachable.
    Responded,
    /// It sent us a query: alive, but maybe behind a NAT.
    Queried,
}

/// What [`RoutingTable::heard_from`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Added,
    /// Known node; timestamps refreshed.
    Updated,
    /// The bucket was full; this bad node was evicted for the new one.
    Replaced(Node),
    /// The bucket is full of live nodes but this one is questionable: ping
    /// it. The new node waits in the replacement cache and takes the slot
    /// if the ping fails ([`RoutingTable::failed`]).
    PingQuestionable(Node),
    /// The bucket is full of good nodes; the new one is cached as a replacement.
    Full,
    /// Our own ID, a known ID at another address (possible spoofing), or
    /// a known address with another ID.
    Rejected,
}

#[derive(Debug, Clone)]
struct Entry {
    node: Node,
    last_response: Option<Instant>,
    last_query: Option<Instant>,
    last_seen: Instant,
    failures: u32,
}

impl Entry {
    fn status(&self, now: Instant) -> NodeStatus {
        let fresh =
            |t: Option<Instant>| t.is_some_and(|t| now.saturating_duration_since(t) < FRESH);
        if self.failures >= MAX_FAILURES {
            NodeStatus::Bad
        } else if fresh(self.last_response)
            || (self.last_response.is_some() && fresh(self.last_query))
        {
            NodeStatus::Good
        } else {
            NodeStatus::Questionable
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    entries: Vec<Entry>,
    replacements: Vec<Node>,
    last_changed: Option<Instant>,
}

/// The routing table.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    own_id: NodeId,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    /// An empty table around `own_id`.
    pub fn new(own_id: NodeId) -> Self {
        RoutingTable {
            own_id,
            buckets: vec![Bucket::default(); 160],
        }
    }

    /// Our node ID.
    pub fn own_id(&self) -> NodeId {
        self.own_id
    }

    fn bucket_of(&self, id: &NodeId) -> Option<usize> {
        let p = self.own_id.common_prefix_len(id);
        (p < 160).then_some(p)
    }

    fn find(&self, id: &NodeId) -> Option<(usize, usize)> {
        let b = self.bucket_of(id)?;
        let i = self
            .buckets
            .get(b)?
            .entries
            .iter()
            .position(|e| e.node.id == *id)?;
        Some((b, i))
    }

    fn addr_taken(&self, addr: &SocketAddr) -> bool {
        self.buckets
            .iter()
            .flat_map(|b| &b.entries)
            .any(|e| e.node.addr == *addr)
    }

    /// Records contact with `node` and inserts it if there is room (see
    /// [`InsertOutcome`] for the full-bucket policy).
    pub fn heard_from(&mut self, node: Node, contact: Contact, now: Instant) -> InsertOutcome {
        let Some(b) = self.bucket_of(&node.id) else {
            return InsertOutcome::Rejected;
        };
        if let Some((b, i)) = self.find(&node.id) {
            let e = &mut self.buckets[b].entries[i];
            if e.node.addr != node.addr {
                return InsertOutcome::Rejected;
            }
            e.last_seen = now;
            match contact {
                Contact::Responded => {
                    e.last_response = Some(now);
                    e.failures = 0;
                }
                Contact::Queried => e.last_query = Some(now),
            }
            self.buckets[b].last_changed = Some(now);
            return InsertOutcome::Updated;
        }
        if self.addr_taken(&node.addr) {
            return InsertOutcome::Rejected;
        }
        let entry = Entry {
            node,
            last_response: (contact == Contact::Responded).then_some(now),
            last_query: (contact == Contact::Queried).then_some(now),
            last_seen: now,
            failures: 0,
        };
        let bucket = &mut self.buckets[b];
        if bucket.entries.len() < K {
            bucket.entries.push(entry);
            bucket.last_changed = Some(now);
            return InsertOutcome::Added;
        }
        if let Some(i) = bucket
            .entries
            .iter()
            .position(|e| e.status(now) == NodeStatus::Bad)
        {
            let old = std::mem::replace(&mut bucket.entries[i], entry);
            bucket.last_changed = Some(now);
            return InsertOutcome::Replaced(old.node);
        }
        if !bucket.replacements.contains(&node) {
            if bucket.replacements.len() >= K {
                bucket.replacements.remove(0);
            }
            bucket.replacements.push(node);
        }
        bucket
            .entries
            .iter()
            .filter(|e| e.status(now) == NodeStatus::Questionable)
            .min_by_key(|e| e.last_seen)
            .map_or(InsertOutcome::Full, |e| {
                InsertOutcome::PingQuestionable(e.node)
            })
    }

    /// Records an unanswered query. A node that becomes bad is replaced by
    /// the newest cached candidate, which is returned (ping it to confirm).
    pub fn failed(&mut self, id: &NodeId, now: Instant) -> Option<Node> {
        let (b, i) = self.find(id)?;
        let bucket = &mut self.buckets[b];
        bucket.entries[i].failures += 1;
        if bucket.entries[i].status(now) != NodeStatus::Bad {
            return None;
        }
        let candidate = bucket.replacements.pop()?;
        bucket.entries[i] = Entry {
            node: candidate,
            last_response: None,
            last_query: None,
            last_seen: now,
            failures: 0,
        };
        bucket.last_changed = Some(now);
        Some(candidate)
    }

    /// Removes a node outright (e.g. it answered with another ID).
    pub fn remove(&mut self, id: &NodeId) -> bool {
        match self.find(id) {
            Some((b, i)) => {
                self.buckets[b].entries.remove(i);
                true
            }
            None => false,
        }
    }

    /// The health of a known node.
    pub fn status(&self, id: &NodeId, now: Instant) -> Option<NodeStatus> {
        let (b, i) = self.find(id)?;
        Some(self.buckets[b].entries[i].status(now))
    }

    /// Up to `k` non-bad nodes closest to `target`, closest first — the
    /// answer to find_node/get_peers and the start of a lookup.
    pub fn closest(&self, target: &NodeId, k: usize, now: Instant) -> Vec<Node> {
        let mut all: Vec<&Entry> = self
            .buckets
            .iter()
            .flat_map(|b| &b.entries)
            .filter(|e| e.status(now) != NodeStatus::Bad)
            .collect();
        all.sort_by_key(|e| e.node.id.distance(target));
        all.into_iter().take(k).map(|e| e.node).collect()
    }

    /// All nodes in the table (for saving it).
    pub fn nodes(&self) -> impl Iterator<Item = Node> + '_ {
        self.buckets.iter().flat_map(|b| &b.entries).map(|e| e.node)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    /// Whether the table is empty (bootstrap needed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buckets (by prefix length) that hold nodes but have not changed for
    /// 15 minutes; the caller looks up `own_id().random_in_bucket(i, rand)`.
    /// Only the buckets up to the deepest populated one are considered:
    /// deeper ones cannot be filled.
    pub fn buckets_needing_refresh(&self, now: Instant) -> Vec<usize> {
        let deepest = self
            .buckets
            .iter()
            .rposition(|b| !b.entries.is_empty())
            .unwrap_or(0);
        (0..=deepest)
            .filter(|&i| {
                self.buckets[i]
                    .last_changed
                    .is_none_or(|t| now.saturating_duration_since(t) >= FRESH)
            })
            .collect()
    }

    /// Questionable nodes to ping, so the table stays trustworthy.
    pub fn questionable(&self, now: Instant) -> Vec<Node> {
        self.buckets
            .iter()
            .flat_map(|b| &b.entries)
            .filter(|e| e.status(now) == NodeStatus::Questionable)
            .map(|e| e.node)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(first: u8, last: u8, port: u16) -> Node {
        let mut id = [0u8; 20];
        id[0] = first;
        id[19] = last;
        Node {
            id: NodeId(id),
            addr: SocketAddr::from(([10, 0, first, last], port)),
        }
    }

    #[test]
    fn fills_bucket_then_applies_policy() {
        let t0 = Instant::now();
        let mut rt = RoutingTable::new(NodeId([0; 20]));
        // All of 0x80.. share no prefix bit with us: bucket 0.
        for i in 0..K as u8 {
            assert_eq!(
                rt.heard_from(node(0x80, i, 1), Contact::Responded, t0),
                InsertOutcome::Added
            );
        }
        assert_eq!(
            rt.heard_from(node(0x80, 0, 1), Contact::Queried, t0),
            InsertOutcome::Updated
        );
        assert_eq!(
            rt.heard_from(node(0x80, 99, 1), Contact::Responded, t0),
            InsertOutcome::Full
        );
        // Same ID, other address: refused.
        let mut spoof = node(0x80, 1, 1);
        spoof.addr = "1.1.1.1:1".parse().unwrap();
        assert_eq!(
            rt.heard_from(spoof, Contact::Responded, t0),
            InsertOutcome::Rejected
        );
        assert_eq!(
            rt.heard_from(
                Node {
                    id: NodeId([0; 20]),
                    addr: "2.2.2.2:2".parse().unwrap()
                },
                Contact::Responded,
                t0
            ),
            InsertOutcome::Rejected
        );

        // After 16 minutes everyone is questionable: ping the stalest.
        let t1 = t0 + Duration::from_secs(16 * 60);
        assert_eq!(
            rt.status(&node(0x80, 3, 1).id, t1),
            Some(NodeStatus::Questionable)
        );
        let out = rt.heard_from(node(0x80, 100, 1), Contact::Responded, t1);
        assert!(matches!(out, InsertOutcome::PingQuestionable(_)), "{out:?}");
        // The pinged node fails twice: the cached candidate takes its slot.
        let victim = node(0x80, 3, 1);
        assert_eq!(rt.failed(&victim.id, t1), None);
        assert_eq!(rt.failed(&victim.id, t1), Some(node(0x80, 100, 1)));
        assert_eq!(rt.status(&victim.id, t1), None);
        assert_eq!(rt.len(), K);

        // A bad node is replaced directly.
        let n2 = node(0x80, 2, 1);
        rt.failed(&n2.id, t1);
        rt.failed(&n2.id, t1);
        assert_eq!(
            rt.status(&n2.id, t1),
            None,
            "replaced by the other cached node"
        );
    }

    #[test]
    fn bad_nodes_are_evicted_for_newcomers() {
        let t0 = Instant::now();
        let mut rt = RoutingTable::new(NodeId([0; 20]));
        for i in 0..K as u8 {
            rt.heard_from(node(0x40, i, 1), Contact::Responded, t0);
        }
        let n = node(0x40, 5, 1);
        rt.failed(&n.id, t0);
        rt.failed(&n.id, t0);
        assert_eq!(rt.status(&n.id, t0), Some(NodeStatus::Bad));
        assert_eq!(
            rt.heard_from(node(0x40, 50, 1), Contact::Responded, t0),
            InsertOutcome::Replaced(n)
        );
        // A response clears failures.
        let m = node(0x40, 6, 1);
        rt.failed(&m.id, t0);
        rt.heard_from(m, Contact::Responded, t0);
        rt.failed(&m.id, t0);
        assert_eq!(rt.status(&m.id, t0), Some(NodeStatus::Good));
    }

    #[test]
    fn closest_orders_by_xor() {
        let t0 = Instant::now();
        let mut rt = RoutingTable::new(NodeId([0; 20]));
        for first in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x81, 0xff] {
            rt.heard_from(node(first, 0, 1), Contact::Responded, t0);
        }
        let mut target = [0u8; 20];
        target[0] = 0x83;
        let got: Vec<u8> = rt
            .closest(&NodeId(target), 3, t0)
            .iter()
            .map(|n| n.id.0[0])
            .collect();
        assert_eq!(got, vec![0x81, 0x80, 0xff]);
        assert_eq!(rt.closest(&NodeId(target), 100, t0).len(), 10);
        assert!(rt.remove(&node(0x81, 0, 1).id));
        assert_eq!(rt.len(), 9);
    }

    #[test]
    fn refresh_and_questionable() {
        let t0 = Instant::now();
        let mut rt = RoutingTable::new(NodeId([0; 20]));
        rt.heard_from(node(0x80, 1, 1), Contact::Responded, t0);
        rt.heard_from(node(0x20, 1, 1), Contact::Queried, t0);
        assert_eq!(rt.buckets_needing_refresh(t0), vec![1]);
        assert_eq!(
            rt.questionable(t0).len(),
            1,
            "queried-only nodes are not yet good"
        );
        let later = t0 + Duration::from_secs(20 * 60);
        assert_eq!(rt.buckets_needing_refresh(later), vec![0, 1, 2]);
        assert_eq!(rt.questionable(later).len(), 2);
    }
}
