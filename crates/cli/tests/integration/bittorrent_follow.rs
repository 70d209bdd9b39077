//! Torrents reached other ways than one `.torrent` argument: several on
//! one command line (each its own download, as aria2c groups arguments)
//! and one returned by an HTTP server (`--follow-torrent`). Every swarm
//! here is fed by a web seed on the in-tree HTTP server, so no tracker or
//! peer program is needed.

use arietta_testserver::{Route, TestServer};

use crate::bt_support::*;
use crate::support::{exit, list_dir, run_with_timeout, s, tempdir};

fn files(seed: u64) -> Files {
    vec![
        (vec!["a.bin"], pattern(300_000, seed)),
        (vec!["sub", "b.bin"], pattern(200_001, seed + 1)),
    ]
}

/// A swarm named `name` whose web seed is `server`'s `/ws/`.
fn web_seeded(server: &TestServer, name: &'static str, seed: u64) -> Swarm {
    let content = files(seed);
    for (path, data) in &content {
        let p = format!("/ws/{name}/{}", path.join("/"));
        server.add_route(&p, Route::new(data.clone()));
    }
    Swarm::new(name, content)
        .web_seeds(&[&server.url("/ws/")])
        .build()
}

const BT: [&str; 3] = [
    "--enable-dht=false",
    "--seed-time=0",
    "--bt-enable-lpd=false",
];

fn args<'a>(dir: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["-d", dir];
    a.extend(BT);
    a.extend_from_slice(more);
    a
}

/// `arietta one.torrent two.torrent` starts two downloads, as aria2c does
/// (it used to refuse them as one download's URIs).
#[test]
fn two_torrents_on_the_command_line_are_two_downloads() {
    let server = TestServer::start();
    let one = web_seeded(&server, "one", 1);
    let two = web_seeded(&server, "two", 3);
    let out_dir = tempdir();
    let dir = s(out_dir.path());
    let out = run_with_timeout(
        one.dir(),
        &args(dir, &[one.torrent_arg(), two.torrent_arg()]),
        LEECH_LIMIT,
    );
    out.expect_code(exit::OK);
    one.assert_complete_in(out_dir.path());
    two.assert_complete_in(out_dir.path());
}

/// `--follow-torrent=true` (the default): the `.torrent` an HTTP URL
/// returns is saved and its content downloaded.
#[test]
fn follow_torrent_true_saves_and_downloads() {
    let server = TestServer::start();
    let sw = web_seeded(&server, "multi", 5);
    server.add_route("/t/multi.torrent", Route::new(sw.torrent.bytes.clone()));
    let out_dir = tempdir();
    let url = server.url("/t/multi.torrent");
    let out = run_with_timeout(sw.dir(), &args(s(out_dir.path()), &[&url]), LEECH_LIMIT);
    out.expect_code(exit::OK);
    sw.assert_complete_in(out_dir.path());
    assert_eq!(
        std::fs::read(out_dir.path().join("multi.torrent")).unwrap(),
        sw.torrent.bytes
    );
}

/// `--follow-torrent=mem`, the torrent known by its media type only: the
/// content is downloaded and no `.torrent` is written.
#[test]
fn follow_torrent_mem_downloads_without_saving() {
    let server = TestServer::start();
    let sw = web_seeded(&server, "multi", 7);
    server.add_route(
        "/get/meta",
        Route::new(sw.torrent.bytes.clone()).content_type("application/x-bittorrent"),
    );
    let out_dir = tempdir();
    let url = server.url("/get/meta");
    let out = run_with_timeout(
        sw.dir(),
        &args(s(out_dir.path()), &["--follow-torrent=mem", &url]),
        LEECH_LIMIT,
    );
    out.expect_code(exit::OK);
    sw.assert_complete_in(out_dir.path());
    let files = list_dir(out_dir.path());
    assert!(files.is_empty(), "files beside the content: {files:?}");
}

/// `--follow-torrent=false`: only the `.torrent` itself is downloaded.
#[test]
fn follow_torrent_false_only_saves_the_file() {
    let server = TestServer::start();
    let sw = web_seeded(&server, "multi", 9);
    server.add_route("/t/multi.torrent", Route::new(sw.torrent.bytes.clone()));
    let out_dir = tempdir();
    let url = server.url("/t/multi.torrent");
    let out = run_with_timeout(
        sw.dir(),
        &args(s(out_dir.path()), &["--follow-torrent=false", &url]),
        LEECH_LIMIT,
    );
    out.expect_code(exit::OK);
    assert_eq!(list_dir(out_dir.path()), vec!["multi.torrent".to_string()]);
}

/// `-j1 --bt-detach-seed-only`: a torrent that only seeds leaves its slot,
/// so the next torrent downloads while the first still seeds.
#[test]
fn detached_seeder_frees_its_slot() {
    use crate::support::{spawn, wait_until};
    use std::time::Duration;
    let server = TestServer::start();
    let one = web_seeded(&server, "one", 11);
    let two = web_seeded(&server, "two", 13);
    let out_dir = tempdir();
    let dir = s(out_dir.path());
    let child = spawn(
        one.dir(),
        &[
            "-d",
            dir,
            "-j1",
            "--bt-detach-seed-only",
            "--seed-time=10",
            "--enable-dht=false",
            "--bt-enable-lpd=false",
            one.torrent_arg(),
            two.torrent_arg(),
        ],
    );
    let _guard = Guard(child);
    let second = out_dir.path().join("two/sub/b.bin");
    let done = wait_until(Duration::from_secs(30), || {
        let out = std::process::Command::new("cmp")
            .arg(&second)
            .arg(two.seed_dir().join("two/sub/b.bin"))
            .output();
        out.is_ok_and(|o| o.status.success())
    });
    assert!(
        done,
        "the second torrent never ran beside the seeding first"
    );
    one.assert_complete_in(out_dir.path());
    two.assert_complete_in(out_dir.path());
}
