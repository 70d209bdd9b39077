//! One listening port for every torrent of a process (issue 9): an arietta
//! seeding 50 torrents on one `--listen-port` to one aria2c and one
//! python3-libtorrent session at once, plain and with crypto required on
//! every side; and 1,000 torrents started from their control files, 20 of
//! them fetched. Before the shared listener, each torrent bound its own
//! port and all but the first aborted with "cannot listen on any port".

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bt_support::*;
use crate::support::{s, spawn, tempdir, wait_listening};

/// Small single-file torrents `tNNNN.bin` under one temp dir: content in
/// `seed/`, torrents in `torrents/`.
struct ManyTorrents {
    tmp: tempfile::TempDir,
    names: Vec<String>,
    data: Vec<Vec<u8>>,
    torrents: Vec<Torrent>,
    tracker: Option<Tracker>,
}

const PIECE: usize = 16 * 1024;

impl ManyTorrents {
    fn new(count: usize, size: usize, tracker: bool) -> ManyTorrents {
        let tmp = tempdir();
        let seed = tmp.path().join("seed");
        let dir = tmp.path().join("torrents");
        std::fs::create_dir_all(&seed).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let names: Vec<String> = (0..count).map(|i| format!("t{i:04}.bin")).collect();
        let data: Vec<Vec<u8>> = (0..count)
            .map(|i| pattern(size + i, 1000 + i as u64))
            .collect();
        let build = |announce: Option<&str>| -> Vec<Torrent> {
            names
                .iter()
                .zip(&data)
                .map(|(n, d)| make_torrent(n, &[(vec![], d.as_slice())], PIECE, announce))
                .collect()
        };
        let tracker = tracker
            .then(|| Tracker::start(&build(None).iter().map(Torrent::hex).collect::<Vec<_>>()));
        let torrents = build(tracker.as_ref().map(Tracker::http).as_deref());
        for ((n, d), t) in names.iter().zip(&data).zip(&torrents) {
            std::fs::write(seed.join(n), d).unwrap();
            t.write(&dir.join(format!("{n}.torrent")));
        }
        ManyTorrents {
            tmp,
            names,
            data,
            torrents,
            tracker,
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn torrent_path(&self, i: usize) -> PathBuf {
        self.dir()
            .join("torrents")
            .join(format!("{}.torrent", self.names[i]))
    }

    /// An `-i` file listing the torrents `which`, one entry each.
    fn input_file(&self, name: &str, which: &[usize]) -> PathBuf {
        let list: String = which
            .iter()
            .map(|&i| format!("{}\n", self.torrent_path(i).display()))
            .collect();
        let path = self.dir().join(name);
        std::fs::write(&path, list).unwrap();
        path
    }

    /// arietta seeding every torrent from `seed/` on one port; returns once
    /// it listens (the leechers retry until every torrent is up).
    fn arietta_seeder(&self, extra: &[&str]) -> (Guard, u16) {
        let all: Vec<usize> = (0..self.names.len()).collect();
        let list = self.input_file("seed.list", &all);
        let port = free_port();
        let listen = format!("--listen-port={port}");
        let jobs = format!("-j{}", self.names.len());
        let seed = self.dir().join("seed");
        let mut args = vec![
            "-q",
            "-d",
            s(&seed),
            &listen,
            &jobs,
            "-i",
            s(&list),
            "--seed-ratio=0",
            "--enable-dht=false",
            "--bt-tracker-interval=1",
        ];
        args.extend_from_slice(extra);
        let g = Guard(spawn(self.dir(), &args));
        assert!(
            wait_listening(port, Duration::from_secs(30)),
            "arietta never listened"
        );
        (g, port)
    }

    #[track_caller]
    fn assert_fetched(&self, dir: &Path, which: &[usize]) {
        for &i in which {
            let got = std::fs::read(dir.join(&self.names[i]))
                .unwrap_or_else(|e| panic!("{} in {}: {e}", self.names[i], dir.display()));
            assert!(got == self.data[i], "{} differs", self.names[i]);
        }
    }
}

/// aria2c leeching `which` (`-j` all at once) into `dir` with `extra`.
fn aria2c_leech_many(m: &ManyTorrents, which: &[usize], dir: &Path, extra: &[&str]) -> bool {
    let list = m.input_file("aria2c.list", which);
    let jobs = format!("-j{}", which.len());
    let listen = format!("--listen-port={}", free_port());
    let mut args = vec![
        "-d",
        s(dir),
        "-i",
        s(&list),
        &jobs,
        "--seed-time=0",
        &listen,
    ];
    args.extend_from_slice(extra);
    run_for(aria2c(m.dir(), &args), Duration::from_secs(90))
}

/// 50 torrents on one arietta port, leeched at the same time by one aria2c
/// (through the tracker: arietta announces the shared port) and one
/// libtorrent session (dialling the port).
fn fifty_to_aria2c_and_libtorrent(seeder: &[&str], aria2c_opts: &[&str], lt: Option<&str>) {
    if !(require_tracker_and_aria2c() && require_libtorrent()) {
        return;
    }
    let m = ManyTorrents::new(50, 5000, true);
    let all: Vec<usize> = (0..50).collect();
    let mut seed_opts = vec!["-V"];
    seed_opts.extend_from_slice(seeder);
    let (_seeder, port) = m.arietta_seeder(&seed_opts);
    let by_aria2c = m.dir().join("by-aria2c");
    let by_lt = m.dir().join("by-libtorrent");
    let torrents: Vec<PathBuf> = all.iter().map(|&i| m.torrent_path(i)).collect();
    std::thread::scope(|sc| {
        let a = sc.spawn(|| aria2c_leech_many(&m, &all, &by_aria2c, aria2c_opts));
        assert!(
            libtorrent_leech_many(&by_lt, &torrents, port, lt),
            "libtorrent did not get all 50"
        );
        assert!(a.join().unwrap(), "aria2c did not get all 50");
    });
    m.assert_fetched(&by_aria2c, &all);
    m.assert_fetched(&by_lt, &all);
    assert!(m.tracker.is_some());
}

#[test]
fn fifty_torrents_on_one_port() {
    fifty_to_aria2c_and_libtorrent(&[], &[], None);
}

/// The same with encryption required everywhere: arietta and aria2c with
/// `--bt-require-crypto=true`, libtorrent with `forced` in and out.
#[test]
fn fifty_torrents_on_one_port_crypto_required() {
    fifty_to_aria2c_and_libtorrent(
        &["--bt-require-crypto=true"],
        &["--bt-require-crypto=true"],
        Some("rc4"),
    );
}

/// 1,000 torrents seeded by one process on one port, every one starting
/// from its control file (no `-V`: the pieces are trusted, not hashed),
/// and a libtorrent session fetching 20 of them picked at random.
#[test]
fn a_thousand_torrents_from_fast_resume() {
    if !require_libtorrent() {
        return;
    }
    let m = ManyTorrents::new(1000, 3000, false);
    for (i, n) in m.names.iter().enumerate() {
        let path = m.dir().join("seed").join(n);
        let len = m.data[i].len() as u64;
        let mut done = arietta_storage::RangeSet::new();
        done.insert(0, len);
        arietta_storage::ControlFile {
            piece_length: PIECE as u32,
            info_hash: Some(m.torrents[i].info_hash),
            ..arietta_storage::ControlFile::new(len, done, None)
        }
        .save(&arietta_storage::control_path(&path))
        .unwrap();
    }
    // A complete torrent's control file stays only with --force-save (as
    // aria2's; a seedbox keeps it for the next fast start).
    let (_seeder, port) = m.arietta_seeder(&["--force-save=true"]);
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut picked: Vec<usize> = Vec::new();
    while picked.len() < 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % 1000) as usize;
        if !picked.contains(&i) {
            picked.push(i);
        }
    }
    let dir = m.dir().join("leech");
    let torrents: Vec<PathBuf> = picked.iter().map(|&i| m.torrent_path(i)).collect();
    assert!(
        libtorrent_leech_many(&dir, &torrents, port, None),
        "libtorrent did not get the 20 torrents {picked:?}"
    );
    m.assert_fetched(&dir, &picked);
    // Seeding with --force-save left the control files in place.
    assert!(
        arietta_storage::control_path(&m.dir().join("seed").join(&m.names[picked[0]])).exists()
    );
}
