//! RPC methods whose graceful and forced forms, or whose option changes,
//! do different things over time, checked against aria2c 1.36 run through
//! the same steps:
//!
//! - `remove` lets a torrent tell its tracker it leaves (`event=stopped`)
//!   and shows it active until the tracker has answered; `forceRemove`
//!   sends no such announce and ends it at once.
//! - `changeOption` of an option aria2 cannot apply in place restarts the
//!   download with it (`seed-time` on a seeding torrent,
//!   `max-connection-per-server` on an HTTP download).

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::bt_support::{aria2c, make_torrent, Guard};
use crate::support::rpc_client::{free_port, Daemon, RpcClient, Transport};
use crate::support::{require, s, tempdir, wait_listening, wait_until};
use arietta_testserver::{pattern, Route, TestServer};

/// How long the test tracker takes to answer each announce.
const TRACKER_DELAY: Duration = Duration::from_millis(2000);

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn status(c: &mut RpcClient, gid: &str) -> String {
    let st = c.ok("aria2.tellStatus", vec![json!(gid), json!(["status"])]);
    st["status"].as_str().unwrap_or_default().to_owned()
}

#[track_caller]
fn wait_status(c: &mut RpcClient, gid: &str, want: &str, limit: Duration) -> Duration {
    let t0 = Instant::now();
    let mut last = String::new();
    let ok = wait_until(limit, || {
        last = status(c, gid);
        last == want
    });
    assert!(ok, "{gid}: {last}, never {want} within {limit:?}");
    t0.elapsed()
}

/// The daemons compared: aria2c and arietta with the same options.
enum Peer {
    Aria2c(#[allow(dead_code)] Guard, u16),
    Arietta(Daemon),
}

impl Peer {
    fn port(&self) -> u16 {
        match self {
            Peer::Aria2c(_, p) => *p,
            Peer::Arietta(d) => d.port,
        }
    }
}

fn start(which: &str, dir: &Path, common: &[&str]) -> Peer {
    if which == "arietta" {
        return Peer::Arietta(Daemon::start(dir, common));
    }
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let port = free_port();
    let mut args = vec![
        "--enable-rpc".to_string(),
        format!("--rpc-listen-port={port}"),
        format!("--dir={}", s(dir)),
    ];
    args.extend(common.iter().map(|a| a.to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let child: Child = aria2c(&home, &argv).spawn().expect("aria2c");
    let guard = Guard(child);
    assert!(wait_listening(port, Duration::from_secs(10)));
    Peer::Aria2c(guard, port)
}

const COMMON: &[&str] = &[
    "--enable-dht=false",
    "--bt-enable-lpd=false",
    "--enable-peer-exchange=false",
    "--seed-time=60",
];

/// Announces to `tracker_path` that carried `event`.
fn announces(srv: &TestServer, tracker_path: &str, event: &str) -> usize {
    srv.requests(tracker_path)
        .iter()
        .filter(|r| r.target.contains(&format!("event={event}")))
        .count()
}

/// Adds a torrent of data nobody has, announced to `path` on `srv`, and
/// waits until its `started` announce has been answered.
fn add_announced(c: &mut RpcClient, srv: &TestServer, path: &str, seed: u64) -> String {
    srv.add_route(
        path,
        Route::new(b"d8:intervali1800e5:peerslee".to_vec()).first_byte_delay(TRACKER_DELAY),
    );
    let url = srv.url(path);
    let t = make_torrent(
        &format!("t{seed}.bin"),
        &[(vec![], &pattern(300_000, seed))],
        262144,
        Some(&url),
    );
    let gid = c.ok(
        "aria2.addTorrent",
        vec![json!(b64(&t.bytes)), json!([]), json!({})],
    );
    let gid = gid.as_str().unwrap().to_owned();
    assert!(
        wait_until(Duration::from_secs(15), || announces(srv, path, "started")
            == 1),
        "{path}: no started announce"
    );
    // Its answer arrives after the delay; a stop before that would only
    // cancel it.
    std::thread::sleep(TRACKER_DELAY + Duration::from_millis(700));
    gid
}

fn remove_vs_force_remove(which: &str) {
    let srv = TestServer::start();
    let tmp = tempdir();
    let peer = start(which, tmp.path(), COMMON);
    let mut c = RpcClient::new(peer.port(), Transport::Http, None);

    let g = add_announced(&mut c, &srv, "/a/announce", 1);
    c.ok("aria2.remove", vec![json!(g)]);
    // Still active while the tracker takes its time over `stopped`.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status(&mut c, &g), "active", "{which}: remove ends at once");
    wait_status(&mut c, &g, "removed", Duration::from_secs(15));
    assert_eq!(
        announces(&srv, "/a/announce", "stopped"),
        1,
        "{which}: remove did not announce stopped"
    );

    let g = add_announced(&mut c, &srv, "/b/announce", 2);
    c.ok("aria2.forceRemove", vec![json!(g)]);
    let took = wait_status(&mut c, &g, "removed", Duration::from_secs(15));
    assert!(
        took < TRACKER_DELAY - Duration::from_millis(500),
        "{which}: forceRemove took {took:?}"
    );
    std::thread::sleep(TRACKER_DELAY);
    assert_eq!(
        announces(&srv, "/b/announce", "stopped"),
        0,
        "{which}: forceRemove announced stopped"
    );
}

#[test]
fn remove_announces_stopped_and_force_remove_does_not() {
    if !require("aria2c") {
        return;
    }
    remove_vs_force_remove("aria2c");
    remove_vs_force_remove("arietta");
}

fn pause_vs_force_pause(which: &str) {
    let srv = TestServer::start();
    let tmp = tempdir();
    let peer = start(which, tmp.path(), COMMON);
    let mut c = RpcClient::new(peer.port(), Transport::Http, None);

    let g = add_announced(&mut c, &srv, "/a/announce", 3);
    c.ok("aria2.pause", vec![json!(g)]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status(&mut c, &g), "active", "{which}: pause ends at once");
    // A second graceful pause is refused while the first is under way; a
    // forced one hurries it.
    assert!(c.call("aria2.pause", vec![json!(g)]).is_err(), "{which}");
    c.ok("aria2.forcePause", vec![json!(g)]);
    wait_status(&mut c, &g, "paused", Duration::from_secs(15));
    assert_eq!(announces(&srv, "/a/announce", "stopped"), 1, "{which}");

    let g = add_announced(&mut c, &srv, "/b/announce", 4);
    c.ok("aria2.forcePause", vec![json!(g)]);
    wait_status(&mut c, &g, "paused", Duration::from_secs(1));
    std::thread::sleep(TRACKER_DELAY);
    assert_eq!(announces(&srv, "/b/announce", "stopped"), 0, "{which}");
    // It runs again from where it was.
    c.ok("aria2.unpause", vec![json!(g)]);
    wait_status(&mut c, &g, "active", Duration::from_secs(5));
}

#[test]
fn pause_announces_stopped_and_force_pause_does_not() {
    if !require("aria2c") {
        return;
    }
    pause_vs_force_pause("aria2c");
    pause_vs_force_pause("arietta");
}
