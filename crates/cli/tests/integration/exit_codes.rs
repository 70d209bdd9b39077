//! aria2c's exit codes, case by case: every row runs aria2c 1.36 and
//! arietta on the same input with the same flags, each in a fresh
//! directory, and both must exit with the code the row names. The rows are
//! the table scripts rely on (see "Exit codes" in the README); a row whose
//! `want` disagrees with aria2c fails too, so the table stays true.
//!
//! The rows run side by side on threads: most end in well under a second,
//! the slowest (`--lowest-speed-limit`, 10 s in both programs) sets the
//! module's time.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use arietta_testserver::{pattern, Route, TestServer};

use crate::bt_support::make_torrent;
use crate::support::ftpd::{pyftpd, ServerProcess, USER};
use crate::support::*;

/// What every row may use: one test server with a route per fault, a
/// pyftpdlib, and hand-written answers the test server does not give.
struct Env {
    http: TestServer,
    ftp: ServerProcess,
    _ftp_root: tempfile::TempDir,
    /// Answers every request with a chunked body whose size line is not hex.
    bad_chunk: u16,
    /// Accepts and never answers.
    silent: u16,
    /// Nothing listens here.
    closed: u16,
    torrent: Vec<u8>,
    torrent_hash: String,
}

/// One row: `args` builds the arguments in the run's directory (writing
/// any file the row needs there); `conf: false` leaves out `--no-conf`.
struct Case {
    name: &'static str,
    want: i32,
    conf: bool,
    args: fn(&Env, &Path) -> Vec<String>,
}

const BODY_LEN: usize = 64 << 10;

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).expect("write fixture");
    name.to_owned()
}

const CASES: &[Case] = &[
    Case {
        name: "finished",
        want: exit::OK,
        conf: true,
        args: |e, _| v(&[&e.http.url("/ok")]),
    },
    Case {
        name: "connection refused, --max-tries exhausted",
        want: exit::UNKNOWN,
        conf: true,
        args: |e, _| v(&["--max-tries=2", &format!("http://127.0.0.1:{}/x", e.closed)]),
    },
    Case {
        name: "no answer within --timeout",
        want: exit::TIMEOUT,
        conf: true,
        args: |e, _| {
            v(&[
                "--max-tries=1",
                "--timeout=1",
                &format!("http://127.0.0.1:{}/x", e.silent),
            ])
        },
    },
    Case {
        name: "404",
        want: exit::NOT_FOUND,
        conf: true,
        args: |e, _| v(&["--max-tries=1", &e.http.url("/missing")]),
    },
    Case {
        name: "--max-file-not-found reached",
        want: exit::MAX_FILE_NOT_FOUND,
        conf: true,
        args: |e, _| {
            v(&[
                "--max-file-not-found=2",
                "--max-tries=3",
                &e.http.url("/missing"),
            ])
        },
    },
    Case {
        name: "below --lowest-speed-limit",
        want: exit::TOO_SLOW,
        conf: true,
        args: |e, _| v(&["--lowest-speed-limit=100K", &e.http.url("/slow")]),
    },
    Case {
        name: "unresolvable host",
        want: exit::NAME_RESOLUTION,
        conf: true,
        args: |_, _| v(&["--max-tries=1", "http://x.invalid/f"]),
    },
    Case {
        name: "401 without credentials",
        want: exit::AUTH,
        conf: true,
        args: |e, _| v(&["--max-tries=1", &e.http.url("/auth")]),
    },
    Case {
        name: "401 with wrong credentials",
        want: exit::AUTH,
        conf: true,
        args: |e, _| {
            v(&[
                "--max-tries=1",
                "--http-user=u",
                "--http-passwd=wrong",
                &e.http.url("/auth"),
            ])
        },
    },
    Case {
        name: "403",
        want: exit::BAD_HTTP_RESPONSE,
        conf: true,
        args: |e, _| v(&["--max-tries=1", &e.http.url("/forbidden")]),
    },
    Case {
        name: "500",
        want: exit::BAD_HTTP_RESPONSE,
        conf: true,
        args: |e, _| v(&["--max-tries=1", &e.http.url("/error")]),
    },
    Case {
        name: "503",
        want: exit::OVERLOADED,
        conf: true,
        args: |e, _| v(&["--max-tries=1", &e.http.url("/busy")]),
    },
    Case {
        name: "redirect loop",
        want: exit::TOO_MANY_REDIRECTS,
        conf: true,
        args: |e, _| v(&["--max-tries=1", &e.http.url("/loop")]),
    },
    Case {
        name: "not an HTTP answer",
        want: exit::UNKNOWN,
        conf: true,
        args: |e, _| v(&["--max-tries=1", &e.http.url("/garbage")]),
    },
    Case {
        name: "bad chunked encoding",
        want: exit::UNKNOWN,
        conf: true,
        args: |e, _| {
            v(&[
                "--max-tries=1",
                &format!("http://127.0.0.1:{}/c", e.bad_chunk),
            ])
        },
    },
    Case {
        name: "truncated body",
        want: exit::UNKNOWN,
        conf: true,
        args: |e, _| v(&["--max-tries=1", &e.http.url("/truncated")]),
    },
    Case {
        name: "file exists, --auto-file-renaming=false",
        want: exit::FILE_EXISTS,
        conf: true,
        args: |e, dir| {
            write(dir, "ok", "old");
            v(&["--auto-file-renaming=false", &e.http.url("/ok")])
        },
    },
    Case {
        name: "-c against a server without ranges starts over",
        want: exit::OK,
        conf: true,
        args: |e, dir| {
            write(dir, "norange", "partial");
            v(&["-c", &e.http.url("/norange")])
        },
    },
    Case {
        name: "-d names a regular file",
        want: exit::MAKE_DIR,
        conf: true,
        args: |e, dir| {
            write(dir, "afile", "x");
            v(&["-d", "afile", &e.http.url("/ok")])
        },
    },
    Case {
        name: "checksum mismatch",
        want: exit::CHECKSUM,
        conf: true,
        args: |e, _| {
            v(&[
                &format!("--checksum=sha-256={}", "0".repeat(64)),
                &e.http.url("/ok"),
            ])
        },
    },
    Case {
        name: "FTP login refused (530)",
        want: exit::FTP_COMMAND,
        conf: true,
        args: |e, _| {
            v(&[
                "--max-tries=1",
                &format!("ftp://{USER}:wrong@127.0.0.1:{}/f.bin", e.ftp.port),
            ])
        },
    },
    Case {
        name: "FTP file missing",
        want: exit::NOT_FOUND,
        conf: true,
        args: |e, _| {
            v(&[
                "--max-tries=1",
                &format!("ftp://127.0.0.1:{}/missing.bin", e.ftp.port),
            ])
        },
    },
    Case {
        name: "SFTP port closed",
        want: exit::UNKNOWN,
        conf: true,
        args: |e, _| {
            v(&[
                "--max-tries=1",
                &format!("sftp://u:p@127.0.0.1:{}/f", e.closed),
            ])
        },
    },
    Case {
        name: "unknown option",
        want: exit::BAD_OPTION,
        conf: true,
        args: |e, _| v(&["--no-such-option", &e.http.url("/ok")]),
    },
    Case {
        name: "bad option value",
        want: exit::BAD_OPTION,
        conf: true,
        args: |e, _| v(&["--max-tries=abc", &e.http.url("/ok")]),
    },
    Case {
        name: "--conf-path names no file",
        want: exit::UNKNOWN,
        conf: false,
        args: |e, _| v(&["--conf-path=no-such.conf", &e.http.url("/ok")]),
    },
    Case {
        name: "unknown key in --conf-path: warned, downloads",
        want: exit::OK,
        conf: false,
        args: |e, dir| {
            let c = write(dir, "a.conf", "no-such-key=1\nmax-tries=2\n");
            v(&[&format!("--conf-path={c}"), &e.http.url("/ok")])
        },
    },
    Case {
        name: "bad value in --conf-path",
        want: exit::BAD_OPTION,
        conf: false,
        args: |e, dir| {
            let c = write(dir, "a.conf", "max-tries=abc\n");
            v(&[&format!("--conf-path={c}"), &e.http.url("/ok")])
        },
    },
    Case {
        name: "unknown key in an -i entry: warned, downloads",
        want: exit::OK,
        conf: true,
        args: |e, dir| {
            let text = format!("{}\n  no-such-key=1\n  out=a\n", e.http.url("/ok"));
            v(&["-i", &write(dir, "list", &text)])
        },
    },
    Case {
        name: "bad value in an -i entry",
        want: exit::BAD_OPTION,
        conf: true,
        args: |e, dir| {
            let text = format!("{}\n  max-tries=abc\n", e.http.url("/ok"));
            v(&["-i", &write(dir, "list", &text)])
        },
    },
    Case {
        name: "empty -i file",
        want: exit::OK,
        conf: true,
        args: |_, dir| v(&["-i", &write(dir, "list", "")]),
    },
    Case {
        name: "-i names no file",
        want: exit::UNKNOWN,
        conf: true,
        args: |_, _| v(&["-i", "no-such-list"]),
    },
    Case {
        name: "-T names no file",
        want: exit::BAD_OPTION,
        conf: true,
        args: |_, _| v(&["-T", "nosuch.torrent"]),
    },
    Case {
        name: "-M names no file",
        want: exit::BAD_OPTION,
        conf: true,
        args: |_, _| v(&["-M", "nosuch.meta4"]),
    },
    Case {
        name: "--certificate names no file",
        want: exit::BAD_OPTION,
        conf: true,
        args: |e, _| v(&["--certificate=nosuch.pem", &e.http.url("/ok")]),
    },
    Case {
        name: "neither a URI nor a file",
        want: exit::UNKNOWN,
        conf: true,
        args: |_, _| v(&["no-such-thing"]),
    },
    Case {
        name: "a scheme nobody fetches",
        want: exit::UNKNOWN,
        conf: true,
        args: |_, _| v(&["--max-tries=1", "gopher://127.0.0.1/x"]),
    },
    Case {
        name: "a scheme nobody fetches next to a good mirror",
        want: exit::OK,
        conf: true,
        args: |e, _| v(&["gopher://127.0.0.1/ok", &e.http.url("/ok")]),
    },
    Case {
        name: "magnet without an info-hash",
        want: exit::UNKNOWN,
        conf: true,
        args: |_, _| v(&["magnet:?dn=x"]),
    },
    Case {
        name: "metalink that is not XML",
        want: exit::METALINK_PARSE,
        conf: true,
        args: |_, dir| v(&["-M", &write(dir, "bad.meta4", "not xml")]),
    },
    Case {
        name: "torrent that is not bencode",
        want: exit::BENCODE_PARSE,
        conf: true,
        args: |_, dir| v(&["-T", &write(dir, "bad.torrent", "garbage")]),
    },
    Case {
        name: "torrent without info",
        want: exit::TORRENT_CORRUPT,
        conf: true,
        args: |_, dir| {
            let t = write(dir, "noinfo.torrent", "d8:announce3:urle");
            v(&["-T", &t])
        },
    },
    Case {
        name: "--bt-stop-timeout, no peer",
        want: exit::UNFINISHED,
        conf: true,
        args: |e, dir| {
            std::fs::write(dir.join("t.torrent"), &e.torrent).expect("write torrent");
            v(&[
                "--bt-stop-timeout=1",
                "--enable-dht=false",
                "-T",
                "t.torrent",
            ])
        },
    },
    Case {
        name: "--bt-stop-timeout while fetching a magnet's metadata",
        want: exit::UNFINISHED,
        conf: true,
        args: |e, _| {
            v(&[
                "--bt-stop-timeout=1",
                "--enable-dht=false",
                &format!(
                    "magnet:?xt=urn:btih:{}&tr=http://127.0.0.1:{}/announce",
                    e.torrent_hash, e.closed
                ),
            ])
        },
    },
    Case {
        name: "the same torrent twice",
        want: exit::DUPLICATE_INFO_HASH,
        conf: true,
        args: |e, dir| {
            std::fs::write(dir.join("t.torrent"), &e.torrent).expect("write torrent");
            v(&[
                "--bt-stop-timeout=1",
                "--enable-dht=false",
                "t.torrent",
                "t.torrent",
            ])
        },
    },
];

/// A loopback server answering every connection with `answer` (or, when
/// `None`, holding it open in silence) until the test process ends.
fn canned_server(answer: Option<&'static [u8]>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                match answer {
                    Some(a) => {
                        let _ = c.write_all(a);
                    }
                    None => std::thread::sleep(Duration::from_secs(30)),
                }
            });
        }
    });
    port
}

fn env() -> Option<Env> {
    if !require("aria2c") {
        return None;
    }
    let root = tempdir();
    std::fs::write(root.path().join("f.bin"), pattern(1000, 2)).expect("ftp file");
    let ftp = pyftpd(root.path(), 0)?;
    let http = TestServer::start();
    let body = pattern(BODY_LEN, 1);
    http.add_route("/ok", Route::new(body.clone()));
    http.add_route("/norange", Route::new(body.clone()).no_range());
    http.add_route("/missing", Route::new(Vec::new()).status(404));
    http.add_route("/forbidden", Route::new(Vec::new()).status(403));
    http.add_route("/error", Route::new(Vec::new()).status(500));
    http.add_route("/busy", Route::new(Vec::new()).status(503));
    http.add_route("/auth", Route::new(body.clone()).basic_auth("u", "p"));
    http.add_route("/loop", Route::redirect_to("/loop", 302));
    http.add_route("/garbage", Route::new(body.clone()).garbage_headers());
    http.add_route(
        "/truncated",
        Route::new(body.clone()).no_range().truncate_after(1000),
    );
    http.add_route("/slow", Route::new(pattern(1 << 20, 3)).throttle(4_000));
    let content = pattern(100_000, 4);
    let torrent = make_torrent(
        "t.bin",
        &[(vec![], &content[..])],
        16 << 10,
        Some(&format!("http://127.0.0.1:{}/announce", free_port())),
    );
    Some(Env {
        http,
        ftp,
        _ftp_root: root,
        bad_chunk: canned_server(Some(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        )),
        silent: canned_server(None),
        closed: free_port(),
        torrent_hash: torrent.hex(),
        torrent: torrent.bytes,
    })
}

fn run_one(mut cmd: Command, case: &Case, env: &Env, dir: &Path) -> Outcome {
    if case.conf {
        cmd.arg("--no-conf");
    }
    // Each program gets its own BitTorrent port so side-by-side rows never
    // meet on aria2c's default range.
    cmd.arg(format!(
        "--listen-port={}",
        crate::bt_support::free_tcp_udp_port()
    ));
    cmd.args((case.args)(env, dir));
    wait_with_timeout(cmd.spawn().expect("spawn"), Duration::from_secs(40))
}

/// Both programs on every row; all disagreements are reported together.
#[test]
fn exit_codes_match_aria2c() {
    let Some(env) = env() else {
        return;
    };
    let failures: Vec<String> = std::thread::scope(|s| {
        let env = &env;
        let handles: Vec<_> = CASES
            .iter()
            .map(|case| {
                s.spawn(move || {
                    let a = tempdir();
                    let b = tempdir();
                    let aria2 = run_one(aria2c_command(a.path()), case, env, a.path());
                    let ours = run_one(command(b.path()), case, env, b.path());
                    (case, aria2, ours)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("case thread"))
            .filter(|(case, aria2, ours)| {
                aria2.code != Some(case.want) || ours.code != Some(case.want)
            })
            .map(|(case, aria2, ours)| {
                format!(
                    "{}: want {}, aria2c {:?}, arietta {:?}\n--- aria2c\n{}\n--- arietta\n{}",
                    case.name,
                    case.want,
                    aria2.code,
                    ours.code,
                    aria2.output(),
                    ours.output()
                )
            })
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs `program` twice in a private mount namespace, in a tmpfs of
/// `size` under `out/mnt`: first with the disk too small, then after the
/// tmpfs has grown. Leaves `rc1`, `ls1`, `rc2` and the finished `big.bin`
/// in `out` (the tmpfs goes with the namespace).
const DISK_FULL_SCRIPT: &str = r#"
D="$2/mnt"; mkdir -p "$D"
mount -t tmpfs -o size="$4" tmpfs "$D" || exit 99
cd "$D"; export HOME="$D"
"$1" --no-conf --summary-interval=0 --max-tries=1 "$5" "$3" >"$2/run1.txt" 2>&1
echo $? >"$2/rc1"; ls "$D" >"$2/ls1"
mount -o remount,size=64m "$D"
"$1" --no-conf --summary-interval=0 --max-tries=1 "$5" "$3" >"$2/run2.txt" 2>&1
echo $? >"$2/rc2"; ls "$D" >"$2/ls2"
cp "$D/big.bin" "$2/big.bin"
"#;

/// Whether this host lets an unprivileged (or root) process mount a tmpfs
/// in a namespace of its own: `unshare -rm`.
fn tmpfs_allowed() -> Result<(), String> {
    let dir = tempdir();
    let ok = Command::new("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=1m tmpfs \"$0\"",
            s(dir.path()),
        ])
        .status()
        .is_ok_and(|st| st.success());
    if ok {
        Ok(())
    } else {
        Err("cannot mount a tmpfs with `unshare -rm` (no user or mount namespaces)".into())
    }
}

/// A full disk: aria2c and arietta both exit 9, keep the control file,
/// and once space is freed resume into the same file and finish it
/// byte-identical. Both the write that fails mid-body (a file under
/// `--no-file-allocation-limit`, never allocated ahead) and the
/// allocation that fails up front (`--file-allocation=falloc`).
#[test]
fn disk_full_exits_9_and_resumes_after_space_is_freed() {
    if !require("aria2c") || require_ok(tmpfs_allowed()).is_none() {
        return;
    }
    let srv = TestServer::start();
    for (len, tmpfs, alloc) in [
        (3 << 20, "1m", "--file-allocation=prealloc"),
        (8 << 20, "4m", "--file-allocation=falloc"),
    ] {
        let body = pattern(len, 7);
        srv.add_route("/big.bin", Route::new(body.clone()));
        for program in ["aria2c", env!("CARGO_BIN_EXE_arietta")] {
            let out = tempdir();
            let o = out.path();
            let status = hermetic(Command::new("unshare"), o)
                .args(["-rm", "sh", "-c", DISK_FULL_SCRIPT, "sh", program, s(o)])
                .args([&srv.url("/big.bin"), tmpfs, alloc])
                .status()
                .expect("run unshare");
            let read = |f: &str| std::fs::read_to_string(o.join(f)).unwrap_or_default();
            let ctx = format!(
                "{program} {alloc}: status {status}\n--- first run\n{}\n--- second run\n{}",
                read("run1.txt"),
                read("run2.txt")
            );
            assert_eq!(read("rc1").trim(), exit::NO_SPACE.to_string(), "{ctx}");
            assert!(read("ls1").lines().any(|l| l == "big.bin.aria2"), "{ctx}");
            assert_eq!(read("rc2").trim(), "0", "{ctx}");
            assert_eq!(read("ls2").trim(), "big.bin", "{ctx}");
            assert_file_eq(&o.join("big.bin"), &body);
        }
    }
}
