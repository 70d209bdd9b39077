//! Metalink end to end: `-M` documents (v4 and v3) fetched from several
//! test servers as mirrors and verified by hash, piece hashes catching a
//! mirror that serves corrupted bytes, `--follow-metalink` from HTTP,
//! Metalink/HTTP `Link`/`Digest` headers, hostile documents, and `-P`.

use arietta_testserver::{pattern, Route, TestServer};

use crate::support;
use crate::support::{assert_file_eq, exit, list_dir, run, sha256_hex, tempdir};

const PIECE: usize = 256 << 10;

fn piece_hashes(body: &[u8]) -> String {
    let mut x = format!("<pieces length=\"{PIECE}\" type=\"sha-256\">");
    for c in body.chunks(PIECE) {
        x.push_str(&format!("<hash>{}</hash>", sha256_hex(c)));
    }
    x.push_str("</pieces>");
    x
}

/// A v4 document for one file with the given mirrors and whole-file hash.
fn meta4(name: &str, body: &[u8], urls: &[String], hash: &str, pieces: bool) -> String {
    let urls: String = urls
        .iter()
        .map(|u| format!("<url>{}</url>", xml_escape(u)))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="{name}">
    <size>{}</size>
    <hash type="sha-256">{hash}</hash>
    {}
    {urls}
  </file>
</metalink>"#,
        body.len(),
        if pieces {
            piece_hashes(body)
        } else {
            String::new()
        },
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// A copy of `body` with one byte flipped in every piece: any piece this
/// mirror contributes to fails its hash.
fn corrupted(body: &[u8]) -> Vec<u8> {
    let mut bad = body.to_vec();
    for i in (100..bad.len()).step_by(PIECE) {
        bad[i] ^= 0xff;
    }
    bad
}

#[test]
fn v4_two_mirrors_both_serve_and_the_hash_verifies() {
    let (a, b) = (TestServer::start(), TestServer::start());
    let body = pattern(8 << 20, 11);
    let ua = a.add_file("/f.bin", body.clone());
    let ub = b.add_file("/f.bin", body.clone());
    let tmp = tempdir();
    let doc = meta4("f.bin", &body, &[ua, ub], &sha256_hex(&body), true);
    std::fs::write(tmp.path().join("f.meta4"), doc).unwrap();
    run(
        tmp.path(),
        &["-M", "f.meta4", "-d", "out", "-x4", "-s4", "-k1M"],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("out/f.bin"), &body);
    assert!(a.bytes_served("/f.bin") > 0, "mirror A served nothing");
    assert!(b.bytes_served("/f.bin") > 0, "mirror B served nothing");
    assert_eq!(list_dir(&tmp.path().join("out")), ["f.bin"]);
}

#[test]
fn corrupted_mirror_is_caught_by_piece_hashes_and_refetched() {
    let (good, bad) = (TestServer::start(), TestServer::start());
    let body = pattern(8 << 20, 12);
    let ug = good.add_file("/f.bin", body.clone());
    let ub = bad.add_file("/f.bin", corrupted(&body));
    let tmp = tempdir();
    let doc = meta4("f.bin", &body, &[ug, ub], &sha256_hex(&body), true);
    std::fs::write(tmp.path().join("f.meta4"), doc).unwrap();
    let out = run(
        tmp.path(),
        &["-M", "f.meta4", "-d", "out", "-x4", "-s4", "-k1M"],
    );
    out.expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("out/f.bin"), &body);
    assert!(
        bad.bytes_served("/f.bin") > 0,
        "the bad mirror was never used"
    );
    assert!(
        out.output().contains("chunk checksum"),
        "no piece-hash notice:\n{}",
        out.output()
    );
    // The good mirror re-fetched what the bad one broke.
    assert!(good.bytes_served("/f.bin") > 4 << 20);
}

#[test]
fn lone_corrupting_mirror_fails_with_checksum_error() {
    let bad = TestServer::start();
    let body = pattern(1 << 20, 13);
    let ub = bad.add_file("/f.bin", corrupted(&body));
    let tmp = tempdir();
    let doc = meta4("f.bin", &body, &[ub], &sha256_hex(&body), true);
    std::fs::write(tmp.path().join("f.meta4"), doc).unwrap();
    let out = run(tmp.path(), &["-M", "f.meta4", "--max-tries=2"]);
    out.expect_code(exit::CHECKSUM);
}

#[test]
fn wrong_whole_file_hash_exits_32_and_keeps_the_file() {
    let srv = TestServer::start();
    let body = pattern(300_000, 14);
    let url = srv.add_file("/f.bin", body.clone());
    let tmp = tempdir();
    let wrong = sha256_hex(b"something else");
    std::fs::write(
        tmp.path().join("f.meta4"),
        meta4("f.bin", &body, &[url], &wrong, false),
    )
    .unwrap();
    run(tmp.path(), &["-M", "f.meta4"]).expect_code(exit::CHECKSUM);
    assert_file_eq(&tmp.path().join("f.bin"), &body);
}

#[test]
fn v3_document_downloads_and_saves_the_signature() {
    let srv = TestServer::start();
    let body = pattern(200_000, 15);
    let url = srv.add_file("/v3.bin", body.clone());
    let tmp = tempdir();
    let doc = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/">
  <files>
    <file name="v3.bin">
      <size>{}</size>
      <verification>
        <hash type="sha256">{}</hash>
        <signature type="pgp">-----BEGIN PGP SIGNATURE-----</signature>
      </verification>
      <resources>
        <url type="http" preference="100">{}</url>
        <url type="ftp" preference="10">ftp://127.0.0.1:1/v3.bin</url>
      </resources>
    </file>
  </files>
</metalink>"#,
        body.len(),
        sha256_hex(&body),
        xml_escape(&url)
    );
    std::fs::write(tmp.path().join("v3.metalink"), doc).unwrap();
    // A local metalink path given in place of a URI works like -M.
    run(tmp.path(), &["v3.metalink", "-d", "out"]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("out/v3.bin"), &body);
    let sig = std::fs::read_to_string(tmp.path().join("out/v3.bin.sig")).unwrap();
    assert!(sig.contains("BEGIN PGP SIGNATURE"));
}

#[test]
fn relative_urls_use_metalink_base_uri() {
    let srv = TestServer::start();
    let body = pattern(100_000, 16);
    srv.add_file("/dir/rel.bin", body.clone());
    let tmp = tempdir();
    let doc = meta4(
        "sub/rel.bin",
        &body,
        &["rel.bin".into()],
        &sha256_hex(&body),
        false,
    );
    std::fs::write(tmp.path().join("r.meta4"), doc).unwrap();
    let base = srv.url("/dir/");
    run(
        tmp.path(),
        &["-M", "r.meta4", &format!("--metalink-base-uri={base}")],
    )
    .expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("sub/rel.bin"), &body);
}

#[test]
fn follow_metalink_from_http_resolves_relative_urls() {
    let srv = TestServer::start();
    let body = pattern(150_000, 17);
    srv.add_file("/pub/data.bin", body.clone());
    let doc = meta4(
        "data.bin",
        &body,
        &["data.bin".into()],
        &sha256_hex(&body),
        false,
    );
    srv.add_route(
        "/pub/get",
        Route::new(doc.into_bytes()).content_type("application/metalink4+xml"),
    );
    let tmp = tempdir();
    run(tmp.path(), &[&srv.url("/pub/get")]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("data.bin"), &body);
    assert!(
        tmp.path().join("get").exists(),
        "the metalink itself is saved"
    );

    let tmp = tempdir();
    run(tmp.path(), &["--follow-metalink=mem", &srv.url("/pub/get")]).expect_code(exit::OK);
    assert_eq!(list_dir(tmp.path()), ["data.bin"], "mem: not saved");

    let tmp = tempdir();
    run(
        tmp.path(),
        &["--follow-metalink=false", &srv.url("/pub/get")],
    )
    .expect_code(exit::OK);
    assert_eq!(list_dir(tmp.path()), ["get"], "false: a plain download");

    // A response that claims to be a metalink but is not one.
    srv.add_route(
        "/pub/bad.meta4",
        Route::new(&b"<html>not a metalink</html>"[..]),
    );
    let tmp = tempdir();
    let out = run(tmp.path(), &[&srv.url("/pub/bad.meta4")]);
    assert_eq!(out.expect_failure(), 20, "{}", out.output());
    assert!(list_dir(tmp.path()).is_empty());
}

#[test]
fn metalink_http_link_and_digest_headers() {
    let (a, b) = (TestServer::start(), TestServer::start());
    let body = pattern(8 << 20, 18);
    let ub = b.add_file("/f.bin", body.clone());
    let digest = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(&body);
        base64_encode(&d)
    };
    a.add_route(
        "/f.bin",
        Route::new(body.clone())
            .header("Link", &format!("<{ub}>; rel=duplicate; pri=1"))
            .header("Digest", &format!("SHA-256={digest}")),
    );
    let tmp = tempdir();
    run(tmp.path(), &["-x4", "-s4", "-k1M", &a.url("/f.bin")]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("f.bin"), &body);
    assert!(b.bytes_served("/f.bin") > 0, "the Link mirror was not used");

    // A Digest that does not match fails the download like --checksum.
    a.add_route(
        "/g.bin",
        Route::new(body.clone()).header("Digest", &format!("SHA-256={}", base64_encode(&[0; 32]))),
    );
    run(tmp.path(), &[&a.url("/g.bin")]).expect_code(exit::CHECKSUM);
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn entity_bomb_is_refused_and_nothing_is_written() {
    let srv = TestServer::start();
    let url = srv.add_file("/f.bin", pattern(1000, 19));
    let tmp = tempdir();
    let bomb = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="&lol3;"><url>{url}</url></file>
</metalink>"#
    );
    std::fs::write(tmp.path().join("bomb.meta4"), bomb).unwrap();
    let out = run(tmp.path(), &["-M", "bomb.meta4", "-d", "out"]);
    assert_eq!(out.expect_failure(), 20, "{}", out.output());
    assert!(out.stderr.contains("metalink"), "{}", out.stderr);
    assert!(!tmp.path().join("out").exists());
    assert_eq!(srv.total_bytes_served(), 0);
}

#[test]
fn huge_metalink_is_refused() {
    let tmp = tempdir();
    let mut doc =
        String::from(r#"<?xml version="1.0"?><metalink xmlns="urn:ietf:params:xml:ns:metalink">"#);
    let mut i = 0;
    while doc.len() < 5 << 20 {
        doc.push_str(&format!(
            "<file name=\"f{i}\"><url>http://127.0.0.1:1/f{i}</url></file>"
        ));
        i += 1;
    }
    doc.push_str("</metalink>");
    std::fs::write(tmp.path().join("huge.meta4"), doc).unwrap();
    let out = run(tmp.path(), &["-M", "huge.meta4", "-d", "out"]);
    assert_eq!(out.expect_failure(), 20, "{}", out.output());
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn show_files_lists_and_select_file_picks() {
    let srv = TestServer::start();
    let (b1, b2) = (pattern(1000, 20), pattern(2000, 21));
    let u1 = srv.add_file("/one.bin", b1.clone());
    let u2 = srv.add_file("/two.bin", b2.clone());
    let doc = format!(
        r#"<?xml version="1.0"?><metalink xmlns="urn:ietf:params:xml:ns:metalink">
<file name="one.bin"><size>1000</size><url>{u1}</url></file>
<file name="two.bin"><size>2000</size><url>{u2}</url></file>
</metalink>"#
    );
    let tmp = tempdir();
    std::fs::write(tmp.path().join("m.meta4"), doc).unwrap();
    let out = run(tmp.path(), &["-S", "-M", "m.meta4"]);
    out.expect_code(exit::OK);
    assert!(out.stdout.contains("idx|path/length"), "{}", out.stdout);
    assert!(
        out.stdout.contains("  1|one.bin\n   |0.9KiB (1,000)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  2|"), "{}", out.stdout);
    assert!(out.stdout.contains("(2,000)"), "{}", out.stdout);
    assert_eq!(srv.total_bytes_served(), 0);

    run(tmp.path(), &["-M", "m.meta4", "--select-file=2", "-d", "o"]).expect_code(exit::OK);
    assert_eq!(list_dir(&tmp.path().join("o")), ["two.bin"]);
    assert_file_eq(&tmp.path().join("o/two.bin"), &b2);
}

#[test]
fn parameterized_uris_become_mirrors_or_separate_downloads() {
    let (a, b) = (TestServer::start(), TestServer::start());
    let body = pattern(4 << 20, 22);
    a.add_file("/p.bin", body.clone());
    b.add_file("/p.bin", body.clone());
    let tmp = tempdir();
    let pat = format!("http://127.0.0.1:{{{},{}}}/p.bin", a.port(), b.port());
    run(tmp.path(), &["-P", "-x2", "-s2", "-k1M", &pat]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("p.bin"), &body);
    assert!(a.bytes_served("/p.bin") > 0 && b.bytes_served("/p.bin") > 0);

    for i in 1..=3 {
        a.add_file(&format!("/img{i:02}.png"), pattern(1000 + i, i as u64));
    }
    let tmp = tempdir();
    let pat = format!("http://127.0.0.1:{}/img[01-03].png", a.port());
    run(tmp.path(), &["-P", "-Z", &pat]).expect_code(exit::OK);
    assert_eq!(
        list_dir(tmp.path()),
        ["img01.png", "img02.png", "img03.png"]
    );
    // -P applies to input-file URIs too.
    let tmp = tempdir();
    std::fs::write(
        tmp.path().join("list.txt"),
        format!(
            "http://127.0.0.1:{{{},{}}}/p.bin\n  out=from-list.bin\n",
            a.port(),
            b.port()
        ),
    )
    .unwrap();
    run(tmp.path(), &["-P", "-i", "list.txt"]).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("from-list.bin"), &body);

    let out = run(tmp.path(), &["-P", "http://h/{a,b"]);
    assert_eq!(out.expect_failure(), 1, "{}", out.output());
}

#[test]
fn metalink_from_standard_input() {
    use std::io::Write;
    let srv = TestServer::start();
    let body = pattern(70_000, 23);
    let url = srv.add_file("/in.bin", body.clone());
    let tmp = tempdir();
    let doc = meta4("in.bin", &body, &[url], &sha256_hex(&body), false);
    let mut child = support::command(tmp.path())
        .args(["--no-conf", "-M", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.as_bytes())
        .unwrap();
    support::wait_with_timeout(child, support::DEFAULT_TIMEOUT).expect_code(exit::OK);
    assert_file_eq(&tmp.path().join("in.bin"), &body);
}

#[test]
fn server_length_other_than_the_declared_size_fails() {
    let srv = TestServer::start();
    let body = pattern(5000, 24);
    let url = srv.add_file("/s.bin", body.clone());
    let tmp = tempdir();
    let doc = meta4("s.bin", &body[..4000], &[url], &sha256_hex(&body), false);
    std::fs::write(tmp.path().join("s.meta4"), doc).unwrap();
    let out = run(tmp.path(), &["-M", "s.meta4"]);
    out.expect_failure();
    assert!(out.output().contains("4000"), "{}", out.output());
}

#[test]
fn huge_metalink_over_http_is_refused() {
    let srv = TestServer::start();
    let mut doc =
        String::from(r#"<?xml version="1.0"?><metalink xmlns="urn:ietf:params:xml:ns:metalink">"#);
    while doc.len() < 5 << 20 {
        doc.push_str("<!-- padding padding padding padding padding padding -->");
    }
    doc.push_str("</metalink>");
    srv.add_route(
        "/huge",
        Route::new(doc.into_bytes()).content_type("application/metalink4+xml"),
    );
    let tmp = tempdir();
    let out = run(tmp.path(), &[&srv.url("/huge")]);
    assert_eq!(out.expect_failure(), 20, "{}", out.output());
    assert!(list_dir(tmp.path()).is_empty());
}

/// A metalink's file is named before any answer, so a file whose only
/// mirror answers 404 is reported by its path, as aria2c does ("Download
/// GID#… not complete: DIR/NAME" and the results row); one that arrives
/// says "Verification finished successfully" after its hash matched.
#[test]
fn failed_metalink_file_is_reported_by_its_path() {
    let srv = TestServer::start();
    let body = pattern(50_000, 3);
    let good = srv.add_file("/good.bin", body.clone());
    let tmp = tempdir();
    let doc = meta4("good.bin", &body, &[good], &sha256_hex(&body), false).replace(
        "</metalink>",
        &format!(
            "<file name=\"gone.bin\"><size>10</size><url>{}</url></file></metalink>",
            srv.url("/gone.bin")
        ),
    );
    std::fs::write(tmp.path().join("m.meta4"), doc).unwrap();
    let out = run(tmp.path(), &["-M", "m.meta4"]);
    out.expect_code(exit::NOT_FOUND);
    let dir = tmp.path().display().to_string();
    assert!(
        out.stdout
            .contains(&format!("not complete: {dir}/gone.bin")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("|ERR ") && l.ends_with(&format!("|{dir}/gone.bin"))),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "Verification finished successfully. file={dir}/good.bin"
        )),
        "{}",
        out.stdout
    );
}
