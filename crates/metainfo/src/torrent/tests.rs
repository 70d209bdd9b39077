//! Parsing real-world, hostile and v2/hybrid torrents.

use super::*;
use std::path::Component;

/// Bencode by hand, so tests can write keys in any order.
fn s(b: &[u8]) -> Vec<u8> {
    let mut v = format!("{}:", b.len()).into_bytes();
    v.extend_from_slice(b);
    v
}
fn i(n: i64) -> Vec<u8> {
    format!("i{n}e").into_bytes()
}
fn d(entries: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let mut v = b"d".to_vec();
    for (k, val) in entries {
        v.extend(s(k));
        v.extend_from_slice(val);
    }
    v.push(b'e');
    v
}
fn l(items: &[Vec<u8>]) -> Vec<u8> {
    let mut v = b"l".to_vec();
    for it in items {
        v.extend_from_slice(it);
    }
    v.push(b'e');
    v
}
fn file(len: i64, path: &[&[u8]]) -> Vec<u8> {
    d(&[
        (b"length", i(len)),
        (b"path", l(&path.iter().map(|p| s(p)).collect::<Vec<_>>())),
    ])
}
fn torrent(info: &[u8]) -> Vec<u8> {
    let mut t = d(&[(b"announce", s(b"http://t/announce"))]);
    t.pop();
    t.extend(s(b"info"));
    t.extend_from_slice(info);
    t.push(b'e');
    t
}
fn assert_safe(m: &Metainfo) {
    for f in &m.files {
        assert!(f.path.is_relative(), "{:?}", f.path);
        assert!(
            f.path
                .components()
                .all(|c| matches!(c, Component::Normal(_))),
            "{:?}",
            f.path
        );
    }
}

#[test]
fn unsorted_real_world_torrent_hashes_raw_span() {
    // Keys deliberately out of order at both levels, like some old creators wrote.
    let info = d(&[
        (b"pieces", s(&[7u8; 40])),
        (b"name", s(b"album")),
        (b"piece length", i(16384)),
        (
            b"files",
            l(&[
                file(20000, &[b"cd1", b"01.flac"]),
                file(100, &[b"cover.jpg"]),
            ]),
        ),
        (b"private", i(1)),
    ]);
    let mut t = d(&[
        (b"url-list", s(b"http://mirror/album/")),
        (b"creation date", i(1_700_000_000)),
        (b"comment", s(b"rip")),
        (b"comment.utf-8", s("rip ✓".as_bytes())),
        (
            b"announce-list",
            l(&[
                l(&[s(b"http://a/1"), s(b"udp://b:2")]),
                l(&[s(b"http://c/3")]),
            ]),
        ),
        (b"created by", s(b"hand")),
        (b"announce", s(b"http://a/1")),
    ]);
    t.pop();
    t.extend(s(b"info"));
    t.extend_from_slice(&info);
    t.push(b'e');

    let m = Metainfo::parse(&t).unwrap();
    let expected: [u8; 20] = Sha1::digest(&info).into();
    assert_eq!(m.info_hash_v1, Some(expected));
    let canonical =
        arietta_bencode::encode(&arietta_bencode::decode(&info).unwrap().to_owned_value());
    assert_ne!(
        <[u8; 20]>::from(Sha1::digest(&canonical)),
        expected,
        "re-encoding would change the hash"
    );
    assert_eq!(m.info_bytes, info);
    assert_eq!(
        m.announce_list,
        vec![
            vec!["http://a/1".to_owned(), "udp://b:2".into()],
            vec!["http://c/3".into()]
        ]
    );
    assert_eq!(m.url_list, vec!["http://mirror/album/"]);
    assert_eq!(m.comment.as_deref(), Some("rip ✓"));
    assert_eq!(m.created_by.as_deref(), Some("hand"));
    assert_eq!(m.creation_date, Some(1_700_000_000));
    assert!(m.private && m.multi_file);
    assert_eq!(m.total_length, 20100);
    assert_eq!(m.piece_count, 2);
    assert_eq!(m.piece_size(1), Some(20100 - 16384));
    assert_eq!(m.piece_hash(1), Some([7; 20]));
    assert_eq!(m.piece_hash(2), None);
    assert_eq!(m.files[0].path, PathBuf::from("album/cd1/01.flac"));
    assert_eq!(m.files[1].offset, 20000);
    assert_safe(&m);
    assert!(m
        .show_files()
        .contains("  2|./album/cover.jpg\n   |100B (100)\n"));
}

#[test]
fn single_file_and_url_list_forms() {
    let info = d(&[
        (b"length", i(5)),
        (b"name", s(b"a.iso")),
        (b"name.utf-8", s("á.iso".as_bytes())),
        (b"piece length", i(4)),
        (b"pieces", s(&[0; 40])),
    ]);
    let mut t = torrent(&info);
    t.pop();
    t.extend(s(b"url-list"));
    t.extend(l(&[s(b"http://w1/"), s(b""), s(b"http://w2/")]));
    t.push(b'e');
    let m = Metainfo::parse(&t).unwrap();
    assert!(!m.multi_file);
    assert_eq!(m.name, "á.iso");
    assert_eq!(m.files[0].path, PathBuf::from("á.iso"));
    assert_eq!(m.announce_list, vec![vec!["http://t/announce".to_owned()]]);
    // Kept as aria2 keeps them (`-S` lists the empty one); web seeds skip it.
    assert_eq!(m.url_list, vec!["http://w1/", "", "http://w2/"]);
    assert!(!m.private);
}

#[test]
fn hostile_paths() {
    let mk = |name: &[u8], path: &[&[u8]]| {
        torrent(&d(&[
            (b"files", l(&[file(1, path)])),
            (b"name", s(name)),
            (b"piece length", i(16384)),
            (b"pieces", s(&[0; 20])),
        ]))
    };
    // What aria2 1.36 refuses ("Detected directory traversal directive").
    for bad in [
        mk(b"x", &[b"..", b"etc"]),
        mk(b"x", &[b"a", b"..", b"..", b"b"]),
        mk(b"..", &[b"f"]),
        mk(b".", &[b"f"]),
        mk(b"/abs", &[b"a"]),
        mk(b"x", &[]),
        mk(b"x", &[b"", b"."]),
        mk(b"x", &[b"a", b"", b".", b"b"]),
        mk(b"x", &[b"../x"]),
        mk(b"x", &[b"a/.."]),
        mk(b"x", &[b"t\tab"]),
        mk(b"x", &[b"d/"]),
    ] {
        assert!(Metainfo::parse(&bad).is_err());
    }
    // What it takes, and where it writes: a `/` inside an element is a
    // directory separator, empty elements vanish, other bytes stay.
    for (name, path, expect) in [
        (&b"x"[..], vec![&b"/etc"[..], b"passwd"], "x/etc/passwd"),
        (b"a/b", vec![b"sub/c", b"f"], "a/b/sub/c/f"),
        (b"x", vec![b"..\\..\\win.ini"], "x/..\\..\\win.ini"),
        (b"x", vec![b"C:", b"evil"], "x/C:/evil"),
        (b"x", vec![b"a\0b"], "x/a%00b"),
        (b"x", vec![b"a", b"", b"b"], "x/a/b"),
        (b"\xff\xfe", vec![b"\xc3"], "%FF%FE/%C3"),
    ] {
        let m = Metainfo::parse(&mk(name, &path)).unwrap();
        assert_safe(&m);
        assert_eq!(m.files[0].path, PathBuf::from(expect));
    }
}

#[test]
fn malformed_torrents() {
    let base = |len: Vec<u8>, pl: Vec<u8>, pieces: Vec<u8>| {
        torrent(&d(&[
            (b"length", len),
            (b"name", s(b"n")),
            (b"piece length", pl),
            (b"pieces", pieces),
        ]))
    };
    assert!(Metainfo::parse(&base(i(5), i(4), s(&[0; 40]))).is_ok());
    assert!(Metainfo::parse(&base(i(5), i(4), s(&[0; 39]))).is_err());
    assert!(Metainfo::parse(&base(i(5), i(4), s(&[0; 60]))).is_err());
    assert!(Metainfo::parse(&base(i(-5), i(4), s(&[]))).is_err());
    assert!(Metainfo::parse(&base(i(5), i(0), s(&[0; 40]))).is_err());
    assert!(Metainfo::parse(&base(s(b"5"), i(4), s(&[0; 40]))).is_err());
    assert!(Metainfo::parse(&base(i(0), i(4), s(&[]))).is_ok());
    assert!(Metainfo::parse(b"de").is_err());
    assert!(Metainfo::parse(b"d4:infoi1ee").is_err());
    assert!(Metainfo::parse(b"le").is_err());
    // Total length overflow across files.
    let big = i64::MAX;
    let t = torrent(&d(&[
        (b"files", l(&[file(big, &[b"a"]), file(big, &[b"b"])])),
        (b"name", s(b"n")),
        (b"piece length", i(1 << 30)),
        (b"pieces", s(&[])),
    ]));
    assert!(Metainfo::parse(&t).is_err());
}

#[test]
fn padding_files_are_flagged() {
    let pad = d(&[
        (b"attr", s(b"p")),
        (b"length", i(16384 - 100)),
        (b"path", l(&[s(b".pad"), s(b"16284")])),
    ]);
    let info = d(&[
        (
            b"files",
            l(&[
                file(100, &[b"a"]),
                pad,
                d(&[
                    (b"attr", s(b"x")),
                    (b"length", i(10)),
                    (b"path", l(&[s(b"b")])),
                ]),
            ]),
        ),
        (b"name", s(b"n")),
        (b"piece length", i(16384)),
        (b"pieces", s(&[0; 40])),
    ]);
    let m = Metainfo::parse(&torrent(&info)).unwrap();
    assert!(m.files[1].padding && !m.files[0].padding);
    assert!(m.files[2].executable);
    assert_eq!(m.files[2].offset, 16384);
}

fn v2_info(with_v1: bool, mismatch: bool) -> Vec<u8> {
    let leaf = |len: i64, root: u8| {
        d(&[(
            b"",
            d(&[(b"length", i(len)), (b"pieces root", s(&[root; 32]))]),
        )])
    };
    let tree = d(&[
        (b"a.bin", leaf(20000, 1)),
        (b"dir", d(&[(b"b.txt", leaf(5, 2))])),
    ]);
    let mut entries: Vec<(&[u8], Vec<u8>)> = vec![
        (b"file tree", tree),
        (b"meta version", i(2)),
        (b"name", s(b"v2t")),
        (b"piece length", i(16384)),
    ];
    if with_v1 {
        let pad = d(&[
            (b"attr", s(b"p")),
            (b"length", i(32768 - 20000)),
            (b"path", l(&[s(b".pad"), s(b"x")])),
        ]);
        let b_len = if mismatch { 6 } else { 5 };
        entries.insert(
            0,
            (
                b"files",
                l(&[
                    file(20000, &[b"a.bin"]),
                    pad,
                    file(b_len, &[b"dir", b"b.txt"]),
                ]),
            ),
        );
        entries.push((b"pieces", s(&[0; 60])));
    }
    d(&entries)
}

#[test]
fn v2_torrent() {
    let info = v2_info(false, false);
    let mut t = torrent(&info);
    t.pop();
    t.extend(s(b"piece layers"));
    t.extend(d(&[(&[1u8; 32], s(&[9; 64]))]));
    t.push(b'e');
    let m = Metainfo::parse(&t).unwrap();
    assert_eq!(m.meta_version, 2);
    assert_eq!(m.info_hash_v1, None);
    assert_eq!(m.info_hash_v2, Some(Sha256::digest(&info).into()));
    assert_eq!(
        m.swarm_info_hash().map(|h| h.to_vec()),
        Some(Sha256::digest(&info)[..20].to_vec()),
        "a v2-only swarm uses the SHA-256 info-hash cut to 20 bytes"
    );
    assert!(m.multi_file);
    assert_eq!(m.files[0].path, PathBuf::from("v2t/a.bin"));
    assert_eq!(m.files[1].path, PathBuf::from("v2t/dir/b.txt"));
    assert_eq!(
        m.files[1].offset, 32768,
        "v2 files start on piece boundaries"
    );
    assert_eq!(m.files[1].pieces_root, Some([2; 32]));
    assert_eq!(m.piece_count, 3);
    assert_eq!(m.piece_size(1), Some(20000 - 16384));
    assert_eq!(m.piece_size(2), Some(5));
    assert_eq!(m.piece_layers.get(&[1; 32]).map(Vec::len), Some(64));
    assert!(m.magnet_uri().contains(&format!(
        "xt=urn:btmh:1220{}",
        hex::encode(m.info_hash_v2.unwrap())
    )));
    assert_safe(&m);
}

#[test]
fn hybrid_torrent() {
    let info = v2_info(true, false);
    let m = Metainfo::parse(&torrent(&info)).unwrap();
    assert_eq!(m.info_hash_v1, Some(Sha1::digest(&info).into()));
    assert_eq!(m.info_hash_v2, Some(Sha256::digest(&info).into()));
    assert_eq!(
        m.swarm_info_hash(),
        m.info_hash_v1,
        "a hybrid swarm uses v1"
    );
    assert_eq!(m.files.len(), 3);
    assert_eq!(m.files[2].offset, 32768);
    assert_eq!(m.files[2].pieces_root, Some([2; 32]));
    assert!(Metainfo::parse(&torrent(&v2_info(true, true))).is_err());
    let parsed = Metainfo::from_info(&info).unwrap();
    assert_eq!(parsed.info_hash_v1, m.info_hash_v1);
}

#[test]
fn v2_hostile_tree() {
    let leaf = d(&[(b"", d(&[(b"length", i(0))]))]);
    let t = torrent(&d(&[
        (b"file tree", d(&[(b"..", d(&[(b"x", leaf.clone())]))])),
        (b"meta version", i(2)),
        (b"name", s(b"n")),
        (b"piece length", i(16384)),
    ]));
    assert!(Metainfo::parse(&t).is_err());
    let t = torrent(&d(&[
        (b"file tree", leaf),
        (b"meta version", i(2)),
        (b"name", s(b"n")),
        (b"piece length", i(16384)),
    ]));
    assert!(Metainfo::parse(&t).is_err());
}

/// Cross-check against real tools (a failure under CI when missing).
#[test]
fn matches_mktorrent_and_aria2() {
    if !(super::require::require("mktorrent") && super::require::require("aria2c")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("content");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), b"hello\n").unwrap();
    std::fs::write(src.join("sub/b.bin"), vec![0x5a; 300_000]).unwrap();
    let out = dir.path().join("x.torrent");
    let st = std::process::Command::new("mktorrent")
        .args(["-a", "http://t/announce", "-l", "15", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .unwrap();
    assert!(st.status.success());
    let m = Metainfo::parse(&std::fs::read(&out).unwrap()).unwrap();
    let shown = std::process::Command::new("aria2c")
        .arg("-S")
        .arg(&out)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    let hash_line = format!("Info Hash: {}", hex::encode(m.info_hash_v1.unwrap()));
    assert!(shown.contains(&hash_line), "{shown}");
    let ours = m.show_files();
    let theirs = shown
        .split_once("*** BitTorrent")
        .map(|(_, t)| format!("*** BitTorrent{t}"))
        .unwrap();
    assert_eq!(ours.trim_end(), theirs.trim_end());
}
