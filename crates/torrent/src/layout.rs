//! Where a torrent's byte stream lives on disk: the files in stream order,
//! mapped from piece offsets, plus the blocking reads the hasher uses.

use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use arietta_metainfo::Metainfo;

use crate::error::io_err;
use crate::TorrentError;

/// One file of the stream as it sits on disk.
#[derive(Clone, Debug)]
pub struct LaidFile {
    /// Absolute (or `--dir`-relative) path; never outside the download dir.
    pub path: PathBuf,
    /// Offset of the file's first byte in the torrent's stream.
    pub offset: u64,
    pub length: u64,
    /// Its bytes are zeros: a BEP 47 padding file, or an alignment gap
    /// (see `listed`). Reads give zeros whatever is on disk and writes put
    /// zeros, so a peer cannot plant data there, and content made by a
    /// client that never writes padding files still checks and seeds.
    pub padding: bool,
    /// Listed by the torrent, so numbered for `--select-file`, `-S` and
    /// RPC and kept on disk when its pieces are written, as aria2 (which
    /// knows no BEP 47) does with `.pad/N` files. Only the alignment gaps
    /// laid out for v2 torrents are not: they have no path.
    pub listed: bool,
    /// Selected for download (`--select-file`).
    pub selected: bool,
}

/// The torrent's files in stream order.
#[derive(Clone, Debug)]
pub struct Layout {
    pub files: Vec<LaidFile>,
    pub total: u64,
    pub piece_length: u64,
    /// The path aria2 names the download by: `dir/NAME` (the directory of a
    /// multi-file torrent, or the single file).
    pub root: PathBuf,
}

/// A part of a byte range that falls in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub file: usize,
    pub file_offset: u64,
    /// Offset of this span within the requested range.
    pub range_offset: usize,
    pub len: usize,
}

/// Refuses any relative path that could leave `dir`: metainfo already
/// sanitizes torrent paths; this also covers `--index-out`.
fn safe_relative(p: &Path) -> Result<(), TorrentError> {
    let ok = p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok && p.components().next().is_some() {
        Ok(())
    } else {
        Err(TorrentError::UnsafePath(p.display().to_string()))
    }
}

impl Layout {
    /// Lays out `meta` under `dir`. `selected` is indexed like
    /// [`Metainfo::files`] (padding included, as aria2 numbers files);
    /// `index_out` renames files by that index.
    pub fn new(
        meta: &Metainfo,
        dir: &Path,
        selected: Option<&[bool]>,
        index_out: &[(usize, PathBuf)],
    ) -> Result<Layout, TorrentError> {
        let mut files = Vec::with_capacity(meta.files.len());
        for (i, f) in meta.files.iter().enumerate() {
            let index = i + 1;
            let rel = index_out
                .iter()
                .rev()
                .find(|(n, _)| *n == index)
                .map(|(_, p)| p.clone())
                .unwrap_or_else(|| f.path.clone());
            safe_relative(&rel)?;
            let selected_now = selected.is_none_or(|s| s.get(i).copied().unwrap_or(false));
            let path = dir.join(rel);
            // v2-only files start on piece boundaries; the gap before one
            // is alignment, laid out as padding so it reads as zeros.
            let end = files.last().map_or(0, |l: &LaidFile| l.offset + l.length);
            if f.offset > end {
                files.push(LaidFile {
                    path: PathBuf::new(),
                    offset: end,
                    length: f.offset - end,
                    padding: true,
                    listed: false,
                    selected: false,
                });
            }
            files.push(LaidFile {
                path,
                offset: f.offset,
                length: f.length,
                padding: f.padding,
                listed: true,
                selected: selected_now,
            });
        }
        safe_relative(Path::new(&meta.name))?;
        let mut total = meta.total_length;
        if meta.info_hash_v1.is_none() {
            // libtorrent pads a v2 torrent's last file to a whole piece too
            // and asks for the blocks there; they read as zeros.
            let aligned = total.div_ceil(meta.piece_length) * meta.piece_length;
            if aligned > total {
                files.push(LaidFile {
                    path: PathBuf::new(),
                    offset: total,
                    length: aligned - total,
                    padding: true,
                    listed: false,
                    selected: false,
                });
                total = aligned;
            }
        }
        Ok(Layout {
            files,
            total,
            piece_length: meta.piece_length,
            root: dir.join(&meta.name),
        })
    }

    /// Offset and length of piece `index`.
    pub fn piece_range(&self, index: u32) -> (u64, u64) {
        let start = u64::from(index) * self.piece_length;
        (
            start,
            (self.total - start.min(self.total)).min(self.piece_length),
        )
    }

    /// The file spans covering `[offset, offset + len)`.
    pub fn spans(&self, offset: u64, len: usize) -> Vec<Span> {
        let end = offset + len as u64;
        let mut out = Vec::new();
        // Files are in stream order: find the first one ending after offset.
        let first = self
            .files
            .partition_point(|f| f.offset + f.length <= offset);
        for (i, f) in self.files.iter().enumerate().skip(first) {
            if f.offset >= end {
                break;
            }
            if f.length == 0 {
                continue;
            }
            let s = offset.max(f.offset);
            let e = end.min(f.offset + f.length);
            if s < e {
                out.push(Span {
                    file: i,
                    file_offset: s - f.offset,
                    range_offset: (s - offset) as usize,
                    len: (e - s) as usize,
                });
            }
        }
        out
    }

    /// Pieces that touch a selected file: the ones to download.
    pub fn wanted_pieces(&self, piece_count: u32) -> Vec<bool> {
        let mut wanted = vec![false; piece_count as usize];
        for f in self.files.iter().filter(|f| f.selected && f.length > 0) {
            let first = f.offset / self.piece_length;
            let last = (f.offset + f.length - 1) / self.piece_length;
            for w in wanted
                .iter_mut()
                .take(last as usize + 1)
                .skip(first as usize)
            {
                *w = true;
            }
        }
        wanted
    }

    /// Creates the directories and the empty files of selected entries so
    /// that even zero-length files exist at the end, and cuts files longer
    /// than their entry (left over from something else).
    pub fn prepare(&self) -> Result<(), TorrentError> {
        for f in self.files.iter().filter(|f| f.listed && f.selected) {
            if let Some(parent) = f.path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&f.path)
                .map_err(|e| io_err(&f.path, e))?;
            let len = file.metadata().map_err(|e| io_err(&f.path, e))?.len();
            if len > f.length {
                file.set_len(f.length).map_err(|e| io_err(&f.path, e))?;
            }
        }
        Ok(())
    }

    /// Whether any selected file already holds data (a resume or a seed).
    pub fn has_existing_data(&self) -> bool {
        self.files
            .iter()
            .filter(|f| !f.padding && f.selected && f.length > 0)
            .any(|f| std::fs::metadata(&f.path).is_ok_and(|m| m.len() > 0))
    }

    /// Whether every selected file exists at its full length.
    pub fn all_present(&self) -> bool {
        self.files
            .iter()
            .filter(|f| !f.padding && f.selected)
            .all(|f| std::fs::metadata(&f.path).is_ok_and(|m| m.len() == f.length))
    }

    /// Reads `[offset, offset + buf.len())` with blocking calls (for the
    /// blocking pool). Missing files and bytes past a file's end read as
    /// zeros, so an unfinished piece simply fails its hash.
    pub fn read_blocking(&self, offset: u64, buf: &mut [u8]) -> Result<(), TorrentError> {
        for s in self.spans(offset, buf.len()) {
            let dst = &mut buf[s.range_offset..s.range_offset + s.len];
            let f = &self.files[s.file];
            if f.padding {
                dst.fill(0);
                continue;
            }
            let file = match std::fs::File::open(&f.path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    dst.fill(0);
                    continue;
                }
                Err(e) => return Err(io_err(&f.path, e)),
            };
            let mut done = 0;
            while done < dst.len() {
                match file.read_at(&mut dst[done..], s.file_offset + done as u64) {
                    Ok(0) => {
                        dst[done..].fill(0);
                        break;
                    }
                    Ok(n) => done += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_err(&f.path, e)),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(lengths: &[u64], piece: u64) -> Layout {
        let mut offset = 0;
        let files = lengths
            .iter()
            .enumerate()
            .map(|(i, &length)| {
                let f = LaidFile {
                    path: PathBuf::from(format!("f{i}")),
                    offset,
                    length,
                    padding: false,
                    listed: true,
                    selected: i != 1,
                };
                offset += length;
                f
            })
            .collect();
        Layout {
            files,
            total: offset,
            piece_length: piece,
            root: PathBuf::from("t"),
        }
    }

    #[test]
    fn spans_cross_file_boundaries_and_skip_empty_files() {
        let l = layout(&[10, 0, 5, 20], 8);
        let spans = l.spans(6, 12);
        assert_eq!(
            spans,
            vec![
                Span {
                    file: 0,
                    file_offset: 6,
                    range_offset: 0,
                    len: 4
                },
                Span {
                    file: 2,
                    file_offset: 0,
                    range_offset: 4,
                    len: 5
                },
                Span {
                    file: 3,
                    file_offset: 0,
                    range_offset: 9,
                    len: 3
                },
            ]
        );
        assert_eq!(l.piece_range(4), (32, 3));
    }

    #[test]
    fn wanted_pieces_cover_selected_files_only() {
        // File 1 (unselected) sits wholly inside piece 1.
        let l = layout(&[10, 4, 10], 8);
        assert_eq!(l.wanted_pieces(3), vec![true, true, true]);
        let l = layout(&[8, 16, 8], 8);
        assert_eq!(l.wanted_pieces(4), vec![true, false, false, true]);
    }

    #[test]
    fn index_out_paths_may_not_escape() {
        assert!(safe_relative(Path::new("a/b")).is_ok());
        assert!(safe_relative(Path::new("../b")).is_err());
        assert!(safe_relative(Path::new("/etc/passwd")).is_err());
        assert!(safe_relative(Path::new("")).is_err());
    }
}
