//! A thin async FTP client on glommio: one control connection, driven one
//! command at a time, with data connections opened per transfer.
//!
//! The pure pieces (reply parser, command encoders, PASV/EPSV/SIZE/MDTM/PWD
//! parsers) do the protocol work; this file only moves bytes and decides
//! what to send next. A client remembers what it already set up (login
//! directory, current directory, transfer type, refused extensions), so a
//! connection reused for the next segment or the next file sends only the
//! commands that change something.

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use crate::commands::{Command, TransferType};
use crate::directory::parse_pwd;
use crate::error::FtpError;
use crate::file_facts::{parse_mdtm, parse_size};
use crate::passive::{parse_epsv, parse_pasv};
use crate::reply::{Reply, ReplyParser};

/// How long an abort may take to drain the server's replies before the
/// control connection is given up (and closed) instead.
const ABORT_DRAIN: Duration = Duration::from_secs(3);
/// An abort produces at most a few replies (426, 225/226, the NOOP's 200);
/// more than this means the server is not following along.
const ABORT_MAX_REPLIES: usize = 8;

/// Timeouts for one client, from `--timeout` and `--connect-timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Bound on each wait for a reply or for data; zero means none.
    pub io: Duration,
    /// Bound on opening a data connection.
    pub connect: Duration,
}

/// How the data connection is opened (`--ftp-pasv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataConnection {
    /// EPSV, falling back to PASV: we connect to the server.
    Passive,
    /// EPRT, falling back to PORT: the server connects to us, at the
    /// control connection's local address.
    Active,
}

/// Opens a passive-mode data connection to the given port of the FTP
/// server by some other route than a direct connection to the control
/// connection's peer: through a proxy's CONNECT tunnel, whose far end is
/// the server while our peer is the proxy.
pub type DataConnector = Rc<dyn Fn(u16) -> future::BoxedLocal<Result<TcpStream, FtpError>>>;

/// One logged-in (or logging-in) control connection.
pub struct FtpClient {
    ctrl: TcpStream,
    parser: ReplyParser,
    peer: SocketAddr,
    local: SocketAddr,
    timeouts: Timeouts,
    /// The directory the login landed in (PWD), which URI paths are
    /// relative to; `None` when the server would not say.
    home: Option<String>,
    /// Path components (relative to `home`) we are in now; `None` when
    /// unknown (after a failed CWD).
    cwd: Option<Vec<String>>,
    transfer_type: Option<TransferType>,
    epsv_refused: bool,
    eprt_refused: bool,
    /// False once the reply stream can no longer be trusted to be in step
    /// with our commands; such a connection is never reused.
    in_step: bool,
    /// Set when the control connection is tunnelled: data connections go
    /// the same way, and only passive mode is possible.
    data_connector: Option<DataConnector>,
}

/// A running RETR: read the file's bytes from `data`, then hand it back to
/// [`FtpClient::finish`] (at the end of the file) or
/// [`FtpClient::abort`] (to stop early).
pub struct Transfer {
    data: TcpStream,
    /// The server already sent the transfer's final reply with its 1yz
    /// (some servers answer an empty file with 226 straight away).
    completed: bool,
}

impl Transfer {
    /// Reads file bytes; `Ok(0)` at the end of the file. Bounded by the
    /// client's I/O timeout per call, so a stalled server is noticed.
    pub async fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, FtpError> {
        with_timeout(timeout, async {
            self.data.read(buf).await.map_err(|e| FtpError::Io {
                what: "data",
                message: e.to_string(),
            })
        })
        .await
    }
}

impl FtpClient {
    /// Reads the greeting on a freshly connected control connection.
    pub async fn handshake(ctrl: TcpStream, timeouts: Timeouts) -> Result<FtpClient, FtpError> {
        Self::handshake_after(ctrl, &[], None, timeouts).await
    }

    /// Like [`handshake`](Self::handshake) for a control connection that
    /// was set up by someone else (a proxy tunnel): `already_read` holds
    /// bytes of the server's that arrived with the proxy's answer, and
    /// data connections are opened with `data_connector`.
    pub async fn handshake_after(
        ctrl: TcpStream,
        already_read: &[u8],
        data_connector: Option<DataConnector>,
        timeouts: Timeouts,
    ) -> Result<FtpClient, FtpError> {
        let io_err = |e: glommio::GlommioError<()>| FtpError::Io {
            what: "control",
            message: e.to_string(),
        };
        let peer = ctrl.peer_addr().map_err(io_err)?;
        let local = ctrl.local_addr().map_err(io_err)?;
        // Commands and replies are small and strictly alternating: Nagle
        // would hold ABOR+NOOP back for a delayed ACK.
        let _ = ctrl.set_nodelay(true);
        let mut c = FtpClient {
            ctrl,
            parser: ReplyParser::new(),
            peer,
            local,
            timeouts,
            home: None,
            cwd: None,
            transfer_type: None,
            epsv_refused: false,
            eprt_refused: false,
            in_step: true,
            data_connector,
        };
        c.parser.push(already_read);
        let greeting = c.final_reply().await?;
        if greeting.code != 220 {
            return Err(failed("greeting", &greeting));
        }
        Ok(c)
    }

    /// The server's address on the control connection.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Whether this connection can be kept idle and used again: logged in,
    /// in step with its replies, and able to find its way back to any
    /// directory (the login directory is known).
    pub fn reusable(&self) -> bool {
        self.in_step && self.home.is_some()
    }

    /// USER, then PASS when asked, then PWD to learn the login directory.
    /// 530 (or another 5yz to USER/PASS) is a refused login: exit 24.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), FtpError> {
        let r = self.command(Command::User(user.to_owned())).await?;
        let r = match r.code {
            230 => r,
            331 | 332 => self.command(Command::Pass(password.to_owned())).await?,
            _ => return Err(login_error(&r, "USER")),
        };
        match r.code {
            230 | 202 => {}
            _ => return Err(login_error(&r, "PASS")),
        }
        let pwd = self.command(Command::Pwd).await?;
        if pwd.code == 257 {
            self.home = parse_pwd(pwd.first_line()).ok();
        }
        self.cwd = Some(Vec::new());
        Ok(())
    }

    /// `TYPE I` or `TYPE A`, unless already set.
    pub async fn set_type(&mut self, t: TransferType) -> Result<(), FtpError> {
        if self.transfer_type == Some(t) {
            return Ok(());
        }
        let r = self.command(Command::Type(t)).await?;
        if !r.is_completion() {
            return Err(failed("TYPE", &r));
        }
        self.transfer_type = Some(t);
        Ok(())
    }

    /// Moves to the directory `dirs` (components relative to the login
    /// directory, as in an ftp:// URI). One absolute CWD when the login
    /// directory is known, else one CWD per component from the login
    /// directory. Nothing is sent when already there.
    pub async fn change_dir(&mut self, dirs: &[String]) -> Result<(), FtpError> {
        if self.cwd.as_deref() == Some(dirs) {
            return Ok(());
        }
        let steps: Vec<String> = match (&self.home, &self.cwd) {
            (Some(home), _) => vec![join_dir(home, dirs)],
            (None, Some(cur)) if cur.is_empty() => dirs.to_vec(),
            (None, _) => return Err(FtpError::Misuse("directory unknown; use a new connection")),
        };
        self.cwd = None;
        for dir in steps {
            let r = self.command(Command::Cwd(dir)).await?;
            if !r.is_completion() {
                return Err(match r.code {
                    550 => FtpError::NotFound {
                        code: r.code,
                        text: r.text(),
                    },
                    _ => failed("CWD", &r),
                });
            }
        }
        self.cwd = Some(dirs.to_vec());
        Ok(())
    }

    /// SIZE: `Some(bytes)`, `None` when the server does not support it, and
    /// exit 3 when it says the file is not there.
    pub async fn size(&mut self, file: &str) -> Result<Option<u64>, FtpError> {
        let r = self.command(Command::Size(file.to_owned())).await?;
        match r.code {
            213 => parse_size(r.first_line()).map(Some),
            550 => Err(FtpError::NotFound {
                code: r.code,
                text: r.text(),
            }),
            421 => Err(failed("SIZE", &r)),
            _ => Ok(None),
        }
    }

    /// MDTM, for `--remote-time`; any failure just means "unknown".
    pub async fn modified(&mut self, file: &str) -> Result<Option<SystemTime>, FtpError> {
        let r = self.command(Command::Mdtm(file.to_owned())).await?;
        if r.code == 421 {
            return Err(failed("MDTM", &r));
        }
        Ok((r.code == 213)
            .then(|| parse_mdtm(r.first_line()).ok())
            .flatten())
    }

    /// Opens a data connection, sends REST (when `offset > 0`) and RETR,
    /// and returns the transfer once the server started it.
    pub async fn retrieve(
        &mut self,
        file: &str,
        offset: u64,
        mode: DataConnection,
    ) -> Result<Transfer, FtpError> {
        match mode {
            DataConnection::Passive => {
                let addr = self.passive_address().await?;
                let data = match self.data_connector.clone() {
                    Some(connect) => Pending::Connected(connect(addr.port()).await?),
                    None => self.connect_data(addr).await?,
                };
                self.rest_retr(file, offset, data).await
            }
            DataConnection::Active if self.data_connector.is_some() => Err(FtpError::Misuse(
                "active mode (--ftp-pasv=false) cannot work through a proxy tunnel",
            )),
            DataConnection::Active => {
                let listener = self.active_listener().await?;
                self.rest_retr(file, offset, Pending::Listening(listener))
                    .await
            }
        }
    }

    /// Reads the transfer's final reply after the data connection reached
    /// the end of the file.
    pub async fn finish(&mut self, t: Transfer) -> Result<(), FtpError> {
        let Transfer { data, completed } = t;
        drop(data);
        if completed {
            return Ok(());
        }
        let r = self.final_reply().await?;
        if r.is_completion() {
            Ok(())
        } else {
            Err(failed("RETR", &r))
        }
    }

    /// Stops a transfer before the end of the file: closes the data
    /// connection, sends ABOR and NOOP, and reads replies up to the NOOP's
    /// `200` (servers differ in how many replies an abort produces: 426
    /// then 226, just 226, or 226 for a transfer that had already ended
    /// and 225 for the ABOR). Returns whether the connection is still in
    /// step and fit for the next command; if not, drop it.
    pub async fn abort(&mut self, t: Transfer) -> bool {
        drop(t);
        let drained = future::or(
            async {
                self.send(Command::Abor).await.ok()?;
                self.send(Command::Noop).await.ok()?;
                for _ in 0..ABORT_MAX_REPLIES {
                    let r = self.read_reply().await.ok()?;
                    if r.code == 200 {
                        return Some(());
                    }
                }
                None
            },
            async {
                glommio::timer::sleep(ABORT_DRAIN).await;
                None
            },
        )
        .await;
        if drained.is_none() {
            self.in_step = false;
        }
        self.in_step
    }

    /// Sends QUIT without waiting for the answer: the connection is being
    /// dropped anyway.
    pub async fn quit(mut self) {
        let _ = future::or(async { self.send(Command::Quit).await.ok() }, async {
            glommio::timer::sleep(Duration::from_millis(100)).await;
            None
        })
        .await;
    }

    async fn passive_address(&mut self) -> Result<SocketAddr, FtpError> {
        if !self.epsv_refused {
            let r = self.command(Command::Epsv).await?;
            if r.code == 229 {
                let port = parse_epsv(r.first_line())?;
                return Ok(SocketAddr::new(self.peer.ip(), port));
            }
            if r.code == 421 || self.peer.is_ipv6() {
                return Err(failed("EPSV", &r));
            }
            self.epsv_refused = true;
        }
        let r = self.command(Command::Pasv).await?;
        if r.code != 227 {
            return Err(failed("PASV", &r));
        }
        // The advertised address is ignored in favour of the control
        // connection's peer, as curl does: servers behind NAT advertise
        // their inside address, and a hostile one could point us anywhere.
        let addr = parse_pasv(r.first_line())?;
        Ok(SocketAddr::new(self.peer.ip(), addr.port()))
    }

    async fn connect_data(&mut self, addr: SocketAddr) -> Result<Pending, FtpError> {
        let s = arietta_net::connect(&[addr], self.timeouts.connect)
            .await
            .map_err(|e| FtpError::Connect {
                what: "data",
                code: e.aria2_exit_code(),
                message: e.to_string(),
            })?;
        Ok(Pending::Connected(s))
    }

    async fn active_listener(&mut self) -> Result<TcpListener, FtpError> {
        let listener =
            TcpListener::bind(SocketAddr::new(self.local.ip(), 0)).map_err(|e| FtpError::Io {
                what: "data",
                message: format!("cannot listen for the data connection: {e}"),
            })?;
        let addr = listener.local_addr().map_err(|e| FtpError::Io {
            what: "data",
            message: e.to_string(),
        })?;
        let v4 = match addr {
            SocketAddr::V4(v4) => Some(v4),
            SocketAddr::V6(v6) => v6
                .ip()
                .to_ipv4_mapped()
                .map(|ip| std::net::SocketAddrV4::new(ip, v6.port())),
        };
        if !self.eprt_refused {
            let r = self.command(Command::Eprt(addr)).await?;
            if r.is_completion() {
                return Ok(listener);
            }
            if r.code == 421 || v4.is_none() {
                return Err(failed("EPRT", &r));
            }
            self.eprt_refused = true;
        }
        let Some(v4) = v4 else {
            return Err(FtpError::Misuse("PORT needs an IPv4 address"));
        };
        let r = self.command(Command::Port(v4)).await?;
        if !r.is_completion() {
            return Err(failed("PORT", &r));
        }
        Ok(listener)
    }

    async fn rest_retr(
        &mut self,
        file: &str,
        offset: u64,
        pending: Pending,
    ) -> Result<Transfer, FtpError> {
        if offset > 0 {
            let r = self.command(Command::Rest(offset)).await?;
            if r.code != 350 {
                return Err(FtpError::ResumeUnsupported {
                    code: r.code,
                    text: r.text(),
                });
            }
        }
        self.send(Command::Retr(file.to_owned())).await?;
        let started = loop {
            let r = self.read_reply().await?;
            match r.code {
                110 => continue,
                125 | 150 => break false,
                226 | 250 => break true,
                550 => {
                    return Err(FtpError::NotFound {
                        code: r.code,
                        text: r.text(),
                    })
                }
                _ => return Err(failed("RETR", &r)),
            }
        };
        let data = match pending {
            Pending::Connected(s) => s,
            Pending::Listening(l) => {
                let s = with_timeout(self.timeouts.connect, async {
                    l.accept().await.map_err(|e| FtpError::Io {
                        what: "data",
                        message: e.to_string(),
                    })
                })
                .await?;
                let from = s.peer_addr().map(|a| a.ip()).ok();
                if from.map(canonical) != Some(canonical(self.peer.ip())) {
                    return Err(FtpError::ForeignDataPeer {
                        got: from.map_or_else(|| "?".into(), |a| a.to_string()),
                        want: self.peer.ip().to_string(),
                    });
                }
                s
            }
        };
        Ok(Transfer {
            data,
            completed: started,
        })
    }

    /// Sends a command and returns its final (non-1yz) reply.
    async fn command(&mut self, cmd: Command) -> Result<Reply, FtpError> {
        self.send(cmd).await?;
        self.final_reply().await
    }

    async fn send(&mut self, cmd: Command) -> Result<(), FtpError> {
        let bytes = cmd.encode()?;
        let timeout = self.timeouts.io;
        let ctrl = &mut self.ctrl;
        let r = with_timeout(timeout, async {
            ctrl.write_all(&bytes).await?;
            ctrl.flush().await
        })
        .await;
        if r.is_err() {
            self.in_step = false;
        }
        r
    }

    async fn final_reply(&mut self) -> Result<Reply, FtpError> {
        loop {
            let r = self.read_reply().await?;
            if !r.is_preliminary() {
                return Ok(r);
            }
        }
    }

    async fn read_reply(&mut self) -> Result<Reply, FtpError> {
        let r = self.read_reply_inner().await;
        if r.is_err() {
            self.in_step = false;
        }
        r
    }

    async fn read_reply_inner(&mut self) -> Result<Reply, FtpError> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(r) = self.parser.next_reply()? {
                return Ok(r);
            }
            let ctrl = &mut self.ctrl;
            let n = with_timeout(self.timeouts.io, async { ctrl.read(&mut buf).await }).await?;
            if n == 0 {
                return Err(FtpError::Closed);
            }
            self.parser.push(buf.get(..n).unwrap_or_default());
        }
    }
}

/// The data connection before RETR: already connected (passive) or
/// waiting for the server (active).
enum Pending {
    Connected(TcpStream),
    Listening(TcpListener),
}

/// `home` + `/` + the URI's directory components.
fn join_dir(home: &str, dirs: &[String]) -> String {
    let mut s = home.trim_end_matches('/').to_owned();
    for d in dirs {
        s.push('/');
        s.push_str(d);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// IPv4-mapped IPv6 addresses compare equal to their IPv4 form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn failed(command: &'static str, r: &Reply) -> FtpError {
    FtpError::CommandFailed {
        command,
        code: r.code,
        text: r.text(),
    }
}

fn login_error(r: &Reply, command: &'static str) -> FtpError {
    // 500 is "command not understood"; every other 5yz to USER/PASS
    // (530 above all) means these credentials will not do.
    if (501..600).contains(&r.code) || r.code == 332 {
        FtpError::LoginFailed {
            code: r.code,
            text: r.text(),
        }
    } else {
        failed(command, r)
    }
}

async fn with_timeout<T, E: Into<FtpError>>(
    d: Duration,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, FtpError> {
    let fut = async { fut.await.map_err(Into::into) };
    if d.is_zero() {
        return fut.await;
    }
    future::or(fut, async {
        glommio::timer::sleep(d).await;
        Err(FtpError::Timeout { secs: d.as_secs() })
    })
    .await
}

impl From<std::io::Error> for FtpError {
    fn from(e: std::io::Error) -> Self {
        FtpError::Io {
            what: "control",
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_directories() {
        let d = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join_dir("/", &d(&[])), "/");
        assert_eq!(join_dir("/", &d(&["pub", "x"])), "/pub/x");
        assert_eq!(join_dir("/home/u/", &d(&["a"])), "/home/u/a");
        assert_eq!(join_dir("/home/u", &d(&[])), "/home/u");
    }

    #[test]
    fn mapped_addresses_compare_equal() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(canonical(mapped), v4);
        assert_eq!(canonical(v4), v4);
    }
}
