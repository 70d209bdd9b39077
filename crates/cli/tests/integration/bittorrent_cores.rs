//! Torrent actors spread over cores: with `--cores=2`, two torrents leeched
//! at once from aria2c seeders run on different cores (the debug log names
//! each actor's core) and both land byte-identical.

use crate::bt_support::*;
use crate::support::{exit, free_port, s, spawn, tempdir, wait_with_timeout};

/// The core each torrent's actor ran on, from the `-l` log's
/// "Torrent HASH runs on core N" lines.
fn actor_cores(log: &str) -> Vec<(String, usize)> {
    log.lines()
        .filter_map(|l| {
            let rest = &l[l.find("Torrent ")? + "Torrent ".len()..];
            let (hash, core) = rest.split_once(" runs on core ")?;
            Some((hash.to_owned(), core.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn two_torrents_run_on_two_cores() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let a = Swarm::new("first", vec![(vec!["a.bin"], pattern(2_500_000, 11))])
        .tracker()
        .build()
        .aria2c_seeder();
    let b = Swarm::new(
        "second",
        vec![
            (vec!["b.bin"], pattern(1_700_000, 12)),
            (vec!["c", "d.bin"], pattern(900_000, 13)),
        ],
    )
    .tracker()
    .build()
    .aria2c_seeder();
    let tmp = tempdir();
    let out_dir = tmp.path().join("out");
    let log = tmp.path().join("run.log");
    let list = tmp.path().join("torrents.txt");
    // One download per line: two torrents on one command line would be
    // taken as one torrent with a web seed.
    std::fs::write(&list, format!("{}\n{}\n", a.torrent_arg(), b.torrent_arg())).unwrap();
    let ports = format!("--listen-port={},{}", free_port(), free_port());
    let child = spawn(
        tmp.path(),
        &[
            "--cores=2",
            "-l",
            s(&log),
            "--log-level=debug",
            "-d",
            s(&out_dir),
            "--seed-time=0",
            &ports,
            "--bt-tracker-interval=1",
            "-i",
            s(&list),
        ],
    );
    let out = wait_with_timeout(child, LEECH_LIMIT);
    out.expect_code(exit::OK);
    a.assert_complete_in(&out_dir);
    b.assert_complete_in(&out_dir);
    let log = std::fs::read_to_string(&log).unwrap();
    let placed = actor_cores(&log);
    assert_eq!(
        placed.len(),
        2,
        "one placement line per torrent: {placed:?}"
    );
    assert_ne!(
        placed[0].1, placed[1].1,
        "both actors on one core: {placed:?}"
    );
    assert_ne!(placed[0].0, placed[1].0);
}
