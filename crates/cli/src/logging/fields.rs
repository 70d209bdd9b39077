//! Turns an event's or span's fields into aria2-like text.
//!
//! An event's `message` is the line; its other fields follow it as
//! ` name=value`. Two fields say where the line comes from when that is not
//! the macro's own callsite (`log.file`, `log.line`, tracing-log's names):
//! the console reporter sets them to the coordinator's call. A span's
//! fields become the line's prefix, in aria2's `GID#… - ` manner: `gid` and
//! `cuid` are written `GID#v` and `CUID#v`, any other field `name=v`.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};

use super::level::{FILE_ONLY_FIELD, NOTICE_FIELD};

/// What one event says.
#[derive(Default)]
pub struct EventText {
    pub message: String,
    /// ` name=value` for each field other than the message.
    pub extra: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

impl EventText {
    /// The message and the extra fields.
    pub fn text(&self) -> String {
        let mut s = self.message.clone();
        s.push_str(&self.extra);
        s
    }
}

impl Visit for EventText {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            "log.file" => self.file = Some(value.to_owned()),
            name => {
                let _ = write!(self.extra, " {name}={value}");
            }
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "log.line" => self.line = u32::try_from(value).ok(),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match field.name() {
            "log.line" => self.line = u32::try_from(value).ok(),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            // `format_args!` debug-prints as its text.
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            NOTICE_FIELD | FILE_ONLY_FIELD | "log.target" | "log.module_path" => {}
            name => {
                let _ = write!(self.extra, " {name}={value:?}");
            }
        }
    }
}

/// A span's fields as the prefix they give its lines (`GID#2089b0… peer=…`).
#[derive(Default)]
pub struct SpanText(pub String);

impl SpanText {
    fn push(&mut self, name: &str, value: fmt::Arguments<'_>) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = match name {
            "gid" => write!(self.0, "GID#{value}"),
            "cuid" => write!(self.0, "CUID#{value}"),
            _ => write!(self.0, "{name}={value}"),
        };
    }
}

impl Visit for SpanText {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field.name(), format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field.name(), format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records what the visitors make of real macro invocations.
    struct Capture(Arc<Mutex<Vec<String>>>);

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, a: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            let mut t = SpanText::default();
            a.record(&mut t);
            self.0.lock().unwrap().push(t.0);
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, e: &tracing::Event<'_>) {
            let mut t = EventText::default();
            e.record(&mut t);
            let at = format!("{:?}:{:?}", t.file, t.line);
            self.0.lock().unwrap().push(format!("{} @{at}", t.text()));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    fn capture(f: impl FnOnce()) -> Vec<String> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::with_default(Capture(seen.clone()), f);
        let v = seen.lock().unwrap().clone();
        v
    }

    #[test]
    fn events_read_as_message_then_fields() {
        let seen = capture(|| {
            let n = 7;
            tracing::info!("CUID#{n} - Connecting to {}", "127.0.0.1:80");
            tracing::info!(notice = true, "Download complete: /tmp/a");
            tracing::debug!(bytes = 5u64, name = "x", "written");
            tracing::warn!(
                log.file = "crates/core/src/a.rs",
                log.line = 9u64,
                "from elsewhere"
            );
        });
        assert_eq!(
            seen,
            [
                "CUID#7 - Connecting to 127.0.0.1:80 @None:None",
                "Download complete: /tmp/a @None:None",
                "written bytes=5 name=x @None:None",
                "from elsewhere @Some(\"crates/core/src/a.rs\"):Some(9)",
            ]
        );
    }

    #[test]
    fn spans_read_as_aria2_prefixes() {
        let seen = capture(|| {
            let _s = tracing::info_span!("download", gid = "2089b05ecca3d829").entered();
            let _p = tracing::debug_span!("peer", peer = %"10.0.0.1:6881", cuid = 12).entered();
        });
        assert_eq!(seen, ["GID#2089b05ecca3d829", "peer=10.0.0.1:6881 CUID#12"]);
    }
}
