//! The RPC transport under abuse (issue 11): 2,000 idle sockets, a
//! slowloris trickle, a 100 MB body, a WebSocket frame declaring 1 TiB,
//! requests nested 100,000 deep, the connection cap reached, a WebSocket
//! client that never reads, 1,000 idle WebSockets. While each runs,
//! another client's `aria2.getVersion` on a fresh connection must keep
//! answering quickly and the daemon's resident memory must stay under
//! [`RSS_BOUND_KB`].
//!
//! The daemon runs with `ARIETTA_RPC_REQUEST_TIMEOUT_MS` at [`TIMEOUT`]
//! instead of aria2's 30 s, so the cases that wait for the timeout take
//! seconds.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::rpc_client::{ws_connect, Daemon};
use crate::support::tempdir;

/// The request timeout the daemon runs with here.
const TIMEOUT: Duration = Duration::from_millis(2000);

/// The bound on the daemon's VmRSS during every case, in KiB. An idle
/// daemon sits near 11 MiB, 2,000 idle sockets take it to about 34 MiB
/// and 1,000 WebSockets to about 21 MiB (9 to 12 KiB a socket), so even
/// the full cap of 4,096 stays near 60 MiB. The same figure stands in
/// docs/architecture.md.
const RSS_BOUND_KB: u64 = 128 << 10;

/// The slowest getVersion round trip (p99, a fresh connection each) allowed
/// while an abuse runs: 100 ms, with a margin for debug builds on a loaded
/// machine.
const P99_BOUND: Duration = if cfg!(debug_assertions) {
    Duration::from_millis(250)
} else {
    Duration::from_millis(100)
};

/// The median round trip allowed: abuse must not slow the common case.
const P50_BOUND: Duration = Duration::from_millis(20);

fn start() -> (tempfile::TempDir, Daemon) {
    let tmp = tempdir();
    let ms = TIMEOUT.as_millis().to_string();
    let d = Daemon::start_with(tmp.path(), &[], |cmd| {
        cmd.env("ARIETTA_RPC_REQUEST_TIMEOUT_MS", &ms);
    });
    (tmp, d)
}

/// Descriptors the process `pid` holds.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The daemon's resident set in KiB, from /proc.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A getVersion on a fresh connection; `None` when it got no answer.
fn probe_once(port: u16) -> Option<Duration> {
    let body = r#"{"jsonrpc":"2.0","id":"p","method":"aria2.getVersion","params":[]}"#;
    let t = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    c.set_nodelay(true).ok()?;
    write!(
        c,
        "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = Vec::new();
    c.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    (text.starts_with("HTTP/1.1 200") && text.contains("\"version\"")).then(|| t.elapsed())
}

/// Probes the daemon every 10 ms and samples its RSS until stopped.
struct Prober {
    started: Instant,
    stop: Arc<AtomicBool>,
    worker: thread::JoinHandle<(Vec<Duration>, usize, u64)>,
}

/// What a [`Prober`] saw.
struct Seen {
    latencies: Vec<Duration>,
    failures: usize,
    max_rss_kb: u64,
}

impl Prober {
    fn start(d: &Daemon) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let (port, pid, flag) = (d.port, d.child.id(), stop.clone());
        let worker = thread::spawn(move || {
            let (mut lat, mut failures, mut rss) = (Vec::new(), 0, 0);
            while !flag.load(Ordering::Relaxed) {
                match probe_once(port) {
                    Some(l) => lat.push(l),
                    None => failures += 1,
                }
                rss = rss.max(rss_kb(pid));
                thread::sleep(Duration::from_millis(10));
            }
            (lat, failures, rss)
        });
        Prober {
            started: Instant::now(),
            stop,
            worker,
        }
    }

    /// Stops probing, after at least half a second of it.
    fn finish(self) -> Seen {
        thread::sleep(Duration::from_millis(500).saturating_sub(self.started.elapsed()));
        self.stop.store(true, Ordering::Relaxed);
        let (mut latencies, failures, max_rss_kb) = self.worker.join().unwrap();
        latencies.sort();
        Seen {
            latencies,
            failures,
            max_rss_kb,
        }
    }
}

impl Seen {
    /// Asserts every probe was answered, p99 under [`P99_BOUND`] and RSS
    /// under [`RSS_BOUND_KB`]; prints the numbers.
    #[track_caller]
    fn check(&self, case: &str) {
        let n = self.latencies.len();
        assert!(n >= 5, "{case}: only {n} probes answered");
        let at = |q: f64| self.latencies[((n as f64 * q) as usize).min(n - 1)];
        let (p50, p99, max) = (at(0.5), at(0.99), self.latencies[n - 1]);
        eprintln!(
            "{case}: {n} probes, p50 {p50:?}, p99 {p99:?}, max {max:?}, max RSS {} KiB",
            self.max_rss_kb
        );
        assert_eq!(self.failures, 0, "{case}: unanswered probes");
        assert!(p50 < P50_BOUND, "{case}: p50 {p50:?}");
        assert!(p99 < P99_BOUND, "{case}: p99 {p99:?}");
        assert!(
            self.max_rss_kb < RSS_BOUND_KB,
            "{case}: RSS {} KiB",
            self.max_rss_kb
        );
    }
}

/// Whether the server has closed `c` (EOF or reset) within `limit`.
fn closed_within(c: &mut TcpStream, limit: Duration) -> bool {
    c.set_read_timeout(Some(limit)).unwrap();
    let mut b = [0u8; 256];
    loop {
        match c.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Lifts this process's descriptor limit to its hard limit: the test
/// holds 2,000 sockets, more than a default soft limit of 1,024 allows.
fn raise_nofile(need: libc::rlim_t) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write only the struct given,
    // which lives for each call.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        r.rlim_cur = r.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &r), 0);
    }
    assert!(
        r.rlim_cur >= need,
        "the hard descriptor limit {} is under the {need} this test needs",
        r.rlim_cur
    );
}

#[test]
fn two_thousand_idle_connections_are_closed_and_never_block_others() {
    raise_nofile(4500);
    let (_tmp, d) = start();
    let probe = Prober::start(&d);
    let opened = Instant::now();
    let mut idle: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(("127.0.0.1", d.port)).expect("connect"))
        .collect();
    // Half of them send half a head and stop.
    for c in idle.iter_mut().step_by(2) {
        c.write_all(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Le")
            .unwrap();
    }
    // Every one is closed by the request timeout (plus scheduling slack).
    let limit = TIMEOUT + Duration::from_secs(3);
    for (i, c) in idle.iter_mut().enumerate() {
        let left = limit
            .saturating_sub(opened.elapsed())
            .max(Duration::from_millis(1));
        assert!(closed_within(c, left), "idle connection {i} still open");
    }
    probe.finish().check("2000 idle");
}

#[test]
fn slowloris_trickle_is_cut_at_the_request_timeout() {
    let (_tmp, d) = start();
    let probe = Prober::start(&d);
    let head = b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(("127.0.0.1", d.port)).expect("connect"))
        .collect();
    let began = Instant::now();
    let mut cut_at = vec![None; slow.len()];
    // One byte per connection every 100 ms: never idle, never done.
    'trickle: for &byte in head.iter().cycle() {
        for (i, c) in slow.iter_mut().enumerate() {
            if cut_at[i].is_none() && c.write_all(&[byte]).is_err() {
                cut_at[i] = Some(began.elapsed());
            }
        }
        if cut_at.iter().all(Option::is_some) || began.elapsed() > TIMEOUT * 3 {
            break 'trickle;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let seen = probe.finish();
    let uncut = cut_at.iter().filter(|c| c.is_none()).count();
    assert_eq!(uncut, 0, "{uncut} trickling connections still open");
    let last = cut_at.iter().flatten().max().unwrap();
    assert!(*last < TIMEOUT * 2, "the last was cut after {last:?}");
    seen.check("slowloris");
}

#[test]
fn hundred_megabyte_body_is_refused_before_it_is_read() {
    let (_tmp, d) = start();
    let probe = Prober::start(&d);
    let mut c = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        c,
        "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        100u64 << 20
    )
    .unwrap();
    // Push the body until the daemon's close stops us: only what the
    // socket buffers hold gets through.
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0u64;
    let began = Instant::now();
    while sent < 100 << 20 {
        match c.write(&chunk) {
            Ok(n) => sent += n as u64,
            Err(_) => break,
        }
    }
    let took = began.elapsed();
    assert!(sent < 100 << 20, "the daemon took the whole body");
    assert!(took < Duration::from_secs(3), "refused only after {took:?}");
    // As aria2: no answer, the connection just ends.
    let mut rest = Vec::new();
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = c.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    // A second one, then a lying Content-Length under the limit followed
    // by 100 MB: the excess is a broken next request, also refused.
    let mut liar = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    liar.set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        liar,
        "POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
    )
    .unwrap();
    let mut sent = 0u64;
    while sent < 100 << 20 {
        match liar.write(&chunk) {
            Ok(n) => sent += n as u64,
            Err(_) => break,
        }
    }
    assert!(sent < 100 << 20, "the daemon read 100 MB of garbage");
    thread::sleep(Duration::from_millis(300));
    probe.finish().check("100 MB body");
}

#[test]
fn websocket_frame_declaring_a_terabyte_is_closed_without_allocating() {
    let (_tmp, d) = start();
    let probe = Prober::start(&d);
    let (mut c, head) = ws_connect(d.port);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // A masked text frame header declaring 1 TiB, then some of it.
    let mut frame = vec![0x81, 0x80 | 127];
    frame.extend_from_slice(&(1u64 << 40).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    c.write_all(&frame).unwrap();
    let _ = c.write_all(&vec![0u8; 256 << 10]);
    let mut close = [0u8; 4];
    c.read_exact(&mut close).unwrap();
    assert_eq!(close[0], 0x88, "a close frame");
    assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1009);
    assert!(closed_within(&mut c, Duration::from_secs(3)));
    // Many of them at once.
    let mut many: Vec<TcpStream> = (0..100).map(|_| ws_connect(d.port).0).collect();
    for c in &mut many {
        c.write_all(&frame).unwrap();
    }
    for c in &mut many {
        assert!(closed_within(c, Duration::from_secs(3)));
    }
    probe.finish().check("huge WebSocket frame");
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let (_tmp, d) = start();
    let probe = Prober::start(&d);
    let depth = 100_000;
    let deep_json = format!(
        r#"{{"jsonrpc":"2.0","id":"d","method":"aria2.getVersion","params":[{}{}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let (status, body) = d.post(&deep_json);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("-32700"), "{body}");
    // XML-RPC: 40,000 nested arrays (1.7 MB, under the 2 MiB limit).
    let levels = 40_000;
    let deep_xml = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>aria2.getVersion</methodName><params><param>{}{}</param></params></methodCall>",
        "<value><array><data>".repeat(levels),
        "</data></array></value>".repeat(levels)
    );
    let (status, _) = crate::support::rpc_client::http_post(d.port, "/rpc", "text/xml", &deep_xml);
    assert_eq!(status, 400);
    // And over a WebSocket.
    let (mut c, _) = ws_connect(d.port);
    c.write_all(&crate::support::rpc_client::ws_text_frame(&deep_json))
        .unwrap();
    let answer = crate::support::rpc_client::ws_read_text(&mut c);
    assert!(answer.contains("-32700"), "{answer}");
    probe.finish().check("deep nesting");
    assert!(d.call("aria2.getVersion", "[]").contains("version"));
}

/// With a descriptor limit of 256 the cap is 128 connections: 400 idle
/// sockets never take the daemon past it, and a new client is still let
/// in at once (the longest-idle socket is closed to make room).
#[test]
fn at_the_connection_cap_the_longest_idle_socket_makes_room() {
    let tmp = tempdir();
    let d = Daemon::start_with(tmp.path(), &[], |cmd| {
        // Long enough that only eviction can free the slots in time.
        cmd.env("ARIETTA_RPC_REQUEST_TIMEOUT_MS", "30000");
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe and touches only the
        // child, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let r = libc::rlimit {
                    rlim_cur: 256,
                    rlim_max: 256,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    // Counted once the daemon is fully up (executors, listeners).
    assert!(d.call("aria2.getVersion", "[]").contains("version"));
    thread::sleep(Duration::from_millis(200));
    let before = open_fds(d.child.id());
    let mut idle: Vec<TcpStream> = (0..400)
        .map(|_| TcpStream::connect(("127.0.0.1", d.port)).expect("connect"))
        .collect();
    thread::sleep(Duration::from_millis(300));
    let fds = open_fds(d.child.id());
    // The newest sockets survive; the oldest were closed to admit them.
    let mut first = idle.remove(0);
    assert!(closed_within(&mut first, Duration::from_secs(1)));
    let last = idle.last_mut().unwrap();
    assert!(!closed_within(last, Duration::from_millis(200)));
    // Every slot now holds an idle socket: each new client is let in at
    // once by closing the longest idle one. (Probing during the flood
    // itself would race: a client slow to send its request after connect
    // is, by this very policy, the oldest waiter once 128 more arrive.)
    let probe = Prober::start(&d);
    probe.finish().check("400 idle at a cap of 128");
    assert!(
        // The probe's socket and evicted ones still closing add a few.
        fds <= before + 128 + 8,
        "{fds} descriptors open (from {before}): over the cap"
    );
}

/// A WebSocket client that pipelines requests and never reads the answers
/// is throttled (the daemon stops reading it), not buffered without bound.
#[test]
fn websocket_client_that_never_reads_is_throttled() {
    let (_tmp, d) = start();
    let probe = Prober::start(&d);
    let (mut c, _) = ws_connect(d.port);
    let frame = crate::support::rpc_client::ws_text_frame(
        r#"{"jsonrpc":"2.0","id":"w","method":"aria2.getVersion","params":[]}"#,
    );
    let burst: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 1000)
        .collect();
    c.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // 200,000 requests (about 34 MB of answers) unless the writes stall.
    let mut stalled = false;
    for _ in 0..200 {
        if c.write_all(&burst).is_err() {
            stalled = true;
            break;
        }
    }
    assert!(
        stalled,
        "the daemon read every request of a client that never reads"
    );
    probe.finish().check("WebSocket never read");
}

/// WebSocket sessions are never timed out or evicted (aria2 keeps them,
/// and a web UI holds one for hours without sending): 1,000 idle ones
/// still leave the daemon quick and small.
#[test]
fn thousand_idle_websockets_leave_the_daemon_quick_and_small() {
    raise_nofile(2500);
    let (_tmp, d) = start();
    let probe = Prober::start(&d);
    let sessions: Vec<TcpStream> = (0..1000).map(|_| ws_connect(d.port).0).collect();
    thread::sleep(TIMEOUT + Duration::from_millis(500));
    let mut last = sessions.into_iter().last().unwrap();
    // Past the request timeout, the session still answers.
    last.write_all(&crate::support::rpc_client::ws_text_frame(
        r#"{"jsonrpc":"2.0","id":"l","method":"aria2.getVersion","params":[]}"#,
    ))
    .unwrap();
    let answer = crate::support::rpc_client::ws_read_text(&mut last);
    assert!(answer.contains("\"version\""), "{answer}");
    probe.finish().check("1000 idle WebSockets");
}
