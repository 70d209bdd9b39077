//! Where `-l` lines go: straight to the file while the program starts (so
//! the start-up lines are on disk before `-D` forks, and a writer thread
//! would not survive the fork), then through a thread of its own once the
//! engine runs, so an executor thread never waits on the disk for a log
//! line — at `--log-level=debug` there is one per chunk.

use std::io::Write;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// Lines queued for the writer thread before a logging core waits: far
/// more than a burst of debug lines, little memory (short lines).
const QUEUE_LINES: usize = 16 << 10;

enum State {
    /// Each line written and flushed by the caller, as aria2 does.
    Direct(Box<dyn Write + Send>),
    /// Lines go to the writer thread, in order.
    Threaded {
        tx: SyncSender<Vec<u8>>,
        thread: JoinHandle<()>,
    },
    /// After [`LogWriter::finish`]: lines are dropped.
    Closed,
}

/// The log file's writer; see the module doc.
pub struct LogWriter(Mutex<State>);

impl LogWriter {
    pub fn new(w: Box<dyn Write + Send>) -> Self {
        LogWriter(Mutex::new(State::Direct(w)))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes one whole line (or queues it for the writer thread).
    pub fn write_line(&self, line: &[u8]) {
        match &mut *self.state() {
            State::Direct(w) => {
                let _ = w.write_all(line);
                let _ = w.flush();
            }
            // A full queue makes the caller wait rather than lose a line.
            State::Threaded { tx, .. } => {
                let _ = tx.send(line.to_vec());
            }
            State::Closed => {}
        }
    }

    /// From now on lines go through a writer thread.
    pub fn go_threaded(&self) {
        let mut st = self.state();
        let State::Direct(_) = &*st else { return };
        let State::Direct(w) = std::mem::replace(&mut *st, State::Closed) else {
            unreachable!("checked above");
        };
        let (tx, rx) = mpsc::sync_channel(QUEUE_LINES);
        let thread = std::thread::Builder::new()
            .name("arietta-log".into())
            .spawn(move || write_lines(w, rx));
        *st = match thread {
            Ok(thread) => State::Threaded { tx, thread },
            Err(e) => {
                // The writer went with the closure that never ran.
                eprintln!("arietta: cannot start the log writer thread ({e}); -l stops here");
                State::Closed
            }
        };
    }

    /// Writes what is queued and stops the thread (at exit).
    pub fn finish(&self) {
        let st = std::mem::replace(&mut *self.state(), State::Closed);
        match st {
            State::Threaded { tx, thread } => {
                drop(tx);
                let _ = thread.join();
            }
            State::Direct(mut w) => {
                let _ = w.flush();
            }
            State::Closed => {}
        }
    }
}

/// The thread: write each line, flush whenever the queue runs dry.
fn write_lines(mut w: Box<dyn Write + Send>, rx: Receiver<Vec<u8>>) {
    while let Ok(line) = rx.recv() {
        let _ = w.write_all(&line);
        while let Ok(more) = rx.try_recv() {
            let _ = w.write_all(&more);
        }
        let _ = w.flush();
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use super::*;

    /// A writer tests can read back (the layer's tests use it too).
    #[derive(Clone, Default)]
    pub(in crate::logging) struct Buffer(pub(in crate::logging) Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn direct_then_threaded_keeps_every_line_in_order() {
        let buf = Buffer::default();
        let w = LogWriter::new(Box::new(buf.clone()));
        w.write_line(b"a\n");
        assert_eq!(&*buf.0.lock().unwrap(), b"a\n", "written at once");
        w.go_threaded();
        w.go_threaded();
        for i in 0..1000 {
            w.write_line(format!("{i}\n").as_bytes());
        }
        w.finish();
        w.write_line(b"after\n");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1001);
        assert_eq!(lines[0], "a");
        assert!(lines[1..]
            .iter()
            .enumerate()
            .all(|(i, l)| *l == i.to_string()));
    }
}
