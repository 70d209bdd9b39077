//! Which files to fetch and in which order to try their mirrors, following
//! aria2's `--metalink-*` options.

use crate::document::{FileEntry, Metalink, Resource};

/// The worst priority a mirror can have (aria2's
/// `MetalinkResource::getLowestPriority()`); also the default when a
/// document gives none.
pub const LOWEST_PRIORITY: u32 = 999_999;

/// `--metalink-preferred-protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreferredProtocol {
    #[default]
    None,
    Http,
    Https,
    Ftp,
}

impl PreferredProtocol {
    /// Parses the option value (`http`, `https`, `ftp`, `none`).
    pub fn from_option(s: &str) -> Option<PreferredProtocol> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Some(PreferredProtocol::None),
            "http" => Some(PreferredProtocol::Http),
            "https" => Some(PreferredProtocol::Https),
            "ftp" => Some(PreferredProtocol::Ftp),
            _ => None,
        }
    }

    fn scheme(self) -> Option<&'static str> {
        match self {
            PreferredProtocol::None => None,
            PreferredProtocol::Http => Some("http"),
            PreferredProtocol::Https => Some("https"),
            PreferredProtocol::Ftp => Some("ftp"),
        }
    }
}

/// The `--metalink-*` options that shape selection and ordering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectionOptions {
    /// `--metalink-location=jp,us`: mirrors in these countries go first.
    pub locations: Vec<String>,
    /// `--metalink-preferred-protocol`.
    pub preferred_protocol: PreferredProtocol,
    /// `--metalink-language`: only files offering this language.
    pub language: Option<String>,
    /// `--metalink-os`: only files for this OS.
    pub os: Option<String>,
    /// `--metalink-version`: only files of this version.
    pub version: Option<String>,
    /// `--metalink-enable-unique-protocol`: use one protocol per host.
    pub unique_protocol: bool,
}

impl SelectionOptions {
    /// Splits a `--metalink-location` value (`jp, us`) into codes.
    pub fn parse_locations(value: &str) -> Vec<String> {
        value
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Schemes aria2 can fetch a metalink `<url>` with; others (rsync, ed2k…)
/// are dropped as aria2's `dropUnsupportedResource` does.
const SUPPORTED_SCHEMES: [&str; 4] = ["http", "https", "ftp", "sftp"];

fn opt_matches(wanted: &Option<String>, have: &[String]) -> bool {
    match wanted.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        None => true,
        Some(w) => have.iter().any(|h| h.trim().eq_ignore_ascii_case(w)),
    }
}

impl Metalink {
    /// The files aria2 would download: those matching `--metalink-version`,
    /// `--metalink-language` and `--metalink-os` (an unset option matches
    /// everything; a file lacking the attribute does not match a set one).
    pub fn select_files(&self, opts: &SelectionOptions) -> Vec<&FileEntry> {
        self.files
            .iter()
            .filter(|f| {
                opt_matches(&opts.version, f.version.as_slice())
                    && opt_matches(&opts.language, &f.languages)
                    && opt_matches(&opts.os, &f.oses)
            })
            .collect()
    }
}

impl FileEntry {
    /// The mirror URIs in the order aria2 tries them.
    ///
    /// Unsupported schemes are dropped. A mirror in one of the
    /// `--metalink-location` countries and a mirror of the preferred protocol
    /// each gain [`LOWEST_PRIORITY`] of priority (aria2's
    /// `setLocationPriority` / `setProtocolPriority`), so they beat any
    /// priority the document set; then mirrors are sorted by priority, ties
    /// kept in document order (aria2 shuffles ties; the caller may). With
    /// `unique_protocol`, a host's URIs in another protocol than its best
    /// one are dropped ("several protocols are available for a mirror":
    /// aria2 uses one of them); several URIs of one host and protocol, as
    /// mirrors on different ports or paths, are all kept.
    pub fn ordered_uris(&self, opts: &SelectionOptions) -> Vec<String> {
        let preferred = opts.preferred_protocol.scheme();
        let mut ranked: Vec<(i64, &Resource)> = self
            .resources
            .iter()
            .filter_map(|r| {
                let scheme = r.scheme()?;
                if !SUPPORTED_SCHEMES.contains(&scheme.as_str()) {
                    return None;
                }
                let mut p = i64::from(r.priority);
                let in_location = r
                    .location
                    .as_deref()
                    .is_some_and(|l| opts.locations.iter().any(|w| w.eq_ignore_ascii_case(l)));
                if in_location {
                    p -= i64::from(LOWEST_PRIORITY);
                }
                if preferred == Some(scheme.as_str()) {
                    p -= i64::from(LOWEST_PRIORITY);
                }
                Some((p, r))
            })
            .collect();
        ranked.sort_by_key(|(p, _)| *p);
        let mut seen: Vec<(String, Option<String>)> = Vec::new();
        let mut out = Vec::with_capacity(ranked.len());
        for (_, r) in ranked {
            if opts.unique_protocol {
                if let Some(host) = r.host() {
                    let scheme = r.scheme();
                    if seen.iter().any(|(h, s)| *h == host && *s != scheme) {
                        continue;
                    }
                    seen.push((host, scheme));
                }
            }
            if !out.contains(&r.uri) {
                out.push(r.uri.clone());
            }
        }
        out
    }

    /// Torrent metaurls, best priority first.
    pub fn ordered_torrents(&self) -> Vec<&str> {
        let mut t: Vec<_> = self.metaurls.iter().filter(|m| m.is_torrent()).collect();
        t.sort_by_key(|m| m.priority);
        t.into_iter().map(|m| m.uri.as_str()).collect()
    }
}
