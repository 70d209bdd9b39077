//! Interop with python3-libtorrent's DHT: its session bootstraps from an
//! arietta node on loopback; arietta finds the peer libtorrent announces,
//! and libtorrent finds the peer arietta announces.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use arietta_dht_node::{DhtConfig, DhtNode};

/// The workspace's one rule for missing peer programs (skip with a reason,
/// fail under `CI=true`), shared by path: a crate cannot depend on the
/// cli's integration tests.
#[allow(dead_code)]
#[path = "../../cli/tests/integration/support/require.rs"]
mod require;

const LT_IH: [u8; 20] = [0x5c; 20];
const AR_IH: [u8; 20] = [0xc5; 20];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Waits on a std channel without blocking the glommio executor.
async fn wait_for<T>(rx: &Receiver<T>) -> T {
    loop {
        match rx.try_recv() {
            Ok(v) => return v,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                glommio::timer::sleep(Duration::from_millis(20)).await
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                panic!("the libtorrent driver thread failed (see its panic above)")
            }
        }
    }
}

#[test]
fn libtorrent_dht_bootstraps_from_arietta_and_peers_are_found_both_ways() {
    let python = "/usr/bin/python3";
    if !require::require_python_module(python, "libtorrent") {
        return;
    }
    let (entry_tx, entry_rx) = channel::<SocketAddr>();
    let (lt_announced_tx, lt_announced_rx) = channel::<u16>();
    let (ar_announced_tx, ar_announced_rx) = channel::<()>();
    let (done_tx, done_rx) = channel::<String>();
    let scratch = tempfile::tempdir().unwrap();
    let driver = std::thread::spawn(move || {
        let entry = entry_rx.recv().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lt_dht.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(entry.to_string())
            .arg(scratch.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let result = if line.starts_with("READY") {
            writeln!(stdin, "announce {}", hex(&LT_IH)).unwrap();
            line.clear();
            out.read_line(&mut line).unwrap();
            let port = line
                .trim()
                .strip_prefix("ANNOUNCED ")
                .expect("ANNOUNCED PORT");
            lt_announced_tx.send(port.parse().unwrap()).unwrap();
            ar_announced_rx.recv().unwrap();
            writeln!(stdin, "get_peers {}", hex(&AR_IH)).unwrap();
            line.clear();
            out.read_line(&mut line).unwrap();
            line.trim().to_string()
        } else {
            format!("libtorrent did not start: {line:?}")
        };
        let _ = writeln!(stdin, "quit");
        let _ = child.kill();
        let _ = child.wait();
        done_tx.send(result).unwrap();
    });

    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            let mut nodes = Vec::new();
            for i in 0..4 {
                let mut c = DhtConfig::new("127.0.0.1:0".parse().unwrap());
                c.query_timeout = Duration::from_millis(800);
                if i > 0 {
                    let e: SocketAddr = nodes
                        .first()
                        .map(|n: &arietta_dht_node::DhtHandle| n.local_addr())
                        .unwrap();
                    c.entry_points.push((e.ip().to_string(), e.port()));
                }
                let n = DhtNode::start(c).unwrap();
                if i > 0 {
                    n.bootstrap().await.unwrap();
                }
                nodes.push(n);
            }
            entry_tx.send(nodes[0].local_addr()).unwrap();

            // libtorrent announced through our network: arietta finds it.
            let lt_port = wait_for(&lt_announced_rx).await;
            let want = SocketAddr::from(([127, 0, 0, 1], lt_port));
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let peers = nodes[3].get_peers(LT_IH).await;
                if peers.contains(&want) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "arietta never found libtorrent's announce: {peers:?}"
                );
                glommio::timer::sleep(Duration::from_millis(300)).await;
            }

            // arietta announces: libtorrent's lookup finds it.
            let out = nodes[2].announce(AR_IH, 7111).await;
            assert!(out.announced_to >= 1, "{out:?}");
            ar_announced_tx.send(()).unwrap();
            let result = wait_for(&done_rx).await;
            assert!(
                result.starts_with("PEERS") && result.contains("127.0.0.1:7111"),
                "libtorrent's get_peers said {result:?}"
            );
            for n in &nodes {
                n.shutdown().await.unwrap();
            }
        })
        .expect("executor")
        .join()
        .expect("test body panicked");
    driver.join().unwrap();
}
