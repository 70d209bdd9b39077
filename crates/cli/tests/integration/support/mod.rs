//! Plumbing shared by the end-to-end tests: running the real `arietta`
//! binary hermetically (own `HOME`, no proxies, `--no-conf`, a hard
//! timeout), comparing what it wrote with what the server holds, the
//! servers the tests start (pyftpdlib, sshd, a counting relay, microsocks
//! behind a sniffing relay, danted), waiting
//! on conditions, and deciding when a test may skip.

pub mod rpc_client;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub mod danted;
pub mod ftpd;
pub mod relay;
mod require;
pub mod socks;
pub mod sshd;
mod wait;

pub use require::{find_program, require, require_node_modules, require_ok, require_python_module};
pub use wait::{bytes_landed, wait_until};

/// aria2 exit codes the tests assert on.
pub mod exit {
    pub const OK: i32 = 0;
    /// Also every failure aria2c throws without a code of its own: a
    /// refused or reset connection, an early EOF, a bad status line.
    pub const UNKNOWN: i32 = 1;
    pub const TIMEOUT: i32 = 2;
    pub const NOT_FOUND: i32 = 3;
    pub const MAX_FILE_NOT_FOUND: i32 = 4;
    pub const TOO_SLOW: i32 = 5;
    pub const UNFINISHED: i32 = 7;
    pub const NO_RESUME: i32 = 8;
    pub const NO_SPACE: i32 = 9;
    pub const DUPLICATE_INFO_HASH: i32 = 12;
    pub const FILE_EXISTS: i32 = 13;
    pub const MAKE_DIR: i32 = 18;
    pub const NAME_RESOLUTION: i32 = 19;
    pub const METALINK_PARSE: i32 = 20;
    pub const FTP_COMMAND: i32 = 21;
    pub const BAD_HTTP_RESPONSE: i32 = 22;
    pub const TOO_MANY_REDIRECTS: i32 = 23;
    pub const AUTH: i32 = 24;
    pub const BENCODE_PARSE: i32 = 25;
    pub const TORRENT_CORRUPT: i32 = 26;
    pub const BAD_OPTION: i32 = 28;
    pub const OVERLOADED: i32 = 29;
    pub const CHECKSUM: i32 = 32;
}

/// `s` without its ANSI color sequences (aria2 colors the console's log
/// levels with `--enable-color`, on by default, terminal or not).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&d| d == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// A run that overruns this is a hang: killed and reported as a failure.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a finished `arietta` run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Panics with both output streams unless the exit code is `want`.
    #[track_caller]
    pub fn expect_code(&self, want: i32) -> &Outcome {
        assert_eq!(
            self.code,
            Some(want),
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the process exited on its own with a non-zero code.
    #[track_caller]
    pub fn expect_failure(&self) -> i32 {
        match self.code {
            Some(c) if c != 0 => c,
            other => panic!(
                "expected a failure exit, got {other:?}\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            ),
        }
    }

    /// stdout and stderr together, for "mentions X" checks.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The binary under test, set up so nothing from the developer's machine
/// leaks in: `HOME` points at `home` (no `~/.netrc`, no `~/.aria2`, no
/// `~/.ssh`), proxy variables and the SSH agent are removed, and the
/// working directory is `cwd`.
pub fn command(cwd: &Path) -> Command {
    hermetic(Command::new(env!("CARGO_BIN_EXE_arietta")), cwd)
}

/// aria2c set up as [`command`] sets up arietta, for side-by-side runs
/// (nothing added to its arguments).
pub fn aria2c_command(cwd: &Path) -> Command {
    hermetic(Command::new("aria2c"), cwd)
}

/// `cmd` with the environment [`command`] gives arietta: `HOME` at
/// `cwd`, no proxy variables, no SSH agent.
pub fn hermetic(mut cmd: Command, cwd: &Path) -> Command {
    cmd.current_dir(cwd)
        .env("HOME", cwd)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_CACHE_HOME");
    for var in [
        "http_proxy",
        "https_proxy",
        "ftp_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "SSH_AUTH_SOCK",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `arietta --no-conf ARGS…` in `cwd` and waits for it (30 s cap).
pub fn run(cwd: &Path, args: &[&str]) -> Outcome {
    run_with_timeout(cwd, args, DEFAULT_TIMEOUT)
}

/// Like [`run`] with an explicit cap; a run that overruns is killed and the
/// test fails with whatever output it had produced.
pub fn run_with_timeout(cwd: &Path, args: &[&str], limit: Duration) -> Outcome {
    let child = spawn(cwd, args);
    wait_with_timeout(child, limit)
}

/// Starts `arietta --no-conf ARGS…` without waiting, for kill/interrupt tests.
pub fn spawn(cwd: &Path, args: &[&str]) -> Child {
    command(cwd)
        .arg("--no-conf")
        .args(args)
        .spawn()
        .expect("spawn arietta")
}

/// Runs `arietta` with exactly `args` (no `--no-conf`), for option tests
/// that exercise config-file handling themselves.
pub fn run_raw(cwd: &Path, args: &[&str]) -> Outcome {
    let child = command(cwd).args(args).spawn().expect("spawn arietta");
    wait_with_timeout(child, DEFAULT_TIMEOUT)
}

/// Collects the output of `child`, killing it (and failing) after `limit`.
/// stdout/stderr are drained on threads so a chatty child never blocks.
pub fn wait_with_timeout(mut child: Child, limit: Duration) -> Outcome {
    let (out_t, err_t) = drain_output(&mut child);
    let mut status = None;
    if !wait_until(limit, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    }) {
        let _ = child.kill();
        let _ = child.wait();
        let stdout = out_t.join().unwrap_or_default();
        let stderr = err_t.join().unwrap_or_default();
        panic!(
            "arietta did not finish within {limit:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
    }
    finish(status.expect("exited"), out_t, err_t)
}

type Drain = std::thread::JoinHandle<String>;

fn drain_output(child: &mut Child) -> (Drain, Drain) {
    fn reader<R: Read + Send + 'static>(r: Option<R>) -> Drain {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    }
    (reader(child.stdout.take()), reader(child.stderr.take()))
}

fn finish(status: ExitStatus, out_t: Drain, err_t: Drain) -> Outcome {
    Outcome {
        code: status.code(),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// Sends `signal` to a spawned run, then collects its outcome.
pub fn signal_and_wait(child: Child, signal: i32, limit: Duration) -> Outcome {
    let pid = i32::try_from(child.id()).expect("pid fits i32");
    // SAFETY: kill(2) on a pid we spawned and have not yet reaped, so it
    // cannot have been recycled for another process.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
    wait_with_timeout(child, limit)
}

/// SHA-256 of a file, read in 4 MiB chunks so 256 MiB files cost no memory.
pub fn sha256_file(path: &Path) -> [u8; 32] {
    let mut f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().into()
}

/// Hex SHA-256 of bytes, for `--checksum=sha-256=…`.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Panics unless `path` holds exactly `want`; reports the first differing
/// offset rather than dumping megabytes.
#[track_caller]
pub fn assert_file_eq(path: &Path, want: &[u8]) {
    let got = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    if got != want {
        let first = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{}: content differs: got {} bytes, want {}; first difference at offset {first}",
            path.display(),
            got.len(),
            want.len()
        );
    }
}

/// The "never exit 0 with a wrong file" rule for fault tests: after exit 0
/// the file must be byte-identical to `want`; after a failure a full-size
/// file that differs must still carry its control file (so nobody mistakes
/// it for a finished download).
#[track_caller]
pub fn assert_no_wrong_complete_file(path: &Path, want: &[u8], outcome: &Outcome) {
    if outcome.code == Some(0) {
        assert_file_eq(path, want);
        return;
    }
    if let Ok(got) = std::fs::read(path) {
        if got.len() == want.len() && got != want {
            assert!(
                control_file(path).exists(),
                "{}: failed run left a full-size wrong file with no control file",
                path.display()
            );
        }
    }
}

/// `FILE.aria2`, the control file next to a download.
pub fn control_file(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".aria2");
    PathBuf::from(s)
}

/// Writes `len` bytes of deterministic content to `path` in 8 MiB pieces
/// (each piece seeded by its index), returning the file's SHA-256, so a
/// 256 MiB file never sits in memory.
pub fn write_pattern_file(path: &Path, len: u64, seed: u64) -> [u8; 32] {
    const PIECE: u64 = 8 << 20;
    let mut f = File::create(path).expect("create pattern file");
    let mut h = Sha256::new();
    let mut done = 0u64;
    let mut idx = 0u64;
    while done < len {
        let n = PIECE.min(len - done);
        let piece = arietta_testserver::pattern(n as usize, seed.wrapping_add(idx));
        f.write_all(&piece).expect("write pattern");
        h.update(&piece);
        done += n;
        idx += 1;
    }
    f.sync_all().ok();
    h.finalize().into()
}

/// Bytes a segmented download may cost beyond the file size. The probe asks
/// only for the first `-k` bytes, so it never overruns; but when the
/// coordinator splits a running segment for an idle connection, the
/// victim's response is abandoned at the new end, and what the server had
/// already pushed into loopback socket buffers counts as served (up to a
/// few MiB per abandoned response on a loaded machine, where speeds vary
/// and splits are many). A quarter of the file (at least 4 MiB) still
/// catches any range fetched twice over.
pub const PROBE_SLACK: u64 = 4 << 20;

/// Panics when a download cost more than `size + PROBE_SLACK` served bytes,
/// i.e. when some range was fetched twice rather than one probe overrun.
#[track_caller]
pub fn assert_served_once(served: u64, size: u64) {
    assert!(
        served >= size && served <= size + PROBE_SLACK.max(size / 4).min(size),
        "served {served} bytes for a {size}-byte file"
    );
}

/// A fresh temp dir for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("arietta-e2e")
        .tempdir()
        .expect("tempdir")
}

/// `p` as `&str` for argument lists (temp paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A loopback port with nothing listening (bound, then released): for a
/// server to listen on, or to find nobody there.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Waits until something accepts TCP connections on loopback `port`.
pub fn wait_listening(port: u16, limit: Duration) -> bool {
    wait_until(limit, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}

/// Names of the regular files in `dir`, sorted, for "what did it create" checks.
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
