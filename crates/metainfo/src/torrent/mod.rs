//! `.torrent` files: v1 (BEP 3), v2 (BEP 52) and hybrids.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arietta_bencode::{Value, ValueKind};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::error::Error;
use crate::path_sanitize::{decode_text, detect_dir_traversal, encode_non_utf8};

mod v2;

use v2::walk_tree;

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
    /// The elements `path` is made of, joined with `/` (for a v1 torrent
    /// aria2's: the name, then each `path` element as UTF-8 or
    /// percent-encoded; one may hold a `/`, which makes a directory).
    pub components: Vec<String>,
    /// Size in bytes.
    pub length: u64,
    /// Where the file starts in the torrent's concatenated byte stream
    /// (v2-only torrents align every file to a piece boundary).
    pub offset: u64,
    /// A BEP 47 padding file (`attr` holds `p`): its bytes are zeros.
    /// aria2 1.36 knows no BEP 47, so it is still listed, numbered and
    /// written like any other file (see [`Metainfo::files`]).
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
    /// The name as the torrent writes it (decoded, not sanitized), which
    /// `-S` and the magnet link show as aria2 does.
    pub raw_name: String,
    /// BEP 5 `nodes`: DHT contacts the torrent suggests, as `host:port`.
    pub nodes: Vec<(String, u16)>,
    /// Whether files live under a directory named `name`.
    pub multi_file: bool,
    pub piece_length: u64,
    /// Concatenated v1 SHA-1 piece hashes (empty for v2-only torrents).
    pub pieces: Vec<u8>,
    /// Number of pieces in the byte stream.
    pub piece_count: u64,
    /// Files in stream order, padding files included (see
    /// [`FileEntry::padding`]). Indexes for `--select-file`, `-S` and RPC
    /// count these, 1-based, padding included, as aria2 numbers them.
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

/// `key.utf-8` when present (a string, or a non-empty list of them for a
/// file's `path.utf-8`), else `key`: aria2 takes the `.utf-8` key whenever
/// it is there, and percent-encodes it if it is not UTF-8 after all.
fn utf8_variant<'v, 'a>(
    dict: &'v Value<'a>,
    key: &'static str,
    utf8_key: &'static str,
) -> Option<&'v Value<'a>> {
    dict.get(utf8_key)
        .filter(|v| match v.as_list() {
            Some(l) => !l.is_empty() && l.iter().all(|c| c.as_bytes().is_some()),
            None => v.as_bytes().is_some(),
        })
        .or_else(|| dict.get(key))
}

/// A tracker URL as aria2 keeps it: `\r\n\t ` stripped, then UTF-8 or
/// percent-encoded ([`encode_non_utf8`]); an empty one stays (`-S` and
/// RPC list it) and the announce code skips it.
fn url(v: &Value<'_>) -> Option<String> {
    let b = v.as_bytes()?;
    let strip = |c: &u8| matches!(c, b'\r' | b'\n' | b'\t' | b' ');
    let start = b.iter().position(|c| !strip(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !strip(c)).map_or(start, |e| e + 1);
    Some(encode_non_utf8(&b[start..end]))
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
        // Every string as aria2 keeps it (`-S` lists an empty one as " ");
        // one that is no URL is skipped when web seeds start.
        let web_seed = |v: &Value<'_>| v.as_bytes().map(encode_non_utf8);
        match root.get("url-list").map(|v| &v.kind) {
            Some(ValueKind::List(l)) => m.url_list = l.iter().filter_map(web_seed).collect(),
            Some(ValueKind::Bytes(_)) => {
                m.url_list = root
                    .get("url-list")
                    .and_then(web_seed)
                    .into_iter()
                    .collect()
            }
            _ => {}
        }
        if let Some(nodes) = root.get("nodes").and_then(Value::as_list) {
            m.nodes = nodes
                .iter()
                .filter_map(|n| {
                    let pair = n.as_list()?;
                    let host = pair.first()?.as_str()?.to_owned();
                    let port = u16::try_from(pair.get(1)?.as_int()?).ok()?;
                    Some((host, port))
                })
                .collect();
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
        // aria2's `utf8Name`: shown by `-S`, in the magnet link, and the
        // first path element (a `/` in it makes directories, as in aria2).
        let utf8_name = encode_non_utf8(raw_name);
        if detect_dir_traversal(&utf8_name) {
            return Err(Error::DirTraversal(utf8_name));
        }
        let name = match utf8_name.as_str() {
            "" => hex::encode(
                info_hash_v1
                    .map(|h| h.to_vec())
                    .or(info_hash_v2.map(|h| h.to_vec()))
                    .unwrap_or_default(),
            ),
            n => n.to_owned(),
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
            raw_name: utf8_name,
            nodes: Vec::new(),
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
        // Joined with `/` as aria2 joins them: a `/` inside a v1 element is
        // a separator there too. The parsers refused anything that could
        // climb out (see `path_sanitize`).
        let path = PathBuf::from(components.join("/"));
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
                if path.is_empty() {
                    return Err(Error::invalid("path", "Path is empty."));
                }
                let mut components = vec![self.name.clone()];
                for c in path {
                    let c = c
                        .as_bytes()
                        .ok_or_else(|| Error::invalid("path", "component is not a string"))?;
                    components.push(encode_non_utf8(c));
                }
                let joined = components.join("/");
                if detect_dir_traversal(&joined) {
                    return Err(Error::DirTraversal(joined));
                }
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

    /// The 20-byte info-hash the swarm knows the torrent by: peers'
    /// handshakes, trackers and the DHT. The v1 hash where there is one;
    /// for a v2-only torrent, BEP 52's SHA-256 info-hash cut to 20 bytes.
    pub fn swarm_info_hash(&self) -> Option<[u8; 20]> {
        match (self.info_hash_v1, self.info_hash_v2) {
            (Some(h), _) => Some(h),
            (None, Some(h2)) => {
                let mut h = [0u8; 20];
                h.copy_from_slice(&h2[..20]);
                Some(h)
            }
            (None, None) => None,
        }
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
        if !self.raw_name.is_empty() {
            parts.push(format!(
                "dn={}",
                crate::percent_encode_all(self.raw_name.as_bytes())
            ));
        }
        for url in self.announce_list.iter().flatten() {
            parts.push(format!("tr={}", crate::percent_encode_all(url.as_bytes())));
        }
        out.push_str(&parts.join("&"));
        out
    }
}

/// The workspace's one rule for missing peer programs (skip with a reason,
/// fail under `CI=true`), shared by path: this crate cannot depend on the
/// cli's integration tests.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../cli/tests/integration/support/require.rs"]
mod require;

#[cfg(test)]
mod tests;
