use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{RangeSet, StorageError};

/// Bumped whenever the encoding changes; older files are refused rather
/// than misread.
pub const CONTROL_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"ARIETTA\x01";

/// The resume record kept beside a download as `NAME.aria2`.
///
/// Layout: magic, version (u32 LE), xxh3-64 of the body (u64 LE), then the
/// bincode body. A torn or edited file fails the checksum and is refused;
/// the download then restarts instead of trusting wrong ranges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlFile {
    /// Length of the finished file; 0 when unknown.
    pub total_length: u64,
    /// Bytes known to be written to the file.
    pub completed: RangeSet,
    /// The URIs the download was started from, to warn when they differ.
    pub uris: Vec<String>,
    /// Validator of the remote entity (ETag or Last-Modified), so a changed
    /// file on the server is not spliced onto an old one.
    pub validator: Option<String>,
}

/// `file` → `file.aria2`.
pub fn control_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".aria2");
    PathBuf::from(s)
}

impl ControlFile {
    pub fn encode(&self) -> Vec<u8> {
        let body = bincode::serialize(self).expect("control file serializes");
        let mut out = Vec::with_capacity(body.len() + 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CONTROL_VERSION.to_le_bytes());
        out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decodes and validates; every failure names why.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err("not an arietta control file".into());
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != CONTROL_VERSION {
            return Err(format!("unsupported control file version {version}"));
        }
        let sum = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        let body = &bytes[20..];
        if xxhash_rust::xxh3::xxh3_64(body) != sum {
            return Err("checksum mismatch (torn or edited file)".into());
        }
        let cf: ControlFile = bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .allow_trailing_bytes()
            .with_limit(64 << 20)
            .deserialize(body)
            .map_err(|e| format!("corrupt body: {e}"))?;
        if cf.total_length > 0 && !cf.completed.is_well_formed(cf.total_length) {
            return Err("ranges outside the file".into());
        }
        Ok(cf)
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

use bincode::Options as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ControlFile {
        ControlFile {
            total_length: 1000,
            completed: RangeSet::from_ranges([(0, 100), (500, 700)]),
            uris: vec!["http://a/b".into()],
            validator: Some("\"etag\"".into()),
        }
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
    fn refuses_damage() {
        let good = sample().encode();
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x40;
            assert!(ControlFile::decode(&b).is_err(), "flip at {i} accepted");
        }
        for n in 0..good.len() {
            assert!(ControlFile::decode(&good[..n]).is_err());
        }
    }
}
