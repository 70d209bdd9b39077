//! Multi-source end to end: one file served at once by the test HTTP
//! server, pyftpdlib and sshd's internal-sftp (each server's byte count
//! proves it served), a corrupted mirror caught by metalink piece hashes,
//! `--uri-selector` preferring fast mirrors, `--server-stat-of`/`-if`,
//! and slow or failing mirrors dropped (`--lowest-speed-limit`,
//! `--max-tries`) while the others finish the file.
//!
//! Tests that need sshd or pyftpdlib print why and pass where they are
//! missing; `.ci/run` installs both.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::ftpd::{pyftpd, ServerProcess};
use crate::support::relay::CountingRelay;
use crate::support::sshd::SshServer;
use crate::support::{assert_file_eq, exit, require_ok, run, sha256_hex, tempdir, wait_until};
use arietta_testserver::{pattern, Route, TestServer};

const PIECE: usize = 1 << 20;
/// What sshd sends beside file data for a few connections (version,
/// key exchange, auth, channel and SFTP framing): well under this.
const SSH_OVERHEAD: u64 = 64 << 10;
/// All three servers are 127.0.0.1: with aria2's default a metalink keeps
/// one protocol per host.
const UNIQUE_OFF: &str = "--metalink-enable-unique-protocol=false";

/// A v4 document naming one file at `urls`, with its sha-256 and 1 MiB
/// sha-256 piece hashes.
fn meta4(name: &str, body: &[u8], urls: &[&str]) -> String {
    let urls: String = urls
        .iter()
        .map(|u| {
            format!(
                "<url>{}</url>",
                u.replace('&', "&amp;").replace('<', "&lt;")
            )
        })
        .collect();
    let pieces: String = body
        .chunks(PIECE)
        .map(|c| format!("<hash>{}</hash>", sha256_hex(c)))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="{name}">
    <size>{}</size>
    <hash type="sha-256">{}</hash>
    <pieces length="{PIECE}" type="sha-256">{pieces}</pieces>
    {urls}
  </file>
</metalink>"#,
        body.len(),
        sha256_hex(body),
    )
}

/// Three servers holding `name`: HTTP (serving `http_body`), FTP
/// (`ftp_body`) and SFTP (`body`), each paced so that none can take the
/// whole file before the slowest (SFTP's SSH handshake) has started.
struct Trio {
    http: TestServer,
    ftp: ServerProcess,
    sftp: SshServer,
    /// In front of sshd, counting what it sent.
    relay: CountingRelay,
    _ftp_root: tempfile::TempDir,
    urls: [String; 3],
}

fn trio(name: &str, body: &[u8], ftp_body: &[u8]) -> Option<Trio> {
    let sftp = require_ok(SshServer::start())?;
    let ftp_root = tempdir();
    std::fs::write(ftp_root.path().join(name), ftp_body).unwrap();
    let ftp = pyftpd(ftp_root.path(), 1 << 20)?;
    let http = TestServer::start();
    let http_url = http.add_file(&format!("/{name}"), body.to_vec());
    http.set_throttle(Some(1 << 20));
    let path = sftp.add_file(name, body);
    let relay = CountingRelay::start(sftp.port);
    let sftp_url = sftp
        .url_with_password(&path)
        .replace(&format!(":{}/", sftp.port), &format!(":{}/", relay.port));
    let urls = [
        http_url,
        format!("ftp://127.0.0.1:{}/{name}", ftp.port),
        sftp_url,
    ];
    Some(Trio {
        http,
        ftp,
        sftp,
        relay,
        _ftp_root: ftp_root,
        urls,
    })
}

impl Trio {
    /// Bytes each server sent, once pyftpdlib has logged its closed data
    /// connections (a moment after the client left). SFTP's count is file
    /// data beyond [`SSH_OVERHEAD`] (handshakes, framing), 0 when below.
    fn served(&self, name: &str) -> (u64, u64, u64) {
        let mut got = (0, 0, 0);
        wait_until(Duration::from_secs(3), || {
            got = (
                self.http.bytes_served(&format!("/{name}")),
                self.ftp.bytes_sent(),
                self.relay.bytes_down().saturating_sub(SSH_OVERHEAD),
            );
            got.0 > 0 && got.1 > 0 && got.2 > 0
        });
        eprintln!(
            "served: http={} ftp={} sftp={} (relay saw {})",
            got.0,
            got.1,
            got.2,
            self.relay.bytes_down()
        );
        if got.2 == 0 {
            eprintln!("sshd log:\n{}", self.sftp.log());
        }
        got
    }
}

#[test]
fn metalink_served_by_http_ftp_and_sftp_at_once() {
    let body = pattern(6 << 20, 51);
    let Some(t) = trio("m.bin", &body, &body) else {
        return;
    };
    let tmp = tempdir();
    let urls: Vec<&str> = t.urls.iter().map(String::as_str).collect();
    std::fs::write(tmp.path().join("m.meta4"), meta4("m.bin", &body, &urls)).unwrap();
    let out = run(
        tmp.path(),
        &[
            "-M", "m.meta4", "-d", "out", "-x3", "-s3", "-k1M", UNIQUE_OFF,
        ],
    );
    out.expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("out/m.bin"), &body);
    let (h, f, s) = t.served("m.bin");
    assert!(
        h > 0 && f > 0 && s > 0,
        "every server should serve: http={h} ftp={f} sftp={s}"
    );
}

#[test]
fn corrupted_mirror_is_caught_by_piece_hashes_and_refetched() {
    let body = pattern(6 << 20, 52);
    // One byte flipped in every piece of the FTP copy.
    let mut bad = body.clone();
    for i in (1000..bad.len()).step_by(PIECE) {
        bad[i] ^= 0x5a;
    }
    let Some(t) = trio("c.bin", &body, &bad) else {
        return;
    };
    let tmp = tempdir();
    // The FTP mirror first, so it certainly serves (and is caught).
    let urls = [t.urls[1].as_str(), t.urls[0].as_str(), t.urls[2].as_str()];
    std::fs::write(tmp.path().join("c.meta4"), meta4("c.bin", &body, &urls)).unwrap();
    let out = run(
        tmp.path(),
        &[
            "-M", "c.meta4", "-d", "out", "-x1", "-s6", "-k1M", UNIQUE_OFF,
        ],
    );
    out.expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("out/c.bin"), &body);
    let text = out.output();
    assert!(
        text.contains("failed its sha-256 chunk checksum")
            && text.contains("dropping mirror ftp://"),
        "the bad piece should be reported and the FTP mirror dropped:\n{text}"
    );
    let (h, f, s) = t.served("c.bin");
    assert!(f > 0, "the corrupted FTP mirror served nothing");
    assert!(
        h + s > 0,
        "the good mirrors served nothing: http={h} sftp={s}"
    );
}

#[test]
fn three_mirrors_on_the_command_line_all_serve() {
    let body = pattern(6 << 20, 53);
    let Some(t) = trio("p.bin", &body, &body) else {
        return;
    };
    let tmp = tempdir();
    run(
        tmp.path(),
        &[
            // All three are 127.0.0.1: -x caps them together, as aria2's
            // per-host count does; one connection each, so the slower
            // SFTP handshake still finds work.
            "-x3",
            "-s3",
            "-k1M",
            "--server-stat-of=stats.txt",
            &t.urls[0],
            &t.urls[1],
            &t.urls[2],
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("p.bin"), &body);
    // One stats line per protocol (same host, so aria2's key tells them
    // apart by protocol only).
    let stats = std::fs::read_to_string(tmp.path().join("stats.txt")).expect("stats written");
    for proto in ["ftp", "http", "sftp"] {
        assert!(
            stats.contains(&format!("host=127.0.0.1, protocol={proto}, dl_speed=")),
            "no {proto} line:\n{stats}"
        );
    }
    let (h, f, s) = t.served("p.bin");
    assert!(
        h > 0 && f > 0 && s > 0,
        "every server should serve: http={h} ftp={f} sftp={s}"
    );
}

/// Two HTTP mirrors of `body`: a slow one (`slow` bytes/s per connection)
/// listed first and a fast one.
fn slow_and_fast(body: &[u8], slow: u64) -> (TestServer, TestServer, String, String) {
    let (a, b) = (TestServer::start(), TestServer::start());
    a.add_route("/f.bin", Route::new(body.to_vec()).throttle(slow));
    let ub = b.add_file("/f.bin", body.to_vec());
    b.set_throttle(Some(8 << 20));
    let ua = a.url("/f.bin");
    (a, b, ua, ub)
}

#[test]
fn feedback_gives_the_fast_mirror_more_than_the_slow_one() {
    // Both get connections (aria2 goes round its URIs); the fast one's
    // finish their segments and take the free ones.
    let body = pattern(32 << 20, 54);
    let (a, b, ua, ub) = slow_and_fast(&body, 512 << 10);
    let tmp = tempdir();
    run(
        tmp.path(),
        &["--uri-selector=feedback", "-x8", "-s8", "-k1M", &ua, &ub],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("f.bin"), &body);
    let (slow, fast) = (a.bytes_served("/f.bin"), b.bytes_served("/f.bin"));
    assert!(
        slow < fast,
        "the slow mirror served {slow}, the fast one {fast}"
    );
    assert!(
        slow < body.len() as u64 / 3,
        "the slow mirror served {slow}"
    );
}

#[test]
fn mirror_below_lowest_speed_limit_is_dropped_and_others_finish() {
    let body = pattern(4 << 20, 55);
    let (a, _b, ua, ub) = slow_and_fast(&body, 16 << 10);
    let tmp = tempdir();
    let started = Instant::now();
    let out = run(
        tmp.path(),
        &[
            "--lowest-speed-limit=100K",
            "--timeout=3",
            "-x4",
            "-s4",
            "-k1M",
            &ua,
            &ub,
        ],
    );
    out.expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("f.bin"), &body);
    let text = out.output();
    assert!(
        text.contains("dropping this mirror") && text.contains(&ua),
        "the slow mirror should be dropped:\n{text}"
    );
    // At 16 KiB/s the slow mirror's 1 MiB segment would take a minute;
    // dropped after the grace (`--timeout`, at least 3 s), the fast one
    // fetches it.
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
    assert!(a.bytes_served("/f.bin") < body.len() as u64 / 4);
}

#[test]
fn mirror_failing_max_tries_mid_transfer_is_dropped() {
    let body = pattern(4 << 20, 56);
    let (a, b) = (TestServer::start(), TestServer::start());
    // Every response from A is cut after 300 KiB.
    a.add_route("/f.bin", Route::new(body.clone()).reset_after(300 << 10));
    let ub = b.add_file("/f.bin", body.clone());
    b.set_throttle(Some(4 << 20));
    let tmp = tempdir();
    run(
        tmp.path(),
        &[
            "--max-tries=2",
            "--retry-wait=0",
            "-x2",
            "-s4",
            "-k1M",
            &a.url("/f.bin"),
            &ub,
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("f.bin"), &body);
    // Two tries per connection at most, each cut at 300 KiB.
    assert!(a.requests("/f.bin").len() <= 2 * 2 + 1);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn server_stat_of_records_plausible_speeds() {
    let srv = TestServer::start();
    let body = pattern(4 << 20, 57);
    let url = srv.add_file("/s.bin", body.clone());
    srv.set_throttle(Some(4 << 20));
    let tmp = tempdir();
    run(
        tmp.path(),
        &["--server-stat-of=stats.txt", "-x2", "-s2", "-k1M", &url],
    )
    .expect_code(exit::OK);
    let stats = std::fs::read_to_string(tmp.path().join("stats.txt")).expect("stats written");
    let line = stats
        .lines()
        .find(|l| l.starts_with("host=127.0.0.1, protocol=http,"))
        .unwrap_or_else(|| panic!("no line for the server:\n{stats}"));
    let field = |k: &str| -> u64 {
        line.split(", ")
            .find_map(|f| f.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing: {line}"))
            .parse()
            .unwrap()
    };
    // Two connections at 4 MiB/s each: somewhere between 1 and 16 MiB/s.
    let speed = field("dl_speed");
    assert!((1 << 20..16 << 20).contains(&speed), "dl_speed={speed}");
    assert_eq!(field("mc_avg_speed"), speed);
    assert_eq!(field("counter"), 1);
    assert!(field("last_updated").abs_diff(unix_now()) < 60);
    assert!(line.ends_with("status=ok"), "{line}");
}

#[test]
fn server_stat_if_changes_which_mirror_is_used() {
    let body = pattern(1 << 20, 58);
    let (a, b) = (TestServer::start(), TestServer::start());
    a.add_file("/f.bin", body.clone());
    b.add_file("/f.bin", body.clone());
    // Same protocol, different host names: the stats tell them apart.
    let ua = a.url("/f.bin");
    let ub = format!("http://localhost:{}/f.bin", b.port());
    let tmp = tempdir();
    let stats = |updated: u64| {
        format!(
            "host=127.0.0.1, protocol=http, dl_speed=40000, sc_avg_speed=40000, \
             mc_avg_speed=0, last_updated={updated}, counter=1, status=ok\n\
             host=localhost, protocol=http, dl_speed=90000000, sc_avg_speed=90000000, \
             mc_avg_speed=0, last_updated={updated}, counter=1, status=ok\n"
        )
    };
    std::fs::write(tmp.path().join("fresh.txt"), stats(unix_now())).unwrap();
    std::fs::write(tmp.path().join("old.txt"), stats(unix_now() - 1000)).unwrap();
    let fetch = |dir: &str, extra: &[&str]| -> (u64, u64) {
        a.reset_counters();
        b.reset_counters();
        let mut args = vec!["-s1", "-x1", "-d", dir];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&ua, &ub]);
        run(tmp.path(), &args).expect_code(exit::OK);
        assert_file_eq(&tmp.path().join(dir).join("f.bin"), &body);
        (a.bytes_served("/f.bin"), b.bytes_served("/f.bin"))
    };
    let len = body.len() as u64;
    // Without stats the list order decides.
    assert_eq!(fetch("plain", &[]), (len, 0));
    // The stats say localhost is far faster.
    assert_eq!(fetch("fed", &["--server-stat-if=fresh.txt"]), (0, len));
    assert_eq!(
        fetch(
            "adaptive",
            &["--uri-selector=adaptive", "--server-stat-if=fresh.txt"]
        ),
        (0, len)
    );
    // inorder ignores them; stale ones are forgotten.
    assert_eq!(
        fetch(
            "inorder",
            &["--uri-selector=inorder", "--server-stat-if=fresh.txt"]
        ),
        (len, 0)
    );
    assert_eq!(
        fetch(
            "stale",
            &["--server-stat-if=old.txt", "--server-stat-timeout=100"]
        ),
        (len, 0)
    );
}

/// A mirror known fast from `--server-stat-if` does not keep every
/// connection: the unknown one gets the second under both ranking
/// selectors (aria2 takes a URI off its list when a connection
/// uses it: `feedback` picks the fast one first, then the only one left;
/// `adaptive` explores the untested one).
#[test]
fn known_fast_mirror_is_first_and_the_untested_one_still_serves() {
    let body = pattern(4 << 20, 59);
    let (a, b) = (TestServer::start(), TestServer::start());
    a.add_file("/f.bin", body.clone());
    b.add_file("/f.bin", body.clone());
    let ua = a.url("/f.bin");
    let ub = format!("http://localhost:{}/f.bin", b.port());
    let tmp = tempdir();
    // Only 127.0.0.1 (A) is known, and fast.
    std::fs::write(
        tmp.path().join("stats.txt"),
        format!(
            "host=127.0.0.1, protocol=http, dl_speed=90000000, sc_avg_speed=90000000, \
             mc_avg_speed=0, last_updated={}, counter=1, status=ok\n",
            unix_now()
        ),
    )
    .unwrap();
    for selector in ["feedback", "adaptive"] {
        a.reset_counters();
        b.reset_counters();
        let sel = format!("--uri-selector={selector}");
        run(
            tmp.path(),
            &[
                "-s2",
                "-x2",
                "-k1M",
                "--server-stat-if=stats.txt",
                &sel,
                "-d",
                selector,
                &ub,
                &ua,
            ],
        )
        .expect_code(exit::OK);
        assert_file_eq(&tmp.path().join(selector).join("f.bin"), &body);
        let (sa, sb) = (a.bytes_served("/f.bin"), b.bytes_served("/f.bin"));
        assert!(sa > 0 && sb > 0, "{selector}: A={sa} B={sb}");
    }
}

/// Two equally fast HTTP mirrors of a 32 MiB file (4 MiB/s a connection):
/// the servers and their URLs.
fn twin_mirrors(body: &std::sync::Arc<Vec<u8>>) -> (TestServer, TestServer, String, String) {
    let (a, b) = (TestServer::start(), TestServer::start());
    a.add_route("/t.bin", Route::shared(body.clone()));
    b.add_route("/t.bin", Route::shared(body.clone()));
    a.set_throttle(Some(4 << 20));
    b.set_throttle(Some(4 << 20));
    let (ua, ub) = (a.url("/t.bin"), b.url("/t.bin"));
    (a, b, ua, ub)
}

/// The bytes each of two mirrors served, as shares of `total`.
fn shares(a: &TestServer, b: &TestServer, total: usize) -> (f64, f64) {
    let t = total as f64;
    (
        a.bytes_served("/t.bin") as f64 / t,
        b.bytes_served("/t.bin") as f64 / t,
    )
}

/// aria2c spreads `-x8 -s8` over two mirrors (35/32 MiB of 64 MiB); so
/// must we, under every `--uri-selector`. aria2c's split on the same
/// setup is printed for comparison.
#[test]
fn two_mirrors_with_x8_s8_both_serve_a_fair_share() {
    let body = std::sync::Arc::new(pattern(32 << 20, 60));
    for selector in ["feedback", "inorder", "adaptive"] {
        let (a, b, ua, ub) = twin_mirrors(&body);
        let tmp = tempdir();
        let sel = format!("--uri-selector={selector}");
        run(tmp.path(), &["-x8", "-s8", "-k1M", &sel, &ua, &ub]).expect_code(exit::OK);
        assert_file_eq(&tmp.path().join("t.bin"), &body);
        let (sa, sb) = shares(&a, &b, body.len());
        eprintln!("arietta {selector}: first mirror {sa:.2}, second {sb:.2}");
        assert!(
            sa >= 0.25 && sb >= 0.25,
            "{selector}: both mirrors should serve at least a quarter: {sa:.2} / {sb:.2}"
        );
    }
    if !crate::support::require("aria2c") {
        return;
    }
    let (a, b, ua, ub) = twin_mirrors(&body);
    let tmp = tempdir();
    let out = std::process::Command::new("aria2c")
        .current_dir(tmp.path())
        .env("HOME", tmp.path())
        .args(["--no-conf", "--summary-interval=0", "-x8", "-s8", "-k1M"])
        .args([&ua, &ub])
        .output()
        .expect("aria2c runs");
    assert!(out.status.success(), "aria2c failed: {out:?}");
    let (sa, sb) = shares(&a, &b, body.len());
    eprintln!("aria2c feedback: first mirror {sa:.2}, second {sb:.2}");
}

/// `--reuse-uri=false` does not cut a lone URI to one connection: aria2
/// lists a URI `min(s / n, x)` times before the first connection, and only
/// puts spent ones back with `--reuse-uri`. aria2c is held to the same
/// counts.
#[test]
fn reuse_uri_false_still_uses_arias_repeated_list() {
    let body = std::sync::Arc::new(pattern(8 << 20, 61));
    let connections = |program: &str, reuse: &str| {
        let srv = TestServer::start();
        srv.add_route("/r.bin", Route::shared(body.clone()));
        srv.set_throttle(Some(8 << 20));
        let tmp = tempdir();
        let flag = format!("--reuse-uri={reuse}");
        let out = std::process::Command::new(program)
            .current_dir(tmp.path())
            .env("HOME", tmp.path())
            .args(["--no-conf", "--summary-interval=0", "-x4", "-s4", "-k1M"])
            .args([flag.as_str(), srv.url("/r.bin").as_str()])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{program}: {out:?}");
        assert_file_eq(&tmp.path().join("r.bin"), &body);
        srv.connections_accepted()
    };
    let arietta = env!("CARGO_BIN_EXE_arietta");
    assert_eq!(connections(arietta, "false"), 4);
    assert_eq!(connections(arietta, "true"), 4);
    if crate::support::require("aria2c") {
        assert_eq!(connections("aria2c", "false"), 4, "aria2c");
        assert_eq!(connections("aria2c", "true"), 4, "aria2c");
    }
}
