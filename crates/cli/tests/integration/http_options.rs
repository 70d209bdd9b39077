//! aria2's HTTP request options, asserted on what the server received:
//! `--use-head`, `--http-no-cache`, `Want-Digest`, keep-alive,
//! `--http-auth-challenge`, `--content-disposition-default-utf8`, and the
//! socket's source address (`--interface`).

use arietta_testserver::{pattern, Route, TestServer};

use crate::support::{assert_file_eq, exit, list_dir, run, tempdir};

#[test]
fn want_digest_by_default_and_no_cache_on_request() {
    let srv = TestServer::start();
    let body = pattern(10_000, 1);
    let url = srv.add_file("/d.bin", body.clone());
    let tmp = tempdir();
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    let first = &srv.requests("/d.bin")[0];
    assert_eq!(
        first.header("want-digest"),
        Some("SHA-512;q=1, SHA-256;q=1, SHA;q=0.1"),
        "{first:?}"
    );
    assert_eq!(first.header("pragma"), None);
    assert_eq!(first.header("cache-control"), None);

    srv.reset_counters();
    let tmp = tempdir();
    run(
        tmp.path(),
        &["--http-no-cache=true", "--no-want-digest-header=true", &url],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("d.bin"), &body);
    for r in srv.requests("/d.bin") {
        assert_eq!(r.header("want-digest"), None, "{r:?}");
        assert_eq!(r.header("pragma"), Some("no-cache"), "{r:?}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{r:?}");
    }
}

#[test]
fn use_head_asks_head_before_the_gets() {
    let srv = TestServer::start();
    let body = pattern(100_000, 2);
    srv.add_route("/h.bin", Route::new(body.clone()));
    srv.add_route("/moved", Route::redirect_to("/h.bin", 302));
    let tmp = tempdir();
    run(tmp.path(), &["--use-head=true", &srv.url("/moved")]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("h.bin"), &body);
    let moved = srv.requests("/moved");
    assert_eq!(moved.len(), 1, "the redirect is followed once: {moved:?}");
    assert_eq!(moved[0].method, "HEAD");
    let reqs = srv.requests("/h.bin");
    assert_eq!(reqs[0].method, "HEAD", "{reqs:?}");
    assert!(reqs[1..].iter().all(|r| r.method == "GET"), "{reqs:?}");

    // Without it, no HEAD at all.
    srv.reset_counters();
    let tmp = tempdir();
    run(tmp.path(), &[&srv.url("/h.bin")]).expect_code(exit::OK);
    assert!(srv.requests("/h.bin").iter().all(|r| r.method == "GET"));
}

#[test]
fn use_head_fails_on_a_missing_file() {
    let srv = TestServer::start();
    let tmp = tempdir();
    run(
        tmp.path(),
        &["--use-head=true", "--max-tries=1", &srv.url("/none")],
    )
    .expect_code(exit::NOT_FOUND);
    let reqs = srv.requests("/none");
    assert_eq!(reqs[0].method, "HEAD", "{reqs:?}");
}

/// One connection reading a 3 MiB file in 1 MiB ranges: three requests.
fn ranged_requests(extra: &[&str]) -> Vec<arietta_testserver::RecordedRequest> {
    ranged_requests_from(Route::new(pattern(3 << 20, 3)), extra)
}

fn ranged_requests_from(route: Route, extra: &[&str]) -> Vec<arietta_testserver::RecordedRequest> {
    let srv = TestServer::start();
    let body = pattern(3 << 20, 3);
    srv.add_route("/k.bin", route);
    let url = srv.url("/k.bin");
    let tmp = tempdir();
    let mut args = vec!["-s1", "-x1", "-k1M"];
    args.extend_from_slice(extra);
    args.push(&url);
    run(tmp.path(), &args).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("k.bin"), &body);
    srv.requests("/k.bin")
}

#[test]
fn keep_alive_off_opens_a_connection_per_request() {
    let kept = ranged_requests(&[]);
    assert!(kept.len() >= 2, "{kept:?}");
    assert!(kept.iter().all(|r| r.connection == kept[0].connection));
    assert!(kept.iter().all(|r| r.header("connection") != Some("close")));

    let closed = ranged_requests(&["--enable-http-keep-alive=false"]);
    assert!(closed.len() >= 2, "{closed:?}");
    let conns: std::collections::HashSet<u64> = closed.iter().map(|r| r.connection).collect();
    assert_eq!(conns.len(), closed.len(), "{closed:?}");
    assert!(closed
        .iter()
        .all(|r| r.header("connection") == Some("close")));

    // Pipelining implies keep-alive in aria2.
    let piped = ranged_requests(&[
        "--enable-http-keep-alive=false",
        "--enable-http-pipelining=true",
    ]);
    assert!(piped.iter().all(|r| r.connection == piped[0].connection));
}

/// `--enable-http-pipelining`: the request for the next range goes out
/// while the previous answer is still arriving (aria2 keeps two requests
/// in flight), each with an explicit end; the file is whole.
#[test]
fn pipelining_sends_the_next_range_before_the_answer_ends() {
    // Slow enough that the last 256 KiB of each range take ~125 ms: the
    // next request is waiting when the server finishes the answer.
    let slow = || Route::new(pattern(3 << 20, 3)).throttle(2 << 20);
    let piped = ranged_requests_from(slow(), &["--enable-http-pipelining=true"]);
    assert_eq!(piped.len(), 3, "{piped:?}");
    assert!(piped.iter().all(|r| r.connection == piped[0].connection));
    let ranges: Vec<_> = piped.iter().map(|r| r.range().unwrap_or("")).collect();
    assert_eq!(
        ranges,
        [
            "bytes=0-1048575",
            "bytes=1048576-2097151",
            "bytes=2097152-3145727"
        ]
    );
    assert!(!piped[0].pipelined);
    assert!(piped[1..].iter().all(|r| r.pipelined), "{piped:?}");

    // Without it, each request waits for the answer before it.
    let plain = ranged_requests_from(slow(), &[]);
    assert!(plain.iter().all(|r| !r.pipelined), "{plain:?}");

    // A server that closes after each answer gets nothing sent ahead:
    // one connection per range, the file still whole.
    let closing = ranged_requests_from(
        slow().close_after_each_response(),
        &["--enable-http-pipelining=true"],
    );
    assert_eq!(closing.len(), 3, "{closing:?}");
    assert!(closing.iter().all(|r| !r.pipelined), "{closing:?}");
}

#[test]
fn auth_challenge_sends_credentials_only_after_401() {
    let srv = TestServer::start();
    let body = pattern(20_000, 4);
    srv.add_route("/sec.bin", Route::new(body.clone()).basic_auth("al", "pw"));
    let creds = ["--http-user=al", "--http-passwd=pw"];

    let tmp = tempdir();
    let url = srv.url("/sec.bin");
    run(tmp.path(), &[creds[0], creds[1], &url]).expect_code(exit::OK);
    let eager = srv.requests("/sec.bin");
    assert!(eager[0].header("authorization").is_some(), "{eager:?}");

    srv.reset_counters();
    let tmp = tempdir();
    run(
        tmp.path(),
        &["--http-auth-challenge=true", creds[0], creds[1], &url],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("sec.bin"), &body);
    let challenged = srv.requests("/sec.bin");
    assert_eq!(
        challenged[0].header("authorization"),
        None,
        "{challenged:?}"
    );
    assert!(challenged[1].header("authorization").is_some());

    // The host's 401 is remembered: the other connections send the
    // credentials from their first request.
    let big = pattern(3 << 20, 10);
    srv.add_route("/big.bin", Route::new(big.clone()).basic_auth("al", "pw"));
    let tmp = tempdir();
    run(
        tmp.path(),
        &[
            "--http-auth-challenge=true",
            "-x3",
            "-s3",
            "-k1M",
            creds[0],
            creds[1],
            &srv.url("/big.bin"),
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("big.bin"), &big);
    let reqs = srv.requests("/big.bin");
    let conns: std::collections::HashSet<u64> = reqs.iter().map(|r| r.connection).collect();
    assert!(conns.len() >= 2, "{reqs:?}");
    let bare = reqs
        .iter()
        .filter(|r| r.header("authorization").is_none())
        .count();
    assert_eq!(bare, 1, "{reqs:?}");

    // Wrong credentials: the one answer to the challenge fails (24).
    srv.reset_counters();
    let tmp = tempdir();
    run(
        tmp.path(),
        &[
            "--http-auth-challenge=true",
            "--max-tries=1",
            "--http-user=al",
            "--http-passwd=wrong",
            &url,
        ],
    )
    .expect_code(exit::AUTH);
    assert_eq!(srv.requests("/sec.bin").len(), 2);
}

#[test]
fn content_disposition_bytes_are_latin1_unless_default_utf8() {
    let srv = TestServer::start();
    let body = pattern(1_000, 5);
    srv.add_route(
        "/cd",
        Route::new(body.clone()).content_disposition("attachment; filename=\"caf\u{e9}.txt\""),
    );
    let tmp = tempdir();
    run(tmp.path(), &[&srv.url("/cd")]).expect_code(exit::OK);
    // aria2c saves the UTF-8 bytes read as ISO-8859-1: "cafÃ©.txt".
    assert_eq!(list_dir(tmp.path()), ["caf\u{c3}\u{a9}.txt"]);

    let tmp = tempdir();
    run(
        tmp.path(),
        &["--content-disposition-default-utf8=true", &srv.url("/cd")],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("caf\u{e9}.txt"), &body);
}

#[test]
fn interface_binds_the_source_address() {
    let srv = TestServer::start();
    let body = pattern(3 << 20, 6);
    let url = srv.add_file("/i.bin", body.clone());
    let sources = |srv: &TestServer| -> std::collections::BTreeSet<String> {
        srv.requests("/i.bin")
            .iter()
            .filter_map(|r| srv.connection_peer(r.connection))
            .map(|a| a.ip().to_string())
            .collect()
    };
    // An address of this host (all of 127/8 is loopback's).
    let tmp = tempdir();
    run(
        tmp.path(),
        &["--interface=127.0.0.2", "-x2", "-s2", "-k1M", &url],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("i.bin"), &body);
    assert_eq!(sources(&srv), ["127.0.0.2".to_owned()].into());

    // An interface name: `lo` holds 127.0.0.1.
    srv.reset_counters();
    let tmp = tempdir();
    run(tmp.path(), &["--interface=lo", &url]).expect_code(exit::OK);
    assert_eq!(sources(&srv), ["127.0.0.1".to_owned()].into());

    // --multiple-interface takes them in turn.
    srv.reset_counters();
    let tmp = tempdir();
    run(
        tmp.path(),
        &[
            "--multiple-interface=127.0.0.3,127.0.0.4",
            "-x3",
            "-s3",
            "-k1M",
            &url,
        ],
    )
    .expect_code(exit::OK);
    assert_eq!(
        sources(&srv),
        ["127.0.0.3".to_owned(), "127.0.0.4".to_owned()].into()
    );
}

#[test]
fn unknown_interface_fails_like_aria2() {
    let tmp = tempdir();
    let out = run(
        tmp.path(),
        &["--interface=no-such-if0", "http://127.0.0.1:9/x"],
    );
    out.expect_code(exit::UNKNOWN);
    assert!(
        out.stderr
            .contains("Failed to find given interface no-such-if0, cause: not available"),
        "{}",
        out.stderr
    );
}

/// A partial file whose aria2 control file was written with 2 MiB pieces
/// and records the first 3 MiB.
fn partial_with_2m_pieces(dir: &std::path::Path, body: &[u8]) {
    let path = dir.join("p.bin");
    let mut partial = body[..3 << 20].to_vec();
    partial.resize(body.len(), 0);
    std::fs::write(&path, &partial).unwrap();
    let record = arietta_storage::ControlFile {
        piece_length: 2 << 20,
        ..arietta_storage::ControlFile::new(
            body.len() as u64,
            arietta_storage::RangeSet::from_ranges([(0, 3 << 20)]),
            None,
        )
    };
    record.save(&crate::support::control_file(&path)).unwrap();
}

#[test]
fn piece_length_change_fails_unless_allowed() {
    let srv = TestServer::start();
    let body = pattern(6 << 20, 7);
    let url = srv.add_file("/p.bin", body.clone());
    let tmp = tempdir();
    partial_with_2m_pieces(tmp.path(), &body);
    let out = run(tmp.path(), &["--max-tries=1", &url]);
    out.expect_code(10);

    srv.reset_counters();
    let tmp = tempdir();
    partial_with_2m_pieces(tmp.path(), &body);
    run(
        tmp.path(),
        &["--allow-piece-length-change=true", "-k1M", &url],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("p.bin"), &body);
    // The 3 MiB recorded fill three whole 1 MiB pieces (the default
    // --piece-length): the other 3 MiB are fetched, plus at most the
    // 1 MiB probe.
    let served = srv.bytes_served("/p.bin");
    assert!(((3 << 20)..=(4 << 20)).contains(&served), "{served}");
}

#[test]
fn hash_check_only_checks_the_existing_file_and_stops() {
    use crate::support::sha256_hex;
    let srv = TestServer::start();
    let body = pattern(2 << 20, 8);
    let url = srv.add_file("/v.bin", body.clone());
    let ck = format!("--checksum=sha-256={}", sha256_hex(&body));
    let args = |u: &str| {
        vec![
            "-V",
            "--hash-check-only=true",
            ck.as_str(),
            "--max-tries=1",
            u,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };

    let tmp = tempdir();
    std::fs::write(tmp.path().join("v.bin"), &body).unwrap();
    let a = args(&url);
    run(
        tmp.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("v.bin"), &body);

    let tmp = tempdir();
    let mut bad = body.clone();
    bad[7] ^= 1;
    std::fs::write(tmp.path().join("v.bin"), &bad).unwrap();
    srv.reset_counters();
    run(
        tmp.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .expect_code(exit::UNKNOWN);
    assert_file_eq(&tmp.path().join("v.bin"), &bad);
}

/// A DNS server on loopback answering every A query with 127.0.0.1 and
/// every other query with no record; counts the queries.
fn fake_dns() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let asked = std::sync::Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            count.fetch_add(1, Ordering::SeqCst);
            let q = &buf[..n];
            let qtype = u16::from_be_bytes([q[n - 4], q[n - 3]]);
            let mut a = q.to_vec();
            a[2] = 0x81;
            a[3] = 0x80;
            if qtype == 1 {
                a[7] = 1;
                a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
            }
            let _ = sock.send_to(&a, from);
        }
    });
    (addr, asked)
}

#[test]
fn async_dns_server_is_asked_for_names() {
    let (dns, asked) = fake_dns();
    let srv = TestServer::start();
    let body = pattern(50_000, 9);
    srv.add_file("/n.bin", body.clone());
    let url = format!("http://files.arietta.test:{}/n.bin", srv.port());
    let server = format!("--async-dns-server={dns}");
    let tmp = tempdir();
    run(tmp.path(), &[&server, &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("n.bin"), &body);
    assert!(asked.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    // --async-dns=false: the system resolver, which knows no such name.
    let tmp = tempdir();
    run(
        tmp.path(),
        &[&server, "--async-dns=false", "--max-tries=1", &url],
    )
    .expect_code(exit::NAME_RESOLUTION);
}
