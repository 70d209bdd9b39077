//! The console stream (stdout, or stderr with `--stderr`), shared by the
//! readout (redrawn in place on a terminal) and the log lines the console
//! shows, so that a log line first wipes the readout instead of being
//! written over it.

use std::io::{IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Terminal {
    /// `--stderr`: aria2 then sends everything it prints to stdout to
    /// stderr instead.
    stderr: bool,
    tty: bool,
    /// Length of the readout now on screen; 0 when none is.
    readout_len: usize,
}

/// The coordinator draws the readout on core 0 while log lines come from
/// every core, hence the mutex; both are rare enough not to contend.
#[derive(Clone)]
pub struct SharedTerminal(Arc<Mutex<Terminal>>);

impl SharedTerminal {
    pub fn new(stderr: bool) -> SharedTerminal {
        let tty = if stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        SharedTerminal(Arc::new(Mutex::new(Terminal {
            stderr,
            tty,
            readout_len: 0,
        })))
    }

    pub fn lock(&self) -> MutexGuard<'_, Terminal> {
        // A panic while printing leaves nothing half-updated worth refusing.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Terminal {
    pub fn is_tty(&self) -> bool {
        self.tty
    }

    /// Columns the readout may use: the terminal's width less one (some
    /// terminals wrap on the last column), 79 when it cannot be asked, as
    /// in aria2.
    pub fn columns(&self) -> usize {
        if !self.tty {
            return 79;
        }
        let fd = if self.stderr {
            std::io::stderr().as_raw_fd()
        } else {
            std::io::stdout().as_raw_fd()
        };
        // SAFETY: an all-zero winsize is a valid value for ioctl to fill.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes one winsize through the pointer, which
        // is to a live local; the fd is open for the whole call.
        // A pty nobody sized reports 0 columns: treat it as unknown.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0 && size.ws_col > 0 {
            usize::from(size.ws_col).saturating_sub(1)
        } else {
            79
        }
    }

    fn write_raw(&self, text: &str) {
        if self.stderr {
            let mut out = std::io::stderr().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }

    pub fn clear_readout(&mut self) {
        if self.readout_len > 0 {
            self.write_raw(&format!("\r{}\r", " ".repeat(self.readout_len)));
            self.readout_len = 0;
        }
    }

    /// Redraws the one-line readout in place (terminals only); `visible`
    /// is its length on screen (without color codes).
    pub fn redraw_readout(&mut self, line: &str, visible: usize) {
        let pad = self.readout_len.saturating_sub(visible);
        self.write_raw(&format!("\r{line}{}", " ".repeat(pad)));
        self.readout_len = visible;
    }

    /// Prints `text` as is, after wiping the readout.
    pub fn print(&mut self, text: &str) {
        self.clear_readout();
        self.write_raw(text);
    }
}
