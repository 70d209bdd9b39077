//! Would aria2's `--disk-cache` (an in-memory cache that coalesces
//! received blocks into larger writes) make arietta's io_uring writes
//! cheaper? Writes one file through [`FileWriter`] (O_DIRECT, as
//! downloads do) in random order, once per write size, and prints wall
//! and CPU time for each, with O_DIRECT (the HTTP/FTP path) and through
//! the page cache (the BitTorrent path).
//!
//! `cargo run --release -p arietta-storage --example write_coalescing --
//! [MiB] [dir]` (default 256 MiB in the system temp dir).
//!
//! Sizes: 16 KiB (one BitTorrent block per write), 256 KiB (what a
//! connection's read or a peer's ~16-block batch writes today) and 4 MiB
//! (the best a 16 MiB cache could merge adjacent pieces into).

use std::time::{Duration, Instant};

use arietta_storage::{allocate, Allocation, FileWriter};

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// A fixed pseudo-random permutation of `0..n` (xorshift Fisher–Yates).
fn shuffled(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
    v
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let total = mib << 20;
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            println!(
                "{mib} MiB, random order, 32 writes in flight, via FileWriter, fsync included"
            );
            println!(
                "{:>9} {:>10} {:>9} {:>9} {:>9}",
                "path", "write", "wall s", "cpu s", "MiB/s"
            );
            for (direct, size) in [true, false]
                .into_iter()
                .flat_map(|d| [16usize << 10, 256 << 10, 4 << 20].map(|s| (d, s)))
            {
                let path = dir.join(format!("write_coalescing_{size}.bin"));
                let _ = std::fs::remove_file(&path);
                allocate(&path, total, Allocation::Falloc, false).expect("allocate");
                let w = FileWriter::open(&path, direct).await.expect("open");
                let order = shuffled((total / size as u64) as usize);
                let (t0, c0) = (Instant::now(), cpu_time());
                let w = std::rc::Rc::new(w);
                let mut in_flight = std::collections::VecDeque::new();
                for i in order {
                    let w = w.clone();
                    in_flight.push_back(glommio::spawn_local(async move {
                        let mut buf = w.chunk(size);
                        buf.as_mut_slice()[..size].fill(i as u8);
                        w.write_chunk(buf, size, i as u64 * size as u64).await
                    }));
                    if in_flight.len() == 32 {
                        if let Some(t) = in_flight.pop_front() {
                            t.await.expect("write");
                        }
                    }
                }
                for t in in_flight {
                    t.await.expect("write");
                }
                std::fs::File::open(&path)
                    .and_then(|f| f.sync_all())
                    .expect("fsync");
                let (wall, cpu) = (t0.elapsed(), cpu_time() - c0);
                println!(
                    "{:>9} {:>7}KiB {:>9.2} {:>9.2} {:>9.0}",
                    if direct { "O_DIRECT" } else { "buffered" },
                    size >> 10,
                    wall.as_secs_f64(),
                    cpu.as_secs_f64(),
                    mib as f64 / wall.as_secs_f64()
                );
                let _ = std::fs::remove_file(&path);
            }
        })
        .expect("executor")
        .join()
        .expect("join");
}
