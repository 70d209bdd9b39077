//! `-o -`: the file streamed to stdout in order, read here as a pipe
//! reader would (fast, slowly, or a few bytes and gone), with the child's
//! peak resident memory watched from `/proc` while it runs.
//!
//! The memory bound: the stream's 16 MiB window plus what the process
//! holds anyway (runtime, cores, buffers: ~20 MiB in a debug build), so
//! [`RSS_BOUND`] = 48 MiB against files of 64 MiB and more, which would
//! not fit if the download were buffered.

use std::io::Read;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arietta_testserver::{pattern, Route, TestServer};

use crate::bt_support::{require_tracker_and_aria2c, Swarm, PIECE};
use crate::support::ftpd::pyftpd;
use crate::support::{command, exit, list_dir, tempdir, wait_with_timeout, Outcome};

/// Peak resident memory allowed while streaming (see the module docs).
const RSS_BOUND: u64 = 48 << 20;

/// How the test's end of the pipe reads.
#[derive(Clone, Copy)]
enum Reader {
    /// As fast as it can.
    Fast,
    /// 64 KiB, then a pause of this long, and again.
    Slow(Duration),
    /// This many bytes, then the pipe is closed.
    HeadOnly(usize),
}

/// What a streamed run produced.
struct Streamed {
    bytes: Vec<u8>,
    outcome: Outcome,
    /// The child's VmHWM, the last seen before it exited.
    peak_rss: u64,
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb << 10)
}

/// Runs `arietta --no-conf -o - ARGS…` in a fresh directory, reading its
/// stdout as `reader` says; the directory must be empty afterwards.
fn stream(args: &[&str], reader: Reader) -> Streamed {
    let dir = tempdir();
    let child = command(dir.path())
        .args(["--no-conf", "-o", "-"])
        .args(args)
        .spawn()
        .expect("spawn arietta");
    let s = read_child(child, reader);
    assert_eq!(
        list_dir(dir.path()),
        Vec::<String>::new(),
        "-o - leaves nothing on disk (no file, no control file)"
    );
    s
}

/// Reads a running arietta's stdout as `reader` says, watching its peak
/// resident memory, until it exits.
fn read_child(mut child: Child, reader: Reader) -> Streamed {
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                if let Some(v) = vm_hwm(pid) {
                    peak = peak.max(v);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let mut out = child.stdout.take().expect("piped stdout");
    let reading = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let want = match reader {
                Reader::HeadOnly(n) if got.len() >= n => break,
                Reader::HeadOnly(n) => buf.len().min(n - got.len()),
                _ => buf.len(),
            };
            match out.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(k) => got.extend_from_slice(&buf[..k]),
            }
            if let Reader::Slow(pause) = reader {
                std::thread::sleep(pause);
            }
        }
        // Dropping `out` closes the pipe: the writer sees EPIPE.
        got
    });
    let bytes = reading.join().expect("reader");
    let outcome = wait_with_timeout(child, Duration::from_secs(60));
    done.store(true, Ordering::Relaxed);
    let peak_rss = watcher.join().expect("watcher");
    Streamed {
        bytes,
        outcome,
        peak_rss,
    }
}

#[track_caller]
fn assert_same(got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "streamed length");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!("streamed bytes differ first at offset {i}");
    }
}

#[track_caller]
fn assert_rss_bounded(s: &Streamed) {
    assert!(s.peak_rss > 0, "no VmHWM reading");
    assert!(
        s.peak_rss <= RSS_BOUND,
        "peak RSS {} MiB above the {} MiB bound",
        s.peak_rss >> 20,
        RSS_BOUND >> 20
    );
}

#[test]
fn http_single_connection_streams_in_order_with_bounded_memory() {
    let srv = TestServer::start();
    let body = pattern(64 << 20, 31);
    let url = srv.add_file("/one.bin", body.clone());
    let s = stream(&[&url], Reader::Fast);
    s.outcome.expect_code(exit::OK);
    assert_same(&s.bytes, &body);
    assert_rss_bounded(&s);
    // The console went to stderr.
    assert!(
        s.outcome.stderr.contains("Download Results"),
        "{}",
        s.outcome.stderr
    );
    eprintln!("single connection: peak RSS {} MiB", s.peak_rss >> 20);
}

#[test]
fn http_segmented_streams_in_order_with_bounded_memory() {
    let srv = TestServer::start();
    let body = pattern(96 << 20, 32);
    let url = srv.add_file("/seg.bin", body.clone());
    let s = stream(&["-x4", "-s4", &url], Reader::Fast);
    s.outcome.expect_code(exit::OK);
    assert_same(&s.bytes, &body);
    assert_rss_bounded(&s);
    let reqs = srv.requests("/seg.bin");
    let conns: std::collections::HashSet<u64> = reqs.iter().map(|r| r.connection).collect();
    assert!(conns.len() >= 2, "several connections, got {conns:?}");
    assert!(
        reqs.iter().filter(|r| r.range().is_some()).count() >= 8,
        "pieces fetched in many ranges"
    );
    eprintln!("-x4 -s4: peak RSS {} MiB", s.peak_rss >> 20);
}

#[test]
fn a_slow_reader_holds_the_download_back_not_memory() {
    let srv = TestServer::start();
    let body = pattern(64 << 20, 33);
    let url = srv.add_file("/slow.bin", body.clone());
    let started = Instant::now();
    // ~64 MiB/s at most: the network is far faster.
    let s = stream(
        &["-x4", "-s4", &url],
        Reader::Slow(Duration::from_millis(1)),
    );
    s.outcome.expect_code(exit::OK);
    assert_same(&s.bytes, &body);
    assert_rss_bounded(&s);
    eprintln!(
        "slow reader: {:?}, peak RSS {} MiB",
        started.elapsed(),
        s.peak_rss >> 20
    );
}

#[test]
fn a_reader_that_leaves_early_ends_the_download_with_an_error() {
    let srv = TestServer::start();
    let body = pattern(64 << 20, 34);
    let url = srv.add_file("/head.bin", body.clone());
    let started = Instant::now();
    let s = stream(&["-x2", "-s2", &url], Reader::HeadOnly(100));
    assert_eq!(s.bytes, body[..100]);
    // aria2's "I/O error" code: the output could not be written.
    s.outcome.expect_code(17);
    assert!(
        s.outcome.stderr.contains("Broken pipe"),
        "{}",
        s.outcome.stderr
    );
    assert!(
        !s.outcome.stderr.contains("panicked"),
        "{}",
        s.outcome.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn unknown_length_streams_until_the_server_closes() {
    let srv = TestServer::start();
    let body = pattern(5 << 20, 35);
    srv.add_route("/chunked.bin", Route::new(body.clone()).chunked());
    let s = stream(&[&srv.url("/chunked.bin")], Reader::Fast);
    s.outcome.expect_code(exit::OK);
    assert_same(&s.bytes, &body);
}

#[test]
fn checksum_is_checked_on_the_streamed_bytes() {
    let srv = TestServer::start();
    let body = pattern(3 << 20, 42);
    let url = srv.add_file("/ck.bin", body.clone());
    let good = format!("--checksum=sha-256={}", crate::support::sha256_hex(&body));
    let s = stream(&["-x2", "-s2", &good, &url], Reader::Fast);
    s.outcome.expect_code(exit::OK);
    assert_same(&s.bytes, &body);
    let bad = format!("--checksum=sha-256={}", "0".repeat(64));
    let s = stream(&[&bad, &url], Reader::Fast);
    // The bytes are out; the exit code tells the pipeline.
    s.outcome.expect_code(exit::CHECKSUM);
    assert_same(&s.bytes, &body);
}

#[test]
fn a_second_download_cannot_share_stdout() {
    let srv = TestServer::start();
    let a = srv.add_file("/a.bin", pattern(100_000, 36));
    let b = srv.add_file("/b.bin", pattern(100_000, 37));
    let s = stream(&["-Z", "-j1", &a, &b], Reader::Fast);
    // The first one streams; the second is refused (aria2's "could not
    // open the file" code).
    s.outcome.expect_code(16);
    assert_same(&s.bytes, &pattern(100_000, 36));
    assert!(
        s.outcome.stderr.contains("already writing to stdout"),
        "{}",
        s.outcome.stderr
    );
}

#[test]
fn ftp_segmented_streams_in_order() {
    let root = tempdir();
    let body = pattern(24 << 20, 38);
    std::fs::write(root.path().join("f.bin"), &body).unwrap();
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let url = format!("ftp://127.0.0.1:{}/f.bin", srv.port);
    let s = stream(&["-x2", "-s2", &url], Reader::Fast);
    s.outcome.expect_code(exit::OK);
    assert_same(&s.bytes, &body);
    assert_rss_bounded(&s);
}

#[test]
fn bittorrent_streams_verified_pieces_in_order_and_keeps_the_files() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let a = pattern(40 * PIECE + 1234, 39);
    let b = pattern(9 * PIECE + 77, 40);
    let sw = Swarm::new(
        "streamed",
        vec![
            (vec!["a.bin"], a.clone()),
            (vec!["sub", "b.bin"], b.clone()),
        ],
    )
    .tracker()
    .build()
    .aria2c_seeder();
    let s = read_child(
        sw.spawn_leech(&["-o", "-"]),
        Reader::Slow(Duration::from_millis(1)),
    );
    s.outcome.expect_code(exit::OK);
    // The files one after another, in the torrent's order.
    let mut want = a;
    want.extend_from_slice(&b);
    assert_same(&s.bytes, &want);
    // The torrent is kept on disk as any download is (it was seedable).
    sw.assert_leeched();
    assert_rss_bounded(&s);
}

#[test]
fn bittorrent_reader_that_leaves_early_stops_the_torrent() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let data = pattern(64 * PIECE, 41);
    let sw = Swarm::new("left", vec![(vec!["x.bin"], data.clone())])
        .tracker()
        .build()
        .aria2c_seeder();
    let s = read_child(sw.spawn_leech(&["-o", "-"]), Reader::HeadOnly(100));
    assert_eq!(s.bytes, data[..100]);
    s.outcome.expect_code(17);
    assert!(
        !s.outcome.stderr.contains("panicked"),
        "{}",
        s.outcome.stderr
    );
}

#[test]
fn a_tar_archive_unpacks_from_the_pipe() {
    let src = tempdir();
    for (name, seed) in [("a.bin", 43u64), ("b/c.bin", 44)] {
        let p = src.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, pattern(3 << 20, seed)).unwrap();
    }
    let tar = tempdir();
    let archive = tar.path().join("x.tar");
    let made = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(src.path())
        .args(["a.bin", "b"])
        .status()
        .expect("run tar");
    assert!(made.success());
    let srv = TestServer::start();
    let url = srv.add_file("/x.tar", std::fs::read(&archive).unwrap());
    // arietta -x4 -s4 -o - URL | tar -x -C DIR
    let dir = tempdir();
    let dest = tempdir();
    let mut ours = command(dir.path())
        .args(["--no-conf", "-x4", "-s4", "-o", "-", &url])
        .spawn()
        .expect("spawn arietta");
    let pipe = ours.stdout.take().expect("piped stdout");
    let untar = std::process::Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dest.path())
        .stdin(pipe)
        .status()
        .expect("run tar -x");
    wait_with_timeout(ours, Duration::from_secs(60)).expect_code(exit::OK);
    assert!(untar.success());
    for name in ["a.bin", "b/c.bin"] {
        assert_eq!(
            std::fs::read(dest.path().join(name)).unwrap(),
            std::fs::read(src.path().join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn sftp_segmented_streams_in_order() {
    let Some(srv) = crate::support::require_ok(crate::support::sshd::SshServer::start()) else {
        return;
    };
    let body = pattern(12 << 20, 45);
    let path = srv.add_file("s.bin", &body);
    let url = srv.url_with_password(&path);
    let s = stream(&["-x2", "-s2", &url], Reader::Fast);
    s.outcome.expect_code(exit::OK);
    assert_same(&s.bytes, &body);
}

#[test]
fn exit_codes_are_a_normal_download_s() {
    let srv = TestServer::start();
    let s = stream(&[&srv.url("/missing.bin")], Reader::Fast);
    s.outcome.expect_code(exit::NOT_FOUND);
    assert!(s.bytes.is_empty(), "nothing on stdout");
    assert!(
        s.outcome.stderr.contains("Download Results"),
        "{}",
        s.outcome.stderr
    );
}

#[test]
fn a_torrent_by_url_streams_its_content_not_the_torrent() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let data = pattern(20 * PIECE + 5, 46);
    let sw = Swarm::new("byurl", vec![(vec!["y.bin"], data.clone())])
        .tracker()
        .build()
        .aria2c_seeder();
    let srv = TestServer::start();
    let url = srv.add_file("/y.torrent", std::fs::read(&sw.torrent_path).unwrap());
    let s = read_child(sw.spawn_leech_of(&[&url], &["-o", "-"]), Reader::Fast);
    s.outcome.expect_code(exit::OK);
    assert_same(&s.bytes, &data);
    assert!(
        !sw.leech_dir().join("-").exists(),
        "the .torrent is followed from memory, not saved as '-'"
    );
}
