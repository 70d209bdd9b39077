//! Encoders for the FTP commands arietta sends, plus the PORT/EPRT argument
//! builders for active mode.

use std::fmt;
use std::net::{SocketAddr, SocketAddrV4};

use crate::error::FtpError;

/// Representation type for `TYPE` (`--ftp-type=binary|ascii`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferType {
    /// `TYPE I`: bytes as stored; the default, and what segmented download needs.
    #[default]
    Binary,
    /// `TYPE A`: the server may translate line endings.
    Ascii,
}

/// One command on the control connection. Arguments are owned so a
/// [`Session`](crate::Session) can hand commands out without borrowing.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    User(String),
    Pass(String),
    Type(TransferType),
    Pasv,
    Epsv,
    /// Active mode, IPv4 only (RFC 959).
    Port(SocketAddrV4),
    /// Active mode, IPv4 or IPv6 (RFC 2428).
    Eprt(SocketAddr),
    Size(String),
    Mdtm(String),
    Rest(u64),
    Retr(String),
    Cwd(String),
    Pwd,
    Feat,
    /// Asks the server to abandon the running transfer (RFC 959 §4.1.3).
    Abor,
    /// Does nothing; its `200` marks a point in the reply stream, so the
    /// replies an abort produced (how many varies by server) can be drained.
    Noop,
    Quit,
}

impl Command {
    /// The verb, for logs and error messages.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Type(_) => "TYPE",
            Command::Pasv => "PASV",
            Command::Epsv => "EPSV",
            Command::Port(_) => "PORT",
            Command::Eprt(_) => "EPRT",
            Command::Size(_) => "SIZE",
            Command::Mdtm(_) => "MDTM",
            Command::Rest(_) => "REST",
            Command::Retr(_) => "RETR",
            Command::Cwd(_) => "CWD",
            Command::Pwd => "PWD",
            Command::Feat => "FEAT",
            Command::Abor => "ABOR",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
        }
    }

    /// Appends the wire form (`VERB arg\r\n`) to `out`.
    ///
    /// Fails if an argument holds CR, LF or NUL: a file name or password with
    /// an embedded line break would otherwise inject a second command.
    /// Nothing is appended on failure.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), FtpError> {
        let arg: Option<String> = match self {
            Command::User(s)
            | Command::Pass(s)
            | Command::Size(s)
            | Command::Mdtm(s)
            | Command::Retr(s)
            | Command::Cwd(s) => {
                check_argument(s)?;
                Some(s.clone())
            }
            Command::Type(TransferType::Binary) => Some("I".into()),
            Command::Type(TransferType::Ascii) => Some("A".into()),
            Command::Port(addr) => Some(port_argument(*addr)),
            Command::Eprt(addr) => Some(eprt_argument(*addr)),
            Command::Rest(n) => Some(n.to_string()),
            Command::Pasv
            | Command::Epsv
            | Command::Pwd
            | Command::Feat
            | Command::Abor
            | Command::Noop
            | Command::Quit => None,
        };
        out.extend_from_slice(self.verb().as_bytes());
        if let Some(arg) = arg {
            out.push(b' ');
            out.extend_from_slice(arg.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The wire form as a fresh buffer.
    pub fn encode(&self) -> Result<Vec<u8>, FtpError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

/// Shows the command as sent, except that the password is masked, so logs
/// never leak credentials.
impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Pass(_) => f.write_str("PASS ********"),
            other => match other.encode() {
                Ok(bytes) => f.write_str(String::from_utf8_lossy(&bytes).trim_end()),
                Err(_) => write!(f, "{} <invalid argument>", other.verb()),
            },
        }
    }
}

fn check_argument(arg: &str) -> Result<(), FtpError> {
    if arg.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        Err(FtpError::InvalidArgument)
    } else {
        Ok(())
    }
}

/// The `PORT` argument `h1,h2,h3,h4,p1,p2` for a local listener.
pub fn port_argument(addr: SocketAddrV4) -> String {
    let [a, b, c, d] = addr.ip().octets();
    let [p1, p2] = addr.port().to_be_bytes();
    format!("{a},{b},{c},{d},{p1},{p2}")
}

/// The `EPRT` argument `|1|addr|port|` or `|2|addr|port|` (RFC 2428 §2).
/// An IPv4-mapped IPv6 address is sent as plain IPv4, which servers accept
/// far more reliably.
pub fn eprt_argument(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => format!("|1|{}|{}|", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => format!("|1|{}|{}|", v4, v6.port()),
            None => format!("|2|{}|{}|", v6.ip(), v6.port()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};

    fn wire(c: Command) -> String {
        String::from_utf8(c.encode().unwrap()).unwrap()
    }

    #[test]
    fn encodes_each_command() {
        assert_eq!(
            wire(Command::User("anonymous".into())),
            "USER anonymous\r\n"
        );
        assert_eq!(wire(Command::Pass("p w".into())), "PASS p w\r\n");
        assert_eq!(wire(Command::Type(TransferType::Binary)), "TYPE I\r\n");
        assert_eq!(wire(Command::Type(TransferType::Ascii)), "TYPE A\r\n");
        assert_eq!(wire(Command::Pasv), "PASV\r\n");
        assert_eq!(wire(Command::Epsv), "EPSV\r\n");
        assert_eq!(wire(Command::Size("a b.iso".into())), "SIZE a b.iso\r\n");
        assert_eq!(wire(Command::Mdtm("f".into())), "MDTM f\r\n");
        assert_eq!(
            wire(Command::Rest(u64::MAX)),
            "REST 18446744073709551615\r\n"
        );
        assert_eq!(wire(Command::Retr("f".into())), "RETR f\r\n");
        assert_eq!(wire(Command::Cwd("/pub".into())), "CWD /pub\r\n");
        assert_eq!(wire(Command::Pwd), "PWD\r\n");
        assert_eq!(wire(Command::Feat), "FEAT\r\n");
        assert_eq!(wire(Command::Quit), "QUIT\r\n");
        assert_eq!(wire(Command::Abor), "ABOR\r\n");
        assert_eq!(wire(Command::Noop), "NOOP\r\n");
        let v4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), 0x1234);
        assert_eq!(wire(Command::Port(v4)), "PORT 192,168,1,2,18,52\r\n");
        assert_eq!(
            wire(Command::Eprt(v4.into())),
            "EPRT |1|192.168.1.2|4660|\r\n"
        );
    }

    #[test]
    fn eprt_ipv6_and_mapped() {
        let v6 = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 21, 0, 0);
        assert_eq!(eprt_argument(v6.into()), "|2|::1|21|");
        let mapped = SocketAddrV6::new(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped(), 5, 0, 0);
        assert_eq!(eprt_argument(mapped.into()), "|1|10.0.0.1|5|");
    }

    #[test]
    fn rejects_line_breaks() {
        for bad in ["a\r\nDELE x", "a\n", "a\r", "a\0b"] {
            let mut out = b"keep".to_vec();
            for c in [
                Command::User(bad.into()),
                Command::Pass(bad.into()),
                Command::Retr(bad.into()),
                Command::Cwd(bad.into()),
                Command::Size(bad.into()),
                Command::Mdtm(bad.into()),
            ] {
                assert_eq!(c.encode_into(&mut out), Err(FtpError::InvalidArgument));
            }
            assert_eq!(out, b"keep");
        }
    }

    #[test]
    fn debug_masks_password() {
        assert_eq!(
            format!("{:?}", Command::Pass("secret".into())),
            "PASS ********"
        );
        assert_eq!(format!("{:?}", Command::Retr("f".into())), "RETR f");
    }
}
