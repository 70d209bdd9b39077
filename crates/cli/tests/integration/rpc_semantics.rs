//! RPC methods whose graceful and forced forms, or whose option changes,
//! do different things over time, checked against aria2c 1.36 run through
//! the same steps:
//!
//! - `remove` lets a torrent tell its tracker it leaves (`event=stopped`)
//!   and shows it active until the tracker has answered; `forceRemove`
//!   sends no such announce and ends it at once.
//! - `changeOption` of an option aria2 cannot apply in place restarts the
//!   download with it (`seed-time` on a seeding torrent,
//!   `max-connection-per-server` on an HTTP download); one it can
//!   (`max-upload-limit`) applies to the running torrent.
//! - The XML-RPC calls Sonarr and Radarr make answer in the same shape
//!   (see [`sonarr_calls`] for what is left out on purpose).

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::bt_support::{
    aria2c, make_torrent, require_tracker_and_aria2c, run_for, Guard, Tracker,
};
use crate::support::rpc_client::{
    free_port, http_post, xml_call, xml_response, Daemon, RpcClient, Transport,
};
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

/// `seed-time` cannot change in place: aria2 restarts the torrent, which
/// then stops seeding at once under the new rule.
fn seed_time_lowered(which: &str) {
    let tmp = tempdir();
    let peer = start(which, tmp.path(), COMMON);
    let mut c = RpcClient::new(peer.port(), Transport::Http, None);
    let data = pattern(600_000, 5);
    std::fs::write(tmp.path().join("s.bin"), &data).unwrap();
    let t = make_torrent("s.bin", &[(vec![], &data)], 262144, None);
    let g = c.ok(
        "aria2.addTorrent",
        vec![
            json!(b64(&t.bytes)),
            json!([]),
            json!({"check-integrity": "true"}),
        ],
    );
    let g = g.as_str().unwrap().to_owned();
    assert!(wait_until(Duration::from_secs(15), || {
        let st = c.ok("aria2.tellStatus", vec![json!(g), json!(["seeder"])]);
        st["seeder"] == "true"
    }));
    // Seeding for a minute under `--seed-time=60`…
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(status(&mut c, &g), "active", "{which}");
    // …until its seed time is cut to nothing.
    assert_eq!(
        c.ok(
            "aria2.changeOption",
            vec![json!(g), json!({"seed-time": "0"})]
        ),
        json!("OK")
    );
    wait_status(&mut c, &g, "complete", Duration::from_secs(15));
    let opt = c.ok("aria2.getOption", vec![json!(g)]);
    assert_eq!(opt["seed-time"], "0", "{which}");
}

#[test]
fn change_option_seed_time_restarts_a_seeding_torrent() {
    if !require("aria2c") {
        return;
    }
    seed_time_lowered("aria2c");
    seed_time_lowered("arietta");
}

/// Connections of `path` that sent a request since `since` requests.
fn connections_after(srv: &TestServer, path: &str, since: usize) -> usize {
    let mut ids: Vec<u64> = srv.requests(path)[since..]
        .iter()
        .map(|r| r.connection)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// `max-connection-per-server` cannot change in place either: aria2
/// restarts the download, which then opens more connections to the server.
fn more_connections(which: &str) {
    let srv = TestServer::start();
    srv.add_file("/big.bin", pattern(8 << 20, 6));
    srv.set_throttle(Some(100_000));
    let tmp = tempdir();
    let peer = start(which, tmp.path(), COMMON);
    let mut c = RpcClient::new(peer.port(), Transport::Http, None);
    let g = c.ok(
        "aria2.addUri",
        vec![
            json!([srv.url("/big.bin")]),
            json!({"split": "4", "max-connection-per-server": "1", "min-split-size": "1M"}),
        ],
    );
    let g = g.as_str().unwrap().to_owned();
    assert!(wait_until(Duration::from_secs(15), || {
        let st = c.ok("aria2.tellStatus", vec![json!(g)]);
        st["completedLength"].as_str().is_some_and(|n| n != "0")
    }));
    std::thread::sleep(Duration::from_secs(1));
    let st = c.ok("aria2.tellStatus", vec![json!(g)]);
    assert_eq!(st["connections"], "1", "{which}: {st}");
    let before = srv.requests("/big.bin").len();
    c.ok(
        "aria2.changeOption",
        vec![json!(g), json!({"max-connection-per-server": "4"})],
    );
    let mut st = serde_json::Value::Null;
    let more = wait_until(Duration::from_secs(15), || {
        st = c.ok("aria2.tellStatus", vec![json!(g)]);
        st["connections"]
            .as_str()
            .is_some_and(|n| n.parse::<u32>().unwrap_or(0) >= 2)
    });
    assert!(more, "{which}: {st}");
    let seen = wait_until(Duration::from_secs(10), || {
        connections_after(&srv, "/big.bin", before) >= 2
    });
    assert!(
        seen,
        "{which}: the server saw {} connection(s) since",
        connections_after(&srv, "/big.bin", before)
    );
    let opt = c.ok("aria2.getOption", vec![json!(g)]);
    assert_eq!(opt["max-connection-per-server"], "4", "{which}");
    c.ok("aria2.forceRemove", vec![json!(g)]);
}

#[test]
fn change_option_max_connection_per_server_restarts_an_http_download() {
    if !require("aria2c") {
        return;
    }
    more_connections("aria2c");
    more_connections("arietta");
}

/// `max-upload-limit` applies in place: a seeding torrent whose limit is
/// set after it started serves its next leecher at the new rate, without
/// a restart.
fn upload_limit_in_place(which: &str) {
    let tmp = tempdir();
    let data = pattern(400_000, 7);
    let probe = make_torrent("u.bin", &[(vec![], &data)], 65536, None);
    let tracker = Tracker::start(&[probe.hex()]);
    let t = make_torrent("u.bin", &[(vec![], &data)], 65536, Some(&tracker.http()));
    let seed_dir = tmp.path().join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join("u.bin"), &data).unwrap();
    let peer = start(which, &seed_dir, COMMON);
    let mut c = RpcClient::new(peer.port(), Transport::Http, None);
    let g = c.ok(
        "aria2.addTorrent",
        vec![
            json!(b64(&t.bytes)),
            json!([]),
            // No ratio ends its seeding when the leecher has it all.
            json!({"check-integrity": "true", "seed-ratio": "0.0"}),
        ],
    );
    let g = g.as_str().unwrap().to_owned();
    assert!(wait_until(Duration::from_secs(15), || {
        let st = c.ok("aria2.tellStatus", vec![json!(g), json!(["seeder"])]);
        st["seeder"] == "true"
    }));
    c.ok(
        "aria2.changeOption",
        vec![json!(g), json!({"max-upload-limit": "100K"})],
    );

    let torrent = tmp.path().join("u.torrent");
    t.write(&torrent);
    let leech_dir = tmp.path().join("leech");
    let home = tmp.path().join("leech-home");
    std::fs::create_dir_all(&home).unwrap();
    let t0 = Instant::now();
    let ok = run_for(
        aria2c(
            &home,
            &[
                &format!("--dir={}", s(&leech_dir)),
                "--seed-time=0",
                &format!("--listen-port={}", free_port()),
                s(&torrent),
            ],
        ),
        Duration::from_secs(60),
    );
    let took = t0.elapsed();
    assert!(ok, "{which}: the leecher failed");
    assert_eq!(std::fs::read(leech_dir.join("u.bin")).unwrap(), data);
    // 400 kB at 100 KiB/s: about 4 s; unlimited on loopback: well under one.
    assert!(
        took >= Duration::from_millis(2500),
        "{which}: took {took:?}"
    );
    // Still the same run, seeding.
    let st = c.ok("aria2.tellStatus", vec![json!(g)]);
    assert_eq!(st["status"], "active", "{which}: {st}");
    assert_ne!(st["uploadLength"], "0", "{which}: {st}");
}

#[test]
fn change_option_max_upload_limit_applies_in_place() {
    if !require_tracker_and_aria2c() {
        return;
    }
    upload_limit_in_place("aria2c");
    upload_limit_in_place("arietta");
}

/// A value's shape: member names and value types (XML-RPC's `string`,
/// `int`, `array`, `struct`), arrays by their first item.
fn shape(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as V;
    match v {
        V::Object(m) => V::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        V::Array(a) => V::Array(a.first().map(shape).into_iter().collect()),
        V::String(_) => json!("string"),
        V::Number(_) => json!("int"),
        V::Bool(_) => json!("boolean"),
        V::Null => json!("nil"),
    }
}

/// The calls Sonarr and Radarr make over XML-RPC at `/rpc`, with the
/// secret first: each answer's shape, and faults by code and text (GIDs
/// written `<gid>`).
///
/// Deliberate differences, left out of the comparison:
/// - `getVersion`: the version string and the feature list's length.
/// - `getGlobalOption`: which options are listed (arietta has its own,
///   such as `cores`); each is a string in both.
fn sonarr_calls(which: &str) -> Vec<(String, serde_json::Value)> {
    let tmp = tempdir();
    let secret = "SECRET";
    let mut common = COMMON.to_vec();
    let secret_arg = format!("--rpc-secret={secret}");
    common.push(&secret_arg);
    let peer = start(which, tmp.path(), &common);
    let mut c = RpcClient::new(peer.port(), Transport::Xml, Some(secret));
    let mut out = Vec::new();
    let mut record = |name: &str,
                      r: Result<serde_json::Value, crate::support::rpc_client::Fault>,
                      gids: &[&str]| {
        let v = match r {
            Ok(serde_json::Value::String(s)) if name.starts_with("magnet") => json!(s),
            Ok(v) => shape(&v),
            Err(f) => {
                let mut m = f.message.clone();
                for g in gids {
                    m = m.replace(g, "<gid>");
                }
                json!({"faultCode": f.code, "faultString": m})
            }
        };
        out.push((name.to_owned(), v));
    };
    let mut version = c.ok("aria2.getVersion", vec![]);
    version["enabledFeatures"] = json!(["feature"]);
    record("getVersion", Ok(version), &[]);
    let dl = s(&tmp.path().join("tv")).to_owned();
    let magnet = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=show";
    let gm = c.ok("aria2.addUri", vec![json!([magnet]), json!({"dir": dl})]);
    let gm = gm.as_str().unwrap().to_owned();
    record("addUri", Ok(json!(gm)), &[]);
    let data = pattern(300_000, 9);
    let t = make_torrent("ep.mkv", &[(vec![], &data)], 262144, None);
    // XML-RPC carries the torrent as `<base64>`, as Sonarr sends it.
    let enc = b64(&t.bytes);
    let body = xml_call(
        "aria2.addTorrent",
        &[
            json!(format!("token:{secret}")),
            json!(enc),
            json!([]),
            json!({"dir": dl}),
        ],
    )
    .replace(
        &format!("<string>{enc}</string>"),
        &format!("<base64>{enc}</base64>"),
    );
    let (_, answer) = http_post(peer.port(), "/rpc", "text/xml", &body);
    let gt = xml_response(&answer).unwrap_or_else(|f| panic!("{which}: {f:?}"));
    let gt = gt.as_str().unwrap().to_owned();
    record("addTorrent", Ok(json!(gt)), &[]);
    wait_status(&mut c, &gt, "active", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    let r = c.call("aria2.tellStatus", vec![json!(gt)]);
    record("tellStatus(torrent)", r, &[]);
    let r = c.call("aria2.tellActive", vec![]);
    record(
        "tellActive",
        r.map(|v| json!(v.as_array().map_or(0, Vec::len))),
        &[],
    );
    let r = c.call("aria2.tellWaiting", vec![json!(0), json!(10240)]);
    record("tellWaiting", r, &[]);
    let r = c.call("aria2.tellStopped", vec![json!(0), json!(10240)]);
    record("tellStopped", r, &[]);
    let opts = c.ok("aria2.getGlobalOption", vec![]);
    let all_strings = opts
        .as_object()
        .is_some_and(|m| m.values().all(serde_json::Value::is_string));
    record("getGlobalOption", Ok(json!(all_strings)), &[]);
    let r = c.call("aria2.forceRemove", vec![json!(gt)]);
    record("forceRemove(torrent)", r, &[]);
    // One after the other: `tellStopped` lists them in the order they
    // ended.
    wait_status(&mut c, &gt, "removed", Duration::from_secs(10));
    let r = c.call("aria2.forceRemove", vec![json!(gm)]);
    record("forceRemove(magnet)", r, &[]);
    std::thread::sleep(Duration::from_secs(1));
    let st = status(&mut c, &gm);
    record("magnet status after forceRemove", Ok(json!(st)), &[]);
    let r = c.call("aria2.tellStatus", vec![json!(gt)]);
    record("tellStatus(removed)", r, &[]);
    let r = c.call("aria2.tellStopped", vec![json!(0), json!(10240)]);
    record("tellStopped(after)", r, &[]);
    let r = c.call("aria2.removeDownloadResult", vec![json!(gt)]);
    record("removeDownloadResult", r, &[]);
    let r = c.call("aria2.tellStatus", vec![json!(gt)]);
    record("tellStatus(gone)", r, &[&gt]);
    let r = c.call("aria2.removeDownloadResult", vec![json!(gt)]);
    record("removeDownloadResult(gone)", r, &[&gt]);
    let r = c.call("aria2.forceRemove", vec![json!(gt)]);
    record("forceRemove(gone)", r, &[&gt]);
    let mut wrong = RpcClient::new(peer.port(), Transport::Xml, Some("wrong"));
    let r = wrong.call("aria2.tellActive", vec![]);
    record("wrong secret", r, &[]);
    out
}

#[test]
fn sonarr_xml_rpc_calls_match_aria2c_in_shape() {
    if !require("aria2c") {
        return;
    }
    let want = sonarr_calls("aria2c");
    let got = sonarr_calls("arietta");
    let diffs: Vec<String> = want
        .iter()
        .zip(&got)
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("{}:\n  aria2c  {}\n  arietta {}", w.0, w.1, g.1))
        .collect();
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
