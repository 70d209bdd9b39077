use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` by writing a temporary file beside it and renaming it
/// over, so a crash leaves either the old content or the new, never half.
/// No fsync: the records written this way (control files, sessions) only
/// need to be as durable as the data they describe, which also sits in the
/// page cache.
///
/// Each write has its own temporary name: two writers of one record at
/// once (a paused run's last save and its resumed run's first) must not
/// truncate each other's file or rename it away from under the other.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|mut f| f.write_all(bytes));
    let result = written.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writers racing on one record all succeed, and what is left is one
    /// writer's bytes whole, never a mix or a truncated file.
    #[test]
    fn concurrent_writers_of_one_record_never_mix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.aria2");
        std::thread::scope(|s| {
            for k in 0..8u8 {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..200 {
                        write_atomically(path, &[k; 4096]).unwrap();
                    }
                });
            }
        });
        let left = std::fs::read(&path).unwrap();
        assert_eq!(left.len(), 4096);
        assert!(left.iter().all(|&b| b == left[0]));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }
}
