use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};

use glommio::io::{BufferedFile, OpenOptions};

use crate::StorageError;

/// A core's handle on one download's file: writes go through io_uring.
///
/// `BufferedFile` rather than `DmaFile`: segments arrive at arbitrary
/// offsets and lengths, DMA needs 512-byte alignment, and glommio's DMA path
/// has the empty-first-file read bug; page-cache writes measured as fast.
pub struct FileWriter {
    file: BufferedFile,
    path: PathBuf,
}

impl FileWriter {
    /// Opens an existing file (prepared by [`crate::allocate`]) for writing.
    pub async fn open(path: &Path) -> Result<FileWriter, StorageError> {
        let file = OpenOptions::new()
            .write(true)
            .buffered_open(path)
            .await
            .map_err(|e| StorageError::Open {
                path: path.to_owned(),
                source: e.into(),
            })?;
        Ok(FileWriter {
            file,
            path: path.to_owned(),
        })
    }

    /// Writes all of `buf` at `pos`. glommio consumes the buffer, so a
    /// short write (which for a regular file means the disk filled up or a
    /// file size limit hit) is reported as ENOSPC rather than retried.
    pub async fn write_all_at(&self, buf: Vec<u8>, pos: u64) -> Result<usize, StorageError> {
        let len = buf.len();
        let n = self
            .file
            .write_at(buf, pos)
            .await
            .map_err(|e| StorageError::Write {
                path: self.path.clone(),
                source: e.into(),
            })?;
        if n < len {
            return Err(StorageError::Write {
                path: self.path.clone(),
                source: std::io::Error::from_raw_os_error(libc::ENOSPC),
            });
        }
        Ok(len)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A core's table of open files, keyed by download, so that the sixteen
/// connections of one download on this core share one descriptor, and the
/// descriptor closes when the last of them is done.
#[derive(Default)]
pub struct OpenFiles {
    files: RefCell<HashMap<u64, Weak<FileWriter>>>,
}

impl OpenFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// The writer for download `key`, opening `path` if no connection on
    /// this core holds it yet.
    pub async fn get(&self, key: u64, path: &Path) -> Result<Rc<FileWriter>, StorageError> {
        if let Some(w) = self.files.borrow().get(&key).and_then(Weak::upgrade) {
            if w.path() == path {
                return Ok(w);
            }
        }
        let w = Rc::new(FileWriter::open(path).await?);
        let mut files = self.files.borrow_mut();
        files.retain(|_, w| w.strong_count() > 0);
        files.insert(key, Rc::downgrade(&w));
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Out-of-order writes from several tasks land where they should, on a
    /// brand-new file in a brand-new directory (the case that breaks
    /// glommio's DMA reads; the buffered path must not care).
    #[test]
    fn scattered_writes_on_a_fresh_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh/f.bin");
        crate::allocate(&path, 1 << 20, crate::Allocation::Falloc, false).unwrap();
        let p = path.clone();
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .spawn(move || async move {
                let files = Rc::new(OpenFiles::new());
                let mut tasks = Vec::new();
                for i in (0..16u64).rev() {
                    let files = files.clone();
                    let p = p.clone();
                    tasks.push(glommio::spawn_local(async move {
                        let w = files.get(7, &p).await.unwrap();
                        let chunk = vec![i as u8; 64 << 10];
                        w.write_all_at(chunk, i * (64 << 10)).await.unwrap();
                    }));
                }
                for t in tasks {
                    t.await;
                }
            })
            .unwrap()
            .join()
            .unwrap();
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len(), 1 << 20);
        for (i, c) in data.chunks(64 << 10).enumerate() {
            assert!(c.iter().all(|b| *b == i as u8), "chunk {i}");
        }
    }
}
