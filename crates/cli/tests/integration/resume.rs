//! Interrupted downloads: `kill -9` at several moments and SIGINT, then
//! `-c` must finish a byte-identical file without re-fetching the segments
//! the control file recorded as done.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::support::{
    assert_file_eq, control_file, exit, run, signal_and_wait, spawn, tempdir, wait_until,
    wait_with_timeout, Outcome,
};
use arietta_testserver::{pattern, Route, TestServer};

const SIZE: usize = 8 << 20;
const CONNECTIONS: u64 = 4;
/// Per connection: 4 connections ≈ 4 MiB/s, so 8 MiB takes ~2 s.
const THROTTLE: u64 = 1 << 20;
/// The resume run is effectively unthrottled (8 MiB/s per connection, so
/// it takes well under a second) but still paced: an unpaced server pushes
/// megabytes into loopback socket buffers for a response the client
/// abandons at its segment's end, and those would be counted as "served".
const RESUME_THROTTLE: u64 = 8 << 20;
const PIECE_SLACK: u64 = 256 << 10;
const SLACK: u64 = 2 << 20;

/// These tests throttle the server and count what it served; running them
/// side by side would share one throttle's pacing between two downloads.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const SPLIT_ARGS: [&str; 3] = ["-x4", "-s4", "-k1M"];

fn byte_budget(runs: u64) -> u64 {
    SIZE as u64 + runs * CONNECTIONS * PIECE_SLACK + SLACK
}

/// Waits until the server has sent at least `bytes` of `/r.bin` (panics
/// after 15 s): the moment to interrupt a run, by progress, not by clock.
#[track_caller]
fn wait_served(srv: &TestServer, bytes: u64) {
    assert!(
        wait_until(Duration::from_secs(15), || srv.bytes_served("/r.bin")
            >= bytes),
        "the server never sent {bytes} bytes (sent {})",
        srv.bytes_served("/r.bin")
    );
}

/// A throttled split download of `/r.bin`, interrupted with a signal once
/// the server has sent a given number of bytes.
struct Interrupted {
    srv: TestServer,
    body: Vec<u8>,
    url: String,
    tmp: tempfile::TempDir,
    /// The interrupted run's outcome.
    out: Outcome,
}

impl Interrupted {
    fn new(seed: u64, after: u64, signal: i32) -> Interrupted {
        Interrupted::new_with(seed, after, signal, &[])
    }

    /// [`Interrupted::new`] with extra options (given after the defaults).
    fn new_with(seed: u64, after: u64, signal: i32, extra: &[&str]) -> Interrupted {
        let srv = TestServer::start();
        let body = pattern(SIZE, seed);
        let url = srv.add_file("/r.bin", body.clone());
        let tmp = tempdir();
        srv.set_throttle(Some(THROTTLE));
        let mut a = SPLIT_ARGS.to_vec();
        a.extend_from_slice(extra);
        a.push(&url);
        let child = spawn(tmp.path(), &a);
        wait_served(&srv, after);
        let out = signal_and_wait(child, signal, Duration::from_secs(15));
        Interrupted {
            srv,
            body,
            url,
            tmp,
            out,
        }
    }

    fn file(&self) -> PathBuf {
        self.tmp.path().join("r.bin")
    }

    fn served(&self) -> u64 {
        self.srv.bytes_served("/r.bin")
    }

    /// Runs `-c` (effectively unthrottled); panics unless the file ends
    /// byte-identical with no control file left.
    fn resume(&self) {
        self.srv.set_throttle(Some(RESUME_THROTTLE));
        let mut a = vec!["-c"];
        a.extend_from_slice(&SPLIT_ARGS);
        a.push(&self.url);
        run(self.tmp.path(), &a).expect_code(exit::OK);
        assert_file_eq(&self.file(), &self.body);
        assert!(
            !control_file(&self.file()).exists(),
            "control file left after completion"
        );
    }
}

/// One trial: a throttled run killed with `signal` once the server has
/// sent `after` bytes, then an unthrottled `-c` run. Returns the
/// interrupted run's exit code.
fn interrupt_then_resume(seed: u64, after: u64, signal: i32) -> Option<i32> {
    let trial = Interrupted::new(seed, after, signal);
    let served_first = trial.served();
    assert!(
        trial.out.code != Some(0),
        "throttled run finished before the interrupt at {after} bytes; served {served_first}"
    );
    if trial.file().exists() {
        assert!(
            control_file(&trial.file()).exists(),
            "interrupted at {after} bytes: data file without control file"
        );
    }
    trial.resume();
    let total = trial.served();
    assert!(
        total <= byte_budget(2),
        "interrupted at {after} bytes: {served_first} bytes before, {total} in all; \
         budget {} — completed segments were fetched again",
        byte_budget(2)
    );
    trial.out.code
}

#[test]
fn kill_9_at_several_moments_then_resume() {
    let _g = serial();
    // Early, halfway and late (about 0.35, 1.05 and 1.7 s at 4 MiB/s):
    // fixed points of progress so failures reproduce.
    for (i, at) in [1_400_000u64, 4_200_000, 6_800_000].into_iter().enumerate() {
        let code = interrupt_then_resume(100 + i as u64, at, libc::SIGKILL);
        assert_eq!(code, None, "SIGKILL should end the process by signal");
    }
}

#[test]
fn kill_9_leaves_control_file() {
    let _g = serial();
    // A few megabytes in (about 1.2 s at 4 MiB/s).
    let trial = Interrupted::new(7, 4_800_000, libc::SIGKILL);
    assert!(trial.file().exists(), "no data file after 4.8 MB were sent");
    assert!(
        control_file(&trial.file()).exists(),
        "no control file after kill -9"
    );
}

/// With `-l` a log-writer thread starts before the signal thread: Ctrl-C
/// must still reach only the signal thread (it once killed the process on
/// the spot, no control file saved).
#[test]
fn sigint_with_a_log_file_still_stops_gracefully() {
    let _g = serial();
    let log = tempdir();
    let log_path = log.path().join("run.log");
    let log_arg = log_path.to_str().unwrap();
    let trial = Interrupted::new_with(9, 3_600_000, libc::SIGINT, &["-l", log_arg]);
    trial.out.expect_code(exit::UNFINISHED);
    assert!(
        control_file(&trial.file()).exists(),
        "SIGINT with -l should save the control file"
    );
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(text.contains("Shutdown sequence commencing"), "{text}");
    trial.resume();
}

#[test]
fn sigint_exits_7_keeps_control_file_and_resumes() {
    let _g = serial();
    // About 0.9 s in at 4 MiB/s.
    let trial = Interrupted::new(8, 3_600_000, libc::SIGINT);
    trial.out.expect_code(exit::UNFINISHED);
    assert!(
        control_file(&trial.file()).exists(),
        "SIGINT should save the control file"
    );
    let served_first = trial.served();
    assert!(served_first > 0 && served_first < SIZE as u64);
    trial.resume();
    // A graceful stop records exactly what was written: only in-flight
    // pieces may be fetched twice.
    let total = trial.served();
    assert!(
        total <= SIZE as u64 + CONNECTIONS * PIECE_SLACK + SLACK,
        "{served_first} before SIGINT, {total} in all"
    );
}

#[test]
fn sigterm_is_graceful_too() {
    let _g = serial();
    // About 0.7 s in at 4 MiB/s.
    let trial = Interrupted::new(9, 2_800_000, libc::SIGTERM);
    trial.out.expect_code(exit::UNFINISHED);
    assert!(control_file(&trial.file()).exists());
}

#[test]
fn resume_after_remote_file_changed_starts_over() {
    // The control file remembers the entity's validator (ETag); a server
    // that now holds different bytes must not have them spliced onto old ones.
    let _g = serial();
    let srv = TestServer::start();
    let old = pattern(2 << 20, 10);
    let new = pattern(2 << 20, 11);
    srv.add_route("/r.bin", Route::new(old).truncate_after(700 << 10));
    let tmp = tempdir();
    let url = srv.url("/r.bin");
    let file = tmp.path().join("r.bin");
    run(tmp.path(), &["-x2", "-s2", "-k1M", "--max-tries=1", &url]).expect_failure();
    assert!(
        control_file(&file).exists(),
        "cut-off split run left no control file"
    );
    // Re-registering gives the body a new ETag.
    srv.add_route("/r.bin", Route::new(new.clone()));
    run(tmp.path(), &["-c", "-x2", "-s2", "-k1M", &url]).expect_code(exit::OK);
    assert_file_eq(&file, &new);
}

/// `--always-resume` and `--max-resume-failure-tries` with mirrors that
/// cannot resume (no ranges), aria2c and arietta on the same record: the
/// exit code, and whether the download resumed (the ranged mirror sent
/// about the missing part) or started over (the whole file sent again).
#[test]
fn mirrors_without_ranges_and_always_resume_match_aria2c() {
    if !crate::support::require("aria2c") {
        return;
    }
    let _g = serial();
    const LEN: usize = 8 << 20;
    const DONE: u64 = 6 << 20;
    let body = pattern(LEN, 51);
    let srv = TestServer::start();
    for m in ["n1", "n2"] {
        let r = Route::new(body.clone()).no_range().no_validators();
        srv.add_route(&format!("/{m}/a.bin"), r);
    }
    // Paced, so that a probe's abandoned answer does not push megabytes
    // into socket buffers and pass for a fresh start.
    srv.add_route(
        "/r/a.bin",
        Route::new(body.clone()).no_validators().throttle(8 << 20),
    );
    let url = |m: &str| srv.url(&format!("/{m}/a.bin"));
    // (extra options, mirrors, exit code, resumed)
    let cases: [(&[&str], [&str; 2], i32, bool); 4] = [
        (&["--always-resume=false"], ["n1", "r"], exit::OK, true),
        (
            &["--always-resume=false", "--max-resume-failure-tries=1"],
            ["n1", "r"],
            exit::OK,
            false,
        ),
        (&[], ["n1", "n2"], exit::NO_RESUME, false),
        (&["--always-resume=false"], ["n1", "n2"], exit::OK, false),
    ];
    for (extra, mirrors, want, resumed) in cases {
        for aria2 in [true, false] {
            let tmp = tempdir();
            let file = tmp.path().join("a.bin");
            std::fs::write(&file, &body[..DONE as usize]).unwrap();
            let mut done = arietta_storage::RangeSet::new();
            done.insert(0, DONE);
            arietta_storage::ControlFile::new(LEN as u64, done, None)
                .save(&control_file(&file))
                .unwrap();
            srv.reset_counters();
            let (u1, u2) = (url(mirrors[0]), url(mirrors[1]));
            let mut args = vec!["--no-conf", "-s1", "-x1", "--max-tries=1"];
            args.extend_from_slice(extra);
            args.extend([u1.as_str(), u2.as_str()]);
            let mut cmd = if aria2 {
                crate::support::aria2c_command(tmp.path())
            } else {
                crate::support::command(tmp.path())
            };
            let out = wait_with_timeout(cmd.args(&args).spawn().unwrap(), Duration::from_secs(30));
            let what = format!("aria2c={aria2} {extra:?} {mirrors:?}\n{}", out.output());
            assert_eq!(out.code, Some(want), "{what}");
            if want != exit::OK {
                // Kept (aria2c may have grown the file to its length).
                let kept = std::fs::read(&file).unwrap();
                let head = kept.get(..DONE as usize);
                assert!(head == Some(&body[..DONE as usize]), "{what}");
                assert!(control_file(&file).exists(), "{what}");
                continue;
            }
            assert_file_eq(&file, &body);
            let served = srv.total_bytes_served();
            let from_r = srv.bytes_served("/r/a.bin");
            if resumed {
                let ranges: Vec<_> = srv
                    .requests("/r/a.bin")
                    .iter()
                    .map(|r| r.range().map(str::to_owned))
                    .collect();
                assert!(from_r < 5 << 20, "{from_r} from r {ranges:?}: {what}");
            } else {
                assert!(served >= LEN as u64, "{served} served: {what}");
            }
        }
    }
}
