//! The upload side of a torrent over RPC: a daemon seeding to an aria2c
//! leecher shows `uploadLength`/`uploadSpeed` in tellStatus and
//! `uploadSpeed` in getGlobalStat, and announces
//! `aria2.onBtDownloadComplete` on its WebSocket when the torrent has all
//! its pieces (here after the check of the data on disk, as aria2's
//! `BtCheckIntegrityEntry` does).

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use crate::bt_support::{pattern, require_tracker_and_aria2c, Swarm};
use crate::support::rpc_client::{ws_connect, ws_read_text, ws_text_frame, Daemon};
use crate::support::{assert_file_eq, s, wait_until};

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn ws_call(c: &mut std::net::TcpStream, id: &str, method: &str, params: Value) {
    let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    c.write_all(&ws_text_frame(&req.to_string())).unwrap();
}

#[test]
fn seeding_daemon_shows_uploads_and_bt_download_complete() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let len = 6 << 20;
    let sw = Swarm::new("up.bin", vec![(vec![], pattern(len, 9))])
        .tracker()
        .build();
    let d = Daemon::start(
        &sw.seed_dir(),
        &[
            "--enable-dht=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--bt-tracker-interval=1",
            "--seed-ratio=0",
            "--seed-time=600",
            // A few seconds of upload, so that the speeds are seen.
            "--max-upload-limit=2M",
        ],
    );
    let (mut ws, _) = ws_connect(d.port);
    ws_call(
        &mut ws,
        "add",
        "aria2.addTorrent",
        json!([b64(&sw.torrent.bytes), [], {"check-integrity": "true"}]),
    );
    let mut gid = String::new();
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|m: &String| m.contains("aria2.onBtDownloadComplete"))
    {
        let m = ws_read_text(&mut ws);
        if let Ok(v) = serde_json::from_str::<Value>(&m) {
            if v["id"] == "add" {
                gid = v["result"].as_str().unwrap().to_owned();
            }
        }
        seen.push(m);
        assert!(seen.len() < 10, "{seen:?}");
    }
    assert!(
        seen.iter()
            .any(|m| m.contains("aria2.onBtDownloadComplete") && m.contains(&gid)),
        "{seen:?}"
    );
    // Seeding goes on: no onDownloadComplete yet.
    assert!(
        !seen.iter().any(|m| m.contains("aria2.onDownloadComplete")),
        "{seen:?}"
    );

    let leech = std::thread::spawn({
        let sw_dir = sw.dir().to_path_buf();
        let leech_dir = sw.leech_dir();
        let torrent = sw.torrent_arg().to_owned();
        move || {
            let c = crate::bt_support::aria2c(
                &sw_dir,
                &[
                    "-d",
                    s(&leech_dir),
                    "--seed-time=0",
                    &format!("--listen-port={}", crate::support::free_port()),
                    &torrent,
                ],
            );
            crate::bt_support::run_for(c, Duration::from_secs(60))
        }
    });
    let mut status_speed = false;
    let mut global_speed = false;
    let mut st = Value::Null;
    let done = wait_until(Duration::from_secs(60), || {
        let body = d.call("aria2.tellStatus", &format!(r#"["{gid}"]"#));
        st = serde_json::from_str::<Value>(&body).unwrap()["result"].clone();
        status_speed |= st["uploadSpeed"].as_str().is_some_and(|v| v != "0");
        let g = d.call("aria2.getGlobalStat", "[]");
        let g: Value = serde_json::from_str(&g).unwrap();
        global_speed |= g["result"]["uploadSpeed"]
            .as_str()
            .is_some_and(|v| v != "0");
        st["uploadLength"]
            .as_str()
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n >= len)
    });
    assert!(leech.join().unwrap(), "the aria2c leecher did not finish");
    assert!(done, "uploadLength never reached {len}: {st}");
    assert!(status_speed, "tellStatus never showed an upload speed");
    assert!(global_speed, "getGlobalStat never showed an upload speed");
    assert_eq!(st["seeder"], "true", "{st}");
    assert_file_eq(&sw.leech_dir().join("up.bin"), &pattern(len, 9));
}

/// `completedLength` of a torrent counts the blocks of pieces still in
/// flight, as aria2's `DefaultPieceStorage::getCompletedLength` does: with
/// 4 MiB pieces from a slow aria2c seeder, a web UI sees progress before
/// the first piece is verified, not a jump every 4 MiB.
#[test]
fn torrent_progress_counts_blocks_of_pieces_in_flight() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let piece = 4 << 20;
    let sw = Swarm::new("slow.bin", vec![(vec![], pattern(2 * piece, 5))])
        .piece_length(piece)
        .tracker()
        .build()
        .aria2c_seeder_with(&["--max-upload-limit=400K"]);
    let dl = sw.dir().join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let d = Daemon::start(
        &dl,
        &[
            "--enable-dht=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
        ],
    );
    let added = d.call(
        "aria2.addTorrent",
        &json!([b64(&sw.torrent.bytes)]).to_string(),
    );
    let v: Value = serde_json::from_str(&added).unwrap();
    let gid = v["result"]
        .as_str()
        .unwrap_or_else(|| panic!("{added}"))
        .to_owned();
    let mut st = Value::Null;
    let moving = wait_until(Duration::from_secs(20), || {
        let r = d.call(
            "aria2.tellStatus",
            &json!([gid, ["completedLength", "bitfield"]]).to_string(),
        );
        st = serde_json::from_str::<Value>(&r).unwrap()["result"].clone();
        let done: u64 = st["completedLength"]
            .as_str()
            .unwrap_or("0")
            .parse()
            .unwrap();
        done > 0 && done < piece as u64
    });
    assert!(moving, "no progress inside the first piece: {st}");
    assert_eq!(st["bitfield"], "00", "no piece verified yet: {st}");
}
