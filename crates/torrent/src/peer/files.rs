//! A peer connection's file access: block writes and piece reads through
//! this core's bounded handle cache for the torrent
//! (`--bt-max-open-files`), across file boundaries.

use std::rc::Rc;
use std::sync::Arc;

use crate::layout::Layout;
use crate::open_files::{Handle, OpenFiles};

/// File access of one connection, through this core's bounded handle
/// cache for the torrent (`--bt-max-open-files`).
pub(crate) struct Files {
    pub(super) layout: Arc<Layout>,
    pub(super) open: Rc<OpenFiles>,
}

impl Files {
    /// This core's bounded handle cache for `layout`'s torrent.
    pub(crate) fn new(layout: Arc<Layout>, max_open_files: usize) -> Files {
        Files {
            open: OpenFiles::for_torrent(&layout, max_open_files),
            layout,
        }
    }

    async fn get(&self, i: usize) -> std::io::Result<Rc<Handle>> {
        self.open.get(i).await
    }

    /// Writes `data` at stream offset `offset`, across file boundaries.
    /// Padding files get zeros, whatever the peer sent (their bytes never
    /// reach a hash: reads give zeros there); alignment gaps nothing.
    pub(crate) async fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        for s in self.layout.spans(offset, data.len()) {
            let file = &self.layout.files[s.file];
            if !file.listed {
                continue;
            }
            if !file.selected && !self.open.is_open(s.file) {
                // A piece shared with an unselected file also writes into
                // it (as aria2 does); only selected files' directories
                // were made up front.
                if let Some(parent) = file.path.parent() {
                    let parent = parent.to_path_buf();
                    glommio::executor()
                        .spawn_blocking(move || std::fs::create_dir_all(parent))
                        .await?;
                }
            }
            let f = self.get(s.file).await?;
            let buf = if file.padding {
                vec![0; s.len]
            } else {
                data[s.range_offset..s.range_offset + s.len].to_vec()
            };
            let n = f
                .write_at(buf, s.file_offset)
                .await
                .map_err(std::io::Error::from)?;
            if n < s.len {
                return Err(std::io::Error::from_raw_os_error(libc_enospc()));
            }
        }
        Ok(())
    }

    /// Reads `len` bytes at stream offset `offset` into `out`.
    pub(super) async fn read(
        &self,
        offset: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        for s in self.layout.spans(offset, len) {
            if self.layout.files[s.file].padding {
                out.resize(out.len() + s.len, 0);
                continue;
            }
            let f = self.get(s.file).await?;
            let r = f
                .read_at(s.file_offset, s.len)
                .await
                .map_err(std::io::Error::from)?;
            if r.len() < s.len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "short read",
                ));
            }
            out.extend_from_slice(&r[..s.len]);
        }
        Ok(())
    }
}

fn libc_enospc() -> i32 {
    28
}
