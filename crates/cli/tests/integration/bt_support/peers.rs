//! Real peers: aria2c (seeder or leecher, hermetic, no DHT/LPD/PEX) and
//! python3-libtorrent through `lt_peer.py` (seeder, DHT-only seeder,
//! leecher, v2 torrent maker), all killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{free_tcp_udp_port, Guard};
use crate::support::{free_port, require, require_python_module, wait_listening, wait_until};

/// Debian's python3-libtorrent is built for Debian's interpreter, whatever
/// `python3` is first on `PATH`.
pub const LT_PYTHON: &str = "/usr/bin/python3";

/// True when opentracker and aria2c are installed (see
/// [`crate::support::require`]: a failure under CI, a skip elsewhere).
#[track_caller]
pub fn require_tracker_and_aria2c() -> bool {
    require("opentracker") && require("aria2c")
}

/// True when python3-libtorrent is importable (as [`require_tracker_and_aria2c`]).
#[track_caller]
pub fn require_libtorrent() -> bool {
    require_python_module(LT_PYTHON, "libtorrent")
}

/// aria2c with a hermetic HOME and no DHT/LPD/PEX, as seeder or leecher.
pub fn aria2c(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("aria2c");
    c.env("HOME", home)
        .args([
            "--no-conf",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--bt-tracker-interval=1",
            "--summary-interval=0",
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Runs `cmd` to its end, killing it after `limit`; true on exit 0.
pub fn run_for(mut cmd: Command, limit: Duration) -> bool {
    let mut g = Guard(cmd.spawn().expect("spawn"));
    let mut status = None;
    wait_until(limit, || {
        status = g.0.try_wait().unwrap();
        status.is_some()
    });
    status.is_some_and(|st| st.success())
}

/// Starts an aria2c seeder of `torrent` with its data in `dir` and
/// `extra` options (e.g. `--bt-require-crypto=true`); returns once it
/// listens.
pub fn aria2c_seeder_with(home: &Path, dir: &Path, torrent: &Path, extra: &[&str]) -> (Guard, u16) {
    let port = free_port();
    let listen = format!("--listen-port={port}");
    let mut args = vec!["-d", dir.to_str().unwrap(), "--seed-ratio=0", "-V", &listen];
    args.extend_from_slice(extra);
    args.push(torrent.to_str().unwrap());
    let child = aria2c(home, &args).spawn().expect("start aria2c");
    let g = Guard(child);
    assert!(
        wait_listening(port, Duration::from_secs(20)),
        "aria2c seeder never listened"
    );
    (g, port)
}

fn lt_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/bt_support/lt_peer.py")
}

/// Writes a BEP 52 v2-only torrent of the directory `content` with
/// libtorrent, announcing to `tracker`; returns its v2 info-hash cut to 20
/// bytes (hex), the hash its peers and trackers use.
pub fn libtorrent_make_v2(torrent: &Path, content: &Path, piece: usize, tracker: &str) -> String {
    let out = Command::new(LT_PYTHON)
        .arg(lt_script())
        .args(["mkv2", torrent.to_str().unwrap(), content.to_str().unwrap()])
        .arg(piece.to_string())
        .arg(tracker)
        .stderr(Stdio::inherit())
        .output()
        .expect("run libtorrent mkv2");
    assert!(
        out.status.success(),
        "libtorrent could not make a v2 torrent"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Starts a libtorrent seeder; returns once it reports seeding.
pub fn libtorrent_seeder(dir: &Path, torrent: &Path) -> (Guard, u16) {
    let port = free_port();
    let mut child = Command::new(LT_PYTHON)
        .arg(lt_script())
        .args(["seed", torrent.to_str().unwrap(), dir.to_str().unwrap()])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start libtorrent seeder");
    let out = child.stdout.take().unwrap();
    let g = Guard(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY", "libtorrent seeder failed: {line}");
    (g, port)
}

/// Starts a DHT-only libtorrent seeder and the bare libtorrent DHT node it
/// bootstrapped from; returns once that node stored the seeder's announce,
/// with the seeder's TCP port and the entry node's UDP port.
pub fn libtorrent_dht_seeder(dir: &Path, torrent: &Path) -> (Guard, u16, u16) {
    let port = free_tcp_udp_port();
    let entry = free_tcp_udp_port();
    let mut child = Command::new(LT_PYTHON)
        .arg(lt_script())
        .args(["dhtseed", torrent.to_str().unwrap(), dir.to_str().unwrap()])
        .arg(port.to_string())
        .arg(entry.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start libtorrent DHT seeder");
    let out = child.stdout.take().unwrap();
    let g = Guard(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY", "libtorrent DHT seeder failed: {line}");
    (g, port, entry)
}

/// Runs a libtorrent leecher against `peer_port` to completion; true when
/// it finished. `Some("rc4")` forces RC4-encrypted connections.
pub fn libtorrent_leech_with(
    dir: &Path,
    torrent: &Path,
    peer_port: u16,
    encryption: Option<&str>,
) -> bool {
    let mut cmd = Command::new(LT_PYTHON);
    if let Some(e) = encryption {
        cmd.env("LT_ENCRYPTION", e);
    }
    let mut child = cmd
        .arg(lt_script())
        .args(["leech", torrent.to_str().unwrap(), dir.to_str().unwrap()])
        .arg(free_port().to_string())
        .arg(peer_port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start libtorrent leecher");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let ok = child.wait().is_ok_and(|s| s.success()) && out.contains("DONE");
    if !ok {
        eprintln!("libtorrent leecher: {out}");
    }
    ok
}

/// Runs one libtorrent session leeching every torrent of `torrents` from
/// `127.0.0.1:peer_port` into `dir` (`Some("rc4")` forces RC4); true when
/// all finished.
pub fn libtorrent_leech_many(
    dir: &Path,
    torrents: &[PathBuf],
    peer_port: u16,
    encryption: Option<&str>,
) -> bool {
    let mut cmd = Command::new(LT_PYTHON);
    if let Some(e) = encryption {
        cmd.env("LT_ENCRYPTION", e);
    }
    let out = cmd
        .arg(lt_script())
        .args(["leechmany", dir.to_str().unwrap()])
        .arg(free_port().to_string())
        .arg(peer_port.to_string())
        .args(torrents)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run libtorrent leecher");
    let text = String::from_utf8_lossy(&out.stdout);
    let ok = out.status.success() && text.contains("DONE");
    if !ok {
        eprintln!("libtorrent leecher: {text}");
    }
    ok
}
