//! `--save-session`: unfinished downloads written in aria2's input-file
//! format (URIs on one line, TAB-separated; the download's own options
//! indented below, `gid=` first), so `--input-file` restores them.

use std::path::Path;

use arietta_options::{OptionSet, Value};

use crate::download::DownloadRequest;

/// One entry of the session file.
pub struct SessionEntry {
    pub request: DownloadRequest,
    pub paused: bool,
}

/// Renders the session text as aria2's `SessionSerializer` writes it:
/// each URI followed by a TAB, ` gid=` first, then the download's options
/// in aria2's definition order.
pub fn render(entries: &[SessionEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        for u in &e.request.uris {
            out.push_str(u);
            out.push('\t');
        }
        out.push('\n');
        if let Some(g) = e.request.gid {
            out.push_str(&format!(" gid={g}\n"));
        }
        for (name, value) in saved_options(&e.request.options) {
            if name == "gid" || name == "pause" {
                continue;
            }
            match value {
                Value::Single(v) => out.push_str(&format!(" {name}={v}\n")),
                Value::List(vs) => {
                    for v in vs {
                        out.push_str(&format!(" {name}={v}\n"));
                    }
                }
            }
        }
        if e.paused {
            out.push_str(" pause=true\n");
        }
    }
    out
}

/// The options a download's entry carries, as aria2's `writeOption`
/// picks them: the per-download options its own layers set (its entry's,
/// RPC's, and the command line's, which aria2 copies into every download),
/// not those of the conf file, the environment or the defaults (the root
/// layer), in aria2's definition order.
fn saved_options(o: &OptionSet) -> Vec<(&'static str, &Value)> {
    let mut layers = vec![o];
    while let Some(p) = layers.last().and_then(|l| l.parent()) {
        layers.push(p);
    }
    if layers.len() > 1 {
        layers.pop();
    }
    let mut out: Vec<(&'static str, &Value)> = Vec::new();
    for layer in layers {
        for (name, value) in layer.iter() {
            let per_download = arietta_options::find_option(name).is_some_and(|d| d.per_download());
            if per_download && !out.iter().any(|(n, _)| *n == name) {
                out.push((name, value));
            }
        }
    }
    out.sort_by_key(|(name, _)| arietta_options::definition_rank(name));
    out
}

/// Writes the session atomically (temporary file, then rename).
pub fn save(path: &Path, text: &str) -> std::io::Result<()> {
    arietta_storage::write_atomically(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arietta_options::parse_input_file;

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
        }]);
        let entries = parse_input_file(&text).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].uris, req.uris);
        let opts = &entries[0].options;
        let has = |k: &str, v: &str| opts.iter().any(|(a, b)| a == k && b == v);
        assert!(has("gid", "2089b05ecca3d829"));
        assert!(has("out", "a b.bin"));
        assert!(has("header", "X-A: 1") && has("header", "X-B: 2"));
        assert!(has("pause", "true"));
        assert!(
            text.starts_with("http://a/x\thttp://b/x\t\n gid="),
            "{text}"
        );
    }
}
