//! Why a SOCKS5 handshake failed, split so callers can map each case onto
//! aria2's exit codes (a refused login is an authorization failure; the
//! rest are network failures).

/// A SOCKS5 server's answer to CONNECT or UDP ASSOCIATE other than
/// success (RFC 1928 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyCode {
    GeneralFailure,
    NotAllowed,
    NetworkUnreachable,
    HostUnreachable,
    ConnectionRefused,
    TtlExpired,
    CommandNotSupported,
    AddressTypeNotSupported,
    /// A code RFC 1928 does not assign.
    Other(u8),
}

impl ReplyCode {
    /// The reply for a non-zero `REP` byte.
    pub fn from_byte(b: u8) -> ReplyCode {
        match b {
            1 => ReplyCode::GeneralFailure,
            2 => ReplyCode::NotAllowed,
            3 => ReplyCode::NetworkUnreachable,
            4 => ReplyCode::HostUnreachable,
            5 => ReplyCode::ConnectionRefused,
            6 => ReplyCode::TtlExpired,
            7 => ReplyCode::CommandNotSupported,
            8 => ReplyCode::AddressTypeNotSupported,
            b => ReplyCode::Other(b),
        }
    }
}

impl std::fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            ReplyCode::GeneralFailure => "general SOCKS server failure",
            ReplyCode::NotAllowed => "connection not allowed by ruleset",
            ReplyCode::NetworkUnreachable => "network unreachable",
            ReplyCode::HostUnreachable => "host unreachable",
            ReplyCode::ConnectionRefused => "connection refused",
            ReplyCode::TtlExpired => "TTL expired",
            ReplyCode::CommandNotSupported => "command not supported",
            ReplyCode::AddressTypeNotSupported => "address type not supported",
            ReplyCode::Other(b) => return write!(f, "unassigned reply code {b}"),
        };
        f.write_str(text)
    }
}

/// Everything that ends a SOCKS5 handshake early.
#[derive(Debug, thiserror::Error)]
pub enum Socks5Error {
    /// A user name or password is empty or longer than RFC 1929's 255
    /// bytes, or a host name longer than 255 bytes: caught before any byte
    /// is sent.
    #[error("SOCKS5: {0} is longer than 255 bytes")]
    TooLong(&'static str),
    /// The server spoke another version (an HTTP proxy answers `HTTP/…`).
    #[error("SOCKS5 proxy answered with version {0}, not 5 (is it a SOCKS5 proxy?)")]
    BadVersion(u8),
    /// The server accepts none of the methods offered: it wants a login
    /// and none was given, or it does not take ours.
    #[error("SOCKS5 proxy accepts none of our authentication methods{}", if *.offered_login { "" } else { " (it may require a user name and password)" })]
    NoAcceptableMethod {
        /// Whether username/password was among the offers.
        offered_login: bool,
    },
    /// The server chose a method that was not offered.
    #[error("SOCKS5 proxy chose authentication method {0}, which was not offered")]
    UnexpectedMethod(u8),
    /// RFC 1929: the server rejected the user name and password.
    #[error("SOCKS5 proxy rejected the user name and password (status {0})")]
    AuthFailed(u8),
    /// The server refused or failed the CONNECT.
    #[error("SOCKS5 proxy could not connect to {target}: {code}")]
    Reply {
        /// What the server said.
        code: ReplyCode,
        /// `host:port` that was asked for.
        target: String,
    },
    /// The server refused or failed UDP ASSOCIATE (microsocks, for one,
    /// speaks only CONNECT: "command not supported").
    #[error("SOCKS5 proxy refused UDP ASSOCIATE: {0}")]
    AssociateRefused(ReplyCode),
    /// A reply's or datagram's address type is none of IPv4, domain, IPv6.
    #[error("SOCKS5 proxy replied with unknown address type {0}")]
    BadAddressType(u8),
    /// A relayed UDP datagram is shorter than its header says, or its
    /// reserved bytes are not zero.
    #[error("SOCKS5 relay sent a malformed UDP datagram header")]
    BadDatagram,
    /// A relayed UDP datagram is a fragment (RFC 1928 §7 `FRAG` ≠ 0):
    /// reassembly is optional and not done, so it is dropped.
    #[error("SOCKS5 relay sent UDP fragment {0}, which is not reassembled")]
    Fragmented(u8),
    /// The proxy closed the connection mid-handshake.
    #[error("SOCKS5 proxy closed the connection during the handshake")]
    Closed,
    /// Reading or writing the proxy's socket failed ([`crate::connect_blocking`]).
    #[error("SOCKS5 proxy I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Socks5Error {
    /// Whether the proxy refused our credentials (or demands some): aria2
    /// reports authorization failures with exit code 24.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            Socks5Error::AuthFailed(_) | Socks5Error::NoAcceptableMethod { .. }
        )
    }
}
