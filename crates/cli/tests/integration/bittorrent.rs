//! BitTorrent end to end against real peers on loopback: opentracker (HTTP
//! and UDP announce), aria2c and python3-libtorrent as seeders and
//! leechers, plus hostile peers written here. Where opentracker, aria2c or
//! libtorrent is missing the test skips with a message (fails under CI).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::bt_support::*;
use crate::support::rpc_client::Daemon;
use crate::support::{
    bytes_landed, exit, require, s, signal_and_wait, tempdir, wait_until, wait_with_timeout,
};

/// Three files whose boundaries fall inside pieces.
fn sample() -> Files {
    vec![
        (vec!["a.bin"], pattern(3_000_000, 1)),
        (vec!["sub", "b.bin"], pattern(1_234_567, 2)),
        (vec!["c.txt"], b"hello from arietta\n".to_vec()),
    ]
}

/// `sample()` as torrent "multi" announcing to a fresh opentracker.
fn tracked() -> Swarm {
    Swarm::new("multi", sample()).tracker().build()
}

/// aria2c seeds through the torrent's HTTP announce; arietta announces
/// over `proto` (aria2c speaks UDP to trackers only with DHT on, so the UDP
/// case swaps the tracker with `--bt-exclude-tracker`/`--bt-tracker`).
fn leech_from_aria2c(udp: bool) {
    let sw = tracked().aria2c_seeder();
    let udp_tracker = format!("--bt-tracker={}", sw.tracker.as_ref().unwrap().udp());
    let extra: &[&str] = if udp {
        &[&udp_tracker, "--bt-exclude-tracker=*"]
    } else {
        &[]
    };
    let out = sw.leech(extra);
    out.expect_code(exit::OK);
    assert!(
        out.output().contains("Download complete"),
        "{}",
        out.output()
    );
    sw.assert_leeched();
    assert!(
        !sw.leech_dir().join("multi.aria2").exists(),
        "control file left behind"
    );
}

#[test]
fn leech_multi_file_from_aria2c_http_tracker() {
    if require_tracker_and_aria2c() {
        leech_from_aria2c(false);
    }
}

#[test]
fn leech_multi_file_from_aria2c_udp_tracker() {
    if require_tracker_and_aria2c() {
        leech_from_aria2c(true);
    }
}

#[test]
fn leech_multi_file_from_libtorrent() {
    if !(require("opentracker") && require_libtorrent()) {
        return;
    }
    let sw = tracked().libtorrent_seeder();
    sw.leech(&[]).expect_code(exit::OK);
    sw.assert_leeched();
}

/// Two files for the v2 tests: one of several pieces (checked against its
/// piece layer, last piece short) and one smaller than a piece (checked
/// against its pieces root).
fn v2_files(seed: u64) -> Files {
    vec![
        (vec!["a.bin"], pattern(300_000, seed)),
        (vec!["b.txt"], pattern(40_000, seed + 1)),
    ]
}

/// BEP 52: a v2-only torrent made and seeded by libtorrent (no v1 hashes,
/// files aligned to pieces, SHA-256 merkle piece layers) is found through
/// the tracker by its truncated v2 info-hash and leeched byte-identical.
#[test]
fn leech_v2_only_torrent_from_libtorrent() {
    if !(require("opentracker") && require_libtorrent()) {
        return;
    }
    let sw = Swarm::new("v2", v2_files(7))
        .tracker()
        .libtorrent_v2()
        .build()
        .libtorrent_seeder();
    sw.leech(&[]).expect_code(exit::OK);
    sw.assert_leeched();

    // A flipped byte in each file must fail its merkle check under -V and be
    // fetched again.
    for (name, at) in [("a.bin", 200_000u64), ("b.txt", 30_000)] {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(sw.leech_dir().join("v2").join(name))
            .unwrap();
        f.write_all_at(b"\xff\x00", at).unwrap();
    }
    sw.leech(&["-V"]).expect_code(exit::OK);
    sw.assert_leeched();
}

/// arietta seeds complete data (hash-checked at start) until the default
/// `--seed-ratio=1.0` is met, then exits 0 by itself.
#[test]
fn seed_to_aria2c_leecher_until_ratio() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked();
    let (ours, _) = sw.arietta_seeder(&[]);
    assert!(sw.aria2c_leech(), "aria2c leecher failed");
    sw.assert_leeched();
    wait_with_timeout(ours, Duration::from_secs(20)).expect_code(exit::OK);
}

#[test]
fn seed_to_libtorrent_leecher() {
    if !(require("opentracker") && require_libtorrent()) {
        return;
    }
    let sw = tracked();
    // No ratio limit here: libtorrent re-requests blocks that are slow to
    // come on a loaded machine, which can fill the ratio before its last
    // piece arrives (the ratio exit is tested with aria2c above).
    sw.seed_to_libtorrent(None);
}

/// BEP 52: arietta hash-checks a v2-only torrent's data at start (merkle
/// roots) and serves it to a libtorrent leecher, alignment gaps included.
#[test]
fn seed_v2_only_torrent_to_libtorrent() {
    if !require_libtorrent() {
        return;
    }
    let sw = Swarm::new("v2", v2_files(9)).libtorrent_v2().build();
    sw.seed_to_libtorrent(None);
}

#[test]
fn seed_time_ends_seeding() {
    let sw = Swarm::new("multi", sample()).build();
    let started = Instant::now();
    let (ours, _) = sw.arietta_seeder(&["--seed-time=0.02"]);
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
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked();
    // A seeding run stopped with SIGINT keeps its control file with
    // --force-save (without it a complete torrent's goes, as in aria2).
    let ours_dir = sw.dir().join("ours");
    write_files(&ours_dir, "multi", &as_refs(&sw.files));
    let (ours, _) = sw.arietta_seeder_from(
        &ours_dir,
        &[
            "--seed-ratio=0",
            "--bt-exclude-tracker=*",
            "--force-save=true",
        ],
    );
    // The control file is first written when the start-up hash check has
    // found the data complete.
    let control = ours_dir.join("multi.aria2");
    assert!(
        wait_until(Duration::from_secs(20), || control.exists()),
        "the seeder never finished its hash check"
    );
    signal_and_wait(ours, libc::SIGINT, Duration::from_secs(10));
    assert!(
        control.exists(),
        "no control file after an interrupted seed"
    );
    // Corrupt one byte: the control file still claims every piece.
    let a = ours_dir.join("multi/a.bin");
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[100_000] ^= 0xff;
    std::fs::write(&a, &bytes).unwrap();
    wait_with_timeout(
        sw.spawn_leech_in(&ours_dir, &["--bt-exclude-tracker=*"]),
        Duration::from_secs(20),
    )
    .expect_code(exit::OK);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        bytes,
        "fast resume re-hashed and changed data"
    );
    // -V finds the bad piece and downloads it again from aria2c.
    let sw = sw.aria2c_seeder();
    wait_with_timeout(sw.spawn_leech_in(&ours_dir, &["-V"]), LEECH_LIMIT).expect_code(exit::OK);
    sw.assert_complete_in(&ours_dir);
}

/// A complete torrent interrupted while seeding ends OK and, without
/// `--force-save`, leaves no control file behind: aria2c 1.36 does the
/// same (its periodic save removes a finished download's control file).
#[test]
fn interrupted_complete_seed_ends_ok_without_a_control_file_like_aria2c() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked();
    for tool in ["arietta", "aria2c"] {
        // The hook marks the moment the tool has found its data complete.
        let marker = sw.dir().join(format!("{tool}-seeding"));
        let hook = sw.dir().join(format!("{tool}-done.sh"));
        std::fs::write(&hook, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
        std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let on_done = format!("--on-bt-download-complete={}", hook.display());
        let dir = sw.dir().join(tool);
        write_files(&dir, "multi", &as_refs(&sw.files));
        let args = ["--seed-ratio=0", "--bt-exclude-tracker=*", &on_done];
        let child = if tool == "arietta" {
            sw.arietta_seeder_from(&dir, &args).0
        } else {
            let listen = format!("--listen-port={}", free_port());
            let mut a = vec!["-d", s(&dir), "-V", &listen];
            a.extend_from_slice(&args);
            a.push(s(&sw.torrent_path));
            aria2c(sw.dir(), &a).spawn().expect("start aria2c")
        };
        let seeding = || marker.exists();
        assert!(
            wait_until(Duration::from_secs(30), seeding),
            "{tool} never started seeding"
        );
        let out = signal_and_wait(child, libc::SIGINT, Duration::from_secs(15));
        out.expect_code(exit::OK);
        assert!(
            !dir.join("multi.aria2").exists(),
            "{tool} left a control file\n{}",
            out.output()
        );
        assert!(
            std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .all(|e| !e.file_name().to_string_lossy().contains(".tmp.")),
            "{tool} left a temporary file"
        );
    }
}

// ---- hostile peers ----------------------------------------------------

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

/// arietta started as a leecher with nothing to announce to, and a hostile
/// peer connected to it.
fn lonely_leecher() -> (Swarm, Guard, TcpStream) {
    let sw = Swarm::new("multi", sample()).build();
    let port = free_port();
    let child = Guard(sw.spawn_leech_on(port, &["--bt-exclude-tracker=*"]));
    let s = hostile_connect(port, sw.torrent.info_hash);
    (sw, child, s)
}

#[test]
fn oversized_message_drops_peer() {
    let (_sw, _g, mut s) = lonely_leecher();
    let mut huge = (8u32 << 20).to_be_bytes().to_vec();
    huge.push(7);
    s.write_all(&huge).unwrap();
    assert!(closed_by_peer(&mut s), "an 8 MiB message was not refused");
}

#[test]
fn bitfield_of_wrong_length_drops_peer() {
    let (_sw, _g, mut s) = lonely_leecher();
    // 65 pieces need 9 bytes; send 3.
    s.write_all(&msg(5, &[0xff, 0xff, 0xff])).unwrap();
    assert!(closed_by_peer(&mut s), "a short bitfield was accepted");
}

/// Plays a peer that has "everything" and answers every request with
/// garbage; returns how many blocks it served before arietta hung up.
fn serve_garbage(mut s: TcpStream, total: usize) -> usize {
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
}

/// A peer that has "everything" and answers every request with garbage:
/// its pieces fail the hash, it is dropped, and the good seeder (aria2c)
/// supplies them again.
#[test]
fn bad_piece_data_bans_peer_and_refetches() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked().aria2c_seeder();
    let port = free_port();
    let child = sw.spawn_leech_on(port, &[]);
    let (info_hash, total) = (sw.torrent.info_hash, sw.total_len());
    let hostile =
        std::thread::spawn(move || serve_garbage(hostile_connect(port, info_hash), total));
    let out = wait_with_timeout(child, LEECH_LIMIT);
    out.expect_code(exit::OK);
    sw.assert_leeched();
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
    let out = crate::support::run(
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
    let sw = Swarm::new("multi", sample()).build();
    let out = crate::support::run(sw.dir(), &["-S", sw.torrent_arg()]);
    out.expect_code(exit::OK);
    let text = out.output();
    assert!(text.contains("multi/sub/b.bin"), "{text}");
    assert!(text.contains(&sw.torrent.hex()), "{text}");
}

// ---- RPC ----------------------------------------------------------------

/// The string value of `"key":"value"` in a flat JSON answer.
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
    let t = make_torrent("multi", &as_refs(&files), PIECE, None);
    let tmp = tempdir();
    write_files(tmp.path(), "multi", &as_refs(&files));
    let bt_port = free_port();
    let d = Daemon::start(
        tmp.path(),
        &[&format!("--listen-port={bt_port}"), "--seed-ratio=0"],
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&t.bytes);
    let added = d.call("aria2.addTorrent", &format!(r#"["{b64}"]"#));
    let gid = json_field(&added, "result")
        .unwrap_or_else(|| panic!("{added}"))
        .to_owned();
    let mut status = String::new();
    wait_until(Duration::from_secs(20), || {
        status = d.call("aria2.tellStatus", &format!(r#"["{gid}"]"#));
        json_field(&status, "seeder") == Some("true")
    });
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
    // Saved under the SHA-1 of the uploaded bytes, as aria2c names it.
    let saved = {
        use sha1::Digest;
        let d = sha1::Sha1::digest(&t.bytes);
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert!(tmp.path().join(format!("{saved}.torrent")).exists());
    // A connected peer shows up in getPeers.
    let _peer = hostile_connect(bt_port, t.info_hash);
    let mut peers = String::new();
    wait_until(Duration::from_secs(10), || {
        peers = d.call("aria2.getPeers", &format!(r#"["{gid}"]"#));
        peers.contains("HOSTILE")
    });
    assert!(peers.contains("-HOSTILE-0123456789-"), "{peers}");
    assert_eq!(json_field(&peers, "ip"), Some("127.0.0.1"), "{peers}");
}

// ---- magnet links -------------------------------------------------------

/// The info dictionary comes from a libtorrent seeder over ut_metadata,
/// then the files.
#[test]
fn magnet_link_through_ut_metadata_from_libtorrent() {
    if !(require("opentracker") && require_libtorrent()) {
        return;
    }
    let sw = tracked().libtorrent_seeder();
    sw.leech_of(&[&sw.magnet()], &[]).expect_code(exit::OK);
    sw.assert_leeched();
}

/// A magnet's console lines side by side with aria2c's: the DHT advice
/// when it is off, the listening lines, the metadata finished as a
/// download of its own ("Download complete: [MEMORY][METADATA]NAME"), then
/// the files under a new GID (seeding over, "Download complete", the share
/// ratio), and both in the results table.
#[test]
fn magnet_console_lines_match_aria2c() {
    if !(require("opentracker") && require_libtorrent() && require("aria2c")) {
        return;
    }
    let sw = tracked().libtorrent_seeder();
    let magnet = sw.magnet();
    let seen = sw.console_side_by_side(&[
        "--enable-dht=false",
        "--bt-enable-lpd=false",
        "--seed-time=0",
        "--bt-tracker-interval=1",
        &magnet,
    ]);
    assert_eq!(
        seen[0].0, seen[1].0,
        "arietta (left), aria2c (right)\n{}\n---\n{}",
        seen[0].1, seen[1].1
    );
}

#[test]
fn magnet_metadata_only_saves_the_torrent() {
    if !(require("opentracker") && require_libtorrent()) {
        return;
    }
    let sw = tracked().libtorrent_seeder();
    let out_dir = sw.dir().join("meta");
    let port = format!("--listen-port={}", free_port());
    wait_with_timeout(
        crate::support::spawn(
            sw.dir(),
            &[
                "-d",
                s(&out_dir),
                &port,
                "--bt-metadata-only",
                "--bt-save-metadata",
                &sw.magnet(),
            ],
        ),
        LEECH_LIMIT,
    )
    .expect_code(exit::OK);
    let t = &sw.torrent;
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
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked().aria2c_seeder();
    sw.leech(&["--index-out=2=renamed.bin", "--select-file=2"])
        .expect_code(exit::OK);
    let leech = sw.leech_dir();
    assert!(std::fs::read(leech.join("renamed.bin")).unwrap() == sw.files[1].1);
    assert!(!leech.join("multi/sub/b.bin").exists());
    // Only pieces of file 2 came: a.bin holds at most its last piece.
    let a_written = std::fs::read(leech.join("multi/a.bin"))
        .map(|d| d.iter().filter(|b| **b != 0).count())
        .unwrap_or(0);
    assert!(a_written <= PIECE, "unselected a.bin was downloaded");
}

/// `--bt-remove-unselected-file`: the files `--select-file` left out,
/// partly written by the pieces they share with file 2, are gone at the
/// end.
#[test]
fn remove_unselected_files_once_complete() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked().aria2c_seeder();
    sw.leech(&["--select-file=2", "--bt-remove-unselected-file"])
        .expect_code(exit::OK);
    let leech = sw.leech_dir().join("multi");
    assert!(std::fs::read(leech.join("sub/b.bin")).unwrap() == sw.files[1].1);
    assert!(!leech.join("a.bin").exists(), "a.bin was kept");
    assert!(!leech.join("c.txt").exists(), "c.txt was kept");
}

/// A magnet with `--bt-load-saved-metadata` and the `HASH.torrent` a
/// `--bt-save-metadata` run wrote needs no peer for its metadata: the
/// saved torrent is the only place its info can come from here.
#[test]
fn load_saved_metadata_skips_the_fetch() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked().aria2c_seeder();
    let saved = sw.leech_dir().join(format!("{}.torrent", sw.torrent.hex()));
    std::fs::create_dir_all(sw.leech_dir()).unwrap();
    std::fs::copy(&sw.torrent_path, &saved).unwrap();
    // No tracker in the magnet, no DHT: without the saved file there is
    // nobody to ask for the metadata.
    let magnet = format!("magnet:?xt=urn:btih:{}", sw.torrent.hex());
    let out = wait_with_timeout(
        sw.spawn_leech_of(
            &[&magnet],
            &["--bt-load-saved-metadata", "--bt-stop-timeout=20"],
        ),
        LEECH_LIMIT,
    );
    out.expect_code(exit::OK);
    sw.assert_leeched();
}

/// No peer, no data: `--bt-stop-timeout` halts the torrent unfinished
/// (INPR, exit 7), as aria2c 1.36 does.
#[test]
fn stop_timeout_without_data() {
    let sw = Swarm::new("multi", sample()).build();
    let out = wait_with_timeout(
        sw.spawn_leech(&["--bt-stop-timeout=1"]),
        Duration::from_secs(20),
    );
    out.expect_code(exit::UNFINISHED);
    assert!(out.output().contains("bt-stop-timeout"), "{}", out.output());
}

/// Ctrl-C in the middle of a download keeps the control file; the next run
/// continues from it and finishes byte-identical.
#[test]
fn interrupted_leech_resumes_from_control_file() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked().aria2c_seeder();
    let child = sw.spawn_leech(&["--max-download-limit=1M"]);
    let control = sw.leech_dir().join("multi.aria2");
    // Interrupt a third of the way through (about a second at 1 MB/s).
    let third = sw.total_len() as u64 / 3;
    assert!(
        wait_until(Duration::from_secs(20), || control.exists()
            && bytes_landed(&sw.leech_dir().join("multi")) >= third),
        "the leech never got a third of the way"
    );
    let out = signal_and_wait(child, libc::SIGINT, Duration::from_secs(10));
    out.expect_code(exit::UNFINISHED);
    assert!(control.exists(), "no control file after Ctrl-C");
    let saved = std::fs::read(&control).unwrap();
    assert!(saved.len() > 20, "empty control file");
    sw.leech(&[]).expect_code(exit::OK);
    sw.assert_leeched();
    assert!(!control.exists());
}

/// A torrent's control file is aria2's (info hash, torrent piece
/// length): aria2c finishes a download arietta started, trusting the
/// pieces arietta recorded.
#[test]
fn aria2c_finishes_an_interrupted_arietta_leech() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked().aria2c_seeder();
    let child = sw.spawn_leech(&["--max-download-limit=1M"]);
    let control = sw.leech_dir().join("multi.aria2");
    let third = sw.total_len() as u64 / 3;
    assert!(
        wait_until(Duration::from_secs(20), || control.exists()
            && bytes_landed(&sw.leech_dir().join("multi")) >= third),
        "the leech never got a third of the way"
    );
    signal_and_wait(child, libc::SIGINT, Duration::from_secs(10)).expect_code(exit::UNFINISHED);
    let saved = arietta_storage::ControlFile::load(&control)
        .unwrap()
        .unwrap();
    assert!(saved.info_hash.is_some() && !saved.completed.is_empty());
    assert!(sw.aria2c_leech(), "aria2c refused or failed to finish");
    sw.assert_leeched();
    assert!(!control.exists());
}

/// And the reverse: arietta finishes a torrent aria2c started.
#[test]
fn arietta_finishes_an_interrupted_aria2c_leech() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = tracked().aria2c_seeder();
    let port = format!("--listen-port={}", free_port());
    let mut cmd = aria2c(
        sw.dir(),
        &[
            "-d",
            s(&sw.leech_dir()),
            "--seed-time=0",
            "--max-download-limit=1M",
            &port,
            sw.torrent_arg(),
        ],
    );
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn aria2c");
    let control = sw.leech_dir().join("multi.aria2");
    let third = sw.total_len() as u64 / 3;
    assert!(
        wait_until(Duration::from_secs(20), || control.exists()
            && bytes_landed(&sw.leech_dir().join("multi")) >= third),
        "aria2c never got a third of the way"
    );
    signal_and_wait(child, libc::SIGINT, Duration::from_secs(10));
    let saved = arietta_storage::ControlFile::load(&control)
        .unwrap()
        .unwrap();
    assert!(!saved.completed.is_empty(), "aria2c recorded nothing");
    sw.leech(&[]).expect_code(exit::OK);
    sw.assert_leeched();
    assert!(!control.exists());
}

/// `-V --bt-hash-check-seed=false` on complete files: the check passes and
/// the download ends there (exit 0) instead of seeding, as in aria2.
#[test]
fn hash_check_seed_false_ends_after_the_check() {
    let sw = Swarm::new("multi", sample()).build();
    let have = sw.seed_dir();
    let port = format!("--listen-port={}", free_port());
    let args = [
        "-d",
        s(&have),
        "-V",
        "--bt-hash-check-seed=false",
        "--enable-dht=false",
        &port,
        sw.torrent_arg(),
    ];
    wait_with_timeout(
        crate::support::spawn(sw.dir(), &args),
        Duration::from_secs(20),
    )
    .expect_code(exit::OK);
    sw.assert_complete_in(&have);
}

/// `-V --hash-check-only`: the check and nothing more. Complete files end
/// OK without seeding (though `--bt-hash-check-seed` is on); missing
/// pieces end the download in error (exit 1) with the verified pieces
/// recorded, and no byte is fetched, as aria2c does.
#[test]
fn hash_check_only_ends_after_the_check() {
    let sw = Swarm::new("multi", sample()).build();
    let run_check = |dir: &std::path::Path| {
        let port = format!("--listen-port={}", free_port());
        let args = [
            "-d",
            s(dir),
            "-V",
            "--hash-check-only=true",
            "--enable-dht=false",
            &port,
            sw.torrent_arg(),
        ];
        wait_with_timeout(
            crate::support::spawn(sw.dir(), &args),
            Duration::from_secs(20),
        )
    };
    let have = sw.seed_dir();
    run_check(&have).expect_code(exit::OK);
    sw.assert_complete_in(&have);

    let partial = sw.dir().join("partial");
    write_files(&partial, "multi", &as_refs(&sample()));
    let a = partial.join("multi/a.bin");
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&a, &bytes).unwrap();
    let out = run_check(&partial);
    out.expect_code(exit::UNKNOWN);
    assert!(
        out.stdout.contains("ERR") && out.stdout.contains("multi"),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read(&a).unwrap(), bytes, "nothing was fetched");
    let record = arietta_storage::ControlFile::load(&partial.join("multi.aria2"))
        .unwrap()
        .expect("the verified pieces are recorded");
    assert!(record.completed.covered() > 0);
    assert!(!record.completed.contains_range(0, 101));
}
