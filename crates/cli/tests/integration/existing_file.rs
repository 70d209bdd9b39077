//! What happens when the target file is already there: refuse (13),
//! rename to `name.1.ext` (aria2's default), or overwrite.

use crate::support::{
    assert_file_eq, exit, list_dir, require, run, sha256_hex, tempdir, wait_with_timeout,
};
use arietta_testserver::{pattern, TestServer};

fn setup() -> (TestServer, String, Vec<u8>, tempfile::TempDir, Vec<u8>) {
    let srv = TestServer::start();
    let body = pattern(60_000, 1);
    let url = srv.add_file("/file.bin", body.clone());
    let tmp = tempdir();
    // Longer than the download, so a non-truncating overwrite would show.
    let old = pattern(90_000, 99);
    std::fs::write(tmp.path().join("file.bin"), &old).unwrap();
    (srv, url, body, tmp, old)
}

#[test]
fn refuses_with_13_when_renaming_is_off() {
    let (_srv, url, _body, tmp, old) = setup();
    run(tmp.path(), &["--auto-file-renaming=false", &url]).expect_code(exit::FILE_EXISTS);
    assert_file_eq(&tmp.path().join("file.bin"), &old);
    assert_eq!(list_dir(tmp.path()), ["file.bin"]);
}

#[test]
fn renames_to_dot_1_by_default() {
    let (_srv, url, body, tmp, old) = setup();
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("file.bin"), &old);
    assert_file_eq(&tmp.path().join("file.1.bin"), &body);
}

#[test]
fn second_rename_picks_dot_2() {
    let (_srv, url, body, tmp, old) = setup();
    std::fs::write(tmp.path().join("file.1.bin"), b"taken").unwrap();
    run(tmp.path(), &[&url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("file.bin"), &old);
    assert_file_eq(&tmp.path().join("file.1.bin"), b"taken");
    assert_file_eq(&tmp.path().join("file.2.bin"), &body);
}

#[test]
fn allow_overwrite_replaces_and_truncates() {
    let (_srv, url, body, tmp, _old) = setup();
    run(tmp.path(), &["--allow-overwrite=true", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("file.bin"), &body);
    assert_eq!(list_dir(tmp.path()), ["file.bin"]);
}

#[test]
fn continue_on_complete_file_fetches_nothing() {
    let srv = TestServer::start();
    let body = pattern(60_000, 2);
    let url = srv.add_file("/done.bin", body.clone());
    let tmp = tempdir();
    std::fs::write(tmp.path().join("done.bin"), &body).unwrap();
    run(tmp.path(), &["-c", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("done.bin"), &body);
    // A length probe is allowed; fetching the body again is not.
    let reqs = srv.requests("/done.bin");
    assert!(reqs.len() <= 1, "complete file re-requested: {reqs:?}");
    assert!(srv.bytes_served("/done.bin") <= body.len() as u64);
}

#[test]
fn continue_without_control_file_appends_from_file_length() {
    let srv = TestServer::start();
    let body = pattern(200_000, 3);
    let url = srv.add_file("/part.bin", body.clone());
    let tmp = tempdir();
    std::fs::write(tmp.path().join("part.bin"), &body[..70_000]).unwrap();
    run(tmp.path(), &["-c", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("part.bin"), &body);
    // The first request may be a `bytes=0-` probe that is abandoned; every
    // later one must start at or after the existing 70 000 bytes.
    let reqs = srv.requests("/part.bin");
    for r in reqs.iter().skip(1) {
        let start: u64 = r
            .range()
            .and_then(|v| v.strip_prefix("bytes="))
            .and_then(|v| v.split('-').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(
            start >= 70_000,
            "re-fetched the existing head: {:?}",
            r.range()
        );
    }
    assert!(srv.bytes_served("/part.bin") <= body.len() as u64 + 130_000);
}

/// `-V --checksum` checks the file already there, in place, as aria2c
/// does: a good one is the finished download, a damaged one is fetched
/// again under the same name (never `file.1.bin`).
#[test]
fn check_integrity_verifies_and_repairs_in_place() {
    let srv = TestServer::start();
    let body = pattern(600_000, 5);
    let url = srv.add_file("/file.bin", body.clone());
    let ck = format!("--checksum=sha-256={}", sha256_hex(&body));
    let with_aria2c = require("aria2c");
    for aria2 in [false, true] {
        if aria2 && !with_aria2c {
            return;
        }
        for damaged in [false, true] {
            let tmp = tempdir();
            let file = tmp.path().join("file.bin");
            let mut have = body.clone();
            if damaged {
                have[1000..1004].copy_from_slice(b"XXXX");
            }
            std::fs::write(&file, &have).unwrap();
            let args = ["-V", ck.as_str(), url.as_str()];
            let out = if aria2 {
                let child = std::process::Command::new("aria2c")
                    .current_dir(tmp.path())
                    .env("HOME", tmp.path())
                    .arg("--no-conf")
                    .args(args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                wait_with_timeout(child, std::time::Duration::from_secs(30))
            } else {
                run(tmp.path(), &args)
            };
            out.expect_code(exit::OK);
            assert_file_eq(&file, &body);
            assert_eq!(
                list_dir(tmp.path()),
                vec!["file.bin".to_owned()],
                "aria2c={aria2} damaged={damaged}"
            );
        }
    }
}

/// The console lines aria2c prints when the file is already there, side
/// by side: "File already exists. Renamed to …", "Download has already
/// completed" (`-c`, 0B/s: nothing was downloaded), "Verification finished
/// successfully" (`-V` with `--checksum`, 0B/s; also after a download
/// with a hash, and for `-c` with a hash instead of "already completed"),
/// and the refusal under
/// `--auto-file-renaming=false` as a trace under the URI, the results
/// table naming the file.
#[test]
fn existing_file_console_lines_match_aria2c() {
    if !require("aria2c") {
        return;
    }
    let srv = TestServer::start();
    let body = pattern(60_000, 1);
    let url = srv.add_file("/file.bin", body.clone());
    let sha1 = {
        use sha1::Digest;
        let d = sha1::Sha1::digest(&body);
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let checksum = format!("--checksum=sha-1={sha1}");
    // Timestamps, GIDs, CUIDs and `[FILE:LINE]` frames differ by nature;
    // the download's speed too where bytes were moved.
    let shape = |stdout: &str, dir: &std::path::Path, speed: bool| -> Vec<String> {
        stdout
            .lines()
            .filter(|l| !l.starts_with("[#"))
            .map(|l| {
                let mut l = l.replace(&dir.display().to_string(), "DIR");
                if l.len() > 15 && l.as_bytes()[2] == b'/' && l.as_bytes()[5] == b' ' {
                    l = l[15..].to_owned();
                }
                let words: Vec<String> = l
                    .split(' ')
                    .map(|w| {
                        let hex =
                            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
                        if w.starts_with("GID#") && hex(&w[4..w.len().min(20)]) {
                            "GID#".to_owned() + &w[w.len().min(20)..]
                        } else if let Some(n) = w.strip_prefix("CUID#") {
                            format!(
                                "CUID#{}",
                                n.trim_start_matches(|c: char| c.is_ascii_digit())
                            )
                        } else if w.starts_with('[') && w.ends_with(']') && w.contains(':') {
                            "[SRC]".to_owned()
                        } else {
                            w.to_owned()
                        }
                    })
                    .collect();
                let l = words.join(" ");
                match l.split_once('|') {
                    Some((gid, rest)) if gid.len() == 6 => {
                        let mut cells: Vec<&str> = rest.splitn(3, '|').collect();
                        if speed && cells.len() == 3 {
                            cells[1] = "SPEED";
                        } else if cells.len() == 3 && ["n/a", "0B/s"].contains(&cells[1].trim()) {
                            // aria2 shows n/a when the run took under a
                            // millisecond, 0B/s otherwise.
                            cells[1] = "NOTHING";
                        }
                        format!("gid|{}", cells.join("|"))
                    }
                    _ => l,
                }
            })
            .collect()
    };
    let cases: &[(&str, &[&str], bool)] = &[
        ("renamed", &[], true),
        ("-c complete", &["-c"], false),
        ("-V complete", &["-V", &checksum], false),
        ("no renaming", &["--auto-file-renaming=false"], false),
        ("-c complete, checksum", &["-c", &checksum], false),
        ("fresh, checksum", &[&checksum], true),
    ];
    for (what, extra, speed) in cases {
        let mut outs = Vec::new();
        for program in ["arietta", "aria2c"] {
            let tmp = tempdir();
            let on_disk = if *what == "renamed" || *what == "no renaming" {
                pattern(1000, 7)
            } else {
                body.clone()
            };
            if *what != "fresh, checksum" {
                std::fs::write(tmp.path().join("file.bin"), on_disk).unwrap();
            }
            let mut args: Vec<&str> = extra.to_vec();
            args.push(&url);
            let out = if program == "arietta" {
                run(tmp.path(), &args)
            } else {
                let mut c = crate::support::aria2c_command(tmp.path());
                c.args(&args);
                wait_with_timeout(c.spawn().unwrap(), std::time::Duration::from_secs(30))
            };
            outs.push((out.code, shape(&out.stdout, tmp.path(), *speed), out.stdout));
        }
        assert_eq!(outs[0].0, outs[1].0, "{what}: exit codes");
        assert_eq!(
            outs[0].1, outs[1].1,
            "{what}: arietta (left) and aria2c (right)\n{}\n---\n{}",
            outs[0].2, outs[1].2
        );
    }
}
