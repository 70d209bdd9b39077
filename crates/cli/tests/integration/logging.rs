//! `-l/--log`, `--log-level`, `--console-log-level` and `-q` end to end:
//! the log file's lines in aria2c's format, each output filtered by its
//! own level, and the console quiet when asked.

use crate::support::{assert_file_eq, exit, run, s, strip_ansi, tempdir};
use arietta_testserver::{pattern, TestServer};

/// Splits an aria2 log-file record line into (level, source, message);
/// `None` for a line that does not start a record (the continuation of a
/// multi-line message such as an HTTP head).
fn record(line: &str) -> Option<(&str, &str, &str)> {
    // 2026-12-05 06:51:58.123456 [NOTICE] [core/coordinator.rs:710] text
    let b = line.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let date_ok = b.len() > 27
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..26)
        && b[26] == b' ';
    if !date_ok {
        return None;
    }
    let rest = line[27..].strip_prefix('[')?;
    let (level, rest) = rest.split_once("] [")?;
    let (source, message) = rest.split_once("] ")?;
    Some((level, source, message))
}

/// `file.rs:LINE` with a positive line number.
fn source_ok(source: &str) -> bool {
    source
        .rsplit_once(':')
        .is_some_and(|(f, n)| f.ends_with(".rs") && n.parse::<u32>().is_ok_and(|n| n > 0))
}

#[test]
fn log_file_holds_aria2_lines_at_its_level() {
    let srv = TestServer::start();
    let body = pattern(300_000, 3);
    let url = srv.add_file("/log.bin", body.clone());
    let tmp = tempdir();
    let log = tmp.path().join("a.log");

    run(
        tmp.path(),
        &["-l", s(&log), "--log-level=info", "-o", "a.bin", &url],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("a.bin"), &body);
    let text = std::fs::read_to_string(&log).unwrap();
    let first = text.lines().next().expect("a non-empty log");
    assert!(
        record(first).is_some(),
        "first line not a record: {first:?}"
    );
    let records: Vec<_> = text.lines().filter_map(record).collect();
    for (level, source, _) in &records {
        assert!(
            ["INFO", "NOTICE", "WARN", "ERROR"].contains(level),
            "{level} at --log-level=info\n{text}"
        );
        assert!(source_ok(source), "source {source:?}\n{text}");
    }
    let has = |lvl: &str, what: &str| {
        records
            .iter()
            .any(|(l, _, m)| *l == lvl && m.contains(what))
    };
    assert!(has("INFO", "Logging started."), "{text}");
    assert!(has("NOTICE", "Download complete: "), "{text}");
    // The notice names the engine's line that said it, not the console's.
    let (_, notice_source, _) = records
        .iter()
        .find(|(l, _, m)| *l == "NOTICE" && m.contains("Download complete"))
        .unwrap();
    assert!(
        notice_source.starts_with("core/"),
        "notice logged from {notice_source}"
    );

    // aria2 appends; at debug the detail appears.
    run(
        tmp.path(),
        &["-l", s(&log), "--log-level=debug", "-o", "b.bin", &url],
    )
    .expect_code(exit::OK);
    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<_> = text.lines().filter_map(record).collect();
    assert_eq!(
        records
            .iter()
            .filter(|(_, _, m)| *m == "Logging started.")
            .count(),
        2,
        "{text}"
    );
    assert!(records.iter().any(|(l, _, _)| *l == "DEBUG"), "{text}");
}

#[test]
fn console_log_level_filters_what_the_console_shows() {
    let srv = TestServer::start();
    let url = srv.add_file("/c.bin", pattern(10_000, 4));
    let tmp = tempdir();

    // aria2 colors the level with `--enable-color` (the default), on a
    // terminal or not.
    let colored = run(tmp.path(), &["-o", "a.bin", "--allow-overwrite=true", &url]);
    colored.expect_code(exit::OK);
    assert!(
        colored
            .stdout
            .contains("[\x1b[1;32mNOTICE\x1b[0m] Download complete: "),
        "{:?}",
        colored.stdout
    );
    let shown = run(
        tmp.path(),
        &[
            "-o",
            "a.bin",
            "--allow-overwrite=true",
            "--enable-color=false",
            &url,
        ],
    );
    shown.expect_code(exit::OK);
    assert!(!shown.stdout.contains('\x1b'), "{:?}", shown.stdout);
    // aria2's console entry: an empty line, then `MM/DD hh:mm:ss [NOTICE] …`.
    let entry = shown
        .stdout
        .split('\n')
        .find(|l| l.contains("[NOTICE] Download complete: "))
        .unwrap_or_else(|| panic!("{}", shown.stdout));
    let b = entry.as_bytes();
    assert!(
        b.len() > 15 && b[2] == b'/' && b[5] == b' ' && b[8] == b':' && b[11] == b':',
        "{entry:?}"
    );
    assert!(shown.stdout.contains("\n\n"), "{:?}", shown.stdout);

    let hidden = run(
        tmp.path(),
        &["--console-log-level=warn", "-o", "b.bin", &url],
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

    // INFO on the console shows the start-up lines too.
    let chatty = run(
        tmp.path(),
        &["--console-log-level=info", "-o", "c.bin", &url],
    );
    chatty.expect_code(exit::OK);
    assert!(
        strip_ansi(&chatty.stdout).contains("[INFO] Logging started."),
        "{}",
        chatty.stdout
    );
}

#[test]
fn quiet_prints_nothing_but_still_logs() {
    let srv = TestServer::start();
    let body = pattern(50_000, 5);
    let url = srv.add_file("/q.bin", body.clone());
    let tmp = tempdir();
    let log = tmp.path().join("q.log");

    let out = run(
        tmp.path(),
        &[
            "-q",
            "-l",
            s(&log),
            "--log-level=notice",
            "-o",
            "q.bin",
            &url,
        ],
    );
    out.expect_code(exit::OK);
    assert_eq!(out.stdout, "", "stdout under -q");
    assert_eq!(out.stderr, "", "stderr under -q");
    assert_file_eq(&tmp.path().join("q.bin"), &body);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("[NOTICE] ["), "{text}");
    assert!(!text.contains("[INFO]"), "{text}");
}

#[test]
fn errors_reach_stderr_and_the_log_file_not_stdout() {
    let tmp = tempdir();
    let log = tmp.path().join("e.log");
    let out = run(tmp.path(), &["-l", s(&log), "-P", "http://127.0.0.1:1/[1-"]);
    out.expect_failure();
    assert!(out.stderr.contains("Exception caught"), "{}", out.stderr);
    assert!(!out.stdout.contains("Exception caught"), "{}", out.stdout);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .filter_map(record)
            .any(|(l, src, m)| l == "ERROR"
                && src.starts_with("cli/main.rs:")
                && m.starts_with("Exception caught")),
        "{text}"
    );
}
