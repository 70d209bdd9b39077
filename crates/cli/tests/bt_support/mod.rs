//! BitTorrent test plumbing: torrents built with arietta's bencode crate,
//! an opentracker on a free port (whitelisting the test's info-hashes),
//! aria2c and python3-libtorrent peers, all killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arietta_bencode::{encode, OwnedValue};
use sha1::{Digest, Sha1};

/// A free loopback TCP port (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A free port for both TCP and UDP (opentracker listens on both).
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

/// A torrent built in the test.
pub struct Torrent {
    pub bytes: Vec<u8>,
    pub info_hash: [u8; 20],
}

impl Torrent {
    pub fn hex(&self) -> String {
        self.info_hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.bytes).expect("write torrent");
    }
}

/// Builds a torrent over `files` (path components under `name`, data);
/// a single entry with no components makes a single-file torrent.
pub fn make_torrent(
    name: &str,
    files: &[(Vec<&str>, &[u8])],
    piece_length: usize,
    announce: Option<&str>,
) -> Torrent {
    make_torrent_with_web_seeds(name, files, piece_length, announce, &[])
}

/// [`make_torrent`] with a BEP 19 `url-list` (outside the info dict: the
/// info-hash does not change).
pub fn make_torrent_with_web_seeds(
    name: &str,
    files: &[(Vec<&str>, &[u8])],
    piece_length: usize,
    announce: Option<&str>,
    url_list: &[&str],
) -> Torrent {
    let mut stream = Vec::new();
    for (_, data) in files {
        stream.extend_from_slice(data);
    }
    let mut pieces = Vec::new();
    for chunk in stream.chunks(piece_length) {
        pieces.extend_from_slice(&Sha1::digest(chunk));
    }
    let mut info = OwnedValue::dict()
        .insert(b"name".to_vec(), name)
        .insert(b"piece length".to_vec(), piece_length as i64)
        .insert(b"pieces".to_vec(), pieces);
    if files.len() == 1 && files[0].0.is_empty() {
        info = info.insert(b"length".to_vec(), files[0].1.len() as i64);
    } else {
        let list: Vec<OwnedValue> = files
            .iter()
            .map(|(path, data)| {
                let comps: Vec<OwnedValue> = path.iter().map(|c| OwnedValue::from(*c)).collect();
                OwnedValue::dict()
                    .insert(b"length".to_vec(), data.len() as i64)
                    .insert(b"path".to_vec(), comps)
            })
            .collect();
        info = info.insert(b"files".to_vec(), list);
    }
    let info_bytes = encode(&info);
    let info_hash: [u8; 20] = Sha1::digest(&info_bytes).into();
    let mut top = OwnedValue::dict().insert(b"info".to_vec(), info);
    if let Some(a) = announce {
        top = top.insert(b"announce".to_vec(), a);
    }
    if !url_list.is_empty() {
        let l: Vec<OwnedValue> = url_list.iter().map(|u| OwnedValue::from(*u)).collect();
        top = top.insert(b"url-list".to_vec(), l);
    }
    Torrent {
        bytes: encode(&top),
        info_hash,
    }
}

/// Writes `files` under `dir/name/…` (or `dir/name` for a single file).
/// Borrows test files as `make_torrent` and `write_files` take them.
pub fn as_refs<'a>(
    files: &'a [(Vec<&'static str>, Vec<u8>)],
) -> Vec<(Vec<&'static str>, &'a [u8])> {
    files
        .iter()
        .map(|(p, d)| (p.clone(), d.as_slice()))
        .collect()
}

pub fn write_files(dir: &Path, name: &str, files: &[(Vec<&str>, &[u8])]) {
    for (path, data) in files {
        let mut p = dir.join(name);
        for c in path {
            p.push(c);
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_listening(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the external peers and tracker are installed; tests skip with
/// a message otherwise.
pub fn have_tools() -> bool {
    have("opentracker") && have("aria2c")
}

pub fn have_libtorrent() -> bool {
    Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An opentracker on a free port (TCP and UDP) with its own whitelist.
pub struct Tracker {
    pub port: u16,
    _dir: tempfile::TempDir,
    _child: Guard,
}

impl Tracker {
    pub fn start(info_hashes: &[String]) -> Tracker {
        let dir = tempfile::Builder::new()
            .prefix("arietta-ot")
            .tempdir()
            .unwrap();
        // Debian's opentracker drops privileges: its files must be readable.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let wl = dir.path().join("whitelist");
        std::fs::write(&wl, info_hashes.join("\n") + "\n").unwrap();
        std::fs::set_permissions(&wl, std::fs::Permissions::from_mode(0o644)).unwrap();
        for _ in 0..5 {
            let port = free_tcp_udp_port();
            let conf = dir.path().join("ot.conf");
            std::fs::write(
                &conf,
                format!(
                    "listen.tcp_udp 127.0.0.1:{port}\naccess.whitelist {}\n",
                    wl.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
            let child = Command::new("opentracker")
                .arg("-f")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start opentracker");
            let guard = Guard(child);
            if wait_listening(port, Duration::from_secs(5)) {
                return Tracker {
                    port,
                    _dir: dir,
                    _child: guard,
                };
            }
        }
        panic!("opentracker did not start");
    }

    pub fn http(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    pub fn udp(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }
}

/// aria2c with a hermetic HOME and no DHT/LPD/PEX, as seeder or leecher.
pub fn aria2c(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("aria2c");
    c.env("HOME", home)
        .args([
            "--no-conf",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--bt-tracker-interval=1",
            "--summary-interval=0",
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Runs `cmd` to its end, killing it after `limit`; true on exit 0.
pub fn run_for(mut cmd: Command, limit: Duration) -> bool {
    let mut g = Guard(cmd.spawn().expect("spawn"));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(st) = g.0.try_wait().unwrap() {
            return st.success();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Starts an aria2c seeder of `torrent` with its data in `dir`; returns
/// once it listens.
pub fn aria2c_seeder(home: &Path, dir: &Path, torrent: &Path) -> (Guard, u16) {
    aria2c_seeder_with(home, dir, torrent, &[])
}

/// [`aria2c_seeder`] with extra options (e.g. `--bt-require-crypto=true`).
pub fn aria2c_seeder_with(home: &Path, dir: &Path, torrent: &Path, extra: &[&str]) -> (Guard, u16) {
    let port = free_port();
    let listen = format!("--listen-port={port}");
    let mut args = vec!["-d", dir.to_str().unwrap(), "--seed-ratio=0", "-V", &listen];
    args.extend_from_slice(extra);
    args.push(torrent.to_str().unwrap());
    let child = aria2c(home, &args).spawn().expect("start aria2c");
    let g = Guard(child);
    assert!(
        wait_listening(port, Duration::from_secs(20)),
        "aria2c seeder never listened"
    );
    (g, port)
}

fn lt_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bt_support/lt_peer.py")
}

/// Writes a BEP 52 v2-only torrent of the directory `content` with
/// libtorrent, announcing to `tracker`; returns its v2 info-hash cut to 20
/// bytes (hex), the hash its peers and trackers use.
pub fn libtorrent_make_v2(torrent: &Path, content: &Path, piece: usize, tracker: &str) -> String {
    let out = Command::new("/usr/bin/python3")
        .arg(lt_script())
        .args(["mkv2", torrent.to_str().unwrap(), content.to_str().unwrap()])
        .arg(piece.to_string())
        .arg(tracker)
        .stderr(Stdio::inherit())
        .output()
        .expect("run libtorrent mkv2");
    assert!(
        out.status.success(),
        "libtorrent could not make a v2 torrent"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Starts a libtorrent seeder; returns once it reports seeding.
pub fn libtorrent_seeder(dir: &Path, torrent: &Path) -> (Guard, u16) {
    let port = free_port();
    let mut child = Command::new("/usr/bin/python3")
        .arg(lt_script())
        .args(["seed", torrent.to_str().unwrap(), dir.to_str().unwrap()])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start libtorrent seeder");
    let out = child.stdout.take().unwrap();
    let g = Guard(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY", "libtorrent seeder failed: {line}");
    (g, port)
}

/// Starts a DHT-only libtorrent seeder and the bare libtorrent DHT node it
/// bootstrapped from; returns once that node stored the seeder's announce,
/// with the seeder's TCP port and the entry node's UDP port.
pub fn libtorrent_dht_seeder(dir: &Path, torrent: &Path) -> (Guard, u16, u16) {
    let port = free_tcp_udp_port();
    let entry = free_tcp_udp_port();
    let mut child = Command::new("/usr/bin/python3")
        .arg(lt_script())
        .args(["dhtseed", torrent.to_str().unwrap(), dir.to_str().unwrap()])
        .arg(port.to_string())
        .arg(entry.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start libtorrent DHT seeder");
    let out = child.stdout.take().unwrap();
    let g = Guard(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY", "libtorrent DHT seeder failed: {line}");
    (g, port, entry)
}

/// Runs a libtorrent leecher against `peer_port` to completion.
pub fn libtorrent_leech(dir: &Path, torrent: &Path, peer_port: u16) -> bool {
    libtorrent_leech_with(dir, torrent, peer_port, None)
}

/// [`libtorrent_leech`]; `Some("rc4")` forces RC4-encrypted connections.
pub fn libtorrent_leech_with(
    dir: &Path,
    torrent: &Path,
    peer_port: u16,
    encryption: Option<&str>,
) -> bool {
    let mut cmd = Command::new("/usr/bin/python3");
    if let Some(e) = encryption {
        cmd.env("LT_ENCRYPTION", e);
    }
    let mut child = cmd
        .arg(lt_script())
        .args(["leech", torrent.to_str().unwrap(), dir.to_str().unwrap()])
        .arg(free_port().to_string())
        .arg(peer_port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start libtorrent leecher");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let ok = child.wait().is_ok_and(|s| s.success()) && out.contains("DONE");
    if !ok {
        eprintln!("libtorrent leecher: {out}");
    }
    ok
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
