//! `-l/--log`, `--log-level`, `--console-log-level` and `-q` as one tracing
//! subscriber writing aria2c's formats.
//!
//! Every crate logs with `tracing::{debug,info,warn,error}` in aria2's
//! words ("CUID#7 - Connecting to 127.0.0.1:80"); an aria2 NOTICE is
//! `info!(notice = true, …)` (see [`level`]). The coordinator's
//! `Reporter::notice` lines become such events in the console reporter, so
//! the console and the log file are fed by this one path and the file holds
//! what the console showed plus the detail below it.

mod banner;
mod fields;
mod layer;
mod level;
mod line;
mod writer;

use std::io::Write;
use std::sync::{Arc, OnceLock};

use arietta_options::OptionSet;
use tracing_subscriber::layer::SubscriberExt;

pub use banner::{log_options, log_startup, operating_system};
pub use level::Aria2Level;
pub use line::short_source;

use crate::terminal::SharedTerminal;
use layer::{Aria2Layer, ConsoleOutput, FileOutput};
use writer::LogWriter;

/// Why logging could not start as asked.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("Failed to open the file {path}, cause: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// `-l -`: the log goes to stdout, through the terminal so that its lines
/// wipe the readout like the console's do.
struct StdoutLog(SharedTerminal);

impl Write for StdoutLog {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().print(&String::from_utf8_lossy(b));
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process's subscriber from the global options. A log file
/// that cannot be opened is reported and left out; the console still
/// works.
pub fn install(global: &OptionSet, terminal: &SharedTerminal) -> Result<(), LogError> {
    let level = |name| Aria2Level::parse(global.get_str(name)).unwrap_or(Aria2Level::Notice);
    let (file, opened) = match global.get_opt_str("log").filter(|p| !p.is_empty()) {
        None => (None, Ok(())),
        Some(path) => match open_log(path, terminal) {
            Ok(writer) => {
                let writer = Arc::new(LogWriter::new(writer));
                let _ = WRITER.set(writer.clone());
                (
                    Some(FileOutput {
                        level: level("log-level"),
                        writer,
                    }),
                    Ok(()),
                )
            }
            Err(e) => (None, Err(e)),
        },
    };
    let console = (!global.get_bool("quiet")).then(|| ConsoleOutput {
        level: level("console-log-level"),
        color: global.get_bool("enable-color"),
        terminal: terminal.clone(),
    });
    let subscriber = tracing_subscriber::registry().with(Aria2Layer { file, console });
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogError::AlreadyInstalled)?;
    opened
}

/// The `-l` writer, for [`go_threaded`] and [`finish`].
static WRITER: OnceLock<Arc<LogWriter>> = OnceLock::new();

/// From here on `-l` lines are written by a thread of their own (call it
/// after `-D` has forked, before the engine starts).
pub fn go_threaded() {
    if let Some(w) = WRITER.get() {
        w.go_threaded();
    }
}

/// Writes every queued `-l` line (before the process exits).
pub fn finish() {
    if let Some(w) = WRITER.get() {
        w.finish();
    }
}

/// aria2 appends to an existing log rather than replacing it.
fn open_log(path: &str, terminal: &SharedTerminal) -> Result<Box<dyn Write + Send>, LogError> {
    if path == "-" {
        return Ok(Box::new(StdoutLog(terminal.clone())));
    }
    std::fs::File::options()
        .create(true)
        .append(true)
        .open(path)
        .map(|f| Box::new(f) as Box<dyn Write + Send>)
        .map_err(|source| LogError::Open {
            path: path.to_owned(),
            source,
        })
}
