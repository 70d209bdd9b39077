//! The "Download Results" table aria2 prints at exit
//! (`RequestGroupMan::showDownloadResults`), `--download-result=default`
//! or `full`.

use std::fmt::Write as _;

use arietta_core::{DownloadResult, ExitCode, Status};

use crate::units::abbrev_size;

/// `--download-result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultsStyle {
    Default,
    Full,
    Hide,
}

impl ResultsStyle {
    pub fn parse(word: &str) -> ResultsStyle {
        match word {
            "full" => ResultsStyle::Full,
            "hide" => ResultsStyle::Hide,
            _ => ResultsStyle::Default,
        }
    }
}

/// aria2's four result words, in the order its legend lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    Ok,
    Err,
    Inpr,
    Rm,
}

impl Stat {
    pub fn of(r: &DownloadResult) -> Stat {
        match r.status {
            Status::Complete => Stat::Ok,
            Status::Error => Stat::Err,
            Status::Removed if r.code != ExitCode::Unfinished => Stat::Rm,
            // Halted unfinished (a shutdown, `--bt-stop-timeout`): aria2's
            // IN_PROGRESS.
            _ => Stat::Inpr,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Stat::Ok => "OK",
            Stat::Err => "ERR",
            Stat::Inpr => "INPR",
            Stat::Rm => "RM",
        }
    }

    /// The table's four-column cell, colored as aria2 colors it.
    fn cell(self, color: bool) -> &'static str {
        match (self, color) {
            (Stat::Ok, false) => "OK  ",
            (Stat::Err, false) => "ERR ",
            (Stat::Inpr, false) => "INPR",
            (Stat::Rm, false) => "RM  ",
            (Stat::Ok, true) => "\x1b[1;32mOK\x1b[0m  ",
            (Stat::Err, true) => "\x1b[1;31mERR\x1b[0m ",
            (Stat::Inpr, true) => "\x1b[1;34mINPR\x1b[0m",
            (Stat::Rm, true) => "\x1b[1mRM\x1b[0m  ",
        }
    }

    fn legend(self) -> &'static str {
        match self {
            Stat::Ok => "(OK):download completed.",
            Stat::Err => "(ERR):error occurred.",
            Stat::Inpr => "(INPR):download in-progress.",
            Stat::Rm => "(RM):download removed.",
        }
    }
}

/// `gid|stat|avg speed|`, the part every row starts with.
fn common(r: &DownloadResult, color: bool) -> String {
    let speed = match r.avg_speed() {
        Some(bps) => format!("{:>8}B/s", abbrev_size(bps)),
        None => format!("{:>11}", "n/a"),
    };
    format!("{}|{}|{speed}|", r.gid.short(), Stat::of(r).cell(color))
}

/// One file of a result: its path, length, and completed bytes when its
/// pieces are known.
struct FileRow {
    path: String,
    length: u64,
    completed: Option<u64>,
}

/// The files aria2 lists for a result: a torrent's selected ones, else the
/// one file (its first URI while it has no path).
fn files(r: &DownloadResult) -> Vec<FileRow> {
    let pieces = r
        .snapshot
        .as_ref()
        .and_then(|s| s.pieces.as_ref())
        .filter(|p| p.bits.is_some());
    // A magnet's own download lists no files: it is named by its path
    // (`[MEMORY][METADATA]NAME`), as aria2 names it.
    let torrent = r
        .snapshot
        .as_ref()
        .and_then(|s| s.torrent.as_ref())
        .filter(|t| t.has_metadata || r.path.is_none());
    if let Some(info) = torrent {
        return info
            .files
            .iter()
            .filter(|f| f.selected)
            .map(|f| FileRow {
                path: f.path.display().to_string(),
                length: f.length,
                completed: pieces.map(|p| p.completed_within(f.offset, f.length)),
            })
            .collect();
    }
    let path = match &r.path {
        Some(p) => p.display().to_string(),
        None if r.uri.is_empty() => "n/a".to_owned(),
        None => r.uri.clone(),
    };
    vec![FileRow {
        path,
        length: r.total,
        completed: pieces.map(|p| p.completed_within(0, r.total)),
    }]
}

/// The whole table (with its leading empty line), or nothing for `hide`.
/// `color`: the console is a terminal and `--enable-color` is on.
pub fn table(results: &[DownloadResult], style: ResultsStyle, color: bool) -> String {
    if style == ResultsStyle::Hide {
        return String::new();
    }
    let full = style == ResultsStyle::Full;
    let mut out = String::from("\nDownload Results:\ngid   |stat|avg speed  |");
    if full {
        out.push_str("  %|path/URI\n======+====+===========+===+");
        out.push_str(&"=".repeat(51));
    } else {
        out.push_str("path/URI\n======+====+===========+");
        out.push_str(&"=".repeat(55));
    }
    out.push('\n');
    let mut seen = [false; 4];
    for r in results {
        let stat = Stat::of(r);
        seen[stat as usize] = true;
        let files = files(r);
        if !full {
            let path = match files.split_first() {
                None => "n/a".to_owned(),
                Some((first, [])) => first.path.clone(),
                Some((first, rest)) => format!("{} ({}more)", first.path, rest.len()),
            };
            let _ = writeln!(out, "{}{path}", common(r, color));
            continue;
        }
        if files.is_empty() {
            let _ = writeln!(out, "{}  -|n/a", common(r, color));
        }
        for (i, f) in files.iter().enumerate() {
            if i == 0 {
                out.push_str(&common(r, color));
            } else {
                out.push_str("   |    |           |");
            }
            match f.completed {
                Some(done) if f.length > 0 => {
                    let _ = write!(out, "{:>3}|", done.saturating_mul(100) / f.length);
                }
                _ => out.push_str("  -|"),
            }
            out.push_str(&f.path);
            out.push('\n');
        }
    }
    if seen.iter().any(|s| *s) {
        // aria2 writes the legend's entries one after another on one line.
        out.push_str("\nStatus Legend:\n");
        for stat in [Stat::Ok, Stat::Err, Stat::Inpr, Stat::Rm] {
            if seen[stat as usize] {
                out.push_str(stat.legend());
            }
        }
        out.push('\n');
    }
    out
}

/// aria2's closing note when something did not complete.
pub const CONTINUE_NOTE: &str = "\naria2 will resume download if the transfer is restarted.\nIf there are any errors, then see the log file. See '-l' option in help/man page for details.\n";

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use arietta_core::control::RunSnapshot;
    use arietta_core::piece_view::PieceView;
    use arietta_core::torrent_info::{TorrentFile, TorrentInfo};
    use arietta_core::Gid;
    use arietta_options::OptionSet;

    use super::*;

    fn result(status: Status, code: ExitCode) -> DownloadResult {
        DownloadResult {
            gid: Gid(0x2089_b05e_cca3_d829),
            status,
            code,
            message: None,
            path: Some("/d/a.bin".into()),
            uri: "http://h/a.bin".into(),
            uris: vec!["http://h/a.bin".into()],
            options: Arc::new(OptionSet::default()),
            completed: 2048,
            total: 2048,
            session_bytes: 2048,
            elapsed: Duration::from_secs(1),
            snapshot: None,
        }
    }

    #[test]
    fn default_table_like_aria2() {
        let mut err = result(Status::Error, ExitCode::NotFound);
        err.path = None;
        err.completed = 0;
        err.session_bytes = 0;
        let t = table(
            &[result(Status::Complete, ExitCode::Success), err],
            ResultsStyle::Default,
            false,
        );
        let want = format!(
            "\nDownload Results:\ngid   |stat|avg speed  |path/URI\n======+====+===========+{}\n\
             2089b0|OK  |   2.0KiB/s|/d/a.bin\n\
             2089b0|ERR |       0B/s|http://h/a.bin\n\
             \nStatus Legend:\n(OK):download completed.(ERR):error occurred.\n",
            "=".repeat(55)
        );
        assert_eq!(t, want);
        assert_eq!(table(&[], ResultsStyle::Hide, false), "");
    }

    #[test]
    fn full_lists_every_file_with_its_percentage() {
        let mut r = result(Status::Removed, ExitCode::Unfinished);
        let file = |p: &str, offset, length, selected| TorrentFile {
            path: p.into(),
            offset,
            length,
            selected,
        };
        r.snapshot = Some(Arc::new(RunSnapshot {
            pieces: Some(PieceView {
                piece_length: 1024,
                num_pieces: 2,
                stream_length: 2048,
                bits: Some(vec![0b1000_0000]),
            }),
            torrent: Some(Arc::new(TorrentInfo {
                files: vec![
                    file("/d/t/a", 0, 1024, true),
                    file("/d/t/b", 1024, 0, true),
                    file("/d/t/c", 1024, 1024, true),
                    file("/d/t/skip", 2048, 0, false),
                ],
                has_metadata: true,
                ..TorrentInfo::default()
            })),
            ..RunSnapshot::default()
        }));
        let t = table(std::slice::from_ref(&r), ResultsStyle::Full, false);
        let want = format!(
            "\nDownload Results:\ngid   |stat|avg speed  |  %|path/URI\n======+====+===========+===+{}\n\
             2089b0|INPR|   2.0KiB/s|100|/d/t/a\n\
             \x20  |    |           |  -|/d/t/b\n\
             \x20  |    |           |  0|/d/t/c\n\
             \nStatus Legend:\n(INPR):download in-progress.\n",
            "=".repeat(51)
        );
        assert_eq!(t, want);
        let short = table(&[r], ResultsStyle::Default, true);
        assert!(
            short.contains("2089b0|\x1b[1;34mINPR\x1b[0m|   2.0KiB/s|/d/t/a (2more)\n"),
            "{short}"
        );
    }
}
