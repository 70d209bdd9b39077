//! What happens when the target file is already there: refuse (13),
//! rename to `name.1.ext` (aria2's default), or overwrite.

use crate::support::{assert_file_eq, exit, list_dir, run, tempdir};
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
