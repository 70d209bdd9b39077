//! `-o -` for a torrent: verified pieces go to stdout in order.
//!
//! The torrent is downloaded as usual, into its files under `--dir`: those
//! are what it serves to peers while it runs and what a rerun resumes from
//! (its control file is kept as for any torrent), so the disk, not memory,
//! holds whatever arrives ahead of the reader. The in-order piece selector
//! is forced (`TorrentConfig::from_options`), so pieces complete near the
//! write cursor. A task on the actor's core follows the verified pieces and,
//! from the lowest index up, reads each back on the blocking pool (from the
//! page cache: it was just written and hashed) and hands the bytes of the
//! selected, non-padding files to the stdout sink, whose window bounds
//! what waits in memory. A multi-file torrent streams its files one after
//! another, in the torrent's order. The actor ends only once the last byte
//! reached stdout, and at once when stdout fails (the reader left).

use std::collections::BTreeSet;
use std::sync::Arc;

use arietta_runtime::{mailbox, Mailbox};
use arietta_storage::OrderedSink;

use super::Session;
use crate::layout::Layout;
use crate::messages::ToTorrent;

impl Session {
    /// Starts the stream when the download is `-o -`: claims stdout and
    /// tells the streaming task the pieces verified so far.
    pub(super) fn start_stream(&mut self) {
        if !self.dl.cfg.to_stdout {
            return;
        }
        let owner = u64::from_be_bytes(self.dl.info_hash[..8].try_into().expect("8 bytes"));
        let sink = match arietta_storage::stdout_sink() {
            Some(s) if s.claim(owner) => s,
            Some(_) => return self.stream_failed("another download is already writing to stdout"),
            None => return self.stream_failed("stdout is not set up for streaming"),
        };
        let (tx, inbox) = mailbox();
        let layout = self.dl.layout.clone();
        let wanted = self.dl.wanted.clone();
        let me = self.me.clone();
        glommio::spawn_local(async move {
            let result = pump(layout, wanted, sink, inbox).await;
            let _ = me.send(ToTorrent::Streamed(result));
        })
        .detach();
        for i in 0..self.dl.wanted.len() as u32 {
            if self.have.get(i) {
                let _ = tx.send(i);
            }
        }
        self.stream = Some(tx);
    }

    fn stream_failed(&mut self, why: &str) {
        self.stream_end = Some(Err(why.to_owned()));
    }

    /// Piece `index` passed its hash: the stream may move on.
    pub(super) fn stream_piece(&self, index: u32) {
        if let Some(tx) = &self.stream {
            let _ = tx.send(index);
        }
    }

    /// Whether the stream keeps the actor running: bytes are still on
    /// their way to stdout.
    pub(super) fn streaming(&self) -> bool {
        self.stream.is_some() && self.stream_end.is_none()
    }
}

/// Streams the wanted pieces in order as `verified` names them; ends when
/// the last one reached stdout. The error is the output's.
async fn pump(
    layout: Arc<Layout>,
    wanted: Vec<bool>,
    sink: Arc<OrderedSink>,
    verified: Mailbox<u32>,
) -> Result<(), String> {
    let count = wanted.len() as u32;
    let mut ready = BTreeSet::new();
    let mut next = 0u32;
    let mut offset = 0u64;
    loop {
        while next < count && !wanted[next as usize] {
            next += 1;
        }
        if next >= count {
            break;
        }
        if !ready.remove(&next) {
            match verified.recv().await {
                Some(i) => {
                    ready.insert(i);
                }
                // The actor is gone.
                None => return Ok(()),
            }
            continue;
        }
        let l = layout.clone();
        let index = next;
        let bytes = glommio::executor()
            .spawn_blocking(move || selected_bytes(&l, index))
            .await
            .map_err(|e| e.to_string())?;
        let n = bytes.len() as u64;
        sink.write(offset, bytes).await.map_err(|e| e.to_string())?;
        offset += n;
        next += 1;
    }
    glommio::executor()
        .spawn_blocking(move || sink.finish(offset))
        .await
        .map_err(|e| e.to_string())
}

/// The bytes of piece `index` that belong to selected, non-padding files.
fn selected_bytes(layout: &Layout, index: u32) -> Result<Vec<u8>, crate::TorrentError> {
    let (start, len) = layout.piece_range(index);
    let mut buf = vec![0u8; len as usize];
    layout.read_blocking(start, &mut buf)?;
    let spans = layout.spans(start, buf.len());
    let keep = |s: &crate::layout::Span| {
        let f = &layout.files[s.file];
        f.selected && !f.padding
    };
    if spans.iter().all(keep) && spans.iter().map(|s| s.len).sum::<usize>() == buf.len() {
        return Ok(buf);
    }
    let mut out = Vec::with_capacity(buf.len());
    for s in spans.iter().filter(|s| keep(s)) {
        out.extend_from_slice(&buf[s.range_offset..s.range_offset + s.len]);
    }
    Ok(out)
}
