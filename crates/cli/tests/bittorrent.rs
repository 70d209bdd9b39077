//! BitTorrent end to end against real peers on loopback: opentracker (HTTP
//! and UDP announce), aria2c and python3-libtorrent as seeders and
//! leechers, plus hostile peers written here. Skipped (with a message)
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

/// Three files whose boundaries fall inside pieces.
fn sample() -> Vec<(Vec<&'static str>, Vec<u8>)> {
    vec![
        (vec!["a.bin"], pattern(3_000_000, 1)),
        (vec!["sub", "b.bin"], pattern(1_234_567, 2)),
        (vec!["c.txt"], b"hello from arietta\n".to_vec()),
    ]
}

/// A torrent announcing to a fresh opentracker that whitelists it.
fn swarm(
    files: &[(Vec<&'static str>, &[u8])],
    announce: fn(&Tracker) -> String,
) -> (Tracker, Torrent) {
    let hash = make_torrent("multi", files, PIECE, None).hex();
    let tracker = Tracker::start(&[hash]);
    let t = make_torrent("multi", files, PIECE, Some(&announce(&tracker)));
    (tracker, t)
}

fn skip(name: &str) -> bool {
    if !have_tools() {
        eprintln!("skipping {name}: opentracker or aria2c is not installed");
        return true;
    }
    false
}

/// [`skip`], and also when python3-libtorrent is missing.
fn skip_without_libtorrent(name: &str) -> bool {
    if skip(name) {
        return true;
    }
    if !have_libtorrent() {
        eprintln!("skipping {name}: python3-libtorrent is not installed");
        return true;
    }
    false
}

fn leech_args<'a>(dir: &'a str, port: &'a str, torrent: &'a str) -> Vec<&'a str> {
    vec![
        "-d",
        dir,
        "--seed-time=0",
        port,
        "--bt-tracker-interval=1",
        torrent,
    ]
}

/// aria2c seeds through the torrent's HTTP announce; arietta announces
/// over `proto` (aria2c speaks UDP to trackers only with DHT on, so the UDP
/// case swaps the tracker with `--bt-exclude-tracker`/`--bt-tracker`).
fn leech_from_aria2c(udp: bool) {
    let files = sample();
    let refs = as_refs(&files);
    let (tracker, t) = swarm(&refs, Tracker::http);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (_seeder, _) = aria2c_seeder(tmp.path(), &seed, &torrent);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let udp_tracker = format!("--bt-tracker={}", tracker.udp());
    let mut args = leech_args(s(&leech), &port, s(&torrent));
    if udp {
        args.insert(0, "--bt-exclude-tracker=*");
        args.insert(0, &udp_tracker);
    }
    let out = wait_with_timeout(spawn(tmp.path(), &args), LIMIT);
    out.expect_code(exit::OK);
    assert!(
        out.output().contains("Download complete"),
        "{}",
        out.output()
    );
    assert_same_tree(&seed.join("multi"), &leech.join("multi"));
    assert!(
        !leech.join("multi.aria2").exists(),
        "control file left behind"
    );
}

#[test]
fn leech_multi_file_from_aria2c_http_tracker() {
    if skip("leech_multi_file_from_aria2c_http_tracker") {
        return;
    }
    leech_from_aria2c(false);
}

#[test]
fn leech_multi_file_from_aria2c_udp_tracker() {
    if skip("leech_multi_file_from_aria2c_udp_tracker") {
        return;
    }
    leech_from_aria2c(true);
}

#[test]
fn leech_multi_file_from_libtorrent() {
    if skip_without_libtorrent("leech_multi_file_from_libtorrent") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let (_tracker, t) = swarm(&refs, Tracker::http);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (_seeder, _) = libtorrent_seeder(&seed, &torrent);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    wait_with_timeout(
        spawn(tmp.path(), &leech_args(s(&leech), &port, s(&torrent))),
        LIMIT,
    )
    .expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &leech.join("multi"));
}

/// BEP 52: a v2-only torrent made and seeded by libtorrent (no v1 hashes,
/// files aligned to pieces, SHA-256 merkle piece layers) is found through
/// the tracker by its truncated v2 info-hash and leeched byte-identical:
/// one file of several pieces (checked against its piece layer, last piece
/// short) and one smaller than a piece (checked against its pieces root).
#[test]
fn leech_v2_only_torrent_from_libtorrent() {
    if skip_without_libtorrent("leech_v2_only_torrent_from_libtorrent") {
        return;
    }
    let files: Vec<(Vec<&str>, Vec<u8>)> = vec![
        (vec!["a.bin"], pattern(300_000, 7)),
        (vec!["b.txt"], pattern(40_000, 8)),
    ];
    let refs = as_refs(&files);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "v2", &refs);
    let torrent = tmp.path().join("v2.torrent");
    let hash = libtorrent_make_v2(
        &torrent,
        &seed.join("v2"),
        PIECE,
        "http://127.0.0.1:1/announce",
    );
    let tracker = Tracker::start(std::slice::from_ref(&hash));
    let again = libtorrent_make_v2(&torrent, &seed.join("v2"), PIECE, &tracker.http());
    assert_eq!(
        hash, again,
        "the info dictionary does not depend on the tracker"
    );
    let (_seeder, _) = libtorrent_seeder(&seed, &torrent);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    wait_with_timeout(
        spawn(tmp.path(), &leech_args(s(&leech), &port, s(&torrent))),
        LIMIT,
    )
    .expect_code(exit::OK);
    assert_same_tree(&seed.join("v2"), &leech.join("v2"));

    // A flipped byte in each file must fail its merkle check under -V and be
    // fetched again.
    for (name, at) in [("a.bin", 200_000u64), ("b.txt", 30_000)] {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(leech.join("v2").join(name))
            .unwrap();
        f.write_all_at(b"\xff\x00", at).unwrap();
    }
    let mut args = leech_args(s(&leech), &port, s(&torrent));
    args.insert(0, "-V");
    wait_with_timeout(spawn(tmp.path(), &args), LIMIT).expect_code(exit::OK);
    assert_same_tree(&seed.join("v2"), &leech.join("v2"));
}

/// arietta seeds complete data (hash-checked at start) until the default
/// `--seed-ratio=1.0` is met, then exits 0 by itself.
fn start_arietta_seeder(
    tmp: &Path,
    seed: &Path,
    torrent: &Path,
    extra: &[&str],
) -> (std::process::Child, u16) {
    let port = free_port();
    let p = format!("--listen-port={port}");
    let mut args = vec!["-d", s(seed), &p, "--bt-tracker-interval=1"];
    args.extend_from_slice(extra);
    args.push(s(torrent));
    let child = spawn(tmp, &args);
    assert!(
        wait_listening(port, Duration::from_secs(20)),
        "arietta never listened"
    );
    (child, port)
}

#[test]
fn seed_to_aria2c_leecher_until_ratio() {
    if skip("seed_to_aria2c_leecher_until_ratio") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let (_tracker, t) = swarm(&refs, Tracker::http);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (ours, _) = start_arietta_seeder(tmp.path(), &seed, &torrent, &[]);
    let leech = tmp.path().join("leech");
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
    assert_same_tree(&seed.join("multi"), &leech.join("multi"));
    wait_with_timeout(ours, Duration::from_secs(20)).expect_code(exit::OK);
}

#[test]
fn seed_to_libtorrent_leecher() {
    if skip_without_libtorrent("seed_to_libtorrent_leecher") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let (_tracker, t) = swarm(&refs, Tracker::http);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    // No ratio limit here: libtorrent re-requests blocks that are slow to
    // come on a loaded machine, which can fill the ratio before its last
    // piece arrives (the ratio exit is tested with aria2c above).
    let (ours, port) = start_arietta_seeder(tmp.path(), &seed, &torrent, &["--seed-ratio=0"]);
    let _ours = Guard(ours);
    let leech = tmp.path().join("leech");
    assert!(
        libtorrent_leech(&leech, &torrent, port),
        "libtorrent leecher failed"
    );
    assert_same_tree(&seed.join("multi"), &leech.join("multi"));
}

/// BEP 52: arietta hash-checks a v2-only torrent's data at start (merkle
/// roots) and serves it to a libtorrent leecher, alignment gaps included.
#[test]
fn seed_v2_only_torrent_to_libtorrent() {
    if skip_without_libtorrent("seed_v2_only_torrent_to_libtorrent") {
        return;
    }
    let files: Vec<(Vec<&str>, Vec<u8>)> = vec![
        (vec!["a.bin"], pattern(300_000, 9)),
        (vec!["b.txt"], pattern(40_000, 10)),
    ];
    let refs = as_refs(&files);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "v2", &refs);
    let torrent = tmp.path().join("v2.torrent");
    libtorrent_make_v2(
        &torrent,
        &seed.join("v2"),
        PIECE,
        "http://127.0.0.1:1/announce",
    );
    let (ours, port) = start_arietta_seeder(tmp.path(), &seed, &torrent, &["--seed-ratio=0"]);
    let _ours = Guard(ours);
    let leech = tmp.path().join("leech");
    assert!(
        libtorrent_leech(&leech, &torrent, port),
        "libtorrent leecher failed"
    );
    assert_same_tree(&seed.join("v2"), &leech.join("v2"));
}

#[test]
fn seed_time_ends_seeding() {
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let started = Instant::now();
    let (ours, _) = start_arietta_seeder(tmp.path(), &seed, &torrent, &["--seed-time=0.02"]);
    let out = wait_with_timeout(ours, Duration::from_secs(20));
    out.expect_code(exit::OK);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "seeded too briefly"
    );
    assert!(
        out.output().contains("Download complete"),
        "{}",
        out.output()
    );
}

/// A control file vouches for pieces without a re-hash (a corrupted byte
/// goes unnoticed, as in aria2); `-V` hashes everything, finds the bad
/// piece and fetches it again.
#[test]
fn fast_resume_trusts_control_file_and_check_integrity_repairs() {
    if skip("fast_resume_trusts_control_file_and_check_integrity_repairs") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let (_tracker, t) = swarm(&refs, Tracker::http);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    // A seeding run stopped with SIGINT keeps its control file.
    let ours_dir = tmp.path().join("ours");
    write_files(&ours_dir, "multi", &refs);
    let (ours, _) = start_arietta_seeder(
        tmp.path(),
        &ours_dir,
        &torrent,
        &["--seed-ratio=0", "--bt-exclude-tracker=*"],
    );
    std::thread::sleep(Duration::from_millis(700));
    support::signal_and_wait(ours, libc_sigint(), Duration::from_secs(10));
    let control = ours_dir.join("multi.aria2");
    assert!(
        control.exists(),
        "no control file after an interrupted seed"
    );
    // Corrupt one byte: the control file still claims every piece.
    let a = ours_dir.join("multi/a.bin");
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[100_000] ^= 0xff;
    std::fs::write(&a, &bytes).unwrap();
    let port = format!("--listen-port={}", free_port());
    let mut args = leech_args(s(&ours_dir), &port, s(&torrent));
    args.insert(0, "--bt-exclude-tracker=*");
    wait_with_timeout(spawn(tmp.path(), &args), Duration::from_secs(20)).expect_code(exit::OK);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        bytes,
        "fast resume re-hashed and changed data"
    );
    // -V finds the bad piece and downloads it again from aria2c.
    let (_seeder, _) = aria2c_seeder(tmp.path(), &seed, &torrent);
    let mut args = leech_args(s(&ours_dir), &port, s(&torrent));
    args.insert(0, "-V");
    wait_with_timeout(spawn(tmp.path(), &args), LIMIT).expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &ours_dir.join("multi"));
}

fn libc_sigint() -> i32 {
    2
}

// ---- hostile peers ----------------------------------------------------

/// Connects to arietta's port and completes the handshake for `info_hash`.
fn hostile_connect(port: u16, info_hash: [u8; 20]) -> TcpStream {
    assert!(wait_listening(port, Duration::from_secs(20)));
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hs = vec![19u8];
    hs.extend_from_slice(b"BitTorrent protocol");
    hs.extend_from_slice(&[0u8; 8]);
    hs.extend_from_slice(&info_hash);
    hs.extend_from_slice(b"-HOSTILE-0123456789-");
    s.write_all(&hs).unwrap();
    let mut theirs = [0u8; 68];
    s.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[28..48], &info_hash);
    s
}

fn msg(id: u8, body: &[u8]) -> Vec<u8> {
    let mut m = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    m.push(id);
    m.extend_from_slice(body);
    m
}

/// Reads until the other side closes; true if it did within the timeout.
fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
    false
}

/// arietta started as a leecher with nothing to announce to.
fn lonely_leecher(tmp: &Path, torrent: &Path) -> (std::process::Child, u16) {
    let port = free_port();
    let child = spawn(
        tmp,
        &[
            "-d",
            s(&tmp.join("leech")),
            &format!("--listen-port={port}"),
            "--bt-exclude-tracker=*",
            "--seed-time=0",
            s(torrent),
        ],
    );
    (child, port)
}

#[test]
fn oversized_message_drops_peer() {
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (child, port) = lonely_leecher(tmp.path(), &torrent);
    let _g = Guard(child);
    let mut s = hostile_connect(port, t.info_hash);
    let mut huge = (8u32 << 20).to_be_bytes().to_vec();
    huge.push(7);
    s.write_all(&huge).unwrap();
    assert!(closed_by_peer(&mut s), "an 8 MiB message was not refused");
}

#[test]
fn bitfield_of_wrong_length_drops_peer() {
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (child, port) = lonely_leecher(tmp.path(), &torrent);
    let _g = Guard(child);
    let mut s = hostile_connect(port, t.info_hash);
    // 65 pieces need 9 bytes; send 3.
    s.write_all(&msg(5, &[0xff, 0xff, 0xff])).unwrap();
    assert!(closed_by_peer(&mut s), "a short bitfield was accepted");
}

/// A peer that has "everything" and answers every request with garbage:
/// its pieces fail the hash, it is dropped, and the good seeder (aria2c)
/// supplies them again.
#[test]
fn bad_piece_data_bans_peer_and_refetches() {
    if skip("bad_piece_data_bans_peer_and_refetches") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let (_tracker, t) = swarm(&refs, Tracker::http);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (_seeder, _) = aria2c_seeder(tmp.path(), &seed, &torrent);
    let leech = tmp.path().join("leech");
    let port = free_port();
    let p = format!("--listen-port={port}");
    let child = spawn(tmp.path(), &leech_args(s(&leech), &p, s(&torrent)));
    let info_hash = t.info_hash;
    let total: usize = files.iter().map(|(_, d)| d.len()).sum();
    let hostile = std::thread::spawn(move || {
        let mut s = hostile_connect(port, info_hash);
        let pieces = total.div_ceil(PIECE);
        let mut bf = vec![0xffu8; pieces.div_ceil(8)];
        *bf.last_mut().unwrap() &= 0xffu8 << (bf.len() * 8 - pieces);
        s.write_all(&msg(5, &bf)).unwrap();
        s.write_all(&msg(1, &[])).unwrap();
        let mut served = 0;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            let n = match s.read(&mut chunk) {
                Ok(0) | Err(_) => return served,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            while buf.len() >= 4 {
                let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
                if buf.len() < 4 + len {
                    break;
                }
                let m: Vec<u8> = buf.drain(..4 + len).collect();
                if len == 13 && m[4] == 6 {
                    let mut body = m[5..13].to_vec();
                    let want = u32::from_be_bytes(m[13..17].try_into().unwrap()) as usize;
                    body.extend(std::iter::repeat_n(0xA5u8, want));
                    if s.write_all(&msg(7, &body)).is_err() {
                        return served;
                    }
                    served += 1;
                }
            }
        }
    });
    let out = wait_with_timeout(child, LIMIT);
    out.expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &leech.join("multi"));
    let served = hostile.join().unwrap();
    assert!(served > 0, "the hostile peer was never asked for data");
}

#[test]
fn torrent_with_dotdot_path_is_refused() {
    let data = pattern(1000, 3);
    let t = make_torrent("multi", &[(vec!["..", "evil.bin"], &data)], PIECE, None);
    let tmp = tempdir();
    let torrent = tmp.path().join("evil.torrent");
    t.write(&torrent);
    let dl = tmp.path().join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let out = support::run(
        tmp.path(),
        &[
            "-d",
            s(&dl),
            "--seed-time=0",
            "--listen-port=1025-65535",
            s(&torrent),
        ],
    );
    let code = out.expect_failure();
    assert_eq!(code, 26, "{}", out.output());
    assert!(out.output().contains(".."), "{}", out.output());
    assert!(!tmp.path().join("evil.bin").exists());
    assert!(!dl.join("evil.bin").exists());
}

#[test]
fn show_files_lists_the_torrent() {
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let out = support::run(tmp.path(), &["-S", s(&torrent)]);
    out.expect_code(exit::OK);
    let text = out.output();
    assert!(text.contains("multi/sub/b.bin"), "{text}");
    assert!(text.contains(&t.hex()), "{text}");
}

// ---- RPC ----------------------------------------------------------------

fn rpc_call(port: u16, method: &str, params: &str) -> String {
    let body = format!(r#"{{"jsonrpc":"2.0","id":"t","method":"{method}","params":{params}}}"#);
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    json[at..].split('"').next()
}

/// `aria2.addTorrent` starts a torrent (here: seeding complete data) and
/// `tellStatus` shows aria2's BitTorrent fields.
#[test]
fn rpc_add_torrent_and_tell_status() {
    use base64::Engine;
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    write_files(tmp.path(), "multi", &refs);
    let rpc_port = free_port();
    let bt_port = free_port();
    let child = spawn(
        tmp.path(),
        &[
            "--enable-rpc",
            &format!("--rpc-listen-port={rpc_port}"),
            &format!("--dir={}", s(tmp.path())),
            &format!("--listen-port={bt_port}"),
            "--seed-ratio=0",
            "-q",
        ],
    );
    let _g = Guard(child);
    assert!(wait_listening(rpc_port, Duration::from_secs(10)));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&t.bytes);
    let added = rpc_call(rpc_port, "aria2.addTorrent", &format!(r#"["{b64}"]"#));
    let gid = json_field(&added, "result")
        .unwrap_or_else(|| panic!("{added}"))
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let st = rpc_call(rpc_port, "aria2.tellStatus", &format!(r#"["{gid}"]"#));
        if json_field(&st, "seeder") == Some("true") || Instant::now() > deadline {
            break st;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        json_field(&status, "infoHash"),
        Some(t.hex().as_str()),
        "{status}"
    );
    assert_eq!(json_field(&status, "seeder"), Some("true"), "{status}");
    assert_eq!(json_field(&status, "numSeeders"), Some("0"), "{status}");
    assert_eq!(
        json_field(&status, "completedLength"),
        json_field(&status, "totalLength")
    );
    assert!(status.contains("\"bittorrent\""), "{status}");
    assert!(tmp.path().join(format!("{}.torrent", t.hex())).exists());
    // A connected peer shows up in getPeers.
    let _peer = hostile_connect(bt_port, t.info_hash);
    let deadline = Instant::now() + Duration::from_secs(10);
    let peers = loop {
        let p = rpc_call(rpc_port, "aria2.getPeers", &format!(r#"["{gid}"]"#));
        if p.contains("HOSTILE") || Instant::now() > deadline {
            break p;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(peers.contains("-HOSTILE-0123456789-"), "{peers}");
    assert_eq!(json_field(&peers, "ip"), Some("127.0.0.1"), "{peers}");
}

// ---- magnet links -------------------------------------------------------

fn magnet_swarm(tmp: &Path) -> (Tracker, Torrent, Guard, std::path::PathBuf, String) {
    let files = sample();
    let refs = as_refs(&files);
    let (tracker, t) = swarm(&refs, Tracker::http);
    let seed = tmp.join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.join("multi.torrent");
    t.write(&torrent);
    let (seeder, _) = libtorrent_seeder(&seed, &torrent);
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=multi&tr={}",
        t.hex(),
        tracker.http().replace(':', "%3A").replace('/', "%2F")
    );
    (tracker, t, seeder, seed, magnet)
}

/// The info dictionary comes from a libtorrent seeder over ut_metadata,
/// then the files.
#[test]
fn magnet_link_through_ut_metadata_from_libtorrent() {
    if skip("magnet_link_through_ut_metadata_from_libtorrent") || !have_libtorrent() {
        return;
    }
    let tmp = tempdir();
    let (_tracker, _t, _seeder, seed, magnet) = magnet_swarm(tmp.path());
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    wait_with_timeout(
        spawn(tmp.path(), &leech_args(s(&leech), &port, &magnet)),
        LIMIT,
    )
    .expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &leech.join("multi"));
}

#[test]
fn magnet_metadata_only_saves_the_torrent() {
    if skip("magnet_metadata_only_saves_the_torrent") || !have_libtorrent() {
        return;
    }
    let tmp = tempdir();
    let (_tracker, t, _seeder, _seed, magnet) = magnet_swarm(tmp.path());
    let out_dir = tmp.path().join("meta");
    let port = format!("--listen-port={}", free_port());
    wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&out_dir),
                &port,
                "--bt-metadata-only",
                "--bt-save-metadata",
                &magnet,
            ],
        ),
        LIMIT,
    )
    .expect_code(exit::OK);
    let saved = std::fs::read(out_dir.join(format!("{}.torrent", t.hex()))).unwrap();
    let info_at = saved.windows(6).position(|w| w == b"4:info").unwrap() + 6;
    let info = &saved[info_at..saved.len() - 1];
    let original_at = t.bytes.windows(6).position(|w| w == b"4:info").unwrap() + 6;
    assert_eq!(info, &t.bytes[original_at..t.bytes.len() - 1]);
    assert!(
        !out_dir.join("multi").exists(),
        "metadata-only downloaded data"
    );
}

/// `--select-file` downloads only the pieces of file 2 and `--index-out`
/// puts it under another name.
#[test]
fn select_file_and_index_out() {
    if skip("select_file_and_index_out") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let (_tracker, t) = swarm(&refs, Tracker::http);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (_seeder, _) = aria2c_seeder(tmp.path(), &seed, &torrent);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let mut args = leech_args(s(&leech), &port, s(&torrent));
    args.insert(0, "--select-file=2");
    args.insert(0, "--index-out=2=renamed.bin");
    wait_with_timeout(spawn(tmp.path(), &args), LIMIT).expect_code(exit::OK);
    assert!(std::fs::read(leech.join("renamed.bin")).unwrap() == files[1].1);
    assert!(!leech.join("multi/sub/b.bin").exists());
    // Only pieces of file 2 came: a.bin holds at most its last piece.
    let a_written = std::fs::read(leech.join("multi/a.bin"))
        .map(|d| d.iter().filter(|b| **b != 0).count())
        .unwrap_or(0);
    assert!(a_written <= PIECE, "unselected a.bin was downloaded");
}

/// No peer, no data: `--bt-stop-timeout` gives up with aria2's timeout code.
#[test]
fn stop_timeout_without_data() {
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let out = wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&tmp.path().join("leech")),
                &format!("--listen-port={}", free_port()),
                "--bt-stop-timeout=1",
                s(&torrent),
            ],
        ),
        Duration::from_secs(20),
    );
    out.expect_code(exit::TIMEOUT);
    assert!(out.output().contains("bt-stop-timeout"), "{}", out.output());
}

/// Ctrl-C in the middle of a download keeps the control file; the next run
/// continues from it and finishes byte-identical.
#[test]
fn interrupted_leech_resumes_from_control_file() {
    if skip("interrupted_leech_resumes_from_control_file") {
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let (_tracker, t) = swarm(&refs, Tracker::http);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (_seeder, _) = aria2c_seeder(tmp.path(), &seed, &torrent);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let mut args = leech_args(s(&leech), &port, s(&torrent));
    args.insert(0, "--max-download-limit=1M");
    let child = spawn(tmp.path(), &args);
    let control = leech.join("multi.aria2");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !control.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let out = support::signal_and_wait(child, libc_sigint(), Duration::from_secs(10));
    out.expect_code(exit::UNFINISHED);
    assert!(control.exists(), "no control file after Ctrl-C");
    let saved = std::fs::read(&control).unwrap();
    assert!(saved.len() > 20, "empty control file");
    wait_with_timeout(
        spawn(tmp.path(), &leech_args(s(&leech), &port, s(&torrent))),
        LIMIT,
    )
    .expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &leech.join("multi"));
    assert!(!control.exists());
}

/// `-V --bt-hash-check-seed=false` on complete files: the check passes and
/// the download ends there (exit 0) instead of seeding, as in aria2.
#[test]
fn hash_check_seed_false_ends_after_the_check() {
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let dir = tmp.path().join("have");
    write_files(&dir, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let port = format!("--listen-port={}", free_port());
    let args = [
        "-d",
        s(&dir),
        "-V",
        "--bt-hash-check-seed=false",
        "--enable-dht=false",
        &port,
        s(&torrent),
    ];
    wait_with_timeout(spawn(tmp.path(), &args), Duration::from_secs(20)).expect_code(exit::OK);
    assert_same_tree(&tmp.path().join("have"), &dir);
}
