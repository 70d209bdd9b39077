//! Magnet links (BEP 9; `urn:btmh` from BEP 52).

use crate::error::Error;
use crate::percent_encode_all;

/// What a magnet link tells us before any metadata is fetched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Magnet {
    /// From `xt=urn:btih:` (40 hex or 32 base32 characters).
    pub info_hash_v1: Option<[u8; 20]>,
    /// From `xt=urn:btmh:1220…` (a SHA-256 multihash).
    pub info_hash_v2: Option<[u8; 32]>,
    /// `dn`: a name to show until the metadata arrives.
    pub display_name: Option<String>,
    /// `tr`: trackers, each its own tier.
    pub trackers: Vec<String>,
    /// `x.pe`: peers as `host:port`.
    pub peers: Vec<String>,
    /// `ws`: web seeds.
    pub web_seeds: Vec<String>,
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes: Vec<u8> = if plus_is_space {
        s.bytes()
            .map(|b| if b == b'+' { b' ' } else { b })
            .collect()
    } else {
        s.as_bytes().to_vec()
    };
    let decoded: Vec<u8> = percent_encoding::percent_decode(&bytes).collect();
    String::from_utf8_lossy(&decoded).into_owned()
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u64, 0u32);
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Keys may carry an index suffix (`tr.1`, `xt.2`); compare on the base name.
fn base_key(key: &str) -> &str {
    match key.split_once('.') {
        Some((base, idx)) if !idx.is_empty() && idx.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => key,
    }
}

impl Magnet {
    /// Parses `magnet:?xt=…`. At least one usable info-hash is required.
    pub fn parse(uri: &str) -> Result<Magnet, Error> {
        let query = uri
            .strip_prefix("magnet:?")
            .or_else(|| uri.strip_prefix("MAGNET:?"))
            .ok_or_else(|| Error::Magnet("does not start with magnet:?".into()))?;
        let query = query.split('#').next().unwrap_or_default();
        let mut m = Magnet::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match base_key(key) {
                "xt" => m.parse_xt(&percent_decode(value, false))?,
                "dn" => m.display_name = Some(percent_decode(value, true)),
                "tr" => push_unique(&mut m.trackers, percent_decode(value, false)),
                "x.pe" => push_unique(&mut m.peers, percent_decode(value, false)),
                "ws" => push_unique(&mut m.web_seeds, percent_decode(value, false)),
                _ => {}
            }
        }
        if m.info_hash_v1.is_none() && m.info_hash_v2.is_none() {
            return Err(Error::Magnet("no urn:btih or urn:btmh info-hash".into()));
        }
        Ok(m)
    }

    fn parse_xt(&mut self, xt: &str) -> Result<(), Error> {
        let lower = xt.to_ascii_lowercase();
        if let Some(h) = lower.strip_prefix("urn:btih:") {
            let raw = xt.get(9..).unwrap_or_default();
            let bytes = match h.len() {
                40 => hex::decode(h).ok(),
                32 => base32_decode(raw),
                _ => None,
            };
            let hash = bytes
                .and_then(|b| <[u8; 20]>::try_from(b).ok())
                .ok_or_else(|| Error::Magnet(format!("bad btih `{raw}`")))?;
            self.info_hash_v1 = Some(hash);
        } else if let Some(h) = lower.strip_prefix("urn:btmh:") {
            // Multihash: 0x12 = sha2-256, 0x20 = 32 bytes.
            let hash = h
                .strip_prefix("1220")
                .filter(|rest| rest.len() == 64)
                .and_then(|rest| hex::decode(rest).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| Error::Magnet(format!("bad btmh `{h}`")))?;
            self.info_hash_v2 = Some(hash);
        }
        // Other URNs (ed2k, sha1 of a single file…) are not ours to use.
        Ok(())
    }

    /// Formats the link back, aria2 style (upper-case hex btih).
    pub fn to_uri(&self) -> String {
        let mut parts = Vec::new();
        if let Some(h) = self.info_hash_v1 {
            parts.push(format!("xt=urn:btih:{}", hex::encode_upper(h)));
        }
        if let Some(h) = self.info_hash_v2 {
            parts.push(format!("xt=urn:btmh:1220{}", hex::encode(h)));
        }
        if let Some(dn) = &self.display_name {
            parts.push(format!("dn={}", percent_encode_all(dn.as_bytes())));
        }
        for (key, list) in [
            ("tr", &self.trackers),
            ("x.pe", &self.peers),
            ("ws", &self.web_seeds),
        ] {
            for v in list {
                parts.push(format!("{key}={}", percent_encode_all(v.as_bytes())));
            }
        }
        format!("magnet:?{}", parts.join("&"))
    }
}

fn push_unique(list: &mut Vec<String>, v: String) {
    if !v.is_empty() && !list.contains(&v) {
        list.push(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base32_agree() {
        let hex = Magnet::parse("magnet:?xt=urn:btih:D31EBAB85B00EA1219DD9CD16B7BD4ABAE556EEE&dn=my+file%20x&tr=http%3A%2F%2Ft%2Fannounce&tr.1=udp://u:1&x.pe=1.2.3.4:6881&ws=http://w/f").unwrap();
        let expected: [u8; 20] = hex::decode("d31ebab85b00ea1219dd9cd16b7bd4abae556eee")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(hex.info_hash_v1, Some(expected));
        assert_eq!(hex.display_name.as_deref(), Some("my file x"));
        assert_eq!(hex.trackers, vec!["http://t/announce", "udp://u:1"]);
        assert_eq!(hex.peers, vec!["1.2.3.4:6881"]);
        assert_eq!(hex.web_seeds, vec!["http://w/f"]);
        // RFC 4648 base32 of the same 20 bytes.
        let b32 = "2MPLVOC3ADVBEGO5TTIWW66UVOXFK3XO";
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{b32}")).unwrap();
        assert_eq!(m.info_hash_v1, Some(expected));
        let lower = Magnet::parse(&format!("magnet:?xt=urn:btih:{}", b32.to_lowercase())).unwrap();
        assert_eq!(lower.info_hash_v1, Some(expected));
        assert_eq!(Magnet::parse(&hex.to_uri()).unwrap(), hex);
    }

    #[test]
    fn v2_and_hybrid() {
        let h = "a".repeat(64);
        let m = Magnet::parse(&format!(
            "magnet:?xt=urn:btmh:1220{h}&xt=urn:btih:{}",
            "b".repeat(40)
        ))
        .unwrap();
        assert_eq!(m.info_hash_v2, Some([0xaa; 32]));
        assert_eq!(m.info_hash_v1, Some([0xbb; 20]));
    }

    #[test]
    fn rejects_bad_links() {
        for s in [
            "http://x",
            "magnet:?dn=x",
            "magnet:?xt=urn:btih:123",
            "magnet:?xt=urn:btih:ZZ1EBAB85B00EA1219DD9CD16B7BD4ABAE556EEE",
            "magnet:?xt=urn:btih:1MPLVOC3ADVBEGO5TTIWW66UVOXFK3XO",
            "magnet:?xt=urn:btmh:1120aaaa",
            "magnet:?xt=urn:btih:%FF%FF",
        ] {
            assert!(Magnet::parse(s).is_err(), "{s}");
        }
    }
}
