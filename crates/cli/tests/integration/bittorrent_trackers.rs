//! Trackers reached the way a seedbox reaches them: over HTTPS (rustls,
//! with `--ca-certificate`) and through `--all-proxy`. The tracker is the
//! in-tree HTTP(S) test server answering one compact peer, an aria2c
//! seeder; arietta must learn that peer from the tracker alone and leech
//! the torrent from it. The tracker client itself is unit-tested in
//! crates/torrent/tests/tracker_http.rs; this is the same path end to end.

use std::net::Ipv4Addr;
use std::path::Path;

use arietta_bencode::{encode, OwnedValue};
use arietta_testserver::{Route, TestServer};

use crate::bt_support::*;
use crate::support::{exit, run_with_timeout, s, tempdir};

const NAME: &str = "tracked.bin";

/// A tracker answer naming one peer, `127.0.0.1:port` (BEP 23 compact).
fn one_peer_reply(port: u16) -> Vec<u8> {
    let mut peers = Ipv4Addr::LOCALHOST.octets().to_vec();
    peers.extend_from_slice(&port.to_be_bytes());
    encode(
        &OwnedValue::dict()
            .insert(b"interval".to_vec(), 1800i64)
            .insert(b"peers".to_vec(), peers),
    )
}

/// Writes `NAME` announcing to `announce` under `dir` (torrent in
/// `dir/t.torrent`, content in `dir/seed/`) and starts aria2c seeding it;
/// the seeder's own announces fail or are ignored, which does not matter:
/// only arietta needs the tracker.
fn seeded(dir: &Path, announce: &str) -> (Vec<u8>, Guard, u16) {
    let data = pattern(700_001, 91);
    let files = [(Vec::new(), data.as_slice())];
    let torrent = make_torrent(NAME, &files, PIECE, Some(announce));
    let path = dir.join("t.torrent");
    torrent.write(&path);
    let seed = dir.join("seed");
    write_files(&seed, NAME, &files);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (guard, port) = aria2c_seeder_with(&home, &seed, &path, &[]);
    (data, guard, port)
}

/// Leeches `dir/t.torrent` into `dir/out` with `extra` options and no
/// peer source but the tracker; returns the file it wrote.
fn leech(dir: &Path, extra: &[&str]) -> Vec<u8> {
    let out_dir = dir.join("out");
    let torrent = dir.join("t.torrent");
    let mut args = vec![
        "-d",
        s(&out_dir),
        "--enable-dht=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--seed-time=0",
        "--bt-tracker-connect-timeout=10",
    ];
    args.extend_from_slice(extra);
    args.push(s(&torrent));
    run_with_timeout(dir, &args, LEECH_LIMIT).expect_code(exit::OK);
    std::fs::read(out_dir.join(NAME)).unwrap()
}

/// An `https://` announce URL works with the certificate named by
/// `--ca-certificate` (it used to fail: "unsupported tracker scheme").
#[test]
fn https_tracker_hands_out_the_seeder() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let tracker = TestServer::start_tls();
    let work = tempdir();
    let (data, _seeder, port) = seeded(work.path(), &tracker.url("/announce"));
    tracker.add_route("/announce", Route::new(one_peer_reply(port)));
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, tracker.ca_pem().unwrap()).unwrap();
    let ca_opt = format!("--ca-certificate={}", s(&ca));
    assert_eq!(leech(work.path(), &[&ca_opt]), data);
    let announces = tracker.requests("/announce");
    assert!(!announces.is_empty(), "the HTTPS tracker was never asked");
    assert!(
        announces[0].target.contains("info_hash="),
        "{}",
        announces[0].target
    );
}

/// A tracker whose host does not resolve is still reached through
/// `--all-proxy` (the proxy resolves it; here the test server plays the
/// proxy and answers for the tracker), with the proxy's credentials.
#[test]
fn tracker_through_all_proxy() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let proxy = TestServer::start();
    let work = tempdir();
    let announce = "http://tracker.invalid:6969/announce";
    let (data, _seeder, port) = seeded(work.path(), announce);
    proxy.add_route("/announce", Route::new(one_peer_reply(port)));
    let proxy_opt = format!("--all-proxy=http://127.0.0.1:{}", proxy.port());
    let proxy_auth = ["--all-proxy-user=seedbox", "--all-proxy-passwd=secret"];
    assert_eq!(
        leech(work.path(), &[&proxy_opt, proxy_auth[0], proxy_auth[1]]),
        data
    );
    let announces = proxy.requests("/announce");
    assert!(!announces.is_empty(), "the proxy never saw the announce");
    let first = &announces[0];
    assert!(
        first.target.starts_with(announce),
        "a proxy gets the absolute URL: {}",
        first.target
    );
    assert!(
        first
            .header("proxy-authorization")
            .is_some_and(|v| v.starts_with("Basic ")),
        "{:?}",
        first.headers
    );
}
