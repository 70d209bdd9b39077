//! HTTPS: verification against a given CA, refusal without it, opting out
//! with `--check-certificate=false`, and client certificates.

use crate::support;
use crate::support::{assert_file_eq, control_file, exit, run, s, tempdir};
use arietta_testserver::{pattern, TestServer};

/// Writes `pem` into `dir/name` and returns the `--opt=PATH` argument.
fn pem_arg(dir: &std::path::Path, opt: &str, name: &str, pem: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, pem).unwrap();
    format!("--{opt}={}", s(&p))
}

#[test]
fn https_with_ca_certificate() {
    let srv = TestServer::start_tls();
    let body = pattern(300_000, 1);
    let url = srv.add_file("/s.bin", body.clone());
    let tmp = tempdir();
    let ca = pem_arg(
        tmp.path(),
        "ca-certificate",
        "ca.pem",
        &srv.ca_pem().unwrap(),
    );
    run(tmp.path(), &[&ca, &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("s.bin"), &body);
}

#[test]
fn https_segmented_with_ca_certificate() {
    let srv = TestServer::start_tls();
    let body = pattern(4 << 20, 2);
    let url = srv.add_file("/s.bin", body.clone());
    let tmp = tempdir();
    let ca = pem_arg(
        tmp.path(),
        "ca-certificate",
        "ca.pem",
        &srv.ca_pem().unwrap(),
    );
    run(tmp.path(), &[&ca, "-x4", "-s4", "-k1M", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("s.bin"), &body);
    support::assert_served_once(srv.bytes_served("/s.bin"), body.len() as u64);
}

#[test]
fn https_untrusted_certificate_fails() {
    let srv = TestServer::start_tls();
    let body = pattern(50_000, 3);
    let url = srv.add_file("/s.bin", body.clone());
    let tmp = tempdir();
    let out = run(tmp.path(), &["--max-tries=1", &url]);
    out.expect_failure();
    let file = tmp.path().join("s.bin");
    assert!(
        !file.exists() || control_file(&file).exists() || std::fs::read(&file).unwrap() != body,
        "a file was left that looks complete"
    );
    assert_eq!(
        srv.bytes_served("/s.bin"),
        0,
        "body sent over an unverified channel"
    );
}

#[test]
fn https_check_certificate_false() {
    let srv = TestServer::start_tls();
    let body = pattern(50_000, 4);
    let url = srv.add_file("/s.bin", body.clone());
    let tmp = tempdir();
    run(tmp.path(), &["--check-certificate=false", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("s.bin"), &body);
}

#[test]
fn https_client_certificate() {
    let srv = TestServer::start_tls_client_auth();
    let body = pattern(50_000, 5);
    let url = srv.add_file("/s.bin", body.clone());
    let tmp = tempdir();
    let d = tmp.path();
    let ca = pem_arg(d, "ca-certificate", "ca.pem", &srv.ca_pem().unwrap());
    let cert = pem_arg(
        d,
        "certificate",
        "client.pem",
        &srv.client_cert_pem().unwrap(),
    );
    let key = pem_arg(
        d,
        "private-key",
        "client.key",
        &srv.client_key_pem().unwrap(),
    );
    run(d, &[&ca, &cert, &key, &url]).expect_code(exit::OK);
    assert_file_eq(&d.join("s.bin"), &body);
}

#[test]
fn https_client_auth_without_certificate_fails() {
    let srv = TestServer::start_tls_client_auth();
    let url = srv.add_file("/s.bin", pattern(50_000, 6));
    let tmp = tempdir();
    let ca = pem_arg(
        tmp.path(),
        "ca-certificate",
        "ca.pem",
        &srv.ca_pem().unwrap(),
    );
    run(tmp.path(), &["--max-tries=1", &ca, &url]).expect_failure();
    assert_eq!(srv.bytes_served("/s.bin"), 0);
}
