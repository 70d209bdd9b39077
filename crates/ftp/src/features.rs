//! Parser for the `211` reply to FEAT (RFC 2389).

use crate::reply::Reply;

/// What a server advertised in its FEAT reply. Names are upper-cased;
/// parameters are kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    entries: Vec<(String, String)>,
}

impl Features {
    /// Reads a FEAT reply. A negative reply (500/502: FEAT not understood)
    /// or a single-line 211 means "no extensions", not an error, so the
    /// session can fall back to RFC 959 behaviour.
    pub fn from_reply(reply: &Reply) -> Features {
        if reply.code != 211 || reply.lines.len() < 2 {
            return Features::default();
        }
        let inner = reply
            .lines
            .get(1..reply.lines.len() - 1)
            .unwrap_or_default();
        let entries = inner
            .iter()
            .filter_map(|line| {
                // RFC 2389 says each feature line starts with one space;
                // tolerate servers that omit it, skip blank ones.
                let line = line.trim();
                if line.is_empty() {
                    return None;
                }
                let (name, params) = line.split_once(' ').unwrap_or((line, ""));
                Some((name.to_ascii_uppercase(), params.trim().to_owned()))
            })
            .collect();
        Features { entries }
    }

    /// True if the server listed `name` (case-insensitive).
    pub fn supports(&self, name: &str) -> bool {
        self.params(name).is_some()
    }

    /// Parameters listed with `name` (e.g. `type*;size*;modify*;` for MLST).
    pub fn params(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| p.as_str())
    }

    /// All `(name, params)` pairs in the order the server sent them.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ReplyParser;

    fn reply(bytes: &[u8]) -> Reply {
        let mut p = ReplyParser::new();
        p.push(bytes);
        p.next_reply().unwrap().unwrap()
    }

    #[test]
    fn feat_list() {
        let r = reply(b"211-Features:\r\n EPSV\r\n MDTM\r\n MLST type*;size*;\r\n rest stream\r\nUTF8\r\n \r\n211 End\r\n");
        let f = Features::from_reply(&r);
        assert!(f.supports("epsv"));
        assert!(f.supports("MDTM"));
        assert!(f.supports("UTF8"));
        assert!(!f.supports("SIZE"));
        assert_eq!(f.params("MLST"), Some("type*;size*;"));
        assert_eq!(f.params("REST"), Some("stream"));
        assert_eq!(f.entries().len(), 5);
    }

    #[test]
    fn feat_absent() {
        assert_eq!(
            Features::from_reply(&Reply::new(500, "unknown")),
            Features::default()
        );
        assert_eq!(
            Features::from_reply(&Reply::new(211, "no features")),
            Features::default()
        );
    }
}
