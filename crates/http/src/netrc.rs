//! `.netrc` parsing for `--netrc-path` (aria2 reads it unless `-n`).

/// One `machine` (or `default`) entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetrcEntry {
    /// Host name, or a `.domain` suffix as aria2 also accepts.
    pub machine: String,
    /// `login` value.
    pub login: String,
    /// `password` value.
    pub password: String,
    /// `account` value (FTP `ACCT`).
    pub account: Option<String>,
}

/// A parsed `.netrc` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Netrc {
    /// `machine` entries in file order.
    pub machines: Vec<NetrcEntry>,
    /// The `default` entry, used when no machine matches.
    pub default: Option<NetrcEntry>,
}

/// Splits into whitespace-separated tokens with their byte offsets;
/// double-quoted tokens may contain spaces and `\"`.
fn tokens(text: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        while text.get(pos).is_some_and(u8::is_ascii_whitespace) {
            pos += 1;
        }
        let start = pos;
        let mut tok = Vec::new();
        if text.get(pos) == Some(&b'"') {
            pos += 1;
            while let Some(&b) = text.get(pos) {
                pos += 1;
                match b {
                    b'"' => break,
                    b'\\' => {
                        if let Some(&e) = text.get(pos) {
                            tok.push(e);
                            pos += 1;
                        }
                    }
                    _ => tok.push(b),
                }
            }
        } else {
            while let Some(&b) = text.get(pos) {
                if b.is_ascii_whitespace() {
                    break;
                }
                tok.push(b);
                pos += 1;
            }
        }
        if pos > start {
            out.push((start, tok));
        }
    }
    out
}

impl Netrc {
    /// Parses `.netrc` text. Unknown tokens are skipped, `macdef` bodies
    /// (up to the next blank line) are ignored, and `#` starts a comment
    /// where a keyword is expected — never inside a value, so passwords may
    /// contain `#`.
    pub fn parse(text: &[u8]) -> Netrc {
        let toks = tokens(text);
        let mut netrc = Netrc::default();
        let mut current: Option<(bool, NetrcEntry)> = None;
        let mut i = 0;
        let mut skip_until: usize = 0;
        let flush = |netrc: &mut Netrc, cur: Option<(bool, NetrcEntry)>| match cur {
            Some((true, e)) if netrc.default.is_none() => netrc.default = Some(e),
            Some((true, _)) => {}
            Some((false, e)) => netrc.machines.push(e),
            None => {}
        };
        while let Some((offset, tok)) = toks.get(i) {
            i += 1;
            if *offset < skip_until {
                continue;
            }
            let value = toks
                .get(i)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
            match tok.as_slice() {
                b"machine" => {
                    flush(&mut netrc, current.take());
                    if let Some(v) = value {
                        current = Some((
                            false,
                            NetrcEntry {
                                machine: v.to_ascii_lowercase(),
                                ..Default::default()
                            },
                        ));
                        i += 1;
                    }
                }
                b"default" => {
                    flush(&mut netrc, current.take());
                    current = Some((true, NetrcEntry::default()));
                }
                b"login" | b"password" | b"account" => {
                    let Some(v) = value else { break };
                    i += 1;
                    if let Some((_, e)) = current.as_mut() {
                        match tok.as_slice() {
                            b"login" => e.login = v,
                            b"password" => e.password = v,
                            _ => e.account = Some(v),
                        }
                    }
                }
                b"macdef" => {
                    flush(&mut netrc, current.take());
                    // The body runs from the line after `macdef name` to the
                    // first empty line.
                    let name_end = toks.get(i).map_or(*offset, |(o, _)| *o);
                    let body_start = text
                        .get(name_end..)
                        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                        .map_or(text.len(), |p| name_end + p + 1);
                    skip_until = text
                        .get(body_start..)
                        .and_then(|rest| rest.windows(2).position(|w| w == b"\n\n"))
                        .map_or(text.len(), |p| body_start + p + 2);
                    if text.get(body_start) == Some(&b'\n') {
                        skip_until = body_start;
                    }
                }
                t if t.first() == Some(&b'#') => {
                    skip_until = text
                        .get(*offset..)
                        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                        .map_or(text.len(), |p| offset + p);
                }
                _ => {}
            }
        }
        flush(&mut netrc, current);
        netrc
    }

    /// Credentials for `host`: the first matching machine (exact,
    /// case-insensitive, or `.domain` suffix), else `default`.
    pub fn lookup(&self, host: &str) -> Option<(&str, &str)> {
        self.lookup_entry(host)
            .map(|e| (e.login.as_str(), e.password.as_str()))
    }

    /// The whole entry for `host`, including `account`.
    pub fn lookup_entry(&self, host: &str) -> Option<&NetrcEntry> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.machines
            .iter()
            .find(|e| {
                if e.machine.starts_with('.') {
                    host.ends_with(&e.machine) || host == e.machine[1..]
                } else {
                    host == e.machine
                }
            })
            .or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_default_and_macdef() {
        let text = b"# comment line login nobody\n\
            machine ftp.example.com login alice password \"p w#1\" account acc\n\
            macdef init\n\
            cd /pub\n\
            machine evil login x password y\n\
            \n\
            machine Example.ORG\n  login bob\n  password pw#2 # trailing comment\n\
            machine .suffix.net login carol password c\n\
            default login anonymous password me@\n";
        let n = Netrc::parse(text);
        assert_eq!(n.lookup("ftp.example.com"), Some(("alice", "p w#1")));
        assert_eq!(
            n.lookup_entry("ftp.example.com")
                .unwrap()
                .account
                .as_deref(),
            Some("acc")
        );
        assert_eq!(n.lookup("EXAMPLE.org"), Some(("bob", "pw#2")));
        assert_eq!(n.lookup("a.suffix.net"), Some(("carol", "c")));
        assert_eq!(n.lookup("suffix.net"), Some(("carol", "c")));
        assert_eq!(n.lookup("evil"), Some(("anonymous", "me@")));
        assert_eq!(n.lookup("other"), Some(("anonymous", "me@")));
        assert_eq!(n.machines.len(), 3);
    }

    #[test]
    fn one_line_and_truncated() {
        let n = Netrc::parse(b"machine h login u password p machine h2 login u2");
        assert_eq!(n.lookup("h"), Some(("u", "p")));
        assert_eq!(n.lookup("h2"), Some(("u2", "")));
        assert_eq!(n.lookup("none"), None);
        let n = Netrc::parse(b"machine h login");
        assert_eq!(n.lookup("h"), Some(("", "")));
        for junk in [
            &b""[..],
            b"machine",
            b"macdef",
            b"macdef x",
            b"\"",
            b"password",
            b"#",
            b"default",
        ] {
            let _ = Netrc::parse(junk);
        }
    }
}
