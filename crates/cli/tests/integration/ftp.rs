//! FTP end to end: the real `arietta` binary against pyftpdlib and vsftpd
//! started on free loopback ports, against a small hostile server written
//! here (garbage replies, data connections cut short, stalls), and through
//! HTTP proxies (GET-style and a CONNECT tunnel written here).
//!
//! pyftpdlib and vsftpd come from `.ci/run`; a test whose server is not
//! installed prints why and passes (and fails under CI).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support;
use crate::support::ftpd::{pyftpd, pyftpd_on, vsftpd, PASSWORD, USER};
use crate::support::{
    assert_file_eq, bytes_landed, control_file, exit, run, signal_and_wait, spawn, tempdir,
    wait_until,
};
use arietta_testserver::pattern;

fn url(port: u16, path: &str) -> String {
    format!("ftp://127.0.0.1:{port}{path}")
}

/// A served directory holding `name` with `len` bytes of pattern `seed`.
fn served(len: usize, seed: u64, name: &str) -> (tempfile::TempDir, Vec<u8>) {
    let root = tempdir();
    let body = pattern(len, seed);
    let p = root.path().join(name);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(&p, &body).unwrap();
    (root, body)
}

#[test]
fn pyftpdlib_anonymous_whole_file() {
    let (root, body) = served(3 << 20, 1, "a.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    run(out.path(), &[&url(srv.port, "/a.bin")]).expect_code(exit::OK);
    assert_file_eq(&out.path().join("a.bin"), &body);
}

#[test]
fn pyftpdlib_segmented_four_connections() {
    let (root, body) = served(8 << 20, 2, "seg.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    run(
        out.path(),
        &["-x4", "-s4", "-k1M", &url(srv.port, "/seg.bin")],
    )
    .expect_code(exit::OK);
    let f = out.path().join("seg.bin");
    assert_file_eq(&f, &body);
    assert!(!control_file(&f).exists(), "control file left behind");
}

#[test]
fn pyftpdlib_active_mode() {
    let (root, body) = served(4 << 20, 3, "act.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    run(
        out.path(),
        &[
            "--ftp-pasv=false",
            // Under load pyftpdlib 2.2 now and then stops reading a control
            // connection right after an active data connection (the command
            // stays in its receive queue); a short --timeout lets that
            // connection go and another finish the segment, as a user would
            // see it recover.
            "--timeout=5",
            "-x2",
            "-s2",
            "-k1M",
            &url(srv.port, "/act.bin"),
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&out.path().join("act.bin"), &body);
}

#[test]
fn pyftpdlib_user_login_in_uri_and_options() {
    let (root, body) = served(1 << 20, 4, "sub dir/deep/u.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    let in_uri = format!(
        "ftp://{USER}:{PASSWORD}@127.0.0.1:{}/sub%20dir/deep/u.bin",
        srv.port
    );
    run(out.path(), &["-o", "uri.bin", &in_uri]).expect_code(exit::OK);
    assert_file_eq(&out.path().join("uri.bin"), &body);

    let user = format!("--ftp-user={USER}");
    let pass = format!("--ftp-passwd={PASSWORD}");
    let plain = url(srv.port, "/sub%20dir/deep/u.bin");
    run(out.path(), &[&user, &pass, "-o", "opt.bin", &plain]).expect_code(exit::OK);
    assert_file_eq(&out.path().join("opt.bin"), &body);

    // .netrc in the (hermetic) HOME, which is the working directory.
    let netrc = out.path().join(".netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login {USER} password {PASSWORD}\n"),
    )
    .unwrap();
    run(out.path(), &["-o", "netrc.bin", &plain]).expect_code(exit::OK);
    assert_file_eq(&out.path().join("netrc.bin"), &body);
}

#[test]
fn pyftpdlib_wrong_password_exits_21() {
    let (root, _) = served(1000, 5, "x.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    let uri = format!("ftp://{USER}:wrong@127.0.0.1:{}/x.bin", srv.port);
    let o = run(out.path(), &["--max-tries=1", &uri]);
    // aria2c 1.36 answers a 530 with 21 (FTP protocol error), not 24.
    o.expect_code(exit::FTP_COMMAND);
    assert!(!out.path().join("x.bin").exists());
}

#[test]
fn pyftpdlib_missing_file_exits_3() {
    let (root, _) = served(1000, 6, "x.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    run(out.path(), &[&url(srv.port, "/nope.bin")]).expect_code(exit::NOT_FOUND);
    run(out.path(), &[&url(srv.port, "/no/such/dir/x.bin")]).expect_code(exit::NOT_FOUND);
    assert!(!out.path().join("nope.bin").exists());
}

#[test]
fn pyftpdlib_continue_partial_file() {
    let (root, body) = served(6 << 20, 7, "part.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    let f = out.path().join("part.bin");
    std::fs::write(&f, &body[..(2 << 20) + 123]).unwrap();
    run(
        out.path(),
        &["-c", "-x2", "-s2", "-k1M", &url(srv.port, "/part.bin")],
    )
    .expect_code(exit::OK);
    assert_file_eq(&f, &body);
}

#[test]
fn pyftpdlib_control_file_resume_after_kill9() {
    const SIZE: usize = 8 << 20;
    let (root, body) = served(SIZE, 8, "k.bin");
    // 256 KiB/s per data connection: 4 connections need ~8 s for the file
    // (a little less: loopback socket buffers soak up a first burst).
    let Some(slow) = pyftpd(root.path(), 256 << 10) else {
        return;
    };
    let out = tempdir();
    let f = out.path().join("k.bin");
    let child = spawn(
        out.path(),
        &["-x4", "-s4", "-k1M", &url(slow.port, "/k.bin")],
    );
    // Kill once a megabyte (of 8) has landed: mid-file, with segments
    // both done and in flight.
    assert!(
        wait_until(Duration::from_secs(10), || control_file(&f).exists()
            && bytes_landed(&f) >= 1 << 20),
        "no progress within 10 s"
    );
    let killed = signal_and_wait(child, libc::SIGKILL, Duration::from_secs(10));
    assert_eq!(killed.code, None, "the run finished before the kill");
    assert!(control_file(&f).exists(), "no control file after kill -9");
    drop(slow);
    let Some(fast) = pyftpd(root.path(), 0) else {
        return;
    };
    run(
        out.path(),
        &["-x4", "-s4", "-k1M", &url(fast.port, "/k.bin")],
    )
    .expect_code(exit::OK);
    assert_file_eq(&f, &body);
    assert!(!control_file(&f).exists());
}

#[test]
fn pyftpdlib_remote_time() {
    let (root, body) = served(5000, 9, "t.bin");
    let mtime = std::time::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    std::fs::File::options()
        .write(true)
        .open(root.path().join("t.bin"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    run(out.path(), &["--remote-time", &url(srv.port, "/t.bin")]).expect_code(exit::OK);
    let f = out.path().join("t.bin");
    assert_file_eq(&f, &body);
    assert_eq!(std::fs::metadata(&f).unwrap().modified().unwrap(), mtime);
}

#[test]
fn pyftpdlib_ipv6_passive_and_active() {
    // No IPv6 loopback is the host's network, not a missing program: this
    // skips even under CI.
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback here");
        return;
    }
    let (root, body) = served(3 << 20, 15, "six.bin");
    let Some(srv) = pyftpd_on(root.path(), 0, "::1") else {
        return;
    };
    let out = tempdir();
    let uri = format!("ftp://[::1]:{}/six.bin", srv.port);
    run(out.path(), &["-x2", "-s2", "-k1M", "-o", "p.bin", &uri]).expect_code(exit::OK);
    assert_file_eq(&out.path().join("p.bin"), &body);
    run(
        out.path(),
        &[
            "-x2",
            "-s2",
            "-k1M",
            "--ftp-pasv=false",
            "-o",
            "a.bin",
            &uri,
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&out.path().join("a.bin"), &body);
}

#[test]
fn pyftpdlib_without_connection_reuse() {
    let (root, body) = served(6 << 20, 16, "nr.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    run(
        out.path(),
        &[
            "--ftp-reuse-connection=false",
            "-x2",
            "-s6",
            "-k1M",
            &url(srv.port, "/nr.bin"),
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&out.path().join("nr.bin"), &body);
}

#[test]
fn pyftpdlib_empty_file() {
    let (root, _) = served(0, 17, "empty.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    run(out.path(), &[&url(srv.port, "/empty.bin")]).expect_code(exit::OK);
    assert_file_eq(&out.path().join("empty.bin"), b"");
}

#[test]
fn ftp_and_http_mirrors_share_one_file() {
    let (root, body) = served(8 << 20, 18, "m.bin");
    let Some(ftp) = pyftpd(root.path(), 0) else {
        return;
    };
    let http = arietta_testserver::TestServer::start();
    let http_url = http.add_file("/m.bin", body.clone());
    // Paced so that neither mirror finishes the file alone.
    http.set_throttle(Some(4 << 20));
    let out = tempdir();
    run(
        out.path(),
        &["-x2", "-s4", "-k1M", &http_url, &url(ftp.port, "/m.bin")],
    )
    .expect_code(exit::OK);
    assert_file_eq(&out.path().join("m.bin"), &body);
    let from_http = http.bytes_served("/m.bin");
    assert!(
        from_http > 0 && from_http < body.len() as u64,
        "HTTP mirror served {from_http} of {} bytes",
        body.len()
    );
}

#[test]
fn pyftpdlib_ascii_type() {
    let root = tempdir();
    std::fs::write(root.path().join("t.txt"), b"one\ntwo\n").unwrap();
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let out = tempdir();
    run(out.path(), &["--ftp-type=ascii", &url(srv.port, "/t.txt")]).expect_code(exit::OK);
    // TYPE A: the server sends network line endings.
    assert_file_eq(&out.path().join("t.txt"), b"one\r\ntwo\r\n");
}

#[test]
fn vsftpd_segmented_passive_and_active() {
    let (root, body) = served(8 << 20, 10, "pub/v.bin");
    let work = tempdir();
    let Some(srv) = vsftpd(root.path(), work.path()) else {
        return;
    };
    let out = tempdir();
    let uri = url(srv.port, "/pub/v.bin");
    run(out.path(), &["-x4", "-s4", "-k1M", "-o", "pasv.bin", &uri]).expect_code(exit::OK);
    assert_file_eq(&out.path().join("pasv.bin"), &body);
    run(
        out.path(),
        &[
            "-x4",
            "-s4",
            "-k1M",
            "--ftp-pasv=false",
            "-o",
            "port.bin",
            &uri,
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&out.path().join("port.bin"), &body);
    run(out.path(), &[&url(srv.port, "/pub/missing.bin")]).expect_code(exit::NOT_FOUND);
}

#[test]
fn vsftpd_continue_partial_file() {
    let (root, body) = served(5 << 20, 11, "c.bin");
    let work = tempdir();
    let Some(srv) = vsftpd(root.path(), work.path()) else {
        return;
    };
    let out = tempdir();
    let f = out.path().join("c.bin");
    std::fs::write(&f, &body[..3 << 20]).unwrap();
    run(out.path(), &["-c", &url(srv.port, "/c.bin")]).expect_code(exit::OK);
    assert_file_eq(&f, &body);
}

/// How the hostile server misbehaves.
#[derive(Clone, Copy)]
enum Fault {
    /// The reply to USER is not an FTP reply at all.
    GarbageReply,
    /// The first `n` RETRs send 64 KiB, then close the data connection and
    /// never send a final reply.
    CutData(usize),
    /// RETR opens the data connection and then sends nothing, ever.
    Stall,
}

/// A small FTP server that speaks just enough (USER, PASS, PWD, TYPE, CWD,
/// SIZE, EPSV, PASV, REST, RETR, ABOR, NOOP, QUIT) and misbehaves on cue.
struct HostileFtp {
    port: u16,
    retrs: Arc<AtomicUsize>,
    served: Arc<AtomicU64>,
}

impl HostileFtp {
    fn start(body: Vec<u8>, fault: Fault) -> HostileFtp {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let retrs = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicU64::new(0));
        let body = Arc::new(body);
        let (r, sv) = (retrs.clone(), served.clone());
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let (body, r, sv) = (body.clone(), r.clone(), sv.clone());
                std::thread::spawn(move || {
                    let _ = serve_hostile(conn, &body, fault, &r, &sv);
                });
            }
        });
        HostileFtp {
            port,
            retrs,
            served,
        }
    }
}

fn serve_hostile(
    ctrl: TcpStream,
    body: &[u8],
    fault: Fault,
    retrs: &AtomicUsize,
    served: &AtomicU64,
) -> std::io::Result<()> {
    let mut w = ctrl.try_clone()?;
    let mut lines = BufReader::new(ctrl);
    w.write_all(b"220 hostile ready\r\n")?;
    let mut rest = 0usize;
    let mut pasv: Option<TcpListener> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let (verb, arg) = line
            .trim_end()
            .split_once(' ')
            .unwrap_or((line.trim_end(), ""));
        let reply: String = match verb.to_ascii_uppercase().as_str() {
            "USER" if matches!(fault, Fault::GarbageReply) => {
                "\u{1}\u{2} this is not FTP\r\n".into()
            }
            "USER" => "331 password please\r\n".into(),
            "PASS" => "230 in\r\n".into(),
            "PWD" => "257 \"/\" is the directory\r\n".into(),
            "TYPE" | "NOOP" => "200 ok\r\n".into(),
            "CWD" => "250 ok\r\n".into(),
            "SIZE" => format!("213 {}\r\n", body.len()),
            "ABOR" => "225 no transfer\r\n".into(),
            "REST" => {
                rest = arg.parse().unwrap_or(0);
                "350 restarting\r\n".into()
            }
            "EPSV" | "PASV" => {
                let l = TcpListener::bind("127.0.0.1:0")?;
                let p = l.local_addr()?.port();
                pasv = Some(l);
                if verb.eq_ignore_ascii_case("EPSV") {
                    format!("229 Entering Extended Passive Mode (|||{p}|)\r\n")
                } else {
                    format!(
                        "227 Entering Passive Mode (127,0,0,1,{},{})\r\n",
                        p >> 8,
                        p & 255
                    )
                }
            }
            "RETR" => {
                let Some(l) = pasv.take() else {
                    w.write_all(b"425 use EPSV first\r\n")?;
                    continue;
                };
                w.write_all(b"150 here it comes\r\n")?;
                let (mut data, _) = l.accept()?;
                let n = retrs.fetch_add(1, Ordering::SeqCst);
                if matches!(fault, Fault::Stall) {
                    // Hold both connections open until the client leaves.
                    let mut sink = [0u8; 64];
                    while lines.read(&mut sink).unwrap_or(0) > 0 {}
                    drop(data);
                    return Ok(());
                }
                let from = rest.min(body.len());
                rest = 0;
                let cut = matches!(fault, Fault::CutData(k) if n < k);
                let until = if cut {
                    (from + (64 << 10)).min(body.len())
                } else {
                    body.len()
                };
                let mut ok = true;
                for piece in body[from..until].chunks(64 << 10) {
                    if data.write_all(piece).is_err() {
                        ok = false;
                        break;
                    }
                    served.fetch_add(piece.len() as u64, Ordering::SeqCst);
                }
                drop(data);
                if cut {
                    // Silence on the control connection: the client must
                    // notice the short transfer without a final reply.
                    continue;
                }
                if ok {
                    "226 done\r\n".into()
                } else {
                    "426 aborted\r\n".into()
                }
            }
            "QUIT" => {
                w.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => "502 not implemented\r\n".into(),
        };
        w.write_all(reply.as_bytes())?;
    }
}

#[test]
fn hostile_garbage_reply_is_a_clear_error() {
    let srv = HostileFtp::start(pattern(1000, 12), Fault::GarbageReply);
    let out = tempdir();
    let o = run(out.path(), &[&url(srv.port, "/g.bin")]);
    o.expect_code(exit::UNKNOWN);
    assert!(
        o.output().contains("malformed FTP reply"),
        "no clear message:\n{}",
        o.output()
    );
    assert!(!out.path().join("g.bin").exists());
}

#[test]
fn hostile_cut_data_connection_is_retried() {
    let body = pattern(2 << 20, 13);
    let srv = HostileFtp::start(body.clone(), Fault::CutData(2));
    let out = tempdir();
    run(
        out.path(),
        &["--retry-wait=0", "--timeout=5", &url(srv.port, "/cut.bin")],
    )
    .expect_code(exit::OK);
    assert_file_eq(&out.path().join("cut.bin"), &body);
    assert_eq!(srv.retrs.load(Ordering::SeqCst), 3);
    // The retries continued where the cut transfers stopped.
    assert_eq!(srv.served.load(Ordering::SeqCst), body.len() as u64);
}

#[test]
fn hostile_stalled_transfer_times_out() {
    let srv = HostileFtp::start(pattern(1 << 20, 21), Fault::Stall);
    let out = tempdir();
    let o = run(
        out.path(),
        &["--timeout=1", "--max-tries=1", &url(srv.port, "/s.bin")],
    );
    o.expect_code(exit::TIMEOUT);
}

#[test]
fn hostile_always_cut_fails_with_exit_1() {
    let srv = HostileFtp::start(pattern(2 << 20, 14), Fault::CutData(usize::MAX));
    let out = tempdir();
    let o = run(
        out.path(),
        &[
            "--retry-wait=0",
            "--max-tries=2",
            "--timeout=5",
            &url(srv.port, "/cut.bin"),
        ],
    );
    o.expect_code(exit::UNKNOWN);
    assert!(
        o.output().contains("data connection closed"),
        "no clear message:\n{}",
        o.output()
    );
}

#[test]
fn ftp_through_an_http_proxy_with_get() {
    // The proxy side is a real HTTP server answering the absolute-form
    // `GET ftp://host/path` it is sent, with ranges, as a proxy would.
    let body = pattern(6 << 20, 19);
    let proxy = arietta_testserver::TestServer::start();
    proxy.add_file("/pub/pp.bin", body.clone());
    let out = tempdir();
    let via = format!("--ftp-proxy={}", proxy.url("/").trim_end_matches('/'));
    run(
        out.path(),
        &[&via, "-x3", "-s3", "-k1M", "ftp://ftp.invalid/pub/pp.bin"],
    )
    .expect_code(exit::OK);
    assert_file_eq(&out.path().join("pp.bin"), &body);
    support::assert_served_once(proxy.bytes_served("/pub/pp.bin"), body.len() as u64);
}

/// A minimal HTTP CONNECT proxy: one tunnel per connection, bytes copied
/// both ways; counts the tunnels it opened.
struct ConnectProxy {
    port: u16,
    tunnels: Arc<AtomicUsize>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let tunnels = Arc::new(AtomicUsize::new(0));
        let count = tunnels.clone();
        std::thread::spawn(move || {
            for client in l.incoming().flatten() {
                let count = count.clone();
                std::thread::spawn(move || {
                    let _ = tunnel_one(client, &count);
                });
            }
        });
        ConnectProxy { port, tunnels }
    }
}

fn tunnel_one(client: TcpStream, count: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let mut w = client.try_clone()?;
    let target = match first.split_whitespace().collect::<Vec<_>>()[..] {
        ["CONNECT", target, _] => target.to_owned(),
        _ => {
            w.write_all(b"HTTP/1.1 405 CONNECT only\r\n\r\n")?;
            return Ok(());
        }
    };
    let Ok(origin) = TcpStream::connect(&target) else {
        w.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")?;
        return Ok(());
    };
    count.fetch_add(1, Ordering::SeqCst);
    w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (mut o_read, mut o_write) = (origin.try_clone()?, origin);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut o_write);
        let _ = o_write.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut o_read, &mut w);
    let _ = w.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
    Ok(())
}

#[test]
fn ftp_tunnelled_through_a_connect_proxy() {
    let (root, body) = served(4 << 20, 20, "tun.bin");
    let Some(srv) = pyftpd(root.path(), 0) else {
        return;
    };
    let proxy = ConnectProxy::start();
    let out = tempdir();
    let via = format!("--ftp-proxy=http://127.0.0.1:{}", proxy.port);
    run(
        out.path(),
        &[
            &via,
            "--proxy-method=tunnel",
            "-x2",
            "-s2",
            "-k1M",
            &url(srv.port, "/tun.bin"),
        ],
    )
    .expect_code(exit::OK);
    assert_file_eq(&out.path().join("tun.bin"), &body);
    // At least one control and one data tunnel per connection.
    assert!(proxy.tunnels.load(Ordering::SeqCst) >= 4);
}
