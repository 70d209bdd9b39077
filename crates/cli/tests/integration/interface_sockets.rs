//! `--interface` beyond outgoing TCP, as aria2c 1.36 binds: the
//! BitTorrent listening socket, the DHT's UDP socket, (aria2 speaks to
//! UDP trackers from that socket) the UDP tracker socket, and the RPC
//! listener under `--rpc-listen-all` take the interface's address. `127.0.0.2` is on `lo` but is not what the kernel
//! picks for loopback, so a socket that ignored the option shows.

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use crate::bt_support::{free_tcp_udp_port, make_torrent, pattern, Guard};
use crate::support::{aria2c_command, free_port, require, spawn, tempdir, wait_until};

/// The local addresses in `/proc/net/{tcp,tcp6}` (LISTEN sockets) or
/// `/proc/net/{udp,udp6}` on `port`, as `IP` strings.
fn bound(udp: bool, port: u16) -> BTreeSet<String> {
    let (files, listen) = if udp {
        (["/proc/net/udp", "/proc/net/udp6"], None)
    } else {
        (["/proc/net/tcp", "/proc/net/tcp6"], Some("0A"))
    };
    let mut out = BTreeSet::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (cols.get(1), cols.get(3)) else {
                continue;
            };
            if listen.is_some_and(|l| *state != l) {
                continue;
            }
            let Some((ip, p)) = local.split_once(':') else {
                continue;
            };
            if u16::from_str_radix(p, 16) != Ok(port) {
                continue;
            }
            out.insert(proc_ip(ip));
        }
    }
    out
}

/// `/proc/net`'s hex address (little-endian words) as text.
fn proc_ip(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut ordered = Vec::with_capacity(bytes.len());
    for word in bytes.chunks(4) {
        ordered.extend(word.iter().rev());
    }
    if ordered.len() == 4 {
        std::net::Ipv4Addr::new(ordered[0], ordered[1], ordered[2], ordered[3]).to_string()
    } else {
        let a: [u8; 16] = ordered.try_into().unwrap();
        std::net::Ipv6Addr::from(a).to_string()
    }
}

/// Runs `child` (a leech with no peers) until its TCP port listens; then
/// the addresses of that port and of the DHT's UDP port.
fn sockets_of(child: Child, tcp: u16, udp: u16) -> (BTreeSet<String>, BTreeSet<String>) {
    let _g = Guard(child);
    assert!(
        wait_until(Duration::from_secs(15), || {
            !bound(false, tcp).is_empty() && !bound(true, udp).is_empty()
        }),
        "never listened on {tcp}/{udp}"
    );
    (bound(false, tcp), bound(true, udp))
}

fn args<'a>(tcp: &'a str, udp: &'a str, torrent: &'a str) -> Vec<&'a str> {
    vec![
        "--interface=127.0.0.2",
        tcp,
        udp,
        "--enable-dht=true",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--bt-stop-timeout=30",
        "-d",
        "out",
        torrent,
    ]
}

fn write_torrent(dir: &Path, announce: &str) -> String {
    let data = pattern(40_000, 9);
    let t = make_torrent("if.bin", &[(vec![], &data)], 16_384, Some(announce));
    t.write(&dir.join("if.torrent"));
    "if.torrent".into()
}

#[test]
fn interface_binds_the_listener_and_the_dht_socket_as_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    let torrent = write_torrent(tmp.path(), "http://127.0.0.1:1/announce");
    let run = |aria2: bool| {
        let (tcp, udp) = (free_port(), free_tcp_udp_port());
        let (tcp_arg, udp_arg) = (
            format!("--listen-port={tcp}"),
            format!("--dht-listen-port={udp}"),
        );
        let a = args(&tcp_arg, &udp_arg, &torrent);
        let child = if aria2 {
            let mut c = aria2c_command(tmp.path());
            c.arg("--no-conf").args(&a);
            c.spawn().expect("aria2c")
        } else {
            spawn(tmp.path(), &a)
        };
        sockets_of(child, tcp, udp)
    };
    let theirs = run(true);
    let ours = run(false);
    assert_eq!(ours, theirs, "arietta (left), aria2c (right)");
    let only = BTreeSet::from(["127.0.0.2".to_owned()]);
    assert_eq!(ours, (only.clone(), only));
}

/// A UDP tracker hears arietta's announce from the interface's address.
#[test]
fn udp_tracker_announces_come_from_the_interface() {
    let tmp = tempdir();
    let tracker = UdpSocket::bind("127.0.0.1:0").unwrap();
    tracker
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let url = format!(
        "udp://127.0.0.1:{}/announce",
        tracker.local_addr().unwrap().port()
    );
    let torrent = write_torrent(tmp.path(), &url);
    let (tcp_arg, udp_arg) = (
        format!("--listen-port={}", free_port()),
        format!("--dht-listen-port={}", free_tcp_udp_port()),
    );
    let _g = Guard(spawn(tmp.path(), &args(&tcp_arg, &udp_arg, &torrent)));
    let mut buf = [0u8; 2048];
    let (n, from) = tracker.recv_from(&mut buf).expect("no announce came");
    assert_eq!(n, 16, "a BEP 15 connect request");
    assert_eq!(from.ip().to_string(), "127.0.0.2");
}

/// `--rpc-listen-all` listens on the interface's address; without it the
/// RPC port stays on loopback (127.0.0.1), as aria2c does either way.
#[test]
fn rpc_listen_all_binds_the_interface_as_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    let run = |aria2: bool, all: bool| {
        let port = free_port();
        let p = format!("--rpc-listen-port={port}");
        let mut a = vec!["--enable-rpc", "--interface=127.0.0.2", p.as_str()];
        if all {
            a.push("--rpc-listen-all");
        }
        let child = if aria2 {
            let mut c = aria2c_command(tmp.path());
            c.arg("--no-conf").args(&a);
            c.spawn().expect("aria2c")
        } else {
            spawn(tmp.path(), &a)
        };
        let _g = Guard(child);
        assert!(
            wait_until(Duration::from_secs(15), || !bound(false, port).is_empty()),
            "RPC never listened on {port}"
        );
        bound(false, port)
    };
    for all in [true, false] {
        let theirs = run(true, all);
        let ours = run(false, all);
        assert_eq!(
            ours, theirs,
            "--rpc-listen-all={all}: arietta (left), aria2c (right)"
        );
    }
    assert!(run(false, true).contains("127.0.0.2"));
}
