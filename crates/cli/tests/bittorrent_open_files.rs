//! `--bt-max-open-files`: a torrent of 300 small files leeched from an
//! aria2c seeder with the cap at 5 completes byte-identical, and arietta
//! never holds more than a handful of the torrent's files open at once
//! (sampled from `/proc/PID/fd`; without the cap it ends with all 300).

mod bt_support;
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bt_support::*;
use support::{exit, s, spawn, tempdir, wait_with_timeout};

const FILES: usize = 300;

/// How many of `pid`'s descriptors point under `dir`.
fn open_under(pid: u32, dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|t| t.starts_with(dir))
        .count()
}

#[test]
fn many_files_with_few_open_from_aria2c() {
    if !have_tools() {
        eprintln!(
            "skipping many_files_with_few_open_from_aria2c: opentracker or aria2c is not installed"
        );
        return;
    }
    let names: Vec<String> = (0..FILES).map(|i| format!("f{i:03}.bin")).collect();
    let data: Vec<Vec<u8>> = (0..FILES)
        .map(|i| pattern(1000 + (i * 37) % 3000, i as u64))
        .collect();
    let refs: Vec<(Vec<&str>, &[u8])> = names
        .iter()
        .zip(&data)
        .map(|(n, d)| (vec![n.as_str()], d.as_slice()))
        .collect();
    let piece = 16 * 1024;
    let hash = make_torrent("many", &refs, piece, None).hex();
    let tracker = Tracker::start(&[hash]);
    let t = make_torrent("many", &refs, piece, Some(&tracker.http()));
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "many", &refs);
    let torrent = tmp.path().join("many.torrent");
    t.write(&torrent);
    let (_seeder, _) = aria2c_seeder(tmp.path(), &seed, &torrent);
    let leech = tmp.path().join("leech");
    let port = format!("--listen-port={}", free_port());
    let child = spawn(
        tmp.path(),
        &[
            "-d",
            s(&leech),
            "--seed-time=0",
            &port,
            "--bt-tracker-interval=1",
            "--bt-max-open-files=5",
            s(&torrent),
        ],
    );
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, peak, dir) = (stop.clone(), peak.clone(), leech.join("many"));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(open_under(pid, &dir), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let out = wait_with_timeout(child, Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    out.expect_code(exit::OK);
    assert_same_tree(&seed.join("many"), &leech.join("many"));
    // The cap holds per core for each torrent (one peer here, so one
    // core); the hasher's short-lived reads on the blocking pool (four
    // threads a core) come on top. Without the cap all 300 stay open.
    let peak = peak.load(Ordering::Relaxed);
    eprintln!("peak open files: {peak}");
    assert!(peak <= 5 + 8, "{peak} files open at once with a cap of 5");
}
