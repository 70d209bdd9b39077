//! BitTorrent peers found through the DHT (BEP 5) and pieces fetched from
//! web seeds, end to end on loopback. Where python3-libtorrent (or
//! aria2c, opentracker, pyftpdlib) is missing the test skips with a
//! message (fails under CI).

use std::path::Path;
use std::time::Duration;

use arietta_testserver::{Route, TestServer};

use crate::bt_support::*;
use crate::support::ftpd::pyftpd;
use crate::support::rpc_client::Daemon;
use crate::support::{exit, s, spawn, wait_until, wait_with_timeout, Outcome};

fn sample() -> Files {
    vec![
        (vec!["a.bin"], pattern(1_500_000, 11)),
        (vec!["sub", "b.bin"], pattern(700_001, 12)),
    ]
}

/// Leeches `magnet` into `leech` with only the DHT to find peers.
fn dht_leech(home: &Path, leech: &Path, magnet: &str, extra: &[&str]) -> Outcome {
    let port = format!("--listen-port={}", free_port());
    let dht_port = format!("--dht-listen-port={}", free_tcp_udp_port());
    let mut args = vec!["-d", s(leech), "--seed-time=0", &port, &dht_port];
    args.extend_from_slice(extra);
    args.push(magnet);
    wait_with_timeout(spawn(home, &args), LEECH_LIMIT)
}

/// No tracker anywhere: the magnet's metadata and the files come from a
/// libtorrent seeder that arietta finds through a loopback DHT. The
/// routing table is saved at exit, and the next run bootstraps from it
/// alone (no entry point).
#[test]
fn dht_only_swarm_with_libtorrent_and_saved_table() {
    if !require_libtorrent() {
        return;
    }
    let sw = Swarm::new("multi", sample()).build();
    let (_seeder, _, entry) = libtorrent_dht_seeder(&sw.seed_dir(), &sw.torrent_path);
    let magnet = sw.magnet();
    let table = sw.dir().join("state").join("dht.dat");
    let file_opt = format!("--dht-file-path={}", table.display());
    let entry_opt = format!("--dht-entry-point=127.0.0.1:{entry}");

    let first = sw.dir().join("leech1");
    let out = dht_leech(sw.dir(), &first, &magnet, &[&entry_opt, &file_opt]);
    out.expect_code(exit::OK);
    sw.assert_complete_in(&first);
    let saved = std::fs::read(&table).expect("DHT routing table saved at exit");
    assert!(saved.len() > 20, "routing table file is empty");

    let second = sw.dir().join("leech2");
    let out = dht_leech(sw.dir(), &second, &magnet, &[&file_opt]);
    out.expect_code(exit::OK);
    sw.assert_complete_in(&second);
}

// ---- web seeds (BEP 19) ---------------------------------------------------

/// Serves `files` of torrent `name` under `/ws/name/…` on `server`, with
/// `route` applied to each file's route.
fn web_seed_server_on(
    server: TestServer,
    name: &str,
    files: &Files,
    route: impl Fn(Route) -> Route,
) -> TestServer {
    for (path, data) in files {
        let p = format!("/ws/{name}/{}", path.join("/"));
        server.add_route(&p, route(Route::new(data.clone())));
    }
    server
}

/// [`web_seed_server_on`] a fresh plain-HTTP test server.
fn web_seed_server(name: &str, files: &Files, route: impl Fn(Route) -> Route) -> TestServer {
    web_seed_server_on(TestServer::start(), name, files, route)
}

/// A torrent whose only source is its `url-list`: no tracker, no DHT, no
/// peer; every byte comes from the in-tree HTTP server by ranged GETs.
#[test]
fn web_seed_only_download() {
    web_seed_only(false);
}

/// The same over HTTPS (the test server's CA given with `--ca-certificate`).
#[test]
fn web_seed_only_download_https() {
    web_seed_only(true);
}

fn web_seed_only(tls: bool) {
    let base = if tls {
        TestServer::start_tls()
    } else {
        TestServer::start()
    };
    let server = web_seed_server_on(base, "multi", &sample(), |r| r);
    let sw = Swarm::new("multi", sample())
        .web_seeds(&[&server.url("/ws/")])
        .build();
    let ca = sw.dir().join("ca.pem");
    let ca_opt = format!("--ca-certificate={}", ca.display());
    let mut args = vec!["--enable-dht=false"];
    if let Some(pem) = server.ca_pem() {
        std::fs::write(&ca, pem).unwrap();
        args.push(&ca_opt);
    }
    // The plain-HTTP run also starts an IPv6-only DHT node (BEP 32) where
    // the machine has IPv6, and checks its table file is written at exit.
    let v6 = !tls && std::net::UdpSocket::bind("[::1]:0").is_ok();
    let table6 = sw.dir().join("dht6.dat");
    let table6_opt = format!("--dht-file-path6={}", table6.display());
    if v6 {
        args.extend(["--enable-dht6=true", "--dht-listen-addr6=::1", &table6_opt]);
    }
    let out = sw.leech(&args);
    out.expect_code(exit::OK);
    if v6 {
        assert!(table6.exists(), "IPv6 DHT table not saved");
    }
    sw.assert_leeched();
    assert!(server.total_bytes_served() >= sw.total_len() as u64);
}

/// BEP 52 with BEP 19: a v2-only multi-file torrent (each file starts on
/// a piece boundary, so alignment gaps lie between files) fed by a web
/// seed alone. Each range goes to its own file's URL; the gaps are never
/// asked for.
#[test]
fn web_seed_feeds_a_v2_only_multi_file_torrent() {
    if !require_libtorrent() {
        return;
    }
    let files: Files = vec![
        (vec!["a.bin"], pattern(300_000, 21)),
        (vec!["b.txt"], pattern(40_000, 22)),
        (vec!["c.bin"], pattern(150_001, 23)),
    ];
    let server = web_seed_server("v2ws", &files, |r| r);
    let sw = Swarm::new("v2ws", files).libtorrent_v2().build();
    let ws = server.url("/ws/");
    let out = sw.leech_of(&["-T", sw.torrent_arg(), &ws], &["--enable-dht=false"]);
    out.expect_code(exit::OK);
    sw.assert_leeched();
}

/// A web seed on a server that ignores Range (it answers 200 with the
/// whole file): each piece is read from the right place of the body, as
/// aria2, for which a web seed is one more HTTP source, manages too.
#[test]
fn web_seed_without_range_support() {
    let server = web_seed_server("multi", &sample(), |r| r.no_range());
    let sw = Swarm::new("multi", sample())
        .web_seeds(&[&server.url("/ws/")])
        .build();
    sw.leech(&["--enable-dht=false"]).expect_code(exit::OK);
    sw.assert_leeched();
}

/// An aria2c seeder (through opentracker) and a web seed given as an HTTP
/// URI next to the torrent on the command line feed one download.
#[test]
fn web_seed_and_aria2c_seeder_together() {
    if !require_tracker_and_aria2c() {
        return;
    }
    // Slow enough that the peer gets its share too.
    let server = web_seed_server("multi", &sample(), |r| r.throttle(400_000));
    let sw = Swarm::new("multi", sample())
        .tracker()
        .build()
        .aria2c_seeder();
    // The web seed's URI follows `-T` on the command line (as in aria2c,
    // a URI next to a positional torrent is a download of its own).
    let ws = server.url("/ws/");
    let out = sw.leech_of(&["-T", sw.torrent_arg(), &ws], &["--enable-dht=false"]);
    out.expect_code(exit::OK);
    sw.assert_leeched();
    let served = server.total_bytes_served();
    let total = sw.total_len();
    assert!(served > 0, "the web seed served nothing");
    assert!(
        served < total as u64,
        "the aria2c seeder contributed nothing (web seed served {served} of {total})"
    );
}

/// A web seed serving corrupted bytes: every piece fails its SHA-1, the
/// seed is banned, and the download never claims completion.
#[test]
fn corrupt_web_seed_is_caught_by_piece_hash() {
    let bad: Files = sample()
        .into_iter()
        .map(|(p, d)| (p, d.iter().map(|b| b ^ 0x5a).collect()))
        .collect();
    let server = web_seed_server("multi", &bad, |r| r);
    let sw = Swarm::new("multi", sample())
        .web_seeds(&[&server.url("/ws/")])
        .build();
    let out = sw.leech(&["--enable-dht=false", "--bt-stop-timeout=3"]);
    out.expect_failure();
    assert!(
        !out.output().contains("Download complete"),
        "{}",
        out.output()
    );
    assert!(server.total_bytes_served() > 0, "the web seed was not used");
}

// ---- metalink torrents ------------------------------------------------------

/// A metalink file offered only as `<metaurl mediatype="torrent">`: the
/// `.torrent` is fetched over HTTP and downloaded (here from its web seed).
#[test]
fn metalink_metaurl_starts_the_torrent() {
    let server = web_seed_server("multi", &sample(), |r| r);
    let sw = Swarm::new("multi", sample())
        .web_seeds(&[&server.url("/ws/")])
        .build();
    server.add_route("/t/multi.torrent", Route::new(sw.torrent.bytes.clone()));
    let meta4 = sw.dir().join("m.meta4");
    std::fs::write(
        &meta4,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="multi">
    <metaurl mediatype="torrent">{}</metaurl>
  </file>
</metalink>"#,
            server.url("/t/multi.torrent")
        ),
    )
    .unwrap();
    let out = sw.leech_of(&["-M", s(&meta4)], &["--enable-dht=false"]);
    out.expect_code(exit::OK);
    sw.assert_leeched();
}

/// An ftp:// URI after `-T TORRENT` on the command line is a web seed:
/// REST+RETR ranges from pyftpdlib feed the pieces.
#[test]
fn ftp_web_seed_from_the_command_line() {
    let sw = Swarm::new("multi", sample()).build();
    let Some(srv) = pyftpd(&sw.seed_dir(), 0) else {
        return;
    };
    let ws = format!("ftp://127.0.0.1:{}/", srv.port);
    let out = sw.leech_of(&["-T", sw.torrent_arg(), &ws], &["--enable-dht=false"]);
    out.expect_code(exit::OK);
    sw.assert_leeched();
}

/// `aria2.addTorrent(torrent, uris)`: the uris are web seeds of a torrent
/// that has no other source.
#[test]
fn rpc_add_torrent_uris_are_web_seeds() {
    use base64::Engine;
    let server = web_seed_server("multi", &sample(), |r| r);
    let sw = Swarm::new("multi", sample()).build();
    let dl = sw.dir().join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let d = Daemon::start(
        &dl,
        &[
            &format!("--listen-port={}", free_port()),
            "--enable-dht=false",
            "--seed-time=0",
        ],
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&sw.torrent.bytes);
    let added = d.call(
        "aria2.addTorrent",
        &format!(r#"["{b64}", ["{}"]]"#, server.url("/ws/")),
    );
    assert!(added.contains("\"result\""), "{added}");
    let done = || {
        !dl.join("multi.aria2").exists()
            && sw.files.iter().all(|(p, d)| {
                std::fs::read(dl.join("multi").join(p.join("/"))).is_ok_and(|got| got == *d)
            })
    };
    assert!(
        wait_until(Duration::from_secs(20), done),
        "the web seed never completed the download"
    );
    sw.assert_complete_in(&dl);
    assert!(server.total_bytes_served() > 0);
}

/// The DHT routing table file is aria2's, both ways: the two share the
/// default `~/.cache/aria2/dht.dat`. aria2c loads the table arietta saved
/// ("DHT routing table was loaded successfully"), and arietta keeps the
/// node ID aria2c saved.
#[test]
fn dht_table_file_is_shared_with_aria2c() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let server = web_seed_server("multi", &sample(), |r| r);
    let sw = Swarm::new("multi", sample())
        .web_seeds(&[&server.url("/ws/")])
        .build();
    let table = sw.dir().join("dht.dat");
    let file_opt = format!("--dht-file-path={}", table.display());
    let dht_port = format!("--dht-listen-port={}", free_tcp_udp_port());
    let common = [
        "--enable-dht=true",
        "--bt-enable-lpd=false",
        "--seed-time=0",
    ];

    // arietta saves; aria2c loads it.
    let mut args = common.to_vec();
    args.extend([file_opt.as_str(), dht_port.as_str()]);
    sw.leech(&args).expect_code(exit::OK);
    let ours = std::fs::read(&table).expect("arietta saved the table");
    assert_eq!(&ours[..8], &[0xa1, 0xa2, 0x02, 0, 0, 0, 0, 0x03]);
    let theirs_dir = sw.dir().join("aria2c");
    std::fs::create_dir_all(&theirs_dir).unwrap();
    let log = sw.dir().join("aria2c.log");
    let mut cmd = aria2c(sw.dir(), &[]);
    cmd.args(common)
        .arg(&file_opt)
        .arg(format!("--dht-listen-port={}", free_tcp_udp_port()))
        .arg(format!("--log={}", log.display()))
        .arg("--log-level=info")
        .arg(format!("--dir={}", theirs_dir.display()))
        .arg(&sw.torrent_path);
    assert!(run_for(cmd, LEECH_LIMIT), "aria2c did not finish");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("DHT routing table was loaded successfully"),
        "aria2c could not load arietta's table:\n{text}"
    );
    // aria2c saved it again at exit, with the node ID it read from ours.
    let after = std::fs::read(&table).unwrap();
    assert_eq!(&after[24..44], &ours[24..44], "aria2c kept the node ID");

    // arietta loads aria2c's file: the node ID survives its next save.
    std::fs::remove_dir_all(sw.leech_dir()).unwrap();
    sw.leech(&args).expect_code(exit::OK);
    let again = std::fs::read(&table).unwrap();
    assert_eq!(
        &again[24..44],
        &after[24..44],
        "arietta kept aria2c's node ID"
    );
}

/// A torrent's console lines side by side with aria2c's (here a web seed
/// is the only source, `--seed-time=0`): "IPvN BitTorrent: listening on
/// TCP port N", "Seeding is over.", then, once the download stops,
/// "Download complete: PATH" and "Your share ratio was …".
#[test]
fn torrent_console_lines_match_aria2c() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let files: Files = vec![(vec![], pattern(700_000, 31))];
    let server = TestServer::start();
    server.add_route("/ws/one.bin", Route::new(files[0].1.clone()));
    let sw = Swarm::new("one.bin", files)
        .web_seeds(&[&server.url("/ws/one.bin")])
        .build();
    let seen = sw.console_side_by_side(&[
        "--enable-dht=false",
        "--bt-enable-lpd=false",
        "--seed-time=0",
        sw.torrent_arg(),
    ]);
    assert_eq!(
        seen[0].0, seen[1].0,
        "arietta (left), aria2c (right)\n{}\n---\n{}",
        seen[0].1, seen[1].1
    );
    assert!(
        seen[0].0.iter().any(|l| l == "Seeding is over."),
        "{:?}",
        seen[0].0
    );
}
