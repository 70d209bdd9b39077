//! [`GidRef`]: a GID as a client wrote it, possibly abbreviated.

use crate::error::Error;

/// A GID as a client wrote it: 1 to 16 hex digits.
///
/// aria2 accepts any unique prefix of a GID; [`GidRef::resolve`] is the hook
/// the daemon calls with the GIDs it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GidRef(String);

impl GidRef {
    /// Validates the syntax; "Invalid GID X" as aria2 words it.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::fault(format!("Invalid GID {s}")));
        }
        Ok(GidRef(s.to_ascii_lowercase()))
    }

    /// The text (lower-cased).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GID if all 16 digits were given.
    pub fn full(&self) -> Option<u64> {
        if self.0.len() == 16 {
            u64::from_str_radix(&self.0, 16).ok()
        } else {
            None
        }
    }

    /// Expands the (possibly abbreviated) GID against the known ones, with
    /// aria2's messages for "not found" and "not unique".
    pub fn resolve(&self, known: impl IntoIterator<Item = u64>) -> Result<u64, Error> {
        let mut found = None;
        for gid in known {
            let hex = format!("{gid:016x}");
            if hex == self.0 {
                return Ok(gid);
            }
            if hex.starts_with(&self.0) {
                if found.is_some() {
                    return Err(Error::fault(format!("GID {} is not unique", self.0)));
                }
                found = Some(gid);
            }
        }
        found.ok_or_else(|| Error::fault(format!("GID {} is not found", self.0)))
    }
}
