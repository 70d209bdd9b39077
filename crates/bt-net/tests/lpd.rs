//! Two LPD instances on one host find each other through multicast
//! loopback. The group port is chosen free so parallel test runs (and a
//! real client on 6771) do not interfere. A host without multicast skips
//! the test with its reason, even under CI: multicast is a property of the
//! host's network, not a program an install step could provide.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use arietta_bt::lpd::LPD_GROUP_V4;
use arietta_bt_net::lpd::{Lpd, LpdConfig};

/// The workspace's one rule for missing peer programs (skip with a reason,
/// fail under `CI=true`), shared by path: a crate cannot depend on the
/// cli's integration tests.
#[allow(dead_code)]
#[path = "../../cli/tests/integration/support/require.rs"]
mod require;

/// Whether a multicast datagram sent here comes back to a socket in the
/// group; `Err` says why not.
fn multicast_works(group: SocketAddrV4) -> Result<(), String> {
    let rx = UdpSocket::bind(("0.0.0.0", 0)).map_err(|e| e.to_string())?;
    rx.join_multicast_v4(group.ip(), &Ipv4Addr::UNSPECIFIED)
        .map_err(|e| format!("cannot join {group}: {e}"))?;
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let port = rx.local_addr().unwrap().port();
    let tx = UdpSocket::bind(("0.0.0.0", 0)).map_err(|e| e.to_string())?;
    tx.set_multicast_loop_v4(true).map_err(|e| e.to_string())?;
    tx.send_to(b"probe", (*group.ip(), port))
        .map_err(|e| format!("cannot send to {group}: {e}"))?;
    let mut buf = [0u8; 16];
    rx.recv_from(&mut buf)
        .map(|_| ())
        .map_err(|e| format!("multicast loopback delivered nothing: {e}"))
}

/// The next announcement, or a test failure after 5 s (multicast works
/// here, so silence is a bug).
async fn within(
    recv: impl std::future::Future<Output = arietta_bt_net::Result<arietta_bt_net::lpd::LpdPeer>>,
) -> arietta_bt_net::lpd::LpdPeer {
    futures_lite::future::or(async { Some(recv.await.unwrap()) }, async {
        glommio::timer::sleep(Duration::from_secs(5)).await;
        None
    })
    .await
    .expect("an announcement within 5 s")
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn two_instances_find_each_other() {
    if let Err(why) = multicast_works(LPD_GROUP_V4) {
        eprintln!("skipping: no multicast on this host ({why})");
        return;
    }
    let group = SocketAddrV4::new(*LPD_GROUP_V4.ip(), free_udp_port());
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            let a = Lpd::bind(LpdConfig {
                group,
                ..LpdConfig::new(6001)
            })
            .expect("bind A");
            let b = Lpd::bind(LpdConfig {
                group,
                ..LpdConfig::new(6002)
            })
            .expect("bind B");
            assert_ne!(a.cookie(), b.cookie());
            let ih = [0x3c; 20];
            let many: Vec<[u8; 20]> = (0..30u8).map(|i| [i; 20]).collect();
            a.announce(&[ih]).await.unwrap();
            let peer = within(b.recv()).await;
            assert_eq!(peer.addr.port(), 6001);
            assert_eq!(peer.info_hashes, vec![ih]);
            // The other direction, with more hashes than fit one datagram;
            // A must not see its own announcement.
            b.announce(&many).await.unwrap();
            let first = within(a.recv()).await;
            let second = within(a.recv()).await;
            assert_eq!(first.addr.port(), 6002);
            let mut got = first.info_hashes.clone();
            got.extend(second.info_hashes);
            assert_eq!(got, many);
            assert!(matches!(first.addr, SocketAddr::V4(_)));
        })
        .expect("executor")
        .join()
        .expect("test body panicked");
}

/// Whether multicast sent out of the loopback interface comes back to a
/// member on it (libtorrent bound to 127.0.0.1 announces there).
fn loopback_multicast_works() -> Result<(), String> {
    let group = LPD_GROUP_V4.ip();
    let lo = Ipv4Addr::LOCALHOST;
    let rx = UdpSocket::bind(("0.0.0.0", 0)).map_err(|e| e.to_string())?;
    rx.join_multicast_v4(group, &lo)
        .map_err(|e| format!("cannot join {group} on lo: {e}"))?;
    rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let port = rx.local_addr().unwrap().port();
    let tx = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(|e| e.to_string())?;
    tx.set_multicast_if_v4(&lo).map_err(|e| e.to_string())?;
    tx.set_multicast_loop_v4(true).map_err(|e| e.to_string())?;
    let to: SocketAddr = (*group, port).into();
    tx.send_to(b"probe", &to.into())
        .map_err(|e| format!("cannot send to {group} on lo: {e}"))?;
    let mut buf = [0u8; 16];
    rx.recv_from(&mut buf)
        .map(|_| ())
        .map_err(|e| format!("loopback multicast delivered nothing: {e}"))
}

/// Interop with python3-libtorrent's Local Service Discovery on BEP 14's
/// real group and port (libtorrent has no setting to move it; the socket
/// shares 6771 through SO_REUSEADDR): we hear libtorrent's announcement,
/// and libtorrent, hearing ours, connects to our TCP port.
#[test]
fn libtorrent_lsd_interop() {
    let python = "/usr/bin/python3";
    if !require::require_python_module(python, "libtorrent") {
        return;
    }
    if let Err(why) = loopback_multicast_works() {
        eprintln!("skipping: no multicast on the loopback interface ({why})");
        return;
    }
    let ih: [u8; 20] = rand::random();
    let hex: String = ih.iter().map(|b| format!("{b:02x}")).collect();
    let scratch = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lt_lsd.py");
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            use std::io::BufRead;
            let listener = glommio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let our_port = listener.local_addr().unwrap().port();
            let lpd = Lpd::bind(LpdConfig {
                interface: Some(Ipv4Addr::LOCALHOST),
                ..LpdConfig::new(our_port)
            })
            .expect("bind the LPD group port with SO_REUSEADDR");
            let mut child = std::process::Command::new(python)
                .arg(script)
                .arg(&hex)
                .arg(scratch.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let lt_port: u16 = line
                .trim()
                .strip_prefix("READY ")
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("libtorrent said {line:?}"));

            // libtorrent → us (it announces at once, then every few s).
            let heard = futures_lite::future::or(
                async {
                    loop {
                        let peer = lpd.recv().await.unwrap();
                        if peer.info_hashes.contains(&ih) {
                            return Some(peer);
                        }
                    }
                },
                async {
                    glommio::timer::sleep(Duration::from_secs(10)).await;
                    None
                },
            )
            .await
            .expect("libtorrent's BT-SEARCH within 10 s");
            assert_eq!(heard.addr, SocketAddr::from((Ipv4Addr::LOCALHOST, lt_port)));

            // us → libtorrent: it connects to the port we announce.
            let connected =
                futures_lite::future::or(async { Some(listener.accept().await.unwrap()) }, async {
                    for _ in 0..10 {
                        lpd.announce(&[ih]).await.unwrap();
                        glommio::timer::sleep(Duration::from_secs(1)).await;
                    }
                    None
                })
                .await;
            let _ = child.kill();
            let _ = child.wait();
            let conn = connected.expect("libtorrent connected to our announced port");
            assert_eq!(
                conn.peer_addr().unwrap().ip(),
                std::net::IpAddr::from(Ipv4Addr::LOCALHOST)
            );
        })
        .expect("executor")
        .join()
        .expect("test body panicked");
}
