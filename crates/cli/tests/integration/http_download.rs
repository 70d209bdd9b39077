//! Well-behaved HTTP servers: naming, directories, segmentation, mirrors,
//! `-Z`, input files, checksums, redirects, Content-Disposition, auth,
//! cookies, request headers and body codings.

use arietta_testserver::{pattern, Route, TestServer};
use std::time::Duration;

use crate::support;
use crate::support::{
    assert_file_eq, exit, list_dir, run, run_with_timeout, s, sha256_hex, tempdir,
};

#[test]
fn plain_download_uses_url_basename() {
    let srv = TestServer::start();
    let body = pattern(100_000, 1);
    let url = srv.add_file("/plain.bin", body.clone());
    let tmp = tempdir();
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("plain.bin"), &body);
    assert_eq!(list_dir(tmp.path()), ["plain.bin"], "no control file left");
}

#[test]
fn out_and_dir_place_the_file() {
    let srv = TestServer::start();
    let body = pattern(50_000, 2);
    let url = srv.add_file("/x/y/source.bin", body.clone());
    let tmp = tempdir();
    run(tmp.path(), &["-d", "sub/dir", "-o", "renamed.dat", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("sub/dir/renamed.dat"), &body);
    assert!(!tmp.path().join("source.bin").exists());
}

#[test]
fn empty_file_downloads() {
    let srv = TestServer::start();
    let url = srv.add_file("/empty.bin", Vec::new());
    let tmp = tempdir();
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("empty.bin"), &[]);
}

#[test]
fn segmented_32mib_uses_many_ranges_and_fetches_each_byte_once() {
    let srv = TestServer::start();
    let body = pattern(32 << 20, 3);
    let url = srv.add_file("/big.bin", body.clone());
    let tmp = tempdir();
    run(tmp.path(), &["-x16", "-s16", "-k1M", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("big.bin"), &body);
    let reqs = srv.requests("/big.bin");
    let ranged: Vec<_> = reqs.iter().filter_map(|r| r.range()).collect();
    assert!(
        ranged.len() >= 4,
        "expected several Range requests, got {ranged:?}"
    );
    let conns: std::collections::HashSet<u64> = reqs.iter().map(|r| r.connection).collect();
    assert!(
        conns.len() >= 4,
        "expected several connections, got {conns:?}"
    );
    support::assert_served_once(srv.bytes_served("/big.bin"), body.len() as u64);
    assert!(!support::control_file(&tmp.path().join("big.bin")).exists());
}

#[test]
fn two_mirrors_both_serve_bytes() {
    let a = TestServer::start();
    let b = TestServer::start();
    let body = pattern(8 << 20, 4);
    let ua = a.add_file("/m.bin", body.clone());
    let ub = b.add_file("/m.bin", body.clone());
    let tmp = tempdir();
    run(tmp.path(), &["-s4", "-x2", "-k1M", &ua, &ub]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("m.bin"), &body);
    let (na, nb) = (a.bytes_served("/m.bin"), b.bytes_served("/m.bin"));
    assert!(na > 0 && nb > 0, "both mirrors should serve: a={na} b={nb}");
    support::assert_served_once(na + nb, body.len() as u64);
}

fn one_bad_mirror(bad: Route) {
    let a = TestServer::start();
    let b = TestServer::start();
    let body = pattern(2 << 20, 5);
    a.add_route("/m.bin", bad);
    let ub = b.add_file("/m.bin", body.clone());
    let tmp = tempdir();
    let ua = a.url("/m.bin");
    run(
        tmp.path(),
        &["-s2", "-k1M", "--max-tries=3", "--retry-wait=0", &ua, &ub],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("m.bin"), &body);
    assert_eq!(b.bytes_served("/m.bin"), body.len() as u64);
}

#[test]
fn mirror_404_falls_back_to_good_one() {
    one_bad_mirror(Route::new(b"gone".to_vec()).status(404));
}

#[test]
fn mirror_500_falls_back_to_good_one() {
    one_bad_mirror(Route::new(b"oops".to_vec()).status(500));
}

#[test]
fn force_sequential_makes_one_download_per_uri() {
    let srv = TestServer::start();
    let bodies: Vec<Vec<u8>> = (0..3)
        .map(|i| pattern(30_000 + i * 7, 10 + i as u64))
        .collect();
    let urls: Vec<String> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| srv.add_file(&format!("/z{i}.bin"), b.clone()))
        .collect();
    let tmp = tempdir();
    let mut args = vec!["-Z"];
    args.extend(urls.iter().map(String::as_str));
    run(tmp.path(), &args).expect_code(exit::OK);
    for (i, b) in bodies.iter().enumerate() {
        assert_file_eq(&tmp.path().join(format!("z{i}.bin")), b);
    }
}

#[test]
fn input_file_with_per_entry_out_and_dir() {
    let srv = TestServer::start();
    let b1 = pattern(40_000, 21);
    let b2 = pattern(41_000, 22);
    let b3 = pattern(42_000, 23);
    let b4 = pattern(43_000, 24);
    let u1 = srv.add_file("/i1.bin", b1.clone());
    let u2 = srv.add_file("/i2.bin", b2.clone());
    let u3 = srv.add_file("/i3.bin", b3.clone());
    let u4 = srv.add_file("/i4.bin", b4.clone());
    let tmp = tempdir();
    let list = format!(
        "# a comment\n{u1}\n  out=first.out\n\n{u2}\n  dir=nested\n{u3}\n  dir=other\n  out=third.out\n{u4}\n"
    );
    std::fs::write(tmp.path().join("list.txt"), list).unwrap();
    run(tmp.path(), &["-i", "list.txt", "-j4"]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("first.out"), &b1);
    assert_file_eq(&tmp.path().join("nested/i2.bin"), &b2);
    assert_file_eq(&tmp.path().join("other/third.out"), &b3);
    assert_file_eq(&tmp.path().join("i4.bin"), &b4);
}

#[test]
fn checksum_good_passes() {
    let srv = TestServer::start();
    let body = pattern(200_000, 30);
    let url = srv.add_file("/ck.bin", body.clone());
    let tmp = tempdir();
    let opt = format!("--checksum=sha-256={}", sha256_hex(&body));
    run(tmp.path(), &[&opt, &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("ck.bin"), &body);
}

#[test]
fn checksum_mismatch_exits_32() {
    let srv = TestServer::start();
    let body = pattern(200_000, 31);
    let url = srv.add_file("/ck.bin", body);
    let tmp = tempdir();
    let opt = format!("--checksum=sha-256={}", sha256_hex(b"something else"));
    run(tmp.path(), &["--max-tries=1", &opt, &url]).expect_code(exit::CHECKSUM);
}

#[test]
fn redirect_chain_relative_and_absolute() {
    let srv = TestServer::start();
    let body = pattern(70_000, 40);
    srv.add_file("/final/data.bin", body.clone());
    // 301 absolute → 302 path-relative → 307 origin-relative → 308 absolute.
    srv.add_route("/start", Route::redirect_to(&srv.url("/hop/one"), 301));
    srv.add_route("/hop/one", Route::redirect_to("two", 302));
    srv.add_route("/hop/two", Route::redirect_to("/hop/three", 307));
    srv.add_route(
        "/hop/three",
        Route::redirect_to(&srv.url("/final/data.bin"), 308),
    );
    let tmp = tempdir();
    run(tmp.path(), &["-o", "out.bin", &srv.url("/start")]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("out.bin"), &body);
    for p in [
        "/start",
        "/hop/one",
        "/hop/two",
        "/hop/three",
        "/final/data.bin",
    ] {
        assert!(!srv.requests(p).is_empty(), "{p} was never requested");
    }
}

#[test]
fn redirect_loop_fails() {
    let srv = TestServer::start();
    srv.add_route("/a", Route::redirect_to("/b", 302));
    srv.add_route("/b", Route::redirect_to("/a", 302));
    let tmp = tempdir();
    let out = run(tmp.path(), &["--max-tries=1", &srv.url("/a")]);
    out.expect_failure();
}

#[test]
fn content_disposition_filename_names_the_file() {
    let srv = TestServer::start();
    let body = pattern(10_000, 50);
    srv.add_route(
        "/dl",
        Route::new(body.clone()).content_disposition("attachment; filename=\"report.pdf\""),
    );
    let tmp = tempdir();
    run(tmp.path(), &[&srv.url("/dl")]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("report.pdf"), &body);
}

#[test]
fn content_disposition_rfc5987_utf8_name() {
    let srv = TestServer::start();
    let body = pattern(10_000, 51);
    srv.add_route(
        "/dl",
        Route::new(body.clone()).content_disposition(
            "attachment; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.txt",
        ),
    );
    let tmp = tempdir();
    run(tmp.path(), &[&srv.url("/dl")]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("naïve résumé.txt"), &body);
}

#[test]
fn content_disposition_cannot_escape_dir() {
    let srv = TestServer::start();
    let body = pattern(1_000, 52);
    srv.add_route(
        "/dl",
        Route::new(body.clone()).content_disposition("attachment; filename=\"../../evil.sh\""),
    );
    let tmp = tempdir();
    std::fs::create_dir(tmp.path().join("d")).unwrap();
    let out = run(tmp.path(), &["-d", "d", &srv.url("/dl")]);
    assert!(!tmp.path().join("evil.sh").exists());
    assert!(!tmp.path().parent().unwrap().join("evil.sh").exists());
    if out.code == Some(0) {
        let files = list_dir(&tmp.path().join("d"));
        assert_eq!(files.len(), 1, "{files:?}");
    }
}

#[test]
fn basic_auth_with_options() {
    let srv = TestServer::start();
    let body = pattern(20_000, 60);
    srv.add_route(
        "/sec.bin",
        Route::new(body.clone()).basic_auth("alice", "s3cr3t"),
    );
    let tmp = tempdir();
    run(
        tmp.path(),
        &[
            "--http-user=alice",
            "--http-passwd=s3cr3t",
            &srv.url("/sec.bin"),
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("sec.bin"), &body);
}

#[test]
fn basic_auth_with_url_userinfo() {
    let srv = TestServer::start();
    let body = pattern(20_000, 61);
    srv.add_route(
        "/sec.bin",
        Route::new(body.clone()).basic_auth("bob", "p@ss"),
    );
    let tmp = tempdir();
    let url = format!("http://bob:p%40ss@{}/sec.bin", srv.addr());
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("sec.bin"), &body);
}

#[test]
fn missing_credentials_exit_24() {
    let srv = TestServer::start();
    srv.add_route(
        "/sec.bin",
        Route::new(pattern(1_000, 62)).basic_auth("a", "b"),
    );
    let tmp = tempdir();
    run(tmp.path(), &["--max-tries=1", &srv.url("/sec.bin")]).expect_code(exit::AUTH);
    assert!(!tmp.path().join("sec.bin").exists() || list_dir(tmp.path()).len() <= 1);
}

#[test]
fn wrong_credentials_exit_24() {
    let srv = TestServer::start();
    srv.add_route(
        "/sec.bin",
        Route::new(pattern(1_000, 63)).basic_auth("a", "b"),
    );
    let tmp = tempdir();
    run(
        tmp.path(),
        &[
            "--max-tries=1",
            "--http-user=a",
            "--http-passwd=wrong",
            &srv.url("/sec.bin"),
        ],
    )
    .expect_code(exit::AUTH);
}

#[test]
fn load_cookies_are_sent() {
    let srv = TestServer::start();
    let body = pattern(5_000, 70);
    srv.add_route(
        "/c.bin",
        Route::new(body.clone()).require_cookie("session=abc123"),
    );
    let tmp = tempdir();
    let jar = tmp.path().join("cookies.txt");
    std::fs::write(
        &jar,
        "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tabc123\n\
         127.0.0.1\tFALSE\t/other\tFALSE\t0\twrongpath\tx\n",
    )
    .unwrap();
    run(
        tmp.path(),
        &[
            "--max-tries=1",
            &format!("--load-cookies={}", s(&jar)),
            &srv.url("/c.bin"),
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("c.bin"), &body);
    let cookie = srv.requests("/c.bin")[0]
        .header("cookie")
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        !cookie.contains("wrongpath"),
        "path-scoped cookie leaked: {cookie}"
    );
}

#[test]
fn cookie_required_but_absent_fails() {
    let srv = TestServer::start();
    srv.add_route(
        "/c.bin",
        Route::new(pattern(5_000, 71)).require_cookie("session=abc123"),
    );
    let tmp = tempdir();
    run(tmp.path(), &["--max-tries=1", &srv.url("/c.bin")]).expect_failure();
    assert!(
        !tmp.path().join("c.bin").exists()
            || std::fs::read(tmp.path().join("c.bin")).unwrap() != pattern(5_000, 71)
    );
}

#[test]
fn save_cookies_writes_received_cookies() {
    let srv = TestServer::start();
    let body = pattern(5_000, 72);
    srv.add_route(
        "/c.bin",
        Route::new(body.clone())
            .set_cookie("token=xyz789; Path=/; Max-Age=3600")
            .set_cookie("plain=v1"),
    );
    let tmp = tempdir();
    let jar = tmp.path().join("saved.txt");
    run(
        tmp.path(),
        &[&format!("--save-cookies={}", s(&jar)), &srv.url("/c.bin")],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("c.bin"), &body);
    let saved = std::fs::read_to_string(&jar).expect("cookie file written");
    let line = saved
        .lines()
        .find(|l| l.contains("\ttoken\t"))
        .unwrap_or_else(|| panic!("token cookie missing:\n{saved}"));
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields.len(), 7, "{line}");
    assert!(fields[0].ends_with("127.0.0.1"), "{line}");
    assert_eq!(fields[6], "xyz789");
    assert!(
        fields[4].parse::<u64>().unwrap() > 0,
        "Max-Age gives an expiry: {line}"
    );
    assert!(saved.contains("\tplain\tv1"), "{saved}");
}

#[test]
fn header_user_agent_and_referer_are_sent() {
    let srv = TestServer::start();
    let body = pattern(5_000, 80);
    let url = srv.add_file("/h.bin", body.clone());
    let tmp = tempdir();
    run(
        tmp.path(),
        &[
            "--header",
            "X-A: b",
            "--header=X-Second: two words",
            "--user-agent=ariettatest/9.9",
            "--referer=http://example.test/page",
            &url,
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("h.bin"), &body);
    let reqs = srv.requests("/h.bin");
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(r.header("x-a"), Some("b"));
        assert_eq!(r.header("x-second"), Some("two words"));
        assert_eq!(r.header("user-agent"), Some("ariettatest/9.9"));
        assert_eq!(r.header("referer"), Some("http://example.test/page"));
    }
}

#[test]
fn chunked_body_is_decoded() {
    let srv = TestServer::start();
    let body = pattern(500_000, 90);
    srv.add_route("/ch.bin", Route::new(body.clone()).chunked());
    let tmp = tempdir();
    run(tmp.path(), &["-x4", "-s4", &srv.url("/ch.bin")]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("ch.bin"), &body);
}

#[test]
fn no_content_length_body_ends_at_close() {
    let srv = TestServer::start();
    let body = pattern(300_000, 91);
    srv.add_route(
        "/nc.bin",
        Route::new(body.clone()).no_content_length().no_range(),
    );
    let tmp = tempdir();
    run_with_timeout(tmp.path(), &[&srv.url("/nc.bin")], Duration::from_secs(10))
        .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("nc.bin"), &body);
}

#[test]
fn gzip_accepted_file_is_decoded_body() {
    let srv = TestServer::start();
    // Compressible text so the encoded body is clearly different in size.
    let body: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("line {i} of some compressible text\n").into_bytes())
        .collect();
    srv.add_route(
        "/g.txt",
        Route::new(body.clone()).gzip().content_type("text/plain"),
    );
    let tmp = tempdir();
    run_with_timeout(
        tmp.path(),
        &["--http-accept-gzip=true", &srv.url("/g.txt")],
        Duration::from_secs(10),
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("g.txt"), &body);
    let reqs = srv.requests("/g.txt");
    assert!(
        reqs.iter().any(|r| r
            .header("accept-encoding")
            .is_some_and(|v| v.contains("gzip"))),
        "Accept-Encoding: gzip was not sent"
    );
    assert!(
        srv.bytes_served("/g.txt") < body.len() as u64 / 2,
        "body was not sent encoded"
    );
}

#[test]
fn gzip_not_requested_by_default() {
    let srv = TestServer::start();
    let body = pattern(50_000, 92);
    srv.add_route("/g.bin", Route::new(body.clone()).gzip());
    let tmp = tempdir();
    run(tmp.path(), &[&srv.url("/g.bin")]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("g.bin"), &body);
}

#[test]
fn server_without_range_support_single_full_body() {
    let srv = TestServer::start();
    let body = pattern(3 << 20, 93);
    srv.add_route("/nr.bin", Route::new(body.clone()).no_range());
    let tmp = tempdir();
    run(tmp.path(), &["-x4", "-s4", "-k1M", &srv.url("/nr.bin")]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("nr.bin"), &body);
    assert_eq!(
        srv.bytes_served("/nr.bin"),
        body.len() as u64,
        "the whole body should come once over one connection"
    );
}

/// Beyond aria2's cap of 16 (`-x` up to 64): `-x32 -s32` holds 32
/// connections to one server at once. Each is throttled so they overlap.
#[test]
fn thirty_two_connections_to_one_server() {
    let srv = TestServer::start();
    let body = pattern(40 << 20, 32);
    srv.add_route("/wide.bin", Route::new(body.clone()).throttle(2 << 20));
    let tmp = tempdir();
    let url = srv.url("/wide.bin");
    run(tmp.path(), &["-x32", "-s32", "-k1M", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("wide.bin"), &body);
    let peak = srv.peak_connections();
    assert_eq!(peak, 32, "connections open at once");
    support::assert_served_once(srv.bytes_served("/wide.bin"), body.len() as u64);
}

/// `-o` names a file under `-d` even when it is absolute, as aria2c's
/// `applyDir` makes it (`DIR//abs/path`, also in the console line).
#[test]
fn absolute_out_is_under_dir_as_aria2c() {
    let srv = TestServer::start();
    let body = pattern(20_000, 4);
    let url = srv.add_file("/a.bin", body.clone());
    let tmp = tempdir();
    let dir = tmp.path().join("d");
    let out = run(
        tmp.path(),
        &["-d", dir.to_str().unwrap(), "-o", "/abs/x.bin", &url],
    );
    out.expect_code(exit::OK);
    assert_file_eq(&dir.join("abs").join("x.bin"), &body);
    assert!(
        out.stdout
            .contains(&format!("Download complete: {}//abs/x.bin", dir.display())),
        "{}",
        out.stdout
    );
}
