//! aria2's `ConsoleStatCalc`: the one-line readout and the periodic
//! "Download Progress Summary" block, as pure functions of the numbers.

use std::fmt::Write as _;
use std::path::Path;

use arietta_core::Progress;

use super::colorized::{colors, Colorized};
use crate::units::{eta, SizeFormat};

/// `12KiB/1.0MiB(1%)`, or `SEED(1.5)` for a seeding torrent.
fn size_progress(o: &mut Colorized, p: &Progress, f: SizeFormat) {
    if p.bt.is_some_and(|b| b.seeding) {
        o.text("SEED(");
        // aria2 truncates to one decimal before printing it.
        match p.uploaded.saturating_mul(10).checked_div(p.completed) {
            Some(tenths) => o.text(format!("{}.{}", tenths / 10, tenths % 10)),
            None => o.text("--"),
        };
        o.text(")");
        return;
    }
    o.text(format!("{}B/{}B", f.fmt(p.completed), f.fmt(p.total)));
    if let Some(pct) = p.completed.saturating_mul(100).checked_div(p.total) {
        o.color(colors::CYAN)
            .text(format!("({pct}%)"))
            .color(colors::CLEAR);
    }
}

fn finished(p: &Progress) -> bool {
    p.bt.is_some_and(|b| b.seeding) || (p.total > 0 && p.completed >= p.total)
}

/// One download: `[#2089b0 400KiB/1.0MiB(39%) CN:1 DL:1.2MiB ETA:1s]`.
pub fn progress(o: &mut Colorized, p: &Progress, f: SizeFormat) {
    let left = p.total.saturating_sub(p.completed);
    let secs = if p.total > 0 && p.speed > 0 {
        left / p.speed
    } else {
        0
    };
    o.color(colors::MAGENTA)
        .text("[")
        .color(colors::CLEAR)
        .text(format!("#{} ", p.gid.short()));
    size_progress(o, p, f);
    o.text(format!(" CN:{}", p.connections));
    if let Some(bt) = p.bt {
        o.text(format!(" SD:{}", bt.seeders));
    }
    if !finished(p) {
        o.text(" DL:")
            .color(colors::GREEN)
            .text(format!("{}B", f.fmt(p.speed)))
            .color(colors::CLEAR);
    }
    if p.uploaded > 0 {
        o.text(" UL:")
            .color(colors::CYAN)
            .text(format!("{}B", f.fmt(p.upload_speed)))
            .color(colors::CLEAR)
            .text(format!("({}B)", f.fmt(p.uploaded)));
    }
    if secs > 0 {
        o.text(" ETA:")
            .color(colors::YELLOW)
            .text(eta(secs))
            .color(colors::CLEAR);
    }
    o.color(colors::MAGENTA).text("]").color(colors::CLEAR);
}

/// Several downloads: `[DL:2.0MiB][#2089b0 1.0MiB/2.0MiB(50%)]…(+3)`,
/// at most five listed.
fn compact(o: &mut Colorized, active: &[Progress], f: SizeFormat) {
    const MAX_ITEM: usize = 5;
    let dl: u64 = active.iter().map(|p| p.speed).sum();
    let ul: u64 = active.iter().map(|p| p.upload_speed).sum();
    o.color(colors::MAGENTA)
        .text("[")
        .color(colors::CLEAR)
        .text("DL:")
        .color(colors::GREEN)
        .text(format!("{}B", f.fmt(dl)))
        .color(colors::CLEAR);
    if ul > 0 {
        o.text(" UL:")
            .color(colors::CYAN)
            .text(format!("{}B", f.fmt(ul)))
            .color(colors::CLEAR);
    }
    o.color(colors::MAGENTA).text("]").color(colors::CLEAR);
    for p in active.iter().take(MAX_ITEM) {
        o.color(colors::MAGENTA)
            .text("[")
            .color(colors::CLEAR)
            .text(format!("#{} ", p.gid.short()));
        size_progress(o, p, f);
        o.color(colors::MAGENTA).text("]").color(colors::CLEAR);
    }
    if active.len() > MAX_ITEM {
        o.text(format!("(+{})", active.len() - MAX_ITEM));
    }
}

/// The readout line for the active downloads.
pub fn readout(active: &[Progress], f: SizeFormat) -> Colorized {
    let mut o = Colorized::default();
    match active {
        [] => {}
        [p] => progress(&mut o, p, f),
        many => compact(&mut o, many, f),
    }
    o
}

/// aria2's `writeFilePath` for a download in progress: its first file and
/// how many more it writes, `n/a` before it knows.
pub fn file_path(path: Option<&Path>, more: usize) -> String {
    match path {
        None => "n/a".to_owned(),
        Some(p) if more > 0 => format!("{} ({more}more)", p.display()),
        Some(p) => p.display().to_string(),
    }
}

/// The block aria2 prints every `--summary-interval` seconds; `now` is
/// `asctime`'s text without its newline, `cols` the rule width.
pub fn summary(active: &[Progress], f: SizeFormat, now: &str, cols: usize) -> String {
    let mut s = format!(
        " *** Download Progress Summary as of {now} *** \n{}\n",
        "=".repeat(cols)
    );
    for p in active {
        let mut o = Colorized::default();
        progress(&mut o, p, f);
        let _ = write!(
            s,
            "{}\nFILE: {}\n{}\n",
            o.render(false, None),
            file_path(p.path.as_deref(), p.more_files),
            "-".repeat(cols)
        );
    }
    s
}

/// `Sun Dec  6 02:50:21 2026` in local time, as `asctime` writes it.
pub fn asctime_now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value that localtime_r fills.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals; localtime_r keeps neither.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return String::new();
    }
    let mut buf = [0u8; 64];
    // SAFETY: buf is writable for its length, the format is a NUL-ended
    // literal and tm was filled above; strftime writes at most buf.len().
    let n = unsafe {
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%a %b %e %H:%M:%S %Y".as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_core::{BtProgress, Gid};

    fn p(completed: u64, total: u64, speed: u64) -> Progress {
        Progress {
            gid: Gid(0x2089_b05e_cca3_d829),
            completed,
            total,
            speed,
            connections: 1,
            path: Some("/d/a.bin".into()),
            more_files: 0,
            uploaded: 0,
            upload_speed: 0,
            bt: None,
        }
    }

    const HUMAN: SizeFormat = SizeFormat { human: true };

    #[test]
    fn one_download_like_aria2() {
        let line = readout(&[p(409_600, 1_048_576, 204_800)], HUMAN);
        assert_eq!(
            line.render(false, None),
            "[#2089b0 400KiB/1.0MiB(39%) CN:1 DL:200KiB ETA:3s]"
        );
        assert_eq!(
            readout(&[p(409_600, 1_048_576, 0)], SizeFormat { human: false }).render(false, None),
            "[#2089b0 409600B/1048576B(39%) CN:1 DL:0B]"
        );
        assert_eq!(
            readout(&[p(10, 10, 0)], HUMAN).render(false, None),
            "[#2089b0 10B/10B(100%) CN:1]"
        );
    }

    #[test]
    fn torrents_show_seeders_upload_and_ratio() {
        let mut t = p(1000, 1000, 0);
        t.uploaded = 1500;
        t.upload_speed = 100;
        t.bt = Some(BtProgress {
            seeding: true,
            seeders: 0,
        });
        assert_eq!(
            readout(&[t], HUMAN).render(false, None),
            "[#2089b0 SEED(1.5) CN:1 SD:0 UL:100B(1.4KiB)]"
        );
    }

    #[test]
    fn many_downloads_compact() {
        let all: Vec<Progress> = (0..7).map(|_| p(0, 100, 1024)).collect();
        let line = readout(&all, HUMAN).render(false, None);
        assert!(
            line.starts_with("[DL:7.0KiB][#2089b0 0B/100B(0%)]"),
            "{line}"
        );
        assert!(line.ends_with("(+2)"), "{line}");
    }

    #[test]
    fn summary_block_like_aria2() {
        let mut one = p(0, 20_000, 4000);
        one.more_files = 2;
        let s = summary(&[one], HUMAN, "Sun Dec  6 02:50:21 2026", 79);
        let want = format!(
            " *** Download Progress Summary as of Sun Dec  6 02:50:21 2026 *** \n{}\n\
             [#2089b0 0B/19KiB(0%) CN:1 DL:3.9KiB ETA:5s]\nFILE: /d/a.bin (2more)\n{}\n",
            "=".repeat(79),
            "-".repeat(79)
        );
        assert_eq!(s, want);
        let now = asctime_now();
        assert_eq!(now.len(), 24, "{now:?}");
    }
}
