//! stdout, shared by the readout (redrawn in place on a terminal) and the
//! log lines the console shows, so that a log line first wipes the readout
//! instead of being written over it.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Terminal {
    tty: bool,
    /// Length of the readout now on screen; 0 when none is.
    readout_len: usize,
}

/// The coordinator draws the readout on core 0 while log lines come from
/// every core, hence the mutex; both are rare enough not to contend.
#[derive(Clone)]
pub struct SharedTerminal(Arc<Mutex<Terminal>>);

impl SharedTerminal {
    pub fn new() -> SharedTerminal {
        SharedTerminal(Arc::new(Mutex::new(Terminal {
            tty: std::io::stdout().is_terminal(),
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

    pub fn clear_readout(&mut self) {
        if self.readout_len > 0 {
            print!("\r{}\r", " ".repeat(self.readout_len));
            self.readout_len = 0;
        }
    }

    /// Redraws the one-line readout in place (terminals only).
    pub fn redraw_readout(&mut self, line: &str) {
        let pad = self.readout_len.saturating_sub(line.len());
        print!("\r{line}{}", " ".repeat(pad));
        self.readout_len = line.len();
        let _ = std::io::stdout().flush();
    }

    /// Prints `text` as is, after wiping the readout.
    pub fn print(&mut self, text: &str) {
        self.clear_readout();
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}
