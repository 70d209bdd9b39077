//! Two LPD instances on one host find each other through multicast
//! loopback. The group port is chosen free so parallel test runs (and a
//! real client on 6771) do not interfere. A host without multicast skips
//! the test with its reason.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use arietta_bt::lpd::LPD_GROUP_V4;
use arietta_bt_net::lpd::{Lpd, LpdConfig};

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
