//! The shared listener over loopback: routing plain and MSE peers among
//! several torrents, torrent policies, a torrent on another executor than
//! the listener's, and the listener's lifetime. Each test has its own
//! [`Registry`], so tests running side by side do not share a port.

use std::sync::Arc;
use std::time::Duration;

use arietta_bt::mse::{CryptoLevel, CryptoMethod};
use arietta_bt::peer_wire::{Handshake, HANDSHAKE_LEN};
use arietta_bt_net::CryptoPolicy;
use arietta_runtime::{mailbox, Mailbox};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use super::routing::admits;
use super::*;
use crate::messages::ToTorrent;

fn run<F, Fut, T>(f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
    T: Send + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(f)
        .expect("executor")
        .join()
        .expect("test body panicked")
}

fn policy(require_crypto: bool, min_level: CryptoLevel) -> CryptoPolicy {
    CryptoPolicy {
        require_crypto,
        min_level,
        timeout: Duration::from_secs(5),
    }
}

const OPEN: [u8; 20] = [0xa1; 20];
const REQUIRED: [u8; 20] = [0xb2; 20];
const RC4_ONLY: [u8; 20] = [0xc3; 20];
const UNKNOWN: [u8; 20] = [0xd4; 20];

fn handshake(info_hash: [u8; 20]) -> [u8; HANDSHAKE_LEN] {
    Handshake::new(info_hash, [7; 20], false).encode()
}

/// The next connection posted to a torrent's mailbox, within a second.
async fn incoming(inbox: &Mailbox<ToTorrent>) -> Option<IncomingPeer> {
    let msg = crate::tracker::with_timeout(Duration::from_secs(1), inbox.recv()).await?;
    match msg {
        Some(ToTorrent::Incoming(peer, _)) => Some(*peer),
        _ => None,
    }
}

/// Reads until the peer closes; true when it did within two seconds.
async fn closed_by_listener(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    crate::tracker::with_timeout(Duration::from_secs(2), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// The stream on the torrent's side yields the peer's handshake, and what
/// it writes reaches the peer (through the cipher state handed over).
async fn check_handover<S>(peer: IncomingPeer, want: [u8; 20], client: &mut S)
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    assert_eq!(peer.info_hash(), want);
    let mut ours = peer.into_stream();
    let mut hs = [0u8; HANDSHAKE_LEN];
    ours.read_exact(&mut hs).await.unwrap();
    assert_eq!(hs, handshake(want));
    ours.write_all(b"answer").await.unwrap();
    ours.flush().await.unwrap();
    let mut got = [0u8; 6];
    client.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"answer");
}

#[test]
fn policies_apply_after_routing() {
    let open = policy(false, CryptoLevel::Plain);
    let required = policy(true, CryptoLevel::Plain);
    let rc4 = policy(false, CryptoLevel::Arc4);
    assert!(admits(&open, true, CryptoMethod::Plain).is_ok());
    assert!(admits(&required, true, CryptoMethod::Plain).is_err());
    assert!(admits(&required, false, CryptoMethod::Plain).is_ok());
    assert!(admits(&rc4, false, CryptoMethod::Plain).is_err());
    assert!(admits(&rc4, false, CryptoMethod::Rc4).is_ok());
}

#[test]
fn routes_plain_and_mse_peers_to_their_torrents() {
    run(|| async {
        let registry = Arc::new(Registry::default());
        let (open_tx, open_rx) = mailbox();
        let (req_tx, req_rx) = mailbox();
        let (rc4_tx, rc4_rx) = mailbox();
        let r1 = registry
            .register(&[OPEN], open_tx, policy(false, CryptoLevel::Plain), &[0])
            .unwrap();
        let port = r1.port();
        let r2 = registry
            .register(&[REQUIRED], req_tx, policy(true, CryptoLevel::Plain), &[0])
            .unwrap();
        let _r3 = registry
            .register(&[RC4_ONLY], rc4_tx, policy(false, CryptoLevel::Arc4), &[0])
            .unwrap();
        assert_eq!(r2.port(), port, "one port for every torrent");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));

        // Plain, to the torrent that allows it.
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(&handshake(OPEN)).await.unwrap();
        let peer = incoming(&open_rx).await.expect("plain peer routed");
        check_handover(peer, OPEN, &mut c).await;

        // MSE with three hashes registered: each finds its own torrent.
        for (hash, inbox, method) in [
            (REQUIRED, &req_rx, CryptoMethod::Plain),
            (RC4_ONLY, &rc4_rx, CryptoMethod::Rc4),
            (OPEN, &open_rx, CryptoMethod::Plain),
        ] {
            let s = TcpStream::connect(addr).await.unwrap();
            let mut c = arietta_bt_net::connect(
                s,
                hash,
                &handshake(hash),
                &policy(true, CryptoLevel::Plain),
            )
            .await
            .unwrap();
            assert_eq!(c.method, method, "the torrent's own level chose");
            let peer = incoming(inbox).await.expect("MSE peer routed");
            check_handover(peer, hash, &mut c.stream).await;
        }

        // Plain to a torrent that requires crypto: closed, not delivered.
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(&handshake(REQUIRED)).await.unwrap();
        assert!(closed_by_listener(&mut c).await);
        assert!(req_rx.try_recv().is_none());

        // Unknown hash, plain and MSE: closed.
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(&handshake(UNKNOWN)).await.unwrap();
        assert!(closed_by_listener(&mut c).await);
        let s = TcpStream::connect(addr).await.unwrap();
        let mse = arietta_bt_net::connect(
            s,
            UNKNOWN,
            &handshake(UNKNOWN),
            &policy(true, CryptoLevel::Plain),
        )
        .await;
        assert!(mse.is_err(), "MSE for a torrent we do not serve");

        // Unregistered: no longer routed, the listener stays.
        drop(r2);
        let mut c = TcpStream::connect(addr).await.unwrap();
        let s2 = TcpStream::connect(addr).await.unwrap();
        c.write_all(&handshake(REQUIRED)).await.unwrap();
        assert!(closed_by_listener(&mut c).await);
        drop(s2);
        assert!(open_rx.try_recv().is_none() && req_rx.try_recv().is_none());
    });
}

#[test]
fn a_torrent_on_another_executor_gets_its_peers_there() {
    let registry = Arc::new(Registry::default());
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let listener_side = {
        let registry = registry.clone();
        std::thread::spawn(move || {
            run(move || async move {
                // A torrent here binds the port; the listener lives on
                // this executor until it ends.
                let (tx, _rx) = mailbox();
                let r = registry
                    .register(&[OPEN], tx, policy(false, CryptoLevel::Plain), &[0])
                    .unwrap();
                port_tx.send(r.port()).unwrap();
                while done_rx.try_recv().is_err() {
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                }
            })
        })
    };
    let port = port_rx.recv().unwrap();
    let registry2 = registry.clone();
    run(move || async move {
        let (tx, rx) = mailbox();
        let r = registry2
            .register(&[RC4_ONLY], tx, policy(true, CryptoLevel::Arc4), &[0])
            .unwrap();
        assert_eq!(r.port(), port);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let s = TcpStream::connect(addr).await.unwrap();
        let mut c = arietta_bt_net::connect(
            s,
            RC4_ONLY,
            &handshake(RC4_ONLY),
            &policy(true, CryptoLevel::Arc4),
        )
        .await
        .unwrap();
        let peer = incoming(&rx).await.expect("routed across executors");
        check_handover(peer, RC4_ONLY, &mut c.stream).await;
    });
    done_tx.send(()).unwrap();
    listener_side.join().unwrap();
    assert_eq!(registry.port(), None, "gone with its executor");
}

#[test]
fn the_port_is_free_again_when_the_listeners_executor_ends() {
    let registry = Arc::new(Registry::default());
    let r = registry.clone();
    let port = run(move || async move {
        let (tx, _rx) = mailbox();
        let reg = r
            .register(&[OPEN], tx, policy(false, CryptoLevel::Plain), &[0])
            .unwrap();
        reg.port()
    });
    assert_eq!(registry.port(), None);
    let r = registry.clone();
    let again = run(move || async move {
        let (tx, _rx) = mailbox();
        let reg = r
            .register(&[OPEN], tx, policy(false, CryptoLevel::Plain), &[port])
            .unwrap();
        reg.port()
    });
    assert_eq!(again, port, "the same single port binds again");
}
