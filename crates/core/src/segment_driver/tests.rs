//! The driver against an in-memory source and a scripted coordinator: no
//! sockets, real file writes (the write-then-report order is the point).

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arietta_options::OptionSet;
use arietta_runtime::{mailbox, Mailbox};
use arietta_storage::{OpenFiles, RangeSet};

use super::*;
use crate::config::DownloadConfig;
use crate::connection_pool::ConnectionPool;
use crate::gid::Gid;
use crate::messages::{FileTarget, Work};
use crate::net_context::NetContext;
use crate::segment_map::SegmentMap;

const CHUNK: u64 = 16 << 10;
const TOTAL: u64 = 512 << 10;

fn byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// What the test does on the source's `n`th read (counting from 1), while
/// the read is in flight.
type Hook = Box<dyn Fn(usize, &FakeSource)>;

/// Segments a test split off and gives back at the next `NeedWork`.
type Orphans = Rc<RefCell<Vec<SegId>>>;

/// A [`Hook`] as a test writes it (sent to the executor's thread).
type TestHook = Box<dyn Fn(usize, &FakeSource, &Orphans) + Send>;

/// A file in memory, read as one stream that can continue from segment to
/// segment (as FTP's can).
struct FakeSource {
    ctx: CoreContext,
    task: ConnTask,
    map: Rc<RefCell<SegmentMap>>,
    len: u64,
    known_length: bool,
    /// Where the open stream stands.
    at: Option<u64>,
    /// The stream breaks when it reaches this byte.
    fail_at: Option<u64>,
    seen: Rc<Counters>,
    hook: Option<Hook>,
}

/// What happened to the source, kept after the driver consumed it.
#[derive(Default)]
struct Counters {
    reads: Cell<usize>,
    opens: Cell<usize>,
    cuts: Cell<usize>,
    failures: Cell<usize>,
    closed: Cell<bool>,
}

fn bump(c: &Cell<usize>) -> usize {
    c.set(c.get() + 1);
    c.get()
}

impl SegmentSource for FakeSource {
    fn task(&self) -> &ConnTask {
        &self.task
    }

    fn ctx(&self) -> &CoreContext {
        &self.ctx
    }

    fn chunk_size(&self, _: u64, _: u64) -> u64 {
        CHUNK
    }

    async fn probe(&mut self) -> Result<ProbeInfo, FetchError> {
        self.at = Some(0);
        Ok(ProbeInfo {
            final_url: self.task.url.clone(),
            total: self.known_length.then_some(self.len),
            ranges: self.known_length,
            disposition_name: None,
            last_modified: None,
            validator: None,
            not_modified: false,
            mirrors: Vec::new(),
            digest: None,
            follow: None,
        })
    }

    fn stream_at(&self) -> Option<u64> {
        self.at
    }

    async fn open(&mut self, pos: u64, _: u64, _: Option<u64>, _: bool) -> Result<(), FetchError> {
        if self.at != Some(pos) {
            bump(&self.seen.opens);
            self.at = Some(pos);
        }
        Ok(())
    }

    async fn read(&mut self, writer: &FileWriter, pos: u64, want: usize) -> Chunk {
        let n = bump(&self.seen.reads);
        if let Some(h) = &self.hook {
            h(n, self);
        }
        assert_eq!(self.at, Some(pos), "read where the stream does not stand");
        let mut buf = writer.chunk(want);
        let stop = (pos + want as u64)
            .min(self.len)
            .min(self.fail_at.unwrap_or(u64::MAX));
        for (i, b) in buf.as_mut_slice()[..(stop - pos) as usize]
            .iter_mut()
            .enumerate()
        {
            *b = byte(pos + i as u64);
        }
        self.at = Some(stop);
        let error = (Some(stop) == self.fail_at)
            .then(|| FetchError::WrongResponse("the fake stream broke".into()));
        Chunk {
            buf,
            len: (stop - pos) as usize,
            finished: stop == self.len,
            error,
        }
    }

    async fn cut(&mut self) {
        bump(&self.seen.cuts);
        self.at = None;
    }

    async fn ended(&mut self, at: u64, _: u64) -> Result<StreamEnd, FetchError> {
        self.at = None;
        Ok(if self.known_length {
            StreamEnd::Complete
        } else {
            StreamEnd::Length(at)
        })
    }

    fn failed(&mut self) {
        bump(&self.seen.failures);
        self.at = None;
    }

    async fn close(&mut self) {
        self.seen.closed.set(true);
    }
}

/// What the scripted coordinator saw.
#[derive(Default)]
struct Seen {
    written: Vec<(u64, u64)>,
    asked_at: Vec<Option<u64>>,
    stream_ended: Option<u64>,
    ended: Option<(Option<SegId>, Result<(), FetchError>)>,
}

/// Answers the connection as the coordinator would, from a real
/// `SegmentMap`: the probe gets the first segment, `NeedWork` releases the
/// finished one (and any `orphans` that tests split off), then claims.
async fn coordinator(
    inbox: Mailbox<ToCoordinator>,
    map: Rc<RefCell<SegmentMap>>,
    target: FileTarget,
    orphans: Orphans,
    stop: Arc<AtomicBool>,
) -> Seen {
    let mut seen = Seen::default();
    while let Some(msg) = inbox.recv().await {
        match msg {
            ToCoordinator::Probed { result, reply, .. } => {
                let info = result.expect("probe");
                if info.total.is_none() {
                    *map.borrow_mut() = SegmentMap::unknown_length();
                }
                let claim = map.borrow_mut().claim(Some(0)).expect("first segment");
                let target = target.clone();
                let _ = reply.send(ProbeDecision::Stream { claim, target });
            }
            ToCoordinator::NeedWork {
                finished,
                at,
                reply,
                ..
            } => {
                seen.asked_at.push(at);
                let mut m = map.borrow_mut();
                for id in finished.into_iter().chain(orphans.borrow_mut().drain(..)) {
                    m.release(id);
                }
                // Interrupted or complete: no more work (as the real one).
                if stop.load(Ordering::Relaxed) || m.is_complete() {
                    let _ = reply.send(None);
                    continue;
                }
                let work = m.claim(at).map(|claim| Work {
                    claim,
                    target: target.clone(),
                    total: Some(m.total()),
                    ranged: true,
                });
                let _ = reply.send(work);
            }
            ToCoordinator::Written { start, end, .. } => {
                map.borrow_mut().written(start, end);
                seen.written.push((start, end));
            }
            ToCoordinator::StreamEnded { len, .. } => {
                map.borrow_mut().set_total(len);
                seen.stream_ended = Some(len);
            }
            ToCoordinator::ConnEnded { seg, result, .. } => {
                seen.ended = Some((seg, result));
                break;
            }
            _ => panic!("unexpected message"),
        }
    }
    seen
}

struct Outcome {
    seen: Seen,
    file: Vec<u8>,
    reads: usize,
    opens: usize,
    cuts: usize,
    failures: usize,
    closed: bool,
    done: RangeSet,
}

/// Runs one probing connection over a fake file of `TOTAL` bytes.
fn run_fake(known_length: bool, fail_at: Option<u64>, hook: Option<TestHook>) -> Outcome {
    // Under target/, not /tmp: /tmp may be tmpfs.
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target");
    std::fs::create_dir_all(base).unwrap();
    let dir = tempfile::tempdir_in(base).unwrap();
    let path: PathBuf = dir.path().join("f.bin");
    std::fs::write(&path, b"").unwrap();
    let p = path.clone();
    let out = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            let (to_coord, inbox) = mailbox();
            let o = OptionSet::new();
            let task = ConnTask {
                gid: Gid::new(),
                conn: 1,
                url: "fake://file".into(),
                probe: true,
                if_modified_since: None,
                cfg: Arc::new(DownloadConfig::from_options(&o)),
                net: Arc::new(NetContext::from_options(&o).unwrap()),
                limit: None,
                stop: Arc::new(AtomicBool::new(false)),
                received: Arc::default(),
                to_coord,
            };
            let map = Rc::new(RefCell::new(SegmentMap::new(
                TOTAL,
                RangeSet::new(),
                1,
                64 << 10,
            )));
            let orphans = Rc::new(RefCell::new(Vec::new()));
            let hook = hook.map(|h| {
                let orphans = orphans.clone();
                Box::new(move |n: usize, s: &FakeSource| h(n, s, &orphans)) as Hook
            });
            let counters = Rc::new(Counters::default());
            let stop = task.stop.clone();
            let src = FakeSource {
                ctx: CoreContext {
                    files: OpenFiles::new(),
                    pool: ConnectionPool::new(),
                    h2: Default::default(),
                    ftp_pool: ConnectionPool::new(),
                },
                task,
                map: map.clone(),
                len: TOTAL,
                known_length,
                at: None,
                fail_at,
                seen: counters.clone(),
                hook,
            };
            let target = FileTarget {
                path: Arc::new(p),
                direct: false,
                stream: false,
            };
            let (_, seen) = futures_lite::future::zip(
                run(src),
                coordinator(inbox, map.clone(), target, orphans, stop),
            )
            .await;
            let done = map.borrow().done().clone();
            Outcome {
                seen,
                file: Vec::new(),
                reads: counters.reads.get(),
                opens: counters.opens.get(),
                cuts: counters.cuts.get(),
                failures: counters.failures.get(),
                closed: counters.closed.get(),
                done,
            }
        })
        .unwrap()
        .join()
        .unwrap();
    Outcome {
        file: std::fs::read(&path).unwrap(),
        ..out
    }
}

fn expected(len: u64) -> Vec<u8> {
    (0..len).map(byte).collect()
}

/// Every `Written` report follows the previous one and no report covers
/// bytes twice.
fn assert_contiguous(written: &[(u64, u64)]) {
    for w in written.windows(2) {
        assert_eq!(w[0].1, w[1].0, "reports {written:?}");
    }
}

#[test]
fn whole_file_in_chunks() {
    let o = run_fake(true, None, None);
    assert_eq!(o.file, expected(TOTAL));
    assert_eq!(o.reads as u64, TOTAL / CHUNK);
    assert_contiguous(&o.seen.written);
    assert_eq!(o.seen.written.len() as u64, TOTAL / CHUNK);
    assert_eq!(o.done.covered(), TOTAL);
    let (seg, result) = o.seen.ended.unwrap();
    assert!(result.is_ok() && seg.is_none());
    assert_eq!(o.seen.asked_at, vec![None]);
    assert_eq!((o.opens, o.cuts, o.failures), (0, 0, 0));
    assert!(o.closed);
}

#[test]
fn a_split_segment_continues_the_open_stream_into_the_free_half() {
    // On the second read another connection takes the back half; it gives
    // it back at once, so the stream that reaches the split point runs on
    // into it without a new request.
    let hook = Box::new(|n: usize, s: &FakeSource, orphans: &Orphans| {
        if n == 2 {
            let c = s.map.borrow_mut().claim(None).expect("split");
            orphans.borrow_mut().push(c.id);
        }
    });
    let o = run_fake(true, None, Some(hook));
    assert_eq!(o.file, expected(TOTAL));
    assert_contiguous(&o.seen.written);
    let mid = 272 << 10;
    assert_eq!(o.seen.asked_at, vec![Some(mid), None]);
    assert_eq!((o.opens, o.cuts), (0, 0));
    assert!(o.seen.ended.unwrap().1.is_ok());
}

#[test]
fn bytes_read_past_a_moved_end_are_not_written() {
    // While the second chunk is read, the coordinator takes back the rest
    // of the segment (a slow mirror dropped): the chunk belongs to someone
    // else, the stream is cut, and the connection reopens where the free
    // range starts.
    let hook = Box::new(|n: usize, s: &FakeSource, _: &Orphans| {
        if n == 2 {
            s.map.borrow_mut().reclaim(1);
        }
    });
    let o = run_fake(true, None, Some(hook));
    assert_eq!(o.file, expected(TOTAL));
    assert_contiguous(&o.seen.written);
    assert_eq!(o.seen.written[0], (0, CHUNK));
    assert_eq!(
        o.seen.written[1],
        (CHUNK, 2 * CHUNK),
        "read again after the cut"
    );
    assert_eq!((o.opens, o.cuts), (1, 1));
    assert_eq!(o.seen.asked_at, vec![None, None]);
}

#[test]
fn a_failure_mid_range_keeps_what_was_read() {
    let fail_at = 3 * CHUNK + 100;
    let o = run_fake(true, Some(fail_at), None);
    let (seg, result) = o.seen.ended.unwrap();
    assert!(matches!(result, Err(FetchError::WrongResponse(_))));
    assert_eq!(seg, Some(1), "the held segment goes back with the error");
    assert_eq!(o.done.covered(), fail_at);
    assert_eq!(o.seen.written.last(), Some(&(3 * CHUNK, fail_at)));
    assert_eq!(o.file, expected(fail_at));
    assert_eq!(o.failures, 1);
    assert!(o.closed);
}

#[test]
fn the_stop_flag_ends_the_connection_at_the_next_chunk() {
    let hook = Box::new(|n: usize, s: &FakeSource, _: &Orphans| {
        if n == 2 {
            s.task.stop.store(true, Ordering::Relaxed);
        }
    });
    let o = run_fake(true, None, Some(hook));
    assert_eq!(o.reads, 2);
    assert_eq!(o.seen.written, vec![(0, CHUNK), (CHUNK, 2 * CHUNK)]);
    // It still asks once (releasing its segment) and gets nothing.
    assert_eq!(o.seen.asked_at, vec![Some(2 * CHUNK)]);
    let (seg, result) = o.seen.ended.unwrap();
    assert!(result.is_ok() && seg.is_none());
    assert!(o.closed);
}

#[test]
fn a_stream_of_unknown_length_reports_where_it_ended() {
    let o = run_fake(false, None, None);
    assert_eq!(o.seen.stream_ended, Some(TOTAL));
    assert_eq!(o.file, expected(TOTAL));
    assert!(o.seen.ended.unwrap().1.is_ok());
}
