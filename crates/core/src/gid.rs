use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// aria2's download id: 64 bits shown as 16 hex digits; the console shows
/// the first 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gid(pub u64);

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Gid {
    /// A fresh random id (never 0, which aria2 treats as invalid).
    pub fn new() -> Gid {
        loop {
            let r: u64 =
                rand::random::<u64>() ^ SEQ.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
            if r != 0 {
                return Gid(r);
            }
        }
    }

    /// Parses the 16-hex-digit form (as given by `gid=` in an input file).
    pub fn parse(s: &str) -> Option<Gid> {
        if s.len() != 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok().filter(|v| *v != 0).map(Gid)
    }

    /// The 6-digit prefix aria2 prints in the readout and results table.
    pub fn short(&self) -> String {
        format!("{:016x}", self.0)[..6].to_string()
    }
}

impl Default for Gid {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Gid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let g = Gid::new();
        assert_eq!(Gid::parse(&g.to_string()), Some(g));
        assert_eq!(g.short().len(), 6);
        assert_eq!(
            Gid::parse("2089b05ecca3d829"),
            Some(Gid(0x2089b05ecca3d829))
        );
        assert_eq!(Gid::parse("0000000000000000"), None);
        assert_eq!(Gid::parse("xyz"), None);
    }
}
