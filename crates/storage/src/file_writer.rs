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
