//! An arietta seeder under attack by peers written here, while aria2c
//! leeches from it at a limited rate: 200,000 requests from a peer that
//! never reads, 100,000 PEX addresses, 2,000 connections that never say a
//! word, a block nobody asked for and a request past the torrent's end.
//! The leecher must finish byte-identical, each hostile connection must
//! be closed (or shrugged off), and the seeder's resident memory, sampled
//! from `/proc/PID/status`, must stay under [`RSS_BOUND_KIB`].

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::bt_support::*;
use crate::support::{s, wait_listening};

/// The seeder's resident set may grow this much over what it held once
/// the leecher was connected, whatever the hostile peers do. What they
/// can make it hold, by the caps in `arietta-torrent`: per connection the
/// 256 KiB read buffer, one piece read ahead (64 KiB here), 1 MiB of
/// unsent blocks and 500 queued requests; the 2,000 silent connections
/// get at most `--bt-max-peers` (55) slots, the rest are closed at once;
/// PEX keeps at most 512 addresses. Measured: about 2.5 MiB of growth
/// (12 MiB → 15 MiB on a 2-core box). A leak per request or per address
/// (200,000 served blocks queued unsent would be 3 GiB) breaks it by
/// orders of magnitude.
const RSS_BOUND_KIB: u64 = 32 * 1024;

const LEN: usize = 3 << 20;

/// BEP 10 (extension protocol) and BEP 6 (fast) reserved bits.
const RESERVED: [u8; 8] = [0, 0, 0, 0, 0, 0x10, 0, 0x04];

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples `pid`'s VmRSS every 20 ms into `peak` until `stop`.
fn sample_rss(pid: u32, peak: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if let Some(kib) = vm_rss_kib(pid) {
                peak.fetch_max(kib, Ordering::Relaxed);
            }
            thread::sleep(Duration::from_millis(20));
        }
    })
}

/// A connection with both handshakes done, fast and extensions on.
fn shake(port: u16, info_hash: [u8; 20], id: u8) -> TcpStream {
    let mut c = connect_peer(port);
    let mut peer_id = *b"-HOSTILE-0000000000-";
    peer_id[19] = id;
    c.write_all(&handshake(RESERVED, &info_hash, &peer_id))
        .unwrap();
    let mut theirs = [0u8; 68];
    c.read_exact(&mut theirs).unwrap();
    c
}

/// True when the other side closes `c` within `limit` (reading and
/// dropping whatever it sent first).
fn closed_within(c: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        c.set_read_timeout(Some(left)).unwrap();
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

fn request(index: u32, begin: u32, length: u32) -> Vec<u8> {
    let mut body = index.to_be_bytes().to_vec();
    body.extend_from_slice(&begin.to_be_bytes());
    body.extend_from_slice(&length.to_be_bytes());
    msg(6, &body)
}

/// 200,000 requests, never reading: the connection is closed (requests
/// beyond the queue's cap are refused, and a peer refused 1,000 times in
/// a row is dropped) long before they are all written.
fn request_flood(port: u16, info_hash: [u8; 20], pieces: u32) {
    let mut c = shake(port, info_hash, 1);
    c.write_all(&msg(2, &[])).unwrap();
    let mut batch = Vec::with_capacity(17 * 1000);
    let mut sent = 0u32;
    let mut cut = false;
    while sent < 200_000 {
        batch.clear();
        for k in 0..1000 {
            let n = sent + k;
            // Every request a different block (lengths vary), so none is
            // a repeat of one already queued.
            let len = 16384 - (n / (4 * pieces)) % 16000;
            batch.extend_from_slice(&request(n % pieces, (n / pieces % 4) * 16384, len));
        }
        if c.write_all(&batch).is_err() {
            cut = true;
            break;
        }
        sent += 1000;
    }
    assert!(
        cut || closed_within(&mut c, Duration::from_secs(10)),
        "a peer that sent 200,000 requests and read nothing is still connected"
    );
}

/// 100,000 PEX addresses in 50 messages (each under arietta's 17 KiB
/// cap on a non-piece message).
fn pex_flood(port: u16, info_hash: [u8; 20]) -> TcpStream {
    let mut c = shake(port, info_hash, 2);
    let mut hs = vec![0u8];
    hs.extend_from_slice(b"d1:md6:ut_pexi1eee");
    c.write_all(&msg(20, &hs)).unwrap();
    for m in 0..50u32 {
        let mut added = Vec::with_capacity(6 * 2_000);
        for i in 0..2_000u32 {
            let n = m * 2_000 + i;
            added.extend_from_slice(&[10, (n >> 16) as u8, (n >> 8) as u8, n as u8, 0x1a, 0xe1]);
        }
        // arietta's `ut_pex` id is 1.
        let mut body = vec![1u8];
        body.extend_from_slice(format!("d5:added{}:", added.len()).as_bytes());
        body.extend_from_slice(&added);
        body.push(b'e');
        c.write_all(&msg(20, &body)).unwrap();
    }
    assert!(
        !closed_within(&mut c, Duration::from_millis(500)),
        "PEX beyond what we take is ignored, not punished"
    );
    c
}

/// A block nobody asked for is dropped (the peer stays); a request past
/// the last piece closes the connection.
fn unrequested_piece_then_past_the_end(port: u16, info_hash: [u8; 20], pieces: u32) {
    let mut c = shake(port, info_hash, 3);
    let mut body = 0u32.to_be_bytes().to_vec();
    body.extend_from_slice(&0u32.to_be_bytes());
    body.extend(std::iter::repeat_n(0x5au8, 16384));
    c.write_all(&msg(7, &body)).unwrap();
    assert!(
        !closed_within(&mut c, Duration::from_millis(500)),
        "an unrequested block is not worth a disconnect"
    );
    c.write_all(&request(pieces, 0, 16384)).unwrap();
    assert!(
        closed_within(&mut c, Duration::from_secs(10)),
        "a request past the end was accepted"
    );
}

/// 2,000 connections that never send a byte: each is closed, the ones
/// given a slot at the handshake timeout (10 s), the rest at once.
fn silent_crowd(port: u16) {
    let crowd: Vec<TcpStream> = (0..2000)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(crowd.len() >= 1900, "only {} connected", crowd.len());
    let open = crowd
        .into_iter()
        .filter_map(|mut c| (!closed_within(&mut c, Duration::from_secs(20))).then_some(c))
        .count();
    assert_eq!(open, 0, "silent connections left open");
}

#[test]
fn hostile_peers_leave_memory_bounded_and_a_leecher_served() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = Swarm::new("hostile", vec![(vec!["data.bin"], pattern(LEN, 31))])
        .tracker()
        .build();
    let pieces = LEN.div_ceil(PIECE) as u32;
    let (seeder, port) = sw.arietta_seeder(&["--seed-ratio=0"]);
    let pid = seeder.id();
    let _seeder = Guard(seeder);
    assert!(wait_listening(port, Duration::from_secs(10)));

    // 3 MiB at 256 KiB/s: the leecher is busy through the attacks.
    let leech = aria2c(
        sw.dir(),
        &[
            "-d",
            s(&sw.leech_dir()),
            "--seed-time=0",
            "--max-download-limit=256K",
            &format!("--listen-port={}", free_port()),
            sw.torrent_arg(),
        ],
    );
    let leecher = thread::spawn(move || run_for(leech, LEECH_LIMIT));
    // Let it connect and start before the crowd takes the free slots.
    thread::sleep(Duration::from_secs(3));

    let baseline = vm_rss_kib(pid).expect("seeder's VmRSS");
    let peak = Arc::new(AtomicU64::new(baseline));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(pid, peak.clone(), stop.clone());

    let hash = sw.torrent.info_hash;
    let flood = thread::spawn(move || request_flood(port, hash, pieces));
    let pex = pex_flood(port, hash);
    unrequested_piece_then_past_the_end(port, hash, pieces);
    flood.join().expect("request flood");
    silent_crowd(port);

    let leeched = leecher.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    drop(pex);
    let peak = peak.load(Ordering::Relaxed);
    eprintln!("seeder VmRSS: {baseline} KiB with the leecher, peak {peak} KiB under attack");
    assert!(leeched, "the aria2c leecher did not finish");
    sw.assert_leeched();
    assert!(
        peak - baseline < RSS_BOUND_KIB,
        "VmRSS grew {} KiB (from {baseline} to {peak}), bound {RSS_BOUND_KIB}",
        peak - baseline
    );
}
