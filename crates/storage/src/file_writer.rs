use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use glommio::io::{BufferedFile, DmaBuffer, DmaFile, OpenOptions};

use crate::{OrderedSink, StorageError};

/// Direct-I/O writes must cover whole pages: a page is either written
/// whole by one direct write or only through the page cache, never both,
/// so a buffered write can never resurrect stale bytes over a direct one.
const PAGE: u64 = 4096;

/// A buffer to read a chunk into, of the kind the file's write path wants:
/// page-aligned for direct I/O (allocated, not zeroed), plain otherwise.
pub enum ChunkBuf {
    Direct(DmaBuffer),
    Heap(Vec<u8>),
}

impl ChunkBuf {
    /// The writable bytes; the caller fills a prefix and passes its length
    /// to [`FileWriter::write_chunk`].
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            ChunkBuf::Direct(b) => b.as_bytes_mut(),
            ChunkBuf::Heap(v) => v.as_mut_slice(),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            ChunkBuf::Direct(b) => b.as_bytes(),
            ChunkBuf::Heap(v) => v.as_slice(),
        }
    }
}

/// A core's handle on one download's file: writes go through io_uring.
///
/// Large downloads are written with O_DIRECT (`DmaFile`): on ext4 a buffered
/// io_uring write is handed to a kernel worker thread and copied into the
/// page cache, which measured as most of arietta's CPU time on a 1 GiB
/// download. Direct writes skip the copy and the hop. Only whole pages go
/// direct; the unaligned head and tail of a chunk (after a failed
/// connection, `-c`, or the file's last page) go through `BufferedFile`.
/// Nothing is ever read back through the DMA path, so glommio's
/// empty-first-file DMA read bug does not apply.
///
/// With `-o -` the "file" is the process's stdout: [`FileWriter::stream`]
/// hands every chunk to the [`OrderedSink`] that puts them in order, so
/// the connections' code is the same for both.
pub struct FileWriter {
    out: Output,
    path: PathBuf,
}

enum Output {
    File {
        buffered: BufferedFile,
        direct: Option<DmaFile>,
    },
    Stream(Arc<OrderedSink>),
}

impl FileWriter {
    /// Opens an existing file (prepared by [`crate::allocate`]) for writing;
    /// `direct` asks for O_DIRECT, silently falling back to buffered writes
    /// where the file system refuses it (tmpfs).
    pub async fn open(path: &Path, direct: bool) -> Result<FileWriter, StorageError> {
        let open_err = |e: glommio::GlommioError<()>| StorageError::Open {
            path: path.to_owned(),
            source: e.into(),
        };
        let buffered = OpenOptions::new()
            .write(true)
            .buffered_open(path)
            .await
            .map_err(open_err)?;
        let direct = if direct {
            OpenOptions::new().write(true).dma_open(path).await.ok()
        } else {
            None
        };
        tracing::debug!(
            "Opened {} for writing{}",
            path.display(),
            if direct.is_some() { " (O_DIRECT)" } else { "" }
        );
        Ok(FileWriter {
            out: Output::File { buffered, direct },
            path: path.to_owned(),
        })
    }

    /// A writer into `sink` (`-o -`): chunks may come in any order.
    pub fn stream(sink: Arc<OrderedSink>) -> FileWriter {
        FileWriter {
            out: Output::Stream(sink),
            path: PathBuf::from("-"),
        }
    }

    fn direct(&self) -> Option<&DmaFile> {
        match &self.out {
            Output::File { direct, .. } => direct.as_ref(),
            Output::Stream(_) => None,
        }
    }

    /// Whether whole pages are written with O_DIRECT.
    pub fn is_direct(&self) -> bool {
        self.direct().is_some()
    }

    /// A buffer for a chunk of up to `len` bytes.
    pub fn chunk(&self, len: usize) -> ChunkBuf {
        match self.direct() {
            Some(d) => {
                ChunkBuf::Direct(d.alloc_dma_buffer(len.div_ceil(PAGE as usize) * PAGE as usize))
            }
            None => ChunkBuf::Heap(vec![0u8; len]),
        }
    }

    fn write_error(&self, source: std::io::Error) -> StorageError {
        StorageError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes the first `len` bytes of `buf` at file offset `pos`.
    pub async fn write_chunk(
        &self,
        buf: ChunkBuf,
        len: usize,
        pos: u64,
    ) -> Result<(), StorageError> {
        let end = pos + len as u64;
        let (a, b) = ((pos + PAGE - 1) & !(PAGE - 1), end & !(PAGE - 1));
        let dma = match (self.direct(), buf) {
            (Some(d), ChunkBuf::Direct(mut db)) if a < b => {
                let head = (a - pos) as usize;
                let tail = (b - pos) as usize;
                let edges = (
                    db.as_bytes()[..head].to_vec(),
                    db.as_bytes()[tail..len].to_vec(),
                );
                let body = if head == 0 {
                    db.trim_to_size(tail);
                    db
                } else {
                    // Unaligned start (rare): the whole pages move to an
                    // aligned buffer of their own.
                    let mut nb = d.alloc_dma_buffer(tail - head);
                    nb.as_bytes_mut()
                        .copy_from_slice(&db.as_bytes()[head..tail]);
                    nb
                };
                Some((d, body, edges))
            }
            (_, buf) => {
                let mut v = match buf {
                    ChunkBuf::Heap(v) => v,
                    other => other.as_slice()[..len].to_vec(),
                };
                v.truncate(len);
                if let Output::Stream(sink) = &self.out {
                    return sink.write(pos, v).await;
                }
                return self.write_buffered(v, pos).await;
            }
        };
        let (d, body, (head, tail)) = dma.expect("direct case");
        let want = body.len();
        let direct = async {
            let n = d
                .write_at(body, a)
                .await
                .map_err(|e| self.write_error(e.into()))?;
            if n < want {
                return Err(self.write_error(std::io::Error::from_raw_os_error(libc::ENOSPC)));
            }
            Ok(())
        };
        let edges = async {
            if !head.is_empty() {
                self.write_buffered(head, pos).await?;
            }
            if !tail.is_empty() {
                self.write_buffered(tail, b).await?;
            }
            Ok(())
        };
        let (r1, r2) = futures_lite::future::zip(direct, edges).await;
        r1.and(r2)
    }

    /// Writes all of `buf` at `pos`. glommio consumes the buffer, so a
    /// short write (which for a regular file means the disk filled up or a
    /// file size limit hit) is reported as ENOSPC rather than retried.
    pub async fn write_buffered(&self, buf: Vec<u8>, pos: u64) -> Result<(), StorageError> {
        let buffered = match &self.out {
            Output::File { buffered, .. } => buffered,
            Output::Stream(sink) => return sink.write(pos, buf).await,
        };
        let len = buf.len();
        let n = buffered
            .write_at(buf, pos)
            .await
            .map_err(|e| self.write_error(e.into()))?;
        if n < len {
            return Err(self.write_error(std::io::Error::from_raw_os_error(libc::ENOSPC)));
        }
        Ok(())
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
    pub async fn get(
        &self,
        key: u64,
        path: &Path,
        direct: bool,
    ) -> Result<Rc<FileWriter>, StorageError> {
        if let Some(w) = self.files.borrow().get(&key).and_then(Weak::upgrade) {
            if w.path() == path {
                return Ok(w);
            }
        }
        let w = Rc::new(FileWriter::open(path, direct).await?);
        let mut files = self.files.borrow_mut();
        files.retain(|_, w| w.strong_count() > 0);
        files.insert(key, Rc::downgrade(&w));
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `chunks` (offset, len) of a known pattern from concurrent
    /// tasks on a brand-new file in a brand-new directory (the case that
    /// breaks glommio's DMA *reads*; writes must not care), then checks
    /// every byte through an ordinary read.
    fn write_pattern(direct: bool, size: u64, chunks: Vec<(u64, usize)>) {
        // Under target/, not /tmp: /tmp may be tmpfs, which refuses O_DIRECT.
        let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target");
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::tempdir_in(base).unwrap();
        let path = dir.path().join("fresh/f.bin");
        crate::allocate(&path, size, crate::Allocation::None, false).unwrap();
        let byte = |i: u64| (i % 251) as u8;
        let p = path.clone();
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .spawn(move || async move {
                let files = Rc::new(OpenFiles::new());
                let mut tasks = Vec::new();
                for (pos, len) in chunks {
                    let files = files.clone();
                    let p = p.clone();
                    tasks.push(glommio::spawn_local(async move {
                        let w = files.get(7, &p, direct).await.unwrap();
                        assert_eq!(w.is_direct(), direct);
                        let mut buf = w.chunk(len);
                        for (i, b) in buf.as_mut_slice()[..len].iter_mut().enumerate() {
                            *b = byte(pos + i as u64);
                        }
                        w.write_chunk(buf, len, pos).await.unwrap();
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
        assert_eq!(data.len() as u64, size);
        for (i, b) in data.iter().enumerate() {
            assert_eq!(*b, byte(i as u64), "byte {i} (direct={direct})");
        }
    }

    fn scattered(size: u64) -> Vec<(u64, usize)> {
        // Aligned 64 KiB chunks, then odd cuts: unaligned starts and ends,
        // chunks inside one page, and the file's ragged last page.
        let mut cuts = vec![
            0u64, 65536, 131072, 131073, 140000, 143360, 143361, 143400, 200001, 262144,
        ];
        cuts.push(size);
        cuts.windows(2)
            .rev()
            .map(|w| (w[0], (w[1] - w[0]) as usize))
            .collect()
    }

    #[test]
    fn buffered_scattered_writes() {
        write_pattern(false, 300_007, scattered(300_007));
    }

    #[test]
    fn direct_scattered_writes() {
        write_pattern(true, 300_007, scattered(300_007));
    }
}
