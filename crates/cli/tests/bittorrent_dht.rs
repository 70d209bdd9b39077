//! BitTorrent peers found through the DHT (BEP 5) and pieces fetched from
//! web seeds, end to end on loopback. Skipped (with a message) where
//! python3-libtorrent is not installed.

mod bt_support;
mod support;

use std::path::Path;
use std::time::Duration;

use bt_support::*;
use support::{exit, s, spawn, tempdir, wait_with_timeout};

const PIECE: usize = 64 * 1024;
const LIMIT: Duration = Duration::from_secs(60);

fn sample() -> Vec<(Vec<&'static str>, Vec<u8>)> {
    vec![
        (vec!["a.bin"], pattern(1_500_000, 11)),
        (vec!["sub", "b.bin"], pattern(700_001, 12)),
    ]
}

fn as_refs<'a>(files: &'a [(Vec<&'static str>, Vec<u8>)]) -> Vec<(Vec<&'static str>, &'a [u8])> {
    files
        .iter()
        .map(|(p, d)| (p.clone(), d.as_slice()))
        .collect()
}

/// Leeches `magnet` into `leech` with only the DHT to find peers.
fn dht_leech(home: &Path, leech: &Path, magnet: &str, extra: &[&str]) -> support::Outcome {
    let port = format!("--listen-port={}", free_port());
    let dht_port = format!("--dht-listen-port={}", free_tcp_udp_port());
    let mut args = vec!["-d", s(leech), "--seed-time=0", &port, &dht_port];
    args.extend_from_slice(extra);
    args.push(magnet);
    wait_with_timeout(spawn(home, &args), LIMIT)
}

/// No tracker anywhere: the magnet's metadata and the files come from a
/// libtorrent seeder that arietta finds through a loopback DHT. The
/// routing table is saved at exit, and the next run bootstraps from it
/// alone (no entry point).
#[test]
fn dht_only_swarm_with_libtorrent_and_saved_table() {
    if !have_libtorrent() {
        eprintln!("skipping dht_only_swarm_with_libtorrent_and_saved_table: no python3-libtorrent");
        return;
    }
    let files = sample();
    let refs = as_refs(&files);
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (_seeder, _, entry) = libtorrent_dht_seeder(&seed, &torrent);
    let magnet = format!("magnet:?xt=urn:btih:{}&dn=multi", t.hex());
    let table = tmp.path().join("state").join("dht.dat");
    let file_opt = format!("--dht-file-path={}", table.display());
    let entry_opt = format!("--dht-entry-point=127.0.0.1:{entry}");

    let first = tmp.path().join("leech1");
    let out = dht_leech(tmp.path(), &first, &magnet, &[&entry_opt, &file_opt]);
    out.expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &first.join("multi"));
    let saved = std::fs::read(&table).expect("DHT routing table saved at exit");
    assert!(saved.len() > 20, "routing table file is empty");

    let second = tmp.path().join("leech2");
    let out = dht_leech(tmp.path(), &second, &magnet, &[&file_opt]);
    out.expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &second.join("multi"));
}
