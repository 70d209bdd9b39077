//! Peer sources beyond trackers, end to end: a peer written here tells
//! arietta about an aria2c seeder only through `ut_pex` (BEP 11), and two
//! ariettas find each other through Local Peer Discovery (BEP 14) on the
//! LAN multicast group. No tracker in either.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use crate::bt_support::*;
use crate::support::{exit, require, wait_with_timeout};

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
    if !require("aria2c") {
        return;
    }
    let files = vec![
        (vec!["a.bin"], pattern(1_500_000, 21)),
        (vec!["b.bin"], pattern(700_001, 22)),
    ];
    let sw = Swarm::new("multi", files).build().aria2c_seeder();
    let seeder_port = sw.peer_ports[0];
    let port = free_port();
    let child = sw.spawn_leech_on(port, &["--bt-exclude-tracker=*"]);
    let mut c = connect_peer(port);
    // Reserved bit 20: the extension protocol (BEP 10).
    let reserved = [0, 0, 0, 0, 0, 0x10, 0, 0];
    c.write_all(&handshake(
        reserved,
        &sw.torrent.info_hash,
        b"-PEXTEST-0123456789-",
    ))
    .unwrap();
    let mut theirs = [0u8; 68];
    c.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[28..48], &sw.torrent.info_hash);
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
        c.set_read_timeout(Some(LEECH_LIMIT)).unwrap();
        while read_msg(&mut c).is_ok() {}
    });
    let out = wait_with_timeout(child, LEECH_LIMIT);
    out.expect_code(exit::OK);
    sw.assert_leeched();
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
    // Multicast is a property of the host's network, not a program an
    // install step could provide: this one skips even under CI.
    if let Err(e) = multicast_works() {
        eprintln!("skipping lpd_finds_a_seeder_on_the_lan: no multicast here ({e})");
        return;
    }
    let files = vec![(vec!["lan.bin"], pattern(1_200_000, 31))];
    let sw = Swarm::new("lan", files).build();
    let (seeder, _) = sw.arietta_seeder(&["--bt-enable-lpd=true", "--seed-ratio=0"]);
    let _seeder = Guard(seeder);
    let out = wait_with_timeout(
        sw.spawn_leech(&["--bt-enable-lpd=true"]),
        Duration::from_secs(30),
    );
    out.expect_code(exit::OK);
    sw.assert_leeched();
}

/// `--bt-lpd-interface` by name, as aria2 takes it: both sides join the
/// group on `lo` (127.0.0.1) only, and the leecher still finds the seeder.
#[test]
fn lpd_on_an_interface_given_by_name() {
    let files = vec![(vec!["lo.bin"], pattern(900_000, 37))];
    let sw = Swarm::new("lpdlo", files).build();
    let on_lo = ["--bt-enable-lpd=true", "--bt-lpd-interface=lo"];
    let (seeder, _) = sw.arietta_seeder(&[on_lo[0], on_lo[1], "--seed-ratio=0"]);
    let _seeder = Guard(seeder);
    let out = wait_with_timeout(sw.spawn_leech(&on_lo), Duration::from_secs(30));
    out.expect_code(exit::OK);
    sw.assert_leeched();
}
