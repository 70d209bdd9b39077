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
    let (writer, opened) = match global.get_opt_str("log").filter(|p| !p.is_empty()) {
        None => (None, Ok(())),
        Some(path) => match open_log(path, terminal) {
            Ok(writer) => (Some(Arc::new(LogWriter::new(writer))), Ok(())),
            Err(e) => (None, Err(e)),
        },
    };
    let file = Arc::new(FileOutput::new(level("log-level"), writer));
    let _ = FILE.set((file.clone(), terminal.clone()));
    let console = (!global.get_bool("quiet")).then(|| ConsoleOutput {
        level: level("console-log-level"),
        color: global.get_bool("enable-color"),
        terminal: terminal.clone(),
    });
    let subscriber = tracing_subscriber::registry().with(Aria2Layer { file, console });
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogError::AlreadyInstalled)?;
    opened
}

/// The `-l` output (for [`go_threaded`], [`finish`] and
/// [`change_global`]) and the terminal `-l -` writes through.
static FILE: OnceLock<(Arc<FileOutput>, SharedTerminal)> = OnceLock::new();

/// From here on `-l` lines are written by a thread of their own (call it
/// after `-D` has forked, before the engine starts).
pub fn go_threaded() {
    if let Some(w) = FILE.get().and_then(|(f, _)| f.writer()) {
        w.go_threaded();
    }
}

/// Writes every queued `-l` line (before the process exits).
pub fn finish() {
    if let Some(w) = FILE.get().and_then(|(f, _)| f.writer()) {
        w.finish();
    }
}

/// `changeGlobalOption` of `log` or `log-level`, applied at once as aria2
/// applies them: a new level takes effect for the next line; a new `log`
/// path is opened (appending) and the old file closed once its queued
/// lines are written; an empty one stops the log. A path that cannot be
/// opened leaves the log as it was (aria2 ignores the failure too) and says
/// so on the console. Other options are not logging's.
pub fn change_global(name: &str, value: &str) {
    let Some((file, terminal)) = FILE.get() else {
        return;
    };
    match name {
        "log-level" => {
            if let Some(level) = Aria2Level::parse(value) {
                file.set_level(level);
            }
        }
        "log" if value.is_empty() => {
            if let Some(old) = file.replace_writer(None) {
                old.finish();
            }
        }
        "log" => match open_log(value, terminal) {
            Ok(w) => {
                let writer = Arc::new(LogWriter::new(w));
                // The engine runs: lines go through a writer thread.
                writer.go_threaded();
                if let Some(old) = file.replace_writer(Some(writer)) {
                    old.finish();
                }
            }
            Err(e) => tracing::error!("{e}"),
        },
        _ => return,
    }
    // Callsites decided once whether anyone wants them; ask them again.
    tracing::callsite::rebuild_interest_cache();
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
