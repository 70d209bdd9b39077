//! `.torrent` files: v1 (BEP 3), v2 (BEP 52) and hybrids.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arietta_bencode::{Value, ValueKind};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::error::Error;
use crate::path_sanitize::{decode_text, sanitize_component, sanitize_path};

/// Largest piece length accepted: peer-wire offsets are 32-bit, and nothing
/// sane uses pieces anywhere near this.
const MAX_PIECE_LENGTH: u64 = 1 << 30;

/// One file of the torrent's byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the download directory (the torrent name is the
    /// first component of multi-file torrents, as in aria2). Sanitized: it
    /// is relative, has no `..`, and each component is a single name.
    pub path: PathBuf,
    /// The sanitized components of `path`.
    pub components: Vec<String>,
    /// Size in bytes.
    pub length: u64,
    /// Where the file starts in the torrent's concatenated byte stream
    /// (v2-only torrents align every file to a piece boundary).
    pub offset: u64,
    /// A BEP 47 padding file: never written to disk, never shown.
    pub padding: bool,
    /// BEP 47 `x` attribute.
    pub executable: bool,
    /// BEP 47 `h` attribute.
    pub hidden: bool,
    /// BEP 52 Merkle root of the file (absent for empty files and v1).
    pub pieces_root: Option<[u8; 32]>,
}

/// A parsed `.torrent` (or an info dictionary fetched via ut_metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// Tracker tiers (BEP 12). When only `announce` is given it forms the
    /// single tier, so callers read just this field.
    pub announce_list: Vec<Vec<String>>,
    /// The plain `announce` key as written.
    pub announce: Option<String>,
    /// BEP 19 web seeds (`url-list`, a string or a list).
    pub url_list: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    /// Seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    /// BEP 27: no DHT, PEX or LPD for this torrent.
    pub private: bool,
    /// The sanitized torrent name (`name.utf-8` preferred).
    pub name: String,
    /// Whether files live under a directory named `name`.
    pub multi_file: bool,
    pub piece_length: u64,
    /// Concatenated v1 SHA-1 piece hashes (empty for v2-only torrents).
    pub pieces: Vec<u8>,
    /// Number of pieces in the byte stream.
    pub piece_count: u64,
    /// Files in stream order, padding files included (see [`FileEntry::padding`]).
    pub files: Vec<FileEntry>,
    /// Length of the byte stream, padding included.
    pub total_length: u64,
    /// 1 for v1 torrents, 2 for v2 and hybrid ones.
    pub meta_version: u8,
    /// SHA-1 of the raw `info` bytes; present for v1 and hybrid torrents.
    pub info_hash_v1: Option<[u8; 20]>,
    /// SHA-256 of the raw `info` bytes; present for v2 and hybrid torrents.
    pub info_hash_v2: Option<[u8; 32]>,
    /// BEP 52 piece layers: per file root, the concatenated SHA-256 piece hashes.
    pub piece_layers: BTreeMap<[u8; 32], Vec<u8>>,
    /// The raw `info` dictionary, served to peers over ut_metadata.
    pub info_bytes: Vec<u8>,
}

fn to_u64(v: &Value<'_>, field: &'static str) -> Result<u64, Error> {
    let i = v
        .as_int()
        .ok_or_else(|| Error::invalid(field, "not an integer"))?;
    u64::try_from(i).map_err(|_| Error::invalid(field, "negative"))
}

fn text(v: Option<&Value<'_>>) -> Option<String> {
    v.and_then(Value::as_bytes).map(decode_text)
}

/// `key.utf-8` when present and valid, else `key`.
fn utf8_variant<'v, 'a>(
    dict: &'v Value<'a>,
    key: &'static str,
    utf8_key: &'static str,
) -> Option<&'v Value<'a>> {
    dict.get(utf8_key)
        .filter(|v| v.as_str().is_some())
        .or_else(|| dict.get(key))
}

fn url(v: &Value<'_>) -> Option<String> {
    let s = v.as_str()?.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

impl Metainfo {
    /// Parses a `.torrent` file.
    pub fn parse(bytes: &[u8]) -> Result<Metainfo, Error> {
        let root = arietta_bencode::decode(bytes)?;
        if root.as_dict().is_none() {
            return Err(Error::invalid("torrent", "not a dictionary"));
        }
        let info = root.get("info").ok_or(Error::Missing("info"))?;
        let mut m = Self::from_info_value(info, root.get("piece layers"))?;

        m.announce = root.get("announce").and_then(url);
        if let Some(tiers) = root.get("announce-list").and_then(Value::as_list) {
            for tier in tiers {
                let urls: Vec<String> = match &tier.kind {
                    ValueKind::List(l) => l.iter().filter_map(url).collect(),
                    // Some creators flatten the tiers; treat a string as a tier of one.
                    ValueKind::Bytes(_) => url(tier).into_iter().collect(),
                    _ => Vec::new(),
                };
                if !urls.is_empty() {
                    m.announce_list.push(urls);
                }
            }
        }
        if m.announce_list.is_empty() {
            if let Some(a) = &m.announce {
                m.announce_list.push(vec![a.clone()]);
            }
        }
        match root.get("url-list").map(|v| &v.kind) {
            Some(ValueKind::List(l)) => m.url_list = l.iter().filter_map(url).collect(),
            Some(ValueKind::Bytes(_)) => {
                m.url_list = root.get("url-list").and_then(url).into_iter().collect()
            }
            _ => {}
        }
        m.comment = text(utf8_variant(&root, "comment", "comment.utf-8"));
        m.created_by = text(root.get("created by"));
        m.creation_date = root.get("creation date").and_then(Value::as_int);
        Ok(m)
    }

    /// Parses a bare info dictionary, as received through ut_metadata (BEP 9)
    /// after checking its hash against the magnet link.
    pub fn from_info(info_bytes: &[u8]) -> Result<Metainfo, Error> {
        let info = arietta_bencode::decode(info_bytes)?;
        Self::from_info_value(&info, None)
    }

    fn from_info_value(info: &Value<'_>, layers: Option<&Value<'_>>) -> Result<Metainfo, Error> {
        if info.as_dict().is_none() {
            return Err(Error::invalid("info", "not a dictionary"));
        }
        let meta_version = match info.get("meta version") {
            None => 1,
            Some(v) => match v.as_int() {
                Some(1) => 1,
                Some(2) => 2,
                _ => return Err(Error::invalid("meta version", "unsupported")),
            },
        };
        let piece_length = to_u64(
            info.get("piece length")
                .ok_or(Error::Missing("piece length"))?,
            "piece length",
        )?;
        if piece_length == 0 || piece_length > MAX_PIECE_LENGTH {
            return Err(Error::invalid(
                "piece length",
                format!("{piece_length} out of range"),
            ));
        }
        if meta_version == 2 && (!piece_length.is_power_of_two() || piece_length < 16384) {
            return Err(Error::invalid(
                "piece length",
                "v2 needs a power of two ≥ 16 KiB",
            ));
        }
        let has_v1 = info.get("pieces").is_some();
        let info_hash_v1: Option<[u8; 20]> =
            (meta_version == 1 || has_v1).then(|| Sha1::digest(info.raw).into());
        let info_hash_v2: Option<[u8; 32]> =
            (meta_version == 2).then(|| Sha256::digest(info.raw).into());

        let raw_name = utf8_variant(info, "name", "name.utf-8")
            .and_then(Value::as_bytes)
            .ok_or(Error::Missing("name"))?;
        let name = match sanitize_component(raw_name)? {
            Some(n) => n,
            None => hex::encode(
                info_hash_v1
                    .map(|h| h.to_vec())
                    .or(info_hash_v2.map(|h| h.to_vec()))
                    .unwrap_or_default(),
            ),
        };
        let private = info.get("private").and_then(Value::as_int) == Some(1);

        let mut m = Metainfo {
            announce_list: Vec::new(),
            announce: None,
            url_list: Vec::new(),
            comment: None,
            created_by: None,
            creation_date: None,
            private,
            name,
            multi_file: false,
            piece_length,
            pieces: Vec::new(),
            piece_count: 0,
            files: Vec::new(),
            total_length: 0,
            meta_version,
            info_hash_v1,
            info_hash_v2,
            piece_layers: BTreeMap::new(),
            info_bytes: info.raw.to_vec(),
        };

        let v2_files = if meta_version == 2 {
            let tree = info.get("file tree").ok_or(Error::Missing("file tree"))?;
            let mut files = Vec::new();
            let mut prefix = Vec::new();
            walk_tree(tree, &mut prefix, &mut files)?;
            if files.is_empty() {
                return Err(Error::invalid("file tree", "no files"));
            }
            Some(files)
        } else {
            None
        };

        if has_v1 {
            let pieces = info
                .get("pieces")
                .and_then(Value::as_bytes)
                .ok_or_else(|| Error::invalid("pieces", "not a string"))?;
            if pieces.len() % 20 != 0 {
                return Err(Error::invalid("pieces", "length is not a multiple of 20"));
            }
            m.pieces = pieces.to_vec();
            m.parse_v1_files(info)?;
            let expected = m.total_length.div_ceil(piece_length);
            if expected != (pieces.len() / 20) as u64 {
                return Err(Error::invalid(
                    "pieces",
                    format!("{} hashes for {} pieces", pieces.len() / 20, expected),
                ));
            }
            m.piece_count = expected;
            if let Some(v2) = &v2_files {
                m.check_hybrid(v2)?;
            }
        } else if let Some(v2) = v2_files {
            m.layout_v2(v2)?;
        } else {
            return Err(Error::Missing("pieces"));
        }

        if let (Some(layers), 2) = (layers, meta_version) {
            let dict = layers
                .as_dict()
                .ok_or_else(|| Error::invalid("piece layers", "not a dictionary"))?;
            for (root, hashes) in dict {
                let root: [u8; 32] = (*root)
                    .try_into()
                    .map_err(|_| Error::invalid("piece layers", "root is not 32 bytes"))?;
                let hashes = hashes
                    .as_bytes()
                    .ok_or_else(|| Error::invalid("piece layers", "not a string"))?;
                if hashes.is_empty() || hashes.len() % 32 != 0 {
                    return Err(Error::invalid(
                        "piece layers",
                        "length is not a multiple of 32",
                    ));
                }
                m.piece_layers.insert(root, hashes.to_vec());
            }
        }
        Ok(m)
    }

    fn push_file(
        &mut self,
        components: Vec<String>,
        length: u64,
        attr: &[u8],
        pieces_root: Option<[u8; 32]>,
    ) -> Result<(), Error> {
        let offset = self.total_length;
        self.total_length = offset
            .checked_add(length)
            .filter(|&t| t <= i64::MAX as u64)
            .ok_or_else(|| Error::invalid("length", "total length overflows"))?;
        let path: PathBuf = components.iter().collect();
        self.files.push(FileEntry {
            path,
            components,
            length,
            offset,
            padding: attr.contains(&b'p'),
            executable: attr.contains(&b'x'),
            hidden: attr.contains(&b'h'),
            pieces_root,
        });
        Ok(())
    }

    fn parse_v1_files(&mut self, info: &Value<'_>) -> Result<(), Error> {
        let attr = |v: &Value<'_>| {
            v.get("attr")
                .and_then(Value::as_bytes)
                .unwrap_or_default()
                .to_vec()
        };
        if let Some(files) = info.get("files") {
            let files = files
                .as_list()
                .ok_or_else(|| Error::invalid("files", "not a list"))?;
            if files.is_empty() {
                return Err(Error::invalid("files", "empty"));
            }
            self.multi_file = true;
            for f in files {
                let length = to_u64(f.get("length").ok_or(Error::Missing("length"))?, "length")?;
                let path = utf8_variant(f, "path", "path.utf-8")
                    .and_then(Value::as_list)
                    .ok_or(Error::Missing("path"))?;
                let raw: Vec<&[u8]> = path
                    .iter()
                    .map(|c| {
                        c.as_bytes()
                            .ok_or_else(|| Error::invalid("path", "component is not a string"))
                    })
                    .collect::<Result<_, _>>()?;
                let mut components = vec![self.name.clone()];
                components.extend(sanitize_path(raw)?);
                self.push_file(components, length, &attr(f), None)?;
            }
        } else {
            let length = to_u64(
                info.get("length").ok_or(Error::Missing("length"))?,
                "length",
            )?;
            self.push_file(vec![self.name.clone()], length, &attr(info), None)?;
        }
        Ok(())
    }

    /// Lays out a v2-only torrent: each file starts on a piece boundary.
    fn layout_v2(&mut self, files: Vec<TreeFile>) -> Result<(), Error> {
        let single = files.len() == 1 && files.first().is_some_and(|f| f.components.len() == 1);
        self.multi_file = !single;
        let mut pieces: u64 = 0;
        for f in files {
            // Align the stream position to the next piece boundary.
            let aligned = self
                .total_length
                .div_ceil(self.piece_length)
                .saturating_mul(self.piece_length);
            self.total_length = aligned;
            let components = if single {
                f.components
            } else {
                std::iter::once(self.name.clone())
                    .chain(f.components)
                    .collect()
            };
            pieces = pieces.saturating_add(f.length.div_ceil(self.piece_length));
            self.push_file(components, f.length, &f.attr, f.pieces_root)?;
        }
        self.piece_count = pieces;
        Ok(())
    }

    /// BEP 52: the v1 and v2 views of a hybrid must describe the same files.
    fn check_hybrid(&mut self, v2: &[TreeFile]) -> Result<(), Error> {
        let mut real = self.files.iter_mut().filter(|f| !f.padding);
        let prefix = usize::from(self.multi_file);
        for f2 in v2 {
            let f1 = real
                .next()
                .ok_or_else(|| Error::invalid("file tree", "hybrid torrent has more v2 files"))?;
            let v1_components = f1.components.get(prefix..).unwrap_or_default();
            let same_path = if self.multi_file {
                v1_components == f2.components.as_slice()
            } else {
                true
            };
            if !same_path || f1.length != f2.length {
                return Err(Error::invalid(
                    "file tree",
                    "hybrid torrent's v1 and v2 files differ",
                ));
            }
            f1.pieces_root = f2.pieces_root;
        }
        if real.next().is_some() {
            return Err(Error::invalid(
                "file tree",
                "hybrid torrent has more v1 files",
            ));
        }
        Ok(())
    }

    /// Files a user sees: padding excluded. Indexes for `--select-file` and
    /// `-S` count these, 1-based.
    pub fn visible_files(&self) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().filter(|f| !f.padding)
    }

    /// The SHA-1 of v1 piece `index`.
    pub fn piece_hash(&self, index: u64) -> Option<[u8; 20]> {
        let start = usize::try_from(index).ok()?.checked_mul(20)?;
        self.pieces
            .get(start..start.checked_add(20)?)?
            .try_into()
            .ok()
    }

    /// Length of piece `index` (the last one may be short).
    pub fn piece_size(&self, index: u64) -> Option<u64> {
        if index >= self.piece_count {
            return None;
        }
        if self.info_hash_v1.is_none() {
            // v2-only: pieces never span files; find the owning file.
            let mut first = 0u64;
            for f in self.files.iter().filter(|f| f.length > 0) {
                let n = f.length.div_ceil(self.piece_length);
                if index < first + n {
                    let within = index - first;
                    return Some((f.length - within * self.piece_length).min(self.piece_length));
                }
                first += n;
            }
            return None;
        }
        let start = index.checked_mul(self.piece_length)?;
        Some((self.total_length - start).min(self.piece_length))
    }

    /// A magnet link for this torrent in aria2's form.
    pub fn magnet_uri(&self) -> String {
        let mut out = String::from("magnet:?");
        let mut parts = Vec::new();
        if let Some(h) = self.info_hash_v1 {
            parts.push(format!("xt=urn:btih:{}", hex::encode_upper(h)));
        }
        if let Some(h) = self.info_hash_v2 {
            parts.push(format!("xt=urn:btmh:1220{}", hex::encode(h)));
        }
        parts.push(format!(
            "dn={}",
            crate::percent_encode_all(self.name.as_bytes())
        ));
        for url in self.announce_list.iter().flatten() {
            parts.push(format!("tr={}", crate::percent_encode_all(url.as_bytes())));
        }
        out.push_str(&parts.join("&"));
        out
    }
}

/// A file found in a v2 `file tree`, before layout.
#[derive(Debug)]
struct TreeFile {
    components: Vec<String>,
    length: u64,
    attr: Vec<u8>,
    pieces_root: Option<[u8; 32]>,
}

fn walk_tree(
    node: &Value<'_>,
    prefix: &mut Vec<String>,
    out: &mut Vec<TreeFile>,
) -> Result<(), Error> {
    let dict = node
        .as_dict()
        .ok_or_else(|| Error::invalid("file tree", "not a dictionary"))?;
    for (key, child) in dict {
        if key.is_empty() {
            // A leaf: {"": {length, pieces root}} sits under the file's name.
            let length = to_u64(
                child.get("length").ok_or(Error::Missing("length"))?,
                "length",
            )?;
            let pieces_root = match child.get("pieces root").and_then(Value::as_bytes) {
                Some(r) => Some(
                    <[u8; 32]>::try_from(r)
                        .map_err(|_| Error::invalid("pieces root", "not 32 bytes"))?,
                ),
                None if length > 0 => return Err(Error::Missing("pieces root")),
                None => None,
            };
            if prefix.is_empty() {
                return Err(Error::UnsafePath("file without a name".into()));
            }
            let attr = child
                .get("attr")
                .and_then(Value::as_bytes)
                .unwrap_or_default()
                .to_vec();
            out.push(TreeFile {
                components: prefix.clone(),
                length,
                attr,
                pieces_root,
            });
            continue;
        }
        match sanitize_component(key)? {
            Some(c) => {
                prefix.push(c);
                walk_tree(child, prefix, out)?;
                prefix.pop();
            }
            None => walk_tree(child, prefix, out)?,
        }
    }
    Ok(())
}

/// The workspace's one rule for missing peer programs (skip with a reason,
/// fail under `CI=true`), shared by path: this crate cannot depend on the
/// cli's integration tests. Declared out here because a path inside the
/// inline `tests` module would start at `src/torrent/tests/`.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../cli/tests/integration/support/require.rs"]
mod require;

#[cfg(test)]
mod tests {
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
            assert_eq!(
                f.path.components().count(),
                f.components.len(),
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
        assert_eq!(m.url_list, vec!["http://w1/", "http://w2/"]);
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
        for bad in [
            mk(b"x", &[b"..", b"etc"]),
            mk(b"x", &[b"a", b"..", b"..", b"b"]),
            mk(b"..", &[b"f"]),
            mk(b"x", &[]),
            mk(b"x", &[b"", b"."]),
        ] {
            assert!(Metainfo::parse(&bad).is_err());
        }
        for (name, path, expect) in [
            (&b"x"[..], vec![&b"/etc"[..], b"passwd"], "x/%2Fetc/passwd"),
            (b"/abs", vec![b"a"], "%2Fabs/a"),
            (b"x", vec![b"..\\..\\win.ini"], "x/..%5C..%5Cwin.ini"),
            (b"x", vec![b"C:", b"evil"], "x/C%3A/evil"),
            (b"x", vec![b"a\0b"], "x/a%00b"),
            (b"x", vec![b"a", b"", b".", b"b"], "x/a/b"),
            (b"x", vec![b"../x"], "x/..%2Fx"),
            (b".", vec![b"f"], "HASH/f"),
            (b"\xff\xfe", vec![b"\xc3"], "%FF%FE/%C3"),
        ] {
            let m = Metainfo::parse(&mk(name, &path)).unwrap();
            assert_safe(&m);
            let expect = expect.replace("HASH", &hex::encode(m.info_hash_v1.unwrap()));
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
        assert_eq!(m.visible_files().count(), 2);
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
}
