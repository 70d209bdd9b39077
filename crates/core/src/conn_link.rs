//! What every connection task (HTTP, FTP, SFTP) does the same way with its
//! download: asking the coordinator for work, reporting the probe and each
//! written chunk, obeying the rate limits, and keeping the file writer of
//! its current target. The protocol tasks differ only in how bytes arrive.

use std::rc::Rc;

use arietta_runtime::mailbox;
use arietta_storage::{ChunkBuf, FileWriter};

use crate::error::FetchError;
use crate::messages::{ConnTask, FileTarget, ProbeDecision, ProbeInfo, ToCoordinator, Work};
use crate::segment_map::SegId;
use crate::worker::CoreContext;

/// The file a connection writes into, with its writer opened lazily and
/// kept while the target stays the same (a connection moves between files
/// only with `-i`/`-Z` downloads sharing it, never mid-segment).
#[derive(Default)]
pub(crate) struct TargetWriter {
    target: Option<FileTarget>,
    writer: Option<Rc<FileWriter>>,
}

impl TargetWriter {
    pub(crate) fn set(&mut self, target: FileTarget) {
        if self.target.as_ref() != Some(&target) {
            self.writer = None;
            self.target = Some(target);
        }
    }

    /// This core's writer for the current target.
    pub(crate) async fn get(
        &mut self,
        ctx: &CoreContext,
        task: &ConnTask,
    ) -> Result<Rc<FileWriter>, FetchError> {
        if let Some(w) = &self.writer {
            return Ok(w.clone());
        }
        let Some(t) = self.target.as_ref() else {
            return Err(FetchError::WrongResponse(
                "no file to write to (no segment assigned)".into(),
            ));
        };
        let w = if t.stream {
            let sink = arietta_storage::stdout_sink().ok_or_else(no_stdout)?;
            Rc::new(FileWriter::stream(sink))
        } else {
            ctx.files.get(task.gid.0, &t.path, t.direct).await?
        };
        self.writer = Some(w.clone());
        Ok(w)
    }
}

/// `-o -` in a process whose stdout was not set up for it (the cli does
/// so for its command line's `-o -` only).
pub(crate) fn no_stdout() -> arietta_storage::StorageError {
    arietta_storage::StorageError::Open {
        path: "-".into(),
        source: std::io::Error::other(
            "stdout is not set up for streaming (-o - works on the command line only)",
        ),
    }
}

/// Sends the probe's findings; the coordinator's decision comes back
/// (`Stop` when the coordinator is gone).
pub(crate) async fn report_probe(task: &ConnTask, info: ProbeInfo) -> ProbeDecision {
    let (tx, rx) = mailbox();
    let msg = ToCoordinator::Probed {
        gid: task.gid,
        conn: task.conn,
        result: Ok(info),
        reply: tx,
    };
    if task.to_coord.send(msg).is_err() {
        return ProbeDecision::Stop;
    }
    rx.recv().await.unwrap_or(ProbeDecision::Stop)
}

/// Releases `finished` and asks for the next segment; `at` is where an
/// open transfer stands, so a segment starting there continues it.
pub(crate) async fn ask_for_work(
    task: &ConnTask,
    finished: Option<SegId>,
    at: Option<u64>,
) -> Option<Work> {
    let (tx, rx) = mailbox();
    let msg = ToCoordinator::NeedWork {
        gid: task.gid,
        conn: task.conn,
        finished,
        at,
        reply: tx,
    };
    task.to_coord.send(msg).ok()?;
    rx.recv().await.flatten()
}

/// Gives back a claim without asking for more work (a segment claimed
/// ahead that the connection will not fetch, or the one it finished when
/// the next was claimed ahead).
pub(crate) fn release(task: &ConnTask, seg: SegId) {
    let _ = task.to_coord.send(ToCoordinator::Released {
        gid: task.gid,
        conn: task.conn,
        seg,
    });
}

/// Waits until the overall and the download's limits allow `want` bytes
/// (or part of them); returns how many may be read now.
pub(crate) async fn throttle(task: &ConnTask, want: u64) -> u64 {
    let overall = &task.net.overall_limit;
    if overall.is_unlimited() && task.limit.as_ref().is_none_or(|l| l.is_unlimited()) {
        return want;
    }
    let mut lims: Vec<&arietta_net::RateLimiter> = vec![overall];
    if let Some(l) = &task.limit {
        lims.push(l);
    }
    arietta_net::take_all(&lims, want as usize).await as u64
}

/// Writes `len` bytes of `buf` at `pos` and, once the write completed,
/// reports them: the coordinator (and the control file) never count bytes
/// that are not on disk.
pub(crate) async fn write_and_report(
    task: &ConnTask,
    writer: &FileWriter,
    buf: ChunkBuf,
    len: usize,
    pos: u64,
) -> Result<(), FetchError> {
    writer.write_chunk(buf, len, pos).await?;
    let _ = task.to_coord.send(ToCoordinator::Written {
        gid: task.gid,
        conn: task.conn,
        start: pos,
        end: pos + len as u64,
    });
    Ok(())
}

/// Tells the coordinator that the connection is over, with the segment it
/// still held (its unfetched tail goes back to the free list).
pub(crate) fn report_end(task: &ConnTask, seg: Option<SegId>, result: Result<(), FetchError>) {
    let _ = task.to_coord.send(ToCoordinator::ConnEnded {
        gid: task.gid,
        conn: task.conn,
        seg,
        result,
    });
}
