//! A metalink document → the downloads aria2 would start for it.
//!
//! Used by `-M`, by a metalink given as a local path, by
//! `--follow-metalink` when an HTTP response turns out to be a metalink,
//! and by RPC `aria2.addMetalink`, so all four pick the same files, order
//! mirrors the same way and verify with the same hashes.

use std::sync::Arc;

use arietta_metalink::{PieceHashes, PreferredProtocol, SelectionOptions, Url};
use arietta_options::OptionSet;

use crate::download::DownloadRequest;
use crate::error::FetchError;

/// Largest metalink document accepted (the parser's default limit); a
/// bigger one is refused before it is read whole.
pub const METALINK_MAX_BYTES: usize = 4 * 1024 * 1024;

/// What a metalink says about one file beyond its mirrors and name (those
/// travel as the request's URIs and its `out` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetalinkFile {
    /// Path relative to `--dir`, already sanitized.
    pub name: String,
    /// Declared size: a server reporting another length is not this file.
    pub size: Option<u64>,
    /// Chunk checksums, checked as pieces complete when
    /// `--realtime-chunk-checksum` is on.
    pub pieces: Option<PieceHashes>,
    /// Detached signature, saved as `NAME.sig` next to the finished file.
    pub signature: Option<String>,
    /// The best `<metaurl mediatype="torrent">` of a file offered by no
    /// usable URL: the download is that torrent.
    pub torrent: Option<String>,
}

/// The downloads of one metalink and the notices to show about what was
/// left out.
#[derive(Debug)]
pub struct MetalinkPlan {
    pub requests: Vec<DownloadRequest>,
    pub notices: Vec<String>,
}

/// Whether a name or a media type says "metalink" (aria2's rule for
/// `--follow-metalink` and for local files).
pub fn looks_like_metalink(name: &str, content_type: Option<&str>) -> bool {
    let ct = content_type
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if ct == "application/metalink4+xml" || ct == "application/metalink+xml" {
        return true;
    }
    let path = name.split(['?', '#']).next().unwrap_or("");
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".meta4") || lower.ends_with(".metalink")
}

/// The `--metalink-*` options of `o`.
pub fn selection_options(o: &OptionSet) -> SelectionOptions {
    let nonempty = |n: &str| {
        o.get_opt_str(n)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    SelectionOptions {
        locations: o
            .get_opt_str("metalink-location")
            .map(SelectionOptions::parse_locations)
            .unwrap_or_default(),
        preferred_protocol: PreferredProtocol::from_option(
            o.get_str("metalink-preferred-protocol"),
        )
        .unwrap_or_default(),
        language: nonempty("metalink-language"),
        os: nonempty("metalink-os"),
        version: nonempty("metalink-version"),
        unique_protocol: o.get_bool("metalink-enable-unique-protocol"),
    }
}

/// Parses aria2's `--select-file` value (`1-3,5`) into 1-based indexes;
/// empty means every file.
fn selected_indexes(spec: &str) -> Option<Vec<usize>> {
    let spec = spec.trim();
    if spec.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for part in spec.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().ok(),
                b.trim().parse::<usize>().ok(),
            ),
            None => {
                let n = part.trim().parse::<usize>().ok();
                (n, n)
            }
        };
        if let (Some(lo), Some(hi)) = (lo, hi) {
            // Bounded: indexes past the document's files select nothing.
            out.extend(lo..=hi.min(lo.saturating_add(1 << 20)));
        }
    }
    Some(out)
}

/// Turns a metalink document into downloads.
///
/// `base` is where the document came from (its URI), used to resolve
/// relative `<url>`s; without one, `--metalink-base-uri` is used as aria2
/// does for local files. Each file becomes a download whose options are a
/// layer over `options` with `out` (the file's name) and `checksum` (its
/// strongest hash).
pub fn plan(
    bytes: &[u8],
    base: Option<&Url>,
    options: &Arc<OptionSet>,
) -> Result<MetalinkPlan, FetchError> {
    let mut doc =
        arietta_metalink::parse(bytes).map_err(|e| FetchError::Metalink(e.to_string()))?;
    let option_base = options
        .get_opt_str("metalink-base-uri")
        .filter(|b| !b.is_empty())
        .and_then(|b| Url::parse(b).ok());
    doc.resolve(base.or(option_base.as_ref()));
    let mut notices: Vec<String> = doc
        .rejected_names
        .iter()
        .map(|n| {
            format!(
                "Metalink: file entry '{}' ignored (unsafe or duplicate name)",
                n.escape_debug()
            )
        })
        .collect();
    let sel = selection_options(options);
    let files = doc.select_files(&sel);
    let wanted = options
        .get_opt_str("select-file")
        .and_then(selected_indexes);
    let mut requests = Vec::new();
    for (i, file) in files.into_iter().enumerate() {
        if wanted.as_ref().is_some_and(|w| !w.contains(&(i + 1))) {
            continue;
        }
        let uris = file.ordered_uris(&sel);
        let torrent = file.ordered_torrents().first().map(|t| t.to_string());
        if uris.is_empty() && torrent.is_none() {
            notices.push(format!("Metalink: {} has no usable URI", file.name));
            continue;
        }
        let torrent = torrent.filter(|_| uris.is_empty());
        let mut set = OptionSet::with_parent(options.clone());
        if torrent.is_none() {
            // A torrent names its own files.
            set.set("out", &file.name)
                .map_err(|e| FetchError::Metalink(e.to_string()))?;
        }
        if let Some(h) = file.strongest_hash() {
            set.set(
                "checksum",
                &format!("{}={}", h.algo.aria2_name(), h.to_hex()),
            )
            .map_err(|e| FetchError::Metalink(e.to_string()))?;
        }
        requests.push(DownloadRequest {
            gid: None,
            uris,
            options: Arc::new(set),
            metalink: Some(Arc::new(MetalinkFile {
                name: file.name.clone(),
                size: file.size,
                pieces: file.strongest_pieces().cloned(),
                signature: file.signature.as_ref().map(|s| s.body.clone()),
                torrent,
            })),
            snapshot: None,
            torrent: None,
        });
    }
    if requests.is_empty() {
        return Err(FetchError::Metalink(
            "no file to download (check --select-file and --metalink-* options)".into(),
        ));
    }
    Ok(MetalinkPlan { requests, notices })
}

/// What `-S` lists of a metalink: every file its `--metalink-*` options
/// keep (name and declared size), usable URI or not, as aria2 lists them.
pub fn listing(
    bytes: &[u8],
    options: &OptionSet,
) -> Result<Vec<(String, Option<u64>)>, FetchError> {
    let doc = arietta_metalink::parse(bytes).map_err(|e| FetchError::Metalink(e.to_string()))?;
    let sel = selection_options(options);
    Ok(doc
        .select_files(&sel)
        .into_iter()
        .map(|f| (f.name.clone(), f.size))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="a.bin">
    <size>3</size>
    <hash type="md5">900150983cd24fb0d6963f7d28e17f72</hash>
    <hash type="sha-256">ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad</hash>
    <url priority="2">http://m2/a.bin</url>
    <url priority="1">rel/a.bin</url>
  </file>
  <file name="sub/b.bin">
    <url>http://m1/b.bin</url>
  </file>
  <file name="c.bin">
    <metaurl mediatype="torrent">http://t/c.torrent</metaurl>
  </file>
</metalink>"#;

    #[test]
    fn files_become_requests() {
        let o = Arc::new(OptionSet::new());
        let base = Url::parse("http://origin/dir/x.meta4").unwrap();
        let p = plan(DOC.as_bytes(), Some(&base), &o).unwrap();
        assert_eq!(p.requests.len(), 3);
        let a = &p.requests[0];
        assert_eq!(a.uris, ["http://origin/dir/rel/a.bin", "http://m2/a.bin"]);
        assert_eq!(a.options.get_str("out"), "a.bin");
        assert!(a.options.get_str("checksum").starts_with("sha-256=ba78"));
        assert_eq!(a.metalink.as_ref().unwrap().size, Some(3));
        assert_eq!(p.requests[1].options.get_str("out"), "sub/b.bin");
        // A torrent-only file becomes that torrent's download.
        let c = &p.requests[2];
        assert!(c.uris.is_empty());
        assert_eq!(
            c.metalink.as_ref().unwrap().torrent.as_deref(),
            Some("http://t/c.torrent")
        );
    }

    #[test]
    fn select_file_and_base_option() {
        let mut o = OptionSet::new();
        o.set("select-file", "2").unwrap();
        o.set("metalink-base-uri", "http://base/").unwrap();
        let p = plan(DOC.as_bytes(), None, &Arc::new(o)).unwrap();
        assert_eq!(p.requests.len(), 1);
        assert_eq!(p.requests[0].uris, ["http://m1/b.bin"]);
    }

    #[test]
    fn bad_documents_are_metalink_errors() {
        let o = Arc::new(OptionSet::new());
        let e = plan(b"<x/>", None, &o).unwrap_err();
        assert_eq!(e.exit_code(), crate::ExitCode::MetalinkParse);
        assert!(looks_like_metalink("http://h/f.meta4?x", None));
        assert!(looks_like_metalink(
            "f",
            Some("application/metalink4+xml; q=1")
        ));
        assert!(!looks_like_metalink("f.iso", Some("text/xml")));
    }
}
