//! MSE/PSE encryption and upload limits end to end: arietta against an
//! aria2c seeder that refuses plain handshakes, a python3-libtorrent
//! leecher forced to RC4, itself with `--bt-force-encryption` on both
//! sides, a plain peer refused under `--bt-require-crypto`, and
//! `--max-overall-upload-limit` slowing a seed. Where opentracker, aria2c
//! or libtorrent is missing the test skips with a message (fails under CI).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::bt_support::*;
use crate::support::{exit, require};

fn sample() -> Files {
    vec![
        (vec!["a.bin"], pattern(2_000_000, 11)),
        (vec!["sub", "b.bin"], pattern(1_000_003, 12)),
    ]
}

/// `sample()` as torrent "multi" announcing to a fresh opentracker.
fn tracked() -> Swarm {
    Swarm::new("multi", sample()).tracker().build()
}

/// aria2c refuses plain handshakes and insists on RC4; arietta, also
/// requiring crypto, leeches everything through MSE.
#[test]
fn leech_from_aria2c_with_required_crypto() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw =
        tracked().aria2c_seeder_with(&["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"]);
    sw.leech(&["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"])
        .expect_code(exit::OK);
    sw.assert_leeched();
}

/// libtorrent offers and accepts only RC4; arietta (default options)
/// accepts its MSE handshake and seeds through it.
#[test]
fn seed_to_libtorrent_leecher_forced_rc4() {
    if !(require("opentracker") && require_libtorrent()) {
        return;
    }
    let sw = tracked();
    sw.seed_to_libtorrent(Some("rc4"));
}

/// Both ends `--bt-force-encryption`: RC4 both ways between two ariettas.
#[test]
fn arietta_to_arietta_forced_encryption() {
    if !require("opentracker") {
        return;
    }
    let sw = tracked();
    let (ours, _) = sw.arietta_seeder(&["--seed-ratio=0", "--bt-force-encryption=true"]);
    let _ours = Guard(ours);
    sw.leech(&["--bt-force-encryption=true"])
        .expect_code(exit::OK);
    sw.assert_leeched();
}

/// Under `--bt-require-crypto` a plain BitTorrent handshake gets no
/// answer: the connection is closed.
#[test]
fn required_crypto_refuses_plain_handshake() {
    let sw = Swarm::new("multi", sample()).build();
    let port = free_port();
    let _g = Guard(sw.spawn_leech_on(
        port,
        &["--bt-exclude-tracker=*", "--bt-require-crypto=true"],
    ));
    let mut c = connect_peer(port);
    c.write_all(&handshake(
        [0; 8],
        &sw.torrent.info_hash,
        b"-PLAIN--0123456789ab",
    ))
    .unwrap();
    let mut buf = [0u8; 68];
    let got = c.read(&mut buf);
    assert!(
        matches!(got, Ok(0) | Err(_)),
        "a plain handshake was answered: {got:?}"
    );
}

/// `--max-overall-upload-limit=1M`: seeding 3 MB to aria2c takes about
/// three seconds instead of a fraction of one.
#[test]
fn overall_upload_limit_slows_seeding() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked();
    let (ours, _) = sw.arietta_seeder(&["--seed-ratio=0", "--max-overall-upload-limit=1M"]);
    let _ours = Guard(ours);
    let started = Instant::now();
    assert!(sw.aria2c_leech(), "aria2c leecher failed");
    let took = started.elapsed();
    sw.assert_leeched();
    // 1 MiB/s less a burst of a tenth of a second.
    let floor = Duration::from_secs_f64(sw.total_len() as f64 / (1 << 20) as f64 - 0.5);
    assert!(took >= floor, "3 MB at 1 MiB/s took only {took:?}");
}

/// A magnet link resolved (ut_metadata) and downloaded from an aria2c
/// seeder that accepts only MSE: the metadata connection is encrypted too.
#[test]
fn magnet_from_aria2c_with_required_crypto() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked().aria2c_seeder_with(&["--bt-require-crypto=true"]);
    let hash = sw.torrent.hex();
    let magnet = format!(
        "magnet:?xt=urn:btih:{hash}&tr={}",
        sw.tracker.as_ref().unwrap().http()
    );
    sw.leech_of(&[&magnet], &["--bt-require-crypto=true"])
        .expect_code(exit::OK);
    sw.assert_leeched();
}
