//! Blocks received in one read, written together and reported to the
//! actor in one message. A read of the socket yields up to 256 KiB, about
//! sixteen 16 KiB blocks; reporting each would cost the actor's core a
//! cross-core message per block. Contiguous blocks (the usual case: a
//! peer answers requests in order) also go to disk as one write.

use std::cell::RefCell;
use std::rc::Rc;

use arietta_bt::piece_geometry::BlockRef;
use arietta_bt::piece_picker::PeerKey;
use arietta_runtime::MailboxSender;

use super::files::Files;
use crate::messages::ToTorrent;

/// One read's blocks, waiting for [`BlockWrites::flush`].
#[derive(Default)]
pub(super) struct BlockWrites {
    /// `None` data: the piece is already ours, nothing to write.
    pending: RefCell<Vec<(BlockRef, Option<bytes::Bytes>)>>,
}

/// Merges blocks whose stream ranges touch into runs: (offset, the
/// indices of their blocks in `blocks`). Blocks without data are left out.
fn contiguous_runs(
    piece_length: u64,
    blocks: &[(BlockRef, Option<bytes::Bytes>)],
) -> Vec<(u64, Vec<usize>)> {
    let mut runs: Vec<(u64, u64, Vec<usize>)> = Vec::new();
    for (i, (b, data)) in blocks.iter().enumerate() {
        if data.is_none() {
            continue;
        }
        let start = u64::from(b.index) * piece_length + u64::from(b.begin);
        let end = start + u64::from(b.length);
        match runs.last_mut() {
            Some((_, run_end, members)) if *run_end == start => {
                *run_end = end;
                members.push(i);
            }
            _ => runs.push((start, end, vec![i])),
        }
    }
    runs.into_iter().map(|(s, _, m)| (s, m)).collect()
}

impl BlockWrites {
    /// Queues a block of the current read; `data` is `None` when the
    /// piece is already verified (reported, not written).
    pub(super) fn push(&self, block: BlockRef, data: Option<bytes::Bytes>) {
        self.pending.borrow_mut().push((block, data));
    }

    /// Writes what the last read brought, off the reader's path, then
    /// tells the actor in one [`ToTorrent::BlocksWritten`]. A disk error
    /// is the download's, not the peer's: it is reported as such.
    pub(super) fn flush(&self, key: PeerKey, files: &Rc<Files>, tx: &MailboxSender<ToTorrent>) {
        let batch = std::mem::take(&mut *self.pending.borrow_mut());
        if batch.is_empty() {
            return;
        }
        let files = files.clone();
        let tx = tx.clone();
        glommio::spawn_local(async move {
            for (offset, members) in contiguous_runs(files.layout.piece_length, &batch) {
                let written = if let [one] = members.as_slice() {
                    let data = batch[*one].1.as_deref().unwrap_or_default();
                    files.write(offset, data).await
                } else {
                    let mut joined = Vec::new();
                    for m in &members {
                        joined.extend_from_slice(batch[*m].1.as_deref().unwrap_or_default());
                    }
                    files.write(offset, &joined).await
                };
                if let Err(e) = written {
                    let _ = tx.send(ToTorrent::DiskFailed {
                        reason: e.to_string(),
                    });
                    return;
                }
            }
            let blocks = batch.into_iter().map(|(b, _)| b).collect();
            let _ = tx.send(ToTorrent::BlocksWritten { key, blocks });
        })
        .detach();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(index: u32, begin: u32) -> BlockRef {
        BlockRef {
            index,
            begin,
            length: 16384,
        }
    }

    #[test]
    fn touching_blocks_merge_across_pieces_and_owned_ones_are_skipped() {
        let d = Some(bytes::Bytes::from_static(b"x"));
        let batch = vec![
            (b(0, 0), d.clone()),
            (b(0, 16384), d.clone()),
            (b(1, 0), d.clone()),
            (b(3, 0), None),
            (b(5, 16384), d.clone()),
            (b(5, 0), d.clone()),
        ];
        let runs = contiguous_runs(32768, &batch);
        assert_eq!(
            runs,
            vec![
                (0, vec![0, 1, 2]),
                (5 * 32768 + 16384, vec![4]),
                (5 * 32768, vec![5])
            ]
        );
    }
}
