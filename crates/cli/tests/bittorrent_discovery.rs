//! Peer sources beyond trackers, end to end: a peer written here tells
//! arietta about an aria2c seeder only through `ut_pex` (BEP 11), and two
//! ariettas find each other through Local Peer Discovery (BEP 14) on the
//! LAN multicast group. No tracker in either.

mod bt_support;
mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::time::Duration;

use bt_support::*;
use support::{exit, s, spawn, tempdir, wait_with_timeout};

const PIECE: usize = 64 * 1024;
const LIMIT: Duration = Duration::from_secs(60);

fn msg(id: u8, body: &[u8]) -> Vec<u8> {
    let mut m = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    m.push(id);
    m.extend_from_slice(body);
    m
}

/// Reads one length-prefixed message (`None` for a keep-alive).
fn read_msg(c: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    c.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 {
        return Ok(None);
    }
    let mut body = vec![0u8; len];
    c.read_exact(&mut body)?;
    Ok(Some(body))
}

/// The integer after `key` in a bencoded dictionary (enough for the
/// extension handshake's `m`).
fn bencoded_int(dict: &[u8], key: &[u8]) -> Option<i64> {
    let at = dict.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = dict.get(at..)?.strip_prefix(b"i")?;
    let end = rest.iter().position(|&b| b == b'e')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// arietta knows no peer but the one written here, which advertises
/// `ut_pex` and sends one PEX message naming an aria2c seeder; arietta
/// connects to that seeder and downloads everything from it.
#[test]
fn pex_message_leads_to_a_seeder() {
    if !have_tools() {
        eprintln!("skipping pex_message_leads_to_a_seeder: aria2c is not installed");
        return;
    }
    let files = [
        (vec!["a.bin"], pattern(1_500_000, 21)),
        (vec!["b.bin"], pattern(700_001, 22)),
    ];
    let refs: Vec<(Vec<&str>, &[u8])> = files
        .iter()
        .map(|(p, d)| (p.clone(), d.as_slice()))
        .collect();
    let t = make_torrent("multi", &refs, PIECE, None);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "multi", &refs);
    let torrent = tmp.path().join("multi.torrent");
    t.write(&torrent);
    let (_seeder, seeder_port) = aria2c_seeder(tmp.path(), &seed, &torrent);

    let port = free_port();
    let leech = tmp.path().join("leech");
    let child = spawn(
        tmp.path(),
        &[
            "-d",
            s(&leech),
            &format!("--listen-port={port}"),
            "--bt-exclude-tracker=*",
            "--seed-time=0",
            s(&torrent),
        ],
    );
    assert!(wait_listening(port, Duration::from_secs(20)));
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hs = vec![19u8];
    hs.extend_from_slice(b"BitTorrent protocol");
    // Reserved bit 20: the extension protocol (BEP 10).
    hs.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0]);
    hs.extend_from_slice(&t.info_hash);
    hs.extend_from_slice(b"-PEXTEST-0123456789-");
    c.write_all(&hs).unwrap();
    let mut theirs = [0u8; 68];
    c.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[28..48], &t.info_hash);
    c.write_all(&msg(20, b"\x00d1:md6:ut_pexi7eee")).unwrap();
    let their_pex = loop {
        let m = read_msg(&mut c)
            .expect("no extension handshake from arietta")
            .unwrap_or_default();
        if m.len() > 1 && m[0] == 20 && m[1] == 0 {
            break bencoded_int(&m[2..], b"6:ut_pex").expect("arietta does not offer ut_pex");
        }
    };
    let mut added = Ipv4Addr::LOCALHOST.octets().to_vec();
    added.extend_from_slice(&seeder_port.to_be_bytes());
    let mut body = vec![their_pex as u8];
    body.extend_from_slice(b"d5:added6:");
    body.extend_from_slice(&added);
    body.extend_from_slice(b"7:added.f1:\x02e");
    c.write_all(&msg(20, &body)).unwrap();
    // Stay connected (and silent) while arietta downloads elsewhere.
    let holder = std::thread::spawn(move || {
        c.set_read_timeout(Some(LIMIT)).unwrap();
        while read_msg(&mut c).is_ok() {}
    });
    let out = wait_with_timeout(child, LIMIT);
    out.expect_code(exit::OK);
    assert_same_tree(&seed.join("multi"), &leech.join("multi"));
    let _ = holder.join();
}

/// Whether this host can multicast to BEP 14's group at all.
fn multicast_works() -> Result<(), String> {
    let u = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    u.set_multicast_ttl_v4(1).map_err(|e| e.to_string())?;
    u.send_to(b"probe", "239.192.152.143:6771")
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A seeding and a leeching arietta, no tracker, `--bt-enable-lpd=true`:
/// the leecher finds the seeder on the LAN and completes.
#[test]
fn lpd_finds_a_seeder_on_the_lan() {
    if let Err(e) = multicast_works() {
        eprintln!("skipping lpd_finds_a_seeder_on_the_lan: no multicast here ({e})");
        return;
    }
    let data = pattern(1_200_000, 31);
    let refs: Vec<(Vec<&str>, &[u8])> = vec![(vec!["lan.bin"], data.as_slice())];
    let t = make_torrent("lan", &refs, PIECE, None);
    let tmp = tempdir();
    let seed = tmp.path().join("seed");
    write_files(&seed, "lan", &refs);
    let torrent = tmp.path().join("lan.torrent");
    t.write(&torrent);
    let seed_port = free_port();
    let seeder = spawn(
        tmp.path(),
        &[
            "-d",
            s(&seed),
            &format!("--listen-port={seed_port}"),
            "--bt-enable-lpd=true",
            "--seed-ratio=0",
            s(&torrent),
        ],
    );
    let _seeder = Guard(seeder);
    assert!(wait_listening(seed_port, Duration::from_secs(20)));
    let leech = tmp.path().join("leech");
    let out = wait_with_timeout(
        spawn(
            tmp.path(),
            &[
                "-d",
                s(&leech),
                &format!("--listen-port={}", free_port()),
                "--bt-enable-lpd=true",
                "--seed-time=0",
                s(&torrent),
            ],
        ),
        Duration::from_secs(30),
    );
    out.expect_code(exit::OK);
    assert_same_tree(&seed.join("lan"), &leech.join("lan"));
}
