//! Piece checks (SHA-1, or v2 merkle roots through [`PieceHashes`]). Always run off the network path: on glommio's
//! blocking pool for single pieces, on scoped threads for a whole-torrent
//! check (`-V`), so peers never wait behind a hash.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::layout::Layout;
use crate::piece_hashes::PieceHashes;
use crate::TorrentError;

/// Whether piece `index` on disk matches `hashes`.
pub fn verify_piece(
    layout: &Layout,
    index: u32,
    hashes: &PieceHashes,
) -> Result<bool, TorrentError> {
    let (start, len) = layout.piece_range(index);
    let mut buf = vec![0u8; len as usize];
    layout.read_blocking(start, &mut buf)?;
    Ok(hashes.matches(index, &buf))
}

/// Hashes every wanted piece with `threads` threads; returns which pass.
pub fn check_all(
    layout: &Layout,
    hashes: &PieceHashes,
    wanted: &[bool],
    threads: usize,
) -> Result<Vec<bool>, TorrentError> {
    let count = wanted.len() as u32;
    let next = AtomicU32::new(0);
    let results: Vec<AtomicU32> = (0..count).map(|_| AtomicU32::new(0)).collect();
    let error = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let mut buf = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    if !wanted[i as usize] {
                        continue;
                    }
                    let (start, len) = layout.piece_range(i);
                    buf.resize(len as usize, 0);
                    if let Err(e) = layout.read_blocking(start, &mut buf) {
                        *error.lock().expect("hash error slot") = Some(e);
                        return;
                    }
                    if hashes.matches(i, &buf) {
                        results[i as usize].store(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().expect("hash error slot") {
        return Err(e);
    }
    Ok(results
        .iter()
        .map(|r| r.load(Ordering::Relaxed) == 1)
        .collect())
}
