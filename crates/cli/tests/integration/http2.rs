//! HTTP/2 (arietta only, opt-in): `--enable-http2` over TLS (ALPN) and
//! `--http2-prior-knowledge` over plain text, against nginx's `http2`
//! listeners. nginx's access log (`$server_protocol $connection`) tells
//! which protocol each request came in on and over how many connections.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use crate::support::{
    exit, require, run_with_timeout, s, sha256_file, tempdir, write_pattern_file,
};
use arietta_testserver::{pattern, Nginx};

/// The access log as `(protocol, connection serial)` per request.
fn requests(nginx: &Nginx) -> Vec<(String, String)> {
    nginx
        .access_log()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            Some((f.next()?.to_owned(), f.next()?.to_owned()))
        })
        .collect()
}

fn connections(reqs: &[(String, String)]) -> usize {
    reqs.iter().map(|r| &r.1).collect::<HashSet<_>>().len()
}

fn ca_arg(nginx: &Nginx, dir: &Path) -> String {
    let p = dir.join("ca.pem");
    std::fs::write(&p, nginx.ca_pem()).unwrap();
    format!("--ca-certificate={}", s(&p))
}

/// One 8 MiB file with `-x4 -s4`: every segment a stream of one
/// connection, the file byte-identical.
fn segmented(tls: bool, opt: &str) {
    let root = tempdir();
    let want = write_pattern_file(&root.path().join("big.bin"), 8 << 20, 7);
    if !require("nginx") {
        return;
    }
    let nginx = Nginx::start_http2(root.path(), tls).expect("nginx is installed");
    let tmp = tempdir();
    let ca = ca_arg(&nginx, tmp.path());
    run_with_timeout(
        tmp.path(),
        &[opt, &ca, "-x4", "-s4", "-k1M", &nginx.url("/big.bin")],
        Duration::from_secs(60),
    )
    .expect_code(exit::OK);
    assert!(
        sha256_file(&tmp.path().join("big.bin")) == want,
        "file differs"
    );
    let reqs = requests(&nginx);
    assert!(reqs.len() >= 2, "{reqs:?}");
    assert!(reqs.iter().all(|r| r.0 == "HTTP/2.0"), "{reqs:?}");
    // One connection per core at most (the test machine may have many).
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    assert!(connections(&reqs) <= cores.min(4), "{reqs:?}");
}

#[test]
fn segmented_file_over_h2_tls() {
    segmented(true, "--enable-http2");
}

#[test]
fn segmented_file_over_h2c_prior_knowledge() {
    segmented(false, "--http2-prior-knowledge");
}

#[test]
fn many_small_files_over_few_h2_connections() {
    let root = tempdir();
    let n = 200;
    for i in 0..n {
        std::fs::write(
            root.path().join(format!("f{i}.bin")),
            pattern(3000 + i * 17, i as u64),
        )
        .unwrap();
    }
    if !require("nginx") {
        return;
    }
    let nginx = Nginx::start_http2(root.path(), true).expect("nginx is installed");
    let tmp = tempdir();
    let list: String = (0..n)
        .map(|i| nginx.url(&format!("/f{i}.bin")) + "\n")
        .collect();
    let list_path = tmp.path().join("list.txt");
    std::fs::write(&list_path, list).unwrap();
    let ca = ca_arg(&nginx, tmp.path());
    let out = tmp.path().join("out");
    run_with_timeout(
        tmp.path(),
        &[
            "--enable-http2",
            &ca,
            "-j16",
            "-i",
            s(&list_path),
            "-d",
            s(&out),
        ],
        Duration::from_secs(120),
    )
    .expect_code(exit::OK);
    for i in 0..n {
        let got = std::fs::read(out.join(format!("f{i}.bin"))).unwrap();
        assert!(got == pattern(3000 + i * 17, i as u64), "f{i}.bin differs");
    }
    let reqs = requests(&nginx);
    assert!(reqs.len() >= n, "{} requests", reqs.len());
    assert!(reqs.iter().all(|r| r.0 == "HTTP/2.0"), "{reqs:?}");
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    let conns = connections(&reqs);
    assert!(conns <= cores, "{conns} connections for {n} files");
}

#[test]
fn without_the_option_https_stays_http1() {
    let root = tempdir();
    let want = write_pattern_file(&root.path().join("a.bin"), 4 << 20, 3);
    if !require("nginx") {
        return;
    }
    let nginx = Nginx::start_http2(root.path(), true).expect("nginx is installed");
    let tmp = tempdir();
    let ca = ca_arg(&nginx, tmp.path());
    run_with_timeout(
        tmp.path(),
        &[&ca, "-x2", "-s2", "-k1M", &nginx.url("/a.bin")],
        Duration::from_secs(60),
    )
    .expect_code(exit::OK);
    assert!(
        sha256_file(&tmp.path().join("a.bin")) == want,
        "file differs"
    );
    let reqs = requests(&nginx);
    assert!(!reqs.is_empty());
    assert!(reqs.iter().all(|r| r.0 == "HTTP/1.1"), "{reqs:?}");
}

/// A TLS server that does not pick `h2` (our test server offers
/// `http/1.1` only) gets HTTP/1.1 with the option on.
#[test]
fn enable_http2_falls_back_to_http1_when_the_server_declines() {
    let srv = arietta_testserver::TestServer::start_tls();
    let body = pattern(3 << 20, 9);
    let url = srv.add_file("/f.bin", body.clone());
    let tmp = tempdir();
    let p = tmp.path().join("ca.pem");
    std::fs::write(&p, srv.ca_pem().unwrap()).unwrap();
    let ca = format!("--ca-certificate={}", s(&p));
    run_with_timeout(
        tmp.path(),
        &["--enable-http2", &ca, "-x3", "-s3", "-k1M", &url],
        Duration::from_secs(60),
    )
    .expect_code(exit::OK);
    crate::support::assert_file_eq(&tmp.path().join("f.bin"), &body);
}

/// `n` small files of distinct contents under `root`, `f0.bin`….
fn small_files(root: &Path, n: usize) {
    for i in 0..n {
        std::fs::write(
            root.join(format!("f{i}.bin")),
            pattern(2000 + i * 13, i as u64),
        )
        .unwrap();
    }
}

/// Panics unless `out` holds [`small_files`]'s `n` files.
fn check_small_files(out: &Path, n: usize) {
    for i in 0..n {
        let got = std::fs::read(out.join(format!("f{i}.bin"))).unwrap();
        assert!(got == pattern(2000 + i * 13, i as u64), "f{i}.bin differs");
    }
}

/// nginx ends each HTTP/2 connection with GOAWAY after 100 requests
/// (`keepalive_requests`): with 16 streams in flight, those the GOAWAY
/// refuses go again on a new connection, and no download fails
/// (`--max-tries=1`: a failed request would fail its download).
fn goaway_mid_bulk(tls: bool, opt: &str) {
    goaway_every(tls, opt, 100);
}

/// [`goaway_mid_bulk`] with a GOAWAY after every `per_connection`
/// requests.
fn goaway_every(tls: bool, opt: &str, per_connection: u32) {
    let root = tempdir();
    let n = 300;
    small_files(root.path(), n);
    if !require("nginx") {
        return;
    }
    let nginx = Nginx::start_http2_limited(root.path(), tls, per_connection, 60)
        .expect("nginx is installed");
    let tmp = tempdir();
    let list: String = (0..n)
        .map(|i| nginx.url(&format!("/f{i}.bin")) + "\n")
        .collect();
    let list_path = tmp.path().join("list.txt");
    std::fs::write(&list_path, list).unwrap();
    let ca = ca_arg(&nginx, tmp.path());
    let out = tmp.path().join("out");
    run_with_timeout(
        tmp.path(),
        &[
            opt,
            &ca,
            "-j16",
            "--max-tries=1",
            "-i",
            s(&list_path),
            "-d",
            s(&out),
        ],
        Duration::from_secs(120),
    )
    .expect_code(exit::OK);
    check_small_files(&out, n);
    let reqs = requests(&nginx);
    assert!(reqs.iter().all(|r| r.0 == "HTTP/2.0"), "{reqs:?}");
    let least = n.div_ceil(per_connection as usize);
    assert!(connections(&reqs) >= least, "{reqs:?}");
}

/// Two requests a connection, sixteen downloads at a time: most requests
/// are refused, some many times over, before their turn on a new
/// connection comes; still none fails.
#[test]
fn goaway_after_every_two_requests_fails_no_download() {
    goaway_every(false, "--http2-prior-knowledge", 2);
}

#[test]
fn goaway_mid_bulk_over_h2_tls_fails_no_download() {
    goaway_mid_bulk(true, "--enable-http2");
}

#[test]
fn goaway_mid_bulk_over_h2c_fails_no_download() {
    goaway_mid_bulk(false, "--http2-prior-knowledge");
}

/// nginx closes an HTTP/2 connection idle for a second (GOAWAY, then
/// EOF). Between two downloads from it, a third from another, slow, nginx
/// (HTTP/2 too: `--http2-prior-knowledge` takes every http:// server for
/// an h2c one) keeps the one core busy for longer than that: the second
/// download notices the closed connection and dials a new one.
fn server_closes_idle_connection(tls: bool, opt: &str) {
    let root = tempdir();
    small_files(root.path(), 2);
    let slow_root = tempdir();
    let slow_body = pattern(120 << 10, 5);
    std::fs::write(slow_root.path().join("slow.bin"), &slow_body).unwrap();
    if !require("nginx") {
        return;
    }
    let nginx =
        Nginx::start_http2_limited(root.path(), tls, 100_000, 1).expect("nginx is installed");
    // 120 KiB at 48 KiB/s: about 2.5 s.
    let slow =
        Nginx::start_http2_throttled(slow_root.path(), tls, 48 << 10).expect("nginx is installed");
    let tmp = tempdir();
    let list = format!(
        "{}\n{}\n{}\n",
        nginx.url("/f0.bin"),
        slow.url("/slow.bin"),
        nginx.url("/f1.bin")
    );
    let list_path = tmp.path().join("list.txt");
    std::fs::write(&list_path, list).unwrap();
    let ca = ca_arg(&nginx, tmp.path());
    let out = tmp.path().join("out");
    run_with_timeout(
        tmp.path(),
        &[
            opt,
            &ca,
            "-j1",
            "--cores=1",
            "--max-tries=1",
            "-i",
            s(&list_path),
            "-d",
            s(&out),
        ],
        Duration::from_secs(60),
    )
    .expect_code(exit::OK);
    check_small_files(&out, 2);
    crate::support::assert_file_eq(&out.join("slow.bin"), &slow_body);
    let reqs = requests(&nginx);
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(reqs.iter().all(|r| r.0 == "HTTP/2.0"), "{reqs:?}");
    assert_eq!(connections(&reqs), 2, "{reqs:?}");
}

#[test]
fn server_closed_idle_h2_tls_connection_is_redialled() {
    server_closes_idle_connection(true, "--enable-http2");
}

#[test]
fn server_closed_idle_h2c_connection_is_redialled() {
    server_closes_idle_connection(false, "--http2-prior-knowledge");
}
