use std::path::{Path, PathBuf};

use crate::{RangeSet, StorageError};

/// The version of aria2's layout arietta writes (`0001`, network byte
/// order); `0000` is read too.
pub const CONTROL_VERSION: u32 = 1;

/// aria2's `--piece-length` default: the piece length aria2c expects in
/// an HTTP/FTP download's control file (it refuses another without
/// `--allow-piece-length-change`).
pub const DEFAULT_PIECE_LENGTH: u32 = 1 << 20;

/// The resume record kept beside a download as `NAME.aria2`, in aria2's
/// layout (see `aria2_format`), so either program resumes the other's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlFile {
    /// Length of the finished file.
    pub total_length: u64,
    /// Bytes known to be written to the file. Saved as aria2's pieces and
    /// 16 KiB blocks: a partial block is not recorded (fetched again).
    pub completed: RangeSet,
    /// aria2's piece length: the torrent's, or `--piece-length`.
    pub piece_length: u32,
    /// A torrent's v1 info hash; `None` for HTTP/FTP.
    pub info_hash: Option<[u8; 20]>,
    /// Bytes uploaded so far (torrents).
    pub upload_length: u64,
    /// Validator of the remote entity (ETag or Last-Modified), so a changed
    /// file on the server is not spliced onto an old one. aria2 has no
    /// field for it: kept in arietta's trailer, absent in aria2c's files.
    pub validator: Option<String>,
}

/// `file` → `file.aria2`.
pub fn control_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".aria2");
    PathBuf::from(s)
}

impl ControlFile {
    /// A record of an HTTP/FTP download with aria2's default piece length.
    pub fn new(total_length: u64, completed: RangeSet, validator: Option<String>) -> Self {
        ControlFile {
            total_length,
            completed,
            piece_length: DEFAULT_PIECE_LENGTH,
            info_hash: None,
            upload_length: 0,
            validator,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        crate::aria2_format::encode(self)
    }

    /// Decodes and validates; every failure names why.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        crate::aria2_format::decode(bytes)
    }

    /// Reads `path`; `Ok(None)` when there is no control file.
    pub fn load(path: &Path) -> Result<Option<Self>, StorageError> {
        match std::fs::read(path) {
            Ok(b) => {
                tracing::info!("Loading the control file {}.", path.display());
                let cf = Self::decode(&b).map_err(|why| StorageError::BadControlFile {
                    path: path.to_owned(),
                    why,
                })?;
                tracing::info!(
                    "The control file was loaded successfully: {} of {} byte(s) done.",
                    cf.completed.covered(),
                    cf.total_length
                );
                Ok(Some(cf))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::info!("The control file {} does not exist.", path.display());
                Ok(None)
            }
            Err(source) => Err(StorageError::ControlIo {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the record with [`crate::write_atomically`]. Logged at
    /// DEBUG, not aria2's INFO: a download saves it every 250 ms while
    /// bytes arrive, where aria2 saves every 60 s.
    pub fn save(&self, path: &Path) -> Result<(), StorageError> {
        tracing::debug!("Saving the control file {}", path.display());
        crate::write_atomically(path, &self.encode()).map_err(|source| StorageError::ControlIo {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aria2_format::BLOCK_LENGTH;

    fn sample() -> ControlFile {
        ControlFile::new(
            3 << 20,
            RangeSet::from_ranges([(0, 1 << 20), (1 << 20, (1 << 20) + 3 * BLOCK_LENGTH)]),
            Some("\"etag\"".into()),
        )
    }

    #[test]
    fn round_trips_through_disk() {
        let d = tempfile::tempdir().unwrap();
        let p = control_path(&d.path().join("f.bin"));
        assert!(p.ends_with("f.bin.aria2"));
        assert_eq!(ControlFile::load(&p).unwrap(), None);
        sample().save(&p).unwrap();
        assert_eq!(ControlFile::load(&p).unwrap(), Some(sample()));
    }

    #[test]
    fn partial_blocks_are_not_claimed() {
        let mut cf = sample();
        cf.completed = RangeSet::from_ranges([(0, 100), (2 << 20, (2 << 20) + BLOCK_LENGTH + 5)]);
        let back = ControlFile::decode(&cf.encode()).unwrap();
        assert_eq!(
            back.completed,
            RangeSet::from_ranges([(2 << 20, (2 << 20) + BLOCK_LENGTH)])
        );
    }

    /// A file aria2c 1.36 wrote (`-x2 -s2 -k1M`, 3 MiB, killed midway):
    /// piece 0 done, piece 2 in flight with its first 33 blocks done.
    #[test]
    fn reads_aria2c_version_1() {
        let mut b = vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&(1u32 << 20).to_be_bytes());
        b.extend_from_slice(&(3u64 << 20).to_be_bytes());
        b.extend_from_slice(&0u64.to_be_bytes());
        b.extend_from_slice(&1u32.to_be_bytes());
        b.push(0x80);
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(&2u32.to_be_bytes());
        b.extend_from_slice(&(1u32 << 20).to_be_bytes());
        b.extend_from_slice(&8u32.to_be_bytes());
        b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0]);
        let cf = ControlFile::decode(&b).unwrap();
        assert_eq!(cf.validator, None);
        assert_eq!(cf.info_hash, None);
        assert_eq!(
            cf.completed,
            RangeSet::from_ranges([(0, 1 << 20), (2 << 20, (2 << 20) + 33 * BLOCK_LENGTH)])
        );
    }

    /// Version 0000: the same fields in host (little-endian) order, here a
    /// torrent's with its info hash.
    #[test]
    fn reads_version_0() {
        let mut b = vec![0, 0, 0, 0, 0, 1];
        b.extend_from_slice(&20u32.to_le_bytes());
        b.extend_from_slice(&[7; 20]);
        b.extend_from_slice(&(256u32 << 10).to_le_bytes());
        b.extend_from_slice(&1_000_000u64.to_le_bytes());
        b.extend_from_slice(&55u64.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.push(0b0001_0000);
        b.extend_from_slice(&0u32.to_le_bytes());
        let cf = ControlFile::decode(&b).unwrap();
        assert_eq!(cf.info_hash, Some([7; 20]));
        assert_eq!(cf.upload_length, 55);
        assert_eq!(cf.completed, RangeSet::from_ranges([(3 << 18, 1_000_000)]));
    }

    #[test]
    fn refuses_other_versions_like_aria2() {
        let mut b = sample().encode();
        b[1] = 2;
        assert_eq!(
            ControlFile::decode(&b).unwrap_err(),
            "Unsupported ctrl file version: 0002"
        );
    }

    #[test]
    fn refuses_damage() {
        let good = sample().encode();
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x40;
            assert!(ControlFile::decode(&b).is_err(), "flip at {i} accepted");
        }
        // Cut exactly after aria2's fields, the file reads as aria2c's own
        // (no validator); every other cut is refused.
        let aria2_part = good.len() - (8 + 1 + 4 + "\"etag\"".len() + 8);
        for n in (0..good.len()).filter(|&n| n != aria2_part) {
            assert!(ControlFile::decode(&good[..n]).is_err(), "cut at {n}");
        }
        let cut = ControlFile::decode(&good[..aria2_part]).unwrap();
        assert_eq!(cut.validator, None);
    }
}
