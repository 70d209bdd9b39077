//! Misbehaving servers and networks: cut bodies, lying lengths, wrong
//! ranges, garbage, transient errors, and the exit code for each failure
//! class. The invariant throughout: exit 0 only with a byte-identical file.

use std::time::Duration;

use crate::support;
use crate::support::{
    assert_file_eq, assert_no_wrong_complete_file, exit, free_port, run, run_with_timeout, tempdir,
};
use arietta_testserver::{pattern, Route, TestServer};

const RETRY: [&str; 2] = ["--max-tries=5", "--retry-wait=0"];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = RETRY.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn truncated_body_is_retried_and_resumed() {
    let srv = TestServer::start();
    let body = pattern(300_000, 1);
    srv.add_route("/t.bin", Route::new(body.clone()).truncate_after(200_000));
    let tmp = tempdir();
    run(tmp.path(), &args(&[&srv.url("/t.bin")])).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("t.bin"), &body);
    let reqs = srv.requests("/t.bin");
    assert!(reqs.len() >= 2, "a retry was needed");
    assert!(
        srv.bytes_served("/t.bin") < 2 * body.len() as u64,
        "retry should resume from the cut, not restart: served {}",
        srv.bytes_served("/t.bin")
    );
}

#[test]
fn reset_mid_body_is_retried_and_resumed() {
    let srv = TestServer::start();
    let body = pattern(300_000, 2);
    srv.add_route("/r.bin", Route::new(body.clone()).reset_after(150_000));
    let tmp = tempdir();
    run(tmp.path(), &args(&[&srv.url("/r.bin")])).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("r.bin"), &body);
    assert!(srv.requests("/r.bin").len() >= 2);
}

#[test]
fn truncated_segments_in_a_split_download_are_retried() {
    let srv = TestServer::start();
    let body = pattern(4 << 20, 3);
    // Every response stops after 600 KiB, so each 1 MiB segment needs two tries.
    srv.add_route(
        "/ts.bin",
        Route::new(body.clone()).truncate_after(600 << 10),
    );
    let tmp = tempdir();
    run(
        tmp.path(),
        &args(&["-x4", "-s4", "-k1M", &srv.url("/ts.bin")]),
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("ts.bin"), &body);
}

#[test]
fn resets_in_a_split_download_are_retried() {
    let srv = TestServer::start();
    let body = pattern(4 << 20, 12);
    srv.add_route("/rs.bin", Route::new(body.clone()).reset_after(700 << 10));
    let tmp = tempdir();
    run(
        tmp.path(),
        &args(&["-x4", "-s4", "-k1M", &srv.url("/rs.bin")]),
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("rs.bin"), &body);
}

#[test]
fn content_length_larger_than_body_without_ranges_fails() {
    // A plain 200 whose Content-Length promises 100 bytes more than come
    // before the close: the download is short and must not succeed.
    let body = pattern(2 << 20, 4);
    let srv = TestServer::start();
    srv.add_route(
        "/f.bin",
        Route::new(body.clone()).no_range().lie_content_length(100),
    );
    let tmp = tempdir();
    let out = run(
        tmp.path(),
        &["--max-tries=2", "--retry-wait=0", &srv.url("/f.bin")],
    );
    assert_no_wrong_complete_file(&tmp.path().join("f.bin"), &body, &out);
    out.expect_failure();
}

#[test]
fn content_length_larger_than_body_ranged_never_yields_wrong_file() {
    // With `Range` the 206's truthful Content-Range may be trusted over the
    // lying Content-Length, so success is allowed, but only with the right bytes.
    let body = pattern(2 << 20, 5);
    let srv = TestServer::start();
    srv.add_route("/f.bin", Route::new(body.clone()).lie_content_length(100));
    for split in [&["-s1"][..], &["-x4", "-s4", "-k1M"][..]] {
        let tmp = tempdir();
        let url = srv.url("/f.bin");
        let mut a = vec!["--max-tries=2", "--retry-wait=0"];
        a.extend_from_slice(split);
        a.push(&url);
        let out = run(tmp.path(), &a);
        assert_no_wrong_complete_file(&tmp.path().join("f.bin"), &body, &out);
    }
}

#[test]
fn content_length_smaller_than_body_segmented_never_yields_wrong_file() {
    // With ranges in play, a short Content-Length contradicts Content-Range;
    // a single unranged 200 would be undetectable, so split the download.
    let body = pattern(2 << 20, 6);
    let srv = TestServer::start();
    srv.add_route("/f.bin", Route::new(body.clone()).lie_content_length(-100));
    let tmp = tempdir();
    let out = run(
        tmp.path(),
        &[
            "--max-tries=2",
            "--retry-wait=0",
            "-x4",
            "-s4",
            "-k1M",
            &srv.url("/f.bin"),
        ],
    );
    assert_no_wrong_complete_file(&tmp.path().join("f.bin"), &body, &out);
    out.expect_failure();
}

#[test]
fn wrong_content_range_never_yields_wrong_file() {
    let body = pattern(4 << 20, 7);
    let srv = TestServer::start();
    srv.add_route("/f.bin", Route::new(body.clone()).wrong_content_range());
    let tmp = tempdir();
    let out = run(
        tmp.path(),
        &[
            "--max-tries=2",
            "--retry-wait=0",
            "-x4",
            "-s4",
            "-k1M",
            &srv.url("/f.bin"),
        ],
    );
    assert_no_wrong_complete_file(&tmp.path().join("f.bin"), &body, &out);
    // Either the first (unranged) connection fetched it all correctly, or a clear failure.
    if out.code != Some(0) {
        out.expect_failure();
    }
}

#[test]
fn wrong_content_range_on_resume_is_rejected() {
    // Force a ranged request: a partial file plus its control file from a
    // first run that was cut off, then a resume against a lying server.
    let body = pattern(2 << 20, 8);
    let srv = TestServer::start();
    srv.add_route("/f.bin", Route::new(body.clone()).truncate_after(1 << 20));
    let tmp = tempdir();
    let url = srv.url("/f.bin");
    let first = run(tmp.path(), &["--max-tries=1", &url]);
    first.expect_failure();
    srv.add_route("/f.bin", Route::new(body.clone()).wrong_content_range());
    let out = run(tmp.path(), &["-c", "--max-tries=2", "--retry-wait=0", &url]);
    assert_no_wrong_complete_file(&tmp.path().join("f.bin"), &body, &out);
}

#[test]
fn garbage_response_exits_1() {
    let srv = TestServer::start();
    srv.add_route("/g.bin", Route::new(pattern(1000, 9)).garbage_headers());
    let tmp = tempdir();
    let out = run(
        tmp.path(),
        &["--max-tries=2", "--retry-wait=0", &srv.url("/g.bin")],
    );
    // aria2c: "Bad status code", thrown without a code of its own.
    out.expect_code(exit::UNKNOWN);
    assert!(
        !tmp.path().join("g.bin").exists()
            || std::fs::metadata(tmp.path().join("g.bin")).unwrap().len() == 0
            || support::control_file(&tmp.path().join("g.bin")).exists()
    );
}

#[test]
fn transient_503_then_success() {
    let srv = TestServer::start();
    let body = pattern(100_000, 10);
    srv.add_route("/s.bin", Route::new(body.clone()).fail_first_n(2, 503));
    let tmp = tempdir();
    run(tmp.path(), &args(&[&srv.url("/s.bin")])).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("s.bin"), &body);
    assert!(srv.requests("/s.bin").len() >= 3);
}

#[test]
fn not_found_exits_3() {
    let srv = TestServer::start();
    let tmp = tempdir();
    run(tmp.path(), &args(&[&srv.url("/missing.bin")])).expect_code(exit::NOT_FOUND);
    assert!(!tmp.path().join("missing.bin").exists());
}

#[test]
fn unresolvable_host_exits_19() {
    let tmp = tempdir();
    run(
        tmp.path(),
        &["--max-tries=1", "http://nonexistent.invalid/file.bin"],
    )
    .expect_code(exit::NAME_RESOLUTION);
}

#[test]
fn connection_refused_exits_1() {
    let tmp = tempdir();
    let url = format!("http://127.0.0.1:{}/x.bin", free_port());
    run(tmp.path(), &["--max-tries=1", &url]).expect_code(exit::UNKNOWN);
}

#[test]
fn first_byte_timeout_exits_2() {
    let srv = TestServer::start();
    srv.add_route(
        "/slow.bin",
        Route::new(pattern(1000, 11)).first_byte_delay(Duration::from_secs(5)),
    );
    let tmp = tempdir();
    let start = std::time::Instant::now();
    let out = run_with_timeout(
        tmp.path(),
        &["--timeout=1", "--max-tries=1", &srv.url("/slow.bin")],
        Duration::from_secs(20),
    );
    out.expect_code(exit::TIMEOUT);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "timeout should fire after ~1 s, took {:?}",
        start.elapsed()
    );
}

#[test]
fn lowest_speed_limit_gives_up_with_exit_5() {
    let srv = TestServer::start();
    let url = srv.add_file("/slow.bin", pattern(4 << 20, 5));
    srv.set_throttle(Some(20_000));
    let tmp = tempdir();
    let started = std::time::Instant::now();
    let out = run_with_timeout(
        tmp.path(),
        &["--lowest-speed-limit=1M", "--timeout=3", &url],
        Duration::from_secs(20),
    );
    out.expect_code(exit::TOO_SLOW);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
}

/// A mirror whose file changed (shrank) after the download learned its
/// length answers ranges with another total in `Content-Range`. aria2c
/// aborts that mirror with "Invalid range header" (exit code 8), never
/// writing the shorter file's bytes as ours: with no other mirror the
/// download fails, the partial file keeps its length and its control file.
#[test]
fn changed_total_in_content_range_drops_the_only_mirror() {
    let body = pattern(4 << 20, 12);
    let srv = TestServer::start();
    srv.add_route("/c.bin", Route::new(body).shrink_after_first(3_500_000));
    let tmp = tempdir();
    let file = tmp.path().join("c.bin");
    // Allocated ahead (4 MiB is under aria2's 5M no-allocation limit).
    let out = run(
        tmp.path(),
        &args(&[
            "-x2",
            "-s2",
            "-k1M",
            "--no-file-allocation-limit=1M",
            &srv.url("/c.bin"),
        ]),
    );
    out.expect_code(exit::NO_RESUME);
    assert!(
        out.output().contains("Invalid range header. Request: "),
        "{}",
        out.output()
    );
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 4 << 20);
    assert!(support::control_file(&file).exists());
    // Not retried: the mirror is dropped at the first mismatch.
    assert!(
        srv.requests("/c.bin").len() <= 4,
        "{:?}",
        srv.requests("/c.bin").len()
    );
}

/// With a second, good mirror the changed one is dropped and the download
/// completes byte-identical from the other.
#[test]
fn changed_total_in_content_range_drops_that_mirror_only() {
    let body = pattern(4 << 20, 13);
    let bad = TestServer::start();
    let good = TestServer::start();
    bad.add_route(
        "/c.bin",
        Route::new(body.clone()).shrink_after_first(3_500_000),
    );
    good.add_route("/c.bin", Route::new(body.clone()));
    good.set_throttle(Some(2 << 20));
    let tmp = tempdir();
    let out = run(
        tmp.path(),
        &args(&[
            "--uri-selector=inorder",
            "-x2",
            "-s2",
            "-k1M",
            &bad.url("/c.bin"),
            &good.url("/c.bin"),
        ]),
    );
    out.expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("c.bin"), &body);
}
