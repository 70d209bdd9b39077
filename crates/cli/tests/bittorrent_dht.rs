//! BitTorrent peers found through the DHT (BEP 5) and pieces fetched from
//! web seeds, end to end on loopback. Skipped (with a message) where
//! python3-libtorrent is not installed.

mod bt_support;
mod support;

use std::path::Path;
use std::time::Duration;

use arietta_testserver::{Route, TestServer};
use bt_support::*;
use support::{exit, s, spawn, tempdir, wait_with_timeout};

const PIECE: usize = 64 * 1024;
const LIMIT: Duration = Duration::from_secs(60);

fn sample() -> Vec<(Vec<&'static str>, Vec<u8>)> {
    vec![
        (vec!["a.bin"], pattern(1_500_000, 11)),
        (vec!["sub", "b.bin"], pattern(700_001, 12)),
    ]
}

/// Leeches `magnet` into `leech` with only the DHT to find peers.
fn dht_leech(home: &Path, leech: &Path, magnet: &str, extra: &[&str]) -> support::Outcome {
    let port = format!("--listen-port={}", free_port());
    let dht_port = format!("--dht-listen-port={}", free_tcp_udp_port());
    let mut args = vec!["-d", s(leech), "--seed-time=0", &port, &dht_port];
    args.extend_from_slice(extra);
    args.push(magnet);
    wait_with_timeout(spawn(home, &args), LIMIT)
}

/// No tracker anywhere: the magnet's metadata and the files come from a
/// libtorrent seeder that arietta finds through a loopback DHT. The
/// routing table is saved at exit, and the next run bootstraps from it
/// alone (no entry point).
#[test]
fn dht_only_swarm_with_libtorrent_and_saved_table() {
    if !have_libtorrent() {
        eprintln!("skipping dht_only_swarm_with_libtorrent_and_saved_table: no python3-libtorrent");
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (_seeder, _, entry) = libtorrent_dht_seeder(&seed, &torrent);
    let magnet = format!("magnet:?xt=urn:btih:{}&dn=multi", t.hex());
    let table = tmp.path().join("state").join("dht.dat");
    let file_opt = format!("--dht-file-path={}", table.display());
    let entry_opt = format!("--dht-entry-point=127.0.0.1:{entry}");

    let first = tmp.path().join("leech1");
    let out = dht_leech(tmp.path(), &first, &magnet, &[&entry_opt, &file_opt]);
    out.expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &first.join("multi"));
    let saved = std::fs::read(&table).expect("DHT routing table saved at exit");
    assert!(saved.len() > 20, "routing table file is empty");

    let second = tmp.path().join("leech2");
    let out = dht_leech(tmp.path(), &second, &magnet, &[&file_opt]);
    out.expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &second.join("multi"));
}

// ---- web seeds (BEP 19) ---------------------------------------------------

/// Serves `files` of torrent `name` under `/ws/name/…` on a fresh test
/// server, with `route` applied to each file's route.
fn web_seed_server(
    name: &str,
    files: &[(Vec<&'static str>, Vec<u8>)],
    route: impl Fn(Route) -> Route,
) -> TestServer {
    web_seed_server_on(TestServer::start(), name, files, route)
}

fn web_seed_server_on(
    server: TestServer,
    name: &str,
    files: &[(Vec<&'static str>, Vec<u8>)],
    route: impl Fn(Route) -> Route,
) -> TestServer {
    for (path, data) in files {
        let p = format!("/ws/{name}/{}", path.join("/"));
        server.add_route(&p, route(Route::new(data.clone())));
    }
    server
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
    let files = sample();
    let refs = as_refs(&files);
    let base = if tls {
        TestServer::start_tls()
    } else {
        TestServer::start()
    };
    let server = web_seed_server_on(base, "multi", &files, |r| r);
    let ws = server.url("/ws/");
    let t = make_torrent_with_web_seeds("multi", &refs, PIECE, None, &[&ws]);
    let tmp = tempdir();
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let want = tmp.path().join("want");
    write_files(&want, "multi", &refs);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let ca = tmp.path().join("ca.pem");
    let ca_opt = format!("--ca-certificate={}", ca.display());
    let mut args = vec![
        "-d",
        s(&leech),
        "--seed-time=0",
        "--enable-dht=false",
        &port,
    ];
    if let Some(pem) = server.ca_pem() {
        std::fs::write(&ca, pem).unwrap();
        args.push(&ca_opt);
    }
    // The plain-HTTP run also starts an IPv6-only DHT node (BEP 32) where
    // the machine has IPv6, and checks its table file is written at exit.
    let v6 = !tls && std::net::UdpSocket::bind("[::1]:0").is_ok();
    let table6 = tmp.path().join("dht6.dat");
    let table6_opt = format!("--dht-file-path6={}", table6.display());
    if v6 {
        args.extend(["--enable-dht6=true", "--dht-listen-addr6=::1", &table6_opt]);
    }
    args.push(s(&torrent));
    let out = wait_with_timeout(spawn(tmp.path(), &args), LIMIT);
    out.expect_code(exit::OK);
    if v6 {
        assert!(table6.exists(), "IPv6 DHT table not saved");
    }
    assert_same_tree(&want.join("multi"), &leech.join("multi"));
    let total: usize = files.iter().map(|(_, d)| d.len()).sum();
    assert!(server.total_bytes_served() >= total as u64);
}

/// An aria2c seeder (through opentracker) and a web seed given as an HTTP
/// URI next to the torrent on the command line feed one download.
#[test]
fn web_seed_and_aria2c_seeder_together() {
    if !have_tools() {
        eprintln!("skipping web_seed_and_aria2c_seeder_together: opentracker or aria2c missing");
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    // Slow enough that the peer gets its share too.
    let server = web_seed_server("multi", &files, |r| r.throttle(400_000));
    let hash = make_torrent("multi", &refs, PIECE, None).hex();
    let tracker = Tracker::start(&[hash]);
    let t = make_torrent("multi", &refs, PIECE, Some(&tracker.http()));
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (_seeder, _) = aria2c_seeder(tmp.path(), &seed, &torrent);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let ws = server.url("/ws/");
    let out = wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&leech),
                "--seed-time=0",
                "--enable-dht=false",
                "--bt-tracker-interval=1",
                &port,
                s(&torrent),
                &ws,
            ],
        ),
        LIMIT,
    );
    out.expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &leech.join("multi"));
    let served = server.total_bytes_served();
    let total: usize = files.iter().map(|(_, d)| d.len()).sum();
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
    let files = sample();
    let refs = as_refs(&files);
    let bad: Vec<(Vec<&'static str>, Vec<u8>)> = files
        .iter()
        .map(|(p, d)| (p.clone(), d.iter().map(|b| b ^ 0x5a).collect()))
        .collect();
    let server = web_seed_server("multi", &bad, |r| r);
    let ws = server.url("/ws/");
    let t = make_torrent_with_web_seeds("multi", &refs, PIECE, None, &[&ws]);
    let tmp = tempdir();
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let out = wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&leech),
                "--seed-time=0",
                "--enable-dht=false",
                "--bt-stop-timeout=3",
                &port,
                s(&torrent),
            ],
        ),
        LIMIT,
    );
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
    let files = sample();
    let refs = as_refs(&files);
    let server = web_seed_server("multi", &files, |r| r);
    let ws = server.url("/ws/");
    let t = make_torrent_with_web_seeds("multi", &refs, PIECE, None, &[&ws]);
    server.add_route("/t/multi.torrent", Route::new(t.bytes.clone()));
    let tmp = tempdir();
    let meta4 = tmp.path().join("m.meta4");
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
    let want = tmp.path().join("want");
    write_files(&want, "multi", &refs);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let out = wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&leech),
                "--seed-time=0",
                "--enable-dht=false",
                &port,
                "-M",
                s(&meta4),
            ],
        ),
        LIMIT,
    );
    out.expect_code(exit::OK);
    assert_same_tree(&want.join("multi"), &leech.join("multi"));
}

/// An ftp:// URI next to the torrent on the command line is a web seed:
/// REST+RETR ranges from pyftpdlib feed the pieces.
#[test]
fn ftp_web_seed_from_the_command_line() {
    let files = sample();
    let refs = as_refs(&files);
    let tmp = tempdir();
    let root = tmp.path().join("ftproot");
    write_files(&root, "multi", &refs);
    let Some(srv) = support::ftpd::pyftpd(&root, 0) else {
        return;
    };
    let t = make_torrent("multi", &refs, PIECE, None);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let ws = format!("ftp://127.0.0.1:{}/", srv.port);
    let out = wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&leech),
                "--seed-time=0",
                "--enable-dht=false",
                &port,
                s(&torrent),
                &ws,
            ],
        ),
        LIMIT,
    );
    out.expect_code(exit::OK);
    assert_same_tree(&root.join("multi"), &leech.join("multi"));
}

fn rpc_call(port: u16, method: &str, params: &str) -> String {
    use std::io::{Read, Write};
    let body = format!(r#"{{"jsonrpc":"2.0","id":"t","method":"{method}","params":{params}}}"#);
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// `aria2.addTorrent(torrent, uris)`: the uris are web seeds of a torrent
/// that has no other source.
#[test]
fn rpc_add_torrent_uris_are_web_seeds() {
    use base64::Engine;
    let files = sample();
    let refs = as_refs(&files);
    let server = web_seed_server("multi", &files, |r| r);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let want = tmp.path().join("want");
    write_files(&want, "multi", &refs);
    let dl = tmp.path().join("dl");
    let rpc_port = free_port();
    let child = spawn(
        tmp.path(),
        &[
            "--enable-rpc",
            &format!("--rpc-listen-port={rpc_port}"),
            &format!("--dir={}", s(&dl)),
            &format!("--listen-port={}", free_port()),
            "--enable-dht=false",
            "--seed-time=0",
            "-q",
        ],
    );
    let _g = Guard(child);
    assert!(wait_listening(rpc_port, Duration::from_secs(10)));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&t.bytes);
    let added = rpc_call(
        rpc_port,
        "aria2.addTorrent",
        &format!(r#"["{b64}", ["{}"]]"#, server.url("/ws/")),
    );
    assert!(added.contains("\"result\""), "{added}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let done = !dl.join("multi.aria2").exists()
            && files.iter().all(|(p, d)| {
                std::fs::read(dl.join("multi").join(p.join("/"))).is_ok_and(|got| got == *d)
            });
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the web seed never completed the download"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_same_tree(&want.join("multi"), &dl.join("multi"));
    assert!(server.total_bytes_served() > 0);
}
