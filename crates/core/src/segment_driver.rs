//! The one loop every segmented connection runs, whatever its protocol:
//! probe → report → `NeedWork` → open a range → read a chunk → throttle →
//! write → report `Written` → next chunk or next segment.
//!
//! HTTP, FTP and SFTP differ only in how bytes arrive; each implements
//! [`SegmentSource`] with its protocol's steps (how to probe, how to stand a
//! stream at an offset, how to read, what the end of a stream means), and
//! [`run`] does the conversation with the coordinator, the rate limits, the
//! stop flag and the write-then-report ordering in one place.

use std::sync::atomic::Ordering;
use std::time::Duration;

use arietta_storage::{ChunkBuf, FileWriter};

use crate::conn_link::{self, TargetWriter};
use crate::error::FetchError;
use crate::messages::{ConnTask, ProbeDecision, ProbeInfo, ToCoordinator, Work};
use crate::segment_map::{Claim, SegId};
use crate::worker::CoreContext;

/// Bytes read per write: large enough to amortise the io_uring round trip
/// and the message to the coordinator, small enough to keep 16 connections
/// × cores within a few MiB.
pub(crate) const READ_CHUNK: u64 = 256 << 10;

/// A chunk that has been filling this long is written with what it has:
/// a slow connection's bytes then reach the file (and `completedLength`,
/// and the control file) several times a second, as aria2's do after
/// every read, instead of once per [`READ_CHUNK`] (4 s at 64 KiB/s). A
/// fast connection fills its chunk long before, so nothing changes for it.
pub(crate) const FLUSH_AFTER: Duration = Duration::from_millis(250);

/// What one read produced: data (possibly partial), whether the stream
/// ended, and the error that cut it short, if any. Bytes read before an
/// error are still written and reported.
pub(crate) struct Chunk {
    pub buf: ChunkBuf,
    /// Bytes of `buf` filled.
    pub len: usize,
    pub finished: bool,
    pub error: Option<FetchError>,
}

impl Chunk {
    /// A read that failed before any byte came.
    pub fn failed(buf: ChunkBuf, error: FetchError) -> Chunk {
        Chunk {
            buf,
            len: 0,
            finished: false,
            error: Some(error),
        }
    }
}

/// What a source makes of its stream ending where the segment stands.
pub(crate) enum StreamEnd {
    /// Nothing more to read for this segment.
    Complete,
    /// A file of unknown length ended cleanly at this length.
    Length(u64),
    /// The source opened a new stream at the segment's position (a
    /// response that covered only the start of the segment).
    Reopened,
}

/// One protocol's part of a segmented connection. All methods are called
/// by [`run`] only; none talks to the coordinator.
pub(crate) trait SegmentSource {
    fn task(&self) -> &ConnTask;
    fn ctx(&self) -> &CoreContext;

    /// How many bytes to ask for next, for a segment standing at `at` of
    /// `end`.
    fn chunk_size(&self, _at: u64, _end: u64) -> u64 {
        READ_CHUNK
    }

    /// Sets up what every connection needs before its first request (a
    /// session that is not pooled).
    async fn open_session(&mut self) -> Result<(), FetchError> {
        Ok(())
    }

    /// Finds out what the file is (length, ranges, name, validators); the
    /// driver reports it to the coordinator.
    async fn probe(&mut self) -> Result<ProbeInfo, FetchError>;

    /// The coordinator gave the probe its first segment, starting at `pos`.
    async fn start_probe_segment(&mut self, _pos: u64) -> Result<(), FetchError> {
        Ok(())
    }

    /// The coordinator wants the probe's connection for other work: let go
    /// of what the probe left open.
    async fn release(&mut self) {}

    /// Where an open stream stands when it can run on into a segment that
    /// starts there (told to the coordinator with `NeedWork`).
    fn stream_at(&self) -> Option<u64> {
        None
    }

    /// Makes the next read return the bytes at `pos`, in a segment ending
    /// at `end` of a file of `total` bytes: continues an open stream that
    /// stands there or opens a new one.
    async fn open(
        &mut self,
        pos: u64,
        end: u64,
        total: Option<u64>,
        ranged: bool,
    ) -> Result<(), FetchError>;

    /// Reads up to `want` bytes at `pos` (a buffer from `writer`, so that
    /// direct I/O gets aligned memory).
    async fn read(&mut self, writer: &FileWriter, pos: u64, want: usize) -> Chunk;

    /// Whether the request for a next segment may go out now, before the
    /// open response ends (`--enable-http-pipelining` on a connection
    /// that stays open).
    fn can_send_ahead(&self) -> bool {
        false
    }

    /// Sends the request for `[pos, end)` behind the open response; the
    /// [`SegmentSource::open`] for `pos` then only reads its answer.
    async fn send_ahead(&mut self, _pos: u64, _end: u64) {}

    /// A split moved the segment's end below what was read: the rest of the
    /// open stream belongs to another connection.
    async fn cut(&mut self) {}

    /// The stream ended with the segment standing at `at` of `end`.
    async fn ended(&mut self, at: u64, end: u64) -> Result<StreamEnd, FetchError>;

    /// Streaming a segment failed: forget state that can no longer be
    /// trusted.
    fn failed(&mut self) {}

    /// The connection is over: keep what can serve another download, close
    /// the rest.
    async fn close(&mut self) {}
}

/// Runs a connection to its end and tells the coordinator how it ended,
/// with the segment it held (whose unfetched tail goes back to the free
/// list).
pub(crate) async fn run<S: SegmentSource>(mut src: S) {
    let mut d = Driver {
        seg: None,
        ahead: None,
        out: TargetWriter::default(),
    };
    let result = d.drive(&mut src).await;
    if let Some(w) = d.ahead.take() {
        conn_link::release(src.task(), w.claim.id);
    }
    if let Err(e) = &result {
        tracing::debug!("Connection ended: {e}");
    }
    src.close().await;
    conn_link::report_end(src.task(), d.seg.take(), result);
}

struct Driver {
    /// The segment held now.
    seg: Option<SegId>,
    /// The next segment, claimed and requested while the current one's
    /// last chunk was read (HTTP pipelining).
    ahead: Option<Work>,
    out: TargetWriter,
}

impl Driver {
    async fn drive<S: SegmentSource>(&mut self, src: &mut S) -> Result<(), FetchError> {
        src.open_session().await?;
        if src.task().probe {
            let info = src.probe().await?;
            match conn_link::report_probe(src.task(), info).await {
                ProbeDecision::Stream { claim, target } => {
                    self.out.set(target);
                    self.seg = Some(claim.id);
                    src.start_probe_segment(claim.cursor.get().0).await?;
                    self.fetch_segment(src, &claim).await?;
                }
                ProbeDecision::AskForWork { target } => {
                    self.out.set(target);
                    src.release().await;
                }
                ProbeDecision::Stop => return Ok(()),
            }
        }
        loop {
            let next = match self.ahead.take() {
                Some(w) => {
                    if let Some(done) = self.seg.take() {
                        conn_link::release(src.task(), done);
                    }
                    if src.task().stop.load(Ordering::Relaxed) {
                        conn_link::release(src.task(), w.claim.id);
                        return Ok(());
                    }
                    Some(w)
                }
                None => {
                    let at = src.stream_at();
                    conn_link::ask_for_work(src.task(), self.seg.take(), at).await
                }
            };
            let Some(work) = next else {
                return Ok(());
            };
            self.out.set(work.target);
            self.seg = Some(work.claim.id);
            let (pos, end) = work.claim.cursor.get();
            tracing::debug!("GID#{} - Segment [{pos}, {end})", src.task().gid);
            src.open(pos, end, work.total, work.ranged).await?;
            self.fetch_segment(src, &work.claim).await?;
        }
    }

    /// Streams into the segment until its end (which may move down when the
    /// coordinator splits it) or the stream's.
    ///
    /// Every chunk is reported as `Written` once its write completed, so the
    /// coordinator's view (and the control file) lags the disk by at most
    /// one chunk per connection and never runs ahead of it.
    async fn fetch_segment<S: SegmentSource>(
        &mut self,
        src: &mut S,
        claim: &Claim,
    ) -> Result<(), FetchError> {
        let writer = self.out.get(src.ctx(), src.task()).await?;
        let result = stream(src, claim, &writer, &mut self.ahead).await;
        if result.is_err() {
            src.failed();
        }
        result
    }
}

async fn stream<S: SegmentSource>(
    src: &mut S,
    claim: &Claim,
    writer: &FileWriter,
    ahead: &mut Option<Work>,
) -> Result<(), FetchError> {
    loop {
        if src.task().stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let (at, end) = claim.cursor.get();
        let (pos, mut want) = claim.cursor.next_read(src.chunk_size(at, end));
        if want == 0 {
            if at >= end {
                tracing::info!("The download for one segment completed successfully.");
            }
            return Ok(());
        }
        want = conn_link::throttle(src.task(), want).await;
        if ahead.is_none() && pos + want >= end && src.can_send_ahead() {
            // The last read of the segment: the next request goes out now,
            // so its answer follows this one without a round trip between.
            *ahead = conn_link::ask_for_work(src.task(), None, None).await;
            if let Some(w) = ahead.as_ref() {
                let (p, e) = w.claim.cursor.get();
                tracing::debug!(
                    "GID#{} - Segment [{p}, {e}) requested ahead",
                    src.task().gid
                );
                src.send_ahead(p, e).await;
            }
        }
        let Chunk {
            buf,
            len,
            finished,
            error,
        } = src.read(writer, pos, want as usize).await;
        let got = len as u64;
        let keep = claim.cursor.advance(pos, got);
        if keep > 0 {
            // Bytes read before a failure are still good: keep them.
            conn_link::write_and_report(src.task(), writer, buf, keep as usize, pos).await?;
        }
        if let Some(e) = error {
            return Err(e);
        }
        if keep < got {
            src.cut().await;
            return Ok(());
        }
        if finished {
            let (at, end) = claim.cursor.get();
            match src.ended(at, end).await? {
                StreamEnd::Complete => {
                    tracing::info!("The download for one segment completed successfully.");
                    return Ok(());
                }
                StreamEnd::Length(len) => {
                    let task = src.task();
                    let _ = task.to_coord.send(ToCoordinator::StreamEnded {
                        gid: task.gid,
                        conn: task.conn,
                        len,
                    });
                    return Ok(());
                }
                StreamEnd::Reopened => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests;
