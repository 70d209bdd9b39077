//! `--bt-max-open-files`: a torrent of 300 small files leeched from an
//! aria2c seeder with the cap at 5 completes byte-identical, and arietta
//! never holds more than a handful of the torrent's files open at once
//! (sampled from `/proc/PID/fd`; without the cap it ends with all 300).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::bt_support::*;
use crate::support::{exit, wait_with_timeout};

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
    if !require_tracker_and_aria2c() {
        return;
    }
    let files: Files = (0..FILES)
        .map(|i| {
            // Swarm content names are `&'static str`; 300 short names leak.
            let name: &'static str = Box::leak(format!("f{i:03}.bin").into_boxed_str());
            (vec![name], pattern(1000 + (i * 37) % 3000, i as u64))
        })
        .collect();
    let sw = Swarm::new("many", files)
        .piece_length(16 * 1024)
        .tracker()
        .build()
        .aria2c_seeder();
    let child = sw.spawn_leech(&["--bt-max-open-files=5"]);
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, peak, dir) = (stop.clone(), peak.clone(), sw.leech_dir().join("many"));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(open_under(pid, &dir), Ordering::Relaxed);
                // Sampling as often as is cheap is the point: a short
                // burst of open files must not slip between two looks.
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let out = wait_with_timeout(child, LEECH_LIMIT);
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    out.expect_code(exit::OK);
    sw.assert_leeched();
    // The cap holds per core for each torrent (one peer here, so one
    // core); the hasher's short-lived reads on the blocking pool (four
    // threads a core) come on top. Without the cap all 300 stay open.
    let peak = peak.load(Ordering::Relaxed);
    eprintln!("peak open files: {peak}");
    assert!(peak <= 5 + 8, "{peak} files open at once with a cap of 5");
}
