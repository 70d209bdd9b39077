//! SOCKS5 proxies (beyond aria2): HTTP, HTTPS, FTP, SFTP, BitTorrent peers
//! and HTTP trackers through Debian's microsocks, with and without a
//! login. A sniffing relay in front of microsocks records each CONNECT
//! (see `support::socks`), which is how these tests prove the traffic went
//! through the proxy and, for `socks5h://`, that the proxy got the name.
//!
//! UDP trackers and the DHT go through the proxy's UDP relay (UDP
//! ASSOCIATE), which microsocks does not offer: those tests use Dante's
//! danted, whose log names every relayed datagram's destination.

use arietta_testserver::{pattern, Route, TestServer};

use crate::bt_support::*;
use crate::support::danted::Danted;
use crate::support::socks::{Microsocks, SocksSniffer};
use crate::support::sshd::SshServer;
use crate::support::{assert_file_eq, exit, ftpd::pyftpd, require_ok, run, s, tempdir};

/// microsocks (with `login` when given) behind a sniffer; `None` when
/// microsocks is missing (outside CI).
fn proxy(login: Option<(&str, &str)>) -> Option<(Microsocks, SocksSniffer)> {
    let m = Microsocks::start(login)?;
    let sniffer = SocksSniffer::start(m.port);
    Some((m, sniffer))
}

#[test]
fn http_through_socks5_without_login() {
    let Some((_m, sniff)) = proxy(None) else {
        return;
    };
    let srv = TestServer::start();
    let body = pattern(3 << 20, 1);
    let url = srv.add_file("/a.bin", body.clone());
    let tmp = tempdir();
    let all = format!("--all-proxy=socks5://127.0.0.1:{}", sniff.port);
    run(tmp.path(), &[&all, "-x2", "-s2", "-k1M", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("a.bin"), &body);
    let seen = sniff.connects_to(srv.port());
    assert!(!seen.is_empty(), "nothing went through the proxy");
    assert!(
        seen.iter()
            .all(|c| c.host == "127.0.0.1" && !c.by_name && c.user.is_none()),
        "{seen:?}"
    );
    // Every connection the server accepted came through the proxy.
    assert_eq!(srv.connections_accepted(), seen.len() as u64);
}

/// A per-download proxy with a login, from an input file (`-i`), as
/// `--http-proxy`; the download beside it goes direct.
#[test]
fn http_through_socks5_with_login_per_download() {
    let Some((_m, sniff)) = proxy(Some(("alice", "s3cret"))) else {
        return;
    };
    let srv = TestServer::start();
    let proxied = pattern(500_000, 2);
    let direct = pattern(400_000, 3);
    let proxied_url = srv.add_file("/proxied.bin", proxied.clone());
    let direct_url = srv.add_file("/direct.bin", direct.clone());
    let tmp = tempdir();
    let list = tmp.path().join("list.txt");
    std::fs::write(
        &list,
        format!(
            "{proxied_url}\n  http-proxy=socks5://alice:s3cret@127.0.0.1:{}\n{direct_url}\n",
            sniff.port
        ),
    )
    .unwrap();
    run(tmp.path(), &["-i", s(&list)]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("proxied.bin"), &proxied);
    assert_file_eq(&tmp.path().join("direct.bin"), &direct);
    let seen = sniff.connects();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].user.as_deref(), Some("alice"));
    assert_eq!(seen[0].port, srv.port());
    assert_eq!(srv.requests("/proxied.bin").len(), 1);
    assert_eq!(srv.requests("/direct.bin").len(), 1);
}

/// A refused login is an authorization failure: exit 24 (aria2's "HTTP
/// authorization failed", the nearest it has), said plainly, not retried.
/// A proxy that wants a login and gets none says so too.
#[test]
fn wrong_or_missing_password_fails_with_exit_24() {
    let Some((_m, sniff)) = proxy(Some(("alice", "s3cret"))) else {
        return;
    };
    let srv = TestServer::start();
    let url = srv.add_file("/a.bin", pattern(1000, 4));
    let tmp = tempdir();
    let wrong = format!("--all-proxy=socks5://alice:nope@127.0.0.1:{}", sniff.port);
    let out = run(
        tmp.path(),
        &[&wrong, "--max-tries=5", "--retry-wait=1", &url],
    );
    out.expect_code(exit::AUTH);
    assert!(
        out.output()
            .contains("SOCKS5 proxy rejected the user name and password"),
        "{}",
        out.output()
    );
    assert!(!tmp.path().join("a.bin").exists());
    assert_eq!(
        sniff.connects().len(),
        0,
        "no CONNECT after a refused login"
    );
    assert_eq!(srv.connections_accepted(), 0);

    let none = format!("--all-proxy=socks5://127.0.0.1:{}", sniff.port);
    let out = run(tmp.path(), &[&none, &url]);
    out.expect_code(exit::AUTH);
    assert!(
        out.output()
            .contains("may require a user name and password"),
        "{}",
        out.output()
    );
}

/// `socks5h://` hands the proxy the name; `socks5://` resolves it here and
/// hands over an address. A name nobody can resolve proves where the
/// lookup happened: through `socks5h://` it is the proxy's refusal (no
/// local lookup, exit 1), through `socks5://` our resolver's (exit 19,
/// and the proxy never hears of it).
#[test]
fn socks5h_resolves_at_the_proxy() {
    let Some((_m, sniff)) = proxy(None) else {
        return;
    };
    let srv = TestServer::start();
    let body = pattern(200_000, 5);
    srv.add_file("/n.bin", body.clone());
    let by_name = format!("http://localhost:{}/n.bin", srv.port());
    let tmp = tempdir();
    let remote = format!("--all-proxy=socks5h://127.0.0.1:{}", sniff.port);
    run(tmp.path(), &[&remote, "-o", "remote.bin", &by_name]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("remote.bin"), &body);
    let local = format!("--all-proxy=socks5://127.0.0.1:{}", sniff.port);
    run(tmp.path(), &[&local, "-o", "local.bin", &by_name]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("local.bin"), &body);
    let seen = sniff.connects();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].by_name && seen[0].host == "localhost", "{seen:?}");
    assert!(!seen[1].by_name && seen[1].host == "127.0.0.1", "{seen:?}");

    let nowhere = "http://arietta-socks-test.invalid/x.bin";
    let out = run(tmp.path(), &[&remote, "--max-tries=1", nowhere]);
    out.expect_code(exit::UNKNOWN);
    assert!(
        out.output()
            .contains("SOCKS5 proxy could not connect to arietta-socks-test.invalid:80"),
        "{}",
        out.output()
    );
    assert!(sniff.connects()[2].by_name);
    let out = run(tmp.path(), &[&local, "--max-tries=1", nowhere]);
    out.expect_code(exit::NAME_RESOLUTION);
    assert_eq!(
        sniff.connects().len(),
        3,
        "socks5:// must resolve locally first"
    );
}

#[test]
fn https_through_socks5() {
    let Some((_m, sniff)) = proxy(Some(("u", "p"))) else {
        return;
    };
    let srv = TestServer::start_tls();
    let body = pattern(2 << 20, 6);
    srv.add_file("/t.bin", body.clone());
    let tmp = tempdir();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, srv.ca_pem().unwrap()).unwrap();
    let ca = format!("--ca-certificate={}", s(&ca));
    let https = format!("--https-proxy=socks5h://u:p@127.0.0.1:{}", sniff.port);
    // The certificate is checked against the name in the URL, not the
    // proxy's.
    let url = format!("https://localhost:{}/t.bin", srv.port());
    run(tmp.path(), &[&ca, &https, "-x2", "-s2", "-k1M", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("t.bin"), &body);
    let seen = sniff.connects_to(srv.port());
    assert!(
        !seen.is_empty() && seen.iter().all(|c| c.by_name),
        "{seen:?}"
    );
    assert_eq!(srv.connections_accepted(), seen.len() as u64);
}

/// FTP speaks end to end through the proxy: the control connection and
/// each passive data connection are CONNECTs of their own.
#[test]
fn ftp_through_socks5() {
    let Some((_m, sniff)) = proxy(None) else {
        return;
    };
    let root = tempdir();
    let body = pattern(1 << 20, 7);
    std::fs::write(root.path().join("f.bin"), &body).unwrap();
    let Some(ftpd) = pyftpd(root.path(), 0) else {
        return;
    };
    let tmp = tempdir();
    let ftp = format!("--ftp-proxy=socks5://127.0.0.1:{}", sniff.port);
    // --ftp-pasv=false: active mode cannot work through a proxy, so
    // passive is used regardless.
    let url = format!("ftp://127.0.0.1:{}/f.bin", ftpd.port);
    run(tmp.path(), &[&ftp, "--ftp-pasv=false", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("f.bin"), &body);
    let seen = sniff.connects();
    let control = seen.iter().filter(|c| c.port == ftpd.port).count();
    let data: u64 = seen
        .iter()
        .filter(|c| c.port != ftpd.port)
        .map(|c| c.bytes_down())
        .sum();
    assert!(control >= 1, "{seen:?}");
    assert!(
        data >= body.len() as u64,
        "the data came another way: {seen:?}"
    );
}

/// A leech whose only peer source is an HTTP tracker reached by name
/// through `socks5h://`, and whose only peer is an aria2c seeder that
/// never learns of the leech (the tracker names only the seeder): every
/// byte must come over a peer connection the proxy carried. The UDP
/// tracker tried first needs UDP ASSOCIATE, which microsocks refuses: a
/// warning says so, and the torrent goes on with the HTTP tracker.
#[test]
fn bittorrent_leech_through_socks5() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let Some((_m, sniff)) = proxy(Some(("bt", "pw"))) else {
        return;
    };
    let tracker = TestServer::start();
    let work = tempdir();
    let name = "swarmed.bin";
    let data = pattern(900_001, 8);
    let files = [(Vec::new(), data.as_slice())];
    let announce = format!("http://localhost:{}/announce", tracker.port());
    let torrent = make_torrent(name, &files, PIECE, Some(&announce));
    let path = work.path().join("t.torrent");
    torrent.write(&path);
    let seed = work.path().join("seed");
    write_files(&seed, name, &files);
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (_seeder, seeder_port) = aria2c_seeder_with(&home, &seed, &path, &[]);
    let mut peers = std::net::Ipv4Addr::LOCALHOST.octets().to_vec();
    peers.extend_from_slice(&seeder_port.to_be_bytes());
    let reply = arietta_bencode::encode(
        &arietta_bencode::OwnedValue::dict()
            .insert(b"interval".to_vec(), 1800i64)
            .insert(b"peers".to_vec(), peers),
    );
    tracker.add_route("/announce", Route::new(reply));

    let out_dir = work.path().join("out");
    let all = format!("--all-proxy=socks5h://bt:pw@127.0.0.1:{}", sniff.port);
    let out = crate::support::run_with_timeout(
        work.path(),
        &[
            &all,
            "-d",
            s(&out_dir),
            "--enable-dht=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--seed-time=0",
            // One tier, the UDP tracker first.
            &format!("--bt-exclude-tracker={announce}"),
            &format!("--bt-tracker=udp://127.0.0.1:9/announce,{announce}"),
            s(&path),
        ],
        LEECH_LIMIT,
    );
    out.expect_code(exit::OK);
    assert_eq!(std::fs::read(out_dir.join(name)).unwrap(), data);
    assert!(
        out.output().contains(
            "cannot relay UDP (SOCKS5 proxy refused UDP ASSOCIATE: command not supported)"
        ),
        "{}",
        out.output()
    );
    // The UDP tracker's turn: an association asked for, and refused.
    assert!(!sniff.udp_associates().is_empty());
    let to_tracker = sniff.connects_to(tracker.port());
    assert!(
        !to_tracker.is_empty() && to_tracker.iter().all(|c| c.by_name),
        "{to_tracker:?}"
    );
    assert!(!tracker.requests("/announce").is_empty());
    let to_seeder = sniff.connects_to(seeder_port);
    let down: u64 = to_seeder.iter().map(|c| c.bytes_down()).sum();
    assert!(
        down >= data.len() as u64,
        "peer bytes through the proxy: {down}; {to_seeder:?}"
    );
    assert!(to_seeder.iter().all(|c| c.user.as_deref() == Some("bt")));
}

/// SFTP's blocking libssh2 thread runs the same handshake machine: a
/// SOCKS5 `--all-proxy` carries the SSH connections, the server's name
/// resolved by the proxy.
#[test]
fn sftp_through_socks5() {
    let Some((_m, sniff)) = proxy(Some(("ssh", "pw"))) else {
        return;
    };
    let Some(srv) = require_ok(SshServer::start()) else {
        return;
    };
    let body = pattern(2 << 20, 9);
    let path = srv.add_file("via.bin", &body);
    let url = srv
        .url_with_password(&path)
        .replace("@127.0.0.1:", "@localhost:");
    let tmp = tempdir();
    let all = format!("--all-proxy=socks5h://ssh:pw@127.0.0.1:{}", sniff.port);
    run(tmp.path(), &[&all, "-x2", "-s2", "-k1M", &url]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("via.bin"), &body);
    let seen = sniff.connects_to(srv.port);
    assert!(
        !seen.is_empty() && seen.iter().all(|c| c.by_name && c.host == "localhost"),
        "{seen:?}"
    );
    let down: u64 = seen.iter().map(|c| c.bytes_down()).sum();
    assert!(down >= body.len() as u64, "{down} bytes through the proxy");
}

/// An FTP web seed goes through a SOCKS5 `--all-proxy` like an FTP
/// download: control and passive data connections are CONNECTs.
#[test]
fn ftp_web_seed_through_socks5() {
    let Some((_m, sniff)) = proxy(None) else {
        return;
    };
    let content = pattern(600_000, 10);
    let sw = Swarm::new("wsftp", vec![(vec!["a.bin"], content.clone())]).build();
    let Some(ftpd) = pyftpd(&sw.seed_dir(), 0) else {
        return;
    };
    let ws = format!("ftp://127.0.0.1:{}/", ftpd.port);
    let all = format!("--all-proxy=socks5://127.0.0.1:{}", sniff.port);
    let out = sw.leech_of(
        &["-T", sw.torrent_arg(), &ws],
        &[&all, "--enable-dht=false"],
    );
    out.expect_code(exit::OK);
    sw.assert_leeched();
    let seen = sniff.connects();
    assert!(seen.iter().any(|c| c.port == ftpd.port), "{seen:?}");
    let data: u64 = seen
        .iter()
        .filter(|c| c.port != ftpd.port)
        .map(|c| c.bytes_down())
        .sum();
    assert!(data >= content.len() as u64, "{seen:?}");
}

/// Per download over RPC: `aria2.addUri` with `all-proxy=socks5h://…` in
/// its options goes through the proxy; `changeGlobalOption` takes one too.
#[test]
fn rpc_add_uri_with_a_socks5_proxy() {
    let Some((_m, sniff)) = proxy(Some(("rpc", "pw"))) else {
        return;
    };
    let srv = TestServer::start();
    let body = pattern(300_000, 11);
    srv.add_file("/r.bin", body.clone());
    let tmp = tempdir();
    let d = crate::support::rpc_client::Daemon::start(tmp.path(), &[]);
    let url = format!("http://localhost:{}/r.bin", srv.port());
    let added = d.call(
        "aria2.addUri",
        &format!(
            r#"[["{url}"],{{"all-proxy":"socks5h://rpc:pw@127.0.0.1:{}"}}]"#,
            sniff.port
        ),
    );
    let gid = crate::support::rpc_client::field(&added, "result").expect("a gid");
    d.wait_status(gid, "complete");
    assert_file_eq(&tmp.path().join("r.bin"), &body);
    let seen = sniff.connects_to(srv.port());
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].by_name && seen[0].user.as_deref() == Some("rpc"));

    let changed = d.call(
        "aria2.changeGlobalOption",
        r#"[{"all-proxy":"socks4://127.0.0.1:1"}]"#,
    );
    assert!(changed.contains("\"error\""), "{changed}");
}

// ---- UDP through danted (UDP ASSOCIATE) -----------------------------------

/// The leech options that leave one UDP tracker as the only peer source.
fn udp_tracker_only(sw: &Swarm, udp: &str) -> [String; 5] {
    let tracker = sw.tracker.as_ref().expect("a tracker");
    [
        "--enable-dht=false".into(),
        "--bt-enable-lpd=false".into(),
        "--enable-peer-exchange=false".into(),
        format!("--bt-exclude-tracker={}", tracker.http()),
        format!("--bt-tracker={udp}"),
    ]
}

/// A leech whose only peer source is opentracker's UDP announce (BEP 15),
/// through danted's UDP relay: the download completes, so the announce
/// got its answer, and danted's log shows the datagrams it relayed to
/// the tracker and the tracker's answers it handed back. No LPD warning:
/// LPD is off.
#[test]
fn udp_tracker_through_danted() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let Some(proxy) = require_ok(Danted::start(false)) else {
        return;
    };
    let sw = Swarm::new("udpsocks", vec![(vec!["u.bin"], pattern(700_001, 12))])
        .tracker()
        .build()
        .aria2c_seeder();
    let tracker_port = sw.tracker.as_ref().unwrap().port;
    let all = format!("--all-proxy=socks5://127.0.0.1:{}", proxy.port);
    let mut args = udp_tracker_only(&sw, &sw.tracker.as_ref().unwrap().udp()).to_vec();
    args.push(all);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sw.leech(&args);
    out.expect_code(exit::OK);
    sw.assert_leeched();
    assert!(
        !out.output().contains("Local Peer Discovery"),
        "{}",
        out.output()
    );
    let log = proxy.log();
    assert!(
        !proxy.udp_sent_to(tracker_port).is_empty(),
        "no datagram relayed to the tracker:\n{log}"
    );
    assert!(
        !proxy.udp_replies_from(tracker_port).is_empty(),
        "no answer relayed back:\n{log}"
    );
    // The peer connection went through the proxy too.
    assert!(
        log.contains(&format!("127.0.0.1.{}", sw.peer_ports[0])),
        "{log}"
    );
}

/// `socks5h://` with a login (danted's `username` method against the
/// SFTP tests' system user): the UDP tracker is named `localhost` and
/// goes to danted as a name for it to resolve (danted logs the address it
/// resolved; `Socks5Udp`'s unit test checks the name is what is sent).
#[test]
fn udp_tracker_by_name_through_danted_with_login() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let Some(proxy) = require_ok(Danted::start(true)) else {
        return;
    };
    let sw = Swarm::new("udpsocksh", vec![(vec!["h.bin"], pattern(500_003, 13))])
        .tracker()
        .build()
        .aria2c_seeder();
    let tracker_port = sw.tracker.as_ref().unwrap().port;
    let udp = format!("udp://localhost:{tracker_port}/announce");
    let all = format!(
        "--all-proxy=socks5h://{}:{}@127.0.0.1:{}",
        crate::support::sshd::USER,
        crate::support::sshd::PASSWORD,
        proxy.port
    );
    let mut args = udp_tracker_only(&sw, &udp).to_vec();
    args.push(all);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sw.leech(&args);
    out.expect_code(exit::OK);
    sw.assert_leeched();
    let log = proxy.log();
    assert!(
        !proxy.udp_replies_from(tracker_port).is_empty(),
        "no answer relayed back:\n{log}"
    );
    // danted names the logged-in user on each relayed datagram.
    let user = format!("username%{}@", crate::support::sshd::USER);
    assert!(
        proxy
            .udp_sent_to(tracker_port)
            .iter()
            .all(|l| l.contains(&user)),
        "{log}"
    );
}

/// The DHT through danted: a magnet whose only peer source is a loopback
/// libtorrent DHT. Bootstrap, get_peers and announce_peer all go through
/// the relay (danted's log shows the datagrams to the entry node), and
/// the libtorrent seeder found there serves the metadata and the files.
/// LPD is on, and cannot be proxied: a warning says so.
#[test]
fn dht_through_danted() {
    if !require_libtorrent() {
        return;
    }
    let Some(proxy) = require_ok(Danted::start(false)) else {
        return;
    };
    let files = vec![(vec!["d.bin"], pattern(900_007, 14))];
    let sw = Swarm::new("dhtsocks", files).build();
    let (_seeder, seeder_port, entry) = libtorrent_dht_seeder(&sw.seed_dir(), &sw.torrent_path);
    let all = format!("--all-proxy=socks5://127.0.0.1:{}", proxy.port);
    let entry_opt = format!("--dht-entry-point=127.0.0.1:{entry}");
    let dht_port = format!("--dht-listen-port={}", free_tcp_udp_port());
    let out = sw.leech_of(
        &[&sw.magnet()],
        &[&all, &entry_opt, &dht_port, "--bt-enable-lpd=true"],
    );
    out.expect_code(exit::OK);
    sw.assert_leeched();
    let log = proxy.log();
    assert!(
        !proxy.udp_replies_from(entry).is_empty(),
        "no DHT answer relayed back from the entry node:\n{log}"
    );
    assert!(log.contains(&format!("127.0.0.1.{seeder_port}")), "{log}");
    assert!(
        out.output()
            .contains("Local Peer Discovery does not go through the SOCKS5 proxy"),
        "{}",
        out.output()
    );
}
