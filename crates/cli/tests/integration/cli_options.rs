//! Option handling as a user meets it: bad options (28), config files,
//! `--help`, `-v`, a missing URI, and `--stop`/`--stop-with-process`
//! halting a run as a first Ctrl-C would.

use crate::support::{assert_file_eq, exit, require, run, run_raw, s, strip_ansi, tempdir};
use arietta_testserver::{pattern, TestServer};

#[test]
fn unknown_option_exits_28_and_names_it() {
    let tmp = tempdir();
    let out = run(tmp.path(), &["--foo", "http://127.0.0.1:1/x"]);
    out.expect_code(exit::BAD_OPTION);
    assert!(out.stderr.contains("foo"), "stderr: {}", out.stderr);
}

#[test]
fn out_of_range_value_exits_28() {
    let tmp = tempdir();
    let out = run(tmp.path(), &["-x", "99", "http://127.0.0.1:1/x"]);
    out.expect_code(exit::BAD_OPTION);
    let out = run(tmp.path(), &["--split=0", "http://127.0.0.1:1/x"]);
    out.expect_code(exit::BAD_OPTION);
    let out = run(tmp.path(), &["--min-split-size=1K", "http://127.0.0.1:1/x"]);
    out.expect_code(exit::BAD_OPTION);
}

#[test]
fn malformed_value_exits_28() {
    let tmp = tempdir();
    run(tmp.path(), &["--max-tries=abc", "http://127.0.0.1:1/x"]).expect_code(exit::BAD_OPTION);
    run(
        tmp.path(),
        &["--allow-overwrite=maybe", "http://127.0.0.1:1/x"],
    )
    .expect_code(exit::BAD_OPTION);
}

#[test]
fn conf_path_options_apply() {
    let srv = TestServer::start();
    let body = pattern(4 << 20, 1);
    let url = srv.add_file("/c.bin", body.clone());
    let tmp = tempdir();
    let conf = tmp.path().join("my.conf");
    std::fs::write(
        &conf,
        "# comment\nsplit=2\nmax-connection-per-server=2\nmin-split-size=1M\n\
         user-agent=from-conf/1.0\ndir=conf-dir\n",
    )
    .unwrap();
    run_raw(tmp.path(), &[&format!("--conf-path={}", s(&conf)), &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("conf-dir/c.bin"), &body);
    let reqs = srv.requests("/c.bin");
    assert!(reqs
        .iter()
        .all(|r| r.header("user-agent") == Some("from-conf/1.0")));
    let conns: std::collections::HashSet<u64> = reqs.iter().map(|r| r.connection).collect();
    assert!(
        conns.len() >= 2,
        "split=2 from the conf file: {} connections",
        conns.len()
    );
}

#[test]
fn command_line_overrides_conf_file() {
    let srv = TestServer::start();
    let body = pattern(10_000, 2);
    let url = srv.add_file("/c.bin", body.clone());
    let tmp = tempdir();
    let conf = tmp.path().join("my.conf");
    std::fs::write(&conf, "user-agent=from-conf\n").unwrap();
    run_raw(
        tmp.path(),
        &[
            &format!("--conf-path={}", s(&conf)),
            "--user-agent=from-cli",
            &url,
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("c.bin"), &body);
    assert_eq!(
        srv.requests("/c.bin")[0].header("user-agent"),
        Some("from-cli")
    );
}

#[test]
fn missing_conf_path_exits_1() {
    let tmp = tempdir();
    let out = run_raw(
        tmp.path(),
        &[
            "--conf-path=/nonexistent/arietta.conf",
            "http://127.0.0.1:1/x",
        ],
    );
    // aria2c 1.36: "Configuration file … is not found.", exit 1.
    out.expect_code(exit::UNKNOWN);
}

#[test]
fn bad_line_in_conf_file_exits_28() {
    // A bad value (aria2c: "Parse error", 28); an unknown name only warns.
    let tmp = tempdir();
    let conf = tmp.path().join("bad.conf");
    std::fs::write(&conf, "split=2\nmax-tries=abc\n").unwrap();
    run_raw(
        tmp.path(),
        &[&format!("--conf-path={}", s(&conf)), "http://127.0.0.1:1/x"],
    )
    .expect_code(exit::BAD_OPTION);
}

#[test]
fn help_exits_0() {
    let tmp = tempdir();
    let out = run(tmp.path(), &["--help"]);
    out.expect_code(exit::OK);
    assert!(
        out.stdout.to_lowercase().contains("usage"),
        "{}",
        out.stdout
    );
    run(tmp.path(), &["-h"]).expect_code(exit::OK);
}

#[test]
fn version_exits_0() {
    let tmp = tempdir();
    let out = run(tmp.path(), &["-v"]);
    out.expect_code(exit::OK);
    assert!(out.stdout.contains("version"), "{}", out.stdout);
    run(tmp.path(), &["--version"]).expect_code(exit::OK);
}

/// `-v`'s configuration lines as aria2c 1.36 prints them: the same
/// features, hash algorithms (each one `--checksum` computes) and system.
#[test]
fn version_lists_features_like_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    let ours = run(tmp.path(), &["-v"]);
    let theirs = crate::support::aria2c_command(tmp.path())
        .arg("-v")
        .output()
        .unwrap();
    let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
    for key in ["Enabled Features: ", "Hash Algorithms: ", "System: "] {
        let line = |text: &str| text.lines().find(|l| l.starts_with(key)).map(str::to_owned);
        assert_eq!(line(&ours.stdout), line(&theirs), "{key}\n{}", ours.stdout);
        assert!(line(&ours.stdout).is_some(), "{}", ours.stdout);
    }
    assert!(
        ours.stdout.contains("\n** Configuration **\n"),
        "{}",
        ours.stdout
    );
    // The configuration block in aria2c's order and layout: each key once,
    // the compiler followed by its `built by` and `on` lines.
    let keys = |text: &str| -> Vec<String> {
        let block = text.split("** Configuration **\n").nth(1).unwrap_or("");
        block
            .lines()
            .take_while(|l| !l.is_empty())
            .map(|l| match l.split_once(": ") {
                Some((k, _)) if !l.starts_with(' ') => k.to_owned(),
                _ => l.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
            })
            .map(|k| {
                if k.starts_with("on ") {
                    "on".to_owned()
                } else {
                    k
                }
            })
            .collect()
    };
    assert_eq!(keys(&ours.stdout), keys(&theirs), "{}", ours.stdout);
    let libs = ours
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Libraries: "))
        .unwrap_or_default();
    for lib in ["rustls/", "h2/", "glommio/", "sqlite3/", "libssh2/"] {
        assert!(libs.contains(lib), "{libs}");
    }
    assert!(
        ours.stdout.contains("\nCompiler: rustc "),
        "{}",
        ours.stdout
    );
}

/// `--checksum=adler32=…`, which aria2 accepts and `-v` lists, is checked.
#[test]
fn adler32_checksum_is_verified() {
    let srv = TestServer::start();
    let url = srv.add_file("/h.txt", b"hello".to_vec());
    let tmp = tempdir();
    run(
        tmp.path(),
        &["--checksum=adler32=062c0215", "-o", "a", &url],
    )
    .expect_code(exit::OK);
    run(
        tmp.path(),
        &["--checksum=adler32=062c0216", "-o", "b", &url],
    )
    .expect_code(exit::CHECKSUM);
}

#[test]
fn no_uri_fails() {
    let tmp = tempdir();
    let out = run(tmp.path(), &[]);
    out.expect_failure();
}

#[test]
fn console_log_level_filters_notices_and_log_file_records_them() {
    let srv = TestServer::start();
    let body = pattern(10_000, 9);
    let url = srv.add_file("/l.bin", body.clone());
    let tmp = tempdir();
    let shown = run(tmp.path(), &["-o", "a.bin", &url]);
    shown.expect_code(exit::OK);
    assert!(
        strip_ansi(&shown.stdout).contains("[NOTICE] Download complete"),
        "{}",
        shown.stdout
    );

    let log = tmp.path().join("arietta.log");
    let hidden = run(
        tmp.path(),
        &[
            "--console-log-level=warn",
            &format!("--log={}", s(&log)),
            "-o",
            "b.bin",
            &url,
        ],
    );
    hidden.expect_code(exit::OK);
    assert!(
        !strip_ansi(&hidden.stdout).contains("[NOTICE]"),
        "{}",
        hidden.stdout
    );
    assert!(
        hidden.stdout.contains("Download Results"),
        "{}",
        hidden.stdout
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    // aria2's log line names its source: `[NOTICE] [core/….rs:N] Download complete`.
    assert!(
        logged
            .lines()
            .any(|l| l.contains("[NOTICE] [") && l.contains("] Download complete")),
        "{logged}"
    );
    assert_file_eq(&tmp.path().join("b.bin"), &body);
}

/// arietta under `script`'s pseudo-terminal sized `cols` wide, after
/// `args`; its output split at the readout's `\r`s.
fn on_a_tty(cols: u32, args: &str) -> Vec<String> {
    let cmd = format!(
        "stty cols {cols}; {} --no-conf {args}",
        env!("CARGO_BIN_EXE_arietta"),
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split('\r')
        .map(str::to_owned)
        .collect()
}

/// On a terminal the readout is one line redrawn in place with `\r`, in
/// aria2's shape: `[#2089b0 400KiB/33MiB(1%) CN:16 DL:115MiB ETA:4m51s]`,
/// colored unless `--enable-color=false`, cut to the terminal's width
/// less one unless `--truncate-console-readout=false`.
#[test]
fn readout_redraws_one_line_on_a_tty() {
    if !require("script") {
        return;
    }
    let srv = TestServer::start();
    let url = srv.add_file("/tty.bin", pattern(3 << 20, 4));
    // 3 s at 2 x 512 KiB/s: a readout a second in still has seconds left
    // (aria2 shows no ETA under one).
    srv.set_throttle(Some(512 << 10));
    let tmp = tempdir();
    let args = format!(
        "-x2 -s2 -k1M --allow-overwrite=true -d {} {url}",
        s(tmp.path())
    );
    let pieces = on_a_tty(200, &args);
    let readout = pieces
        .iter()
        .find(|l| l.contains("#") && l.contains("CN:") && l.contains("ETA:"))
        .unwrap_or_else(|| panic!("no readout in {pieces:?}"));
    // aria2's colors: magenta brackets, cyan percentage, green speed.
    assert!(readout.starts_with("\x1b[35m[\x1b[0m#"), "{readout:?}");
    assert!(readout.contains("\x1b[36m("), "{readout:?}");
    assert!(readout.contains("DL:\x1b[32m"), "{readout:?}");
    let plain = strip_ansi(readout);
    assert!(plain.starts_with("[#"), "{plain}");
    assert!(plain.contains("/3.0MiB("), "{plain}");
    assert!(plain.contains("ETA:"), "{plain}");

    let pieces = on_a_tty(200, &format!("--enable-color=false {args}"));
    let readout = pieces
        .iter()
        .find(|l| l.starts_with("[#") && l.contains("DL:"))
        .unwrap_or_else(|| panic!("no readout in {pieces:?}"));
    assert!(!readout.contains('\x1b'), "{readout:?}");

    // 20 columns: the readout is cut to 19 characters.
    let readouts = |pieces: &[String]| -> Vec<String> {
        pieces
            .iter()
            .map(|l| strip_ansi(l).trim_end().to_owned())
            .filter(|l| l.starts_with("[#"))
            .collect()
    };
    let cut = readouts(&on_a_tty(20, &args));
    assert!(
        !cut.is_empty() && cut.iter().all(|l| l.len() <= 19),
        "{cut:?}"
    );
    let whole = readouts(&on_a_tty(
        20,
        &format!("--truncate-console-readout=false {args}"),
    ));
    assert!(whole.iter().any(|l| l.ends_with(']')), "{whole:?}");
}

/// aria2c warns "Unknown option: LINE" for an unknown key in aria2.conf or
/// an `-i` file and downloads anyway (exit 0); checked against aria2c 1.36.
#[test]
fn unknown_keys_in_conf_and_input_files_warn_and_go_on() {
    let srv = TestServer::start();
    let body = pattern(64 << 10, 3);
    let url = srv.add_file("/u.bin", body.clone());
    let tmp = tempdir();
    let conf = tmp.path().join("a.conf");
    std::fs::write(&conf, "nosuch-option=1\nsplit=2\n").unwrap();
    let list = tmp.path().join("list.txt");
    std::fs::write(&list, format!("{url}\n  nosuch=3\n  out=renamed.bin\n")).unwrap();
    let out = run_raw(
        tmp.path(),
        &[&format!("--conf-path={}", s(&conf)), "-i", s(&list)],
    );
    out.expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("renamed.bin"), &body);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("Unknown option: nosuch-option=1"), "{all}");
    assert!(all.contains("Unknown option:   nosuch=3"), "{all}");
}

/// Runs `program` (arietta or aria2c) on a crawling download with `extra`
/// options; its exit code, how long it ran, and whether it left the
/// control file.
fn halted_run(program: &str, extra: &[&str]) -> (Option<i32>, std::time::Duration, bool) {
    use arietta_testserver::Route;
    let srv = TestServer::start();
    srv.add_route(
        "/slow.bin",
        Route::new(pattern(4 << 20, 3)).throttle(64 << 10),
    );
    let tmp = tempdir();
    let started = std::time::Instant::now();
    let out = std::process::Command::new(program)
        .current_dir(tmp.path())
        .env("HOME", tmp.path())
        .args(["--no-conf", "--summary-interval=0"])
        .args(extra)
        .arg(srv.url("/slow.bin"))
        .output()
        .expect("runs");
    let control = tmp.path().join("slow.bin.aria2").exists();
    (out.status.code(), started.elapsed(), control)
}

#[test]
fn stop_after_seconds_halts_like_ctrl_c() {
    let arietta = env!("CARGO_BIN_EXE_arietta");
    let (code, took, control) = halted_run(arietta, &["--stop=1"]);
    assert_eq!(code, Some(exit::UNFINISHED));
    assert!(control, "the control file should be kept to resume");
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    if require("aria2c") {
        let (a2, _, a2_control) = halted_run("aria2c", &["--stop=1"]);
        assert_eq!((code, control), (a2, a2_control), "aria2c differs");
    }
}

#[test]
fn stop_with_process_halts_when_the_process_ends() {
    let run_watching = |program: &str| {
        let mut child = std::process::Command::new("sleep")
            .arg("1")
            .spawn()
            .expect("sleep runs");
        let pid = child.id().to_string();
        // Reaped as soon as it ends: a zombie would still be in /proc.
        let reaper = std::thread::spawn(move || child.wait());
        let flag = format!("--stop-with-process={pid}");
        let r = halted_run(program, &[&flag]);
        let _ = reaper.join();
        r
    };
    let (code, took, control) = run_watching(env!("CARGO_BIN_EXE_arietta"));
    assert_eq!(code, Some(exit::UNFINISHED));
    assert!(control);
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    if require("aria2c") {
        let (a2, _, a2_control) = run_watching("aria2c");
        assert_eq!((code, control), (a2, a2_control), "aria2c differs");
    }
}

/// Options that cannot act in arietta warn once when given a value of
/// their own (not when set to their default), and `--help` says so.
#[test]
fn inapplicable_options_warn_and_say_so_in_help() {
    let srv = TestServer::start();
    let url = srv.add_file("/w.bin", pattern(1_000, 3));
    let tmp = tempdir();
    let out = run(
        tmp.path(),
        &[
            "--enable-mmap=true",
            "--event-poll=epoll",
            "--disk-cache=64M",
            &url,
        ],
    );
    out.expect_code(exit::OK);
    let all = out.output();
    assert!(
        all.contains("--enable-mmap has no effect in arietta: "),
        "{all}"
    );
    assert!(
        all.contains("--disk-cache has no effect in arietta: "),
        "{all}"
    );
    assert_eq!(all.matches("has no effect in arietta").count(), 2, "{all}");

    let help = run(tmp.path(), &["--help=mmap"]);
    help.expect_code(exit::OK);
    assert!(
        help.stdout
            .contains("No effect in arietta: pieces are written"),
        "{}",
        help.stdout
    );
}

/// What aria2c and arietta print on stderr for a mistake before anything
/// starts, from the top down to the option's usage (whose description is
/// arietta's own wording), with each `[FILE:LINE]` frame (aria2's `.cc`,
/// arietta's `.rs`) masked: the exception traces, "Parse error in",
/// "Exception caught", "Did you mean", and -P's pattern errors.
#[test]
fn early_error_text_matches_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    let dir = tmp.path();
    std::fs::write(dir.join("bad.conf"), "split=0\n").unwrap();
    std::fs::write(dir.join("list.txt"), "http://127.0.0.1:1/x\n  split=0\n").unwrap();
    let cases: &[&[&str]] = &[
        &["--no-conf", "--split=0", "http://127.0.0.1:1/x"],
        &["--no-conf", "-T", "nosuch.torrent"],
        &["--conf-path=bad.conf", "http://127.0.0.1:1/x"],
        &["--no-conf", "-i", "list.txt"],
        &["--no-conf", "--spilt=3", "http://127.0.0.1:1/x"],
        &["--no-conf", "--nosuch", "http://127.0.0.1:1/x"],
        &["--no-conf", "-P", "http://127.0.0.1:1/{a,b"],
        &["--no-conf", "-P", "http://127.0.0.1:1/[1-2:x]"],
        &["--no-conf", "-P", "http://127.0.0.1:1/[a-3]"],
        &[
            "--conf-path=/nonexistent/aria2.conf",
            "http://127.0.0.1:1/x",
        ],
    ];
    // `[AbstractOptionHandler.cc:69]`, `[options/error.rs:188]` → `[]`;
    // the text from the first description line on is each program's own.
    let shape = |stderr: &str| -> Vec<String> {
        let mut out = Vec::new();
        for line in stderr.lines() {
            let masked = match (line.find('['), line.find("] errorCode=")) {
                (Some(a), Some(b)) if a < b => format!("{}[{}", &line[..a], &line[b..]),
                _ => line.to_owned(),
            };
            if line.starts_with(" -") || line.starts_with("Printing options tagged") {
                break;
            }
            out.push(masked);
        }
        // "Did you mean" follows the usage line; keep it whatever its place.
        if let Some(i) = stderr.find("Did you mean:") {
            out.extend(stderr[i..].lines().map(str::to_owned));
        }
        out
    };
    for args in cases {
        let mut ours = crate::support::command(dir);
        let ours = ours.args(*args).output().unwrap();
        let mut theirs = crate::support::aria2c_command(dir);
        let theirs = theirs.args(*args).output().unwrap();
        let (o, t) = (
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr),
        );
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{args:?}\n{o}\n---\n{t}"
        );
        let (mut so, mut st) = (shape(&o), shape(&t));
        if args.contains(&"--nosuch") {
            // Equally close names come in aria2's heap order there.
            so.sort();
            st.sort();
        }
        assert_eq!(so, st, "{args:?}\n--- arietta\n{o}\n--- aria2c\n{t}");
    }
}
