//! The handshake machine: what to send next, how many bytes the current
//! server message still needs, and what those bytes mean.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{ReplyCode, Socks5Error};

const VERSION: u8 = 5;
const METHOD_NONE: u8 = 0x00;
const METHOD_LOGIN: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xff;
const LOGIN_VERSION: u8 = 1;
const CMD_CONNECT: u8 = 1;
const CMD_UDP_ASSOCIATE: u8 = 3;
pub(crate) const ATYP_V4: u8 = 1;
pub(crate) const ATYP_DOMAIN: u8 = 3;
pub(crate) const ATYP_V6: u8 = 4;

/// Where the proxy should connect: an address we resolved (`socks5://`) or
/// a name the proxy resolves (`socks5h://`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    Ip(IpAddr),
    Domain(String),
}

/// A CONNECT destination, a UDP datagram's destination or source, or the
/// address a server reports it bound (for UDP ASSOCIATE: its relay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: TargetHost,
    pub port: u16,
}

impl Target {
    /// `host` as a URL writes it (IPv6 literals may be bracketed): an IP
    /// literal becomes an address, anything else a name for the proxy.
    pub fn new(host: &str, port: u16) -> Target {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let host = match bare.parse::<IpAddr>() {
            Ok(ip) => TargetHost::Ip(ip),
            Err(_) => TargetHost::Domain(host.to_owned()),
        };
        Target { host, port }
    }

    /// The address and port as SOCKS5 writes them (`ATYP ADDR PORT`). A
    /// domain is at most 255 bytes: checked by whoever made the target.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match &self.host {
            TargetHost::Ip(IpAddr::V4(ip)) => {
                out.push(ATYP_V4);
                out.extend_from_slice(&ip.octets());
            }
            TargetHost::Ip(IpAddr::V6(ip)) => {
                out.push(ATYP_V6);
                out.extend_from_slice(&ip.octets());
            }
            TargetHost::Domain(name) => {
                out.push(ATYP_DOMAIN);
                out.push(name.len() as u8);
                out.extend_from_slice(name.as_bytes());
            }
        }
        out.extend_from_slice(&self.port.to_be_bytes());
    }

    /// Refuses a domain longer than the one length byte can say.
    pub(crate) fn check_len(&self) -> Result<(), Socks5Error> {
        match &self.host {
            TargetHost::Domain(d) if d.len() > 255 => Err(Socks5Error::TooLong("the host name")),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            TargetHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            TargetHost::Ip(ip) => write!(f, "{ip}:{}", self.port),
            TargetHost::Domain(d) => write!(f, "{d}:{}", self.port),
        }
    }
}

/// RFC 1929 username/password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    /// The password stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Greeting sent; waiting for `VER METHOD`.
    Method,
    /// Username/password sent; waiting for `VER STATUS`.
    Login,
    /// The request (CONNECT or UDP ASSOCIATE) sent; waiting for the 4-byte
    /// head of the reply.
    ReplyHead,
    /// The reply names a domain; waiting for its length byte.
    ReplyDomainLen,
    /// Waiting for the rest of the bound address and port.
    ReplyAddr,
    Done,
    Failed,
}

/// One client handshake, from greeting to the reply to CONNECT or UDP
/// ASSOCIATE (RFC 1928 §4, command 3).
///
/// Drive it with: send [`Handshake::transmit`]'s bytes; unless
/// [`Handshake::bound`] is `Some`, read at most [`Handshake::wanted`] bytes
/// and [`Handshake::feed`] them; repeat. An error ends it for good.
#[derive(Debug)]
pub struct Handshake {
    state: State,
    /// CONNECT or UDP ASSOCIATE.
    command: u8,
    target: Target,
    creds: Option<Credentials>,
    out: Vec<u8>,
    /// The current server message, as much as has arrived.
    msg: Vec<u8>,
    /// The current message's length, as far as it is known yet.
    need: usize,
    bound: Option<Target>,
}

impl Handshake {
    /// Starts a handshake to CONNECT to `target`, offering no
    /// authentication and, when `creds` are given, username/password too.
    /// The greeting is queued for [`Handshake::transmit`].
    pub fn new(target: Target, creds: Option<Credentials>) -> Result<Handshake, Socks5Error> {
        Handshake::start(CMD_CONNECT, target, creds)
    }

    /// Starts a handshake for UDP ASSOCIATE: the proxy opens a UDP relay
    /// for as long as this TCP connection stays open, and
    /// [`Handshake::bound`] is then the relay's address. `client` is the
    /// address our datagrams will come from (RFC 1928 §4): all zeros with
    /// our port when the host address is not known, which lets the proxy
    /// take the control connection's source address.
    pub fn associate(client: Target, creds: Option<Credentials>) -> Result<Handshake, Socks5Error> {
        Handshake::start(CMD_UDP_ASSOCIATE, client, creds)
    }

    fn start(
        command: u8,
        target: Target,
        creds: Option<Credentials>,
    ) -> Result<Handshake, Socks5Error> {
        target.check_len()?;
        if let Some(c) = &creds {
            if c.user.len() > 255 {
                return Err(Socks5Error::TooLong("the proxy user name"));
            }
            if c.password.len() > 255 {
                return Err(Socks5Error::TooLong("the proxy password"));
            }
        }
        let out = if creds.is_some() {
            vec![VERSION, 2, METHOD_NONE, METHOD_LOGIN]
        } else {
            vec![VERSION, 1, METHOD_NONE]
        };
        Ok(Handshake {
            state: State::Method,
            command,
            target,
            creds,
            out,
            msg: Vec::with_capacity(8),
            need: 2,
            bound: None,
        })
    }

    /// The bytes to send now (empty when nothing is queued).
    pub fn transmit(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// How many more bytes the server's current message needs: read no
    /// more than this, so no byte after the handshake is consumed. Zero
    /// once done or failed.
    pub fn wanted(&self) -> usize {
        match self.state {
            State::Done | State::Failed => 0,
            _ => self.need - self.msg.len(),
        }
    }

    /// The address the proxy reports for its side of the connection, once
    /// the CONNECT succeeded; from then on the stream is the target's. For
    /// UDP ASSOCIATE, the relay to send datagrams to (an unspecified
    /// address means the proxy's own, the one the TCP connection reached).
    pub fn bound(&self) -> Option<&Target> {
        self.bound.as_ref()
    }

    /// Takes bytes from the server; returns how many were used. It stops
    /// at the end of a message that calls for an answer (send
    /// [`Handshake::transmit`] before feeding the rest: a server cannot
    /// answer what it has not been sent) and at the end of the handshake
    /// (the rest belongs to the tunnelled protocol).
    pub fn feed(&mut self, mut data: &[u8]) -> Result<usize, Socks5Error> {
        let mut used = 0;
        while !data.is_empty() && self.wanted() > 0 && self.out.is_empty() {
            let n = self.wanted().min(data.len());
            self.msg.extend_from_slice(&data[..n]);
            data = &data[n..];
            used += n;
            if self.msg.len() == self.need {
                if let Err(e) = self.on_message() {
                    self.state = State::Failed;
                    return Err(e);
                }
            }
        }
        Ok(used)
    }

    /// Handles a complete message in `self.msg`.
    fn on_message(&mut self) -> Result<(), Socks5Error> {
        match self.state {
            State::Method => {
                if self.msg[0] != VERSION {
                    return Err(Socks5Error::BadVersion(self.msg[0]));
                }
                match self.msg[1] {
                    METHOD_NONE => self.send_connect(),
                    METHOD_LOGIN => match &self.creds {
                        Some(c) => {
                            self.out.push(LOGIN_VERSION);
                            self.out.push(c.user.len() as u8);
                            self.out.extend_from_slice(c.user.as_bytes());
                            self.out.push(c.password.len() as u8);
                            self.out.extend_from_slice(c.password.as_bytes());
                            self.expect(State::Login, 2);
                        }
                        None => return Err(Socks5Error::UnexpectedMethod(METHOD_LOGIN)),
                    },
                    NO_ACCEPTABLE => {
                        return Err(Socks5Error::NoAcceptableMethod {
                            offered_login: self.creds.is_some(),
                        })
                    }
                    m => return Err(Socks5Error::UnexpectedMethod(m)),
                }
            }
            State::Login => {
                // RFC 1929's reply version is 1; some servers send 5. Only
                // the status matters.
                if self.msg[1] != 0 {
                    return Err(Socks5Error::AuthFailed(self.msg[1]));
                }
                self.send_connect();
            }
            State::ReplyHead => {
                if self.msg[0] != VERSION {
                    return Err(Socks5Error::BadVersion(self.msg[0]));
                }
                if self.msg[1] != 0 {
                    let code = ReplyCode::from_byte(self.msg[1]);
                    if self.command == CMD_UDP_ASSOCIATE {
                        return Err(Socks5Error::AssociateRefused(code));
                    }
                    return Err(Socks5Error::Reply {
                        code,
                        target: self.target.to_string(),
                    });
                }
                match self.msg[3] {
                    ATYP_V4 => self.need += 4 + 2,
                    ATYP_V6 => self.need += 16 + 2,
                    ATYP_DOMAIN => {
                        self.need += 1;
                        self.state = State::ReplyDomainLen;
                        return Ok(());
                    }
                    t => return Err(Socks5Error::BadAddressType(t)),
                }
                self.state = State::ReplyAddr;
            }
            State::ReplyDomainLen => {
                self.need += usize::from(self.msg[4]) + 2;
                self.state = State::ReplyAddr;
            }
            State::ReplyAddr => {
                let m = &self.msg;
                let port = u16::from_be_bytes([m[m.len() - 2], m[m.len() - 1]]);
                let host = decode_host(m[3], &m[4..m.len() - 2]);
                self.bound = Some(Target { host, port });
                self.state = State::Done;
            }
            State::Done | State::Failed => {}
        }
        Ok(())
    }

    fn send_connect(&mut self) {
        self.out.extend_from_slice(&[VERSION, self.command, 0]);
        self.target.encode(&mut self.out);
        self.expect(State::ReplyHead, 4);
    }

    fn expect(&mut self, state: State, need: usize) {
        self.state = state;
        self.msg.clear();
        self.need = need;
    }
}

/// The host of a complete `ADDR` field of type `atyp` (already checked to
/// be one of the three): for a domain, `addr` starts with its length byte.
pub(crate) fn decode_host(atyp: u8, addr: &[u8]) -> TargetHost {
    match atyp {
        ATYP_V4 => TargetHost::Ip(IpAddr::V4(Ipv4Addr::new(
            addr[0], addr[1], addr[2], addr[3],
        ))),
        ATYP_V6 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(addr);
            TargetHost::Ip(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => TargetHost::Domain(String::from_utf8_lossy(&addr[1..]).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Option<Credentials> {
        Some(Credentials {
            user: user.into(),
            password: password.into(),
        })
    }

    /// Feeds `reply` one byte at a time, checking `wanted` never covers
    /// more than the message.
    fn feed_bytewise(h: &mut Handshake, reply: &[u8]) -> Result<(), Socks5Error> {
        for b in reply {
            assert!(h.wanted() > 0, "fed past the end of a message");
            assert_eq!(h.feed(std::slice::from_ref(b))?, 1);
        }
        Ok(())
    }

    #[test]
    fn no_auth_connect_to_an_ipv4_address() {
        let mut h = Handshake::new(Target::new("127.0.0.1", 8080), None).unwrap();
        assert_eq!(h.transmit(), [5, 1, 0]);
        assert!(h.transmit().is_empty());
        assert_eq!(h.wanted(), 2);
        feed_bytewise(&mut h, &[5, 0]).unwrap();
        assert_eq!(h.transmit(), [5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]);
        assert_eq!(h.wanted(), 4);
        feed_bytewise(&mut h, &[5, 0, 0, 1, 10, 0, 0, 9, 0x04, 0x38]).unwrap();
        assert_eq!(h.wanted(), 0);
        assert_eq!(h.bound().unwrap().to_string(), "10.0.0.9:1080");
    }

    #[test]
    fn login_then_connect_by_name_and_early_data_left_alone() {
        let mut h = Handshake::new(Target::new("example.org", 21), creds("us", "pw")).unwrap();
        assert_eq!(h.transmit(), [5, 2, 0, 2]);
        assert_eq!(h.feed(&[5, 2]).unwrap(), 2);
        assert_eq!(h.transmit(), [1, 2, b'u', b's', 2, b'p', b'w']);
        assert_eq!(h.feed(&[1, 0]).unwrap(), 2);
        let mut req = vec![5, 1, 0, 3, 11];
        req.extend_from_slice(b"example.org");
        req.extend_from_slice(&[0, 21]);
        assert_eq!(h.transmit(), req);
        // A domain-typed bound address, then an FTP greeting in the same
        // read: only the reply is used.
        let mut reply = vec![5, 0, 0, 3, 4];
        reply.extend_from_slice(b"host");
        reply.extend_from_slice(&[0, 80]);
        let n = reply.len();
        reply.extend_from_slice(b"220 hello\r\n");
        assert_eq!(h.feed(&reply).unwrap(), n);
        assert_eq!(h.bound().unwrap().to_string(), "host:80");
        assert_eq!(h.feed(b"more").unwrap(), 0);
    }

    #[test]
    fn a_reply_sent_before_its_request_is_not_taken() {
        let mut h = Handshake::new(Target::new("10.0.0.1", 80), None).unwrap();
        h.transmit();
        // The method choice and, too early, the CONNECT reply.
        let early = [5, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 80];
        assert_eq!(h.feed(&early).unwrap(), 2);
        assert_eq!(h.feed(&early[2..]).unwrap(), 0, "the request is unsent");
        assert_eq!(h.transmit().len(), 10);
        assert_eq!(h.feed(&early[2..]).unwrap(), 10);
        assert!(h.bound().is_some());
    }

    #[test]
    fn ipv6_target_and_bound_address() {
        let mut h = Handshake::new(Target::new("[::1]", 443), None).unwrap();
        h.transmit();
        h.feed(&[5, 0]).unwrap();
        let req = h.transmit();
        assert_eq!(&req[..4], [5, 1, 0, 4]);
        assert_eq!(req.len(), 4 + 16 + 2);
        let mut reply = vec![5, 0, 0, 4];
        reply.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        reply.extend_from_slice(&[1, 187]);
        feed_bytewise(&mut h, &reply).unwrap();
        assert_eq!(h.bound().unwrap().to_string(), "[::1]:443");
    }

    #[test]
    fn failures() {
        let start = |c| {
            let mut h = Handshake::new(Target::new("h", 1), c).unwrap();
            h.transmit();
            h
        };
        let mut h = start(None);
        let e = h.feed(b"HTTP/1.1 400").unwrap_err();
        assert!(matches!(e, Socks5Error::BadVersion(b'H')));
        assert_eq!(h.wanted(), 0);

        let e = start(None).feed(&[5, 0xff]).unwrap_err();
        assert!(e.is_auth_failure());
        assert!(e.to_string().contains("may require a user name"), "{e}");
        let e = start(None).feed(&[5, 2]).unwrap_err();
        assert!(matches!(e, Socks5Error::UnexpectedMethod(2)));
        let e = start(None).feed(&[5, 1]).unwrap_err();
        assert!(matches!(e, Socks5Error::UnexpectedMethod(1)));

        let mut h = start(creds("u", "bad"));
        h.feed(&[5, 2]).unwrap();
        h.transmit();
        let e = h.feed(&[1, 1]).unwrap_err();
        assert!(matches!(e, Socks5Error::AuthFailed(1)) && e.is_auth_failure());

        let mut h = start(None);
        h.feed(&[5, 0]).unwrap();
        h.transmit();
        let e = h.feed(&[5, 5, 0, 1]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SOCKS5 proxy could not connect to h:1: connection refused"
        );
        assert!(!e.is_auth_failure());
        let mut h = start(None);
        h.feed(&[5, 0]).unwrap();
        h.transmit();
        assert!(matches!(
            h.feed(&[5, 0, 0, 9]).unwrap_err(),
            Socks5Error::BadAddressType(9)
        ));
    }

    #[test]
    fn udp_associate_with_login_reports_the_relay() {
        let mut h = Handshake::associate(Target::new("0.0.0.0", 6881), creds("u", "p")).unwrap();
        assert_eq!(h.transmit(), [5, 2, 0, 2]);
        feed_bytewise(&mut h, &[5, 2]).unwrap();
        assert_eq!(h.transmit(), [1, 1, b'u', 1, b'p']);
        feed_bytewise(&mut h, &[1, 0]).unwrap();
        assert_eq!(h.transmit(), [5, 3, 0, 1, 0, 0, 0, 0, 0x1a, 0xe1]);
        feed_bytewise(&mut h, &[5, 0, 0, 1, 127, 0, 0, 1, 0x9b, 0x49]).unwrap();
        assert_eq!(h.bound().unwrap().to_string(), "127.0.0.1:39753");
        assert_eq!(h.wanted(), 0);
    }

    #[test]
    fn a_refused_udp_associate_says_so() {
        let mut h = Handshake::associate(Target::new("0.0.0.0", 0), None).unwrap();
        h.transmit();
        h.feed(&[5, 0]).unwrap();
        assert_eq!(h.transmit()[..2], [5, 3]);
        // microsocks' answer to anything but CONNECT.
        let e = h.feed(&[5, 7, 0, 1]).unwrap_err();
        assert!(matches!(
            e,
            Socks5Error::AssociateRefused(ReplyCode::CommandNotSupported)
        ));
        assert_eq!(
            e.to_string(),
            "SOCKS5 proxy refused UDP ASSOCIATE: command not supported"
        );
        assert!(!e.is_auth_failure());
        assert_eq!(h.wanted(), 0);
    }

    #[test]
    fn overlong_fields_are_refused_before_sending() {
        let long = "x".repeat(256);
        assert!(Handshake::new(Target::new(&long, 1), None).is_err());
        assert!(Handshake::new(Target::new("h", 1), creds(&long, "p")).is_err());
        assert!(Handshake::new(Target::new("h", 1), creds("u", &long)).is_err());
        let max = "y".repeat(255);
        assert!(Handshake::new(Target::new(&max, 1), creds(&max, &max)).is_ok());
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = creds("alice", "s3cret").unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
