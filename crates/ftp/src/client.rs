//! A thin async FTP client on glommio: one control connection, driven one
//! command at a time, with data connections opened per transfer.
//!
//! What to send and what each reply means is [`Session`]'s business; this
//! file only moves bytes: it writes the commands the session names, feeds
//! it the replies, opens and accepts data connections, and bounds every
//! wait with the timeouts.

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use crate::commands::{Command, TransferType};
use crate::error::FtpError;
use crate::reply::{Reply, ReplyParser};
use crate::session::{DataMode, Session, Step};

/// How long an abort may take to drain the server's replies before the
/// control connection is given up (and closed) instead.
const ABORT_DRAIN: Duration = Duration::from_secs(3);

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
    /// The command sequence and what the connection has set up.
    session: Session,
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
            session: Session::new(peer.is_ipv6()),
            data_connector,
        };
        c.parser.push(already_read);
        c.exchange(Step::AwaitReply).await?;
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
        self.session.reusable()
    }

    /// USER, then PASS when asked, then PWD to learn the login directory.
    /// 530 (or another 5yz to USER/PASS) is a refused login: exit 24.
    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), FtpError> {
        let step = self.session.login(user, password);
        self.exchange(step).await
    }

    /// `TYPE I` or `TYPE A`, unless already set.
    pub async fn set_type(&mut self, t: TransferType) -> Result<(), FtpError> {
        let step = self.session.set_type(t);
        self.exchange(step).await
    }

    /// Moves to the directory `dirs` (components relative to the login
    /// directory, as in an ftp:// URI); nothing is sent when already there.
    pub async fn change_dir(&mut self, dirs: &[String]) -> Result<(), FtpError> {
        let step = self.session.change_dir(dirs)?;
        self.exchange(step).await
    }

    /// SIZE: `Some(bytes)`, `None` when the server does not support it, and
    /// exit 3 when it says the file is not there.
    pub async fn size(&mut self, file: &str) -> Result<Option<u64>, FtpError> {
        let step = self.session.ask_size(file);
        self.exchange(step).await?;
        Ok(self.session.size())
    }

    /// MDTM, for `--remote-time`; any failure but 421 just means "unknown".
    pub async fn modified(&mut self, file: &str) -> Result<Option<SystemTime>, FtpError> {
        let step = self.session.ask_modified(file);
        self.exchange(step).await?;
        Ok(self.session.modified())
    }

    /// Opens a data connection, sends REST (when `offset > 0`) and RETR,
    /// and returns the transfer once the server started it.
    pub async fn retrieve(
        &mut self,
        file: &str,
        offset: u64,
        mode: DataConnection,
    ) -> Result<Transfer, FtpError> {
        let (mode, mut pending) = match mode {
            DataConnection::Passive => (DataMode::Passive, None),
            DataConnection::Active if self.data_connector.is_some() => {
                return Err(FtpError::Misuse(
                    "active mode (--ftp-pasv=false) cannot work through a proxy tunnel",
                ))
            }
            DataConnection::Active => {
                let (listener, addr) = self.active_listener()?;
                (DataMode::Active(addr), Some(Pending::Listening(listener)))
            }
        };
        let mut step = self.session.retrieve(file, offset, mode)?;
        loop {
            match self.run(step).await? {
                Step::OpenData(port) => {
                    let data = match self.data_connector.clone() {
                        Some(connect) => connect(port).await?,
                        None => self.connect_data(port).await?,
                    };
                    pending = Some(Pending::Connected(data));
                    step = self.session.data_opened()?;
                }
                Step::Transfer { completed } => {
                    let data = match pending {
                        Some(p) => self.data_stream(p).await?,
                        None => return Err(FtpError::Misuse("RETR without a data connection")),
                    };
                    return Ok(Transfer { data, completed });
                }
                _ => return Err(FtpError::Misuse("RETR ended without a transfer")),
            }
        }
    }

    /// Reads the transfer's final reply after the data connection reached
    /// the end of the file.
    pub async fn finish(&mut self, t: Transfer) -> Result<(), FtpError> {
        let Transfer { data, completed } = t;
        drop(data);
        let step = self.session.finish(completed);
        self.exchange(step).await
    }

    /// Stops a transfer before the end of the file: closes the data
    /// connection, then ABOR and NOOP with the replies drained (see
    /// [`Session::abort`]). Returns whether the connection is still in step
    /// and fit for the next command; if not, drop it.
    pub async fn abort(&mut self, t: Transfer) -> bool {
        drop(t);
        let step = self.session.abort();
        let drained = future::or(async { self.exchange(step).await.ok() }, async {
            glommio::timer::sleep(ABORT_DRAIN).await;
            None
        })
        .await;
        if drained.is_none() {
            self.session.lose_step();
        }
        self.session.in_step()
    }

    /// Sends QUIT without waiting for the answer: the connection is being
    /// dropped anyway.
    pub async fn quit(mut self) {
        let step = self.session.quit();
        let _ = future::or(async { self.exchange(step).await.ok() }, async {
            glommio::timer::sleep(Duration::from_millis(100)).await;
            None
        })
        .await;
    }

    /// Runs the session from `step` to the end of its operation.
    async fn exchange(&mut self, step: Step) -> Result<(), FtpError> {
        match self.run(step).await? {
            Step::Done => Ok(()),
            _ => Err(FtpError::Misuse("operation wants a data connection")),
        }
    }

    /// Writes commands and feeds replies until the session is done or needs
    /// a data connection.
    async fn run(&mut self, mut step: Step) -> Result<Step, FtpError> {
        loop {
            step = match step {
                Step::Send(cmd) => {
                    self.send(cmd).await?;
                    self.reply().await?
                }
                Step::Write(cmd) => {
                    self.send(cmd).await?;
                    self.session.written()?
                }
                Step::AwaitReply => self.reply().await?,
                other => return Ok(other),
            }
        }
    }

    async fn reply(&mut self) -> Result<Step, FtpError> {
        let r = self.read_reply().await;
        if r.is_err() {
            self.session.lose_step();
        }
        let r = r?;
        tracing::info!("Response received:\n{}", reply_text(&r));
        self.session.on_reply(&r)
    }

    async fn connect_data(&mut self, port: u16) -> Result<TcpStream, FtpError> {
        let addr = SocketAddr::new(self.peer.ip(), port);
        arietta_net::connect(&[addr], self.timeouts.connect)
            .await
            .map_err(|e| FtpError::Connect {
                what: "data",
                code: e.aria2_exit_code(),
                message: e.to_string(),
            })
    }

    /// A listener for the server's data connection, at the control
    /// connection's local address.
    ///
    /// Bound through std, not glommio's `TcpListener::bind`: that one sets
    /// `SO_REUSEPORT`, and with it the kernel may give the same ephemeral
    /// port to another process's listener (another arietta's data
    /// listener, say) and hand the server's connection to that one, which
    /// leaves this transfer waiting for a connection that went elsewhere.
    fn active_listener(&mut self) -> Result<(TcpListener, SocketAddr), FtpError> {
        use std::os::fd::{FromRawFd, IntoRawFd};
        let std_listener = std::net::TcpListener::bind(SocketAddr::new(self.local.ip(), 0))
            .map_err(|e| FtpError::Io {
                what: "data",
                message: format!("cannot listen for the data connection: {e}"),
            })?;
        let addr = std_listener.local_addr().map_err(|e| FtpError::Io {
            what: "data",
            message: e.to_string(),
        })?;
        // SAFETY: the fd is a bound, listening TCP socket whose ownership
        // moves into the glommio listener (into_raw_fd gives it up), on
        // this executor's thread.
        let listener = unsafe { TcpListener::from_raw_fd(std_listener.into_raw_fd()) };
        Ok((listener, addr))
    }

    /// The data connection of a started transfer: the passive one, or the
    /// server's connection to our listener (from the server, nobody else).
    async fn data_stream(&mut self, pending: Pending) -> Result<TcpStream, FtpError> {
        let l = match pending {
            Pending::Connected(s) => return Ok(s),
            Pending::Listening(l) => l,
        };
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
        Ok(s)
    }

    async fn send(&mut self, cmd: Command) -> Result<(), FtpError> {
        let bytes = cmd.encode()?;
        // aria2's words; it stars out the user name as well as the password.
        match &cmd {
            Command::Pass(_) => tracing::info!("Requesting:\nPASS ********\r\n"),
            Command::User(_) => tracing::info!("Requesting:\nUSER ********\r\n"),
            _ => tracing::info!("Requesting:\n{}", String::from_utf8_lossy(&bytes)),
        }
        let timeout = self.timeouts.io;
        let ctrl = &mut self.ctrl;
        let r = with_timeout(timeout, async {
            ctrl.write_all(&bytes).await?;
            ctrl.flush().await
        })
        .await;
        if r.is_err() {
            self.session.lose_step();
        }
        r
    }

    async fn read_reply(&mut self) -> Result<Reply, FtpError> {
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

/// IPv4-mapped IPv6 addresses compare equal to their IPv4 form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
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

/// A reply as the server wrote it (aria2 logs the raw text).
fn reply_text(r: &Reply) -> String {
    let mut s = String::new();
    let last = r.lines.len().saturating_sub(1);
    for (i, line) in r.lines.iter().enumerate() {
        if i == 0 {
            let sep = if last == 0 { ' ' } else { '-' };
            s.push_str(&format!("{}{sep}{line}\r\n", r.code));
        } else if i == last {
            s.push_str(&format!("{} {line}\r\n", r.code));
        } else {
            s.push_str(line);
            s.push_str("\r\n");
        }
    }
    if r.lines.is_empty() {
        s.push_str(&format!("{}\r\n", r.code));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_compare_equal() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(canonical(mapped), v4);
        assert_eq!(canonical(v4), v4);
    }
}
