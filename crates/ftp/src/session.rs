//! The FTP command sequence of one control connection, as a pure state
//! machine: the one place that knows which command follows which reply.
//!
//! A [`Session`] performs no I/O. The driver ([`FtpClient`] on glommio, or a
//! test, or the fuzzer) starts an operation (login, TYPE, CWD, SIZE, MDTM, a
//! retrieval, its end or its abort) and gets a [`Step`] back; it writes the
//! commands the steps name, feeds every reply to [`Session::on_reply`], opens
//! the data connection when told, and goes on until [`Step::Done`] or
//! [`Step::Transfer`]. Between operations the session remembers what the
//! connection has already set up (login directory, current directory,
//! transfer type, refused extensions), so a connection reused for the next
//! segment or the next file sends only the commands that change something.
//!
//! [`FtpClient`]: crate::FtpClient

use std::net::{SocketAddr, SocketAddrV4};
use std::time::SystemTime;

use crate::commands::{Command, TransferType};
use crate::directory::parse_pwd;
use crate::error::FtpError;
use crate::file_facts::{parse_mdtm, parse_size};
use crate::passive::{parse_epsv, parse_pasv};
use crate::reply::Reply;

/// An abort produces at most a few replies (426, 225/226, the NOOP's 200);
/// more than this means the server is not following along.
const ABORT_MAX_REPLIES: usize = 8;

/// How the data connection of a retrieval is set up (`--ftp-pasv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// We connect to the server (EPSV, then PASV if EPSV is refused).
    Passive,
    /// The server connects to our listener at this address (EPRT, then PORT
    /// for IPv4 if EPRT is refused).
    Active(SocketAddr),
}

/// Splits a URI path into directories and file name, skipping empty
/// components (`//` and a leading `/`).
pub fn split_path(path: &str) -> (Vec<String>, String) {
    let mut parts: Vec<String> = path
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let file = parts.pop().unwrap_or_default();
    (parts, file)
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write this command, then feed the next reply.
    Send(Command),
    /// Write this command and call [`Session::written`] without waiting for
    /// a reply (ABOR goes out right before NOOP; QUIT's answer is not
    /// awaited).
    Write(Command),
    /// Nothing to send; feed the next reply (after a 1yz preliminary).
    AwaitReply,
    /// Open the passive data connection to this port of the control
    /// connection's host, then call [`Session::data_opened`]. The address
    /// PASV advertises is ignored, as curl does: servers behind NAT
    /// advertise their inside address, and a hostile one could point us
    /// anywhere.
    OpenData(u16),
    /// RETR was accepted: read the data connection (accepting it from the
    /// listener first in active mode), then end it with [`Session::finish`]
    /// or [`Session::abort`]. `completed`: the server already sent the
    /// transfer's final reply (some answer an empty file with 226 at once).
    Transfer { completed: bool },
    /// The operation is over; its answer, if any, is in [`Session::size`]
    /// or [`Session::modified`].
    Done,
}

/// Where the connection stands in the operation under way.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Idle,
    Greeting,
    User {
        password: String,
    },
    Pass,
    Pwd,
    Type(TransferType),
    Cwd {
        steps: Vec<String>,
        target: Vec<String>,
    },
    Size,
    Mdtm,
    Epsv,
    Pasv,
    DataPending,
    Eprt(SocketAddr),
    Port,
    Rest,
    Retr,
    Finish,
    AbortSent,
    Drain {
        replies: usize,
    },
    Quit,
}

/// One control connection's dialogue. See the module docs.
#[derive(Debug, Clone)]
pub struct Session {
    op: Op,
    /// The file and offset of the retrieval under way.
    file: String,
    offset: u64,
    /// The control connection runs over IPv6, so PASV (IPv4 only) is no
    /// fallback for a refused EPSV.
    control_is_ipv6: bool,
    /// The directory the login landed in (PWD), which URI paths are
    /// relative to; `None` when the server would not say.
    home: Option<String>,
    /// Path components (relative to `home`) we are in now; `None` when
    /// unknown (before login, after a failed CWD).
    cwd: Option<Vec<String>>,
    transfer_type: Option<TransferType>,
    /// EPSV (EPRT) was refused once; later transfers go to PASV (PORT)
    /// directly instead of paying a round trip each time.
    epsv_refused: bool,
    eprt_refused: bool,
    /// False once the reply stream can no longer be trusted to be in step
    /// with our commands; such a connection is never reused.
    in_step: bool,
    size: Option<u64>,
    modified: Option<SystemTime>,
}

impl Session {
    /// A session on a fresh control connection, waiting for the greeting:
    /// feed the first reply.
    pub fn new(control_is_ipv6: bool) -> Self {
        Session {
            op: Op::Greeting,
            file: String::new(),
            offset: 0,
            control_is_ipv6,
            home: None,
            cwd: None,
            transfer_type: None,
            epsv_refused: false,
            eprt_refused: false,
            in_step: true,
            size: None,
            modified: None,
        }
    }

    /// Whether the connection can be kept idle and used again: in step
    /// with its replies and able to find its way back to any directory
    /// (the login directory is known).
    pub fn reusable(&self) -> bool {
        self.in_step && self.home.is_some()
    }

    /// Whether the reply stream is still in step with the commands.
    pub fn in_step(&self) -> bool {
        self.in_step
    }

    /// The driver lost track of the reply stream (an I/O error, a timeout
    /// mid-exchange): the connection is not to be reused.
    pub fn lose_step(&mut self) {
        self.in_step = false;
        self.op = Op::Idle;
    }

    /// The answer of the last SIZE: `None` when the server does not support
    /// it.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The answer of the last MDTM: `None` when refused or unreadable.
    pub fn modified(&self) -> Option<SystemTime> {
        self.modified
    }

    /// USER, then PASS when asked, then PWD to learn the login directory.
    /// 530 (or another 5yz to USER/PASS) is a refused login: exit 24.
    pub fn login(&mut self, user: &str, password: &str) -> Step {
        self.op = Op::User {
            password: password.to_owned(),
        };
        Step::Send(Command::User(user.to_owned()))
    }

    /// `TYPE I` or `TYPE A`, unless already set.
    pub fn set_type(&mut self, t: TransferType) -> Step {
        if self.transfer_type == Some(t) {
            return Step::Done;
        }
        self.op = Op::Type(t);
        Step::Send(Command::Type(t))
    }

    /// Moves to the directory `dirs` (components relative to the login
    /// directory, as in an ftp:// URI). One absolute CWD when the login
    /// directory is known, else one CWD per component from the login
    /// directory. Nothing is sent when already there.
    pub fn change_dir(&mut self, dirs: &[String]) -> Result<Step, FtpError> {
        if self.cwd.as_deref() == Some(dirs) {
            return Ok(Step::Done);
        }
        let mut steps: Vec<String> = match (&self.home, &self.cwd) {
            (Some(home), _) => vec![join_dir(home, dirs)],
            (None, Some(cur)) if cur.is_empty() => dirs.to_vec(),
            (None, _) => return Err(FtpError::Misuse("directory unknown; use a new connection")),
        };
        self.cwd = None;
        steps.reverse();
        self.op = Op::Cwd {
            steps,
            target: dirs.to_vec(),
        };
        Ok(self.next_cwd())
    }

    /// SIZE of `file`: exit 3 when the server says it is not there.
    pub fn ask_size(&mut self, file: &str) -> Step {
        self.size = None;
        self.op = Op::Size;
        Step::Send(Command::Size(file.to_owned()))
    }

    /// MDTM of `file`, for `--remote-time`; any refusal means "unknown".
    pub fn ask_modified(&mut self, file: &str) -> Step {
        self.modified = None;
        self.op = Op::Mdtm;
        Step::Send(Command::Mdtm(file.to_owned()))
    }

    /// Sets up a data connection (EPSV/PASV or EPRT/PORT), then REST (when
    /// `offset > 0`) and RETR of `file`.
    pub fn retrieve(&mut self, file: &str, offset: u64, mode: DataMode) -> Result<Step, FtpError> {
        self.file = file.to_owned();
        self.offset = offset;
        Ok(match mode {
            DataMode::Passive if self.epsv_refused => self.send(Op::Pasv, Command::Pasv),
            DataMode::Passive => self.send(Op::Epsv, Command::Epsv),
            DataMode::Active(addr) if self.eprt_refused => {
                let Some(v4) = ipv4(addr) else {
                    return Err(FtpError::Misuse("PORT needs an IPv4 address"));
                };
                self.send(Op::Port, Command::Port(v4))
            }
            DataMode::Active(addr) => self.send(Op::Eprt(addr), Command::Eprt(addr)),
        })
    }

    /// The passive data connection is open: REST or RETR follows.
    pub fn data_opened(&mut self) -> Result<Step, FtpError> {
        if self.op != Op::DataPending {
            return Err(FtpError::Misuse("data_opened without a passive reply"));
        }
        Ok(self.rest_or_retr())
    }

    /// The data connection reached the end of the file: the transfer's
    /// final reply follows, unless it came already.
    pub fn finish(&mut self, completed: bool) -> Step {
        if completed {
            self.op = Op::Idle;
            return Step::Done;
        }
        self.op = Op::Finish;
        Step::AwaitReply
    }

    /// Stops a transfer before the end of the file (the driver closes the
    /// data connection first): ABOR and NOOP, then replies up to the NOOP's
    /// `200`. Servers differ in how many replies an abort produces (426
    /// then 226, just 226, or 226 for a transfer that had already ended and
    /// 225 for the ABOR); waiting for the NOOP's answer keeps the
    /// connection in step whatever they sent.
    pub fn abort(&mut self) -> Step {
        self.op = Op::AbortSent;
        Step::Write(Command::Abor)
    }

    /// QUIT, without waiting for the answer: the connection is being
    /// dropped anyway.
    pub fn quit(&mut self) -> Step {
        self.op = Op::Quit;
        Step::Write(Command::Quit)
    }

    /// A [`Step::Write`] command went out.
    pub fn written(&mut self) -> Result<Step, FtpError> {
        match self.op {
            Op::AbortSent => Ok(self.send(Op::Drain { replies: 0 }, Command::Noop)),
            Op::Quit => {
                self.op = Op::Idle;
                Ok(Step::Done)
            }
            _ => Err(FtpError::Misuse("written without a command to write")),
        }
    }

    /// Feeds one complete reply; returns what to do next. An error ends
    /// the operation; whether the connection can serve another one is
    /// [`Session::reusable`].
    pub fn on_reply(&mut self, reply: &Reply) -> Result<Step, FtpError> {
        let op = std::mem::replace(&mut self.op, Op::Idle);
        let result = self.advance(op, reply);
        if result.is_err() {
            self.op = Op::Idle;
        }
        result
    }

    fn advance(&mut self, op: Op, reply: &Reply) -> Result<Step, FtpError> {
        let code = reply.code;
        let waits_for_final = !matches!(op, Op::Retr | Op::Drain { .. });
        if reply.is_preliminary() && waits_for_final {
            // 120 "ready in n minutes", 110 markers: the final reply follows.
            if matches!(op, Op::Idle | Op::DataPending | Op::AbortSent | Op::Quit) {
                return Err(FtpError::Misuse("reply fed when none was expected"));
            }
            self.op = op;
            return Ok(Step::AwaitReply);
        }
        match op {
            Op::Idle | Op::DataPending | Op::AbortSent | Op::Quit => {
                Err(FtpError::Misuse("reply fed when none was expected"))
            }
            Op::Greeting if code == 220 => Ok(Step::Done),
            Op::Greeting => Err(failed("greeting", reply)),
            Op::User { password } => match code {
                230 => Ok(self.send(Op::Pwd, Command::Pwd)),
                331 | 332 => Ok(self.send(Op::Pass, Command::Pass(password))),
                _ => Err(login_error(reply, "USER")),
            },
            Op::Pass => match code {
                230 | 202 => Ok(self.send(Op::Pwd, Command::Pwd)),
                _ => Err(login_error(reply, "PASS")),
            },
            Op::Pwd => {
                if code == 257 {
                    self.home = parse_pwd(reply.first_line()).ok();
                }
                self.cwd = Some(Vec::new());
                Ok(Step::Done)
            }
            Op::Type(t) if reply.is_completion() => {
                self.transfer_type = Some(t);
                Ok(Step::Done)
            }
            Op::Type(_) => Err(failed("TYPE", reply)),
            Op::Cwd { steps, target } => match code {
                _ if reply.is_completion() => {
                    self.op = Op::Cwd { steps, target };
                    Ok(self.next_cwd())
                }
                550 => Err(not_found("CWD", reply)),
                _ => Err(failed("CWD", reply)),
            },
            Op::Size => match code {
                213 => {
                    self.size = Some(parse_size(reply.first_line())?);
                    Ok(Step::Done)
                }
                550 => Err(not_found("SIZE", reply)),
                421 => Err(failed("SIZE", reply)),
                // 500/502: SIZE unsupported; the size stays unknown.
                _ => Ok(Step::Done),
            },
            Op::Mdtm => match code {
                421 => Err(failed("MDTM", reply)),
                213 => {
                    self.modified = parse_mdtm(reply.first_line()).ok();
                    Ok(Step::Done)
                }
                _ => Ok(Step::Done),
            },
            Op::Epsv => {
                if code == 229 {
                    let port = parse_epsv(reply.first_line())?;
                    self.op = Op::DataPending;
                    return Ok(Step::OpenData(port));
                }
                if code == 421 || self.control_is_ipv6 {
                    return Err(failed("EPSV", reply));
                }
                self.epsv_refused = true;
                Ok(self.send(Op::Pasv, Command::Pasv))
            }
            Op::Pasv if code == 227 => {
                let addr = parse_pasv(reply.first_line())?;
                self.op = Op::DataPending;
                Ok(Step::OpenData(addr.port()))
            }
            Op::Pasv => Err(failed("PASV", reply)),
            Op::Eprt(_) if reply.is_completion() => Ok(self.rest_or_retr()),
            Op::Eprt(addr) => match ipv4(addr) {
                Some(v4) if code != 421 => {
                    self.eprt_refused = true;
                    Ok(self.send(Op::Port, Command::Port(v4)))
                }
                _ => Err(failed("EPRT", reply)),
            },
            Op::Port if reply.is_completion() => Ok(self.rest_or_retr()),
            Op::Port => Err(failed("PORT", reply)),
            Op::Rest if code == 350 => Ok(self.send(Op::Retr, Command::Retr(self.file.clone()))),
            Op::Rest => Err(FtpError::ResumeUnsupported {
                code,
                text: reply.text(),
            }),
            Op::Retr => match code {
                110 => {
                    self.op = Op::Retr;
                    Ok(Step::AwaitReply)
                }
                125 | 150 => Ok(Step::Transfer { completed: false }),
                226 | 250 => Ok(Step::Transfer { completed: true }),
                550 => Err(not_found("RETR", reply)),
                _ => Err(failed("RETR", reply)),
            },
            Op::Finish if reply.is_completion() => Ok(Step::Done),
            Op::Finish => Err(failed("RETR", reply)),
            Op::Drain { .. } if code == 200 => Ok(Step::Done),
            Op::Drain { replies } if replies + 1 < ABORT_MAX_REPLIES => {
                self.op = Op::Drain {
                    replies: replies + 1,
                };
                Ok(Step::AwaitReply)
            }
            Op::Drain { .. } => {
                self.in_step = false;
                Err(failed("NOOP", reply))
            }
        }
    }

    fn send(&mut self, op: Op, cmd: Command) -> Step {
        self.op = op;
        Step::Send(cmd)
    }

    fn next_cwd(&mut self) -> Step {
        let Op::Cwd { steps, target } = &mut self.op else {
            return Step::Done;
        };
        match steps.pop() {
            Some(dir) => Step::Send(Command::Cwd(dir)),
            None => {
                self.cwd = Some(std::mem::take(target));
                self.op = Op::Idle;
                Step::Done
            }
        }
    }

    fn rest_or_retr(&mut self) -> Step {
        if self.offset > 0 {
            self.send(Op::Rest, Command::Rest(self.offset))
        } else {
            self.send(Op::Retr, Command::Retr(self.file.clone()))
        }
    }
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

/// The IPv4 form of an address for PORT (IPv4-mapped IPv6 included).
fn ipv4(addr: SocketAddr) -> Option<SocketAddrV4> {
    match addr {
        SocketAddr::V4(v4) => Some(v4),
        SocketAddr::V6(v6) => v6
            .ip()
            .to_ipv4_mapped()
            .map(|ip| SocketAddrV4::new(ip, v6.port())),
    }
}

fn failed(command: &'static str, r: &Reply) -> FtpError {
    FtpError::CommandFailed {
        command,
        code: r.code,
        text: r.text(),
    }
}

fn not_found(command: &'static str, r: &Reply) -> FtpError {
    FtpError::NotFound {
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

#[cfg(test)]
mod tests;
