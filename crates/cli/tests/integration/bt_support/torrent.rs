//! Torrents built in the test with arietta's bencode crate, and their
//! content written to disk.

use std::path::Path;

use arietta_bencode::{encode, OwnedValue};
use sha1::{Digest, Sha1};

/// A torrent built in the test.
pub struct Torrent {
    pub bytes: Vec<u8>,
    pub info_hash: [u8; 20],
}

impl Torrent {
    pub fn hex(&self) -> String {
        self.info_hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.bytes).expect("write torrent");
    }
}

/// Builds a torrent over `files` (path components under `name`, data);
/// a single entry with no components makes a single-file torrent.
pub fn make_torrent(
    name: &str,
    files: &[(Vec<&str>, &[u8])],
    piece_length: usize,
    announce: Option<&str>,
) -> Torrent {
    make_torrent_with_web_seeds(name, files, piece_length, announce, &[])
}

/// [`make_torrent`] with a BEP 19 `url-list` (outside the info dict: the
/// info-hash does not change).
pub fn make_torrent_with_web_seeds(
    name: &str,
    files: &[(Vec<&str>, &[u8])],
    piece_length: usize,
    announce: Option<&str>,
    url_list: &[&str],
) -> Torrent {
    let mut stream = Vec::new();
    for (_, data) in files {
        stream.extend_from_slice(data);
    }
    let mut pieces = Vec::new();
    for chunk in stream.chunks(piece_length) {
        pieces.extend_from_slice(&Sha1::digest(chunk));
    }
    let mut info = OwnedValue::dict()
        .insert(b"name".to_vec(), name)
        .insert(b"piece length".to_vec(), piece_length as i64)
        .insert(b"pieces".to_vec(), pieces);
    if files.len() == 1 && files[0].0.is_empty() {
        info = info.insert(b"length".to_vec(), files[0].1.len() as i64);
    } else {
        let list: Vec<OwnedValue> = files
            .iter()
            .map(|(path, data)| {
                let comps: Vec<OwnedValue> = path.iter().map(|c| OwnedValue::from(*c)).collect();
                OwnedValue::dict()
                    .insert(b"length".to_vec(), data.len() as i64)
                    .insert(b"path".to_vec(), comps)
            })
            .collect();
        info = info.insert(b"files".to_vec(), list);
    }
    let info_bytes = encode(&info);
    let info_hash: [u8; 20] = Sha1::digest(&info_bytes).into();
    let mut top = OwnedValue::dict().insert(b"info".to_vec(), info);
    if let Some(a) = announce {
        top = top.insert(b"announce".to_vec(), a);
    }
    if !url_list.is_empty() {
        let l: Vec<OwnedValue> = url_list.iter().map(|u| OwnedValue::from(*u)).collect();
        top = top.insert(b"url-list".to_vec(), l);
    }
    Torrent {
        bytes: encode(&top),
        info_hash,
    }
}

/// Borrows test files as `make_torrent` and `write_files` take them.
pub fn as_refs<'a>(
    files: &'a [(Vec<&'static str>, Vec<u8>)],
) -> Vec<(Vec<&'static str>, &'a [u8])> {
    files
        .iter()
        .map(|(p, d)| (p.clone(), d.as_slice()))
        .collect()
}

/// Writes `files` under `dir/name/…` (or `dir/name` for a single file).
pub fn write_files(dir: &Path, name: &str, files: &[(Vec<&str>, &[u8])]) {
    for (path, data) in files {
        let mut p = dir.join(name);
        for c in path {
            p.push(c);
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
}

/// A multi-file torrent over `files` as libtorrent's `canonical_files`
/// writes one: after every file a BEP 47 padding file (`attr` `p`, path
/// `.pad/N`) fills up to the next piece boundary; its bytes are zeros in
/// the stream the pieces hash.
pub fn make_padded_torrent(
    name: &str,
    files: &[(Vec<&str>, &[u8])],
    piece_length: usize,
    announce: Option<&str>,
) -> Torrent {
    let mut stream = Vec::new();
    let mut list = Vec::new();
    for (path, data) in files {
        stream.extend_from_slice(data);
        let comps: Vec<OwnedValue> = path.iter().map(|c| OwnedValue::from(*c)).collect();
        list.push(
            OwnedValue::dict()
                .insert(b"length".to_vec(), data.len() as i64)
                .insert(b"path".to_vec(), comps),
        );
        let pad = (piece_length - stream.len() % piece_length) % piece_length;
        if pad > 0 {
            stream.resize(stream.len() + pad, 0);
            let n = pad.to_string();
            list.push(
                OwnedValue::dict()
                    .insert(b"attr".to_vec(), "p")
                    .insert(b"length".to_vec(), pad as i64)
                    .insert(
                        b"path".to_vec(),
                        vec![OwnedValue::from(".pad"), OwnedValue::from(n.as_str())],
                    ),
            );
        }
    }
    let mut pieces = Vec::new();
    for chunk in stream.chunks(piece_length) {
        pieces.extend_from_slice(&Sha1::digest(chunk));
    }
    let info = OwnedValue::dict()
        .insert(b"name".to_vec(), name)
        .insert(b"piece length".to_vec(), piece_length as i64)
        .insert(b"pieces".to_vec(), pieces)
        .insert(b"files".to_vec(), list);
    let info_hash: [u8; 20] = Sha1::digest(encode(&info)).into();
    let mut top = OwnedValue::dict().insert(b"info".to_vec(), info);
    if let Some(a) = announce {
        top = top.insert(b"announce".to_vec(), a);
    }
    Torrent {
        bytes: encode(&top),
        info_hash,
    }
}
