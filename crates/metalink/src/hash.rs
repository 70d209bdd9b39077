//! Hash algorithms metalink documents name, the checksums they carry and a
//! streaming hasher to verify them.

use md5::Md5;
use sha1::{Digest, Sha1};
use sha2::{Sha224, Sha256, Sha384, Sha512};

/// A hash algorithm aria2 can verify. Ordered weakest to strongest so that
/// `max()` picks the one to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgo {
    /// Parses the names used by metalink v4 (IANA: `sha-256`), metalink v3
    /// (`sha256`, `sha1`) and RFC 3230 `Digest:` (`SHA` = SHA-1), in any case.
    /// Unknown names give `None` so callers can skip them.
    pub fn from_name(name: &str) -> Option<HashAlgo> {
        let lower = name.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "md5" | "md-5" => HashAlgo::Md5,
            "sha-1" | "sha1" | "sha" => HashAlgo::Sha1,
            "sha-224" | "sha224" => HashAlgo::Sha224,
            "sha-256" | "sha256" => HashAlgo::Sha256,
            "sha-384" | "sha384" => HashAlgo::Sha384,
            "sha-512" | "sha512" => HashAlgo::Sha512,
            _ => return None,
        })
    }

    /// The name aria2 prints and accepts in `--checksum=TYPE=DIGEST`.
    pub fn aria2_name(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha1 => "sha-1",
            HashAlgo::Sha224 => "sha-224",
            HashAlgo::Sha256 => "sha-256",
            HashAlgo::Sha384 => "sha-384",
            HashAlgo::Sha512 => "sha-512",
        }
    }

    /// Digest length in bytes; a hash value of any other length is bogus.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgo::Md5 => 16,
            HashAlgo::Sha1 => 20,
            HashAlgo::Sha224 => 28,
            HashAlgo::Sha256 => 32,
            HashAlgo::Sha384 => 48,
            HashAlgo::Sha512 => 64,
        }
    }

    /// Starts a streaming hash of this kind.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgo::Md5 => Hasher::Md5(Md5::new()),
            HashAlgo::Sha1 => Hasher::Sha1(Sha1::new()),
            HashAlgo::Sha224 => Hasher::Sha224(Sha224::new()),
            HashAlgo::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlgo::Sha384 => Hasher::Sha384(Sha384::new()),
            HashAlgo::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// One-shot digest, for piece checks where the piece is already in memory.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finalize()
    }
}

/// Streaming hasher over any [`HashAlgo`], so verification code need not be
/// generic over RustCrypto types.
#[derive(Clone)]
pub enum Hasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha224(Sha224),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// Feeds more bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha224(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// Finishes and returns the raw digest.
    pub fn finalize(self) -> Vec<u8> {
        match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha224(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// A whole-file checksum. The digest is stored raw (not hex) so the length
/// has been checked once and comparisons are byte-exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algo: HashAlgo,
    pub digest: Vec<u8>,
}

impl Checksum {
    /// Builds a checksum from a hex string as found in metalink documents,
    /// refusing a digest whose length does not match the algorithm.
    pub fn from_hex(algo: HashAlgo, hex_digest: &str) -> Option<Checksum> {
        let digest = hex::decode(hex_digest.trim()).ok()?;
        (digest.len() == algo.digest_len()).then_some(Checksum { algo, digest })
    }

    /// Lower-case hex, as aria2 shows it.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.digest)
    }

    /// Whether `data` hashes to this checksum.
    pub fn matches(&self, data: &[u8]) -> bool {
        self.algo.digest(data) == self.digest
    }
}

/// Chunk checksums: every `length` bytes of the file (the last piece may be
/// shorter) hash to the matching entry of `hashes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceHashes {
    pub algo: HashAlgo,
    /// Piece length in bytes; never zero.
    pub length: u64,
    /// Raw digests, piece 0 first; each has `algo.digest_len()` bytes.
    pub hashes: Vec<Vec<u8>>,
}

impl PieceHashes {
    /// The expected digest of piece `index`, if there is one.
    pub fn piece(&self, index: usize) -> Option<&[u8]> {
        self.hashes.get(index).map(Vec::as_slice)
    }

    /// Whether the piece count agrees with a file of `size` bytes. A list
    /// that disagrees would fail every download, so the parser drops it.
    pub fn fits_size(&self, size: u64) -> bool {
        let expected = size.div_ceil(self.length);
        u64::try_from(self.hashes.len()).is_ok_and(|n| n == expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_all_dialects() {
        assert_eq!(HashAlgo::from_name("sha-256"), Some(HashAlgo::Sha256));
        assert_eq!(HashAlgo::from_name("SHA256"), Some(HashAlgo::Sha256));
        assert_eq!(HashAlgo::from_name("SHA"), Some(HashAlgo::Sha1));
        assert_eq!(HashAlgo::from_name("MD5"), Some(HashAlgo::Md5));
        assert_eq!(HashAlgo::from_name("crc32"), None);
        assert!(HashAlgo::Sha512 > HashAlgo::Sha384 && HashAlgo::Sha1 > HashAlgo::Md5);
    }

    #[test]
    fn known_digests() {
        assert_eq!(
            hex::encode(HashAlgo::Md5.digest(b"abc")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex::encode(HashAlgo::Sha1.digest(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let mut h = HashAlgo::Sha256.hasher();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(
            hex::encode(h.finalize()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for algo in [HashAlgo::Sha224, HashAlgo::Sha384, HashAlgo::Sha512] {
            assert_eq!(algo.digest(b"").len(), algo.digest_len());
        }
    }

    #[test]
    fn checksum_length_checked() {
        assert!(Checksum::from_hex(HashAlgo::Sha1, "abcd").is_none());
        assert!(Checksum::from_hex(HashAlgo::Md5, "zz").is_none());
        let c = Checksum::from_hex(HashAlgo::Md5, "900150983CD24FB0D6963F7D28E17F72").unwrap();
        assert!(c.matches(b"abc"));
        assert_eq!(c.to_hex(), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn piece_count_vs_size() {
        let p = PieceHashes {
            algo: HashAlgo::Sha1,
            length: 10,
            hashes: vec![vec![0; 20]; 3],
        };
        assert!(p.fits_size(21) && p.fits_size(30));
        assert!(!p.fits_size(31) && !p.fits_size(20));
        assert!(p.piece(2).is_some() && p.piece(3).is_none());
    }
}
