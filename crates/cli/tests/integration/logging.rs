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

/// `(level, message)` of every record in an aria2-format log, with the
/// lines that continue a record (an HTTP head, an FTP reply) appended to
/// its message after `\n`.
pub(crate) fn records_with_bodies(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        match record(line) {
            Some((level, _, message)) => out.push((level.to_owned(), message.to_owned())),
            None => {
                if let Some(last) = out.last_mut() {
                    last.1.push('\n');
                    last.1.push_str(line);
                }
            }
        }
    }
    out
}

/// `CUID#7 - Requesting:…` → `Requesting:…`; `None` for a line that does
/// not start with a connection's prefix.
fn after_cuid(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("CUID#")?;
    let (n, rest) = rest.split_once(" - ")?;
    n.parse::<u64>().ok()?;
    Some(rest)
}

/// The connection lines aria2c writes at INFO for one download, which the
/// check below asks of both programs' logs.
fn exchange_kinds(log: &str) -> Vec<(&'static str, String)> {
    let kinds = [
        "Connecting to ",
        "Requesting:\n",
        "Response received:\n",
        "The download for one segment completed successfully.",
    ];
    let mut seen = Vec::new();
    for (level, message) in records_with_bodies(log) {
        if let Some(rest) = after_cuid(&message) {
            for k in kinds {
                if rest.starts_with(k) && !seen.iter().any(|(s, _)| *s == k) {
                    seen.push((k, level.clone()));
                }
            }
        }
    }
    seen.sort();
    seen
}

fn run_aria2c_logged(cwd: &std::path::Path, args: &[&str]) {
    let out = crate::support::aria2c_command(cwd)
        .arg("--no-conf")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// aria2c's connection lines in the `-l` file at INFO: `CUID#n -
/// Connecting to HOST:PORT`, the request head sent (credentials starred)
/// and the response head received, each segment's completion and the
/// download's; checked against aria2c's own log of the same download.
#[test]
fn http_exchange_is_logged_like_aria2c() {
    if !crate::support::require("aria2c") {
        return;
    }
    let srv = TestServer::start();
    let url = srv.add_file("/x.bin", pattern(20_000, 7));
    let tmp = tempdir();
    let (ours, theirs) = (tmp.path().join("ours.log"), tmp.path().join("theirs.log"));
    let args = |log: &std::path::Path| {
        vec![
            format!("--log={}", s(log)),
            "--log-level=info".to_owned(),
            "--http-user=u".to_owned(),
            "--http-passwd=secret".to_owned(),
            "--allow-overwrite=true".to_owned(),
            "-d".to_owned(),
            "out".to_owned(),
            url.clone(),
        ]
    };
    let a = args(&ours);
    run(
        tmp.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .expect_code(exit::OK);
    let b = args(&theirs);
    run_aria2c_logged(
        tmp.path(),
        &b.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let (ours, theirs) = (
        std::fs::read_to_string(&ours).unwrap(),
        std::fs::read_to_string(&theirs).unwrap(),
    );
    assert_eq!(
        exchange_kinds(&ours),
        exchange_kinds(&theirs),
        "ours:\n{ours}\naria2c's:\n{theirs}"
    );
    assert_eq!(exchange_kinds(&ours).len(), 4, "{ours}");
    let records = records_with_bodies(&ours);
    let find = |what: &str| {
        records
            .iter()
            .find_map(|(_, m)| after_cuid(m).filter(|r| r.starts_with(what)))
            .unwrap_or_else(|| panic!("no {what:?} in\n{ours}"))
            .to_owned()
    };
    let port = srv.addr().port();
    assert_eq!(
        find("Connecting to "),
        format!("Connecting to 127.0.0.1:{port}")
    );
    let request = find("Requesting:\n");
    assert!(
        request.starts_with("Requesting:\nGET /x.bin HTTP/1.1\n"),
        "{request:?}"
    );
    assert!(
        request.contains("\nAuthorization: Basic ********\n"),
        "{request:?}"
    );
    assert!(!ours.contains("secret"), "{ours}");
    let response = find("Response received:\n");
    assert!(
        response.starts_with("Response received:\nHTTP/1.1 20"),
        "{response:?}"
    );
    // The connection's lines come in aria2's order.
    let at = |what: &str| {
        records
            .iter()
            .position(|(_, m)| after_cuid(m).is_some_and(|r| r.starts_with(what)))
            .unwrap()
    };
    assert!(
        at("Connecting to ") < at("Requesting:") && at("Requesting:") < at("Response received:")
    );
    assert!(
        records
            .iter()
            .any(|(l, m)| l == "INFO" && m.ends_with("The download was complete.")),
        "{ours}"
    );
}

/// FTP's commands and replies, each a record as aria2 writes them
/// (`Requesting:\nUSER ********`, `Response received:\n220 …`).
#[test]
fn ftp_commands_and_replies_are_logged_like_aria2c() {
    if !crate::support::require("aria2c") {
        return;
    }
    let root = tempdir();
    std::fs::write(root.path().join("f.bin"), pattern(5000, 8)).unwrap();
    let Some(srv) = crate::support::ftpd::pyftpd(root.path(), 0) else {
        return;
    };
    let url = format!("ftp://127.0.0.1:{}/f.bin", srv.port);
    let tmp = tempdir();
    let (ours, theirs) = (tmp.path().join("ours.log"), tmp.path().join("theirs.log"));
    let o = format!("--log={}", s(&ours));
    let t = format!("--log={}", s(&theirs));
    let common = [
        "--log-level=info",
        "--allow-overwrite=true",
        "-d",
        "out",
        &url,
    ];
    let mut a = vec![&o[..]];
    a.extend(common);
    run(tmp.path(), &a).expect_code(exit::OK);
    let mut b = vec![&t[..]];
    b.extend(common);
    run_aria2c_logged(tmp.path(), &b);
    let (ours, theirs) = (
        std::fs::read_to_string(&ours).unwrap(),
        std::fs::read_to_string(&theirs).unwrap(),
    );
    assert_eq!(
        exchange_kinds(&ours),
        exchange_kinds(&theirs),
        "ours:\n{ours}\naria2c's:\n{theirs}"
    );
    for log in [&ours, &theirs] {
        let records = records_with_bodies(log);
        let has = |what: &str| {
            records
                .iter()
                .any(|(l, m)| l == "INFO" && after_cuid(m).is_some_and(|r| r.starts_with(what)))
        };
        // (`lines()` dropped the `\r` of each `\r\n`.)
        assert!(has("Requesting:\nUSER ********"), "{log}");
        assert!(has("Response received:\n220"), "{log}");
        assert!(
            has("Requesting:\nRETR /f.bin") || has("Requesting:\nRETR f.bin"),
            "{log}"
        );
    }
}

/// A peer-wire line's message kind: `request index=0, …` → `request`,
/// `bitfield ff80` → `bitfield`, `extended handshake client=…` →
/// `extended handshake`.
fn wire_kind(message: &str) -> String {
    message
        .split(' ')
        .take_while(|w| {
            !(w.contains('=') || (w.len() > 1 && w.bytes().all(|b| b.is_ascii_hexdigit())))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `(direction, kind)` of each `CUID#n - To:/From: ADDR MESSAGE` line.
fn wire_lines(log: &str) -> std::collections::BTreeSet<(String, String)> {
    records_with_bodies(log)
        .iter()
        .filter(|(l, _)| l == "INFO")
        .filter_map(|(_, m)| {
            let rest = after_cuid(m)?;
            let (dir, rest) = rest.split_once(": ")?;
            if dir != "To" && dir != "From" {
                return None;
            }
            let (_addr, message) = rest.split_once(' ')?;
            Some((dir.to_owned(), wire_kind(message)))
        })
        .collect()
}

/// BitTorrent at INFO, leeching from aria2c: `Connecting to the peer IP`,
/// then each message sent and received as aria2 writes them (`To: ADDR
/// request index=0, begin=0, length=16384`, `From: ADDR handshake
/// peerId=…`); what we say we sent is what aria2c says it received, and
/// the other way round.
#[test]
fn peer_wire_is_logged_like_aria2c() {
    use crate::bt_support::{pattern as bt_pattern, require_tracker_and_aria2c, Swarm};
    if !require_tracker_and_aria2c() {
        return;
    }
    let tmp = tempdir();
    let (ours, theirs) = (tmp.path().join("ours.log"), tmp.path().join("theirs.log"));
    let t = format!("--log={}", s(&theirs));
    let sw = Swarm::new("one", vec![(vec!["a.bin"], bt_pattern(100_000, 3))])
        .tracker()
        .build()
        .aria2c_seeder_with(&[&t, "--log-level=info"]);
    let o = format!("--log={}", s(&ours));
    sw.leech(&[&o, "--log-level=info"]).expect_code(exit::OK);
    sw.assert_leeched();
    let ours = std::fs::read_to_string(&ours).unwrap();
    let theirs = std::fs::read_to_string(&theirs).unwrap();
    let (a, b) = (wire_lines(&ours), wire_lines(&theirs));
    let has = |set: &std::collections::BTreeSet<(String, String)>, dir: &str, kind: &str| {
        set.contains(&(dir.to_owned(), kind.to_owned()))
    };
    for kind in ["handshake", "interested", "request"] {
        assert!(has(&a, "To", kind), "we logged no To: {kind}\n{ours}");
        assert!(
            has(&b, "From", kind),
            "aria2c logged no From: {kind}\n{theirs}"
        );
    }
    for kind in ["handshake", "unchoke", "piece"] {
        assert!(has(&a, "From", kind), "we logged no From: {kind}\n{ours}");
        assert!(has(&b, "To", kind), "aria2c logged no To: {kind}\n{theirs}");
    }
    // Every kind we received is one aria2c says it sent.
    for (dir, kind) in &a {
        if dir == "From" && kind != "keep alive" {
            assert!(
                has(&b, "To", kind),
                "From: {kind} not sent by aria2c\n{theirs}"
            );
        }
    }
    let records = records_with_bodies(&ours);
    assert!(
        records
            .iter()
            .any(|(_, m)| after_cuid(m).is_some_and(|r| r == "Connecting to the peer 127.0.0.1")),
        "{ours}"
    );
    assert!(
        records.iter().any(|(_, m)| after_cuid(m)
            .is_some_and(|r| r.contains(" handshake peerId=A2-1-36-0-"))),
        "{ours}"
    );
}

/// `(direction, message)` of each `To:/From: ADDR extended …` line.
fn extended_lines(log: &str) -> Vec<(String, String)> {
    records_with_bodies(log)
        .iter()
        .filter_map(|(_, m)| {
            let (dir, rest) = after_cuid(m)?.split_once(": ")?;
            let (_addr, message) = rest.split_once(' ')?;
            ((dir == "To" || dir == "From") && message.starts_with("extended "))
                .then(|| (dir.to_owned(), message.to_owned()))
        })
        .collect()
}

/// A magnet from an aria2c seeder, logged at INFO: the BEP 10 handshake
/// and each BEP 9 `ut_metadata` message read as aria2 writes them
/// (`extended handshake client=…, tcpPort=…, metadataSize=…,
/// ut_metadata=N`, `extended ut_metadata request piece=0`), and what we
/// say we sent is what aria2c says it received, word for word.
#[test]
fn extension_messages_are_logged_like_aria2c() {
    use crate::bt_support::{pattern as bt_pattern, require_tracker_and_aria2c, Swarm};
    if !require_tracker_and_aria2c() {
        return;
    }
    let tmp = tempdir();
    let (ours, theirs) = (tmp.path().join("ours.log"), tmp.path().join("theirs.log"));
    let t = format!("--log={}", s(&theirs));
    let sw = Swarm::new("ext", vec![(vec!["a.bin"], bt_pattern(50_000, 4))])
        .tracker()
        .build()
        .aria2c_seeder_with(&[&t, "--log-level=info"]);
    let o = format!("--log={}", s(&ours));
    sw.leech_of(&[&sw.magnet()], &[&o, "--log-level=debug"])
        .expect_code(exit::OK);
    sw.assert_leeched();
    let ours = std::fs::read_to_string(&ours).unwrap();
    let theirs = std::fs::read_to_string(&theirs).unwrap();
    let (a, b) = (extended_lines(&ours), extended_lines(&theirs));
    let has = |lines: &[(String, String)], dir: &str, prefix: &str| {
        lines.iter().any(|(d, m)| d == dir && m.starts_with(prefix))
    };
    // The metadata exchange, both ends.
    assert!(
        has(&a, "To", "extended ut_metadata request piece=0"),
        "{a:?}"
    );
    assert!(
        has(&a, "From", "extended ut_metadata data piece=0"),
        "{a:?}"
    );
    assert!(has(&b, "To", "extended ut_metadata data piece=0"), "{b:?}");
    let from_seeder = a
        .iter()
        .find(|(d, m)| d == "From" && m.starts_with("extended handshake "))
        .map(|(_, m)| m.clone())
        .unwrap_or_else(|| panic!("no extended handshake from aria2c: {a:?}"));
    assert!(
        from_seeder.starts_with("extended handshake client=aria2%2F1.36.0, tcpPort=")
            && from_seeder.contains(", metadataSize=")
            && from_seeder.contains(", ut_metadata="),
        "{from_seeder}"
    );
    // Every extended message we sent, aria2c logged receiving as such.
    for (dir, m) in &a {
        if dir == "To" {
            assert!(
                b.iter().any(|(d, t)| d == "From" && t == m),
                "aria2c logged no From: {m}\n{b:?}"
            );
        }
    }
}
