use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::StorageError;

/// aria2's `--file-allocation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocation {
    None,
    /// aria2 writes zeros; we ask the filesystem with fallocate first and
    /// only write zeros where that is unsupported: same result, far faster.
    Prealloc,
    Falloc,
    Trunc,
}

impl Allocation {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Self::None,
            "prealloc" => Self::Prealloc,
            "falloc" => Self::Falloc,
            "trunc" => Self::Trunc,
            _ => return None,
        })
    }

    /// The option's word (`--file-allocation=prealloc`).
    pub fn word(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Prealloc => "prealloc",
            Self::Falloc => "falloc",
            Self::Trunc => "trunc",
        }
    }
}

/// Creates (or opens, when `keep` is set because we are resuming) the file
/// and reserves `len` bytes as `mode` asks.
pub fn allocate(path: &Path, len: u64, mode: Allocation, keep: bool) -> Result<(), StorageError> {
    if let Some(dir) = path.parent() {
        // One stat instead of mkdir+stat per file: mirror runs put
        // thousands of files in one directory.
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|source| StorageError::MakeDir {
                path: dir.to_owned(),
                source,
            })?;
        }
    }
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(!keep)
        .open(path)
        .map_err(|source| StorageError::Open {
            path: path.to_owned(),
            source,
        })?;
    if len == 0 {
        return Ok(());
    }
    tracing::info!(
        "Allocating file {}: target size={len}, current size={}, mode={}",
        path.display(),
        current_len(&f),
        mode.word()
    );
    let no_space = |source| StorageError::NoSpace {
        path: path.to_owned(),
        len,
        source,
    };
    match mode {
        Allocation::None => Ok(()),
        Allocation::Trunc => f.set_len(len.max(current_len(&f))).map_err(no_space),
        Allocation::Falloc => fallocate(&f, len).map_err(no_space),
        Allocation::Prealloc => match fallocate(&f, len) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                tracing::debug!("File system does not support fallocate; writing zeros.");
                write_zeros(&f, len).map_err(no_space)
            }
            Err(e) => Err(no_space(e)),
        },
    }
}

fn current_len(f: &File) -> u64 {
    f.metadata().map(|m| m.len()).unwrap_or(0)
}

fn fallocate(f: &File, len: u64) -> std::io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: plain syscall on a descriptor owned by `f` for the call's duration.
    let r = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(r))
    }
}

fn write_zeros(f: &File, len: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let zeros = vec![0u8; 1 << 20];
    let mut pos = current_len(f);
    while pos < len {
        let n = (len - pos).min(zeros.len() as u64) as usize;
        f.write_all_at(&zeros[..n], pos)?;
        pos += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let d = tempfile::tempdir().unwrap();
        for (m, want) in [
            (Allocation::None, 0),
            (Allocation::Trunc, 5000),
            (Allocation::Falloc, 5000),
            (Allocation::Prealloc, 5000),
        ] {
            let p = d.path().join(format!("{m:?}/f"));
            allocate(&p, 5000, m, false).unwrap();
            assert_eq!(std::fs::metadata(&p).unwrap().len(), want, "{m:?}");
        }
    }

    #[test]
    fn keep_preserves_content() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        allocate(&p, 10, Allocation::Trunc, true).unwrap();
        let b = std::fs::read(&p).unwrap();
        assert_eq!(&b[..5], b"hello");
        assert_eq!(b.len(), 10);
    }
}
