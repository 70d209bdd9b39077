//! `--bt-remove-unselected-file`: once a download with `--select-file`
//! is complete, the files not selected go. Pieces that straddle a file
//! boundary leave parts of unselected files on disk; aria2 removes those
//! files when the finished download leaves the session, and so do we.

use std::path::PathBuf;

use crate::layout::Layout;

/// Removes every unselected file of `layout` that exists (a `.pad/N`
/// file too: aria2 knows it as an ordinary file);
/// returns the paths removed. A file that cannot be removed is logged
/// and left, as aria2 does: the download is still a success.
pub(super) fn remove_unselected_files(layout: &Layout) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for f in layout.files.iter().filter(|f| !f.selected && f.listed) {
        match std::fs::remove_file(&f.path) {
            Ok(()) => {
                tracing::info!("{} was removed.", f.path.display());
                removed.push(f.path.clone());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::info!("{} couldn't be removed: {e}", f.path.display()),
        }
    }
    removed
}
