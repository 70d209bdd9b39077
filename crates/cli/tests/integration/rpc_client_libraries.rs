//! The daemon driven by real, unmodified aria2 client libraries — Python's
//! aioaria2 and Node's `aria2` (aria2.js) and `maria2` — over HTTP and over
//! WebSocket (aria2p has its own test in `rpc`).
//!
//! Each session runs [`ROUNDS`] rounds of add → pause just after the first
//! bytes → unpause → complete → removeDownloadResult, then removes an active
//! download. A pause/unpause that leaves a download "active" at 0 B/s used to
//! happen about once in 30 such rounds; each round waits at most 20 s for
//! completion, so a stall fails the session. Over WebSocket every round's
//! notifications must arrive as well. The scripts were run against aria2c
//! 1.36 first and pass there unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::rpc_client::Daemon;
use crate::support::{require_node_modules, require_python_module, tempdir};
use arietta_testserver::{pattern, Route, TestServer};

/// Rounds per session: enough to catch a stall seen once in ~30.
const ROUNDS: usize = 30;
/// 384 KiB at 1 MiB/s: first bytes at once, complete ~0.4 s after unpause.
const SIZE: usize = 384 << 10;
const RATE: u64 = 1 << 20;

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/rpc_clients")
}

/// Serves the throttled file, starts a daemon, runs `cmd` with the daemon's
/// port, the secret, the URL and the download folder appended (then the
/// rounds), and requires it to succeed and the daemon to shut down cleanly.
fn session(program: &str, leading: &[&str]) {
    let srv = TestServer::start();
    srv.add_route("/r.bin", Route::new(pattern(SIZE, 71)).throttle(RATE));
    let url = srv.url("/r.bin");
    let tmp = tempdir();
    let d = Daemon::start(tmp.path(), &["--rpc-secret=abc"]);
    let port = d.port.to_string();
    let rounds = ROUNDS.to_string();
    let dir = tmp.path().to_str().unwrap();
    let out = Command::new(program)
        .current_dir(clients_dir())
        .args(leading)
        .args([port.as_str(), "abc", &url, dir, &rounds])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {leading:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every round's file is whole.
    for entry in std::fs::read_dir(tmp.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".bin") && !name.ends_with("-removed.bin") {
            assert_eq!(std::fs::read(&path).unwrap(), pattern(SIZE, 71), "{name}");
        }
    }
    drop(d);
}

fn node(client: &str, transport: &str) {
    if !require_node_modules(&clients_dir(), &["aria2", "maria2", "ws"]) {
        return;
    }
    session("node", &["node_session.mjs", client, transport]);
}

fn aioaria2(transport: &str) {
    if !require_python_module("python3", "aioaria2") {
        return;
    }
    session("python3", &["aioaria2_session.py", transport]);
}

#[test]
fn aria2_js_over_http() {
    node("aria2", "http");
}

#[test]
fn aria2_js_over_websocket() {
    node("aria2", "ws");
}

#[test]
fn maria2_over_http() {
    node("maria2", "http");
}

#[test]
fn maria2_over_websocket() {
    node("maria2", "ws");
}

#[test]
fn aioaria2_over_http() {
    aioaria2("http");
}

#[test]
fn aioaria2_over_websocket() {
    aioaria2("ws");
}
