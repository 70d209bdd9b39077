//! MSE/PSE encryption and upload limits end to end: arietta against an
//! aria2c seeder that refuses plain handshakes, a python3-libtorrent
//! leecher forced to RC4, itself with `--bt-force-encryption` on both
//! sides, a plain peer refused under `--bt-require-crypto`, and
//! `--max-overall-upload-limit` slowing a seed. Skipped (with a message)
//! where opentracker/aria2c/libtorrent are not installed.

mod bt_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use bt_support::*;
use support::{exit, s, spawn, tempdir, wait_with_timeout};

const PIECE: usize = 64 * 1024;
const LIMIT: Duration = Duration::from_secs(60);

fn sample() -> Vec<(Vec<&'static str>, Vec<u8>)> {
    vec![
        (vec!["a.bin"], pattern(2_000_000, 11)),
        (vec!["sub", "b.bin"], pattern(1_000_003, 12)),
    ]
}

/// A torrent announcing to a fresh opentracker, its data in `tmp/seed`.
fn swarm(tmp: &Path, files: &[(Vec<&'static str>, &[u8])]) -> (Tracker, std::path::PathBuf) {
    let hash = make_torrent("multi", files, PIECE, None).hex();
    let tracker = Tracker::start(&[hash]);
    let t = make_torrent("multi", files, PIECE, Some(&tracker.http()));
    write_files(&tmp.join("seed"), "multi", files);
    let torrent = tmp.join("multi.torrent");
    t.write(&torrent);
    (tracker, torrent)
}

fn skip(name: &str) -> bool {
    if !have_tools() {
        eprintln!("skipping {name}: opentracker or aria2c is not installed");
        return true;
    }
    false
}

/// arietta seeding `torrent` from `tmp/seed` with `extra` options.
fn arietta_seeder(tmp: &Path, torrent: &Path, extra: &[&str]) -> (std::process::Child, u16) {
    let port = free_port();
    let p = format!("--listen-port={port}");
    let seed = tmp.join("seed");
    let mut args = vec!["-d", s(&seed), &p, "--bt-tracker-interval=1"];
    args.extend_from_slice(extra);
    args.push(s(torrent));
    let child = spawn(tmp, &args);
    assert!(
        wait_listening(port, Duration::from_secs(20)),
        "arietta never listened"
    );
    (child, port)
}

/// aria2c refuses plain handshakes and insists on RC4; arietta, also
/// requiring crypto, leeches everything through MSE.
#[test]
fn leech_from_aria2c_with_required_crypto() {
    if skip("leech_from_aria2c_with_required_crypto") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let tmp = tempdir();
    let (_tracker, torrent) = swarm(tmp.path(), &refs);
    let (_seeder, _) = aria2c_seeder_with(
        tmp.path(),
        &tmp.path().join("seed"),
        &torrent,
        &["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"],
    );
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let out = wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&leech),
                "--seed-time=0",
                &port,
                "--bt-tracker-interval=1",
                "--bt-require-crypto=true",
                "--bt-min-crypto-level=arc4",
                s(&torrent),
            ],
        ),
        LIMIT,
    );
    out.expect_code(exit::OK);
    assert_same_tree(&tmp.path().join("seed/multi"), &leech.join("multi"));
}

/// libtorrent offers and accepts only RC4; arietta (default options)
/// accepts its MSE handshake and seeds through it.
#[test]
fn seed_to_libtorrent_leecher_forced_rc4() {
    if skip("seed_to_libtorrent_leecher_forced_rc4") {
        return;
    }
    if !have_libtorrent() {
        eprintln!(
            "skipping seed_to_libtorrent_leecher_forced_rc4: python3-libtorrent is not installed"
        );
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let tmp = tempdir();
    let (_tracker, torrent) = swarm(tmp.path(), &refs);
    let (ours, port) = arietta_seeder(tmp.path(), &torrent, &["--seed-ratio=0"]);
    let _ours = Guard(ours);
    let leech = tmp.path().join("leech");
    assert!(
        libtorrent_leech_with(&leech, &torrent, port, Some("rc4")),
        "libtorrent RC4 leecher failed"
    );
    assert_same_tree(&tmp.path().join("seed/multi"), &leech.join("multi"));
}

/// Both ends `--bt-force-encryption`: RC4 both ways between two ariettas.
#[test]
fn arietta_to_arietta_forced_encryption() {
    if skip("arietta_to_arietta_forced_encryption") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let tmp = tempdir();
    let (_tracker, torrent) = swarm(tmp.path(), &refs);
    let (ours, _) = arietta_seeder(
        tmp.path(),
        &torrent,
        &["--seed-ratio=0", "--bt-force-encryption=true"],
    );
    let _ours = Guard(ours);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let out = wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&leech),
                "--seed-time=0",
                &port,
                "--bt-tracker-interval=1",
                "--bt-force-encryption=true",
                s(&torrent),
            ],
        ),
        LIMIT,
    );
    out.expect_code(exit::OK);
    assert_same_tree(&tmp.path().join("seed/multi"), &leech.join("multi"));
}

/// Under `--bt-require-crypto` a plain BitTorrent handshake gets no
/// answer: the connection is closed.
#[test]
fn required_crypto_refuses_plain_handshake() {
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let port = free_port();
    let child = spawn(
        tmp.path(),
        &[
            "-d",
            s(&tmp.path().join("leech")),
            &format!("--listen-port={port}"),
            "--bt-exclude-tracker=*",
            "--bt-require-crypto=true",
            s(&torrent),
        ],
    );
    let _g = Guard(child);
    assert!(wait_listening(port, Duration::from_secs(20)));
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hs = vec![19u8];
    hs.extend_from_slice(b"BitTorrent protocol");
    hs.extend_from_slice(&[0u8; 8]);
    hs.extend_from_slice(&t.info_hash);
    hs.extend_from_slice(b"-PLAIN--0123456789ab");
    c.write_all(&hs).unwrap();
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
    if skip("overall_upload_limit_slows_seeding") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let total: usize = files.iter().map(|(_, d)| d.len()).sum();
    let tmp = tempdir();
    let (_tracker, torrent) = swarm(tmp.path(), &refs);
    let (ours, _) = arietta_seeder(
        tmp.path(),
        &torrent,
        &["--seed-ratio=0", "--max-overall-upload-limit=1M"],
    );
    let _ours = Guard(ours);
    let leech = tmp.path().join("leech");
    let started = Instant::now();
    let leecher = aria2c(
        tmp.path(),
        &[
            "-d",
            s(&leech),
            "--seed-time=0",
            &format!("--listen-port={}", free_port()),
            s(&torrent),
        ],
    );
    assert!(run_for(leecher, LIMIT), "aria2c leecher failed");
    let took = started.elapsed();
    assert_same_tree(&tmp.path().join("seed/multi"), &leech.join("multi"));
    // 1 MiB/s less a burst of a tenth of a second.
    let floor = Duration::from_secs_f64(total as f64 / (1 << 20) as f64 - 0.5);
    assert!(took >= floor, "3 MB at 1 MiB/s took only {took:?}");
}

/// A magnet link resolved (ut_metadata) and downloaded from an aria2c
/// seeder that accepts only MSE: the metadata connection is encrypted too.
#[test]
fn magnet_from_aria2c_with_required_crypto() {
    if skip("magnet_from_aria2c_with_required_crypto") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let tmp = tempdir();
    let (tracker, torrent) = swarm(tmp.path(), &refs);
    let (_seeder, _) = aria2c_seeder_with(
        tmp.path(),
        &tmp.path().join("seed"),
        &torrent,
        &["--bt-require-crypto=true"],
    );
    let hash = make_torrent("multi", &refs, PIECE, None).hex();
    let magnet = format!("magnet:?xt=urn:btih:{hash}&tr={}", tracker.http());
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let out = wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&leech),
                "--seed-time=0",
                &port,
                "--bt-tracker-interval=1",
                "--bt-require-crypto=true",
                &magnet,
            ],
        ),
        LIMIT,
    );
    out.expect_code(exit::OK);
    assert_same_tree(&tmp.path().join("seed/multi"), &leech.join("multi"));
}
