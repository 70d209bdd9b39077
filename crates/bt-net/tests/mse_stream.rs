//! The MSE handshake and stream over real loopback TCP: arietta against
//! itself in every policy combination, and against python3-libtorrent with
//! encryption forced (RC4 only) in both directions.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use arietta_bt::mse::{CryptoLevel, CryptoMethod};
use arietta_bt::peer_wire::{Handshake, HANDSHAKE_LEN};
use arietta_bt_net::{accept, connect, BtNetError, CryptoPolicy};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

/// The workspace's one rule for missing peer programs (skip with a reason,
/// fail under `CI=true`), shared by path: a crate cannot depend on the
/// cli's integration tests.
#[allow(dead_code)]
#[path = "../../cli/tests/integration/support/require.rs"]
mod require;

fn run<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(f)
        .expect("executor")
        .join()
        .expect("test body panicked");
}

fn policy(require_crypto: bool, min_level: CryptoLevel) -> CryptoPolicy {
    CryptoPolicy {
        require_crypto,
        min_level,
        timeout: Duration::from_secs(10),
    }
}

const IH: [u8; 20] = [0x42; 20];

fn handshake(info_hash: [u8; 20], peer: u8) -> [u8; HANDSHAKE_LEN] {
    Handshake::new(info_hash, [peer; 20], false).encode()
}

/// Pseudo-random bytes, so an RC4 keystream slip cannot go unnoticed.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// Initiator with `init` policy, receiver with `recv`; both exchange the
/// BitTorrent handshake and 1 MiB each way. Returns both sides' methods.
fn pair(init: CryptoPolicy, recv: CryptoPolicy) -> (CryptoMethod, CryptoMethod) {
    let (tx, rx) = std::sync::mpsc::channel();
    run(move || async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = glommio::spawn_local(async move {
            let sock = listener.accept().await.unwrap();
            let mut acc = accept(sock, vec![[1; 20], IH], &recv).await.unwrap();
            assert_eq!(acc.info_hash, Some(IH));
            assert!(!acc.legacy);
            assert_eq!(acc.initial_payload_len, HANDSHAKE_LEN);
            let mut hs = [0u8; HANDSHAKE_LEN];
            acc.stream.read_exact(&mut hs).await.unwrap();
            assert_eq!(hs, handshake(IH, 1));
            acc.stream.write_all(&handshake(IH, 2)).await.unwrap();
            let mut big = vec![0u8; 1 << 20];
            acc.stream.read_exact(&mut big).await.unwrap();
            assert!(big == pattern(1 << 20, 1), "A→B payload corrupted");
            acc.stream.write_all(&pattern(1 << 20, 2)).await.unwrap();
            acc.stream.flush().await.unwrap();
            acc.method
        });
        let sock = TcpStream::connect(addr).await.unwrap();
        let mut c = connect(sock, IH, &handshake(IH, 1), &init).await.unwrap();
        let mut hs = [0u8; HANDSHAKE_LEN];
        c.stream.read_exact(&mut hs).await.unwrap();
        assert_eq!(hs, handshake(IH, 2));
        c.stream.write_all(&pattern(1 << 20, 1)).await.unwrap();
        c.stream.flush().await.unwrap();
        let mut big = vec![0u8; 1 << 20];
        c.stream.read_exact(&mut big).await.unwrap();
        assert!(big == pattern(1 << 20, 2), "B→A payload corrupted");
        let recv_method = server.await;
        assert_eq!(c.stream.method(), c.method);
        tx.send((c.method, recv_method)).unwrap();
    });
    rx.recv().unwrap()
}

#[test]
fn arc4_both_ways() {
    let m = pair(
        policy(true, CryptoLevel::Arc4),
        policy(true, CryptoLevel::Arc4),
    );
    assert_eq!(m, (CryptoMethod::Rc4, CryptoMethod::Rc4));
}

#[test]
fn plain_payload_when_both_allow_it() {
    let m = pair(
        policy(false, CryptoLevel::Plain),
        policy(false, CryptoLevel::Plain),
    );
    assert_eq!(m, (CryptoMethod::Plain, CryptoMethod::Plain));
}

#[test]
fn receiver_insisting_on_arc4_wins() {
    let m = pair(
        policy(false, CryptoLevel::Plain),
        policy(true, CryptoLevel::Arc4),
    );
    assert_eq!(m, (CryptoMethod::Rc4, CryptoMethod::Rc4));
}

/// A peer that opens with `0x13 BitTorrent protocol`: let through (and its
/// handshake replayed on the stream) unless crypto is required.
#[test]
fn legacy_handshake_accepted_or_refused() {
    for require in [false, true] {
        run(move || async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = glommio::spawn_local(async move {
                let sock = listener.accept().await.unwrap();
                accept(sock, vec![IH], &policy(require, CryptoLevel::Plain)).await
            });
            let mut sock = TcpStream::connect(addr).await.unwrap();
            let mut hello = handshake(IH, 9).to_vec();
            hello.extend_from_slice(&[0, 0, 0, 1, 2]); // interested
            sock.write_all(&hello).await.unwrap();
            match server.await {
                Ok(mut acc) => {
                    assert!(!require);
                    assert!(acc.legacy);
                    assert_eq!(acc.info_hash, None);
                    assert_eq!(acc.method, CryptoMethod::Plain);
                    let mut got = vec![0u8; hello.len()];
                    acc.stream.read_exact(&mut got).await.unwrap();
                    assert_eq!(got, hello);
                    acc.stream.write_all(b"ok").await.unwrap();
                    let mut two = [0u8; 2];
                    sock.read_exact(&mut two).await.unwrap();
                    assert_eq!(&two, b"ok");
                }
                Err(e) => {
                    assert!(require, "{e}");
                    assert!(matches!(e, BtNetError::Protocol(_)), "{e:?}");
                }
            }
        });
    }
}

#[test]
fn unknown_torrent_and_silence_are_errors() {
    run(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = glommio::spawn_local(async move {
            let sock = listener.accept().await.unwrap();
            let r = accept(sock, vec![[7; 20]], &policy(false, CryptoLevel::Plain)).await;
            assert!(matches!(r, Err(BtNetError::Protocol(_))), "{r:?}");
            // Second connection: says nothing at all.
            let sock = listener.accept().await.unwrap();
            let mut p = policy(false, CryptoLevel::Plain);
            p.timeout = Duration::from_millis(300);
            let r = accept(sock, vec![[7; 20]], &p).await;
            assert!(matches!(r, Err(BtNetError::Timeout(_))), "{r:?}");
        });
        let sock = TcpStream::connect(addr).await.unwrap();
        let r = connect(sock, IH, &[], &policy(false, CryptoLevel::Plain)).await;
        assert!(r.is_err(), "the receiver hangs up on an unknown torrent");
        let _quiet = TcpStream::connect(addr).await.unwrap();
        server.await;
    });
}

struct LtSeeder {
    child: Child,
    port: u16,
    info_hash: [u8; 20],
    pieces: usize,
    _dir: tempfile::TempDir,
}

impl Drop for LtSeeder {
    fn drop(&mut self) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(b"quit\n");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts tests/lt_seeder.py; `None` when python3-libtorrent is not
/// installed and the test may skip (see [`require`]).
fn lt_seeder() -> Option<(LtSeeder, BufReader<std::process::ChildStdout>)> {
    let python = "/usr/bin/python3";
    if !require::require_python_module(python, "libtorrent") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lt_seeder.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"READY"), "seeder said {line:?}");
    let mut info_hash = [0u8; 20];
    for (i, b) in info_hash.iter_mut().enumerate() {
        *b = u8::from_str_radix(&words[2][2 * i..2 * i + 2], 16).unwrap();
    }
    Some((
        LtSeeder {
            child,
            port: words[1].parse().unwrap(),
            info_hash,
            pieces: words[3].parse().unwrap(),
            _dir: dir,
        },
        out,
    ))
}

/// Reads peer wire messages until a bitfield (id 5) and returns it.
async fn read_bitfield(stream: &mut (impl futures_lite::AsyncRead + Unpin)) -> Vec<u8> {
    loop {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).await.unwrap();
        let len = u32::from_be_bytes(len) as usize;
        assert!(len < 1 << 20, "absurd message length {len}");
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await.unwrap();
        if body.first() == Some(&5) {
            return body[1..].to_vec();
        }
    }
}

fn assert_full_bitfield(bits: &[u8], pieces: usize) {
    assert_eq!(bits.len(), pieces.div_ceil(8));
    let set: u32 = bits.iter().map(|b| b.count_ones()).sum();
    assert_eq!(set as usize, pieces, "the seeder has every piece");
}

/// No extension bits: libtorrent then answers with a plain bitfield
/// rather than have_all.
fn bare_handshake(info_hash: [u8; 20]) -> [u8; HANDSHAKE_LEN] {
    let mut hs = Handshake::new(info_hash, *b"-AR0001-interoptest1", false);
    hs.reserved = [0; 8];
    hs.encode()
}

#[test]
fn libtorrent_forced_rc4_seeder_interop_as_initiator() {
    let Some((seeder, _out)) = lt_seeder() else {
        return;
    };
    let (port, ih, pieces) = (seeder.port, seeder.info_hash, seeder.pieces);
    run(move || async move {
        let sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut c = connect(
            sock,
            ih,
            &bare_handshake(ih),
            &policy(true, CryptoLevel::Arc4),
        )
        .await
        .expect("MSE handshake with libtorrent");
        assert_eq!(c.method, CryptoMethod::Rc4);
        let mut hs = [0u8; HANDSHAKE_LEN];
        c.stream.read_exact(&mut hs).await.unwrap();
        assert_eq!(Handshake::parse(&hs).unwrap().info_hash, ih);
        let bits = read_bitfield(&mut c.stream).await;
        assert_full_bitfield(&bits, pieces);
    });
    drop(seeder);
}

#[test]
fn libtorrent_forced_rc4_interop_as_receiver() {
    let Some((mut seeder, mut out)) = lt_seeder() else {
        return;
    };
    let (ih, pieces) = (seeder.info_hash, seeder.pieces);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<u16>();
    let driver = std::thread::spawn(move || {
        let our_port = ready_rx.recv().unwrap();
        let stdin = seeder.child.stdin.as_mut().unwrap();
        writeln!(stdin, "connect {our_port}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "OK");
        seeder
    });
    run(move || async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        ready_tx
            .send(listener.local_addr().unwrap().port())
            .unwrap();
        let sock = listener.accept().await.unwrap();
        let mut acc = accept(sock, vec![ih], &policy(true, CryptoLevel::Arc4))
            .await
            .expect("MSE handshake from libtorrent");
        assert_eq!(acc.info_hash, Some(ih));
        assert_eq!(acc.method, CryptoMethod::Rc4);
        let mut hs = [0u8; HANDSHAKE_LEN];
        acc.stream.read_exact(&mut hs).await.unwrap();
        assert_eq!(Handshake::parse(&hs).unwrap().info_hash, ih);
        acc.stream.write_all(&bare_handshake(ih)).await.unwrap();
        acc.stream.flush().await.unwrap();
        let bits = read_bitfield(&mut acc.stream).await;
        assert_full_bitfield(&bits, pieces);
    });
    drop(driver.join().unwrap());
}

/// An aria2c seeder with `--bt-require-crypto=true` at each
/// `--bt-min-crypto-level`: our initiator completes MSE (RC4 for arc4, the
/// obfuscated handshake with a plain payload for plain) and reads aria2c's
/// bitfield.
#[test]
fn aria2c_require_crypto_seeder_interop() {
    let python = "/usr/bin/python3";
    // libtorrent writes the torrent.
    if !(require::require("aria2c") && require::require_python_module(python, "libtorrent")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/make_torrent.py"
        ))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut words = text.split_whitespace();
    let hex = words.next().unwrap();
    let pieces: usize = words.next().unwrap().parse().unwrap();
    let mut ih = [0u8; 20];
    for (i, b) in ih.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    for (level, ours, expect) in [
        ("arc4", CryptoLevel::Arc4, CryptoMethod::Rc4),
        ("plain", CryptoLevel::Plain, CryptoMethod::Plain),
    ] {
        // aria2c takes a port number, not a socket: pick a free one.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("aria2c")
            .arg("-d")
            .arg(dir.path().join("seed"))
            .args([
                "--seed-ratio=0",
                "-V",
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--no-conf",
                "--quiet",
                "--bt-require-crypto=true",
                &format!("--bt-min-crypto-level={level}"),
                &format!("--listen-port={port}"),
            ])
            .arg(dir.path().join("payload.torrent"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let got = std::panic::catch_unwind(move || {
            let (tx, rx) = std::sync::mpsc::channel();
            run(move || async move {
                // aria2c checks the file (-V) before it listens.
                let mut tries = 0;
                let sock = loop {
                    match TcpStream::connect(("127.0.0.1", port)).await {
                        Ok(s) => break s,
                        Err(_) if tries < 100 => {
                            tries += 1;
                            glommio::timer::sleep(Duration::from_millis(100)).await;
                        }
                        Err(e) => panic!("aria2c never listened on {port}: {e}"),
                    }
                };
                let mut c = connect(sock, ih, &bare_handshake(ih), &policy(true, ours))
                    .await
                    .expect("MSE handshake with aria2c");
                let mut hs = [0u8; HANDSHAKE_LEN];
                c.stream.read_exact(&mut hs).await.unwrap();
                assert_eq!(Handshake::parse(&hs).unwrap().info_hash, ih);
                let bits = read_bitfield(&mut c.stream).await;
                assert_full_bitfield(&bits, pieces);
                tx.send(c.method).unwrap();
            });
            rx.recv().unwrap()
        });
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(got.expect("interop run"), expect, "level {level}");
    }
}
