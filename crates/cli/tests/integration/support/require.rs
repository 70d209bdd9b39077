//! The one place a test decides whether it may skip.
//!
//! Tests run against real peer programs (aria2c, opentracker, nginx,
//! vsftpd, sshd, microsocks, danted, python3-libtorrent, pyftpdlib, aria2p,
//! aioaria2, node with the aria2 and maria2 packages). A developer
//! without one of them still wants a green run of everything else, so the
//! test prints why and passes. CI must never pass that way: under
//! `CI=true` (what `.ci/run` runs under, after installing every program) a
//! missing peer is a failure, so a broken install step cannot hide behind
//! skipped tests.
//!
//! Environment capabilities that are not programs (multicast, an IPv6
//! loopback) do not come through here: no install step provides them, so
//! those tests keep skipping where the host lacks them, and say why.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Whether this run is CI's (`CI=true`, as GitHub Actions and most CI
/// services set it, and as `.ci/run` is run).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// `program` on `PATH`, or in an `sbin` directory (nginx, vsftpd and sshd
/// live there, and an ordinary user's `PATH` often lacks it).
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// True when `program` is installed. Otherwise fails the test under CI,
/// and elsewhere prints why the test skips and returns false.
#[track_caller]
pub fn require(program: &str) -> bool {
    find_program(program).is_some() || missing(&format!("{program} is not installed"))
}

/// True when `python` (an interpreter path or name) can import `module`;
/// otherwise as [`require`]. python3-libtorrent is Debian's, so its tests
/// name `/usr/bin/python3`; pip's packages (pyftpdlib, aria2p) are asked
/// of the `python3` on `PATH`, where `.ci/run` installs them.
#[track_caller]
pub fn require_python_module(python: &str, module: &str) -> bool {
    let ok = Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok || missing(&format!("{python} cannot import {module}"))
}

/// True when `node` can load each of `modules` from `dir` (the folder
/// whose `node_modules` `.ci/run` fills with `npm ci`); otherwise as
/// [`require`].
#[track_caller]
pub fn require_node_modules(dir: &std::path::Path, modules: &[&str]) -> bool {
    if find_program("node").is_none() {
        return missing("node is not installed");
    }
    let script = modules
        .iter()
        .map(|m| format!("require.resolve({m:?});"))
        .collect::<String>();
    let ok = Command::new("node")
        .current_dir(dir)
        .args(["-e", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok || missing(&format!(
        "node cannot load {} from {} (run `npm ci` there)",
        modules.join(", "),
        dir.display()
    ))
}

/// `Some` of a started peer; for `Err(why)` (a server that could not be
/// started here, e.g. sshd without root) as [`require`].
#[track_caller]
pub fn require_ok<T>(started: Result<T, String>) -> Option<T> {
    match started {
        Ok(t) => Some(t),
        Err(why) => {
            missing(&why);
            None
        }
    }
}

/// Panics under CI; elsewhere prints the skip line and returns false.
#[track_caller]
fn missing(why: &str) -> bool {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    if in_ci() {
        panic!("{test}: {why}; CI=true requires every peer program (.ci/run installs them)");
    }
    eprintln!("skipping {test}: {why}");
    false
}
