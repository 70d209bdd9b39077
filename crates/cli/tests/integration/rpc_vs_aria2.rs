//! tellStatus, tellActive/Waiting/Stopped, getFiles, getPeers, getServers
//! and getGlobalStat from arietta and from aria2c 1.36, run side by side
//! through the same steps on the same HTTP server, compared key by key:
//! the same keys, the same JSON types, and the same values where they do
//! not depend on timing.
//!
//! The states covered: an HTTP download active, waiting, paused before it
//! ran, paused after it ran, complete and failed (404); a torrent active
//! (no peers), seeding, and queued paused by `aria2.addTorrent`; a
//! followed metalink and the download it queued (`followedBy`,
//! `following`).
//!
//! A second run ([`queue_answers_match_aria2c`]) goes through the queue
//! and option calls: `getVersion`'s features, `addUri` with a GID in use,
//! unknown and unchangeable options, `tellActive`/`tellWaiting` order, the
//! queue after `pauseAll` and `unpauseAll`, `changePosition` of an active
//! download, `removeDownloadResult` errors, removed active and waiting
//! downloads (errorCode 31; a removed waiting one is forgotten),
//! `getOption` and `getGlobalOption` keys, the error texts for a GID
//! nobody has, and a 404's error text. Others compare WebSocket
//! notifications in order, `--optimize-concurrent-downloads`, and
//! `shutdown` with `--save-session`.
//!
//! Deliberate differences, not compared:
//! - aria2 lists a download's URIs again each time it is paused and
//!   resumed (`used` then `waiting` copies of the same URI); arietta lists
//!   each URI once, so the `uris` arrays' lengths are not compared.
//! - Speeds, and the progress of a moving download (`completedLength`,
//!   `bitfield`, `connections`), depend on timing: only their types are.
//! - `verifiedLength`/`verifyIntegrityPending` appear only while aria2
//!   hash-checks a file; none of these states does.
//! - GIDs, and the GIDs inside error texts, are random; they are compared
//!   by the download they name.
//! - Option keys: see [`OUR_OPTIONS`] and [`ARIA2_ONLY_OPTIONS`].

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::bt_support::{aria2c, make_torrent, Guard};
use crate::support::rpc_client::{free_port, Daemon, RpcClient, Transport};
use crate::support::{require, s, tempdir, wait_listening, wait_until};
use arietta_testserver::{pattern, Route, TestServer};

/// 3 MiB and a bit: 4 pieces of aria2's default 1 MiB.
const BIG: usize = 3 * 1048576 + 1000;
/// Keys whose values depend on timing in any state.
const TIMING: &[&str] = &[
    "downloadSpeed",
    "uploadSpeed",
    "gid",
    "following",
    "followedBy",
];
/// Keys whose values depend on timing while a download moves.
const MOVING: &[&str] = &["completedLength", "bitfield", "connections"];
/// The answers taken while a download moves.
const MOVING_CASES: &[&str] = &[
    "active",
    "active_files",
    "active_servers",
    "tell_active",
    "global_stat",
    "paused_after_active",
];

fn call(c: &mut RpcClient, method: &str, params: Vec<Value>) -> Value {
    match c.call(method, params) {
        Ok(v) => v,
        Err(f) => json!({ "fault": f.code, "message": f.message }),
    }
}

fn status_of(c: &mut RpcClient, gid: &str) -> Value {
    call(c, "aria2.tellStatus", vec![json!(gid)])
}

#[track_caller]
fn wait_for(c: &mut RpcClient, gid: &str, what: impl Fn(&Value) -> bool) -> Value {
    let mut st = Value::Null;
    let ok = wait_until(Duration::from_secs(30), || {
        st = status_of(c, gid);
        what(&st)
    });
    assert!(ok, "{gid}: {st}");
    st
}

fn gid(v: Value) -> String {
    v.as_str().expect("a GID").to_owned()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A single-file torrent of `data` with a comment, a creation date and
/// two tracker tiers nobody answers.
fn torrent(name: &str, data: &[u8]) -> Vec<u8> {
    let t = make_torrent(name, &[(vec![], data)], 262144, None);
    // The top-level keys around `info`, which the builder leaves out.
    let info_start = t.bytes.windows(6).position(|w| w == b"4:info").unwrap();
    let mut out = b"d13:announce-listll27:http://127.0.0.1:1/announceel26:udp://127.0.0.1:2/announceee7:comment9:a comment13:creation datei1700000000e".to_vec();
    out.extend_from_slice(&t.bytes[info_start..]);
    out
}

/// Runs the steps on the daemon at `port` with downloads under `dir`;
/// answers every reply by name, paths under `dir` written `<dir>`.
fn scenario(port: u16, dir: &Path, srv: &TestServer) -> Map<String, Value> {
    let mut c = RpcClient::new(port, Transport::Http, None);
    let mut out = Map::new();
    let big = srv.url("/big.bin");
    srv.set_throttle(Some(400_000));

    let g1 = gid(c.ok("aria2.addUri", vec![json!([big])]));
    wait_for(&mut c, &g1, |st| {
        st["completedLength"].as_str().is_some_and(|n| n != "0")
    });
    let g2 = gid(c.ok("aria2.addUri", vec![json!([big]), json!({"out": "b2.bin"})]));
    let g3 = gid(c.ok(
        "aria2.addUri",
        vec![json!([big]), json!({"out": "b3.bin", "pause": "true"})],
    ));
    out.insert("active".into(), status_of(&mut c, &g1));
    out.insert(
        "active_files".into(),
        call(&mut c, "aria2.getFiles", vec![json!(g1)]),
    );
    out.insert(
        "active_servers".into(),
        call(&mut c, "aria2.getServers", vec![json!(g1)]),
    );
    out.insert(
        "active_peers".into(),
        call(&mut c, "aria2.getPeers", vec![json!(g1)]),
    );
    out.insert(
        "tell_active".into(),
        call(&mut c, "aria2.tellActive", vec![]),
    );
    out.insert("waiting".into(), status_of(&mut c, &g2));
    out.insert(
        "waiting_servers".into(),
        call(&mut c, "aria2.getServers", vec![json!(g2)]),
    );
    out.insert("paused".into(), status_of(&mut c, &g3));
    out.insert(
        "tell_waiting".into(),
        call(&mut c, "aria2.tellWaiting", vec![json!(0), json!(10)]),
    );
    out.insert(
        "global_stat".into(),
        call(&mut c, "aria2.getGlobalStat", vec![]),
    );

    // The waiting ones go first, or pausing g1 would start g2.
    c.ok("aria2.remove", vec![json!(g2)]);
    c.ok("aria2.remove", vec![json!(g3)]);
    c.ok("aria2.pause", vec![json!(g1)]);
    out.insert(
        "paused_after_active".into(),
        wait_for(&mut c, &g1, |st| st["status"] == "paused"),
    );
    srv.set_throttle(None);
    c.ok("aria2.unpause", vec![json!(g1)]);
    out.insert(
        "complete".into(),
        wait_for(&mut c, &g1, |st| st["status"] == "complete"),
    );
    out.insert(
        "complete_files".into(),
        call(&mut c, "aria2.getFiles", vec![json!(g1)]),
    );
    out.insert(
        "complete_servers".into(),
        call(&mut c, "aria2.getServers", vec![json!(g1)]),
    );

    let gerr = gid(c.ok(
        "aria2.addUri",
        vec![json!([srv.url("/missing")]), json!({"out": "m"})],
    ));
    out.insert(
        "error".into(),
        wait_for(&mut c, &gerr, |st| st["status"] == "error"),
    );
    out.insert(
        "tell_stopped".into(),
        call(&mut c, "aria2.tellStopped", vec![json!(0), json!(10)]),
    );

    c.ok(
        "aria2.changeGlobalOption",
        vec![json!({"max-concurrent-downloads": "5"})],
    );
    // A metalink followed: the document's download is `followedBy` the
    // file's, which is `following` it.
    let gm = gid(c.ok("aria2.addUri", vec![json!([srv.url("/doc.meta4")])]));
    let parent = wait_for(&mut c, &gm, |st| {
        st["status"] == "complete" && st["followedBy"].is_array()
    });
    let child = gid(parent["followedBy"][0].clone());
    let st = wait_for(&mut c, &child, |st| st["status"] == "complete");
    assert_eq!(st["following"], json!(gm), "{st}");
    out.insert("metalink_parent".into(), parent);
    out.insert("metalink_child".into(), st);
    // A torrent whose data is there: checked, then seeding.
    let data = pattern(700_000, 3);
    std::fs::write(dir.join("t.bin"), &data).unwrap();
    let gt = gid(c.ok(
        "aria2.addTorrent",
        vec![
            json!(b64(&torrent("t.bin", &data))),
            json!([]),
            json!({"check-integrity": "true"}),
        ],
    ));
    out.insert(
        "seeding".into(),
        wait_for(&mut c, &gt, |st| st["seeder"] == "true"),
    );
    out.insert(
        "seeding_files".into(),
        call(&mut c, "aria2.getFiles", vec![json!(gt)]),
    );
    out.insert(
        "seeding_peers".into(),
        call(&mut c, "aria2.getPeers", vec![json!(gt)]),
    );
    out.insert(
        "seeding_servers".into(),
        call(&mut c, "aria2.getServers", vec![json!(gt)]),
    );
    // A torrent with no data and no peers: active, nothing verified.
    let gl = gid(c.ok(
        "aria2.addTorrent",
        vec![
            json!(b64(&torrent("l.bin", &pattern(600_000, 4)))),
            json!([]),
            json!({}),
        ],
    ));
    out.insert(
        "torrent_active".into(),
        wait_for(&mut c, &gl, |st| {
            st["status"] == "active" && st["bitfield"].is_string()
        }),
    );
    // A torrent queued paused: its metainfo is shown before it runs.
    let gp = gid(c.ok(
        "aria2.addTorrent",
        vec![
            json!(b64(&torrent("p.bin", &pattern(500_000, 5)))),
            json!([]),
            json!({"pause": "true", "dir": s(&dir.join("other"))}),
        ],
    ));
    out.insert("torrent_paused".into(), status_of(&mut c, &gp));
    out.insert(
        "torrent_paused_files".into(),
        call(&mut c, "aria2.getFiles", vec![json!(gp)]),
    );

    let text = Value::Object(out).to_string().replace(s(dir), "<dir>");
    let Value::Object(out) = serde_json::from_str(&text).unwrap() else {
        unreachable!()
    };
    out
}

/// aria2c as an RPC daemon on a free port, its files in `dir` (HOME
/// beneath it) and `common` after the RPC options; killed when the guard
/// drops.
fn aria2c_daemon(dir: &Path, common: &[&str]) -> (Guard, u16) {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let port = free_port();
    let rpc_port = format!("--rpc-listen-port={port}");
    let dir = format!("--dir={}", s(dir));
    let mut argv = vec!["--enable-rpc", rpc_port.as_str(), dir.as_str()];
    argv.extend_from_slice(common);
    let guard = Guard(aria2c(&home, &argv).spawn().expect("aria2c"));
    assert!(wait_listening(port, Duration::from_secs(10)));
    (guard, port)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences between aria2c's `want` and arietta's `got` at `path`.
fn compare(case: &str, path: &str, key: &str, want: &Value, got: &Value, diffs: &mut Vec<String>) {
    if kind(want) != kind(got) {
        diffs.push(format!("{path}: aria2c {want}, arietta {got}"));
        return;
    }
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for k in w.keys().chain(g.keys().filter(|k| !w.contains_key(*k))) {
                let p = format!("{path}.{k}");
                match (w.get(k), g.get(k)) {
                    (Some(a), Some(b)) => compare(case, &p, k, a, b, diffs),
                    (Some(a), None) => diffs.push(format!("{p}: missing (aria2c {a})")),
                    (None, Some(b)) => diffs.push(format!("{p}: extra (arietta {b})")),
                    (None, None) => unreachable!(),
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() && key != "uris" {
                diffs.push(format!("{path}: {} items, arietta {}", w.len(), g.len()));
            }
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                compare(case, &format!("{path}[{i}]"), key, a, b, diffs);
            }
        }
        _ => {
            let timing = TIMING.contains(&key)
                || (MOVING_CASES.contains(&case) && MOVING.contains(&key))
                || path.ends_with(".message")
                    && want
                        .as_str()
                        .is_some_and(|m| m.contains("GID#") || m.starts_with("GID "));
            if !timing && want != got {
                diffs.push(format!("{path}: aria2c {want}, arietta {got}"));
            }
        }
    }
}

#[test]
fn status_answers_match_aria2c_key_by_key() {
    if !require("aria2c") {
        return;
    }
    let srv = TestServer::start();
    srv.add_file("/big.bin", pattern(BIG, 1));
    srv.add_file("/small.bin", pattern(5000, 2));
    let doc = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="small.bin"><size>5000</size><url>{}</url></file>
</metalink>"#,
        srv.url("/small.bin")
    );
    srv.add_route(
        "/doc.meta4",
        Route::new(doc).content_type("application/metalink4+xml"),
    );
    let common = [
        "--max-concurrent-downloads=1",
        "--enable-dht=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--seed-time=60",
        "--max-file-not-found=0",
        "--max-tries=1",
    ];

    let tmp_a = tempdir();
    let (_aria2, port) = aria2c_daemon(tmp_a.path(), &common);
    let want = scenario(port, tmp_a.path(), &srv);

    let tmp_b = tempdir();
    let d = Daemon::start(tmp_b.path(), &common);
    let got = scenario(d.port, tmp_b.path(), &srv);

    let mut diffs = Vec::new();
    for (case, w) in &want {
        compare(case, case, case, w, &got[case], &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "arietta differs from aria2c:\n{}",
        diffs.join("\n")
    );
}

/// Options arietta lists that aria2c 1.36 has not: its own (`cores`,
/// `enable-metrics`, the opt-in HTTP/2 pair) and aria2 1.37's
/// `no-want-digest-header` (arietta answers as aria2 1.37).
const OUR_OPTIONS: &[&str] = &[
    "cores",
    "enable-metrics",
    "enable-http2",
    "http2-prior-knowledge",
    "no-want-digest-header",
];
/// aria2c lists `help` ("#basic") and `ca-certificate` (its build's CA
/// bundle path); arietta has no value for either to give.
const ARIA2_ONLY_OPTIONS: &[&str] = &["help", "ca-certificate"];

/// The sorted keys of an options answer, less the deliberate differences.
fn option_keys(v: &Value) -> Value {
    let mut keys: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.retain(|k| !OUR_OPTIONS.contains(k) && !ARIA2_ONLY_OPTIONS.contains(k));
    keys.sort_unstable();
    json!(keys)
}

/// The GIDs of a list answer, by name.
fn listed(v: &Value, names: &[(String, &str)]) -> Value {
    let name = |g: &Value| {
        let g = g.as_str().unwrap_or_default();
        names
            .iter()
            .find(|(gid, _)| gid == g)
            .map_or(g.to_owned(), |(_, n)| (*n).to_owned())
    };
    json!(v
        .as_array()
        .map(|a| a
            .iter()
            .map(|d| json!([name(&d["gid"]), d["status"]]))
            .collect::<Vec<_>>())
        .unwrap_or_default())
}

/// The queue and option calls, on the daemon at `port` (`-j 2`).
fn queue_scenario(port: u16, srv: &TestServer) -> Map<String, Value> {
    let mut c = RpcClient::new(port, Transport::Http, None);
    let mut out = Map::new();
    let big = srv.url("/big.bin");
    srv.set_throttle(Some(400_000));

    out.insert(
        "features".into(),
        c.ok("aria2.getVersion", vec![])["enabledFeatures"].clone(),
    );
    let g1 = gid(c.ok("aria2.addUri", vec![json!([big]), json!({"out": "q1"})]));
    out.insert(
        "add_gid_in_use".into(),
        call(
            &mut c,
            "aria2.addUri",
            vec![json!([big]), json!({"out": "dup", "gid": g1})],
        ),
    );
    // Unknown options are skipped and the call goes on, as aria2 does.
    let g2 = gid(c.ok(
        "aria2.addUri",
        vec![json!([big]), json!({"out": "q2", "no-such-option": "1"})],
    ));
    let g3 = gid(c.ok("aria2.addUri", vec![json!([big]), json!({"out": "q3"})]));
    let names = vec![(g1.clone(), "g1"), (g2.clone(), "g2"), (g3.clone(), "g3")];
    for (case, method, params) in [
        (
            "change_unknown",
            "aria2.changeOption",
            vec![json!(g3), json!({"no-such-option": "1"})],
        ),
        (
            "change_global_unchangeable",
            "aria2.changeGlobalOption",
            vec![json!({"rpc-listen-port": "7000"})],
        ),
        (
            "change_global_unknown",
            "aria2.changeGlobalOption",
            vec![json!({"no-such-option": "1"})],
        ),
        (
            "change_global_bad_value",
            "aria2.changeGlobalOption",
            vec![json!({"max-concurrent-downloads": "abc"})],
        ),
    ] {
        out.insert(case.into(), call(&mut c, method, params));
    }
    wait_for(&mut c, &g2, |st| {
        st["completedLength"].as_str().is_some_and(|n| n != "0")
    });
    out.insert(
        "tell_active".into(),
        listed(
            &c.ok("aria2.tellActive", vec![json!(["gid", "status"])]),
            &names,
        ),
    );
    out.insert(
        "tell_waiting".into(),
        listed(
            &c.ok(
                "aria2.tellWaiting",
                vec![json!(0), json!(10), json!(["gid", "status"])],
            ),
            &names,
        ),
    );
    out.insert(
        "get_option".into(),
        option_keys(&c.ok("aria2.getOption", vec![json!(g1)])),
    );
    out.insert(
        "get_global_option".into(),
        option_keys(&c.ok("aria2.getGlobalOption", vec![])),
    );
    out.insert(
        "change_position_active".into(),
        call(
            &mut c,
            "aria2.changePosition",
            vec![json!(g1), json!(0), json!("POS_SET")],
        ),
    );
    out.insert(
        "remove_result_unknown".into(),
        call(
            &mut c,
            "aria2.removeDownloadResult",
            vec![json!("0123456789abcdef")],
        ),
    );
    out.insert(
        "remove_result_active".into(),
        call(&mut c, "aria2.removeDownloadResult", vec![json!(g1)]),
    );

    // pauseAll: the active ones go to the queue's front, last started
    // first, and nothing else starts; unpauseAll starts the front two.
    c.ok("aria2.pauseAll", vec![]);
    let mut waiting = Value::Null;
    let settled = wait_until(Duration::from_secs(10), || {
        let v = c.ok(
            "aria2.tellWaiting",
            vec![json!(0), json!(10), json!(["gid", "status"])],
        );
        waiting = listed(&v, &names);
        waiting.as_array().is_some_and(|a| a.len() == 3)
    });
    assert!(settled, "{waiting}");
    out.insert("after_pause_all".into(), waiting);
    c.ok("aria2.unpauseAll", vec![]);
    let mut active = Value::Null;
    let started = wait_until(Duration::from_secs(10), || {
        active = listed(
            &c.ok("aria2.tellActive", vec![json!(["gid", "status"])]),
            &names,
        );
        active.as_array().is_some_and(|a| a.len() == 2)
    });
    assert!(started, "{active}");
    out.insert("after_unpause_all".into(), active);

    // A removed waiting download is forgotten; a removed active one is
    // kept, "removed" with errorCode 31.
    let waiting = c.ok(
        "aria2.tellWaiting",
        vec![json!(0), json!(1), json!(["gid"])],
    );
    let queued = gid(waiting[0]["gid"].clone());
    c.ok("aria2.remove", vec![json!(queued)]);
    let running = c.ok("aria2.tellActive", vec![json!(["gid"])]);
    let running: Vec<String> = running
        .as_array()
        .unwrap()
        .iter()
        .map(|d| gid(d["gid"].clone()))
        .collect();
    for g in &running {
        c.ok("aria2.remove", vec![json!(g)]);
    }
    let removed = wait_for(&mut c, &running[0], |st| st["status"] == "removed");
    wait_for(&mut c, &running[1], |st| st["status"] == "removed");
    out.insert(
        "removed_active".into(),
        json!({"errorCode": removed["errorCode"], "errorMessage": removed["errorMessage"]}),
    );
    out.insert(
        "removed_waiting".into(),
        call(
            &mut c,
            "aria2.tellStatus",
            vec![json!(queued), json!(["status"])],
        ),
    );
    out.insert(
        "tell_stopped".into(),
        listed(
            &c.ok(
                "aria2.tellStopped",
                vec![json!(0), json!(10), json!(["gid", "status"])],
            ),
            &names,
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[1].clone())
        .collect(),
    );
    // Error texts for a GID nobody has (the message compared whole, under
    // its own key: `message`s naming random GIDs are not compared).
    let nobody = "0123456789abcdef";
    for method in [
        "aria2.remove",
        "aria2.forceRemove",
        "aria2.pause",
        "aria2.forcePause",
        "aria2.unpause",
        "aria2.tellStatus",
        "aria2.getUris",
        "aria2.getFiles",
        "aria2.getPeers",
        "aria2.getServers",
        "aria2.getOption",
        "aria2.removeDownloadResult",
    ] {
        let answer = call(&mut c, method, vec![json!(nobody)]);
        out.insert(
            format!("unknown_gid_{method}"),
            json!({"text": answer["message"], "fault": answer["fault"]}),
        );
    }
    let answer = call(
        &mut c,
        "aria2.changeOption",
        vec![json!(nobody), json!({"max-download-limit": "1K"})],
    );
    out.insert(
        "unknown_gid_changeOption".into(),
        json!({"text": answer["message"], "fault": answer["fault"]}),
    );
    srv.set_throttle(None);
    let g404 = gid(c.ok(
        "aria2.addUri",
        vec![json!([srv.url("/missing")]), json!({"out": "m"})],
    ));
    let st = wait_for(&mut c, &g404, |st| st["status"] == "error");
    out.insert(
        "not_found".into(),
        json!({"errorCode": st["errorCode"], "errorMessage": st["errorMessage"]}),
    );
    out
}

#[test]
fn queue_answers_match_aria2c() {
    if !require("aria2c") {
        return;
    }
    let srv = TestServer::start();
    srv.add_file("/big.bin", pattern(BIG, 1));
    let common = [
        "--max-concurrent-downloads=2",
        "--max-file-not-found=0",
        "--max-tries=1",
    ];

    let tmp_a = tempdir();
    let (_aria2, port) = aria2c_daemon(tmp_a.path(), &common);
    let want = queue_scenario(port, &srv);

    let tmp_b = tempdir();
    let d = Daemon::start(tmp_b.path(), &common);
    let got = queue_scenario(d.port, &srv);

    let mut diffs = Vec::new();
    for (case, w) in &want {
        compare(case, case, case, w, &got[case], &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "arietta differs from aria2c:\n{}",
        diffs.join("\n")
    );
}

/// How many of seven downloads added in one `system.multicall` run at
/// once on the daemon at `port`.
fn started_of_seven(port: u16, srv: &TestServer) -> usize {
    let mut c = RpcClient::new(port, Transport::Http, None);
    let big = srv.url("/big.bin");
    let calls: Vec<Value> = (0..7)
        .map(|i| json!({"methodName": "aria2.addUri", "params": [[big], {"out": format!("o{i}")}]}))
        .collect();
    c.ok("system.multicall", vec![json!(calls)]);
    std::thread::sleep(Duration::from_millis(500));
    let n = c
        .ok("aria2.tellActive", vec![json!(["gid"])])
        .as_array()
        .map_or(0, Vec::len);
    let _ = c.call("aria2.forceShutdown", vec![]);
    n
}

/// `--optimize-concurrent-downloads` with `-j 1`: before any speed is
/// measured aria2 lets A downloads run (5 for `true`), above `-j`; with
/// the option off, one. arietta and aria2c start the same number.
#[test]
fn optimize_concurrent_downloads_starts_as_many_as_aria2c() {
    if !require("aria2c") {
        return;
    }
    let srv = TestServer::start();
    srv.add_file("/big.bin", pattern(BIG, 1));
    srv.set_throttle(Some(200_000));
    for (value, want) in [("false", 1), ("true", 5), ("3:10", 3)] {
        let opt = format!("--optimize-concurrent-downloads={value}");
        let common = ["--max-concurrent-downloads=1", opt.as_str()];

        let tmp_a = tempdir();
        let (_aria2, port) = aria2c_daemon(tmp_a.path(), &common);
        assert_eq!(started_of_seven(port, &srv), want, "aria2c {opt}");

        let tmp_b = tempdir();
        let d = Daemon::start(tmp_b.path(), &common);
        assert_eq!(started_of_seven(d.port, &srv), want, "arietta {opt}");
    }
}

/// `shutdown` and `forceShutdown` with `--save-session`, a download
/// running and one waiting: aria2c and arietta both keep the two in the
/// session file written at exit (the running one resumes next time) and
/// exit 7, the code of an unfinished download. Answers (exit code, the
/// URIs the file lists) are compared, not the file's bytes: the GIDs in
/// it are random.
#[test]
fn shutdown_keeps_running_downloads_in_the_session_as_aria2c() {
    if !require("aria2c") {
        return;
    }
    let srv = TestServer::start();
    srv.add_route("/slow.bin", Route::new(pattern(BIG, 9)).throttle(200_000));
    let slow = srv.url("/slow.bin");
    let run = |aria2: bool, method: &str| -> (Option<i32>, usize) {
        let tmp = tempdir();
        let session = tmp.path().join("s.txt");
        let ss = format!("--save-session={}", s(&session));
        let common = ["--max-concurrent-downloads=1", ss.as_str()];
        // aria2c under a guard, or arietta's daemon: either kills on drop.
        let (port, mut theirs, mut ours) = if aria2 {
            let (guard, port) = aria2c_daemon(tmp.path(), &common);
            (port, Some(guard), None)
        } else {
            let d = Daemon::start(tmp.path(), &common);
            (d.port, None, Some(d))
        };
        let mut c = RpcClient::new(port, Transport::Http, None);
        let g = gid(c.ok("aria2.addUri", vec![json!([slow]), json!({"out": "a"})]));
        c.ok("aria2.addUri", vec![json!([slow]), json!({"out": "b"})]);
        wait_for(&mut c, &g, |st| {
            st["completedLength"].as_str().is_some_and(|n| n != "0")
        });
        c.ok(method, vec![]);
        let mut code = None;
        let exited = wait_until(Duration::from_secs(15), || {
            let child = match (&mut theirs, &mut ours) {
                (Some(g), _) => &mut g.0,
                (None, Some(d)) => &mut d.child,
                (None, None) => unreachable!("one of the two runs"),
            };
            code = child.try_wait().unwrap().map(|st| st.code());
            code.is_some()
        });
        assert!(exited, "{method} did not end the daemon");
        let text = std::fs::read_to_string(&session).unwrap_or_default();
        (code.flatten(), text.matches(&slow).count())
    };
    for method in ["aria2.shutdown", "aria2.forceShutdown"] {
        let want = run(true, method);
        assert_eq!(want, (Some(7), 2), "aria2c {method}");
        assert_eq!(run(false, method), want, "arietta {method}");
    }
}

/// The WebSocket notifications of one scenario, in order, each as
/// `method name-of-download`: a download started, paused after its first
/// bytes, unpaused and completed; one that fails (404); one added paused,
/// unpaused and removed while it runs; one added paused and removed while
/// it waits.
fn notifications(port: u16, srv: &TestServer) -> Vec<String> {
    use crate::support::rpc_client::{ws_connect, ws_read_text};
    let (mut ws, head) = ws_connect(port);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut c = RpcClient::new(port, Transport::Http, None);
    let big = srv.url("/big.bin");
    srv.set_throttle(Some(400_000));
    let g1 = gid(c.ok("aria2.addUri", vec![json!([big]), json!({"out": "n1"})]));
    wait_for(&mut c, &g1, |st| {
        st["completedLength"].as_str().is_some_and(|n| n != "0")
    });
    c.ok("aria2.pause", vec![json!(g1)]);
    wait_for(&mut c, &g1, |st| st["status"] == "paused");
    srv.set_throttle(None);
    c.ok("aria2.unpause", vec![json!(g1)]);
    wait_for(&mut c, &g1, |st| st["status"] == "complete");
    let g2 = gid(c.ok(
        "aria2.addUri",
        vec![json!([srv.url("/missing")]), json!({"out": "n2"})],
    ));
    wait_for(&mut c, &g2, |st| st["status"] == "error");
    srv.set_throttle(Some(400_000));
    let g3 = gid(c.ok(
        "aria2.addUri",
        vec![json!([big]), json!({"out": "n3", "pause": "true"})],
    ));
    c.ok("aria2.unpause", vec![json!(g3)]);
    wait_for(&mut c, &g3, |st| st["status"] == "active");
    c.ok("aria2.remove", vec![json!(g3)]);
    wait_for(&mut c, &g3, |st| st["status"] == "removed");
    let g4 = gid(c.ok(
        "aria2.addUri",
        vec![json!([big]), json!({"out": "n4", "pause": "true"})],
    ));
    c.ok("aria2.remove", vec![json!(g4)]);
    srv.set_throttle(None);
    // Everything that happened has been sent: a last call's answer on
    // the WebSocket comes after the notifications before it.
    let req = r#"{"jsonrpc":"2.0","id":"end","method":"aria2.getVersion","params":[]}"#;
    ws.write_all(&crate::support::rpc_client::ws_text_frame(req))
        .unwrap();
    let names = [(g1, "g1"), (g2, "g2"), (g3, "g3"), (g4, "g4")];
    let mut seen = Vec::new();
    loop {
        let v: Value = serde_json::from_str(&ws_read_text(&mut ws)).unwrap();
        if v["id"] == "end" {
            break;
        }
        let g = v["params"][0]["gid"].as_str().unwrap_or_default();
        let name = names.iter().find(|(x, _)| x == g).map_or(g, |(_, n)| n);
        seen.push(format!(
            "{} {name}",
            v["method"].as_str().unwrap_or_default()
        ));
    }
    seen
}

#[test]
fn websocket_notifications_match_aria2c_in_order() {
    if !require("aria2c") {
        return;
    }
    let srv = TestServer::start();
    srv.add_file("/big.bin", pattern(BIG, 1));
    let common = [
        "--max-concurrent-downloads=1",
        "--max-file-not-found=0",
        "--max-tries=1",
    ];
    let tmp_a = tempdir();
    let (_aria2, port) = aria2c_daemon(tmp_a.path(), &common);
    let want = notifications(port, &srv);

    let tmp_b = tempdir();
    let d = Daemon::start(tmp_b.path(), &common);
    let got = notifications(d.port, &srv);
    assert_eq!(got, want, "arietta's notifications, then aria2c's");
}

/// A magnet over RPC, key by key with aria2c: once the metadata came (from
/// an aria2c seeder through a tracker), the magnet's own entry is complete
/// with one file, `[METADATA]NAME`, and names its follower in `followedBy`;
/// the follower (the torrent, `following` the magnet) is compared too,
/// before its pieces are in.
#[test]
fn magnet_status_matches_aria2c_key_by_key() {
    use crate::bt_support::{pattern as bt_pattern, require_tracker_and_aria2c, Swarm};
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = Swarm::new(
        "mag",
        vec![
            (vec!["a.bin"], bt_pattern(300_000, 41)),
            (vec!["b.bin"], bt_pattern(100_000, 42)),
        ],
    )
    .tracker()
    .build()
    .aria2c_seeder_with(&["--max-upload-limit=20K"]);
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=mag&tr={}",
        sw.torrent.hex(),
        sw.tracker.as_ref().unwrap().http()
    );
    let common = [
        "--enable-dht=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--bt-tracker-interval=1",
        "--seed-time=0",
    ];
    let run = |port: u16| -> Map<String, Value> {
        let mut c = RpcClient::new(port, Transport::Http, None);
        let g = gid(call(&mut c, "aria2.addUri", vec![json!([magnet])]));
        let st = wait_for(&mut c, &g, |s| {
            s["status"] == "complete" && s["followedBy"].as_array().is_some_and(|a| !a.is_empty())
        });
        let child = st["followedBy"][0].as_str().unwrap().to_owned();
        let mut m = Map::new();
        m.insert("magnet".into(), st);
        m.insert(
            "magnet_files".into(),
            call(&mut c, "aria2.getFiles", vec![json!(g)]),
        );
        let child_st = call(
            &mut c,
            "aria2.tellStatus",
            vec![
                json!(child),
                json!([
                    "following",
                    "totalLength",
                    "numPieces",
                    "pieceLength",
                    "dir"
                ]),
            ],
        );
        m.insert("follower".into(), child_st);
        m
    };
    let tmp_a = tempdir();
    let (_aria2, port) = aria2c_daemon(tmp_a.path(), &common);
    let want = run(port);
    let tmp_b = tempdir();
    let d = Daemon::start(tmp_b.path(), &common);
    let got = run(d.port);
    let mut diffs = Vec::new();
    for (case, w) in &want {
        let (w, g) = (
            mask_dir(w, tmp_a.path()),
            mask_dir(&got[case], tmp_b.path()),
        );
        compare(case, case, case, &w, &g, &mut diffs);
    }
    assert!(
        diffs.is_empty(),
        "arietta differs from aria2c:\n{}",
        diffs.join("\n")
    );
}

/// `v` with `dir` written as `DIR` in every string.
fn mask_dir(v: &Value, dir: &Path) -> Value {
    let d = dir.display().to_string();
    match v {
        Value::String(s) => Value::String(s.replace(&d, "DIR")),
        Value::Array(a) => Value::Array(a.iter().map(|x| mask_dir(x, dir)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), mask_dir(x, dir)))
                .collect(),
        ),
        other => other.clone(),
    }
}
