//! Control files shared with aria2c: each program resumes the other's
//! interrupted download without fetching the recorded part again, and
//! keeps or removes `NAME.aria2` by aria2c's rules, checked against aria2c
//! on the same input.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use arietta_storage::ControlFile;
use arietta_testserver::{pattern, Route, TestServer};

use crate::support::{
    assert_file_eq, control_file, exit, list_dir, require, run, signal_and_wait, spawn, tempdir,
    wait_until, wait_with_timeout, Outcome,
};

const SIZE: usize = 8 << 20;
/// Per connection: four connections fetch 8 MiB in about 2 s.
const THROTTLE: u64 = 1 << 20;
/// The finishing run: fast, but paced so that a response abandoned at a
/// segment's end does not push megabytes into socket buffers.
const RESUME_THROTTLE: u64 = 8 << 20;
/// What a finishing run may fetch beyond the missing bytes: arietta's
/// probe (its first `-k` bytes) and in-flight pieces' partial blocks.
const SLACK: u64 = 2 << 20;
const SPLIT: [&str; 3] = ["-x4", "-s4", "-k1M"];

/// These tests throttle servers and count bytes; side by side they would
/// share the machine's time and drift.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// aria2c with a hermetic HOME, its output captured like arietta's.
fn aria2c(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("aria2c");
    c.current_dir(cwd)
        .env("HOME", cwd)
        .args(["--no-conf", "--summary-interval=0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run_aria2c(cwd: &Path, args: &[&str]) -> Outcome {
    wait_with_timeout(
        aria2c(cwd, args).spawn().expect("spawn aria2c"),
        Duration::from_secs(30),
    )
}

/// Bytes a control file records as done (either program's).
fn recorded(file: &Path) -> u64 {
    ControlFile::load(&control_file(file))
        .expect("readable control file")
        .expect("a control file")
        .completed
        .covered()
}

/// SIGINTs `child` once the server has sent `bytes` of `path`.
#[track_caller]
fn interrupt_after(srv: &TestServer, path: &str, bytes: u64, child: Child) -> Outcome {
    assert!(
        wait_until(Duration::from_secs(15), || srv.bytes_served(path) >= bytes),
        "the server never sent {bytes} bytes"
    );
    signal_and_wait(child, libc::SIGINT, Duration::from_secs(15))
}

/// One direction: `first` downloads and is interrupted midway, `second`
/// finishes with `-c`; the finish must fetch only what was missing.
fn hand_over(seed: u64, first_is_aria2c: bool) {
    let _g = serial();
    let srv = TestServer::start();
    let body = pattern(SIZE, seed);
    let url = srv.add_file("/x.bin", body.clone());
    let tmp = tempdir();
    let file = tmp.path().join("x.bin");
    srv.set_throttle(Some(THROTTLE));
    let mut args = SPLIT.to_vec();
    args.push(&url);
    let child = if first_is_aria2c {
        aria2c(tmp.path(), &args).spawn().expect("spawn aria2c")
    } else {
        spawn(tmp.path(), &args)
    };
    let out = interrupt_after(&srv, "/x.bin", 4_500_000, child);
    assert_eq!(out.code, Some(exit::UNFINISHED), "{}", out.output());
    let done = recorded(&file);
    assert!(done > 2_000_000, "only {done} bytes recorded");

    srv.reset_counters();
    srv.set_throttle(Some(RESUME_THROTTLE));
    let mut args = vec!["-c"];
    args.extend_from_slice(&SPLIT);
    args.push(&url);
    let out = if first_is_aria2c {
        run(tmp.path(), &args)
    } else {
        run_aria2c(tmp.path(), &args)
    };
    out.expect_code(exit::OK);
    assert_file_eq(&file, &body);
    assert!(!control_file(&file).exists(), "control file left behind");
    let served = srv.bytes_served("/x.bin");
    let missing = SIZE as u64 - done;
    assert!(
        served <= missing + SLACK,
        "{done} bytes were recorded, {missing} missing, but {served} were fetched"
    );
}

#[test]
fn arietta_finishes_what_aria2c_started() {
    if require("aria2c") {
        hand_over(31, true);
    }
}

#[test]
fn aria2c_finishes_what_arietta_started() {
    if require("aria2c") {
        hand_over(32, false);
    }
}

/// A file of one segment (under `2 × --min-split-size`) keeps a control
/// file too: interrupted, the next run (no `-c` needed, as aria2c) resumes
/// it in place instead of downloading into `s.1.bin`.
#[test]
fn single_segment_download_resumes_in_place() {
    let _g = serial();
    let srv = TestServer::start();
    let len = 3 << 20;
    let body = pattern(len, 33);
    let url = srv.add_file("/s.bin", body.clone());
    let tmp = tempdir();
    let file = tmp.path().join("s.bin");
    srv.set_throttle(Some(1 << 20));
    let out = interrupt_after(&srv, "/s.bin", 1_200_000, spawn(tmp.path(), &[&url]));
    out.expect_code(exit::UNFINISHED);
    let done = recorded(&file);
    assert!(done >= 1 << 20, "only {done} bytes recorded");
    srv.reset_counters();
    srv.set_throttle(Some(RESUME_THROTTLE));
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    assert_file_eq(&file, &body);
    assert_eq!(list_dir(tmp.path()), vec!["s.bin".to_owned()]);
    let served = srv.bytes_served("/s.bin");
    assert!(
        served <= len as u64 - done + SLACK,
        "{done} recorded, {served} fetched again"
    );
}

/// `--force-save` keeps the control file of a finished download, as
/// aria2c does; a rerun reads it as complete.
#[test]
fn force_save_keeps_the_finished_control_file() {
    let srv = TestServer::start();
    let body = pattern(1 << 20, 34);
    let url = srv.add_file("/f.bin", body.clone());
    for aria2 in [false, true] {
        if aria2 && !require("aria2c") {
            return;
        }
        let tmp = tempdir();
        let file = tmp.path().join("f.bin");
        let args = ["--force-save", &url];
        let out = if aria2 {
            run_aria2c(tmp.path(), &args)
        } else {
            run(tmp.path(), &args)
        };
        out.expect_code(exit::OK);
        assert_file_eq(&file, &body);
        assert!(
            control_file(&file).exists(),
            "aria2c={aria2}: no control file"
        );
        assert_eq!(recorded(&file), body.len() as u64, "aria2c={aria2}");
        // Either program's finished record: the other finishes at once.
        let out = if aria2 {
            run(tmp.path(), &[&url])
        } else {
            run_aria2c(tmp.path(), &[&url])
        };
        out.expect_code(exit::OK);
        assert_file_eq(&file, &body);
        assert!(!tmp.path().join("f.1.bin").exists(), "aria2c={aria2}");
    }
}

/// The server's file is now of another length than the control file
/// records: aria2c fails with exit 1 ("total length mismatch") and leaves
/// both files alone; arietta must too, never truncating the partial file.
#[test]
fn total_length_mismatch_fails_and_truncates_nothing() {
    if !require("aria2c") {
        return;
    }
    let _g = serial();
    let srv = TestServer::start();
    let url = srv.add_file("/m.bin", pattern(SIZE, 35));
    let tmp = tempdir();
    let file = tmp.path().join("m.bin");
    srv.set_throttle(Some(THROTTLE));
    let mut args = SPLIT.to_vec();
    args.push(&url);
    interrupt_after(&srv, "/m.bin", 3_000_000, spawn(tmp.path(), &args))
        .expect_code(exit::UNFINISHED);
    srv.set_throttle(None);
    srv.add_route("/m.bin", Route::new(pattern(SIZE - 1_000_000, 36)));
    let ctrl = std::fs::read(control_file(&file)).unwrap();
    let data = std::fs::read(&file).unwrap();
    let mut args = vec!["-c"];
    args.extend_from_slice(&SPLIT);
    args.push(&url);
    for aria2 in [true, false] {
        let out = if aria2 {
            run_aria2c(tmp.path(), &args)
        } else {
            run(tmp.path(), &args)
        };
        out.expect_code(exit::UNKNOWN);
        assert!(
            out.output().contains("total length mismatch"),
            "aria2c={aria2}: {}",
            out.output()
        );
        assert_eq!(std::fs::read(&file).unwrap(), data, "aria2c={aria2}");
        assert_eq!(
            std::fs::read(control_file(&file)).unwrap(),
            ctrl,
            "aria2c={aria2}"
        );
    }
}

/// A one-segment download cut off by the server (`--max-tries=1`) keeps
/// its control file like an interrupted one, and the next run continues
/// it in place.
#[test]
fn cut_single_segment_download_keeps_its_record() {
    let _g = serial();
    let srv = TestServer::start();
    let len = 2 << 20;
    let body = pattern(len, 37);
    let route = || Route::new(body.clone()).no_validators();
    srv.add_route("/c.bin", route().truncate_after(1_300_000));
    let url = srv.url("/c.bin");
    let tmp = tempdir();
    let file = tmp.path().join("c.bin");
    run(tmp.path(), &["--max-tries=1", &url]).expect_failure();
    let done = recorded(&file);
    assert!(done >= 1 << 20, "only {done} bytes recorded");
    srv.add_route("/c.bin", route());
    srv.reset_counters();
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    assert_file_eq(&file, &body);
    assert_eq!(list_dir(tmp.path()), vec!["c.bin".to_owned()]);
    let served = srv.bytes_served("/c.bin");
    assert!(
        served <= len as u64 - done + SLACK,
        "{done} recorded, {served} fetched"
    );
}

/// The server no longer serves ranges: with `--always-resume` (default)
/// aria2c aborts with exit 8 ("Invalid range header") and keeps both
/// files; arietta does the same, and with `--always-resume=false` starts
/// over and finishes.
#[test]
fn always_resume_refuses_to_start_over() {
    if !require("aria2c") {
        return;
    }
    let _g = serial();
    let srv = TestServer::start();
    let body = pattern(SIZE, 38);
    srv.add_route("/a.bin", Route::new(body.clone()).no_validators());
    let url = srv.url("/a.bin");
    let tmp = tempdir();
    let file = tmp.path().join("a.bin");
    srv.set_throttle(Some(THROTTLE));
    let mut args = SPLIT.to_vec();
    args.push(&url);
    interrupt_after(&srv, "/a.bin", 3_000_000, spawn(tmp.path(), &args))
        .expect_code(exit::UNFINISHED);
    srv.set_throttle(None);
    srv.add_route(
        "/a.bin",
        Route::new(body.clone()).no_validators().no_range(),
    );
    let done = recorded(&file);
    let data = std::fs::read(&file).unwrap();
    for aria2 in [true, false] {
        let out = if aria2 {
            run_aria2c(tmp.path(), &["-c", &url])
        } else {
            run(tmp.path(), &["-c", &url])
        };
        out.expect_code(exit::NO_RESUME);
        assert!(
            out.output().contains("Invalid range header"),
            "aria2c={aria2}: {}",
            out.output()
        );
        assert_eq!(std::fs::read(&file).unwrap(), data, "aria2c={aria2}");
        // aria2c saves the record again as it stops (without arietta's
        // trailer): the same progress.
        assert_eq!(recorded(&file), done, "aria2c={aria2}");
    }
    run(tmp.path(), &["-c", "--always-resume=false", &url]).expect_code(exit::OK);
    assert_file_eq(&file, &body);
    assert!(!control_file(&file).exists());
}
