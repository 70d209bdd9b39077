//! KRPC messages (BEP 5) with the BEP 32 (`nodes6`, `want`), BEP 42 (`ip`)
//! and BEP 43 (`ro`) additions.

use std::net::SocketAddr;

use arietta_bencode::{Limits, OwnedValue, Value};

use crate::error::DhtError;
use crate::node_id::{
    compact_addr, compact_nodes, parse_compact_addr, parse_compact_nodes, Node, NodeId,
};

/// UDP datagrams are small; anything bigger or deeper is not KRPC.
const KRPC_LIMITS: Limits = Limits {
    max_depth: 8,
    max_items: 4096,
    max_input: 65_536,
};

/// One KRPC packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `t`: echoed in the reply; the caller matches replies to queries with it.
    pub transaction_id: Vec<u8>,
    /// `v`: client name and version, informational.
    pub version: Option<Vec<u8>>,
    /// `ro` (BEP 43): the sender will not answer queries, so do not add it
    /// to the routing table.
    pub read_only: bool,
    /// `ip` (BEP 42): our address as the remote side sees it.
    pub ip: Option<SocketAddr>,
    pub body: Body,
}

/// Query, response or error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Query(Query),
    Response(Response),
    Error { code: i64, message: String },
}

/// BEP 32 `want`: which address families the querier wants nodes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Want {
    pub v4: bool,
    pub v6: bool,
}

/// The four BEP 5 queries, plus unknown ones so the caller can answer
/// "204 Method Unknown" instead of dropping the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Ping {
        id: NodeId,
    },
    FindNode {
        id: NodeId,
        target: NodeId,
        want: Option<Want>,
    },
    GetPeers {
        id: NodeId,
        info_hash: NodeId,
        want: Option<Want>,
    },
    AnnouncePeer {
        id: NodeId,
        info_hash: NodeId,
        port: u16,
        implied_port: bool,
        token: Vec<u8>,
    },
    Other {
        id: NodeId,
        method: Vec<u8>,
    },
}

impl Query {
    /// The querying node's ID.
    pub fn id(&self) -> NodeId {
        match self {
            Query::Ping { id }
            | Query::FindNode { id, .. }
            | Query::GetPeers { id, .. }
            | Query::AnnouncePeer { id, .. }
            | Query::Other { id, .. } => *id,
        }
    }
}

/// A response. KRPC replies do not name the query they answer, so every
/// optional field is here and the caller reads what its query expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: NodeId,
    /// IPv4 nodes (`nodes`, 26 bytes each).
    pub nodes: Vec<Node>,
    /// IPv6 nodes (`nodes6`, 38 bytes each).
    pub nodes6: Vec<Node>,
    /// Peers for a get_peers (`values`).
    pub values: Vec<SocketAddr>,
    /// Token for a later announce_peer.
    pub token: Option<Vec<u8>>,
}

impl Response {
    /// A response carrying only the responder's ID (ping, announce_peer).
    pub fn with_id(id: NodeId) -> Self {
        Response {
            id,
            nodes: Vec::new(),
            nodes6: Vec::new(),
            values: Vec::new(),
            token: None,
        }
    }
}

fn id_of(dict: &Value<'_>, key: &'static str) -> Result<NodeId, DhtError> {
    let b = dict
        .get(key)
        .ok_or(DhtError::Missing(key))?
        .as_bytes()
        .ok_or(DhtError::Invalid(key))?;
    NodeId::from_slice(b).ok_or(DhtError::Invalid(key))
}

fn want_of(args: &Value<'_>) -> Option<Want> {
    let list = args.get("want")?.as_list()?;
    let mut w = Want::default();
    for item in list {
        match item.as_bytes() {
            Some(b"n4") => w.v4 = true,
            Some(b"n6") => w.v6 = true,
            _ => {}
        }
    }
    Some(w)
}

/// Decodes a KRPC datagram.
pub fn decode(bytes: &[u8]) -> Result<Message, DhtError> {
    let root = arietta_bencode::decode_with(bytes, KRPC_LIMITS)?;
    if root.as_dict().is_none() {
        return Err(DhtError::Invalid("message"));
    }
    let transaction_id = root
        .get("t")
        .ok_or(DhtError::Missing("t"))?
        .as_bytes()
        .ok_or(DhtError::Invalid("t"))?
        .to_vec();
    let version = root.get("v").and_then(Value::as_bytes).map(<[u8]>::to_vec);
    let read_only = root.get("ro").and_then(Value::as_int) == Some(1);
    let ip = root
        .get("ip")
        .and_then(Value::as_bytes)
        .and_then(parse_compact_addr);
    let kind = root
        .get("y")
        .ok_or(DhtError::Missing("y"))?
        .as_bytes()
        .ok_or(DhtError::Invalid("y"))?;
    let body = match kind {
        b"q" => Body::Query(decode_query(&root)?),
        b"r" => Body::Response(decode_response(
            root.get("r").ok_or(DhtError::Missing("r"))?,
        )?),
        b"e" => {
            let list = root
                .get("e")
                .ok_or(DhtError::Missing("e"))?
                .as_list()
                .ok_or(DhtError::Invalid("e"))?;
            let code = list
                .first()
                .and_then(Value::as_int)
                .ok_or(DhtError::Invalid("e"))?;
            let message = list
                .get(1)
                .and_then(Value::as_bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Body::Error { code, message }
        }
        _ => return Err(DhtError::Invalid("y")),
    };
    Ok(Message {
        transaction_id,
        version,
        read_only,
        ip,
        body,
    })
}

fn decode_query(root: &Value<'_>) -> Result<Query, DhtError> {
    let method = root
        .get("q")
        .ok_or(DhtError::Missing("q"))?
        .as_bytes()
        .ok_or(DhtError::Invalid("q"))?;
    let args = root.get("a").ok_or(DhtError::Missing("a"))?;
    if args.as_dict().is_none() {
        return Err(DhtError::Invalid("a"));
    }
    let id = id_of(args, "id")?;
    Ok(match method {
        b"ping" => Query::Ping { id },
        b"find_node" => Query::FindNode {
            id,
            target: id_of(args, "target")?,
            want: want_of(args),
        },
        b"get_peers" => Query::GetPeers {
            id,
            info_hash: id_of(args, "info_hash")?,
            want: want_of(args),
        },
        b"announce_peer" => {
            let implied_port = args
                .get("implied_port")
                .and_then(Value::as_int)
                .is_some_and(|v| v != 0);
            let port = match args.get("port").map(|p| p.as_int()) {
                Some(Some(p)) => u16::try_from(p).map_err(|_| DhtError::Invalid("port"))?,
                Some(None) => return Err(DhtError::Invalid("port")),
                None if implied_port => 0,
                None => return Err(DhtError::Missing("port")),
            };
            let token = args
                .get("token")
                .ok_or(DhtError::Missing("token"))?
                .as_bytes()
                .ok_or(DhtError::Invalid("token"))?
                .to_vec();
            Query::AnnouncePeer {
                id,
                info_hash: id_of(args, "info_hash")?,
                port,
                implied_port,
                token,
            }
        }
        other => Query::Other {
            id,
            method: other.to_vec(),
        },
    })
}

fn decode_response(r: &Value<'_>) -> Result<Response, DhtError> {
    if r.as_dict().is_none() {
        return Err(DhtError::Invalid("r"));
    }
    let mut resp = Response::with_id(id_of(r, "id")?);
    if let Some(n) = r.get("nodes") {
        resp.nodes = parse_compact_nodes(n.as_bytes().ok_or(DhtError::Invalid("nodes"))?, 26);
    }
    if let Some(n) = r.get("nodes6") {
        resp.nodes6 = parse_compact_nodes(n.as_bytes().ok_or(DhtError::Invalid("nodes6"))?, 38);
    }
    if let Some(values) = r.get("values") {
        let list = values.as_list().ok_or(DhtError::Invalid("values"))?;
        resp.values = list
            .iter()
            .filter_map(|v| v.as_bytes().and_then(parse_compact_addr))
            .filter(|a| a.port() != 0)
            .collect();
    }
    resp.token = r.get("token").and_then(Value::as_bytes).map(<[u8]>::to_vec);
    Ok(resp)
}

fn want_value(w: &Want) -> OwnedValue {
    let mut l = Vec::new();
    if w.v4 {
        l.push(OwnedValue::from("n4"));
    }
    if w.v6 {
        l.push(OwnedValue::from("n6"));
    }
    OwnedValue::List(l)
}

/// Encodes a packet (canonical bencode).
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut root = OwnedValue::dict().insert("t", msg.transaction_id.clone());
    if let Some(v) = &msg.version {
        root = root.insert("v", v.clone());
    }
    if msg.read_only {
        root = root.insert("ro", 1i64);
    }
    if let Some(ip) = &msg.ip {
        root = root.insert("ip", compact_addr(ip));
    }
    root = match &msg.body {
        Body::Query(q) => {
            let id = q.id();
            let mut args = OwnedValue::dict().insert("id", &id.0);
            let method: &[u8] = match q {
                Query::Ping { .. } => b"ping",
                Query::FindNode { target, want, .. } => {
                    args = args.insert("target", &target.0);
                    if let Some(w) = want {
                        args = args.insert("want", want_value(w));
                    }
                    b"find_node"
                }
                Query::GetPeers {
                    info_hash, want, ..
                } => {
                    args = args.insert("info_hash", &info_hash.0);
                    if let Some(w) = want {
                        args = args.insert("want", want_value(w));
                    }
                    b"get_peers"
                }
                Query::AnnouncePeer {
                    info_hash,
                    port,
                    implied_port,
                    token,
                    ..
                } => {
                    args = args
                        .insert("info_hash", &info_hash.0)
                        .insert("port", *port)
                        .insert("token", token.clone());
                    if *implied_port {
                        args = args.insert("implied_port", 1i64);
                    }
                    b"announce_peer"
                }
                Query::Other { method, .. } => method,
            };
            root.insert("y", "q").insert("q", method).insert("a", args)
        }
        Body::Response(r) => {
            let mut d = OwnedValue::dict().insert("id", &r.id.0);
            if !r.nodes.is_empty() {
                let mut b = Vec::with_capacity(r.nodes.len() * 26);
                compact_nodes(&r.nodes, &mut b);
                d = d.insert("nodes", b);
            }
            if !r.nodes6.is_empty() {
                let mut b = Vec::with_capacity(r.nodes6.len() * 38);
                compact_nodes(&r.nodes6, &mut b);
                d = d.insert("nodes6", b);
            }
            if !r.values.is_empty() {
                d = d.insert(
                    "values",
                    r.values
                        .iter()
                        .map(|a| OwnedValue::Bytes(compact_addr(a)))
                        .collect::<Vec<_>>(),
                );
            }
            if let Some(t) = &r.token {
                d = d.insert("token", t.clone());
            }
            root.insert("y", "r").insert("r", d)
        }
        Body::Error { code, message } => root.insert("y", "e").insert(
            "e",
            vec![OwnedValue::Int(*code), OwnedValue::from(message.as_str())],
        ),
    };
    arietta_bencode::encode(&root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> NodeId {
        NodeId([b; 20])
    }

    #[test]
    fn bep5_examples() {
        let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
        let m = decode(ping).unwrap();
        assert_eq!(m.transaction_id, b"aa");
        assert_eq!(
            m.body,
            Body::Query(Query::Ping {
                id: NodeId(*b"abcdefghij0123456789")
            })
        );
        assert_eq!(encode(&m), ping);

        let ann = b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe";
        let m = decode(ann).unwrap();
        match &m.body {
            Body::Query(Query::AnnouncePeer {
                port,
                implied_port,
                token,
                ..
            }) => {
                assert_eq!(
                    (*port, *implied_port, token.as_slice()),
                    (6881, true, &b"aoeusnth"[..])
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(encode(&m), ann);

        let err = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
        let m = decode(err).unwrap();
        assert_eq!(
            m.body,
            Body::Error {
                code: 201,
                message: "A Generic Error Ocurred".into()
            }
        );
        assert_eq!(encode(&m), err);

        let peers = b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re";
        let m = decode(peers).unwrap();
        match &m.body {
            Body::Response(r) => {
                assert_eq!(r.values.len(), 2);
                assert_eq!(r.values[0], "97.120.106.101:11893".parse().unwrap());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(encode(&m), peers);
    }

    #[test]
    fn round_trips_with_extensions() {
        let msgs = vec![
            Message {
                transaction_id: vec![0, 1],
                version: Some(b"AR01".to_vec()),
                read_only: true,
                ip: Some("9.8.7.6:5".parse().unwrap()),
                body: Body::Query(Query::FindNode {
                    id: id(1),
                    target: id(2),
                    want: Some(Want { v4: true, v6: true }),
                }),
            },
            Message {
                transaction_id: vec![7],
                version: None,
                read_only: false,
                ip: None,
                body: Body::Response(Response {
                    id: id(3),
                    nodes: vec![Node {
                        id: id(4),
                        addr: "1.2.3.4:1".parse().unwrap(),
                    }],
                    nodes6: vec![Node {
                        id: id(5),
                        addr: "[::2]:2".parse().unwrap(),
                    }],
                    values: vec!["[::3]:3".parse().unwrap(), "4.4.4.4:4".parse().unwrap()],
                    token: Some(b"tok".to_vec()),
                }),
            },
            Message {
                transaction_id: vec![],
                version: None,
                read_only: false,
                ip: None,
                body: Body::Query(Query::GetPeers {
                    id: id(6),
                    info_hash: id(7),
                    want: None,
                }),
            },
            Message {
                transaction_id: b"x".to_vec(),
                version: None,
                read_only: false,
                ip: None,
                body: Body::Query(Query::Other {
                    id: id(8),
                    method: b"vote".to_vec(),
                }),
            },
        ];
        for m in msgs {
            assert_eq!(decode(&encode(&m)).unwrap(), m);
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b"le"[..],
            b"d1:t2:aae",
            b"d1:t2:aa1:y1:xe",
            b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe",
            b"d1:ade1:q4:ping1:t2:aa1:y1:qe",
            b"d1:t2:aa1:y1:re",
            b"d1:rd2:id20:abcdefghij01234567895:nodesi1ee1:t2:aa1:y1:re",
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
            b"d1:eli201ee1:t2:aa1:y1:ee trailing",
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // Missing port is fine with implied_port.
        let ok = b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe";
        assert!(decode(ok).is_ok());
    }
}
