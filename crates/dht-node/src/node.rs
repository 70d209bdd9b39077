//! The running node: one UDP socket, one receive task answering queries and
//! routing replies to the queries waiting for them, one maintenance task.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arietta_dht::{
    decode, encode, load_table, save_table, Body, Contact, InsertOutcome, Message, Node, NodeId,
    Query, Response, RoutingTable, TokenSecrets, Want, K,
};
use arietta_net::FamilyPref;
use glommio::channels::local_channel::{self, LocalSender};
use glommio::net::UdpSocket;

use glommio::timer::sleep;

use crate::transport::Transport;

use crate::config::DhtConfig;
use crate::error::{DhtNodeError, Result};
use crate::peer_store::PeerStore;

/// Our `v` (client version) in every message.
const VERSION: &[u8] = b"AR\x00\x01";
/// Queries in flight per lookup (BEP 5's alpha).
const ALPHA: usize = 4;
/// Upper bound on queries one lookup sends, so a hostile swarm feeding
/// endless fresh nodes cannot keep a lookup alive.
const MAX_LOOKUP_QUERIES: usize = 200;
/// KRPC datagrams are far below this (a relayed one's SOCKS5 header
/// included).
const MAX_DATAGRAM: usize = 4096;

type Reply = std::result::Result<Response, (i64, String)>;

struct State {
    table: RoutingTable,
    tokens: TokenSecrets,
    store: PeerStore,
    pending: HashMap<u16, (SocketAddr, LocalSender<Reply>)>,
    next_tid: u16,
}

struct Inner {
    socket: Transport,
    config: DhtConfig,
    local: SocketAddr,
    state: RefCell<State>,
    tasks: RefCell<Vec<glommio::task::JoinHandle<()>>>,
    /// The node of the other address family, for BEP 32 `want` answers.
    sibling: RefCell<std::rc::Weak<Inner>>,
}

/// A handle to a running DHT node; clones share the node. Everything runs
/// on the glommio executor that called [`DhtNode::start`] (the engine
/// gives the DHT one core; other cores ask it through their mailboxes).
#[derive(Clone)]
pub struct DhtHandle(Rc<Inner>);

/// Starts DHT nodes.
#[derive(Debug)]
pub struct DhtNode;

/// What [`DhtHandle::announce`] did.
#[derive(Debug, Clone, Default)]
pub struct AnnounceOutcome {
    /// Peers the get_peers lookup that precedes the announce found.
    pub peers: Vec<SocketAddr>,
    /// How many of the closest nodes accepted our announce_peer.
    pub announced_to: usize,
}

impl DhtNode {
    /// Tries each port of `ports` in order (aria2's `--dht-listen-port`
    /// is a range such as `6881-6999`) and starts on the first free one.
    pub fn start_in_range(
        mut config: DhtConfig,
        ports: std::ops::RangeInclusive<u16>,
    ) -> Result<DhtHandle> {
        let mut last = None;
        for port in ports {
            config.listen.set_port(port);
            match DhtNode::start(config.clone()) {
                Err(DhtNodeError::Io(e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    last = Some(e)
                }
                other => return other,
            }
        }
        Err(DhtNodeError::Io(last.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty port range")
        })))
    }

    /// Binds the socket, loads the saved routing table (a missing or
    /// damaged file just means starting empty, as aria2 does) and starts
    /// answering queries. Call [`DhtHandle::bootstrap`] next.
    pub fn start(config: DhtConfig) -> Result<DhtHandle> {
        let socket = bind_exclusive(config.listen)?;
        let socket = match &config.proxy {
            Some(proxy) => Transport::Socks5(Box::new(arietta_net::Socks5Udp::new(
                socket,
                proxy.clone(),
                config.proxy_connect_timeout,
                config.query_timeout,
            ))),
            None => Transport::Direct(socket),
        };
        let local = socket.local_addr()?;
        let saved = config
            .table_file
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| load_table(&b).ok());
        let own_id = saved
            .as_ref()
            .map_or_else(|| NodeId(rand::random()), |s| s.own_id);
        let mut table = RoutingTable::new(own_id);
        let now = Instant::now();
        for node in saved.into_iter().flat_map(|s| s.nodes) {
            if node.addr.is_ipv6() == local.is_ipv6() {
                // Unverified until they answer: the bootstrap pings them.
                table.heard_from(node, Contact::Queried, now);
            }
        }
        let inner = Rc::new(Inner {
            socket,
            local,
            state: RefCell::new(State {
                table,
                tokens: TokenSecrets::new(rand::random()),
                store: PeerStore::default(),
                pending: HashMap::new(),
                next_tid: rand::random(),
            }),
            tasks: RefCell::new(Vec::new()),
            sibling: RefCell::new(std::rc::Weak::new()),
            config,
        });
        let handle = DhtHandle(inner);
        let recv = glommio::spawn_local(handle.clone().receive_loop()).detach();
        let maint = glommio::spawn_local(handle.clone().maintenance_loop()).detach();
        handle.0.tasks.borrow_mut().extend([recv, maint]);
        Ok(handle)
    }
}

fn family_nodes(nodes: Vec<Node>, v6: bool) -> (Vec<Node>, Vec<Node>) {
    if v6 {
        (Vec::new(), nodes)
    } else {
        (nodes, Vec::new())
    }
}

impl DhtHandle {
    /// The bound address (the port to put in handshakes' `port` message).
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local
    }

    /// Our node ID.
    pub fn node_id(&self) -> NodeId {
        self.0.state.borrow().table.own_id()
    }

    /// Links an IPv4 node and an IPv6 node (BEP 32) so that a query with
    /// `want: ["n4", "n6"]` gets `nodes` and `nodes6` from either; the
    /// engine runs one node per family on the same port, as aria2 does.
    pub fn pair(&self, other: &DhtHandle) {
        *self.0.sibling.borrow_mut() = Rc::downgrade(&other.0);
        *other.0.sibling.borrow_mut() = Rc::downgrade(&self.0);
    }

    /// Nodes in the routing table.
    pub fn routing_table_len(&self) -> usize {
        self.0.state.borrow().table.len()
    }

    /// Adds a node learnt elsewhere (a peer's BEP 5 `port` message) by
    /// pinging it; it joins the table if it answers.
    pub async fn add_node(&self, addr: SocketAddr) -> bool {
        let id = self.node_id();
        self.query(addr, None, Query::Ping { id }).await.is_some()
    }

    /// Joins the network: resolves the entry points, asks them and every
    /// saved node for the nodes closest to our own ID, then looks our ID
    /// up to fill the nearby buckets. Returns the table size; an error when
    /// nobody answered at all.
    pub async fn bootstrap(&self) -> Result<usize> {
        let v6 = self.0.local.is_ipv6();
        let family = if v6 {
            FamilyPref::V6Only
        } else {
            FamilyPref::V4Only
        };
        let mut addrs = Vec::new();
        for (host, port) in &self.0.config.entry_points {
            if let Ok(found) = arietta_net::resolve(host, *port, family).await {
                addrs.extend(found);
            }
        }
        let own = self.node_id();
        let saved: Vec<Node> = self.0.state.borrow().table.nodes().collect();
        let (tx, rx) = local_channel::new_unbounded();
        let tx = Rc::new(tx);
        let mut sent = 0;
        for (addr, id) in addrs
            .into_iter()
            .map(|a| (a, None))
            .chain(saved.iter().map(|n| (n.addr, Some(n.id))))
        {
            let h = self.clone();
            let tx = tx.clone();
            sent += 1;
            glommio::spawn_local(async move {
                let q = Query::FindNode {
                    id: own,
                    target: own,
                    want: None,
                };
                let _ = tx.try_send(h.query(addr, id, q).await.is_some());
            })
            .detach();
        }
        let mut answered = 0;
        for _ in 0..sent {
            if rx.recv().await == Some(true) {
                answered += 1;
            }
        }
        if answered == 0 && self.routing_table_len() == 0 {
            return Err(DhtNodeError::Bootstrap(
                "no entry point or saved node answered".into(),
            ));
        }
        self.lookup(own, false).await;
        Ok(self.routing_table_len())
    }

    /// Iterative get_peers for `info_hash`: the peers every node on the
    /// way returned. The engine calls it when a torrent starts and every
    /// 15 minutes (aria2's interval), feeding the result to its peer list.
    pub async fn get_peers(&self, info_hash: [u8; 20]) -> Vec<SocketAddr> {
        self.lookup(NodeId(info_hash), true).await.peers
    }

    /// get_peers, then announce_peer (with the tokens just received) to
    /// the closest nodes that answered, telling them we serve `info_hash`
    /// on TCP `port`.
    pub async fn announce(&self, info_hash: [u8; 20], port: u16) -> AnnounceOutcome {
        let found = self.lookup(NodeId(info_hash), true).await;
        let own = self.node_id();
        let (tx, rx) = local_channel::new_unbounded();
        let tx = Rc::new(tx);
        let mut sent = 0;
        for (node, token) in found.closest {
            let Some(token) = token else { continue };
            let h = self.clone();
            let tx = tx.clone();
            sent += 1;
            glommio::spawn_local(async move {
                let q = Query::AnnouncePeer {
                    id: own,
                    info_hash: NodeId(info_hash),
                    port,
                    implied_port: false,
                    token,
                };
                let _ = tx.try_send(h.query(node.addr, Some(node.id), q).await.is_some());
            })
            .detach();
        }
        let mut announced_to = 0;
        for _ in 0..sent {
            if rx.recv().await == Some(true) {
                announced_to += 1;
            }
        }
        AnnounceOutcome {
            peers: found.peers,
            announced_to,
        }
    }

    /// Stops the node's tasks and saves the routing table to
    /// `--dht-file-path` (atomically: a crash leaves the old file).
    pub async fn shutdown(&self) -> Result<()> {
        for task in self.0.tasks.borrow_mut().drain(..) {
            task.cancel();
        }
        if let Some(path) = &self.0.config.table_file {
            let bytes = {
                let st = self.0.state.borrow();
                let nodes: Vec<Node> = st.table.nodes().collect();
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                save_table(st.table.own_id(), &nodes, now)
            };
            let path = path.clone();
            // On the blocking pool: the executor thread never waits on disk.
            glommio::executor()
                .spawn_blocking(move || write_atomically(&path, &bytes))
                .await?;
        }
        Ok(())
    }

    /// Sends `query` to `addr` and waits for the answer. A timeout counts
    /// against `id` in the routing table; an answer is recorded by the
    /// receive loop.
    async fn query(&self, addr: SocketAddr, id: Option<NodeId>, query: Query) -> Option<Response> {
        let (tx, rx) = local_channel::new_bounded(1);
        let tid = {
            let mut st = self.0.state.borrow_mut();
            st.next_tid = st.next_tid.wrapping_add(1);
            let tid = st.next_tid;
            st.pending.insert(tid, (addr, tx));
            tid
        };
        let msg = Message {
            transaction_id: tid.to_be_bytes().to_vec(),
            version: Some(VERSION.to_vec()),
            read_only: false,
            ip: None,
            body: Body::Query(query),
        };
        let sent = self.0.socket.send_to(&encode(&msg), addr).await;
        let timeout = self.0.config.query_timeout;
        let reply = if sent {
            futures_lite::future::or(async { rx.recv().await }, async {
                sleep(timeout).await;
                None
            })
            .await
        } else {
            None
        };
        let mut st = self.0.state.borrow_mut();
        st.pending.remove(&tid);
        match reply {
            Some(Ok(r)) => Some(r),
            // An error reply proves the node is alive; it just refused.
            Some(Err(_)) => None,
            // A query that never left (a proxy that cannot relay UDP) says
            // nothing about the node: it keeps its place in the table.
            None if !sent => None,
            None => {
                if let Some(id) = id {
                    st.table.failed(&id, Instant::now());
                }
                None
            }
        }
    }

    async fn receive_loop(self) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let Ok((n, src)) = self.0.socket.recv_from(&mut buf).await else {
                // Transient errors (ICMP unreachable surfacing as
                // ECONNREFUSED) must not kill the node.
                sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            let Ok(msg) = decode(&buf[..n]) else { continue };
            match msg.body {
                Body::Query(q) => {
                    if let Some(reply) = self.answer(src, &msg.transaction_id, msg.read_only, q) {
                        let _ = self.0.socket.send_to(&reply, src).await;
                    }
                }
                Body::Response(r) => self.deliver(src, &msg.transaction_id, Ok(r)),
                Body::Error { code, message } => {
                    self.deliver(src, &msg.transaction_id, Err((code, message)))
                }
            }
        }
    }

    fn deliver(&self, src: SocketAddr, tid: &[u8], reply: Reply) {
        let Ok(tid) = <[u8; 2]>::try_from(tid).map(u16::from_be_bytes) else {
            return;
        };
        let mut st = self.0.state.borrow_mut();
        // Only the address we asked may answer: anyone else is spoofing.
        if st.pending.get(&tid).is_none_or(|(addr, _)| *addr != src) {
            return;
        }
        let Some((_, tx)) = st.pending.remove(&tid) else {
            return;
        };
        if let Ok(r) = &reply {
            let outcome = st.table.heard_from(
                Node {
                    id: r.id,
                    addr: src,
                },
                Contact::Responded,
                Instant::now(),
            );
            drop(st);
            self.check_questionable(outcome);
        } else {
            drop(st);
        }
        let _ = tx.try_send(reply);
    }

    fn check_questionable(&self, outcome: InsertOutcome) {
        if let InsertOutcome::PingQuestionable(node) = outcome {
            let h = self.clone();
            glommio::spawn_local(async move {
                let id = h.node_id();
                h.query(node.addr, Some(node.id), Query::Ping { id }).await;
            })
            .detach();
        }
    }

    /// Builds the reply to a query (None: nothing to say, e.g. our own
    /// packet reflected back).
    fn answer(&self, src: SocketAddr, tid: &[u8], read_only: bool, q: Query) -> Option<Vec<u8>> {
        let now = Instant::now();
        let v6 = self.0.local.is_ipv6();
        let mut st = self.0.state.borrow_mut();
        let own = st.table.own_id();
        if q.id() == own {
            return None;
        }
        let outcome = if read_only {
            InsertOutcome::Rejected
        } else {
            st.table.heard_from(
                Node {
                    id: q.id(),
                    addr: src,
                },
                Contact::Queried,
                now,
            )
        };
        let mut resp = Response::with_id(own);
        let body = match q {
            Query::Ping { .. } => Body::Response(resp),
            Query::FindNode { target, want, .. } => {
                let closest = st.table.closest(&target, K, now);
                (resp.nodes, resp.nodes6) = family_nodes(closest, v6);
                self.add_sibling_nodes(&mut resp, &target, want, v6, now);
                keep_wanted(&mut resp, want);
                Body::Response(resp)
            }
            Query::GetPeers {
                info_hash, want, ..
            } => {
                resp.token = Some(st.tokens.token_for(src.ip()).to_vec());
                resp.values = st.store.peers(&info_hash, now);
                if resp.values.is_empty() {
                    let closest = st.table.closest(&info_hash, K, now);
                    (resp.nodes, resp.nodes6) = family_nodes(closest, v6);
                    self.add_sibling_nodes(&mut resp, &info_hash, want, v6, now);
                    keep_wanted(&mut resp, want);
                }
                Body::Response(resp)
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
                ..
            } => {
                if st.tokens.verify(&token, src.ip()) {
                    let port = if implied_port { src.port() } else { port };
                    if port != 0 {
                        st.store
                            .announce(info_hash, SocketAddr::new(src.ip(), port), now);
                    }
                    Body::Response(resp)
                } else {
                    Body::Error {
                        code: 203,
                        message: "bad token".into(),
                    }
                }
            }
            Query::Other { .. } => Body::Error {
                code: 204,
                message: "Method Unknown".into(),
            },
        };
        drop(st);
        self.check_questionable(outcome);
        Some(encode(&Message {
            transaction_id: tid.to_vec(),
            version: Some(VERSION.to_vec()),
            read_only: false,
            ip: Some(src),
            body,
        }))
    }

    /// BEP 32: the other family's closest nodes, when the querier asked
    /// for them and a paired node holds some.
    fn add_sibling_nodes(
        &self,
        resp: &mut Response,
        target: &NodeId,
        want: Option<Want>,
        v6: bool,
        now: Instant,
    ) {
        let wants_other = want.is_some_and(|w| if v6 { w.v4 } else { w.v6 });
        if !wants_other {
            return;
        }
        let Some(other) = self.0.sibling.borrow().upgrade() else {
            return;
        };
        // The sibling runs on this thread; it is not borrowed while we
        // answer (answers never await), so this cannot conflict.
        let Ok(st) = other.state.try_borrow() else {
            return;
        };
        let closest = st.table.closest(target, K, now);
        if v6 {
            resp.nodes = closest;
        } else {
            resp.nodes6 = closest;
        }
    }

    async fn maintenance_loop(self) {
        let every = self.0.config.maintenance_interval;
        let mut last_rotation = Instant::now();
        loop {
            sleep(every).await;
            let now = Instant::now();
            let (questionable, refresh, own) = {
                let mut st = self.0.state.borrow_mut();
                if now.saturating_duration_since(last_rotation) >= self.0.config.token_rotation {
                    st.tokens.rotate(rand::random());
                    last_rotation = now;
                }
                st.store.expire(now);
                (
                    st.table.questionable(now),
                    st.table.buckets_needing_refresh(now),
                    st.table.own_id(),
                )
            };
            for node in questionable.into_iter().take(K) {
                let h = self.clone();
                glommio::spawn_local(async move {
                    h.query(node.addr, Some(node.id), Query::Ping { id: own })
                        .await;
                })
                .detach();
            }
            // Refreshing a few stale buckets a round keeps the traffic flat.
            for bucket in refresh.into_iter().take(3) {
                let target = own.random_in_bucket(bucket, rand::random());
                self.lookup(target, false).await;
            }
        }
    }
}

/// BEP 32: a querier that names the families it wants gets no others (we
/// only hold our own family's nodes anyway).
fn keep_wanted(resp: &mut Response, want: Option<Want>) {
    if let Some(w) = want {
        if !w.v4 {
            resp.nodes.clear();
        }
        if !w.v6 {
            resp.nodes6.clear();
        }
    }
}

/// Binds without `SO_REUSEPORT` (which glommio's `UdpSocket::bind` sets):
/// two processes sharing a DHT port would have the kernel split the
/// replies between them. An IPv6 socket is v6-only, so an IPv4 and an IPv6
/// node can use the same port number, as aria2's do.
fn bind_exclusive(addr: SocketAddr) -> Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())?;
    Ok(UdpSocket::from(sock))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(DhtNodeError::from)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CandidateState {
    Fresh,
    Asked,
    Answered,
    Failed,
}

struct Candidate {
    node: Node,
    state: CandidateState,
    token: Option<Vec<u8>>,
}

pub(crate) struct LookupResult {
    pub(crate) peers: Vec<SocketAddr>,
    /// The K closest nodes that answered, with their announce tokens.
    pub(crate) closest: Vec<(Node, Option<Vec<u8>>)>,
}

impl DhtHandle {
    /// The iterative lookup of BEP 5 (Kademlia): keep ALPHA queries in
    /// flight to the closest not-yet-asked nodes, until the K closest
    /// known nodes have all answered or failed.
    pub(crate) async fn lookup(&self, target: NodeId, get_peers: bool) -> LookupResult {
        let now = Instant::now();
        let own = self.node_id();
        let v6 = self.0.local.is_ipv6();
        let mut cands: BTreeMap<NodeId, Candidate> = BTreeMap::new();
        for node in self.0.state.borrow().table.closest(&target, K * 2, now) {
            cands.insert(
                node.id.distance(&target),
                Candidate {
                    node,
                    state: CandidateState::Fresh,
                    token: None,
                },
            );
        }
        let (tx, rx) = local_channel::new_unbounded();
        let tx = Rc::new(tx);
        let mut peers: Vec<SocketAddr> = Vec::new();
        let (mut in_flight, mut queries) = (0usize, 0usize);
        loop {
            while in_flight < ALPHA && queries < MAX_LOOKUP_QUERIES {
                let next = cands
                    .iter_mut()
                    .filter(|(_, c)| c.state != CandidateState::Failed)
                    .take(K)
                    .find(|(_, c)| c.state == CandidateState::Fresh);
                let Some((dist, cand)) = next else { break };
                cand.state = CandidateState::Asked;
                let (dist, node) = (*dist, cand.node);
                in_flight += 1;
                queries += 1;
                let q = if get_peers {
                    Query::GetPeers {
                        id: own,
                        info_hash: target,
                        want: None,
                    }
                } else {
                    Query::FindNode {
                        id: own,
                        target,
                        want: None,
                    }
                };
                let h = self.clone();
                let tx = tx.clone();
                glommio::spawn_local(async move {
                    let r = h.query(node.addr, Some(node.id), q).await;
                    let _ = tx.try_send((dist, r));
                })
                .detach();
            }
            if in_flight == 0 {
                break;
            }
            let Some((dist, reply)) = rx.recv().await else {
                break;
            };
            in_flight -= 1;
            let Some(cand) = cands.get_mut(&dist) else {
                continue;
            };
            let Some(resp) = reply else {
                cand.state = CandidateState::Failed;
                continue;
            };
            cand.state = CandidateState::Answered;
            cand.token = resp.token;
            for p in resp.values {
                if !peers.contains(&p) {
                    peers.push(p);
                }
            }
            let nodes = if v6 { resp.nodes6 } else { resp.nodes };
            for node in nodes {
                if node.id == own || node.addr == self.0.local {
                    continue;
                }
                cands.entry(node.id.distance(&target)).or_insert(Candidate {
                    node,
                    state: CandidateState::Fresh,
                    token: None,
                });
            }
        }
        let closest = cands
            .into_values()
            .filter(|c| c.state == CandidateState::Answered)
            .take(K)
            .map(|c| (c.node, c.token))
            .collect();
        LookupResult { peers, closest }
    }
}
