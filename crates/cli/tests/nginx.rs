//! Against a real nginx: a 256 MiB file over 16 connections must come out
//! byte-identical. Skipped (with a message) where nginx is not installed.

mod support;

use arietta_testserver::Nginx;
use support::{exit, run_with_timeout, sha256_file, tempdir, write_pattern_file};

#[test]
fn nginx_256mib_sixteen_connections() {
    let root = tempdir();
    let want = write_pattern_file(&root.path().join("big.bin"), 256 << 20, 42);
    let Some(nginx) = Nginx::start(root.path()) else {
        eprintln!("skipping nginx_256mib_sixteen_connections: nginx is not installed");
        return;
    };
    let tmp = tempdir();
    run_with_timeout(
        tmp.path(),
        &[
            "-x16",
            "-s16",
            "--file-allocation=none",
            &nginx.url("/big.bin"),
        ],
        std::time::Duration::from_secs(120),
    )
    .expect_code(exit::OK);
    let got = tmp.path().join("big.bin");
    assert_eq!(std::fs::metadata(&got).unwrap().len(), 256 << 20);
    assert!(
        sha256_file(&got) == want,
        "256 MiB download differs from nginx's file"
    );
}
