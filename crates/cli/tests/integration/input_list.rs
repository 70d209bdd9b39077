//! `-i` lists: `--deferred-input` reading a huge list as the queue needs
//! it (memory measured with and without), and the option lines of one
//! entry applying to that download only.

use std::time::Duration;

use crate::support::{assert_file_eq, exit, run, signal_and_wait, spawn, tempdir, wait_until};
use arietta_testserver::{pattern, Route, TestServer};

/// Lines in the big list: a mirror operator's list, scaled down.
const QUEUED: usize = 200_000;

/// `VmRSS` of `pid` in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS line")
        * 1024
}

/// Runs `-j1 -i list` where the first entry crawls and `QUEUED - 1` wait
/// behind it; the process's RSS once the first download is running.
fn rss_with_queue(deferred: bool) -> u64 {
    let srv = TestServer::start();
    srv.add_route(
        "/slow.bin",
        Route::new(pattern(4 << 20, 1)).throttle(64 << 10),
    );
    let tmp = tempdir();
    let mut list = String::with_capacity(QUEUED * 48);
    list.push_str(&srv.url("/slow.bin"));
    list.push('\n');
    for i in 1..QUEUED {
        list.push_str(&format!("http://127.0.0.1:{}/f{i}.bin\n", srv.port()));
    }
    std::fs::write(tmp.path().join("list.txt"), list).unwrap();
    let flag = format!("--deferred-input={deferred}");
    let child = spawn(tmp.path(), &["-j1", "-i", "list.txt", &flag]);
    assert!(
        wait_until(Duration::from_secs(30), || srv.bytes_served("/slow.bin")
            >= 64 << 10),
        "the first download never started"
    );
    // Let the coordinator settle (the queue is built before the first
    // download starts; this is headroom for allocator noise).
    std::thread::sleep(Duration::from_millis(300));
    let bytes = rss(child.id());
    signal_and_wait(child, libc::SIGINT, Duration::from_secs(30));
    bytes
}

#[test]
fn deferred_input_keeps_a_huge_list_out_of_memory() {
    let eager = rss_with_queue(false);
    let lazy = rss_with_queue(true);
    let per_uri = eager.saturating_sub(lazy) / QUEUED as u64;
    eprintln!(
        "{QUEUED} queued URIs: RSS {} MiB read at start, {} MiB with --deferred-input \
         (about {per_uri} bytes per queued URI)",
        eager >> 20,
        lazy >> 20
    );
    assert!(lazy < 48 << 20, "deferred run used {} MiB", lazy >> 20);
    assert!(
        eager > lazy + (QUEUED as u64 * 100),
        "reading the list at start should cost memory: {eager} vs {lazy}"
    );
}

/// Every entry of a deferred list is downloaded, each with its own
/// option lines.
#[test]
fn deferred_input_downloads_every_entry_with_its_options() {
    let srv = TestServer::start();
    let bodies: Vec<Vec<u8>> = (0..5)
        .map(|i| pattern(10_000 + i * 1000, i as u64))
        .collect();
    let mut list = String::new();
    for (i, b) in bodies.iter().enumerate() {
        list.push_str(&srv.add_file(&format!("/d{i}.bin"), b.clone()));
        list.push_str(&format!("\n  out=renamed{i}.bin\n"));
    }
    let tmp = tempdir();
    std::fs::write(tmp.path().join("list.txt"), list).unwrap();
    run(
        tmp.path(),
        &["-j2", "-i", "list.txt", "--deferred-input=true"],
    )
    .expect_code(exit::OK);
    for (i, b) in bodies.iter().enumerate() {
        assert_file_eq(&tmp.path().join(format!("renamed{i}.bin")), b);
    }
}

/// aria2: "--deferred-input option will be disabled when --save-session
/// is used together": the whole list is read, so an interrupted run's
/// session names the entries never started.
#[test]
fn save_session_reads_the_whole_list_despite_deferred_input() {
    let srv = TestServer::start();
    srv.add_route(
        "/slow.bin",
        Route::new(pattern(4 << 20, 2)).throttle(64 << 10),
    );
    let tmp = tempdir();
    let list = format!(
        "{}\nhttp://127.0.0.1:{p}/second.bin\nhttp://127.0.0.1:{p}/third.bin\n",
        srv.url("/slow.bin"),
        p = srv.port()
    );
    std::fs::write(tmp.path().join("list.txt"), list).unwrap();
    let child = spawn(
        tmp.path(),
        &[
            "-j1",
            "-i",
            "list.txt",
            "--deferred-input=true",
            "--save-session=s.txt",
        ],
    );
    assert!(
        wait_until(Duration::from_secs(15), || srv.bytes_served("/slow.bin")
            > 0),
        "the first download never started"
    );
    let out = signal_and_wait(child, libc::SIGINT, Duration::from_secs(30));
    assert_eq!(out.code, Some(exit::UNFINISHED), "{}", out.output());
    let session = std::fs::read_to_string(tmp.path().join("s.txt")).unwrap();
    for name in ["slow.bin", "second.bin", "third.bin"] {
        assert!(session.contains(name), "{name} missing:\n{session}");
    }
}

/// Two downloads in one `-i` file, each with its own network options: one
/// through a per-download HTTP proxy with its own credentials, one direct
/// with its own header, User-Agent and `referer=*`. Each request carries
/// only its own download's.
#[test]
fn input_file_network_options_apply_to_their_download_only() {
    let origin = TestServer::start();
    let proxy = TestServer::start();
    let direct_body = pattern(20_000, 7);
    let proxied_body = pattern(30_000, 8);
    let direct = origin.add_file("/direct.bin", direct_body.clone());
    // The proxy answers the absolute-form request for an origin that does
    // not resolve: only a proxy can fetch it.
    proxy.add_file("/proxied.bin", proxied_body.clone());
    let list = format!(
        "{direct}\n  header=X-Who: direct\n  user-agent=agent-direct\n  referer=*\n\
         http://origin.invalid/proxied.bin\n  http-proxy=http://127.0.0.1:{}\n  \
         http-proxy-user=pu\n  http-proxy-passwd=pp\n  header=X-Who: proxied\n",
        proxy.port()
    );
    let tmp = tempdir();
    std::fs::write(tmp.path().join("list.txt"), list).unwrap();
    let check = |who: &str| {
        for r in origin.requests("/direct.bin") {
            assert_eq!(r.header("X-Who"), Some("direct"), "{who}: {r:?}");
            // An entry's `header` lines replace the command line's, as
            // aria2's input file puts the entry's value over the global one.
            assert_eq!(r.header("X-All"), None, "{who}: {r:?}");
            assert_eq!(r.header("User-Agent"), Some("agent-direct"), "{who}: {r:?}");
            assert_eq!(r.header("Referer"), Some(direct.as_str()), "{who}: {r:?}");
            assert_eq!(r.header("Proxy-Authorization"), None, "{who}: {r:?}");
        }
        let via = proxy.requests("/proxied.bin");
        assert!(
            !via.is_empty(),
            "{who}: the per-download proxy was not used"
        );
        for r in via {
            assert_eq!(
                r.target, "http://origin.invalid/proxied.bin",
                "{who}: {r:?}"
            );
            // base64("pu:pp")
            assert_eq!(
                r.header("Proxy-Authorization"),
                Some("Basic cHU6cHA="),
                "{who}: {r:?}"
            );
            assert_eq!(r.header("X-Who"), Some("proxied"), "{who}: {r:?}");
            assert_eq!(r.header("X-All"), None, "{who}: {r:?}");
            assert_ne!(r.header("User-Agent"), Some("agent-direct"), "{who}: {r:?}");
            assert_eq!(r.header("Referer"), None, "{who}: {r:?}");
        }
    };
    run(tmp.path(), &["-i", "list.txt", "--header=X-All: both"]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("direct.bin"), &direct_body);
    assert_file_eq(&tmp.path().join("proxied.bin"), &proxied_body);
    check("arietta");

    // The oracle reads the same list the same way.
    if !crate::support::require("aria2c") {
        return;
    }
    origin.reset_counters();
    proxy.reset_counters();
    let out = std::process::Command::new("aria2c")
        .current_dir(tmp.path())
        .env("HOME", tmp.path())
        .args([
            "--no-conf",
            "-d",
            "a2",
            "-i",
            "list.txt",
            "--header=X-All: both",
        ])
        .output()
        .expect("aria2c runs");
    assert!(out.status.success(), "aria2c failed: {out:?}");
    check("aria2c");
}

/// `--save-session` writes what aria2c writes for the same run, byte for
/// byte but for the GIDs: each URI followed by a TAB (written as aria2
/// stores it: a space, `<`, `>` and non-ASCII bytes as `%XX`), ` gid=` first, then
/// the download's options in aria2's definition order, those given on the
/// command line included (aria2 copies them into every download), those
/// of a conf file not.
#[test]
fn saved_session_matches_aria2c() {
    if !crate::support::require("aria2c") {
        return;
    }
    let srv = TestServer::start();
    let missing = srv.url("/missing.bin");
    let refused = format!("http://127.0.0.1:{}/x.bin", crate::support::free_port());
    let odd = refused.replace("x.bin", "a b<c>\u{e9}.bin");
    let list =
        format!("{missing}\n  split=3\n  out=n.bin\n{refused}\t{refused}?2\n  dir=sub\n{odd}\n");
    let mut files = Vec::new();
    for program in ["arietta", "aria2c"] {
        let tmp = tempdir();
        std::fs::write(tmp.path().join("list.txt"), &list).unwrap();
        std::fs::write(
            tmp.path().join("a.conf"),
            "timeout=7\nlowest-speed-limit=1K\n",
        )
        .unwrap();
        let args = [
            "--conf-path=a.conf",
            "-i",
            "list.txt",
            "--max-tries=1",
            "--save-session=s.txt",
        ];
        let mut cmd = if program == "arietta" {
            crate::support::command(tmp.path())
        } else {
            crate::support::aria2c_command(tmp.path())
        };
        cmd.args(args);
        let out = crate::support::wait_with_timeout(cmd.spawn().unwrap(), Duration::from_secs(30));
        assert_ne!(out.code, Some(0), "{program}\n{}", out.output());
        let text = std::fs::read_to_string(tmp.path().join("s.txt")).unwrap();
        // One block per download; the two failures race, so their order
        // is the order they happened to stop in.
        let mut blocks: Vec<String> = Vec::new();
        for l in text.lines() {
            let l = match l.strip_prefix(" gid=") {
                Some(_) => " gid=GID",
                None => l,
            };
            if !l.starts_with(' ') || blocks.is_empty() {
                blocks.push(String::new());
            }
            let b = blocks.last_mut().expect("a block");
            b.push_str(l);
            b.push('\n');
        }
        blocks.sort();
        files.push(blocks);
    }
    assert_eq!(
        files[0], files[1],
        "arietta's session (left), aria2c's (right)"
    );
}
