//! SFTP downloads against a real OpenSSH server (`sshd` with
//! `internal-sftp`) started on a free loopback port: password and key
//! logins, segmented reads, host key pinning, aria2's exit codes for bad
//! credentials and missing files, and resuming after `kill -9`.
//!
//! Each test starts its own sshd so its log (auth decisions, bytes read per
//! file) belongs to that test alone. Where sshd cannot run (not root, no
//! test user) the tests print why and pass; under CI that is a failure.

use std::time::Duration;

use crate::support::sshd::{keygen, SshServer, PASSWORD, USER};
use crate::support::*;
use arietta_testserver::pattern;
use sha2::Digest;

/// Starts sshd or returns from the test (see [`require_ok`]: a failure
/// under CI, a skip with the reason elsewhere).
macro_rules! sshd_or_skip {
    () => {
        match require_ok(SshServer::start()) {
            Some(s) => s,
            None => return,
        }
    };
}

#[test]
fn whole_file_with_password() {
    let srv = sshd_or_skip!();
    let body = pattern(3 << 20, 1);
    let path = srv.add_file("whole.bin", &body);
    let tmp = tempdir();
    run(tmp.path(), &[&srv.url_with_password(&path)]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("whole.bin"), &body);
    assert!(!control_file(&tmp.path().join("whole.bin")).exists());
    assert!(
        srv.log().contains(&format!("Accepted password for {USER}")),
        "{}",
        srv.log()
    );
}

#[test]
fn segmented_four_connections_byte_identical() {
    let srv = sshd_or_skip!();
    let size = 16 << 20;
    let body = pattern(size, 2);
    let path = srv.add_file("seg.bin", &body);
    let tmp = tempdir();
    let url = srv.url_with_password(&path);
    run(tmp.path(), &["-x4", "-s4", "-k1M", "-o", "out.bin", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("out.bin"), &body);
    let log = srv.log();
    let logins = log.matches("Accepted password for").count();
    assert!(
        logins >= 2,
        "expected several connections, got {logins}:\n{log}"
    );
}

#[test]
fn key_auth_from_home_ssh() {
    let srv = sshd_or_skip!();
    let body = pattern(1 << 20, 3);
    let path = srv.add_file("key.bin", &body);
    let tmp = tempdir();
    // The hermetic HOME is the run's working directory.
    let ssh_dir = tmp.path().join(".ssh");
    std::fs::create_dir(&ssh_dir).unwrap();
    let key = ssh_dir.join("id_ed25519");
    keygen(&key);
    srv.authorize(&key);
    let url = format!("sftp://{USER}@127.0.0.1:{}{path}", srv.port);
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("key.bin"), &body);
    assert!(
        srv.log()
            .contains(&format!("Accepted publickey for {USER}")),
        "{}",
        srv.log()
    );
}

#[test]
fn password_through_keyboard_interactive() {
    // Servers that check passwords with PAM often offer no "password"
    // method, only keyboard-interactive.
    let extra = "UsePAM yes\nPasswordAuthentication no\nKbdInteractiveAuthentication yes";
    let Some(srv) = require_ok(SshServer::start_with(extra)) else {
        return;
    };
    let body = pattern(200_000, 8);
    let path = srv.add_file("kbd.bin", &body);
    let tmp = tempdir();
    run(tmp.path(), &[&srv.url_with_password(&path)]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("kbd.bin"), &body);
    assert!(
        srv.log().contains("Accepted keyboard-interactive"),
        "{}",
        srv.log()
    );
}

#[test]
fn wrong_password_exits_1() {
    let srv = sshd_or_skip!();
    let path = srv.add_file("pw.bin", b"secret");
    let tmp = tempdir();
    let url = format!("sftp://{USER}:not-{PASSWORD}@127.0.0.1:{}{path}", srv.port);
    let out = run(tmp.path(), &[&url]);
    out.expect_code(exit::UNKNOWN);
    assert!(
        out.output().contains("authentication failed"),
        "{}",
        out.output()
    );
    assert!(!tmp.path().join("pw.bin").exists());
}

#[test]
fn no_credentials_at_all_exits_1() {
    let srv = sshd_or_skip!();
    let path = srv.add_file("nokey.bin", b"x");
    let tmp = tempdir();
    let url = format!("sftp://{USER}@127.0.0.1:{}{path}", srv.port);
    let out = run(tmp.path(), &[&url]);
    out.expect_code(exit::UNKNOWN);
}

#[test]
fn missing_file_exits_1() {
    let srv = sshd_or_skip!();
    let missing = srv.dir.path().join("nothing-here.bin");
    let tmp = tempdir();
    let out = run(tmp.path(), &[&srv.url_with_password(s(&missing))]);
    out.expect_code(exit::UNKNOWN);
    assert!(out.output().contains("no such file"), "{}", out.output());
    assert!(
        list_dir(tmp.path()).is_empty(),
        "{:?}",
        list_dir(tmp.path())
    );
}

#[test]
fn right_host_key_digest_is_accepted() {
    let srv = sshd_or_skip!();
    let body = pattern(100_000, 4);
    let path = srv.add_file("hk.bin", &body);
    let blob = srv.host_key_blob();
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let sha1 = format!("sha-1={}", hex(&sha1::Sha1::digest(&blob)));
    let sha256 = format!("sha-256={}", hex(&sha2::Sha256::digest(&blob)));
    for (i, md) in [sha1, sha256].iter().enumerate() {
        let tmp = tempdir();
        let opt = format!("--ssh-host-key-md={md}");
        run(tmp.path(), &[&opt, &srv.url_with_password(&path)]).expect_code(exit::OK);
        assert_file_eq(&tmp.path().join("hk.bin"), &body);
        let _ = i;
    }
}

#[test]
fn wrong_host_key_digest_fails_before_auth() {
    let srv = sshd_or_skip!();
    let path = srv.add_file("bad.bin", b"data");
    let tmp = tempdir();
    let opt = format!("--ssh-host-key-md=sha-1={}", "ab".repeat(20));
    let out = run(tmp.path(), &[&opt, &srv.url_with_password(&path)]);
    out.expect_code(exit::UNKNOWN);
    assert!(
        out.output().contains("unexpected SSH host key"),
        "{}",
        out.output()
    );
    assert!(!tmp.path().join("bad.bin").exists());
    let log = srv.log();
    assert!(
        !log.contains("password for"),
        "credentials were sent to a server with the wrong host key:\n{log}"
    );
}

#[test]
fn resume_after_kill_9_from_control_file() {
    let srv = sshd_or_skip!();
    let size = 8 << 20;
    let body = pattern(size, 5);
    let path = srv.add_file("res.bin", &body);
    let url = srv.url_with_password(&path);
    let tmp = tempdir();
    let file = tmp.path().join("res.bin");
    let args = ["-x4", "-s4", "-k1M", "--max-download-limit=2M", &url];
    let child = spawn(tmp.path(), &args);
    // Kill a third of the way through (about 1.5 s at 2 MiB/s).
    assert!(
        wait_until(Duration::from_secs(15), || control_file(&file).exists()
            && bytes_landed(&file) >= size as u64 / 3),
        "no progress within 15 s"
    );
    let killed = signal_and_wait(child, libc::SIGKILL, Duration::from_secs(15));
    assert_eq!(
        killed.code, None,
        "the throttled run should still be running"
    );
    assert!(file.exists(), "no data file after a third of the download");
    assert!(
        control_file(&file).exists(),
        "no control file after kill -9"
    );

    // Replace the remote bytes (same size) so the final file shows which
    // ranges the resumed run fetched: the new content where it read, the
    // old where the control file said the bytes were already on disk.
    let fresh = pattern(size, 6);
    srv.add_file("res.bin", &fresh);
    run(tmp.path(), &["-x4", "-s4", "-k1M", &url]).expect_code(exit::OK);
    assert!(
        !control_file(&file).exists(),
        "control file left after completion"
    );
    let got = std::fs::read(&file).unwrap();
    assert_eq!(got.len(), size);
    let mut kept = 0usize;
    for (i, b) in got.iter().enumerate() {
        assert!(
            *b == body[i] || *b == fresh[i],
            "byte {i} is neither the old nor the new content"
        );
        if *b == body[i] && *b != fresh[i] {
            kept += 1;
        }
    }
    assert!(
        kept >= 1 << 20,
        "only {kept} bytes kept from the killed run: the resumed run fetched them again"
    );
    let refetched = got.iter().zip(&fresh).filter(|(a, b)| a == b).count();
    assert!(refetched > 0, "the resumed run fetched nothing");
}

#[test]
fn remote_time_sets_mtime() {
    let srv = sshd_or_skip!();
    let path = srv.add_file("old.bin", b"old bytes");
    let when = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(when)
        .unwrap();
    let tmp = tempdir();
    run(tmp.path(), &["-R", &srv.url_with_password(&path)]).expect_code(exit::OK);
    let got = std::fs::metadata(tmp.path().join("old.bin"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(got, when);
}

#[test]
fn empty_file_and_directory() {
    let srv = sshd_or_skip!();
    let path = srv.add_file("empty.bin", b"");
    let tmp = tempdir();
    run(tmp.path(), &[&srv.url_with_password(&path)]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("empty.bin"), b"");
    let sub = srv.dir.path().join("subdir");
    std::fs::create_dir(&sub).unwrap();
    let out = run(tmp.path(), &[&srv.url_with_password(s(&sub))]);
    out.expect_code(exit::UNKNOWN);
    assert!(
        out.output().contains("not a regular file"),
        "{}",
        out.output()
    );
}

#[test]
fn closed_port_exits_1() {
    // Needs no sshd: nothing listens on the port.
    let tmp = tempdir();
    let url = format!("sftp://u:p@127.0.0.1:{}/f.bin", free_port());
    let out = run(tmp.path(), &["--max-tries=1", &url]);
    out.expect_code(exit::UNKNOWN);
    assert!(
        list_dir(tmp.path()).is_empty(),
        "{:?}",
        list_dir(tmp.path())
    );
}

#[test]
fn http_and_sftp_mirrors_serve_one_file() {
    let srv = sshd_or_skip!();
    let size = 8 << 20;
    let body = pattern(size, 7);
    let path = srv.add_file("mix.bin", &body);
    let http = arietta_testserver::TestServer::start();
    let http_url = http.add_file("/mix.bin", body.clone());
    // A slow HTTP mirror, so the SFTP one (whose handshake takes longer)
    // certainly gets segments before HTTP has taken them all.
    http.set_throttle(Some(2 << 20));
    let tmp = tempdir();
    let sftp_url = srv.url_with_password(&path);
    run(tmp.path(), &["-x2", "-s4", "-k1M", &http_url, &sftp_url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("mix.bin"), &body);
    let served = http.bytes_served("/mix.bin");
    assert!(served > 0 && served < size as u64, "HTTP served {served}");
    assert!(
        srv.log().contains("Accepted password for"),
        "the SFTP mirror was not used:\n{}",
        srv.log()
    );
}

#[test]
fn silent_server_hits_connect_timeout() {
    // Needs no sshd: a listener that never speaks (the kernel completes
    // the TCP handshake; no SSH banner ever comes).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let tmp = tempdir();
    let url = format!("sftp://u:p@127.0.0.1:{port}/f.bin");
    let started = std::time::Instant::now();
    let out = run(tmp.path(), &["--connect-timeout=1", "--max-tries=1", &url]);
    out.expect_code(exit::TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn sigint_exits_7_and_keeps_control_file() {
    let srv = sshd_or_skip!();
    let size = 8 << 20;
    let body = pattern(size, 9);
    let path = srv.add_file("int.bin", &body);
    let url = srv.url_with_password(&path);
    let tmp = tempdir();
    let file = tmp.path().join("int.bin");
    let child = spawn(
        tmp.path(),
        &["-x2", "-s2", "-k1M", "--max-download-limit=2M", &url],
    );
    // Interrupt a quarter of the way through (about a second at 2 MiB/s).
    assert!(
        wait_until(Duration::from_secs(15), || control_file(&file).exists()
            && bytes_landed(&file) >= size as u64 / 4),
        "no progress within 15 s"
    );
    signal_and_wait(child, libc::SIGINT, Duration::from_secs(15)).expect_code(exit::UNFINISHED);
    assert!(control_file(&file).exists(), "no control file after SIGINT");
    run(tmp.path(), &["-x2", "-s2", "-k1M", &url]).expect_code(exit::OK);
    assert_file_eq(&file, &body);
}

#[test]
fn netrc_supplies_user_and_password() {
    let srv = sshd_or_skip!();
    let body = pattern(300_000, 10);
    let path = srv.add_file("netrc.bin", &body);
    let tmp = tempdir();
    // The hermetic HOME is the run's working directory.
    std::fs::write(
        tmp.path().join(".netrc"),
        format!("machine 127.0.0.1 login {USER} password {PASSWORD}\n"),
    )
    .unwrap();
    let url = format!("sftp://127.0.0.1:{}{path}", srv.port);
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("netrc.bin"), &body);
}
