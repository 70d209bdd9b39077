//! The blocking SFTP session: one TCP connection, one SSH session, one
//! SFTP channel and at most one open remote file. Every call may block on
//! the network, so this type lives on its own thread
//! ([`crate::SftpConnection`]).

use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ssh2::{ErrorCode, Session, Sftp};

use crate::credentials::Credentials;
use crate::error::SftpError;
use crate::host_key::HostKeyCheck;

/// libssh2's `LIBSSH2_ERROR_TIMEOUT`.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;
/// SFTP status codes (draft-ietf-secsh-filexfer-02).
const FX_NO_SUCH_FILE: i32 = 2;
const FX_PERMISSION_DENIED: i32 = 3;

/// How a read reports its progress while it runs.
#[derive(Clone, Debug)]
pub struct ReadPace {
    /// Every read's bytes are added here as they arrive (a download's
    /// count, which its speed is measured on).
    pub received: Arc<AtomicU64>,
    /// Return what came once this much time has passed with some bytes
    /// in, so a slow link's bytes reach the file before the buffer fills.
    pub flush_after: Duration,
}

/// How far a read got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadEnd {
    /// Bytes filled.
    pub len: usize,
    /// The file ended there.
    pub eof: bool,
}

/// Where to connect and how to prove who we are.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub host: String,
    pub port: u16,
    /// `--connect-timeout`: bounds the TCP connect (per address) and the
    /// SSH handshake. Zero means no limit.
    pub connect_timeout: Duration,
    /// `--timeout`: bounds every later wait for the server. Zero means no
    /// limit.
    pub timeout: Duration,
    /// `--ssh-host-key-md`.
    pub host_key: Option<HostKeyCheck>,
    pub credentials: Credentials,
    /// `--disable-ipv6`.
    pub ipv4_only: bool,
    /// A SOCKS5 proxy (`--all-proxy=socks5://…`) the TCP connection goes
    /// through.
    pub socks5: Option<Socks5Via>,
}

/// A SOCKS5 proxy for the SSH connection.
#[derive(Clone, Debug)]
pub struct Socks5Via {
    pub host: String,
    pub port: u16,
    /// `socks5h://`: the proxy resolves the SSH server's name.
    pub remote_dns: bool,
    pub credentials: Option<arietta_socks5::Credentials>,
}

/// What `stat` tells about the remote file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteStat {
    pub size: u64,
    /// For `--remote-time`.
    pub mtime: Option<SystemTime>,
}

struct OpenFile {
    path: String,
    file: ssh2::File,
    /// Offset the next `read` returns, so contiguous reads skip the seek
    /// (a seek discards libssh2's read-ahead).
    pos: u64,
}

/// A logged-in SFTP session.
pub struct SftpSession {
    session: Session,
    sftp: Sftp,
    open: Option<OpenFile>,
    timeout: Duration,
}

impl SftpSession {
    /// Resolves, connects, does the key exchange, checks the host key (no
    /// credential leaves before it matched), authenticates and opens the
    /// SFTP channel.
    pub fn connect(cfg: &SessionConfig) -> Result<SftpSession, SftpError> {
        let tcp = connect_tcp(cfg)?;
        let mut session = Session::new().map_err(|e| SftpError::Handshake {
            host: cfg.host.clone(),
            detail: e.to_string(),
        })?;
        session.set_tcp_stream(tcp);
        session.set_timeout(millis(cfg.connect_timeout));
        session.handshake().map_err(|e| {
            if timeout_of(&e) {
                SftpError::Timeout(cfg.connect_timeout.as_secs())
            } else {
                SftpError::Handshake {
                    host: cfg.host.clone(),
                    detail: e.message().to_owned(),
                }
            }
        })?;
        if let Some(check) = &cfg.host_key {
            check.verify(&cfg.host, session.host_key_hash(check.algo.ssh2()))?;
        }
        session.set_timeout(millis(cfg.timeout));
        authenticate(&session, &cfg.credentials, cfg.timeout)?;
        let sftp = session
            .sftp()
            .map_err(|e| map_err(e, "subsystem start", "", cfg.timeout))?;
        Ok(SftpSession {
            session,
            sftp,
            open: None,
            timeout: cfg.timeout,
        })
    }

    /// Size and modification time of a regular file.
    pub fn stat(&mut self, path: &str) -> Result<RemoteStat, SftpError> {
        let st = self
            .sftp
            .stat(Path::new(path))
            .map_err(|e| map_err(e, "stat", path, self.timeout))?;
        if !st.is_file() {
            return Err(SftpError::NotAFile {
                path: path.to_owned(),
            });
        }
        Ok(RemoteStat {
            size: st.size.unwrap_or(0),
            mtime: st.mtime.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
        })
    }

    /// Fills `buf` with the file's bytes from `pos`, adding each read's
    /// bytes to `pace.received` as they come. Returns early, short, once
    /// `pace.flush_after` has passed with some bytes in, and short with
    /// `eof` where the file ends.
    ///
    /// One large read lets libssh2 pipeline its SFTP read requests (it
    /// keeps many 32 KiB requests in flight for a big buffer), which is
    /// what makes SFTP fast over links with latency; returning early
    /// leaves them in flight for the next read, which continues here.
    pub fn read_at(
        &mut self,
        path: &str,
        pos: u64,
        buf: &mut [u8],
        pace: &ReadPace,
    ) -> Result<ReadEnd, SftpError> {
        let flush_at = Instant::now() + pace.flush_after;
        let timeout = self.timeout;
        let open = match &mut self.open {
            Some(o) if o.path == path => o,
            slot => {
                let file = self
                    .sftp
                    .open(Path::new(path))
                    .map_err(|e| map_err(e, "open", path, timeout))?;
                slot.insert(OpenFile {
                    path: path.to_owned(),
                    file,
                    pos: 0,
                })
            }
        };
        if open.pos != pos {
            open.file
                .seek(SeekFrom::Start(pos))
                .map_err(|e| io_err(e, "seek", timeout))?;
            open.pos = pos;
        }
        let mut filled = 0;
        while filled < buf.len() {
            match open.file.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Ok(ReadEnd {
                        len: filled,
                        eof: true,
                    })
                }
                Ok(n) => {
                    filled += n;
                    open.pos += n as u64;
                    pace.received.fetch_add(n as u64, Ordering::Relaxed);
                    if Instant::now() >= flush_at {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // The file handle's read-ahead state is unknown now.
                    self.open = None;
                    return Err(io_err(e, "read", timeout));
                }
            }
        }
        Ok(ReadEnd {
            len: filled,
            eof: false,
        })
    }

    /// Says goodbye to the server (best effort).
    pub fn close(self) {
        drop(self.open);
        drop(self.sftp);
        let _ = self.session.disconnect(None, "done", None);
    }
}

/// libssh2 keeps requests for 4× the caller's buffer in flight (capped by
/// its channel window), guessing that reads continue; past a segment's end
/// those bytes are wasted. This is the buffer size to ask for when
/// `remaining` bytes of the segment are left: `max` while far from the end,
/// then a quarter of what is left, so the read-ahead stops at the segment's
/// end, down to `floor` (libssh2's request size, 30000 bytes, is a good
/// one), where at most 4 × `floor` is read past it.
pub fn read_size(remaining: u64, max: u64, floor: u64) -> u64 {
    (remaining / 4).clamp(floor, max).min(remaining)
}

fn millis(d: Duration) -> u32 {
    d.as_millis().min(u128::from(u32::MAX)) as u32
}

fn connect_tcp(cfg: &SessionConfig) -> Result<TcpStream, SftpError> {
    let Some(proxy) = &cfg.socks5 else {
        return connect_direct(&cfg.host, cfg.port, cfg);
    };
    let target = if proxy.remote_dns {
        arietta_socks5::Target::new(&cfg.host, cfg.port)
    } else {
        let addr = resolve(&cfg.host, cfg.port, cfg)?[0];
        arietta_socks5::Target::new(&addr.ip().to_string(), cfg.port)
    };
    let mut tcp = connect_direct(&proxy.host, proxy.port, cfg)?;
    // The handshake's waits are bounded like the SSH handshake's; libssh2
    // keeps its own timeouts afterwards.
    let limit = (!cfg.connect_timeout.is_zero()).then_some(cfg.connect_timeout);
    let _ = tcp.set_read_timeout(limit);
    let _ = tcp.set_write_timeout(limit);
    match arietta_socks5::connect_blocking(&mut tcp, target, proxy.credentials.clone()) {
        Ok(_) => {}
        Err(arietta_socks5::Socks5Error::Io(e))
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            return Err(SftpError::Timeout(cfg.connect_timeout.as_secs()))
        }
        Err(e) => return Err(e.into()),
    }
    let _ = tcp.set_read_timeout(None);
    let _ = tcp.set_write_timeout(None);
    Ok(tcp)
}

fn resolve(host: &str, port: u16, cfg: &SessionConfig) -> Result<Vec<SocketAddr>, SftpError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (bare, port)
        .to_socket_addrs()
        .map_err(|e| SftpError::Resolve {
            host: host.to_owned(),
            detail: e.to_string(),
        })?
        .filter(|a| !cfg.ipv4_only || a.is_ipv4())
        .collect();
    if addrs.is_empty() {
        return Err(SftpError::Resolve {
            host: host.to_owned(),
            detail: "no usable address".into(),
        });
    }
    Ok(addrs)
}

fn connect_direct(host: &str, port: u16, cfg: &SessionConfig) -> Result<TcpStream, SftpError> {
    let addrs = resolve(host, port, cfg)?;
    let mut last = String::new();
    for addr in addrs {
        // With the process's socket options (`--interface`, ...).
        match arietta_net::connect_blocking(addr, cfg.connect_timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(SftpError::Connect {
        host: host.to_owned(),
        port,
        detail: last,
    })
}

fn authenticate(session: &Session, c: &Credentials, timeout: Duration) -> Result<(), SftpError> {
    let user = c.user.as_str();
    let fail = |detail: String| SftpError::Auth {
        user: user.to_owned(),
        detail,
    };
    // Asking for the methods may already log us in (`none` accepted).
    let methods = match session.auth_methods(user) {
        Ok(m) => m.to_owned(),
        Err(_) if session.authenticated() => return Ok(()),
        Err(e) => return Err(map_err(e, "authentication", "", timeout)),
    };
    let offers = |m: &str| methods.split(',').any(|x| x == m);
    if let Some(pw) = &c.password {
        if offers("password") {
            return session
                .userauth_password(user, pw)
                .map_err(|e| fail(format!("password refused: {}", e.message())));
        }
        // Servers that check passwords through PAM often offer only
        // keyboard-interactive, whose one hidden prompt is the password.
        if offers("keyboard-interactive") {
            let mut answer = PasswordPrompt(pw);
            return match session.userauth_keyboard_interactive(user, &mut answer) {
                Ok(()) if session.authenticated() => Ok(()),
                Ok(()) => Err(fail("keyboard-interactive login not accepted".into())),
                Err(e) => Err(fail(format!("password refused: {}", e.message()))),
            };
        }
        return Err(fail(format!(
            "the server does not accept passwords (it offers {methods})"
        )));
    }
    let mut tried = Vec::new();
    if offers("publickey") {
        if c.use_agent && session.userauth_agent(user).is_ok() && session.authenticated() {
            return Ok(());
        }
        if c.use_agent {
            tried.push("ssh-agent".to_owned());
        }
        for key in &c.key_files {
            if session.userauth_pubkey_file(user, None, key, None).is_ok()
                && session.authenticated()
            {
                return Ok(());
            }
            tried.push(key.display().to_string());
        }
    }
    if tried.is_empty() {
        return Err(fail(format!(
            "no password and no private key to offer (the server offers {methods})"
        )));
    }
    Err(fail(format!(
        "no key was accepted (tried {})",
        tried.join(", ")
    )))
}

/// Answers keyboard-interactive prompts: the password for hidden ones,
/// nothing for the rest.
struct PasswordPrompt<'a>(&'a str);

impl ssh2::KeyboardInteractivePrompt for PasswordPrompt<'_> {
    fn prompt(&mut self, _user: &str, _text: &str, prompts: &[ssh2::Prompt<'_>]) -> Vec<String> {
        prompts
            .iter()
            .map(|p| {
                if p.echo {
                    String::new()
                } else {
                    self.0.to_owned()
                }
            })
            .collect()
    }
}

fn timeout_of(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT)
}

fn map_err(e: ssh2::Error, what: &'static str, path: &str, timeout: Duration) -> SftpError {
    match e.code() {
        ErrorCode::SFTP(FX_NO_SUCH_FILE) => SftpError::NotFound {
            path: path.to_owned(),
        },
        ErrorCode::SFTP(FX_PERMISSION_DENIED) => SftpError::PermissionDenied {
            path: path.to_owned(),
        },
        ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) => SftpError::Timeout(timeout.as_secs()),
        _ => SftpError::Protocol {
            what,
            detail: e.message().to_owned(),
        },
    }
}

fn io_err(e: std::io::Error, what: &'static str, timeout: Duration) -> SftpError {
    if e.kind() == ErrorKind::TimedOut {
        return SftpError::Timeout(timeout.as_secs());
    }
    SftpError::Protocol {
        what,
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::read_size;

    #[test]
    fn read_ahead_stays_inside_the_segment() {
        const MAX: u64 = 1 << 20;
        const FLOOR: u64 = 30_000;
        assert_eq!(read_size(100 << 20, MAX, FLOOR), MAX);
        assert_eq!(read_size(2 << 20, MAX, FLOOR), 512 << 10);
        assert_eq!(read_size(50_000, MAX, FLOOR), FLOOR);
        assert_eq!(read_size(10_000, MAX, FLOOR), 10_000);
        assert_eq!(read_size(0, MAX, FLOOR), 0);
        // Walking a segment: every request libssh2 may send (4× the
        // buffer from where the read starts) ends inside it, except
        // within 4 × FLOOR of its end.
        let end = 7_777_777u64;
        let mut pos = 0;
        while pos < end {
            let n = read_size(end - pos, MAX, FLOOR);
            assert!(pos + 4 * n <= end || end - pos <= 4 * FLOOR);
            pos += n;
        }
    }
}
