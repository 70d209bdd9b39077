//! `-S/--show-files` against aria2c on the same files: torrents with web
//! seeds (`url-list`, a list or one string), odd trackers, DHT `nodes`,
//! `path.utf-8`, zero-byte files, `/` and other reserved characters inside
//! names and paths (and traversals refused), metalinks with a relative URL
//! (against `xml:base` too) and no size, and arguments that are neither.

use std::path::Path;
use std::time::Duration;

use arietta_bencode::{encode, OwnedValue};

use crate::support::{aria2c_command, require, run, tempdir, wait_with_timeout, Outcome};

fn run_aria2c(cwd: &Path, args: &[&str]) -> Outcome {
    let mut c = aria2c_command(cwd);
    c.arg("--no-conf").args(args);
    wait_with_timeout(c.spawn().expect("spawn aria2c"), Duration::from_secs(30))
}

const PIECE: i64 = 16_384;

fn pieces(total: i64) -> Vec<u8> {
    vec![0; 20 * usize::try_from((total + PIECE - 1) / PIECE).unwrap()]
}

fn strs(v: &[&str]) -> OwnedValue {
    OwnedValue::from(v.iter().map(|s| OwnedValue::from(*s)).collect::<Vec<_>>())
}

fn single(name: &str, length: i64) -> OwnedValue {
    OwnedValue::dict()
        .insert(b"name".to_vec(), name)
        .insert(b"length".to_vec(), length)
        .insert(b"piece length".to_vec(), PIECE)
        .insert(b"pieces".to_vec(), pieces(length))
}

/// The torrents, each named for what it exercises.
fn torrents() -> Vec<(&'static str, OwnedValue)> {
    let with_seeds = OwnedValue::dict()
        .insert(b"announce".to_vec(), "http://t.example/a")
        .insert(
            b"url-list".to_vec(),
            strs(&["http://ws.example/a/", "http://ws2.example/b"]),
        )
        .insert(
            b"nodes".to_vec(),
            OwnedValue::from(vec![
                OwnedValue::from(vec![
                    OwnedValue::from("127.0.0.1"),
                    OwnedValue::from(6881i64),
                ]),
                OwnedValue::from(vec![
                    OwnedValue::from("example.org"),
                    OwnedValue::from(1234i64),
                ]),
            ]),
        )
        .insert(b"comment".to_vec(), "two web seeds")
        .insert(b"info".to_vec(), single("one.bin", 40_000));
    let one_seed = OwnedValue::dict()
        .insert(b"url-list".to_vec(), "http://ws.example/one.bin")
        .insert(b"info".to_vec(), single("one.bin", 40_000));
    let file = |len: i64, path: &[&str]| {
        OwnedValue::dict()
            .insert(b"length".to_vec(), len)
            .insert(b"path".to_vec(), strs(path))
    };
    let utf8 = OwnedValue::dict()
        .insert(b"announce".to_vec(), "http://t.example/a")
        .insert(
            b"info".to_vec(),
            OwnedValue::dict()
                .insert(b"name".to_vec(), "dir")
                .insert(b"name.utf-8".to_vec(), "dirU")
                .insert(b"piece length".to_vec(), PIECE)
                .insert(b"pieces".to_vec(), pieces(30_000))
                .insert(
                    b"files".to_vec(),
                    OwnedValue::from(vec![
                        file(10_000, &["a.bin"]).insert(b"path.utf-8".to_vec(), strs(&["aU.bin"])),
                        file(20_000, &["sub", "b.bin"]),
                    ]),
                ),
        );
    let empty = OwnedValue::dict().insert(
        b"info".to_vec(),
        OwnedValue::dict()
            .insert(b"name".to_vec(), "empty.bin")
            .insert(b"length".to_vec(), 0i64)
            .insert(b"piece length".to_vec(), PIECE)
            .insert(b"pieces".to_vec(), Vec::<u8>::new()),
    );
    let with_empty = OwnedValue::dict().insert(
        b"info".to_vec(),
        OwnedValue::dict()
            .insert(b"name".to_vec(), "zm")
            .insert(b"piece length".to_vec(), PIECE)
            .insert(b"pieces".to_vec(), pieces(100))
            .insert(
                b"files".to_vec(),
                OwnedValue::from(vec![file(0, &["e.bin"]), file(100, &["f.bin"])]),
            ),
    );
    // aria2 takes a `.utf-8` key that is not UTF-8 after all (and
    // percent-encodes it), lists an empty web seed, and shows no date 0.
    let odd = OwnedValue::dict()
        .insert(
            b"url-list".to_vec(),
            strs(&["http://ws.example/x/", "", "ftp://f.example/y"]),
        )
        .insert(b"creation date".to_vec(), 0i64)
        .insert(
            b"info".to_vec(),
            OwnedValue::dict()
                .insert(b"name".to_vec(), "n")
                .insert(b"name.utf-8".to_vec(), &b"\xff"[..])
                .insert(b"piece length".to_vec(), PIECE)
                .insert(b"pieces".to_vec(), pieces(10))
                .insert(
                    b"files".to_vec(),
                    OwnedValue::from(vec![
                        file(5, &["p"]).insert(
                            b"path.utf-8".to_vec(),
                            OwnedValue::from(vec![OwnedValue::from(&b"\xff"[..])]),
                        ),
                        file(5, &["q"]).insert(b"path.utf-8".to_vec(), strs(&["qé"])),
                    ]),
                ),
        );
    // Trackers as aria2 keeps them: stripped, an empty one listed (and
    // `&tr=` in the magnet), one that is not UTF-8 percent-encoded.
    let trackers = OwnedValue::dict()
        .insert(
            b"announce-list".to_vec(),
            OwnedValue::from(vec![
                strs(&["", " http://a.example/1 \t"]),
                OwnedValue::from(vec![OwnedValue::from(&b"http://b.example/\xff"[..])]),
                strs(&["  "]),
            ]),
        )
        .insert(b"info".to_vec(), single("t.bin", 100));
    let blank_announce = OwnedValue::dict()
        .insert(b"announce".to_vec(), " ")
        .insert(b"info".to_vec(), single("t.bin", 100));
    vec![
        ("trackers.torrent", trackers),
        ("blank-announce.torrent", blank_announce),
        ("odd.torrent", odd),
        ("seeds.torrent", with_seeds),
        ("seed.torrent", one_seed),
        ("utf8.torrent", utf8),
        ("empty.torrent", empty),
        ("with-empty.torrent", with_empty),
    ]
}

#[test]
fn torrent_listings_match_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    for (name, t) in torrents() {
        std::fs::write(tmp.path().join(name), encode(&t)).unwrap();
        let ours = run(tmp.path(), &["-S", name]);
        let theirs = run_aria2c(tmp.path(), &["-S", name]);
        ours.expect_code(0);
        theirs.expect_code(0);
        assert_eq!(
            ours.stdout, theirs.stdout,
            "{name}: arietta (left), aria2c (right)"
        );
    }
    // `-T` lists without the heading, as aria2c does.
    let ours = run(tmp.path(), &["-S", "-T", "seeds.torrent"]);
    let theirs = run_aria2c(tmp.path(), &["-S", "-T", "seeds.torrent"]);
    assert_eq!(ours.stdout, theirs.stdout);
    assert!(ours
        .stdout
        .starts_with("*** BitTorrent File Information ***\n"));
    assert!(ours
        .stdout
        .contains("URL List:\n http://ws.example/a/\n http://ws2.example/b\n"));
    assert!(ours
        .stdout
        .contains("Nodes:\n 127.0.0.1:6881\n example.org:1234\n"));
}

/// Names and paths as aria2 takes them: a `/` inside the name or a path
/// element is a directory separator (listed as `/`, percent-encoded once
/// in the magnet link), `\\ : ? * %` stay as they are, a control
/// character percent-encodes the whole element, and a traversal is
/// refused with aria2's errorCode 26 line (exit 0 for `-S`).
#[test]
fn reserved_characters_in_names_match_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    let multi = |name: &str, path: &[&str]| {
        OwnedValue::dict().insert(
            b"info".to_vec(),
            OwnedValue::dict()
                .insert(b"name".to_vec(), name)
                .insert(b"piece length".to_vec(), PIECE)
                .insert(b"pieces".to_vec(), pieces(100))
                .insert(
                    b"files".to_vec(),
                    OwnedValue::from(vec![OwnedValue::dict()
                        .insert(b"length".to_vec(), 100i64)
                        .insert(b"path".to_vec(), strs(path))]),
                ),
        )
    };
    let cases = [
        (
            "s.torrent",
            OwnedValue::dict()
                .insert(b"announce".to_vec(), "http://t.example/a?x=1&y=2")
                .insert(b"info".to_vec(), single("a/b c", 100)),
        ),
        (
            "odd.torrent",
            OwnedValue::dict().insert(
                b"info".to_vec(),
                single("back\\slash:colon*star?q\"<>|%2F..", 100),
            ),
        ),
        (
            "ctl.torrent",
            OwnedValue::dict().insert(b"info".to_vec(), single("ctl\u{1}x", 100)),
        ),
        ("m.torrent", multi("d/ir x", &["sub/x", "f?.bin"])),
        ("slashes.torrent", multi("d", &["/etc", "", "passwd"])),
        ("up.torrent", multi("d", &["a/..", "f"])),
        ("dot.torrent", multi("d", &[".", "f"])),
        (
            "abs.torrent",
            OwnedValue::dict().insert(b"info".to_vec(), single("/abs", 100)),
        ),
    ];
    for (name, t) in cases {
        std::fs::write(tmp.path().join(name), encode(&t)).unwrap();
        let ours = run(tmp.path(), &["-S", name]);
        let theirs = run_aria2c(tmp.path(), &["-S", name]);
        ours.expect_code(0);
        theirs.expect_code(0);
        // The exception line names the source file that threw it.
        let strip = |o: &Outcome| {
            o.stdout
                .lines()
                .map(|l| match (l.strip_prefix("Exception: ["), l.find("] ")) {
                    (Some(_), Some(end)) => format!("Exception: [at]{}", &l[end + 1..]),
                    _ => l.to_owned(),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(&ours),
            strip(&theirs),
            "{name}: arietta (left), aria2c (right)"
        );
    }
    let ours = run(tmp.path(), &["-S", "s.torrent"]);
    assert!(ours.stdout.contains("&dn=a%2Fb%20c&"), "{}", ours.stdout);
    assert!(ours.stdout.contains("  1|./a/b c\n"), "{}", ours.stdout);
    let ours = run(tmp.path(), &["-S", "up.torrent"]);
    assert!(
        ours.stdout
            .contains("errorCode=26 Detected directory traversal directive in d/a/../f"),
        "{}",
        ours.stdout
    );
}

#[test]
fn metalink_listing_and_other_arguments_match_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    std::fs::write(
        tmp.path().join("m.meta4"),
        r#"<?xml version="1.0"?><metalink xmlns="urn:ietf:params:xml:ns:metalink">
<file name="one.bin"><size>1000</size><url>http://h.example/one.bin</url></file>
<file name="sub/two.bin"><size>2000</size><url>two.bin</url></file>
<file name="nosize.bin"><url>http://h.example/x</url></file>
</metalink>"#,
    )
    .unwrap();
    std::fs::write(tmp.path().join("x.txt"), "hello\n").unwrap();
    std::fs::write(tmp.path().join("bad.torrent"), "d4:infod4:name1:ae").unwrap();
    let args = [
        "-S",
        "m.meta4",
        "x.txt",
        "missing.torrent",
        "--select-file=2",
    ];
    let ours = run(tmp.path(), &args);
    let theirs = run_aria2c(tmp.path(), &args);
    ours.expect_code(0);
    theirs.expect_code(0);
    assert_eq!(ours.stdout, theirs.stdout);
    assert!(ours
        .stdout
        .contains("  2|sub/two.bin\n   |1.9KiB (2,000)\n"));

    let ours = run(tmp.path(), &["-S", "-M", "m.meta4"]);
    let theirs = run_aria2c(tmp.path(), &["-S", "-M", "m.meta4"]);
    assert_eq!(ours.stdout, theirs.stdout);

    // A torrent that cannot be read: aria2's exception line, exit 0.
    let ours = run(tmp.path(), &["-S", "bad.torrent"]);
    let theirs = run_aria2c(tmp.path(), &["-S", "bad.torrent"]);
    ours.expect_code(0);
    theirs.expect_code(0);
    for o in [&ours, &theirs] {
        assert!(
            o.stdout.contains("\nException: [") && o.stdout.contains("] errorCode=26 "),
            "{}",
            o.stdout
        );
    }
}

/// Metalink relative URLs against an `xml:base` (document and file), and
/// a Metalink 3 document with a relative URL.
#[test]
fn metalink_bases_match_aria2c() {
    if !require("aria2c") {
        return;
    }
    let tmp = tempdir();
    std::fs::write(
        tmp.path().join("base.meta4"),
        r#"<?xml version="1.0"?><metalink xmlns="urn:ietf:params:xml:ns:metalink" xml:base="http://base.example/dir/">
<file name="one.bin"><size>1000</size><url>one.bin</url></file>
<file name="two.bin" xml:base="http://other.example/x/"><url>../two.bin</url><metaurl mediatype="torrent">t.torrent</metaurl></file>
<file name="three.bin"><size>0</size><url>http://h/three.bin</url></file>
</metalink>"#,
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("v3.metalink"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/"><files>
<file name="a.bin"><size>100</size><resources><url type="http">rel/a.bin</url><url type="ftp">ftp://h/a.bin</url></resources></file>
<file name="d/b.bin"><resources><url type="http">http://h/b.bin</url></resources></file>
</files></metalink>"#,
    )
    .unwrap();
    for name in ["base.meta4", "v3.metalink"] {
        let ours = run(tmp.path(), &["-S", name]);
        let theirs = run_aria2c(tmp.path(), &["-S", name]);
        ours.expect_code(0);
        theirs.expect_code(0);
        assert_eq!(
            ours.stdout, theirs.stdout,
            "{name}: arietta (left), aria2c (right)"
        );
    }
}
