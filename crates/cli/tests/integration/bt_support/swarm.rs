//! A whole swarm in a few lines: content on disk, a torrent over it, an
//! opentracker whitelisting it, seeders (aria2c, libtorrent or arietta),
//! and arietta leeching into a fresh directory.
//!
//! ```ignore
//! let sw = Swarm::new("multi", sample()).tracker().build().aria2c_seeder();
//! sw.leech(&[]).expect_code(exit::OK);
//! sw.assert_leeched();
//! ```
//!
//! Layout under the swarm's temp dir (also every process's `HOME`):
//! `seed/NAME/…` the content, `NAME.torrent`, `leech/` arietta's `-d`.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use super::{
    aria2c, aria2c_seeder_with, as_refs, assert_same_tree, libtorrent_leech_with,
    libtorrent_make_v2, libtorrent_seeder, make_padded_torrent, make_torrent,
    make_torrent_with_web_seeds, run_for, write_files, Guard, Torrent, Tracker,
};
use crate::support::{free_port, s, spawn, tempdir, wait_listening, wait_with_timeout, Outcome};

/// How long one leech may take before it counts as hung.
pub const LEECH_LIMIT: Duration = Duration::from_secs(60);

/// The piece length most swarms use: files of a few MB make tens of pieces,
/// with file boundaries inside pieces.
pub const PIECE: usize = 64 * 1024;

/// File list as tests write it: path components under the torrent's name,
/// and the bytes.
pub type Files = Vec<(Vec<&'static str>, Vec<u8>)>;

/// What the swarm will be; [`SwarmBuilder::build`] makes it.
pub struct SwarmBuilder {
    name: &'static str,
    files: Files,
    piece: usize,
    tracker: bool,
    web_seeds: Vec<String>,
    libtorrent_v2: bool,
    padded: bool,
}

impl SwarmBuilder {
    /// Piece length (default [`PIECE`]).
    pub fn piece_length(mut self, piece: usize) -> Self {
        self.piece = piece;
        self
    }

    /// Starts an opentracker whitelisting the torrent, which announces to
    /// its HTTP URL.
    pub fn tracker(mut self) -> Self {
        self.tracker = true;
        self
    }

    /// BEP 19 web seeds (`url-list`).
    pub fn web_seeds(mut self, urls: &[&str]) -> Self {
        self.web_seeds = urls.iter().map(|u| u.to_string()).collect();
        self
    }

    /// A BEP 52 v2-only torrent written by libtorrent (files aligned to
    /// pieces, SHA-256 merkle trees) instead of a v1 torrent built here;
    /// its info-hash is the v2 hash cut to 20 bytes.
    pub fn libtorrent_v2(mut self) -> Self {
        self.libtorrent_v2 = true;
        self
    }

    /// BEP 47 padding files after every file, up to the next piece
    /// boundary (see [`make_padded_torrent`]); the seed directory holds
    /// them as zeros, as aria2 writes them.
    pub fn padded(mut self) -> Self {
        self.padded = true;
        self
    }

    /// Writes the content under `seed/`, starts the tracker and writes
    /// the torrent.
    pub fn build(self) -> Swarm {
        let tmp = tempdir();
        let refs = as_refs(&self.files);
        write_files(&tmp.path().join("seed"), self.name, &refs);
        // A `/` in the name makes directories of the content, not of this file.
        let torrent_path = tmp
            .path()
            .join(format!("{}.torrent", self.name.replace('/', "_")));
        let (torrent, tracker) = if self.libtorrent_v2 {
            self.libtorrent_v2_torrent(&torrent_path)
        } else if self.padded {
            self.padded_torrent(&tmp.path().join("seed"), &torrent_path)
        } else {
            let tracker = self.tracker.then(|| {
                let hash = make_torrent(self.name, &refs, self.piece, None).hex();
                Tracker::start(&[hash])
            });
            let seeds: Vec<&str> = self.web_seeds.iter().map(String::as_str).collect();
            let announce = tracker.as_ref().map(Tracker::http);
            let torrent = make_torrent_with_web_seeds(
                self.name,
                &refs,
                self.piece,
                announce.as_deref(),
                &seeds,
            );
            torrent.write(&torrent_path);
            (torrent, tracker)
        };
        Swarm {
            name: self.name,
            files: self.files,
            torrent,
            torrent_path,
            tracker,
            peers: Vec::new(),
            peer_ports: Vec::new(),
            tmp,
        }
    }

    /// A padded torrent (see [`SwarmBuilder::padded`]), its `.pad/N`
    /// files written as zeros under `seed/NAME`.
    fn padded_torrent(&self, seed: &Path, path: &Path) -> (Torrent, Option<Tracker>) {
        let refs = as_refs(&self.files);
        let tracker = self.tracker.then(|| {
            let hash = make_padded_torrent(self.name, &refs, self.piece, None).hex();
            Tracker::start(&[hash])
        });
        let announce = tracker.as_ref().map(Tracker::http);
        let torrent = make_padded_torrent(self.name, &refs, self.piece, announce.as_deref());
        let mut offset = 0;
        for (_, data) in &refs {
            offset += data.len();
            let pad = (self.piece - offset % self.piece) % self.piece;
            if pad > 0 {
                let dir = seed.join(self.name).join(".pad");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(pad.to_string()), vec![0u8; pad]).unwrap();
                offset += pad;
            }
        }
        torrent.write(path);
        (torrent, tracker)
    }

    /// libtorrent writes the torrent; with a tracker, first with a dummy
    /// announce URL to learn the info-hash the tracker must whitelist.
    fn libtorrent_v2_torrent(&self, path: &Path) -> (Torrent, Option<Tracker>) {
        let content = path.with_file_name("seed").join(self.name);
        let dummy = "http://127.0.0.1:1/announce";
        let hash = libtorrent_make_v2(path, &content, self.piece, dummy);
        let tracker = self.tracker.then(|| {
            let tracker = Tracker::start(std::slice::from_ref(&hash));
            let again = libtorrent_make_v2(path, &content, self.piece, &tracker.http());
            assert_eq!(
                hash, again,
                "the info dictionary does not depend on the tracker"
            );
            tracker
        });
        let mut info_hash = [0u8; 20];
        for (i, b) in info_hash.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).expect("hex info-hash");
        }
        let bytes = std::fs::read(path).expect("read libtorrent's torrent");
        (Torrent { bytes, info_hash }, tracker)
    }
}

/// A built swarm; its tracker and peers are killed when it is dropped.
pub struct Swarm {
    pub name: &'static str,
    pub files: Files,
    pub torrent: Torrent,
    /// `NAME.torrent` in [`Swarm::dir`].
    pub torrent_path: PathBuf,
    pub tracker: Option<Tracker>,
    peers: Vec<Guard>,
    /// The listen port of each seeder started, in order.
    pub peer_ports: Vec<u16>,
    tmp: tempfile::TempDir,
}

impl Swarm {
    /// A swarm sharing `files` as torrent `name`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(name: &'static str, files: Files) -> SwarmBuilder {
        SwarmBuilder {
            name,
            files,
            piece: PIECE,
            tracker: false,
            web_seeds: Vec::new(),
            libtorrent_v2: false,
            padded: false,
        }
    }

    /// The swarm's temp dir, every process's working dir and `HOME`.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `-d` of the seeders: the content is at `seed/NAME`.
    pub fn seed_dir(&self) -> PathBuf {
        self.dir().join("seed")
    }

    /// `-d` of [`Swarm::leech`].
    pub fn leech_dir(&self) -> PathBuf {
        self.dir().join("leech")
    }

    /// The torrent file as an argument.
    pub fn torrent_arg(&self) -> &str {
        s(&self.torrent_path)
    }

    /// Total content length.
    pub fn total_len(&self) -> usize {
        self.files.iter().map(|(_, d)| d.len()).sum()
    }

    /// A magnet link naming the info-hash (and the tracker, if any).
    pub fn magnet(&self) -> String {
        let mut m = format!(
            "magnet:?xt=urn:btih:{}&dn={}",
            self.torrent.hex(),
            self.name
        );
        if let Some(t) = &self.tracker {
            m += "&tr=";
            m += &t.http().replace(':', "%3A").replace('/', "%2F");
        }
        m
    }

    /// Adds an aria2c seeder (listening when this returns).
    pub fn aria2c_seeder(self) -> Self {
        self.aria2c_seeder_with(&[])
    }

    /// [`Swarm::aria2c_seeder`] with extra aria2c options.
    pub fn aria2c_seeder_with(mut self, extra: &[&str]) -> Self {
        let (g, port) = aria2c_seeder_with(self.dir(), &self.seed_dir(), &self.torrent_path, extra);
        self.peers.push(g);
        self.peer_ports.push(port);
        self
    }

    /// Adds a python3-libtorrent seeder (seeding when this returns).
    pub fn libtorrent_seeder(mut self) -> Self {
        let (g, port) = libtorrent_seeder(&self.seed_dir(), &self.torrent_path);
        self.peers.push(g);
        self.peer_ports.push(port);
        self
    }

    /// Starts arietta seeding the content from `seed/` with `extra`
    /// options; returns once it listens, with its port. The caller owns
    /// the process (to wait for its exit or wrap it in a [`Guard`]).
    pub fn arietta_seeder(&self, extra: &[&str]) -> (Child, u16) {
        self.arietta_seeder_from(&self.seed_dir(), extra)
    }

    /// [`Swarm::arietta_seeder`] with the content under `dir/NAME`.
    pub fn arietta_seeder_from(&self, dir: &Path, extra: &[&str]) -> (Child, u16) {
        let port = free_port();
        let p = format!("--listen-port={port}");
        let mut args = vec!["-d", s(dir), &p, "--bt-tracker-interval=1"];
        args.extend_from_slice(extra);
        args.push(self.torrent_arg());
        let child = spawn(self.dir(), &args);
        assert!(
            wait_listening(port, Duration::from_secs(20)),
            "arietta never listened"
        );
        (child, port)
    }

    /// Starts arietta leeching the torrent into `leech/`.
    pub fn spawn_leech(&self, extra: &[&str]) -> Child {
        self.spawn_leech_full(&self.leech_dir(), &[self.torrent_arg()], free_port(), extra)
    }

    /// Starts arietta leeching `targets` (the torrent and web seeds, a
    /// magnet) into `leech/`.
    pub fn spawn_leech_of(&self, targets: &[&str], extra: &[&str]) -> Child {
        self.spawn_leech_full(&self.leech_dir(), targets, free_port(), extra)
    }

    /// [`Swarm::spawn_leech`] listening on `port`, for tests that play a
    /// peer connecting to it.
    pub fn spawn_leech_on(&self, port: u16, extra: &[&str]) -> Child {
        self.spawn_leech_full(&self.leech_dir(), &[self.torrent_arg()], port, extra)
    }

    /// [`Swarm::spawn_leech`] into `dir` instead of `leech/`.
    pub fn spawn_leech_in(&self, dir: &Path, extra: &[&str]) -> Child {
        self.spawn_leech_full(dir, &[self.torrent_arg()], free_port(), extra)
    }

    /// arietta's leech command line: `extra`, then `-d DIR --seed-time=0
    /// --listen-port=PORT --bt-tracker-interval=1 TARGETS…`.
    fn spawn_leech_full(&self, dir: &Path, targets: &[&str], port: u16, extra: &[&str]) -> Child {
        let port = format!("--listen-port={port}");
        let mut args = extra.to_vec();
        args.extend([
            "-d",
            s(dir),
            "--seed-time=0",
            &port,
            "--bt-tracker-interval=1",
        ]);
        args.extend_from_slice(targets);
        spawn(self.dir(), &args)
    }

    /// Leeches the torrent into `leech/` and waits (at most [`LEECH_LIMIT`]).
    pub fn leech(&self, extra: &[&str]) -> Outcome {
        wait_with_timeout(self.spawn_leech(extra), LEECH_LIMIT)
    }

    /// Leeches `targets` (the torrent and web seeds, a magnet) into `leech/`.
    pub fn leech_of(&self, targets: &[&str], extra: &[&str]) -> Outcome {
        wait_with_timeout(self.spawn_leech_of(targets, extra), LEECH_LIMIT)
    }

    /// arietta seeds (`--seed-ratio=0`) to a python3-libtorrent leecher
    /// (`Some("rc4")` forces RC4-encrypted connections); panics unless the
    /// leecher got the whole content.
    pub fn seed_to_libtorrent(&self, encryption: Option<&str>) {
        let (ours, port) = self.arietta_seeder(&["--seed-ratio=0"]);
        let _ours = Guard(ours);
        assert!(
            libtorrent_leech_with(&self.leech_dir(), &self.torrent_path, port, encryption),
            "libtorrent leecher failed"
        );
        self.assert_leeched();
    }

    /// Runs an aria2c leecher into `leech/` to its end (at most
    /// [`LEECH_LIMIT`]); true when it finished.
    pub fn aria2c_leech(&self) -> bool {
        self.aria2c_leech_in(&self.leech_dir(), &[])
    }

    /// [`Swarm::aria2c_leech`] into `dir` with `extra` options.
    pub fn aria2c_leech_in(&self, dir: &Path, extra: &[&str]) -> bool {
        let port = format!("--listen-port={}", free_port());
        let mut args = vec!["-d", s(dir), "--seed-time=0", &port];
        args.extend_from_slice(extra);
        args.push(self.torrent_arg());
        run_for(aria2c(self.dir(), &args), LEECH_LIMIT)
    }

    /// Panics unless `dir/NAME` holds exactly the swarm's content.
    #[track_caller]
    pub fn assert_complete_in(&self, dir: &Path) {
        assert_same_tree(&self.seed_dir().join(self.name), &dir.join(self.name));
    }

    /// [`Swarm::assert_complete_in`] for `leech/`.
    #[track_caller]
    pub fn assert_leeched(&self) {
        self.assert_complete_in(&self.leech_dir());
    }

    /// Runs arietta, then aria2c, each `--no-conf` with `args` into
    /// `DIR/arietta` and `DIR/aria2c` on a free port, each to exit 0, and
    /// returns what each showed a user: its NOTICE messages and results
    /// rows (status and path), with its directory as `DIR` and port
    /// numbers as `N`; then its whole stdout, for failure messages.
    pub fn console_side_by_side(&self, args: &[&str]) -> Vec<(Vec<String>, String)> {
        let mut seen = Vec::new();
        for program in ["arietta", "aria2c"] {
            let dir = self.dir().join(program);
            std::fs::create_dir_all(&dir).unwrap();
            let port = format!("--listen-port={}", free_port());
            let mut cmd = if program == "arietta" {
                crate::support::command(self.dir())
            } else {
                crate::support::aria2c_command(self.dir())
            };
            cmd.args(["--no-conf", "-d", s(&dir), &port]).args(args);
            let out = wait_with_timeout(cmd.spawn().unwrap(), LEECH_LIMIT);
            out.expect_code(crate::support::exit::OK);
            let dir_text = dir.display().to_string();
            let lines = out
                .stdout
                .lines()
                .filter_map(|l| {
                    if let Some((_, m)) = l.split_once("NOTICE\u{1b}[0m] ") {
                        let m = m.replace(&dir_text, "DIR");
                        return Some(match m.rsplit_once(" port ") {
                            Some((head, _)) => format!("{head} port N"),
                            None => m,
                        });
                    }
                    let cells: Vec<&str> = l.split('|').collect();
                    (cells.len() == 4 && cells[0].len() == 6)
                        .then(|| format!("{}|{}", cells[1], cells[3].replace(&dir_text, "DIR")))
                })
                .collect();
            seen.push((lines, out.stdout));
        }
        seen
    }
}
