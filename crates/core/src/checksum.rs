//! Whole-file digests for `--checksum`.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha1::Digest;

use crate::error::FetchError;

/// What a whole-file digest needs: bytes in, hex out.
trait Hasher {
    fn update(&mut self, bytes: &[u8]);
    fn hex(self) -> String;
}

impl<D: Digest> Hasher for D {
    fn update(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }

    fn hex(self) -> String {
        hex::encode(self.finalize())
    }
}

/// RFC 1950's Adler-32, which aria2 lists among its hash algorithms (and
/// `--checksum=adler32=…` accepts).
struct Adler32 {
    a: u32,
    b: u32,
}

impl Default for Adler32 {
    fn default() -> Self {
        Adler32 { a: 1, b: 0 }
    }
}

impl Adler32 {
    const MOD: u32 = 65_521;
    /// Bytes that can be summed before `b` could overflow a u32.
    const NMAX: usize = 5552;

    fn update(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(Self::NMAX) {
            for &x in chunk {
                self.a += u32::from(x);
                self.b += self.a;
            }
            self.a %= Self::MOD;
            self.b %= Self::MOD;
        }
    }

    fn hex(&self) -> String {
        format!("{:08x}", (self.b << 16) | self.a)
    }
}

/// Newtype so Adler-32 is not mistaken for a `Digest`.
struct AdlerHasher(Adler32);

impl Hasher for AdlerHasher {
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn hex(self) -> String {
        self.0.hex()
    }
}

fn run(mut d: impl Hasher, path: &Path) -> Result<String, FetchError> {
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
    Ok(d.hex())
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
        "adler32" => run(AdlerHasher(Adler32::default()), path),
        other => Err(FetchError::UnknownChecksum(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler32_matches_zlib() {
        let mut a = Adler32::default();
        a.update(b"hello");
        assert_eq!(a.hex(), "062c0215");
        // Long input: the modulo keeps the sums in range.
        let mut a = Adler32::default();
        a.update(&vec![0xff; 100_000]);
        assert_eq!(a.hex(), "149a302c");
    }
}
