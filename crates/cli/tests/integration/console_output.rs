//! What the console shows, checked against aria2c on the same input: the
//! "Download Results" table (`--download-result`), the readout and the
//! "Download Progress Summary" block when stdout is not a terminal,
//! `--human-readable`, `--stderr`, and colors. Timestamps, speeds, sizes
//! and GIDs differ run to run, so lines are compared by shape.

use std::path::Path;
use std::time::Duration;

use arietta_testserver::{pattern, Route, TestServer};

use crate::support::{
    aria2c_command, require, run, strip_ansi, tempdir, wait_with_timeout, Outcome,
};

fn run_aria2c(cwd: &Path, args: &[&str]) -> Outcome {
    let mut c = aria2c_command(cwd);
    c.arg("--no-conf").args(args);
    wait_with_timeout(c.spawn().expect("spawn aria2c"), Duration::from_secs(30))
}

/// Both programs on the same arguments, arietta first.
fn both(cwd: &Path, args: &[&str]) -> (Outcome, Outcome) {
    (run(cwd, args), run_aria2c(cwd, args))
}

/// A line with its run-to-run values replaced: `#` and a GID's six hex
/// digits by `#GID`, a line-leading GID by `GID`, every number (`1.5`,
/// `1,024`) by `N`, sizes' `Ki`/`Mi`/`Gi` dropped, `ETA:…` by `ETA:T`, the
/// summary's date by `DATE`, and ANSI colors removed.
fn shape(line: &str) -> String {
    let line = strip_ansi(line);
    let line = match line.split_once(" *** Download Progress Summary as of ") {
        Some((head, rest)) => {
            let tail = rest.rsplit_once(" *** ").map_or("", |(_, t)| t);
            format!("{head} *** Download Progress Summary as of DATE *** {tail}")
        }
        None => line,
    };
    let b = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let is_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    let gid_at = |i: usize| b.len() >= i + 6 && b[i..i + 6].iter().all(|&c| is_hex(c));
    if gid_at(0) && b.get(6) == Some(&b'|') {
        out.push_str("GID");
        i = 6;
    }
    while i < b.len() {
        if b[i] == b'#' && gid_at(i + 1) {
            out.push_str("#GID");
            i += 7;
        } else if b[i].is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b',') {
                i += 1;
            }
            out.push('N');
            for unit in ["Ki", "Mi", "Gi"] {
                if line[i..].starts_with(unit) {
                    i += 2;
                }
            }
        } else if line[i..].starts_with("ETA:") {
            out.push_str("ETA:T");
            i += 4;
            while i < b.len() && (b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
        } else {
            let c = line[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// From the "Download Results:" heading to the end, by shape, each row's
/// speed cell (`n/a` when the download took under a millisecond) as
/// `SPEED`.
fn results_part(stdout: &str) -> Vec<String> {
    let at = stdout
        .find("\nDownload Results:")
        .unwrap_or_else(|| panic!("no results table in\n{stdout}"));
    stdout[at..]
        .lines()
        .map(shape)
        .map(|l| match l.strip_prefix("GID|") {
            Some(rest) => {
                let mut cells: Vec<&str> = rest.splitn(3, '|').collect();
                if cells.len() == 3 {
                    cells[1] = "SPEED";
                }
                format!("GID|{}", cells.join("|"))
            }
            None => l,
        })
        .collect()
}

fn assert_same(ours: &[String], theirs: &[String], what: &str) {
    assert_eq!(
        ours, theirs,
        "{what}: arietta's lines (left) differ from aria2c's (right)"
    );
}

#[test]
fn results_table_matches_aria2c_in_each_style() {
    if !require("aria2c") {
        return;
    }
    let srv = TestServer::start();
    let ok = srv.add_file("/ok.bin", pattern(3000, 1));
    let missing = srv.url("/missing.bin");
    let tmp = tempdir();
    for style in ["default", "full"] {
        let arg = format!("--download-result={style}");
        let (ours, theirs) = both(
            tmp.path(),
            &[
                &arg,
                "-Z",
                "-j1",
                "--allow-overwrite=true",
                "-d",
                "out",
                &ok,
                &missing,
            ],
        );
        assert_eq!(ours.code, theirs.code, "{style}\n{}", ours.output());
        let (ours, theirs) = (results_part(&ours.stdout), results_part(&theirs.stdout));
        assert_same(&ours, &theirs, style);
        assert!(
            ours.iter()
                .any(|l| l.starts_with("GID|OK  |") && l.ends_with("|out/ok.bin")),
            "{ours:?}"
        );
        assert!(
            ours.iter().any(
                |l| l.starts_with("GID|ERR |") && l.ends_with(&format!("|{}", shape(&missing)))
            ),
            "{ours:?}"
        );
        assert!(
            ours.contains(&"(OK):download completed.(ERR):error occurred.".to_owned()),
            "{ours:?}"
        );
        assert!(
            ours.iter()
                .any(|l| l.ends_with(" will resume download if the transfer is restarted.")),
            "{ours:?}"
        );
    }

    // `hide`: no table, and the note on resuming still printed.
    let (ours, theirs) = both(
        tmp.path(),
        &[
            "--download-result=hide",
            "--allow-overwrite=true",
            "-d",
            "out",
            &missing,
        ],
    );
    for o in [&ours, &theirs] {
        // Every download that ends unfinished gets aria2's notice.
        assert!(
            strip_ansi(&o.stdout).contains("[NOTICE] Download GID#")
                && o.stdout.contains(" not complete: "),
            "{}",
            o.stdout
        );
        assert!(!o.stdout.contains("Download Results"), "{}", o.stdout);
        assert!(
            o.stdout.contains("aria2 will resume download"),
            "{}",
            o.stdout
        );
    }
}

#[test]
fn results_table_lists_every_torrent_file_when_full() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    // A two-file torrent already complete on disk: both programs check it
    // and finish without a peer (`--seed-time=0`).
    let (a, b) = (pattern(40_000, 2), pattern(30_000, 3));
    let files: [(Vec<&str>, &[u8]); 2] = [(vec!["a.bin"], &a), (vec!["b.bin"], &b)];
    crate::bt_support::write_files(&tmp.path().join("out"), "t", &files);
    crate::bt_support::make_torrent("t", &files, 16_384, None).write(&tmp.path().join("t.torrent"));
    for style in ["default", "full"] {
        let arg = format!("--download-result={style}");
        let args = [
            &arg[..],
            "--seed-time=0",
            "--check-integrity=true",
            "--bt-enable-lpd=false",
            "--enable-dht=false",
            "-d",
            "out",
            "t.torrent",
        ];
        let (ours, theirs) = both(tmp.path(), &args);
        ours.expect_code(0);
        theirs.expect_code(0);
        assert_same(
            &results_part(&ours.stdout),
            &results_part(&theirs.stdout),
            style,
        );
    }
}

/// A download paced to last about three seconds.
fn slow_server() -> (TestServer, String) {
    let srv = TestServer::start();
    srv.add_route("/slow.bin", Route::new(pattern(24_000, 5)).throttle(8_000));
    let url = srv.url("/slow.bin");
    (srv, url)
}

/// Each "Download Progress Summary" block (header to its closing empty
/// line), by shape.
fn summary_blocks(stdout: &str) -> Vec<Vec<String>> {
    let lines: Vec<String> = stdout.lines().map(shape).collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].contains("*** Download Progress Summary as of DATE ***") {
            let end = lines[i..]
                .iter()
                .position(String::is_empty)
                .map_or(lines.len(), |n| i + n);
            blocks.push(lines[i..end].to_vec());
            i = end;
        }
        i += 1;
    }
    blocks
}

/// A readout line by shape without the parts that come and go with
/// timing (speed, ETA).
fn readout_shape(line: &str) -> String {
    line.replace(" DL:NB", "").replace(" ETA:T", "")
}

#[test]
fn summary_and_readout_when_stdout_is_not_a_terminal() {
    if !require("aria2c") {
        return;
    }
    let (_srv, url) = slow_server();
    let tmp = tempdir();
    let args = [
        "--summary-interval=1",
        "--allow-overwrite=true",
        "-d",
        "out",
        &url[..],
    ];
    let (ours, theirs) = both(tmp.path(), &args);
    ours.expect_code(0);
    theirs.expect_code(0);
    let (a, b) = (summary_blocks(&ours.stdout), summary_blocks(&theirs.stdout));
    assert!(!a.is_empty(), "no summary block:\n{}", ours.stdout);
    assert!(!b.is_empty(), "aria2c printed none:\n{}", theirs.stdout);
    let norm = |v: &Vec<String>| v.iter().map(|l| readout_shape(l)).collect::<Vec<_>>();
    assert_same(&norm(&a[0]), &norm(&b[0]), "summary block");
    assert_eq!(
        norm(&a[0]),
        [
            " *** Download Progress Summary as of DATE *** ".to_owned(),
            "=".repeat(79),
            "[#GID NB/NB(N%) CN:N]".to_owned(),
            "FILE: out/slow.bin".to_owned(),
            "-".repeat(79),
        ]
    );
    // Between the blocks, the readout on a line of its own every second.
    let readouts = |o: &Outcome| -> Vec<String> {
        o.stdout
            .lines()
            .filter(|l| l.starts_with("[#"))
            .map(|l| readout_shape(&shape(l)))
            .collect()
    };
    let (ra, rb) = (readouts(&ours), readouts(&theirs));
    assert!(ra.len() >= 2, "{}", ours.stdout);
    assert!(rb.len() >= 2, "{}", theirs.stdout);
    assert_eq!(ra[0], rb[0]);

    // `--summary-interval=0` and `--show-console-readout=false` silence
    // each part.
    let args = [
        "--summary-interval=0",
        "--show-console-readout=false",
        "--allow-overwrite=true",
        "-d",
        "out",
        &url[..],
    ];
    let (ours, theirs) = both(tmp.path(), &args);
    for o in [&ours, &theirs] {
        o.expect_code(0);
        assert!(!o.stdout.contains("[#"), "{}", o.stdout);
        assert!(!o.stdout.contains("Progress Summary"), "{}", o.stdout);
    }
}

#[test]
fn human_readable_false_prints_bytes() {
    if !require("aria2c") {
        return;
    }
    let (_srv, url) = slow_server();
    let tmp = tempdir();
    let args = [
        "--human-readable=false",
        "--summary-interval=0",
        "--allow-overwrite=true",
        "-d",
        "out",
        &url[..],
    ];
    let (ours, theirs) = both(tmp.path(), &args);
    for o in [&ours, &theirs] {
        o.expect_code(0);
        let line = o
            .stdout
            .lines()
            .find(|l| l.starts_with("[#"))
            .unwrap_or_else(|| panic!("{}", o.stdout));
        assert!(line.contains("/24000B("), "{line}");
    }
}

#[test]
fn stderr_moves_the_console_there() {
    let srv = TestServer::start();
    let url = srv.add_file("/e.bin", pattern(1000, 6));
    let tmp = tempdir();
    let o = run(tmp.path(), &["--stderr", "-d", "out", &url]);
    o.expect_code(0);
    assert_eq!(o.stdout, "", "stdout:\n{}", o.stdout);
    assert!(
        o.stderr.contains("Download complete: out/e.bin"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("Download Results:"), "{}", o.stderr);
}

/// `shape`, with each `[FILE:LINE]` source frame of an exception as
/// `[SRC]` (arietta names its own source there, aria2 its: see
/// `core/src/segmented/failure_lines.rs`) and a whole GID (`GID#` and 16
/// hex digits) as `GID#GID`.
fn shape_src(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    let mut line = String::new();
    while let Some(at) = rest.find("GID#") {
        let (head, tail) = rest.split_at(at + 4);
        line.push_str(head);
        let hex = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex == 16 {
            line.push_str("GID");
            rest = &tail[16..];
        } else {
            rest = tail;
        }
    }
    line.push_str(rest);
    let mut rest = line.as_str();
    while let Some(at) = rest.find('[') {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        match tail.find(']') {
            Some(end) if tail[..end].contains(".cc:") || tail[..end].contains(".rs:") => {
                out.push_str("[SRC]");
                rest = &tail[end + 1..];
            }
            _ => {
                out.push('[');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    shape(&out)
}

/// The console's lines but the readout's (which come with timing), by
/// shape, the results rows' speed cell as `SPEED` (`n/a` when a failure
/// took under a millisecond).
fn console_part(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| !l.starts_with("[#"))
        .map(shape_src)
        .map(|l| match l.strip_prefix("GID|") {
            Some(rest) => {
                let mut cells: Vec<&str> = rest.splitn(3, '|').collect();
                if cells.len() == 3 {
                    cells[1] = "SPEED";
                }
                format!("GID|{}", cells.join("|"))
            }
            None => l,
        })
        .collect()
}

/// The `-l` records a failed connection leaves (`Restarting the
/// download`, `N times attempted`, `Download aborted.` with their
/// exception lines), as (level, message) by shape; arietta's `GID#… - `
/// span prefix dropped.
fn failure_records(log: &str) -> Vec<(String, String)> {
    crate::logging::records_with_bodies(log)
        .into_iter()
        .filter_map(|(level, message)| {
            let message = match message.split_once(" - CUID#") {
                Some((gid, rest)) if gid.starts_with("GID#") => format!("CUID#{rest}"),
                _ => message,
            };
            let wanted = [
                "Restarting the download.",
                "times attempted",
                "Download aborted.",
            ];
            (message.starts_with("CUID#") && wanted.iter().any(|w| message.contains(w))).then(
                || {
                    let shaped: Vec<String> = message.lines().map(shape_src).collect();
                    (level, shaped.join("\n"))
                },
            )
        })
        .collect()
}

/// What a failed download prints, on the console and in the `-l` file,
/// against aria2c on the same input: a refused connection (five tries,
/// each logged, then "Download aborted." with the cause), a 404 and a
/// refused FTP login and a file missing on an FTP server (aborted at once,
/// the exception wrapped with the URI, the file's path named); aria2's
/// wording, `errorCode=`, layout and results table.
#[test]
fn failed_download_lines_match_aria2c() {
    if !require("aria2c") {
        return;
    }
    let ftp_root = tempdir();
    std::fs::write(ftp_root.path().join("f.bin"), pattern(1000, 2)).unwrap();
    let Some(ftpd) = crate::support::ftpd::pyftpd(ftp_root.path(), 0) else {
        return;
    };
    let srv = TestServer::start();
    let refused = format!("http://127.0.0.1:{}/x.bin", crate::support::free_port());
    let missing = srv.url("/missing.bin");
    let login = format!("ftp://alice:wrong@127.0.0.1:{}/f.bin", ftpd.port);
    let ftp_missing = format!("ftp://127.0.0.1:{}/missing.bin", ftpd.port);
    for (what, uri, code) in [
        ("refused", &refused, 1),
        ("404", &missing, 3),
        ("530", &login, 21),
        ("550", &ftp_missing, 3),
    ] {
        let tmp = tempdir();
        let log = |who: &str| tmp.path().join(format!("{who}.log"));
        let (ours, theirs) = (
            run(tmp.path(), &["-l", "ours.log", uri]),
            run_aria2c(tmp.path(), &["-l", "theirs.log", uri]),
        );
        assert_eq!(ours.code, Some(code), "{what}\n{}", ours.output());
        assert_eq!(theirs.code, Some(code), "{what}\n{}", theirs.output());
        assert_same(
            &console_part(&ours.stdout),
            &console_part(&theirs.stdout),
            what,
        );
        assert!(
            ours.stdout
                .contains(&format!("Download aborted. URI={uri}\nException: [")),
            "{what}\n{}",
            ours.stdout
        );
        let records = |who: &str| failure_records(&std::fs::read_to_string(log(who)).unwrap());
        let (ours_log, theirs_log) = (records("ours"), records("theirs"));
        assert!(!ours_log.is_empty(), "{what}: no failure records");
        assert_eq!(
            ours_log, theirs_log,
            "{what}: arietta's -l records (left) differ from aria2c's (right)"
        );
    }
}

/// A name that does not resolve: aborted at once (no retries, as aria2's
/// `DL_ABORT_EX2`), exit 19, the cause worded as aria2's
/// "CUID#n - Name resolution for HOST failed:REASON" under the URI frame.
#[test]
fn unresolvable_host_reads_like_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    let uri = "http://nosuch.invalid/x.bin";
    let (ours, theirs) = (run(tmp.path(), &[uri]), run_aria2c(tmp.path(), &[uri]));
    for (who, out) in [("arietta", &ours), ("aria2c", &theirs)] {
        assert_eq!(out.code, Some(19), "{who}\n{}", out.output());
        let lines: Vec<&str> = out.stdout.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.ends_with(&format!("Download aborted. URI={uri}")))
            .unwrap_or_else(|| panic!("{who}: no abort line\n{}", out.stdout));
        assert!(
            lines[at + 1].starts_with("Exception: [")
                && lines[at + 1].ends_with(&format!("errorCode=19 URI={uri}")),
            "{who}\n{}",
            out.stdout
        );
        assert!(
            lines[at + 2].starts_with("  -> [")
                && lines[at + 2].contains("] errorCode=19 CUID#")
                && lines[at + 2].contains(" - Name resolution for nosuch.invalid failed:"),
            "{who}\n{}",
            out.stdout
        );
    }
}
