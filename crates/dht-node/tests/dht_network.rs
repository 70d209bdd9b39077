//! Several arietta DHT nodes on loopback form a network: one announces, the
//! others find the peer; the routing table survives a restart through its
//! file; tokens guard announce_peer on the wire.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use arietta_dht::{decode, encode, Body, Message, NodeId, Query, Response};
use arietta_dht_node::{DhtConfig, DhtHandle, DhtNode};

fn run<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .blocking_thread_pool_placement(glommio::PoolPlacement::Unbound(4))
        .spawn(f)
        .expect("executor")
        .join()
        .expect("test body panicked");
}

fn config(entry: Option<SocketAddr>) -> DhtConfig {
    let mut c = DhtConfig::new("127.0.0.1:0".parse().unwrap());
    c.query_timeout = Duration::from_millis(500);
    if let Some(e) = entry {
        c.entry_points.push((e.ip().to_string(), e.port()));
    }
    c
}

async fn network(size: usize) -> Vec<DhtHandle> {
    let first = DhtNode::start(config(None)).unwrap();
    let entry = first.local_addr();
    let mut nodes = vec![first];
    for _ in 1..size {
        let n = DhtNode::start(config(Some(entry))).unwrap();
        n.bootstrap().await.expect("bootstrap from the first node");
        nodes.push(n);
    }
    nodes
}

#[test]
fn one_announces_another_finds_the_peer() {
    run(|| async {
        let nodes = network(8).await;
        for n in &nodes[1..] {
            assert!(n.routing_table_len() >= 1, "every node knows someone");
        }
        let ih = [0xab; 20];
        let out = nodes[3].announce(ih, 51413).await;
        assert!(out.announced_to >= 1, "{out:?}");
        assert!(out.peers.is_empty(), "nobody announced before");
        let want: SocketAddr = "127.0.0.1:51413".parse().unwrap();
        for finder in [&nodes[7], &nodes[1], &nodes[0]] {
            let peers = finder.get_peers(ih).await;
            assert!(peers.contains(&want), "{peers:?}");
        }
        // Another torrent: nobody has it.
        assert!(nodes[5].get_peers([0x01; 20]).await.is_empty());
        for n in &nodes {
            n.shutdown().await.unwrap();
        }
    });
}

#[test]
fn routing_table_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sub/dht.dat");
    run(move || async move {
        let others = network(4).await;
        let mut c = config(Some(others[0].local_addr()));
        c.table_file = Some(file.clone());
        let node = DhtNode::start(c.clone()).unwrap();
        let before = node.bootstrap().await.unwrap();
        assert!(before >= 2, "{before}");
        let id = node.node_id();
        node.shutdown().await.unwrap();
        assert!(file.exists());

        // Same file, no entry point: the saved nodes are enough.
        c.entry_points.clear();
        let again = DhtNode::start(c).unwrap();
        assert_eq!(again.node_id(), id, "the node keeps its ID");
        assert!(again.routing_table_len() >= 2);
        assert!(again.bootstrap().await.unwrap() >= 2);
        again.shutdown().await.unwrap();

        // A damaged file means starting fresh, not failing.
        std::fs::write(&file, b"garbage").unwrap();
        let mut c = config(None);
        c.table_file = Some(file.clone());
        let fresh = DhtNode::start(c).unwrap();
        assert_ne!(fresh.node_id(), id);
        assert_eq!(fresh.routing_table_len(), 0);
        assert!(fresh.bootstrap().await.is_err(), "nobody to ask");
        for n in &others {
            n.shutdown().await.unwrap();
        }
    });
}

/// Speaks KRPC from a plain std socket, as a foreign client would.
fn ask(sock: &UdpSocket, to: SocketAddr, tid: u8, q: Query) -> Message {
    let msg = Message {
        transaction_id: vec![tid],
        version: None,
        read_only: false,
        ip: None,
        body: Body::Query(q),
    };
    sock.send_to(&encode(&msg), to).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    let reply = decode(&buf[..n]).unwrap();
    assert_eq!(reply.transaction_id, vec![tid]);
    reply
}

fn response(m: Message) -> Response {
    match m.body {
        Body::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn answers_queries_and_checks_tokens_on_the_wire() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        let node: SocketAddr = rx.recv().unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let me = NodeId([0x11; 20]);
        let ih = NodeId([0x22; 20]);
        // Garbage, a bencode bomb and an unsolicited response are dropped
        // without killing the node.
        for junk in [
            &b"\xff\x00garbage"[..],
            &[b'l'; 3000][..],
            b"d1:rd2:id20:aaaaaaaaaaaaaaaaaaaae1:t2:zz1:y1:re",
        ] {
            sock.send_to(junk, node).unwrap();
        }
        let pong = ask(&sock, node, 1, Query::Ping { id: me });
        assert_eq!(pong.ip, Some(sock.local_addr().unwrap()), "BEP 42 ip");
        let r = response(ask(
            &sock,
            node,
            2,
            Query::GetPeers {
                id: me,
                info_hash: ih,
                want: None,
            },
        ));
        let token = r.token.expect("get_peers hands out a token");
        assert!(r.values.is_empty());
        let bad = ask(
            &sock,
            node,
            3,
            Query::AnnouncePeer {
                id: me,
                info_hash: ih,
                port: 7000,
                implied_port: false,
                token: b"forged!!".to_vec(),
            },
        );
        assert!(matches!(bad.body, Body::Error { code: 203, .. }), "{bad:?}");
        response(ask(
            &sock,
            node,
            4,
            Query::AnnouncePeer {
                id: me,
                info_hash: ih,
                port: 7000,
                implied_port: true,
                token,
            },
        ));
        let r = response(ask(
            &sock,
            node,
            5,
            Query::GetPeers {
                id: me,
                info_hash: ih,
                want: None,
            },
        ));
        // implied_port: the UDP source port, not 7000.
        assert_eq!(r.values, vec![sock.local_addr().unwrap()]);
        let r = response(ask(
            &sock,
            node,
            6,
            Query::FindNode {
                id: NodeId([0x33; 20]),
                target: me,
                want: None,
            },
        ));
        assert_eq!(r.nodes.len(), 1, "the querier itself is now in the table");
        assert_eq!(r.nodes[0].id, me);
        let unknown = ask(
            &sock,
            node,
            7,
            Query::Other {
                id: me,
                method: b"vote".to_vec(),
            },
        );
        assert!(matches!(unknown.body, Body::Error { code: 204, .. }));
        done_tx.send(()).unwrap();
    });
    run(move || async move {
        let node = DhtNode::start(config(None)).unwrap();
        tx.send(node.local_addr()).unwrap();
        while done_rx.try_recv().is_err() {
            glommio::timer::sleep(Duration::from_millis(10)).await;
        }
        node.shutdown().await.unwrap();
    });
    client.join().unwrap();
}

/// BEP 32: the same node code on an IPv6 socket exchanges `nodes6` and
/// finds IPv6 peers. Skipped where the host has no IPv6 loopback (even
/// under CI: that is the host's network, not a program to install).
#[test]
fn ipv6_network_finds_peers() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback on this host");
        return;
    }
    run(|| async {
        let v6 = |entry: Option<SocketAddr>| {
            let mut c = DhtConfig::new("[::1]:0".parse().unwrap());
            c.query_timeout = Duration::from_millis(500);
            if let Some(e) = entry {
                c.entry_points.push((e.ip().to_string(), e.port()));
            }
            c
        };
        let first = DhtNode::start(v6(None)).unwrap();
        let mut nodes = vec![first];
        for _ in 1..5 {
            let n = DhtNode::start(v6(Some(nodes[0].local_addr()))).unwrap();
            n.bootstrap().await.unwrap();
            nodes.push(n);
        }
        let ih = [0x66; 20];
        assert!(nodes[1].announce(ih, 6881).await.announced_to >= 1);
        let peers = nodes[4].get_peers(ih).await;
        assert_eq!(peers, vec!["[::1]:6881".parse::<SocketAddr>().unwrap()]);
        for n in &nodes {
            n.shutdown().await.unwrap();
        }
    });
}

/// `--dht-listen-port` is a range: a taken port is skipped, never shared
/// (two processes on one DHT port would split each other's replies).
#[test]
fn port_range_skips_taken_ports() {
    run(|| async {
        let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let Some(end) = port.checked_add(20) else {
            return;
        };
        let node = DhtNode::start_in_range(config(None), port..=end).unwrap();
        assert_ne!(node.local_addr().port(), port);
        assert!(DhtNode::start_in_range(config(None), port..=port).is_err());
        node.shutdown().await.unwrap();
    });
}

/// BEP 32: paired IPv4 and IPv6 nodes answer `want: n4, n6` with both
/// families' nodes.
#[test]
fn paired_nodes_answer_want_with_both_families() {
    // No IPv6 loopback is the host's network, not a missing program: skip.
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback on this host");
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel::<(SocketAddr, NodeId)>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Response>();
    let client = std::thread::spawn(move || {
        let (v4_node, _) = rx.recv().unwrap();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let want = arietta_dht::Want { v4: true, v6: true };
        let r = response(ask(
            &sock,
            v4_node,
            1,
            Query::FindNode {
                id: NodeId([0x77; 20]),
                target: NodeId([0x78; 20]),
                want: Some(want),
            },
        ));
        done_tx.send(r).unwrap();
    });
    run(move || async move {
        let v4 = DhtNode::start(config(None)).unwrap();
        let mut c6 = DhtConfig::new("[::1]:0".parse().unwrap());
        c6.query_timeout = Duration::from_millis(500);
        let v6 = DhtNode::start(c6.clone()).unwrap();
        v4.pair(&v6);
        let addr = v6.local_addr();
        c6.entry_points.push((addr.ip().to_string(), addr.port()));
        let other6 = DhtNode::start(c6).unwrap();
        other6.bootstrap().await.unwrap();
        tx.send((v4.local_addr(), other6.node_id())).unwrap();
        let r = loop {
            if let Ok(r) = done_rx.try_recv() {
                break r;
            }
            glommio::timer::sleep(Duration::from_millis(10)).await;
        };
        assert!(r.nodes6.iter().any(|n| n.id == other6.node_id()), "{r:?}");
        for n in [v4, v6, other6] {
            n.shutdown().await.unwrap();
        }
    });
    client.join().unwrap();
}
