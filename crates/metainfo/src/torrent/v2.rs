//! BEP 52's side of a torrent: the `file tree`, the v2-only layout (every
//! file on a piece boundary) and the check that a hybrid's v1 and v2 views
//! agree.

use arietta_bencode::Value;

use super::{to_u64, Metainfo};
use crate::error::Error;
use crate::path_sanitize::sanitize_component;

impl Metainfo {
    /// Lays out a v2-only torrent: each file starts on a piece boundary.
    pub(super) fn layout_v2(&mut self, files: Vec<TreeFile>) -> Result<(), Error> {
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
    pub(super) fn check_hybrid(&mut self, v2: &[TreeFile]) -> Result<(), Error> {
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
}

/// A file found in a v2 `file tree`, before layout.
#[derive(Debug)]
pub(super) struct TreeFile {
    pub(super) components: Vec<String>,
    pub(super) length: u64,
    pub(super) attr: Vec<u8>,
    pub(super) pieces_root: Option<[u8; 32]>,
}

pub(super) fn walk_tree(
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
