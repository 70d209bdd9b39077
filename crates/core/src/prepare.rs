//! Deciding where a download goes and getting its file ready. Runs on the
//! blocking pool: it touches the file system (stat, control file, fallocate).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use arietta_storage::{
    allocate, auto_rename, control_path, sanitize_file_name, Allocation, ControlFile, RangeSet,
    StorageError,
};

use crate::config::DownloadConfig;
use crate::error::FetchError;
use crate::messages::{PreparedFile, ProbeInfo};

/// The file name a URL suggests: its last path segment, percent-decoded.
pub fn name_from_url(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let seg = u.path_segments()?.next_back()?.to_owned();
    let decoded = percent_encoding::percent_decode_str(&seg).decode_utf8_lossy();
    sanitize_file_name(&decoded)
}

/// The path a download will use before any response is seen (`-o` or the
/// URL's name); used for `--conditional-get`.
pub fn planned_path(cfg: &DownloadConfig, url: &str) -> PathBuf {
    let name = cfg
        .out
        .clone()
        .or_else(|| name_from_url(url))
        .unwrap_or_else(|| "index.html".into());
    apply_dir(&cfg.dir, &name)
}

/// aria2's NOTICE for a whole-file hash that matched, before the download
/// (`-V`) or after it.
fn verified_notice(path: &Path) {
    tracing::info!(
        notice = true,
        "Verification finished successfully. file={}",
        path.display()
    );
}

/// aria2's `applyDir`: `--out` is always under `--dir`, an absolute one
/// too (`-d /srv -o /x.bin` writes `/srv//x.bin`, and says so), where
/// `Path::join` would leave the directory.
pub fn apply_dir(dir: &Path, name: &str) -> PathBuf {
    let dir = dir.as_os_str();
    if dir.is_empty() {
        return PathBuf::from(format!("./{name}"));
    }
    let mut s = dir.to_owned();
    if dir != "/" {
        s.push("/");
    }
    s.push(name);
    PathBuf::from(s)
}

/// Chooses the path, reconciles it with what is on disk, and allocates.
pub fn prepare(
    gid: crate::Gid,
    cfg: &DownloadConfig,
    uris: &[String],
    info: &ProbeInfo,
) -> Result<PreparedFile, FetchError> {
    let name = cfg
        .out
        .clone()
        .or_else(|| {
            info.disposition_name
                .as_deref()
                .and_then(sanitize_file_name)
        })
        .or_else(|| name_from_url(&info.final_url))
        .or_else(|| uris.first().and_then(|u| name_from_url(u)))
        .unwrap_or_else(|| "index.html".into());
    let mut path = apply_dir(&cfg.dir, &name);
    let total = info.total;
    let ranged = info.ranges && total.is_some();
    let ctrl = control_path(&path);

    if cfg.remove_control_file && !cfg.dry_run && ctrl.exists() {
        // aria2's `--remove-control-file`: the file is then an existing
        // file without a record (`-c` resumes it by length).
        let _ = std::fs::remove_file(&ctrl);
        tracing::info!(
            "Removed control file for {} because it is requested by user.",
            ctrl.display()
        );
    }
    let mut done = RangeSet::new();
    let mut keep = false;
    let mut verified = false;
    // As aria2: a record whose file is gone is defunct; one that cannot be
    // read, or that is of another length than the server's file, fails the
    // download and leaves both files as they are (never truncated).
    let loaded = if path.exists() && !cfg.dry_run {
        ControlFile::load(&ctrl)?
    } else {
        None
    };
    let had_control = loaded.is_some() || (!path.exists() && ctrl.exists());
    let verify = (cfg.check_integrity && total.is_some() && path.exists())
        .then_some(cfg.checksum.as_ref())
        .flatten();
    if let Some(cf) = loaded {
        if let Some(t) = total.filter(|&t| t != cf.total_length) {
            return Err(StorageError::BadControlFile {
                path: ctrl,
                why: format!(
                    "total length mismatch. expected: {t}, actual: {}",
                    cf.total_length
                ),
            }
            .into());
        }
        let mut cf = cf;
        if cf.piece_length != cfg.piece_length && !cf.completed.is_empty() {
            // As aria2: progress recorded in other pieces is refused, or
            // with `--allow-piece-length-change` kept where it fills whole
            // pieces of the new length (the rest is fetched again).
            if !cfg.allow_piece_length_change {
                return Err(FetchError::PieceLengthChanged);
            }
            cf.completed = whole_pieces(&cf.completed, cf.total_length, cfg.piece_length);
        }
        // arietta's trailer remembers the entity: a changed file of the
        // same length starts over rather than splicing old bytes.
        let same_entity =
            cf.validator.is_none() || info.validator.is_none() || cf.validator == info.validator;
        if ranged && same_entity {
            done = cf.completed;
            keep = true;
        } else if same_entity && cfg.always_resume && !cf.completed.is_empty() {
            // aria2's `--always-resume` (default): a server that cannot
            // continue the recorded progress aborts the download (exit 8)
            // rather than throwing that progress away.
            let t = cf.total_length;
            let (s, e) = cf.completed.gaps(t).first().copied().unwrap_or((0, t));
            return Err(FetchError::InvalidRange {
                req_start: s,
                req_end: e.saturating_sub(1),
                req_total: t,
                start: 0,
                end: t.saturating_sub(1),
                total: t,
            });
        }
    } else if let Some(ck) = verify {
        // aria2's `-V` with a whole-file hash: verify what is there; a
        // match is the finished download, a mismatch is fetched again in
        // place.
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let good = Some(len) == total
            && crate::checksum::file_digest(&ck.algo, &path)?.eq_ignore_ascii_case(&ck.hex);
        if good {
            verified_notice(&path);
            done.insert(0, len);
            keep = true;
            verified = true;
        } else {
            tracing::error!("Checksum error detected. file={}", path.display());
            if cfg.hash_check_only {
                return Err(FetchError::HashCheckOnly(path.display().to_string()));
            }
        }
    } else if path.exists() {
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if cfg.continue_ && total == Some(len) && len > 0 {
            // As aria2's `-c`: a file as long as the server's is complete,
            // whether or not the server takes ranges.
            done.insert(0, len);
            keep = true;
            // With a hash to check, aria2 checks it instead (and says
            // "Verification finished successfully" at the end).
            if cfg.checksum.is_none() {
                tracing::info!(
                    notice = true,
                    "GID#{gid} - Download has already completed: {}",
                    path.display()
                );
            }
        } else if cfg.continue_ && ranged && total.is_some_and(|t| len <= t) {
            done.insert(0, len);
            keep = true;
        } else if cfg.continue_ || cfg.allow_overwrite {
            // -c against a server without ranges: aria2 starts over.
        } else if cfg.auto_file_renaming {
            path = auto_rename(&path).ok_or_else(|| StorageError::Exists(path.clone()))?;
            tracing::info!(
                notice = true,
                "File already exists. Renamed to {}.",
                path.display()
            );
        } else {
            return Err(StorageError::Exists(path).into());
        }
    }
    let ctrl = control_path(&path);

    // As aria2: every download of known length keeps a control file, even
    // one small enough to be a single segment, so an interrupted run is
    // resumed, not downloaded again beside its partial file.
    let control = total.is_some_and(|t| t > 0);
    let mode = if control && total.unwrap_or(0) >= cfg.no_file_allocation_limit {
        cfg.allocation
    } else {
        Allocation::None
    };
    if !cfg.dry_run {
        // A metalink file name may carry directories (`sub/a.bin`).
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StorageError::MakeDir {
                path: parent.to_owned(),
                source,
            })?;
        }
        let record = || ControlFile {
            piece_length: cfg.piece_length,
            ..ControlFile::new(total.unwrap_or(0), done.clone(), info.validator.clone())
        };
        if let Err(e) = allocate(&path, total.unwrap_or(0), mode, keep) {
            // As aria2: a file whose space cannot be reserved keeps its
            // record, so the run after space is freed resumes into it
            // rather than taking it for a stranger's and renaming.
            if control && matches!(e, StorageError::NoSpace { .. }) {
                let _ = record().save(&ctrl);
            }
            return Err(e.into());
        }
        if control && cfg.auto_save_interval.is_zero() {
            // `--auto-save-interval=0`: aria2 writes the record only when
            // the download stops; a stale one must not outlive a restart.
            if !keep {
                let _ = std::fs::remove_file(&ctrl);
            }
        } else if control {
            record().save(&ctrl)?;
        } else if !keep && had_control {
            // A stale record of an earlier, different download.
            let _ = std::fs::remove_file(&ctrl);
        }
    }
    Ok(PreparedFile {
        path,
        done,
        total,
        ranges: ranged,
        control,
        validator: info.validator.clone(),
        verified,
    })
}

/// `-o -`: nothing is made on disk and nothing is resumed (a pipe cannot
/// be continued, so no control file is kept); download `owner` takes the
/// process's stdout, which carries one file.
pub fn prepare_stream(
    owner: u64,
    cfg: &DownloadConfig,
    info: &ProbeInfo,
) -> Result<PreparedFile, FetchError> {
    let sink = arietta_storage::stdout_sink().ok_or_else(crate::conn_link::no_stdout)?;
    if !sink.claim(owner) {
        return Err(StorageError::Open {
            path: "-".into(),
            source: std::io::Error::other("another download is already writing to stdout"),
        }
        .into());
    }
    if let Some(ck) = &cfg.checksum {
        // Checked as the bytes pass: they cannot be read back.
        crate::checksum::tap_stream(&ck.algo, &sink)?;
    }
    Ok(PreparedFile {
        path: PathBuf::from("-"),
        done: RangeSet::new(),
        total: info.total,
        ranges: info.ranges && info.total.is_some(),
        control: false,
        validator: None,
        verified: false,
    })
}

/// `-o -` after the last byte was handed over: blocks until the first
/// `len` bytes reached stdout (or the reader went away), then checks
/// `--checksum` against what passed (the bytes are out already: a
/// mismatch is the exit code, 32, for the pipeline to act on).
pub fn finish_stream(cfg: &DownloadConfig, len: u64) -> Result<(), FetchError> {
    let sink = arietta_storage::stdout_sink().ok_or_else(crate::conn_link::no_stdout)?;
    sink.finish(len)?;
    if let (Some(ck), Some(actual)) = (&cfg.checksum, crate::checksum::streamed_digest()) {
        if !actual.eq_ignore_ascii_case(&ck.hex) {
            return Err(FetchError::Checksum {
                algo: ck.algo.clone(),
                expected: ck.hex.clone(),
                actual,
            });
        }
    }
    Ok(())
}

/// The pieces of `piece_length` that `done` covers whole (the last one
/// ends at `total`), as aria2's `convertBitfield` keeps them.
fn whole_pieces(done: &RangeSet, total: u64, piece_length: u32) -> RangeSet {
    let pl = u64::from(piece_length.max(1));
    let mut out = RangeSet::new();
    for &(s, e) in done.ranges() {
        let start = s.div_ceil(pl) * pl;
        let end = if e >= total { total } else { e / pl * pl };
        if start < end {
            out.insert(start, end);
        }
    }
    out
}

/// After the last byte: verify `--checksum`, apply `--remote-time`, drop
/// the control file.
pub fn finish(
    cfg: &DownloadConfig,
    path: &Path,
    control: bool,
    last_modified: Option<SystemTime>,
    verified: bool,
) -> Result<(), FetchError> {
    if let Some(ck) = cfg.checksum.as_ref().filter(|_| !verified) {
        let actual = crate::checksum::file_digest(&ck.algo, path)?;
        if !actual.eq_ignore_ascii_case(&ck.hex) {
            return Err(FetchError::Checksum {
                algo: ck.algo.clone(),
                expected: ck.hex.clone(),
                actual,
            });
        }
        verified_notice(path);
    }
    if cfg.remote_time {
        if let Some(t) = last_modified {
            if let Ok(f) = std::fs::File::options().write(true).open(path) {
                let _ = f.set_modified(t);
            }
        }
    }
    if control {
        let ctrl = control_path(path);
        if cfg.force_save {
            // `--force-save` keeps the record of the finished download.
            let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let full = RangeSet::from_ranges([(0, len)]);
            ControlFile {
                piece_length: cfg.piece_length,
                ..ControlFile::new(len, full, None)
            }
            .save(&ctrl)?;
        } else {
            let _ = std::fs::remove_file(ctrl);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_pieces_of_another_length() {
        let done = RangeSet::from_ranges([(0, 3 << 20), (5 << 20, 6 << 20)]);
        let two_m = whole_pieces(&done, 6 << 20, 2 << 20);
        assert_eq!(two_m.ranges(), &[(0, 2 << 20)]);
        let tail = RangeSet::from_ranges([(4 << 20, (5 << 20) + 7)]);
        assert_eq!(
            whole_pieces(&tail, (5 << 20) + 7, 1 << 20).ranges(),
            &[(4 << 20, (5 << 20) + 7)]
        );
        let half = RangeSet::from_ranges([(0, 1 << 19)]);
        assert!(whole_pieces(&half, 4 << 20, 1 << 20).is_empty());
    }

    #[test]
    fn names_from_urls() {
        assert_eq!(
            name_from_url("http://h/a/b%20c.iso?x=1").as_deref(),
            Some("b c.iso")
        );
        assert_eq!(name_from_url("http://h/"), None);
        assert_eq!(name_from_url("http://h/%2e%2e"), None);
        assert_eq!(name_from_url("http://h/x%2"), Some("x%2".into()));
    }
}
