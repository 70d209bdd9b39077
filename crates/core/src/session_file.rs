//! `--save-session`: unfinished downloads written in aria2's input-file
//! format (URIs on one line, TAB-separated; the download's own options
//! indented below, `gid=` first), so `--input-file` restores them.

use std::path::Path;

use arietta_options::Value;

use crate::download::DownloadRequest;

/// One entry of the session file.
pub struct SessionEntry {
    pub request: DownloadRequest,
    pub paused: bool,
    /// It had started: its partial file is ours to continue.
    pub started: bool,
}

/// Renders the session text.
pub fn render(entries: &[SessionEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&e.request.uris.join("\t"));
        out.push('\n');
        if let Some(g) = e.request.gid {
            out.push_str(&format!(" gid={g}\n"));
        }
        let mut wrote_continue = false;
        for (name, value) in e.request.options.iter() {
            if name == "gid" || name == "pause" {
                continue;
            }
            wrote_continue |= name == "continue";
            match value {
                Value::Single(v) => out.push_str(&format!(" {name}={v}\n")),
                Value::List(vs) => {
                    for v in vs {
                        out.push_str(&format!(" {name}={v}\n"));
                    }
                }
            }
        }
        if e.started && !wrote_continue {
            out.push_str(" continue=true\n");
        }
        if e.paused {
            out.push_str(" pause=true\n");
        }
    }
    out
}

/// Writes the session atomically (temporary file, then rename).
pub fn save(path: &Path, text: &str) -> std::io::Result<()> {
    arietta_storage::write_atomically(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arietta_options::{parse_input_file, OptionSet};

    use super::*;
    use crate::gid::Gid;

    #[test]
    fn round_trips_through_the_input_file_parser() {
        let mut o = OptionSet::new();
        o.set("out", "a b.bin").unwrap();
        o.set("header", "X-A: 1").unwrap();
        o.set("header", "X-B: 2").unwrap();
        let req = DownloadRequest {
            gid: Some(Gid(0x2089b05ecca3d829)),
            uris: vec!["http://a/x".into(), "http://b/x".into()],
            options: Arc::new(o),
            metalink: None,
            snapshot: None,
            torrent: None,
        };
        let text = render(&[SessionEntry {
            request: req.clone(),
            paused: true,
            started: true,
        }]);
        let entries = parse_input_file(&text).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].uris, req.uris);
        let opts = &entries[0].options;
        let has = |k: &str, v: &str| opts.iter().any(|(a, b)| a == k && b == v);
        assert!(has("gid", "2089b05ecca3d829"));
        assert!(has("out", "a b.bin"));
        assert!(has("header", "X-A: 1") && has("header", "X-B: 2"));
        assert!(has("continue", "true") && has("pause", "true"));
    }
}
