//! Whole-file digests for `--checksum`.

use std::io::Read;
use std::path::Path;

use sha1::Digest;

use crate::error::FetchError;

fn run<D: Digest>(mut d: D, path: &Path) -> Result<String, FetchError> {
    let mut f =
        std::fs::File::open(path).map_err(|source| arietta_storage::StorageError::Open {
            path: path.to_owned(),
            source,
        })?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|source| arietta_storage::StorageError::Open {
                path: path.to_owned(),
                source,
            })?;
        if n == 0 {
            break;
        }
        d.update(&buf[..n]);
    }
    Ok(hex::encode(d.finalize()))
}

/// Hex digest of the file with aria2's hash names.
pub fn file_digest(algo: &str, path: &Path) -> Result<String, FetchError> {
    match algo {
        "md5" => run(md5::Md5::new(), path),
        "sha-1" => run(sha1::Sha1::new(), path),
        "sha-224" => run(sha2::Sha224::new(), path),
        "sha-256" => run(sha2::Sha256::new(), path),
        "sha-384" => run(sha2::Sha384::new(), path),
        "sha-512" => run(sha2::Sha512::new(), path),
        other => Err(FetchError::UnknownChecksum(other.to_owned())),
    }
}
