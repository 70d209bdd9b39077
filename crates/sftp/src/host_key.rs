//! `--ssh-host-key-md=TYPE=DIGEST`: the server's host key, pinned by its
//! digest, checked right after the key exchange and before any credential
//! is sent.

use crate::error::SftpError;

/// Digest algorithms libssh2 computes over the raw host key blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKeyAlgo {
    Md5,
    Sha1,
    /// Not in aria2 (which knows `md5` and `sha-1` only), accepted because
    /// it is what `ssh-keygen -l` prints for today's keys.
    Sha256,
}

impl HostKeyAlgo {
    /// aria2's spelling of the algorithm.
    pub fn name(self) -> &'static str {
        match self {
            HostKeyAlgo::Md5 => "md5",
            HostKeyAlgo::Sha1 => "sha-1",
            HostKeyAlgo::Sha256 => "sha-256",
        }
    }

    fn len(self) -> usize {
        match self {
            HostKeyAlgo::Md5 => 16,
            HostKeyAlgo::Sha1 => 20,
            HostKeyAlgo::Sha256 => 32,
        }
    }

    pub(crate) fn ssh2(self) -> ssh2::HashType {
        match self {
            HostKeyAlgo::Md5 => ssh2::HashType::Md5,
            HostKeyAlgo::Sha1 => ssh2::HashType::Sha1,
            HostKeyAlgo::Sha256 => ssh2::HashType::Sha256,
        }
    }
}

/// The expected digest of the server's host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostKeyCheck {
    pub algo: HostKeyAlgo,
    pub digest: Vec<u8>,
}

impl HostKeyCheck {
    /// Parses aria2's `TYPE=HEXDIGEST` (`sha-1`, `sha1`, `md5`, `sha-256`).
    pub fn parse(s: &str) -> Result<HostKeyCheck, SftpError> {
        let bad = || SftpError::BadHostKeyOption(s.to_owned());
        let (ty, hex_digest) = s.split_once('=').ok_or_else(bad)?;
        let algo = match ty.trim().to_ascii_lowercase().as_str() {
            "md5" => HostKeyAlgo::Md5,
            "sha-1" | "sha1" => HostKeyAlgo::Sha1,
            "sha-256" | "sha256" => HostKeyAlgo::Sha256,
            _ => return Err(bad()),
        };
        let digest = hex::decode(hex_digest.trim()).map_err(|_| bad())?;
        if digest.len() != algo.len() {
            return Err(bad());
        }
        Ok(HostKeyCheck { algo, digest })
    }

    /// Compares the server's digest; `None` (libssh2 could not compute it)
    /// is a mismatch too, since the user asked for the check.
    pub fn verify(&self, host: &str, actual: Option<&[u8]>) -> Result<(), SftpError> {
        match actual {
            Some(a) if a == self.digest.as_slice() => Ok(()),
            other => Err(SftpError::HostKeyMismatch {
                host: host.to_owned(),
                algo: self.algo.name(),
                expected: hex::encode(&self.digest),
                actual: other.map_or_else(|| "unavailable".to_owned(), hex::encode),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aria2_spellings() {
        let c = HostKeyCheck::parse(&format!("sha-1={}", "ab".repeat(20))).unwrap();
        assert_eq!(c.algo, HostKeyAlgo::Sha1);
        assert_eq!(c.digest, vec![0xab; 20]);
        let c = HostKeyCheck::parse(&format!("MD5={}", "0F".repeat(16))).unwrap();
        assert_eq!(c.algo, HostKeyAlgo::Md5);
        assert!(HostKeyCheck::parse(&format!("sha-256={}", "00".repeat(32))).is_ok());
    }

    #[test]
    fn rejects_bad_values() {
        for s in [
            "sha-1",
            "sha-1=zz",
            &format!("sha-1={}", "ab".repeat(19)),
            &format!("sha-512={}", "ab".repeat(64)),
        ] {
            assert!(
                matches!(HostKeyCheck::parse(s), Err(SftpError::BadHostKeyOption(_))),
                "{s}"
            );
        }
    }

    #[test]
    fn verify_reports_both_digests() {
        let c = HostKeyCheck::parse(&format!("md5={}", "11".repeat(16))).unwrap();
        assert!(c.verify("h", Some(&[0x11; 16])).is_ok());
        let e = c.verify("h", Some(&[0x22; 16])).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&"11".repeat(16)) && msg.contains(&"22".repeat(16)),
            "{msg}"
        );
        assert_eq!(e.aria2_exit_code(), 1);
        assert!(!e.is_retryable());
        assert!(c.verify("h", None).is_err());
    }
}
