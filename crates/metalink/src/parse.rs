//! XML → [`Metalink`] for both dialects.
//!
//! roxmltree refuses any DTD (so entity-expansion bombs never expand) and
//! caps the node count; we add a byte limit in front. Elements are matched
//! by namespace *and* local name, so a v4 document's foreign extensions are
//! ignored rather than misread.

use roxmltree::{Document, Node, ParsingOptions};

use crate::document::{FileEntry, MetaUrl, Metalink, MetalinkVersion, Resource, Signature};
use crate::error::Error;
use crate::hash::{Checksum, HashAlgo, PieceHashes};
use crate::name::sanitize_file_name;
use crate::selection::LOWEST_PRIORITY;

const NS_V4: &str = "urn:ietf:params:xml:ns:metalink";
const NS_V3: &str = "http://www.metalinker.org/";

/// Bounds on what [`parse_with_limits`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Documents larger than this are refused unread. Real metalinks with
    /// piece hashes for multi-GiB files stay well under 4 MiB.
    pub max_input_bytes: usize,
    /// Cap on XML nodes (elements, text, attributes' owners), bounding memory.
    pub max_nodes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 4 * 1024 * 1024,
            max_nodes: 200_000,
        }
    }
}

/// Parses a metalink v3 or v4 document with the default [`Limits`].
pub fn parse(input: &[u8]) -> Result<Metalink, Error> {
    parse_with_limits(input, &Limits::default())
}

/// Parses a metalink v3 or v4 document.
///
/// URIs are kept as written; call [`Metalink::resolve`] to make relative ones
/// absolute. Files with unsafe names are listed in
/// [`Metalink::rejected_names`] instead of `files`; it is an error only if no
/// file is left.
pub fn parse_with_limits(input: &[u8], limits: &Limits) -> Result<Metalink, Error> {
    if input.len() > limits.max_input_bytes {
        return Err(Error::TooLarge {
            size: input.len(),
            limit: limits.max_input_bytes,
        });
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|_| Error::NotUtf8)?;
    let opts = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..Default::default()
    };
    let doc = Document::parse_with_options(text, opts).map_err(|e| Error::Xml(e.to_string()))?;
    let root = doc.root_element();
    let ns = root.tag_name().namespace();
    let name = root.tag_name().name();
    let metalink = match (ns, name) {
        (Some(NS_V4), "metalink") => parse_v4(root),
        (Some(NS_V3), "metalink") => parse_v3(root),
        _ => return Err(Error::NotMetalink(name.to_string())),
    };
    if metalink.files.is_empty() {
        return Err(Error::NoFiles);
    }
    Ok(metalink)
}

fn children<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
    })
}

fn child<'a, 'i>(node: Node<'a, 'i>, ns: &'a str, name: &'a str) -> Option<Node<'a, 'i>> {
    children(node, ns, name).next()
}

/// Trimmed text content; `None` when empty.
fn text_of(node: Node) -> Option<String> {
    let mut s = String::new();
    for t in node.children().filter(|c| c.is_text()) {
        s.push_str(t.text().unwrap_or(""));
    }
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn child_text(node: Node, ns: &str, name: &str) -> Option<String> {
    child(node, ns, name).and_then(text_of)
}

fn parse_u64(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

/// Applies the common file-level checks and pushes the file or its name.
fn finish_file(out: &mut Metalink, raw_name: Option<&str>, mut entry: FileEntry) {
    let Some(name) = raw_name.and_then(sanitize_file_name) else {
        out.rejected_names.push(raw_name.unwrap_or("").to_string());
        return;
    };
    // Two entries writing one path would corrupt each other; RFC 5854
    // requires unique names, so the later one is refused.
    if out.files.iter().any(|f| f.name == name) {
        out.rejected_names.push(name.to_string());
        return;
    }
    entry.name = name.to_string();
    if let Some(size) = entry.size {
        entry.pieces.retain(|p| p.fits_size(size));
    }
    out.files.push(entry);
}

fn parse_hash(node: Node) -> Option<Checksum> {
    let algo = HashAlgo::from_name(node.attribute("type")?)?;
    Checksum::from_hex(algo, &text_of(node)?)
}

/// `<pieces length= type=>` with `<hash>` children. A list with any bad
/// entry is dropped whole: a hole would shift every later piece.
fn parse_pieces(node: Node, ns: &str, v3: bool) -> Option<PieceHashes> {
    let algo = HashAlgo::from_name(node.attribute("type")?)?;
    let length = parse_u64(node.attribute("length")?).filter(|&l| l > 0)?;
    let mut indexed: Vec<(u64, Vec<u8>)> = Vec::new();
    for (pos, h) in children(node, ns, "hash").enumerate() {
        let digest = Checksum::from_hex(algo, &text_of(h)?)?.digest;
        let index = if v3 {
            match h.attribute("piece") {
                Some(p) => parse_u64(p)?,
                None => u64::try_from(pos).ok()?,
            }
        } else {
            u64::try_from(pos).ok()?
        };
        indexed.push((index, digest));
    }
    if indexed.is_empty() {
        return None;
    }
    indexed.sort_by_key(|(i, _)| *i);
    let contiguous = indexed
        .iter()
        .enumerate()
        .all(|(pos, (i, _))| u64::try_from(pos).is_ok_and(|p| p == *i));
    contiguous.then(|| PieceHashes {
        algo,
        length,
        hashes: indexed.into_iter().map(|(_, d)| d).collect(),
    })
}

fn location_of(node: Node) -> Option<String> {
    node.attribute("location")
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty())
}

fn v4_priority(node: Node) -> u32 {
    node.attribute("priority")
        .and_then(parse_u64)
        .map_or(LOWEST_PRIORITY, |p| {
            p.clamp(1, u64::from(LOWEST_PRIORITY)) as u32
        })
}

fn parse_v4(root: Node) -> Metalink {
    let ns = NS_V4;
    let mut out = Metalink {
        version: MetalinkVersion::V4,
        files: Vec::new(),
        rejected_names: Vec::new(),
        origin: child_text(root, ns, "origin"),
    };
    for file in children(root, ns, "file") {
        let mut e = FileEntry {
            size: child_text(file, ns, "size").as_deref().and_then(parse_u64),
            identity: child_text(file, ns, "identity"),
            version: child_text(file, ns, "version"),
            description: child_text(file, ns, "description"),
            languages: children(file, ns, "language").filter_map(text_of).collect(),
            oses: children(file, ns, "os").filter_map(text_of).collect(),
            hashes: children(file, ns, "hash").filter_map(parse_hash).collect(),
            pieces: children(file, ns, "pieces")
                .filter_map(|p| parse_pieces(p, ns, false))
                .collect(),
            ..FileEntry::default()
        };
        for u in children(file, ns, "url") {
            let Some(uri) = text_of(u) else { continue };
            e.resources.push(Resource {
                uri,
                location: location_of(u),
                priority: v4_priority(u),
                max_connections: None,
            });
        }
        for m in children(file, ns, "metaurl") {
            let (Some(uri), Some(mediatype)) = (text_of(m), m.attribute("mediatype")) else {
                continue;
            };
            e.metaurls.push(MetaUrl {
                uri,
                mediatype: mediatype.trim().to_string(),
                priority: v4_priority(m),
                name: m
                    .attribute("name")
                    .and_then(sanitize_file_name)
                    .map(str::to_string),
            });
        }
        e.signature = child(file, ns, "signature").and_then(|s| {
            Some(Signature {
                mediatype: s
                    .attribute("mediatype")
                    .unwrap_or("application/pgp-signature")
                    .to_string(),
                body: text_of(s)?,
            })
        });
        finish_file(&mut out, file.attribute("name"), e);
    }
    out
}

fn parse_v3(root: Node) -> Metalink {
    let ns = NS_V3;
    let mut out = Metalink {
        version: MetalinkVersion::V3,
        files: Vec::new(),
        rejected_names: Vec::new(),
        origin: root.attribute("origin").map(str::to_string),
    };
    let Some(files) = child(root, ns, "files") else {
        return out;
    };
    for file in children(files, ns, "file") {
        let mut e = FileEntry {
            size: child_text(file, ns, "size").as_deref().and_then(parse_u64),
            identity: child_text(file, ns, "identity"),
            version: child_text(file, ns, "version"),
            description: child_text(file, ns, "description"),
            languages: children(file, ns, "language").filter_map(text_of).collect(),
            oses: children(file, ns, "os").filter_map(text_of).collect(),
            ..FileEntry::default()
        };
        if let Some(ver) = child(file, ns, "verification") {
            e.hashes = children(ver, ns, "hash").filter_map(parse_hash).collect();
            e.pieces = children(ver, ns, "pieces")
                .filter_map(|p| parse_pieces(p, ns, true))
                .collect();
            e.signature = child(ver, ns, "signature").and_then(|s| {
                let kind = s.attribute("type").unwrap_or("pgp");
                let mediatype = if kind.eq_ignore_ascii_case("pgp") {
                    "application/pgp-signature".to_string()
                } else {
                    kind.to_string()
                };
                Some(Signature {
                    mediatype,
                    body: text_of(s)?,
                })
            });
        }
        let resources = children(file, ns, "resources");
        for u in resources.flat_map(|r| children(r, ns, "url")) {
            let Some(uri) = text_of(u) else { continue };
            // aria2: priority = 101 - preference; absent → lowest.
            let priority = u
                .attribute("preference")
                .and_then(parse_u64)
                .map_or(LOWEST_PRIORITY, |p| (101 - p.min(100)) as u32);
            let kind = u.attribute("type").map(str::to_ascii_lowercase);
            if kind.as_deref() == Some("bittorrent") {
                e.metaurls.push(MetaUrl {
                    uri,
                    mediatype: "torrent".into(),
                    priority,
                    name: None,
                });
                continue;
            }
            e.resources.push(Resource {
                uri,
                location: location_of(u),
                priority,
                max_connections: u
                    .attribute("maxconnections")
                    .and_then(|m| m.trim().parse::<u32>().ok())
                    .filter(|&m| m > 0),
            });
        }
        finish_file(&mut out, file.attribute("name"), e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::{PreferredProtocol, SelectionOptions};
    use url::Url;

    const SHA1_ABC: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";
    const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const MD5_ABC: &str = "900150983cd24fb0d6963f7d28e17f72";

    fn v4_doc() -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink" xmlns:x="urn:example:ext">
  <published>2009-05-15T12:23:23Z</published>
  <origin dynamic="true">http://example.com/example.meta4</origin>
  <file name="example.ext">
    <size>5</size>
    <identity>Example</identity>
    <version>1.0</version>
    <language>en</language>
    <language>de</language>
    <os>Linux-x86</os>
    <description>A description of the example file for download.</description>
    <hash type="md5">{MD5_ABC}</hash>
    <hash type="sha-256">{SHA256_ABC}</hash>
    <hash type="sha-1">{SHA1_ABC}</hash>
    <hash type="sha-1">tooshort</hash>
    <pieces length="2" type="sha-1">
      <hash>{SHA1_ABC}</hash>
      <hash>{SHA1_ABC}</hash>
      <hash>{SHA1_ABC}</hash>
    </pieces>
    <pieces length="1" type="sha-256">
      <hash>{SHA256_ABC}</hash>
    </pieces>
    <url location="de" priority="1">ftp://ftp.example.com/example.ext</url>
    <url location="fr" priority="1">http://example.com/example.ext</url>
    <url priority="5">mirror/example.ext</url>
    <url location="jp" priority="3">https://jp.example.com/example.ext</url>
    <url location="jp" priority="4">http://jp.example.com/example.ext</url>
    <url priority="2">rsync://example.com/example.ext</url>
    <x:url>http://ignored.example/</x:url>
    <metaurl mediatype="torrent" priority="2" name="dir/example.ext">http://example.com/example.ext.torrent</metaurl>
    <signature mediatype="application/pgp-signature">-----BEGIN PGP SIGNATURE-----
sig
-----END PGP SIGNATURE-----</signature>
  </file>
  <file name="other.ext">
    <version>2.0</version>
    <os>Windows</os>
    <url>http://example.com/other.ext</url>
    <metaurl mediatype="torrent" name="other.ext">http://example.com/example.ext.torrent</metaurl>
  </file>
  <file name="../../etc/passwd"><url>http://evil/</url></file>
  <file><url>http://nameless/</url></file>
</metalink>"#
        )
    }

    fn v3_doc() -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" origin="http://example.org/a.metalink" type="static">
  <publisher><name>Example</name><url>http://example.org</url></publisher>
  <files>
    <file name="aria2-1.0.tar.bz2">
      <identity>aria2</identity>
      <version>1.0</version>
      <language>en-US</language>
      <os>Linux-x86</os>
      <size>5</size>
      <verification>
        <hash type="md5">{MD5_ABC}</hash>
        <hash type="sha1">{SHA1_ABC}</hash>
        <pieces length="2" type="sha1">
          <hash piece="2">{SHA1_ABC}</hash>
          <hash piece="0">{SHA1_ABC}</hash>
          <hash piece="1">{SHA1_ABC}</hash>
        </pieces>
        <signature type="pgp" file="aria2.sig">SIG</signature>
      </verification>
      <resources maxconnections="5">
        <url type="ftp" location="jp" preference="90" maxconnections="2">ftp://ftp.jp.example.org/aria2.tar.bz2</url>
        <url type="http" location="us" preference="100">http://us.example.org/aria2.tar.bz2</url>
        <url type="http">http://nopref.example.org/aria2.tar.bz2</url>
        <url type="bittorrent" preference="100">http://example.org/aria2.torrent</url>
      </resources>
    </file>
  </files>
</metalink>"#
        )
    }

    #[test]
    fn v4_document() {
        let m = parse(v4_doc().as_bytes()).unwrap();
        assert_eq!(m.version, MetalinkVersion::V4);
        assert_eq!(
            m.origin.as_deref(),
            Some("http://example.com/example.meta4")
        );
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.rejected_names, ["../../etc/passwd", ""]);
        let f = &m.files[0];
        assert_eq!(f.name, "example.ext");
        assert_eq!(f.size, Some(5));
        assert_eq!(f.identity.as_deref(), Some("Example"));
        assert_eq!(f.languages, ["en", "de"]);
        assert_eq!(f.oses, ["Linux-x86"]);
        assert_eq!(f.hashes.len(), 3, "bad-length hash dropped");
        let best = f.strongest_hash().unwrap();
        assert_eq!(best.algo, HashAlgo::Sha256);
        assert!(best.matches(b"abc"));
        // The 1-byte sha-256 list has 1 piece for a 5-byte file: dropped.
        assert_eq!(f.pieces.len(), 1);
        assert_eq!(f.strongest_pieces().unwrap().algo, HashAlgo::Sha1);
        assert_eq!(f.resources.len(), 6, "foreign-namespace url ignored");
        assert_eq!(f.resources[0].location.as_deref(), Some("de"));
        assert_eq!(f.metaurls[0].name.as_deref(), Some("dir/example.ext"));
        assert!(f.signature.as_ref().unwrap().body.contains("sig"));
        assert_eq!(m.files[1].resources[0].priority, LOWEST_PRIORITY);
    }

    #[test]
    fn v3_document() {
        let m = parse(v3_doc().as_bytes()).unwrap();
        assert_eq!(m.version, MetalinkVersion::V3);
        let f = &m.files[0];
        assert_eq!(f.name, "aria2-1.0.tar.bz2");
        assert_eq!(f.strongest_hash().unwrap().algo, HashAlgo::Sha1);
        assert_eq!(f.pieces[0].hashes.len(), 3);
        assert_eq!(
            f.signature.as_ref().unwrap().mediatype,
            "application/pgp-signature"
        );
        assert_eq!(f.resources.len(), 3);
        assert_eq!(f.resources[0].priority, 11);
        assert_eq!(f.resources[0].max_connections, Some(2));
        assert_eq!(f.resources[1].priority, 1);
        assert_eq!(f.resources[2].priority, LOWEST_PRIORITY);
        assert_eq!(f.ordered_torrents(), ["http://example.org/aria2.torrent"]);
        let order = f.ordered_uris(&SelectionOptions::default());
        assert_eq!(order[0], "http://us.example.org/aria2.tar.bz2");
        assert_eq!(order[1], "ftp://ftp.jp.example.org/aria2.tar.bz2");
        let jp = SelectionOptions {
            locations: vec!["jp".into()],
            ..Default::default()
        };
        assert_eq!(
            f.ordered_uris(&jp)[0],
            "ftp://ftp.jp.example.org/aria2.tar.bz2"
        );
    }

    #[test]
    fn ordering_options() {
        let mut m = parse(v4_doc().as_bytes()).unwrap();
        m.resolve(Some(
            &Url::parse("http://base.example/dir/list.meta4").unwrap(),
        ));
        let f = &m.files[0];
        let plain = f.ordered_uris(&SelectionOptions::default());
        assert_eq!(
            plain,
            [
                "ftp://ftp.example.com/example.ext",
                "http://example.com/example.ext",
                "https://jp.example.com/example.ext",
                "http://jp.example.com/example.ext",
                "http://base.example/dir/mirror/example.ext",
            ],
            "rsync dropped, relative resolved, sorted by priority"
        );
        let opts = SelectionOptions {
            locations: SelectionOptions::parse_locations("JP, us"),
            preferred_protocol: PreferredProtocol::Http,
            ..Default::default()
        };
        // jp+http beats one boost beats none; equal boosts fall back to the
        // document priority (http://example.com has 1, https jp has 3).
        assert_eq!(
            f.ordered_uris(&opts),
            [
                "http://jp.example.com/example.ext",
                "http://example.com/example.ext",
                "https://jp.example.com/example.ext",
                "http://base.example/dir/mirror/example.ext",
                "ftp://ftp.example.com/example.ext",
            ]
        );
        let unique = SelectionOptions {
            unique_protocol: true,
            ..Default::default()
        };
        assert_eq!(
            f.ordered_uris(&unique),
            [
                "ftp://ftp.example.com/example.ext",
                "http://example.com/example.ext",
                "https://jp.example.com/example.ext",
                "http://base.example/dir/mirror/example.ext",
            ],
            "one URI per host: http://jp.example.com dropped"
        );
    }

    #[test]
    fn file_selection_and_torrent_groups() {
        let m = parse(v4_doc().as_bytes()).unwrap();
        let all = SelectionOptions::default();
        assert_eq!(m.select_files(&all).len(), 2);
        let pick = |o: SelectionOptions| -> Vec<String> {
            m.select_files(&o).iter().map(|f| f.name.clone()).collect()
        };
        assert_eq!(
            pick(SelectionOptions {
                os: Some("windows".into()),
                ..Default::default()
            }),
            ["other.ext"]
        );
        assert_eq!(
            pick(SelectionOptions {
                language: Some("de".into()),
                ..Default::default()
            }),
            ["example.ext"]
        );
        assert_eq!(
            pick(SelectionOptions {
                version: Some("1.0".into()),
                ..Default::default()
            }),
            ["example.ext"]
        );
        assert!(pick(SelectionOptions {
            version: Some("3".into()),
            ..Default::default()
        })
        .is_empty());
        let groups = m.torrent_groups();
        assert_eq!(groups.len(), 1);
        assert_eq!(
            groups[0].1,
            [
                (0, "dir/example.ext".to_string()),
                (1, "other.ext".to_string())
            ]
        );
    }

    #[test]
    fn resolve_without_base_drops_relative() {
        let mut m = parse(v4_doc().as_bytes()).unwrap();
        m.resolve(None);
        assert!(m.files[0].resources.iter().all(|r| r.uri.contains("://")));
        assert_eq!(m.files[0].resources.len(), 5);
    }

    #[test]
    fn hostile_documents() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="&lol3;"><url>http://x/</url></file></metalink>"#;
        assert!(matches!(parse(bomb.as_bytes()), Err(Error::Xml(_))));

        let huge = vec![b' '; 5 * 1024 * 1024];
        assert!(matches!(parse(&huge), Err(Error::TooLarge { .. })));

        let mut many = String::from(r#"<metalink xmlns="urn:ietf:params:xml:ns:metalink">"#);
        for i in 0..300 {
            many.push_str(&format!("<file name=\"f{i}\"><url>http://x/</url></file>"));
        }
        many.push_str("</metalink>");
        let tight = Limits {
            max_nodes: 500,
            ..Limits::default()
        };
        assert!(matches!(
            parse_with_limits(many.as_bytes(), &tight),
            Err(Error::Xml(_))
        ));
        assert_eq!(parse(many.as_bytes()).unwrap().files.len(), 300);

        let only_evil = r#"<metalink xmlns="urn:ietf:params:xml:ns:metalink">
            <file name="/etc/shadow"><url>http://x/</url></file>
            <file name="a/../../b"><url>http://x/</url></file></metalink>"#;
        assert_eq!(parse(only_evil.as_bytes()), Err(Error::NoFiles));

        let dup = r#"<metalink xmlns="urn:ietf:params:xml:ns:metalink">
            <file name="a"><url>http://x/1</url></file>
            <file name="a"><url>http://x/2</url></file></metalink>"#;
        let m = parse(dup.as_bytes()).unwrap();
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.rejected_names, ["a"]);

        assert_eq!(parse(b"\xff\xfe<"), Err(Error::NotUtf8));
        assert!(matches!(parse(b"<html/>"), Err(Error::NotMetalink(_))));
        assert!(matches!(parse(b"<metalink/>"), Err(Error::NotMetalink(_))));
        assert!(matches!(
            parse(b"<metalink xmlns='urn:ietf:params:xml:ns:metalink'>"),
            Err(Error::Xml(_))
        ));
        assert_eq!(
            parse(br#"<metalink xmlns="http://www.metalinker.org/"/>"#),
            Err(Error::NoFiles)
        );
    }

    #[test]
    fn odd_but_valid_values() {
        let doc = format!(
            "\u{feff}<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\"><file name=\"f\">\
             <size>18446744073709551616</size>\
             <pieces length=\"0\" type=\"sha-1\"><hash>{SHA1_ABC}</hash></pieces>\
             <pieces length=\"4\" type=\"sha-1\"></pieces>\
             <url priority=\"0\">http://a/</url><url priority=\"99999999999999999999\">http://b/</url>\
             <url priority=\"-3\">http://c/</url><url>  </url>\
             <metaurl>http://no-mediatype/</metaurl>\
             </file></metalink>"
        );
        let m = parse(doc.as_bytes()).unwrap();
        let f = &m.files[0];
        assert_eq!(f.size, None, "overflowing size ignored");
        assert!(f.pieces.is_empty());
        let p: Vec<u32> = f.resources.iter().map(|r| r.priority).collect();
        assert_eq!(p, [1, LOWEST_PRIORITY, LOWEST_PRIORITY]);
        assert!(f.metaurls.is_empty());
    }

    #[test]
    fn v3_piece_gaps_dropped() {
        let doc = format!(
            r#"<metalink xmlns="http://www.metalinker.org/"><files><file name="f"><size>4</size>
            <verification><pieces length="2" type="sha1"><hash piece="0">{SHA1_ABC}</hash><hash piece="2">{SHA1_ABC}</hash></pieces></verification>
            <resources><url type="http" preference="250">http://a/</url></resources></file></files></metalink>"#
        );
        let m = parse(doc.as_bytes()).unwrap();
        assert!(m.files[0].pieces.is_empty());
        assert_eq!(
            m.files[0].resources[0].priority, 1,
            "preference clamped to 100"
        );
    }
}
