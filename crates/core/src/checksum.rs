//! Whole-file digests for `--checksum`.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

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

/// A running digest by aria2's hash name.
fn dyn_digest(algo: &str) -> Result<Box<dyn sha1::digest::DynDigest + Send>, FetchError> {
    Ok(match algo {
        "md5" => Box::new(md5::Md5::new()),
        "sha-1" => Box::new(sha1::Sha1::new()),
        "sha-224" => Box::new(sha2::Sha224::new()),
        "sha-256" => Box::new(sha2::Sha256::new()),
        "sha-384" => Box::new(sha2::Sha384::new()),
        "sha-512" => Box::new(sha2::Sha512::new()),
        other => return Err(FetchError::UnknownChecksum(other.to_owned())),
    })
}

type Running = Arc<Mutex<Box<dyn sha1::digest::DynDigest + Send>>>;

/// `-o -` with `--checksum`: the digest of the bytes streamed so far. The
/// process streams one download, so there is one.
static STREAMED: Mutex<Option<Running>> = Mutex::new(None);

/// Hashes every byte `sink` writes out, for [`streamed_digest`].
pub fn tap_stream(algo: &str, sink: &arietta_storage::OrderedSink) -> Result<(), FetchError> {
    let running: Running = Arc::new(Mutex::new(dyn_digest(algo)?));
    let r = running.clone();
    sink.set_tap(Box::new(move |b| {
        r.lock().unwrap_or_else(|e| e.into_inner()).update(b)
    }));
    *STREAMED.lock().unwrap_or_else(|e| e.into_inner()) = Some(running);
    Ok(())
}

/// The hex digest of what [`tap_stream`] saw, once.
pub fn streamed_digest() -> Option<String> {
    let running = STREAMED.lock().unwrap_or_else(|e| e.into_inner()).take()?;
    let mut d = running.lock().unwrap_or_else(|e| e.into_inner());
    Some(hex::encode(d.finalize_reset()))
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
