//! aria2's option table: one static list that the command line, `aria2.conf`,
//! `-i` input files and RPC `changeOption`/`getOption` all consult, so an
//! option accepted in one place is accepted (and validated the same way)
//! everywhere.
//!
//! Names, short aliases, ranges, defaults and tags follow aria2 1.37; the two
//! arietta extras are `--cores` and `--enable-metrics`. Defaults that aria2
//! derives from the environment (`--dir`, `--netrc-path`, `--conf-path`,
//! `--dht-file-path*`) are empty here and filled in by
//! [`crate::environment_defaults`].
//!
//! The rows live in one file per stretch of aria2's list (`general`, `rpc`,
//! `advanced`, `ftp`, `http`, `proxy`, `bittorrent`, `metalink`); each file
//! is a contiguous run, because aria2 lists some options outside their
//! README section (`--rpc-secret` long after the RPC block) and that order
//! must survive. [`OPTIONS`] joins them at compile time.

use std::collections::HashMap;
use std::sync::OnceLock;

mod advanced;
mod bittorrent;
mod definition_order;
mod ftp;
mod general;
mod http;
mod metalink;
mod proxy;
mod rpc;

pub use definition_order::definition_rank;
pub(crate) use definition_order::DEFINITION_ORDER;

/// What values an option accepts; drives validation, normalization and the
/// "Possible Values" line of `--help`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptionKind {
    /// `true`/`false`; a bare flag (`-c`, `--continue`) means `true`. On the
    /// command line the value must be attached (`--continue=false`): like
    /// aria2, `--continue false` treats `false` as a URI.
    Bool,
    /// A decimal integer in `min..=max` ([`INT_UNLIMITED`] = no upper bound).
    Int { min: i64, max: i64 },
    /// A byte count with an optional `K`/`M`/`G` suffix (1K = 1024), stored as
    /// written and range-checked in bytes.
    Size { min: u64, max: u64 },
    /// A decimal floating point number in `min..=max`.
    Float { min: f64, max: f64 },
    /// One of a fixed set of words (case-sensitive, as in aria2).
    Enum(&'static [&'static str]),
    /// Free text.
    String,
    /// A local path (or `-` for stdin/stdout where aria2 allows it). Existence
    /// is checked by whoever opens it, not here.
    Path,
    /// Cumulative: every occurrence appends (`--header`).
    List,
    /// Comma-separated numbers and `A-B` ranges within `min..=max`
    /// (`--listen-port=6881-6889,6999`, `--select-file=1-5,8`).
    IntRanges { min: u32, max: u32 },
    /// `HOST:PORT` (IPv6 hosts in brackets).
    HostPort,
    /// `TYPE=HEXDIGEST` with a hash type aria2 knows and a digest of the right
    /// length.
    Checksum,
    /// A download id: 16 hex digits.
    Gid,
    /// Cumulative `INDEX=PATH` (`--index-out`).
    IndexOut,
    /// `head[=SIZE],tail[=SIZE]`.
    PrioritizePiece,
    /// `true`, `false` or `A:B` (two floats); bare means `true`.
    OptimizeConcurrent,
    /// `[http://|socks5://|socks5h://][USER:PASSWORD@]HOST[:PORT]`; empty
    /// clears the proxy.
    Proxy,
    /// Takes no value at all (`--version`); command line only.
    Flag,
    /// `--help[=TAG|KEYWORD]`; command line only.
    Help,
}

impl OptionKind {
    /// Whether the option consumes the next word when no `=value` is attached.
    /// Optional-argument options (booleans, `--help`) never do, matching
    /// aria2's getopt table.
    pub fn requires_argument(&self) -> bool {
        !matches!(
            self,
            OptionKind::Bool | OptionKind::OptimizeConcurrent | OptionKind::Flag | OptionKind::Help
        )
    }

    /// Whether repeated occurrences accumulate instead of replacing.
    pub fn is_cumulative(&self) -> bool {
        matches!(self, OptionKind::List | OptionKind::IndexOut)
    }
}

/// No upper bound for [`OptionKind::Int`] (aria2 prints it as `*`).
pub const INT_UNLIMITED: i64 = i64::MAX;
/// No upper bound for [`OptionKind::Size`] (aria2 prints it as `*`).
pub const SIZE_UNLIMITED: u64 = i64::MAX as u64;

/// The option may be given for one download: an option line in a `-i` input
/// file, or the options of RPC `addUri` and friends.
pub const PER_DOWNLOAD: u8 = 1;
/// RPC `changeOption` may change it on an existing download.
pub const CHANGE_DOWNLOAD: u8 = 2;
/// RPC `changeGlobalOption` may change it while running.
pub const CHANGE_GLOBAL: u8 = 4;
/// RPC `changeOption` applies it to a running download in place; any
/// other option it changes makes aria2 restart the download (pause it and
/// start it again with the new options), as its `setChangeOption` list
/// against `setChangeOptionForReserved` says.
pub const CHANGE_LIVE: u8 = 8;

/// One row of the option table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionDef {
    /// aria2's long name, without the leading `--`.
    pub name: &'static str,
    /// Single-letter alias (`-x`), if aria2 has one.
    pub short: Option<char>,
    /// Accepted values.
    pub kind: OptionKind,
    /// Default as aria2 prints it; empty means "not set".
    pub default: &'static str,
    /// Bit set of [`PER_DOWNLOAD`], [`CHANGE_DOWNLOAD`], [`CHANGE_GLOBAL`].
    pub flags: u8,
    /// `--help` tags such as `#basic`, `#http`.
    pub tags: &'static [&'static str],
    /// Argument placeholder shown by `--help` (`=N`, `[=true|false]`).
    pub arg: &'static str,
    /// One-line description for `--help`.
    pub help: &'static str,
}

impl OptionDef {
    /// Whether the option may appear in an input file or per-download RPC
    /// options.
    pub fn per_download(&self) -> bool {
        self.flags & PER_DOWNLOAD != 0
    }

    /// Whether RPC `changeOption` may change it on an existing download.
    pub fn changeable_per_download(&self) -> bool {
        self.flags & CHANGE_DOWNLOAD != 0
    }

    /// Whether RPC `changeOption` applies it to a running download without
    /// restarting it.
    pub fn changes_live(&self) -> bool {
        self.flags & CHANGE_LIVE != 0
    }

    /// Whether RPC `changeGlobalOption` may change it at run time.
    pub fn changeable_globally(&self) -> bool {
        self.flags & CHANGE_GLOBAL != 0
    }

    /// Whether `--help` lists the option under `tag` (`#all` matches all).
    pub fn has_tag(&self, tag: &str) -> bool {
        tag == "#all" || self.tags.contains(&tag)
    }
}

/// Looks an option up by its exact long name (no leading dashes).
pub fn find_option(name: &str) -> Option<&'static OptionDef> {
    option_index(name).and_then(|i| OPTIONS.get(i))
}

/// Looks an option up by its short alias.
pub fn find_short(short: char) -> Option<&'static OptionDef> {
    OPTIONS.iter().find(|d| d.short == Some(short))
}

/// Position of `name` in [`OPTIONS`]; option sets key their values by it.
pub(crate) fn option_index(name: &str) -> Option<usize> {
    static INDEX: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            OPTIONS
                .iter()
                .enumerate()
                .map(|(i, d)| (d.name, i))
                .collect()
        })
        .get(name)
        .copied()
}

/// Every option aria2c 1.37 accepts, in the order aria2's `--help=#all` lists
/// them, plus arietta's own. Option sets key their values by position here,
/// so help output, `aria2.getGlobalOption` and saved sessions follow this
/// order: the sections are concatenated as aria2 lists them, never sorted.
pub static OPTIONS: &[OptionDef] = &ALL;

/// The section files, in aria2's order.
const SECTIONS: &[&[OptionDef]] = &[
    general::OPTIONS,
    rpc::OPTIONS,
    advanced::OPTIONS,
    ftp::OPTIONS,
    http::OPTIONS,
    proxy::OPTIONS,
    bittorrent::OPTIONS,
    metalink::OPTIONS,
];

static ALL: [OptionDef; row_count(SECTIONS)] = concat(SECTIONS);

const fn row_count(sections: &[&[OptionDef]]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < sections.len() {
        n += sections[i].len();
        i += 1;
    }
    n
}

/// Joins the sections into one array at compile time, so [`OPTIONS`] stays a
/// plain static slice (indexable by [`option_index`]) with no start-up cost.
const fn concat<const N: usize>(sections: &[&[OptionDef]]) -> [OptionDef; N] {
    let mut out = [sections[0][0]; N];
    let mut at = 0;
    let mut i = 0;
    while i < sections.len() {
        let mut j = 0;
        while j < sections[i].len() {
            out[at] = sections[i][j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(at == N, "row_count and concat disagree");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::normalize;
    use std::collections::HashSet;

    #[test]
    fn names_and_short_aliases_are_unique() {
        let mut names = HashSet::new();
        let mut shorts = HashSet::new();
        for d in OPTIONS {
            assert!(names.insert(d.name), "duplicate {}", d.name);
            assert!(
                d.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                d.name
            );
            if let Some(c) = d.short {
                assert!(shorts.insert(c), "duplicate -{c}");
            }
        }
        assert!(OPTIONS.len() >= 200);
    }

    /// The section files join in aria2's `--help=#all` order: each seam is
    /// where aria2's own list moves on.
    #[test]
    fn sections_join_in_aria2_order() {
        let names: Vec<&str> = OPTIONS.iter().map(|d| d.name).collect();
        assert_eq!(names.len(), SECTIONS.iter().map(|s| s.len()).sum::<usize>());
        assert_eq!(names[..2], ["version", "help"]);
        for seam in [
            ["event-poll", "enable-rpc"],
            ["rpc-save-upload-metadata", "dry-run"],
            ["keep-unfinished-download-result", "ftp-user"],
            ["ssh-host-key-md", "http-user"],
            ["no-want-digest-header", "http-proxy"],
            ["all-proxy-passwd", "show-files"],
            ["bt-load-saved-metadata", "metalink-file"],
        ] {
            assert!(names.windows(2).any(|w| w == seam), "{seam:?}");
        }
        assert_eq!(names.last(), Some(&"metalink-base-uri"));
        assert_eq!(
            option_index("dry-run"),
            Some(general::OPTIONS.len() + rpc::OPTIONS.len())
        );
    }

    #[test]
    fn defaults_pass_their_own_validation() {
        for d in OPTIONS {
            if d.default.is_empty() || matches!(d.kind, OptionKind::Flag | OptionKind::Help) {
                continue;
            }
            let n = normalize(d, d.default).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            if matches!(d.kind, OptionKind::Size { .. }) {
                // Sizes are written "1M" in the table and stored in bytes.
                assert_eq!(
                    Some(n.parse().unwrap()),
                    crate::value::parse_size(d.default),
                    "{}",
                    d.name
                );
                continue;
            }
            assert_eq!(n, d.default, "default of {} is not normalized", d.name);
        }
    }

    #[test]
    fn every_option_is_documented_and_tagged() {
        for d in OPTIONS {
            assert!(!d.help.is_empty(), "{}", d.name);
            assert!(!d.tags.is_empty() || d.name == "netrc-path", "{}", d.name);
            assert_eq!(
                d.kind.requires_argument(),
                d.arg.starts_with('='),
                "{}",
                d.name
            );
        }
    }

    #[test]
    fn aria2_short_aliases() {
        for (c, name) in [
            ('x', "max-connection-per-server"),
            ('s', "split"),
            ('d', "dir"),
            ('o', "out"),
            ('c', "continue"),
            ('q', "quiet"),
            ('Z', "force-sequential"),
            ('V', "check-integrity"),
            ('D', "daemon"),
            ('n', "no-netrc"),
            ('S', "show-files"),
            ('i', "input-file"),
            ('j', "max-concurrent-downloads"),
            ('k', "min-split-size"),
            ('T', "torrent-file"),
            ('M', "metalink-file"),
            ('O', "index-out"),
            ('U', "user-agent"),
            ('u', "max-upload-limit"),
            ('h', "help"),
            ('v', "version"),
        ] {
            assert_eq!(find_short(c).map(|d| d.name), Some(name));
        }
    }

    #[test]
    fn per_download_and_runtime_flags() {
        let f = |n: &str| find_option(n).unwrap();
        assert!(f("dir").per_download());
        assert!(f("out").per_download());
        assert!(f("gid").per_download());
        assert!(f("header").per_download());
        assert!(!f("max-concurrent-downloads").per_download());
        assert!(!f("enable-rpc").per_download());
        assert!(f("max-concurrent-downloads").changeable_globally());
        assert!(f("max-overall-download-limit").changeable_globally());
        assert!(f("split").changeable_globally());
        assert!(!f("out").changeable_globally());
        assert!(f("out").changeable_per_download());
        assert!(!f("pause").changeable_per_download());
        assert!(f("max-upload-limit").changes_live());
        assert!(!f("split").changes_live());
        assert!(!f("rpc-listen-port").changeable_globally());
        // Changeable per download implies allowed per download.
        for d in OPTIONS {
            if d.changeable_per_download() {
                assert!(d.per_download(), "{}", d.name);
            }
        }
    }

    #[test]
    fn arietta_extras_present() {
        assert_eq!(find_option("cores").unwrap().default, "0");
        assert_eq!(
            find_option("enable-metrics").unwrap().kind,
            OptionKind::Bool
        );
        assert!(find_option("no-want-digest-header").is_some());
        assert!(find_option("no-such").is_none());
    }
}
