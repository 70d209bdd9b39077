//! Validation and normalization of option values, one rule per
//! [`OptionKind`]. Values are kept as strings (aria2 stores them that way and
//! RPC `getOption` returns strings); the typed getters of
//! [`crate::OptionSet`] re-parse them with the helpers here, which cannot fail
//! on a value that passed [`normalize`].

use crate::error::OptionError;
use crate::table::{OptionDef, OptionKind, INT_UNLIMITED, SIZE_UNLIMITED};

/// A stored option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Every non-cumulative option.
    Single(String),
    /// Cumulative options (`header`, `index-out`), in the order given.
    List(Vec<String>),
}

impl Value {
    /// The value as aria2's RPC would print a single string: lists are joined
    /// with newlines, as aria2 does for `header`.
    pub fn to_joined(&self) -> String {
        match self {
            Value::Single(s) => s.clone(),
            Value::List(v) => v.join("\n"),
        }
    }
}

/// Checks `raw` against `def` and returns the string to store. An empty `raw`
/// for an optional-argument option means it was given bare (`-c`).
pub fn normalize(def: &'static OptionDef, raw: &str) -> Result<String, OptionError> {
    let bad = |detail: String| OptionError::InvalidValue {
        name: def.name,
        detail,
    };
    match def.kind {
        OptionKind::Bool => match raw {
            "" | "true" => Ok("true".into()),
            "false" => Ok("false".into()),
            _ => Err(bad(format!(
                "{} must be either 'true' or 'false'.",
                def.name
            ))),
        },
        OptionKind::Int { min, max } => {
            let n = parse_int(raw).ok_or_else(|| bad(format!("Bad number {raw}")))?;
            check_range(def.name, n, min, max).map_err(bad)?;
            Ok(n.to_string())
        }
        OptionKind::Size { min, max } => {
            let n = parse_size(raw)
                .ok_or_else(|| bad(format!("Bad or negative value detected: {raw}")))?;
            if n < min || n > max {
                return Err(bad(range_message(
                    def.name,
                    min as i128,
                    max as i128,
                    max == SIZE_UNLIMITED,
                )));
            }
            // Stored in bytes, as aria2 stores (and `getOption` shows) it.
            Ok(n.to_string())
        }
        OptionKind::Float { min, max } => {
            let f = parse_float(raw).ok_or_else(|| bad(format!("Bad number {raw}")))?;
            if f < min || f > max {
                let msg = if max.is_infinite() {
                    format!("{} must be greater than or equal to {min:.1}.", def.name)
                } else {
                    format!("{} must be between {min:.1} and {max:.1}.", def.name)
                };
                return Err(bad(msg));
            }
            Ok(raw.to_string())
        }
        OptionKind::Enum(choices) => {
            if choices.contains(&raw) {
                Ok(raw.to_string())
            } else {
                let list: String = choices.iter().map(|c| format!("'{c}' ")).collect();
                Err(bad(format!(
                    "{} must be one of the following:{list}",
                    def.name
                )))
            }
        }
        OptionKind::String | OptionKind::List | OptionKind::Help => {
            if raw.contains('\0') {
                Err(bad("NUL character is not allowed".into()))
            } else {
                Ok(raw.to_string())
            }
        }
        OptionKind::Path => {
            if raw.contains('\0') {
                Err(bad("NUL character is not allowed in a path".into()))
            } else {
                Ok(raw.to_string())
            }
        }
        OptionKind::IntRanges { min, max } => {
            parse_int_ranges(raw, min, max).map_err(|e| match e {
                RangeError::Malformed(part) => bad(format!("Bad range {part}")),
                RangeError::OutOfBounds => {
                    bad(range_message(def.name, min.into(), max.into(), false))
                }
            })?;
            Ok(raw.to_string())
        }
        OptionKind::HostPort => {
            parse_host_port(raw).ok_or_else(|| bad("Unrecognized format".into()))?;
            Ok(raw.to_string())
        }
        OptionKind::Checksum => {
            // aria2 knows sha-1 and md5; sha-256 is what `ssh-keygen -l`
            // prints for today's host keys, so it is accepted too.
            let allowed: &[&str] = if def.name == "ssh-host-key-md" {
                &["sha-1", "md5", "sha-256"]
            } else {
                &[]
            };
            let (ty, digest) =
                parse_checksum(raw, allowed).ok_or_else(|| bad("Unrecognized checksum".into()))?;
            Ok(format!("{ty}={digest}"))
        }
        OptionKind::Gid => {
            if raw.len() == 16 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(raw.to_ascii_lowercase())
            } else {
                Err(bad(format!(
                    "{raw} is not a valid GID. GID must be 16 hex digits."
                )))
            }
        }
        OptionKind::IndexOut => {
            parse_index_out(raw).ok_or_else(|| bad(format!("Bad path mapping: {raw}")))?;
            Ok(raw.to_string())
        }
        OptionKind::PrioritizePiece => {
            parse_prioritize_piece(raw).ok_or_else(|| bad(format!("Bad value: {raw}")))?;
            Ok(raw.to_string())
        }
        OptionKind::OptimizeConcurrent => match raw {
            "" | "true" => Ok("true".into()),
            "false" => Ok("false".into()),
            _ => {
                parse_optimize_concurrent(raw).ok_or_else(|| {
                    bad(format!(
                        "{} must be either 'true', 'false' or 'A:B'.",
                        def.name
                    ))
                })?;
                Ok(raw.to_string())
            }
        },
        OptionKind::Proxy => {
            normalize_proxy(raw).ok_or_else(|| bad("unrecognized proxy format".into()))
        }
        OptionKind::Flag => Err(bad(format!("{} does not take a value.", def.name))),
    }
}

fn check_range(name: &str, n: i64, min: i64, max: i64) -> Result<(), String> {
    if n < min || n > max {
        Err(range_message(
            name,
            min as i128,
            max as i128,
            max == INT_UNLIMITED,
        ))
    } else {
        Ok(())
    }
}

fn range_message(name: &str, min: i128, max: i128, unbounded: bool) -> String {
    if unbounded {
        format!("{name} must be greater than or equal to {min}.")
    } else {
        format!("{name} must be between {min} and {max}.")
    }
}

/// Parses an optionally signed decimal integer with no surrounding spaces.
pub fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a size such as `1024`, `50K`, `20M` or `1G` (binary multiples) into
/// bytes; `None` on garbage, negatives, or overflow past `i64::MAX`.
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1u64 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1u64 << 30),
        _ => (s, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(mult).filter(|v| *v <= SIZE_UNLIMITED)
}

/// Parses a finite decimal float (no `inf`/`nan`, which `f64::from_str` would
/// otherwise accept).
pub fn parse_float(s: &str) -> Option<f64> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-' | b'e' | b'E'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Why an integer range list was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// This comma-separated part is not `N` or `A-B` with `A <= B`.
    Malformed(String),
    /// A number lies outside the option's bounds.
    OutOfBounds,
}

/// Parses `6881-6889,6999` into inclusive ranges, each within `min..=max`.
pub fn parse_int_ranges(s: &str, min: u32, max: u32) -> Result<Vec<(u32, u32)>, RangeError> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let parse = |x: &str| -> Option<u32> {
            if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
                None
            } else {
                x.parse().ok()
            }
        };
        let (Some(a), Some(b)) = (parse(a), parse(b)) else {
            return Err(RangeError::Malformed(part.to_string()));
        };
        if a > b {
            return Err(RangeError::Malformed(part.to_string()));
        }
        if a < min || b > max {
            return Err(RangeError::OutOfBounds);
        }
        out.push((a, b));
    }
    Ok(out)
}

/// Splits `host:port` / `[v6]:port`; the port must be 1..=65535.
pub fn parse_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, rest) = rest.split_once(']')?;
        (host, rest.strip_prefix(':')?)
    } else {
        s.rsplit_once(':')?
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    (port != 0).then_some((host, port))
}

/// Hash types aria2 knows, with their hex digest lengths.
const HASH_TYPES: &[(&str, usize)] = &[
    ("sha-512", 128),
    ("sha-384", 96),
    ("sha-256", 64),
    ("sha-224", 56),
    ("sha-1", 40),
    ("md5", 32),
    ("adler32", 8),
];

/// Parses `TYPE=HEXDIGEST` into a canonical (lower-case type, lower-case
/// digest) pair. `allowed` restricts the types; empty means all.
pub fn parse_checksum(s: &str, allowed: &[&str]) -> Option<(&'static str, String)> {
    let (ty, digest) = s.split_once('=')?;
    let ty = ty.to_ascii_lowercase();
    let ty = match ty.as_str() {
        "sha1" => "sha-1",
        "sha224" => "sha-224",
        "sha256" => "sha-256",
        "sha384" => "sha-384",
        "sha512" => "sha-512",
        other => other,
    };
    let &(name, len) = HASH_TYPES.iter().find(|(n, _)| *n == ty)?;
    if !allowed.is_empty() && !allowed.contains(&name) {
        return None;
    }
    if digest.len() != len || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((name, digest.to_ascii_lowercase()))
}

/// Parses one `--index-out` value `INDEX=PATH` (index ≥ 1, path non-empty).
pub fn parse_index_out(s: &str) -> Option<(usize, &str)> {
    let (idx, path) = s.split_once('=')?;
    let idx = idx.trim();
    if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) || path.is_empty() {
        return None;
    }
    let idx: usize = idx.parse().ok()?;
    (idx >= 1).then_some((idx, path))
}

/// Which end of a file `--bt-prioritize-piece` favours, and how many bytes
/// (aria2's default is 1M when no size is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiecePriority {
    /// The first bytes of each file.
    Head(u64),
    /// The last bytes of each file.
    Tail(u64),
}

/// Parses `head[=SIZE],tail[=SIZE]`; empty means no prioritization.
pub fn parse_prioritize_piece(s: &str) -> Option<Vec<PiecePriority>> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    for part in s.split(',') {
        let (word, size) = match part.split_once('=') {
            Some((w, sz)) => (w, parse_size(sz)?),
            None => (part, 1 << 20),
        };
        match word {
            "head" => out.push(PiecePriority::Head(size)),
            "tail" => out.push(PiecePriority::Tail(size)),
            _ => return None,
        }
    }
    Some(out)
}

/// Parses the `A:B` form of `--optimize-concurrent-downloads`.
pub fn parse_optimize_concurrent(s: &str) -> Option<(f64, f64)> {
    let (a, b) = s.split_once(':')?;
    Some((parse_float(a)?, parse_float(b)?))
}

/// Validates a proxy and adds the `http://` scheme aria2 assumes when none is
/// given. Empty stays empty (it clears an inherited proxy). Beyond aria2,
/// `socks5://` and `socks5h://` (remote name resolution) are accepted.
fn normalize_proxy(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return Some(String::new());
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("http".to_string(), raw),
    };
    if !matches!(scheme.as_str(), "http" | "https" | "socks5" | "socks5h") {
        return None;
    }
    let authority = rest.split('/').next().unwrap_or(rest);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.is_empty() || hostport.contains(char::is_whitespace) {
        return None;
    }
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        if let Some(port) = after.strip_prefix(':') {
            valid_port(port)?;
        }
        host
    } else {
        match hostport.split_once(':') {
            Some((h, port)) => {
                valid_port(port)?;
                h
            }
            None => hostport,
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{rest}"))
}

fn valid_port(port: &str) -> Option<u16> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse::<u16>().ok().filter(|p| *p != 0)
}

/// The "Possible Values" text `--help` shows for a kind.
pub fn possible_values(def: &OptionDef) -> Option<String> {
    let bound = |n: i128, unlimited: bool| {
        if unlimited {
            "*".to_string()
        } else {
            n.to_string()
        }
    };
    Some(match def.kind {
        OptionKind::Bool => "true, false".into(),
        OptionKind::Int { min, max } => {
            format!("{min}-{}", bound(max as i128, max == INT_UNLIMITED))
        }
        OptionKind::Size { min, max } => {
            format!("{min}-{}", bound(max as i128, max == SIZE_UNLIMITED))
        }
        OptionKind::Float { min, .. } => format!("{min:.1}-*"),
        OptionKind::Enum(c) => c.join(", "),
        OptionKind::IntRanges { min, max } => format!("{min}-{max}"),
        OptionKind::HostPort => "HOST:PORT".into(),
        OptionKind::Checksum => "HASH_TYPE=HEX_DIGEST".into(),
        OptionKind::IndexOut => "INDEX=PATH".into(),
        OptionKind::PrioritizePiece => "head[=SIZE], tail[=SIZE]".into(),
        OptionKind::OptimizeConcurrent => "true, false, A:B".into(),
        OptionKind::Proxy => {
            "[http://|socks5://|socks5h://][USER:PASSWORD@]HOST[:PORT]".into()
        }
        OptionKind::Path => match def.arg {
            "=DIR" => "/path/to/directory".into(),
            "=COMMAND" => "/path/to/command".into(),
            _ => "/path/to/file".into(),
        },
        OptionKind::String | OptionKind::List | OptionKind::Gid | OptionKind::Flag => {
            return None
        }
        OptionKind::Help => "#basic, #advanced, #http, #https, #ftp, #metalink, #bittorrent, #cookie, #hook, #file, #rpc, #checksum, #experimental, #deprecated, #help, #all".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::find_option;

    fn norm(name: &str, v: &str) -> Result<String, OptionError> {
        normalize(find_option(name).unwrap(), v)
    }

    fn detail(r: Result<String, OptionError>) -> String {
        match r {
            Err(OptionError::InvalidValue { detail, .. }) => detail,
            other => panic!("expected InvalidValue, got {other:?}"),
        }
    }

    #[test]
    fn bool_values() {
        assert_eq!(norm("continue", "").unwrap(), "true");
        assert_eq!(norm("continue", "true").unwrap(), "true");
        assert_eq!(norm("continue", "false").unwrap(), "false");
        assert_eq!(
            detail(norm("continue", "Z")),
            "continue must be either 'true' or 'false'."
        );
    }

    #[test]
    fn int_values_and_ranges() {
        assert_eq!(norm("split", "016").unwrap(), "16");
        assert_eq!(norm("max-tries", "0").unwrap(), "0");
        assert_eq!(
            detail(norm("max-connection-per-server", "99")),
            "max-connection-per-server must be between 1 and 64."
        );
        assert_eq!(
            detail(norm("max-concurrent-downloads", "0")),
            "max-concurrent-downloads must be greater than or equal to 1."
        );
        assert_eq!(detail(norm("split", "")), "Bad number ");
        assert_eq!(detail(norm("split", "=3")), "Bad number =3");
        assert_eq!(detail(norm("split", " 3")), "Bad number  3");
        assert!(norm("split", "99999999999999999999999").is_err());
        assert!(norm("split", "-").is_err());
    }

    #[test]
    fn size_values() {
        assert_eq!(parse_size("1K"), Some(1024));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("20M"), Some(20 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("M"), None);
        assert_eq!(parse_size("1.5M"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("18446744073709551615"), None);
        assert_eq!(parse_size("99999999999999G"), None);
        assert_eq!(norm("min-split-size", "1M").unwrap(), "1048576");
        assert_eq!(
            detail(norm("min-split-size", "1K")),
            "min-split-size must be between 1048576 and 1073741824."
        );
        assert_eq!(
            detail(norm("min-split-size", "1.5M")),
            "Bad or negative value detected: 1.5M"
        );
        assert_eq!(
            norm("max-overall-download-limit", "1G").unwrap(),
            "1073741824"
        );
    }

    #[test]
    fn float_values() {
        assert_eq!(norm("seed-ratio", "1.5").unwrap(), "1.5");
        assert_eq!(norm("seed-ratio", "0").unwrap(), "0");
        assert!(norm("seed-ratio", "abc").is_err());
        assert!(norm("seed-ratio", "inf").is_err());
        assert!(norm("seed-ratio", "NaN").is_err());
        assert!(norm("seed-ratio", "1e999").is_err());
        assert_eq!(
            detail(norm("seed-ratio", "-1")),
            "seed-ratio must be greater than or equal to 0.0."
        );
    }

    #[test]
    fn enum_values() {
        assert_eq!(norm("file-allocation", "falloc").unwrap(), "falloc");
        assert_eq!(
            detail(norm("file-allocation", "foo")),
            "file-allocation must be one of the following:'none' 'prealloc' 'trunc' 'falloc' "
        );
        assert_eq!(norm("follow-torrent", "mem").unwrap(), "mem");
    }

    #[test]
    fn ranges() {
        assert_eq!(
            parse_int_ranges("6881-6889,6999", 1024, 65535).unwrap(),
            vec![(6881, 6889), (6999, 6999)]
        );
        assert_eq!(detail(norm("listen-port", "6881-6882,x")), "Bad range x");
        assert_eq!(
            detail(norm("listen-port", "1-2")),
            "listen-port must be between 1024 and 65535."
        );
        assert!(norm("listen-port", "80").is_err());
        assert!(norm("listen-port", "7000-6000").is_err());
        assert!(norm("listen-port", "").is_err());
        assert!(norm("select-file", "1-5,8").is_ok());
        assert!(norm("select-file", "0").is_err());
    }

    #[test]
    fn host_port() {
        assert_eq!(
            parse_host_port("router.bittorrent.com:6881"),
            Some(("router.bittorrent.com", 6881))
        );
        assert_eq!(parse_host_port("[::1]:6881"), Some(("::1", 6881)));
        assert_eq!(parse_host_port("host"), None);
        assert_eq!(parse_host_port(":1"), None);
        assert_eq!(parse_host_port("h:0"), None);
        assert_eq!(parse_host_port("h:70000"), None);
        assert_eq!(parse_host_port("[::1"), None);
    }

    #[test]
    fn checksums() {
        let sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
        assert_eq!(
            norm("checksum", &format!("SHA1={}", sha1.to_uppercase())).unwrap(),
            format!("sha-1={sha1}")
        );
        assert!(norm("checksum", "sha-1=zz").is_err());
        assert!(norm("checksum", "sha-1").is_err());
        assert!(norm("checksum", "crc=00").is_err());
        assert!(norm("ssh-host-key-md", &format!("sha-1={sha1}")).is_ok());
        assert!(norm("ssh-host-key-md", &format!("sha-256={}", "0".repeat(64))).is_ok());
        assert!(norm("ssh-host-key-md", &format!("sha-512={}", "0".repeat(128))).is_err());
        assert!(norm("checksum", &format!("sha-256={}", "0".repeat(64))).is_ok());
    }

    #[test]
    fn gid_index_out_prioritize() {
        assert_eq!(norm("gid", "2089B05ECCA3D829").unwrap(), "2089b05ecca3d829");
        assert!(norm("gid", "123").is_err());
        assert!(norm("gid", "2089b05ecca3d82g").is_err());
        assert_eq!(parse_index_out("3=a/b=c"), Some((3, "a/b=c")));
        assert_eq!(parse_index_out("0=x"), None);
        assert_eq!(parse_index_out("1="), None);
        assert_eq!(parse_index_out("x=y"), None);
        assert_eq!(
            parse_prioritize_piece("head=300K,tail").unwrap(),
            vec![PiecePriority::Head(300 << 10), PiecePriority::Tail(1 << 20)]
        );
        assert!(parse_prioritize_piece("middle").is_none());
        assert!(parse_prioritize_piece("head=").is_none());
    }

    #[test]
    fn optimize_concurrent() {
        assert_eq!(norm("optimize-concurrent-downloads", "").unwrap(), "true");
        assert_eq!(
            norm("optimize-concurrent-downloads", "5:25").unwrap(),
            "5:25"
        );
        assert_eq!(parse_optimize_concurrent("5.5:25"), Some((5.5, 25.0)));
        assert!(norm("optimize-concurrent-downloads", "x").is_err());
    }

    #[test]
    fn proxies() {
        assert_eq!(
            norm("all-proxy", "proxy:8080").unwrap(),
            "http://proxy:8080"
        );
        assert_eq!(
            norm("all-proxy", "http://u:p@proxy:8080").unwrap(),
            "http://u:p@proxy:8080"
        );
        assert_eq!(norm("all-proxy", "").unwrap(), "");
        assert_eq!(
            norm("http-proxy", "[::1]:3128").unwrap(),
            "http://[::1]:3128"
        );
        assert_eq!(
            norm("all-proxy", "SOCKS5://u:p@[::1]:1080").unwrap(),
            "socks5://u:p@[::1]:1080"
        );
        assert_eq!(
            norm("ftp-proxy", "socks5h://proxy").unwrap(),
            "socks5h://proxy"
        );
        assert!(norm("http-proxy", "socks4://x:1").is_err());
        assert!(norm("http-proxy", "socks5://").is_err());
        assert!(norm("http-proxy", "x:port").is_err());
        assert!(norm("http-proxy", "http://").is_err());
    }

    #[test]
    fn possible_values_text() {
        assert_eq!(
            possible_values(find_option("split").unwrap()).unwrap(),
            "1-*"
        );
        assert_eq!(
            possible_values(find_option("max-connection-per-server").unwrap()).unwrap(),
            "1-64"
        );
        assert_eq!(
            possible_values(find_option("seed-ratio").unwrap()).unwrap(),
            "0.0-*"
        );
    }
}
