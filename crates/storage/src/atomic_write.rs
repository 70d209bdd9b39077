use std::io::Write;
use std::path::{Path, PathBuf};

/// Replaces `path` by writing a temporary file beside it and renaming it
/// over, so a crash leaves either the old content or the new, never half.
/// No fsync: the records written this way (control files, sessions) only
/// need to be as durable as the data they describe, which also sits in the
/// page cache.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    drop(f);
    std::fs::rename(&tmp, path)
}
