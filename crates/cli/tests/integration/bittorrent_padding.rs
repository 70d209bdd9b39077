//! BEP 47 padding files (`attr` `p`, path `.pad/N`) as aria2c 1.36 shows
//! them, which knows no BEP 47: listed by `-S`, numbered by
//! `--select-file` and RPC `getFiles`/`tellStatus`, and written to disk
//! (zeros) like any file whose pieces come in. arietta matches each, side
//! by side with aria2c on the same torrent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::bt_support::{
    aria2c, make_padded_torrent, pattern, require_tracker_and_aria2c, Files, Guard, Swarm,
    LEECH_LIMIT,
};
use crate::support::rpc_client::{free_port, Daemon, RpcClient, Transport};
use crate::support::{
    aria2c_command, exit, require, run, s, tempdir, wait_listening, wait_with_timeout,
};

const PIECE: usize = 16_384;

/// Three files none of which ends on a piece boundary: a padding file
/// follows each, so the torrent lists six (pads at 2, 4 and 6).
fn files() -> Files {
    vec![
        (vec!["a.bin"], pattern(20_000, 1)),
        (vec!["sub", "b.bin"], pattern(30_000, 2)),
        (vec!["c.bin"], pattern(5_000, 3)),
    ]
}

fn padded_torrent() -> Vec<u8> {
    let f = files();
    let refs: Vec<(Vec<&str>, &[u8])> = f.iter().map(|(p, d)| (p.clone(), d.as_slice())).collect();
    make_padded_torrent("padded", &refs, PIECE, Some("http://127.0.0.1:1/announce")).bytes
}

#[test]
fn show_files_lists_padding_files_as_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    std::fs::write(tmp.path().join("p.torrent"), padded_torrent()).unwrap();
    let ours = run(tmp.path(), &["-S", "p.torrent"]);
    let mut c = aria2c_command(tmp.path());
    c.args(["--no-conf", "-S", "p.torrent"]);
    let theirs = wait_with_timeout(c.spawn().expect("aria2c"), Duration::from_secs(30));
    ours.expect_code(0);
    assert_eq!(ours.stdout, theirs.stdout, "arietta (left), aria2c (right)");
    assert!(
        ours.stdout
            .contains("  2|./padded/.pad/12768\n   |12KiB (12,768)\n"),
        "{}",
        ours.stdout
    );
}

/// Every file under `dir` (relative path, bytes), `.aria2` control files
/// by name only (their bytes hold timing).
fn tree(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Option<Vec<u8>>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                let control = p.extension().is_some_and(|x| x == "aria2");
                out.push((rel, (!control).then(|| std::fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn names(t: &[(PathBuf, Option<Vec<u8>>)]) -> Vec<String> {
    t.iter().map(|(p, _)| p.display().to_string()).collect()
}

/// `--select-file=1,3` names a.bin and sub/b.bin (the pads count); both
/// clients write the pads their pieces cover, as zeros, leave c.bin and
/// its pad alone and keep the control file (the torrent is not whole).
/// Without `--select-file` all six files land.
#[test]
fn padded_download_lands_on_disk_as_aria2c() {
    if !require_tracker_and_aria2c() {
        return;
    }
    let sw = Swarm::new("padded", files())
        .piece_length(PIECE)
        .padded()
        .tracker()
        .build()
        .aria2c_seeder();
    let theirs = sw.dir().join("theirs");
    assert!(
        sw.aria2c_leech_in(&theirs, &["--select-file=1,3"]),
        "aria2c leech failed"
    );
    let ours = sw.dir().join("ours");
    let out = wait_with_timeout(
        sw.spawn_leech_in(&ours, &["--select-file=1,3"]),
        LEECH_LIMIT,
    );
    out.expect_code(exit::OK);
    let (want, got) = (tree(&theirs), tree(&ours));
    assert_eq!(names(&want), names(&got));
    assert_eq!(
        names(&got),
        [
            "padded/.pad/12768",
            "padded/.pad/2768",
            "padded/a.bin",
            "padded/sub/b.bin",
            "padded.aria2",
        ]
    );
    assert!(want == got, "file contents differ");
    assert_eq!(
        std::fs::read(ours.join("padded/.pad/2768")).unwrap(),
        vec![0; 2768]
    );

    sw.leech(&[]).expect_code(exit::OK);
    sw.assert_leeched();
    assert!(!sw.leech_dir().join("padded.aria2").exists());
}

fn call(c: &mut RpcClient, method: &str, params: Vec<Value>) -> Value {
    c.call(method, params)
        .unwrap_or_else(|f| panic!("{method}: {} {}", f.code, f.message))
}

/// `getFiles` and `tellStatus`'s `files`, `totalLength` of a paused
/// torrent added with `select-file=1,3`, paths under `dir` written `<dir>`.
fn rpc_answers(port: u16, dir: &Path) -> Value {
    use base64::Engine;
    let mut c = RpcClient::new(port, Transport::Http, None);
    let b64 = base64::engine::general_purpose::STANDARD.encode(padded_torrent());
    let gid = call(
        &mut c,
        "aria2.addTorrent",
        vec![
            json!(b64),
            json!([]),
            json!({"pause": "true", "select-file": "1,3"}),
        ],
    );
    let files = call(&mut c, "aria2.getFiles", vec![gid.clone()]);
    let status = call(
        &mut c,
        "aria2.tellStatus",
        vec![gid, json!(["files", "totalLength"])],
    );
    let text = json!({"getFiles": files, "tellStatus": status})
        .to_string()
        .replace(s(dir), "<dir>");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn rpc_numbers_padding_files_as_aria2c() {
    if !require("aria2c") {
        return;
    }
    let common = ["--enable-dht=false", "--bt-enable-lpd=false"];
    let tmp_a = tempdir();
    let port = free_port();
    let home = tmp_a.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let listen = format!("--rpc-listen-port={port}");
    let dir = format!("--dir={}", s(tmp_a.path()));
    let mut argv = vec!["--enable-rpc", listen.as_str(), dir.as_str()];
    argv.extend_from_slice(&common);
    let _aria2 = Guard(aria2c(&home, &argv).spawn().expect("aria2c"));
    assert!(wait_listening(port, Duration::from_secs(10)));
    let want = rpc_answers(port, tmp_a.path());

    let tmp_b = tempdir();
    let d = Daemon::start(tmp_b.path(), &common);
    let got = rpc_answers(d.port, tmp_b.path());
    assert_eq!(want, got, "aria2c (left), arietta (right)");
    let files = got["getFiles"].as_array().unwrap();
    assert_eq!(files.len(), 6);
    assert_eq!(files[1]["path"], "<dir>/padded/.pad/12768");
    assert_eq!(files[2]["selected"], "true");
    assert_eq!(files[1]["selected"], "false");
}
