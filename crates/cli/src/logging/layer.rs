//! The one tracing layer: every event goes to the log file (`-l`) and to
//! the console, each filtered by its own aria2 level, in aria2's formats.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::fields::{EventText, SpanText};
use super::level::{file_only, Aria2Level};
use super::line::{console_line, file_line, source_location, LocalTime};
use super::writer::LogWriter;
use crate::terminal::SharedTerminal;

/// The log file and the level it records from. Both may change while the
/// program runs, as aria2's `changeGlobalOption` of `log` and `log-level`
/// changes them; a program started without `-l` can be given one.
pub struct FileOutput {
    level: AtomicU8,
    /// Whole lines, never interleaved; direct at start, then through a
    /// writer thread (see [`LogWriter`]). `None`: no log file.
    writer: RwLock<Option<Arc<LogWriter>>>,
}

impl FileOutput {
    pub fn new(level: Aria2Level, writer: Option<Arc<LogWriter>>) -> Self {
        FileOutput {
            level: AtomicU8::new(level.rank()),
            writer: RwLock::new(writer),
        }
    }

    /// The level lines are recorded from; `None` while there is no file.
    fn level(&self) -> Option<Aria2Level> {
        self.writer()
            .map(|_| Aria2Level::from_rank(self.level.load(Ordering::Relaxed)))
    }

    pub fn set_level(&self, level: Aria2Level) {
        self.level.store(level.rank(), Ordering::Relaxed);
    }

    pub fn writer(&self) -> Option<Arc<LogWriter>> {
        self.writer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `writer` in place of the current one, which is returned.
    pub fn replace_writer(&self, writer: Option<Arc<LogWriter>>) -> Option<Arc<LogWriter>> {
        std::mem::replace(
            &mut *self.writer.write().unwrap_or_else(PoisonError::into_inner),
            writer,
        )
    }
}

/// The console (stdout, shared with the readout) and its level.
pub struct ConsoleOutput {
    pub level: Aria2Level,
    /// `--enable-color`.
    pub color: bool,
    pub terminal: SharedTerminal,
}

pub struct Aria2Layer {
    pub file: Arc<FileOutput>,
    /// `None` with `-q`.
    pub console: Option<ConsoleOutput>,
}

impl Aria2Layer {
    fn file_wants(&self, level: Aria2Level) -> bool {
        self.file.level().is_some_and(|l| level >= l)
    }

    fn console_wants(&self, meta: &Metadata<'_>, level: Aria2Level) -> bool {
        self.console.as_ref().is_some_and(|c| level >= c.level) && !file_only(meta)
    }

    /// Spans only feed the log file's line prefixes (the console shows the
    /// bare message, as aria2's does), so only the file's level admits them.
    fn wants(&self, meta: &Metadata<'_>) -> bool {
        let level = Aria2Level::of(meta);
        if meta.is_span() {
            self.file_wants(level)
        } else {
            self.file_wants(level) || self.console_wants(meta, level)
        }
    }

    /// `GID#… peer=… - ` from the spans the event happened in, outermost
    /// first; empty outside any span.
    fn span_prefix<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> String
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let mut prefix = String::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(t) = span.extensions().get::<SpanText>() {
                    if !t.0.is_empty() {
                        prefix.push_str(&t.0);
                        prefix.push_str(" - ");
                    }
                }
            }
        }
        prefix
    }
}

impl<S> Layer<S> for Aria2Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.wants(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let file = self.file.level();
        let console = self.console.as_ref().map(|c| c.level);
        Some(
            file.into_iter()
                .chain(console)
                .min()
                .map_or(LevelFilter::OFF, Aria2Level::tracing_filter),
        )
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut text = SpanText::default();
        attrs.record(&mut text);
        span.extensions_mut().insert(text);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(text) = ext.get_mut::<SpanText>() {
            values.record(text);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = Aria2Level::of(meta);
        let to_file = self.file_wants(level);
        let to_console = self.console_wants(meta, level);
        if !to_file && !to_console {
            return;
        }
        let mut text = EventText::default();
        event.record(&mut text);
        let now = LocalTime::now();
        if let (true, Some(writer)) = (to_file, self.file.writer()) {
            let source = source_location(
                text.file.as_deref().or(meta.file()),
                text.line.or(meta.line()),
            );
            let message = format!("{}{}", Self::span_prefix(event, &ctx), text.text());
            let line = file_line(&now, level, &source, &message);
            writer.write_line(line.as_bytes());
        }
        if let (true, Some(console)) = (to_console, &self.console) {
            console
                .terminal
                .lock()
                .print(&console_line(&now, level, &text.text(), console.color));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::writer::tests::Buffer;
    use tracing_subscriber::layer::SubscriberExt;

    fn logged_at(level: Aria2Level, emit: impl FnOnce()) -> Vec<String> {
        let buf = Buffer::default();
        let layer = Aria2Layer {
            file: Arc::new(FileOutput::new(
                level,
                Some(Arc::new(LogWriter::new(Box::new(buf.clone())))),
            )),
            console: None,
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    fn emit_each_level() {
        tracing::debug!("d");
        tracing::info!("i");
        tracing::info!(notice = true, "n");
        tracing::warn!("w");
        tracing::error!("e");
    }

    #[test]
    fn file_keeps_its_level_and_above() {
        let levels = |lines: Vec<String>| -> Vec<String> {
            lines
                .iter()
                .map(|l| l.split(' ').nth(2).unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            levels(logged_at(Aria2Level::Debug, emit_each_level)),
            ["[DEBUG]", "[INFO]", "[NOTICE]", "[WARN]", "[ERROR]"]
        );
        assert_eq!(
            levels(logged_at(Aria2Level::Notice, emit_each_level)),
            ["[NOTICE]", "[WARN]", "[ERROR]"]
        );
        assert_eq!(
            levels(logged_at(Aria2Level::Error, emit_each_level)),
            ["[ERROR]"]
        );
    }

    #[test]
    fn lines_carry_source_spans_and_fields() {
        let mut here = 0;
        let lines = logged_at(Aria2Level::Debug, || {
            let _d = tracing::info_span!("download", gid = "2089b05ecca3d829").entered();
            here = line!() + 1;
            tracing::info!(bytes = 3u64, "Saving");
            tracing::warn!(
                log.file = "crates/core/src/coordinator.rs",
                log.line = 710u32,
                "slow"
            );
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        let (date, rest) = lines[0].split_at(27);
        let b = date.as_bytes();
        assert!(
            b[4] == b'-' && b[10] == b' ' && b[19] == b'.' && b[26] == b' ',
            "{date:?}"
        );
        assert_eq!(
            rest,
            format!("[INFO] [cli/logging/layer.rs:{here}] GID#2089b05ecca3d829 - Saving bytes=3")
        );
        assert!(
            lines[1].ends_with("[WARN] [core/coordinator.rs:710] GID#2089b05ecca3d829 - slow"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn file_only_events_skip_the_console() {
        let layer = Aria2Layer {
            file: Arc::new(FileOutput::new(Aria2Level::Notice, None)),
            console: Some(ConsoleOutput {
                level: Aria2Level::Debug,
                color: false,
                terminal: SharedTerminal::new(false),
            }),
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        // The layer's verdict is what `enabled!` reports.
        tracing::subscriber::with_default(subscriber, || {
            assert!(!tracing::enabled!(tracing::Level::ERROR, file_only));
            assert!(tracing::enabled!(tracing::Level::ERROR));
        });
    }

    #[test]
    fn no_output_means_nothing_is_enabled() {
        let layer = Aria2Layer {
            file: Arc::new(FileOutput::new(Aria2Level::Notice, None)),
            console: None,
        };
        assert_eq!(
            Layer::<tracing_subscriber::Registry>::max_level_hint(&layer),
            Some(LevelFilter::OFF)
        );
    }
}
