//! Fast resume: the control file (`NAME.aria2`) records the verified
//! pieces as byte ranges, so a restart trusts them instead of re-hashing.

use std::path::Path;

use arietta_storage::{ControlFile, RangeSet};

use crate::have_set::HaveSet;
use crate::layout::Layout;

/// The record for the pieces in `have`.
pub fn record(layout: &Layout, have: &HaveSet, info_hash: &[u8; 20]) -> ControlFile {
    let mut done = RangeSet::new();
    for i in 0..have.len() {
        if have.get(i) {
            let (s, l) = layout.piece_range(i);
            done.insert(s, s + l);
        }
    }
    ControlFile {
        piece_length: layout.piece_length as u32,
        info_hash: Some(*info_hash),
        ..ControlFile::new(layout.total, done, None)
    }
}

/// Pieces a control file vouches for; `None` when there is none or it
/// belongs to another torrent.
pub fn load(
    path: &Path,
    layout: &Layout,
    piece_count: u32,
    info_hash: &[u8; 20],
) -> Option<Vec<bool>> {
    let rec = ControlFile::load(path).ok().flatten()?;
    if rec.total_length != layout.total || rec.info_hash.as_ref() != Some(info_hash) {
        return None;
    }
    Some(
        (0..piece_count)
            .map(|i| {
                let (s, l) = layout.piece_range(i);
                rec.completed.contains_range(s, s + l)
            })
            .collect(),
    )
}
