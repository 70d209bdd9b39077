//! `-o -`: a download written to a pipe, in order, with bounded memory.
//!
//! Connections deliver chunks at any offset and in any order (segments,
//! several cores); a pipe takes bytes only in order. An [`OrderedSink`]
//! keeps the chunks that arrived ahead of the write cursor in a reorder
//! buffer and a thread of its own writes them out as soon as they are
//! contiguous with what was written. The buffer is bounded by a *window*:
//! a chunk whose end lies more than the window past the bytes already
//! written waits (asynchronously, without holding a core) until the reader
//! has taken enough, so a connection that runs ahead of the others, or a
//! reader slower than the network, slows the connections down (TCP's own
//! backpressure then reaches the server) instead of growing memory.
//!
//! The writer is a plain OS thread because a pipe write blocks for as long
//! as the reader does not read; on an executor thread that would stall
//! every connection of the core.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Poll, Waker};

use crate::StorageError;

/// How far past the written bytes chunks may be held: the bound on the
/// sink's memory (plus one chunk being written).
pub const STREAM_WINDOW: u64 = 16 << 20;

/// The name errors and the results table give the output.
const NAME: &str = "-";

/// An in-order writer over out-of-order chunks; see the module docs.
pub struct OrderedSink {
    state: Mutex<State>,
    /// The writer thread waits here for the chunk at its cursor.
    ready: Condvar,
    /// [`OrderedSink::finish`] waits here for bytes to be written.
    progress: Condvar,
    window: u64,
    /// Sees every byte after it was written out, in order (`--checksum`).
    tap: Mutex<Option<Tap>>,
}

/// A function fed each chunk written out, in order.
pub type Tap = Box<dyn FnMut(&[u8]) + Send>;

impl std::fmt::Debug for OrderedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("OrderedSink")
            .field("flushed", &st.flushed)
            .field("contiguous", &st.contiguous)
            .field("held", &st.held)
            .finish()
    }
}

#[derive(Default)]
struct State {
    /// Bytes written to the output.
    flushed: u64,
    /// End of the accepted bytes that follow `flushed` without a gap
    /// (`flushed <= contiguous`).
    contiguous: u64,
    /// Accepted chunks not yet written, by offset.
    ahead: BTreeMap<u64, Vec<u8>>,
    /// Bytes in `ahead`.
    held: u64,
    /// Writers waiting for room in the window.
    waiters: Vec<Waker>,
    /// The output failed (the reader went away): every write fails now.
    failed: Option<(std::io::ErrorKind, Option<i32>, String)>,
    /// The download that writes here; a second one is refused.
    owner: Option<u64>,
}

impl State {
    fn error(&self) -> Option<StorageError> {
        self.failed.as_ref().map(|(kind, raw, msg)| {
            let source = match raw {
                Some(code) => std::io::Error::from_raw_os_error(*code),
                None => std::io::Error::new(*kind, msg.clone()),
            };
            StorageError::Write {
                path: PathBuf::from(NAME),
                source,
            }
        })
    }
}

impl OrderedSink {
    /// A sink writing to `out` from a thread of its own, holding at most
    /// `window` bytes ahead of what `out` took.
    pub fn spawn<W: Write + Send + 'static>(
        out: W,
        window: u64,
    ) -> std::io::Result<Arc<OrderedSink>> {
        let sink = Arc::new(OrderedSink {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            progress: Condvar::new(),
            window: window.max(1),
            tap: Mutex::new(None),
        });
        let s = sink.clone();
        std::thread::Builder::new()
            .name("arietta-stdout".into())
            .spawn(move || s.write_out(out))?;
        Ok(sink)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing here is left half-updated by a panic worth refusing.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes download `owner` the one that writes here; false when another
    /// download already does (stdout holds one file).
    pub fn claim(&self, owner: u64) -> bool {
        let mut st = self.lock();
        match st.owner {
            Some(o) => o == owner,
            None => {
                st.owner = Some(owner);
                true
            }
        }
    }

    /// Feeds every byte written out from now on to `tap`, in order.
    pub fn set_tap(&self, tap: Tap) {
        *self.tap.lock().unwrap_or_else(|e| e.into_inner()) = Some(tap);
    }

    /// Bytes written to the output so far.
    pub fn flushed(&self) -> u64 {
        self.lock().flushed
    }

    /// Bytes accepted and not yet written (the reorder buffer).
    pub fn held(&self) -> u64 {
        self.lock().held
    }

    /// Accepts `data`, the bytes at offset `pos`, once the window has room
    /// for them. Bytes before the contiguous accepted prefix are dropped (a
    /// download restarted from byte 0 without ranges sends them again).
    /// Fails once the output has failed.
    pub async fn write(&self, pos: u64, data: Vec<u8>) -> Result<(), StorageError> {
        let mut data = Some(data);
        futures_lite::future::poll_fn(|cx| {
            let mut st = self.lock();
            if let Some(e) = st.error() {
                return Poll::Ready(Err(e));
            }
            let len = data.as_ref().map_or(0, Vec::len) as u64;
            let end = pos + len;
            if end <= st.contiguous {
                return Poll::Ready(Ok(()));
            }
            // The chunk at the cursor is always let in, so even a chunk
            // larger than the window cannot wait forever.
            if end > st.flushed + self.window && pos > st.flushed {
                st.waiters.push(cx.waker().clone());
                return Poll::Pending;
            }
            let mut d = data.take().unwrap_or_default();
            let mut at = pos;
            if at < st.contiguous {
                d.drain(..(st.contiguous - at) as usize);
                at = st.contiguous;
            }
            st.held += d.len() as u64;
            if let Some(old) = st.ahead.insert(at, d) {
                // The same offset twice (never planned): keep one copy.
                st.held -= old.len() as u64;
            }
            let mut c = st.contiguous;
            while let Some(v) = st.ahead.get(&c) {
                c += v.len() as u64;
            }
            let moved = c != st.contiguous;
            st.contiguous = c;
            drop(st);
            if moved {
                self.ready.notify_one();
            }
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// Blocks until the first `len` bytes are written out (flushed to the
    /// output), or fails with the output's error.
    pub fn finish(&self, len: u64) -> Result<(), StorageError> {
        let mut st = self.lock();
        loop {
            if let Some(e) = st.error() {
                return Err(e);
            }
            if st.flushed >= len {
                return Ok(());
            }
            st = self.progress.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The writer thread: the chunk at the cursor, whenever it is there.
    fn write_out<W: Write>(&self, mut out: W) {
        loop {
            let chunk = {
                let mut st = self.lock();
                loop {
                    let at = st.flushed;
                    if let Some(c) = st.ahead.remove(&at) {
                        break c;
                    }
                    st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            };
            let result = out.write_all(&chunk).and_then(|()| out.flush());
            if result.is_ok() {
                if let Some(tap) = self.tap.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                    tap(&chunk);
                }
            }
            let mut st = self.lock();
            st.held -= chunk.len() as u64;
            match result {
                Ok(()) => st.flushed += chunk.len() as u64,
                Err(e) => {
                    tracing::debug!("Writing to stdout failed: {e}");
                    st.failed = Some((e.kind(), e.raw_os_error(), e.to_string()));
                    st.held = 0;
                    st.ahead.clear();
                }
            }
            let waiters = std::mem::take(&mut st.waiters);
            let failed = st.failed.is_some();
            drop(st);
            drop(chunk);
            self.progress.notify_all();
            for w in waiters {
                w.wake();
            }
            if failed {
                return;
            }
        }
    }
}

static STDOUT: OnceLock<Arc<OrderedSink>> = OnceLock::new();

/// Makes `sink` the process's stdout for `-o -` (the cli does this once,
/// before anything else could write to stdout). False when one was set.
pub fn install_stdout_sink(sink: Arc<OrderedSink>) -> bool {
    STDOUT.set(sink).is_ok()
}

/// The process's stdout sink, when `-o -` set one up.
pub fn stdout_sink() -> Option<Arc<OrderedSink>> {
    STDOUT.get().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A `Write` into shared memory that can be told to fail or go slowly.
    #[derive(Clone, Default)]
    struct Pipe {
        got: Arc<Mutex<Vec<u8>>>,
        fail_after: Option<usize>,
        delay_ms: u64,
        peak_held: Arc<AtomicU64>,
    }

    impl Write for Pipe {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let mut got = self.got.lock().unwrap();
            if self.fail_after.is_some_and(|n| got.len() >= n) {
                return Err(std::io::Error::from_raw_os_error(libc::EPIPE));
            }
            std::thread::sleep(std::time::Duration::from_millis(self.delay_ms));
            got.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn byte(i: u64) -> u8 {
        (i % 251) as u8
    }

    fn chunk(pos: u64, len: u64) -> Vec<u8> {
        (pos..pos + len).map(byte).collect()
    }

    /// Writes `chunks` from several threads in an order that puts later
    /// offsets first; checks order, content and the window bound.
    #[test]
    fn reorders_within_the_window() {
        let pipe = Pipe {
            delay_ms: 1,
            ..Pipe::default()
        };
        let window = 64 << 10;
        let sink = OrderedSink::spawn(pipe.clone(), window).unwrap();
        let total = 1 << 20;
        let piece = 16 << 10;
        let mut handles = vec![];
        for t in 0..4u64 {
            let sink = sink.clone();
            let peak = pipe.peak_held.clone();
            handles.push(std::thread::spawn(move || {
                // Thread t writes pieces t, t+4, …, each in two reversed halves.
                let mut p = t * piece;
                while p < total {
                    let half = piece / 2;
                    futures_lite::future::block_on(sink.write(p + half, chunk(p + half, half)))
                        .unwrap();
                    peak.fetch_max(sink.held(), Ordering::Relaxed);
                    futures_lite::future::block_on(sink.write(p, chunk(p, half))).unwrap();
                    peak.fetch_max(sink.held(), Ordering::Relaxed);
                    p += 4 * piece;
                }
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
        sink.finish(total).unwrap();
        let got = pipe.got.lock().unwrap();
        assert_eq!(got.len() as u64, total);
        assert!(got.iter().enumerate().all(|(i, &b)| b == byte(i as u64)));
        let peak = pipe.peak_held.load(Ordering::Relaxed);
        assert!(peak <= window + piece, "held {peak} past the window");
    }

    #[test]
    fn bytes_already_accepted_are_dropped() {
        let pipe = Pipe::default();
        let sink = OrderedSink::spawn(pipe.clone(), 1 << 20).unwrap();
        futures_lite::future::block_on(async {
            sink.write(0, chunk(0, 1000)).await.unwrap();
            // A restart from byte 0 sends the start again.
            sink.write(0, chunk(0, 600)).await.unwrap();
            sink.write(0, chunk(0, 1500)).await.unwrap();
            sink.write(1500, chunk(1500, 500)).await.unwrap();
        });
        sink.finish(2000).unwrap();
        assert_eq!(*pipe.got.lock().unwrap(), chunk(0, 2000));
    }

    #[test]
    fn a_failed_output_fails_waiting_and_later_writes() {
        let pipe = Pipe {
            fail_after: Some(100),
            ..Pipe::default()
        };
        let sink = OrderedSink::spawn(pipe, 4096).unwrap();
        assert!(sink.claim(7));
        assert!(sink.claim(7));
        assert!(!sink.claim(8), "one download owns stdout");
        futures_lite::future::block_on(async {
            sink.write(0, chunk(0, 4096)).await.unwrap();
            // Accepted once the first chunk is out; writing it fails.
            sink.write(4096, chunk(4096, 4096)).await.unwrap();
        });
        let e = sink.finish(8192).unwrap_err();
        assert_eq!(e.aria2_exit_code(), 17);
        assert_eq!(sink.held(), 0, "nothing is kept for a dead reader");
        let later = futures_lite::future::block_on(sink.write(8192, chunk(8192, 10)));
        assert!(later.is_err());
    }
}
