//! BitTorrent test plumbing: torrents built with arietta's bencode crate,
//! an opentracker on a free port (whitelisting the test's info-hashes),
//! aria2c and python3-libtorrent peers, hand-written wire messages, and
//! [`Swarm`], which puts them together. Every process is killed when its
//! owner is dropped.

use std::path::{Path, PathBuf};
use std::process::Child;

mod peers;
mod swarm;
mod torrent;
mod tracker;
mod wire;

pub use peers::*;
pub use swarm::*;
pub use torrent::*;
pub use tracker::*;
pub use wire::*;

pub use crate::support::free_port;

/// A free port for both TCP and UDP (opentracker and DHT nodes listen on both).
pub fn free_tcp_udp_port() -> u16 {
    loop {
        let p = free_port();
        if std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

/// Kills the child when dropped, so a failing test leaves no peer behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Deterministic file content.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Asserts two directory trees hold the same files with the same bytes.
#[track_caller]
pub fn assert_same_tree(want: &Path, got: &Path) {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    walk(want, want, &mut a);
    walk(got, got, &mut b);
    a.sort();
    b.sort();
    assert_eq!(a, b, "file lists differ");
    for f in a {
        assert!(
            std::fs::read(want.join(&f)).unwrap() == std::fs::read(got.join(&f)).unwrap(),
            "{} differs",
            f.display()
        );
    }
}
