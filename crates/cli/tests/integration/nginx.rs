//! Against a real nginx: a 256 MiB file over 16 connections must come out
//! byte-identical. Skipped (with a message) where nginx is not installed,
//! a failure under CI.

use crate::support::{exit, require, run_with_timeout, sha256_file, tempdir, write_pattern_file};
use arietta_testserver::Nginx;

#[test]
fn nginx_256mib_sixteen_connections() {
    let root = tempdir();
    let want = write_pattern_file(&root.path().join("big.bin"), 256 << 20, 42);
    if !require("nginx") {
        return;
    }
    let nginx = Nginx::start(root.path()).expect("nginx is installed");
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
