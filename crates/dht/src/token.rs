//! announce_peer tokens (BEP 5): proof that an announcer recently asked us
//! get_peers from the same IP, without storing per-peer state.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

/// Token length on the wire; 8 bytes is plenty against guessing and keeps
/// replies small.
const TOKEN_LEN: usize = 8;

/// The current and previous secret. Rotate every 5 minutes; tokens are
/// then valid for 5–10 minutes, as BEP 5 suggests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSecrets {
    current: [u8; 20],
    previous: [u8; 20],
}

impl TokenSecrets {
    /// Starts with `secret` (from a CSPRNG) as both generations.
    pub fn new(secret: [u8; 20]) -> Self {
        TokenSecrets {
            current: secret,
            previous: secret,
        }
    }

    /// Moves to a new secret; tokens from the last one stay valid.
    pub fn rotate(&mut self, new_secret: [u8; 20]) {
        self.previous = std::mem::replace(&mut self.current, new_secret);
    }

    fn make(secret: &[u8; 20], ip: IpAddr) -> [u8; TOKEN_LEN] {
        let mut h = Sha1::new();
        h.update(secret);
        match ip {
            IpAddr::V4(v4) => h.update(v4.octets()),
            IpAddr::V6(v6) => h.update(v6.octets()),
        }
        let digest = h.finalize();
        let mut t = [0u8; TOKEN_LEN];
        t.copy_from_slice(&digest[..TOKEN_LEN]);
        t
    }

    /// The token to hand `ip` in a get_peers reply.
    pub fn token_for(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        Self::make(&self.current, ip)
    }

    /// Whether `token` was issued to `ip` under the current or previous secret.
    pub fn verify(&self, token: &[u8], ip: IpAddr) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        };
        eq(token, &Self::make(&self.current, ip)) | eq(token, &Self::make(&self.previous, ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_generations_valid() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let mut s = TokenSecrets::new([1; 20]);
        let t1 = s.token_for(ip);
        assert!(s.verify(&t1, ip));
        assert!(!s.verify(&t1, other));
        assert!(!s.verify(&t1[..4], ip));
        s.rotate([2; 20]);
        assert!(s.verify(&t1, ip));
        let t2 = s.token_for(ip);
        assert_ne!(t1, t2);
        s.rotate([3; 20]);
        assert!(!s.verify(&t1, ip));
        assert!(s.verify(&t2, ip));
        assert!(s.verify(&s.token_for("::1".parse().unwrap()), "::1".parse().unwrap()));
    }
}
