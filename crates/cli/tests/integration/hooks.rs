//! aria2's event hooks (`--on-download-*`, `--on-bt-download-complete`):
//! a script records each call's arguments, and the record is compared with
//! what aria2c 1.36 writes for the same input (GIDs and the temp dir
//! normalized).

use std::path::Path;
use std::time::Duration;

use arietta_testserver::{Route, TestServer};

use crate::bt_support::*;
use crate::support::{require, run_with_timeout, s, tempdir, wait_until, Outcome};

const HOOKS: [&str; 6] = [
    "on-download-start",
    "on-download-pause",
    "on-download-stop",
    "on-download-complete",
    "on-download-error",
    "on-bt-download-complete",
];

/// Writes `dir/NAME.sh` for every hook: it appends `NAME GID FILES PATH`
/// to `dir/hooks.log`.
fn write_scripts(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for h in HOOKS {
        let p = dir.join(format!("{h}.sh"));
        let log = dir.join("hooks.log");
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho \"{h} $1 $2 $3\" >> '{}'\n", log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// `--on-X=DIR/on-X.sh` for each hook named.
fn hook_args(dir: &Path, hooks: &[&str]) -> Vec<String> {
    hooks
        .iter()
        .map(|h| format!("--{h}={}", dir.join(format!("{h}.sh")).display()))
        .collect()
}

/// The hook record once it has `lines` lines (scripts run detached),
/// GIDs replaced by `GID` and `dir` by `DIR`.
fn record(dir: &Path, lines: usize) -> Vec<String> {
    let log = dir.join("hooks.log");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_until(Duration::from_secs(10), || read().lines().count() >= lines);
    // A late extra call would show up here.
    std::thread::sleep(Duration::from_millis(300));
    let root = dir.display().to_string();
    read()
        .lines()
        .map(|l| {
            let mut f: Vec<String> = l.splitn(4, ' ').map(str::to_owned).collect();
            if f.len() > 1 && f[1].len() == 16 {
                f[1] = "GID".into();
            }
            f.join(" ").replace(&root, "DIR")
        })
        .collect()
}

/// Runs arietta (and aria2c when installed) with `args` plus the hooks
/// named, each in a fresh dir made by `setup`; returns arietta's record
/// and aria2c's (`None` without aria2c).
fn both(
    hooks: &[&str],
    lines: usize,
    setup: impl Fn(&Path),
    args: impl Fn(&Path) -> Vec<String>,
) -> (Vec<String>, Option<Vec<String>>) {
    let run = |aria2: bool| {
        let tmp = tempdir();
        let dir = tmp.path().to_path_buf();
        write_scripts(&dir);
        setup(&dir);
        let mut a = hook_args(&dir, hooks);
        a.extend(args(&dir));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        if aria2 {
            let _ = aria2c(&dir, &a).output();
        } else {
            let out: Outcome = run_with_timeout(&dir, &a, LEECH_LIMIT);
            let _ = out.output();
        }
        let r = record(&dir, lines);
        drop(tmp);
        r
    };
    let ours = run(false);
    let theirs = (require("aria2c")).then(|| run(true));
    (ours, theirs)
}

#[track_caller]
fn check(mut ours: Vec<String>, theirs: Option<Vec<String>>, want: &[&str]) {
    // Hooks started back to back run concurrently: their lines may land
    // in either order (with aria2c too).
    let mut want: Vec<&str> = want.to_vec();
    want.sort_unstable();
    ours.sort_unstable();
    assert_eq!(ours, want, "arietta's hook calls");
    if let Some(mut t) = theirs {
        t.sort_unstable();
        assert_eq!(t, want, "aria2c's hook calls (the reference)");
    }
}

fn http_server() -> TestServer {
    let server = TestServer::start();
    server.add_route("/f.bin", Route::new(pattern(100_000, 1)));
    server
}

/// An HTTP download: start (its path unknown yet), then complete; the
/// complete hook replaces the stop hook.
#[test]
fn http_start_and_complete() {
    let server = http_server();
    let url = server.url("/f.bin");
    let (ours, theirs) = both(
        &[
            "on-download-start",
            "on-download-complete",
            "on-download-stop",
        ],
        2,
        |_| {},
        |d| vec!["-d".into(), format!("{}/out", d.display()), url.clone()],
    );
    check(
        ours,
        theirs,
        &[
            "on-download-start GID 1 ",
            "on-download-complete GID 1 DIR/out/f.bin",
        ],
    );
}

/// A 404: the error hook when set, else the stop hook.
#[test]
fn http_error_and_stop() {
    let server = http_server();
    let url = server.url("/missing");
    let (ours, theirs) = both(
        &["on-download-error", "on-download-stop"],
        1,
        |_| {},
        |d| vec!["-d".into(), s(d).into(), url.clone()],
    );
    check(ours, theirs, &["on-download-error GID 1 "]);
    let (ours, theirs) = both(
        &["on-download-stop", "on-download-complete"],
        1,
        |_| {},
        |d| vec!["-d".into(), s(d).into(), url.clone()],
    );
    check(ours, theirs, &["on-download-stop GID 1 "]);
}

fn web_seeded_torrent(server: &TestServer) -> (Files, Vec<u8>) {
    let files: Files = vec![
        (vec!["a.bin"], pattern(300_000, 21)),
        (vec!["sub", "b.bin"], pattern(200_001, 22)),
    ];
    for (path, data) in &files {
        server.add_route(
            &format!("/ws/multi/{}", path.join("/")),
            Route::new(data.clone()),
        );
    }
    let sw = Swarm::new("multi", files.clone())
        .web_seeds(&[&server.url("/ws/")])
        .build();
    (files, sw.torrent.bytes.clone())
}

/// A torrent: start with its files, bt-download-complete when the last
/// piece is verified, download-complete when seeding is over.
#[test]
fn bittorrent_start_bt_complete_and_complete() {
    let server = TestServer::start();
    let (_, torrent) = web_seeded_torrent(&server);
    let all = [
        "on-download-start",
        "on-bt-download-complete",
        "on-download-complete",
    ];
    let (ours, theirs) = both(
        &all,
        3,
        |d| std::fs::write(d.join("multi.torrent"), &torrent).unwrap(),
        |d| {
            vec![
                "-d".into(),
                format!("{}/out", d.display()),
                "--seed-time=0".into(),
                "--enable-dht=false".into(),
                "--bt-enable-lpd=false".into(),
                d.join("multi.torrent").display().to_string(),
            ]
        },
    );
    check(
        ours,
        theirs,
        &[
            "on-download-start GID 2 DIR/out/multi/a.bin",
            "on-bt-download-complete GID 2 DIR/out/multi/a.bin",
            "on-download-complete GID 2 DIR/out/multi/a.bin",
        ],
    );
}

/// Files already complete, checked with `-V`: the bt-download-complete
/// hook runs after the check unless `--bt-enable-hook-after-hash-check`
/// is false; `--select-file` counts and names only the selected files.
#[test]
fn bittorrent_hook_after_hash_check() {
    let server = TestServer::start();
    let (files, torrent) = web_seeded_torrent(&server);
    let setup = |d: &Path| {
        std::fs::write(d.join("multi.torrent"), &torrent).unwrap();
        for (path, data) in &files {
            let p = d.join("out/multi").join(path.join("/"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
    };
    let args = |extra: &'static str| {
        move |d: &Path| {
            vec![
                "-d".into(),
                format!("{}/out", d.display()),
                "-V".into(),
                "--select-file=2".into(),
                "--seed-time=0".into(),
                "--enable-dht=false".into(),
                "--bt-enable-lpd=false".into(),
                extra.into(),
                d.join("multi.torrent").display().to_string(),
            ]
        }
    };
    let hooks = ["on-bt-download-complete", "on-download-complete"];
    let (ours, theirs) = both(
        &hooks,
        2,
        setup,
        args("--bt-enable-hook-after-hash-check=true"),
    );
    check(
        ours,
        theirs,
        &[
            "on-bt-download-complete GID 1 DIR/out/multi/sub/b.bin",
            "on-download-complete GID 1 DIR/out/multi/sub/b.bin",
        ],
    );
    let (ours, theirs) = both(
        &hooks,
        1,
        setup,
        args("--bt-enable-hook-after-hash-check=false"),
    );
    check(
        ours,
        theirs,
        &["on-download-complete GID 1 DIR/out/multi/sub/b.bin"],
    );
}

/// `--bt-remove-unselected-file`: the file left out by `--select-file`
/// (written only where its pieces are shared) is gone at the end.
#[test]
fn bt_remove_unselected_file() {
    let server = TestServer::start();
    let (files, torrent) = web_seeded_torrent(&server);
    let tmp = tempdir();
    let d = tmp.path();
    std::fs::write(d.join("multi.torrent"), &torrent).unwrap();
    let out = run_with_timeout(
        d,
        &[
            "-d",
            &format!("{}/out", d.display()),
            "--select-file=1",
            "--bt-remove-unselected-file",
            "--seed-time=0",
            "--enable-dht=false",
            "--bt-enable-lpd=false",
            s(&d.join("multi.torrent")),
        ],
        LEECH_LIMIT,
    );
    out.expect_code(crate::support::exit::OK);
    assert_eq!(
        std::fs::read(d.join("out/multi/a.bin")).unwrap(),
        files[0].1
    );
    assert!(
        !d.join("out/multi/sub/b.bin").exists(),
        "the unselected file was left"
    );
}

/// `aria2.pause` on an active download runs `--on-download-pause` with
/// the file it was writing.
#[test]
fn pause_over_rpc_runs_the_pause_hook() {
    use crate::support::rpc_client::Daemon;
    let server = TestServer::start();
    server.add_route(
        "/slow.bin",
        Route::new(pattern(8 << 20, 5)).throttle(256 << 10),
    );
    let tmp = tempdir();
    let dir = tmp.path();
    write_scripts(dir);
    let hook = hook_args(dir, &["on-download-pause"]);
    let d = Daemon::start(dir, &[&hook[0]]);
    let added = d.call(
        "aria2.addUri",
        &format!(r#"[["{}"]]"#, server.url("/slow.bin")),
    );
    let gid = crate::support::rpc_client::field(&added, "result")
        .expect("a GID")
        .to_owned();
    d.wait_status(&gid, "active");
    wait_until(Duration::from_secs(10), || dir.join("slow.bin").exists());
    d.call("aria2.pause", &format!(r#"["{gid}"]"#));
    d.wait_status(&gid, "paused");
    assert_eq!(record(dir, 1), ["on-download-pause GID 1 DIR/slow.bin"]);
    d.call("aria2.forceShutdown", "[]");
    let _ = d.wait_exit(Duration::from_secs(10));
}

/// `--pause-metadata` in daemon mode: the torrent an HTTP URL returned is
/// queued paused.
#[test]
fn pause_metadata_pauses_a_followed_torrent() {
    use crate::support::rpc_client::Daemon;
    let server = TestServer::start();
    let (_, torrent) = web_seeded_torrent(&server);
    server.add_route("/t/multi.torrent", Route::new(torrent));
    let tmp = tempdir();
    let d = Daemon::start(tmp.path(), &["--pause-metadata"]);
    d.call(
        "aria2.addUri",
        &format!(r#"[["{}"]]"#, server.url("/t/multi.torrent")),
    );
    let mut waiting = String::new();
    let paused = wait_until(Duration::from_secs(10), || {
        waiting = d.call("aria2.tellWaiting", r#"[0,10,["gid","status"]]"#);
        waiting.contains(r#""status":"paused""#)
    });
    assert!(paused, "the followed torrent is not paused: {waiting}");
    assert!(!tmp.path().join("multi").exists(), "the torrent ran");
    d.call("aria2.forceShutdown", "[]");
    let _ = d.wait_exit(Duration::from_secs(10));
}

/// `--pause-metadata` in daemon mode, as aria2c: a magnet's download ends
/// complete once its metadata came from an aria2c seeder, and the torrent
/// it describes (its `followedBy`) waits paused; unpaused, it completes
/// from that metadata.
#[test]
fn pause_metadata_pauses_a_magnet_after_its_metadata() {
    use crate::support::rpc_client::Daemon;
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = Swarm::new(
        "multi",
        vec![
            (vec!["a.bin"], pattern(300_000, 31)),
            (vec!["sub", "b.bin"], pattern(200_001, 32)),
        ],
    )
    .tracker()
    .build()
    .aria2c_seeder();
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&tr={}",
        sw.torrent.hex(),
        sw.tracker.as_ref().unwrap().http()
    );
    let leech = sw.leech_dir();
    std::fs::create_dir_all(&leech).unwrap();
    let port = format!("--listen-port={}", crate::support::free_port());
    let d = Daemon::start(
        &leech,
        &[
            "--pause-metadata",
            "--seed-time=0",
            "--enable-dht=false",
            "--bt-enable-lpd=false",
            "--bt-tracker-interval=1",
            &port,
        ],
    );
    let added = d.call("aria2.addUri", &format!(r#"[["{magnet}"]]"#));
    let gid = crate::support::rpc_client::field(&added, "result")
        .expect("a GID")
        .to_owned();
    d.wait_status(&gid, "complete");
    let st = d.call("aria2.tellStatus", &format!(r#"["{gid}",["followedBy"]]"#));
    let v: serde_json::Value = serde_json::from_str(&st).unwrap();
    let child = v["result"]["followedBy"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no followedBy: {st}"))
        .to_owned();
    let st = d.wait_status(&child, "paused");
    assert!(!leech.join("multi/a.bin").exists(), "it downloaded: {st}");
    let st = d.call("aria2.tellStatus", &format!(r#"["{child}",["following"]]"#));
    assert!(st.contains(&format!("\"following\":\"{gid}\"")), "{st}");
    d.call("aria2.unpause", &format!(r#"["{child}"]"#));
    d.wait_status(&child, "complete");
    sw.assert_leeched();
    d.call("aria2.forceShutdown", "[]");
    let _ = d.wait_exit(Duration::from_secs(10));
}
