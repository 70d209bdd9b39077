//! A pure state machine for one FTP download on one control connection:
//! greeting → USER/PASS → TYPE → CWD… → [MDTM] → SIZE → EPSV (PASV fallback)
//! or EPRT (PORT fallback) → [REST n] → RETR → completion.
//!
//! It performs no I/O: the driver feeds it each parsed [`Reply`] and gets a
//! [`Step`] back, which keeps the protocol logic testable and fuzzable. SIZE
//! goes before the passive command (as in aria2) so that a missing or already
//! complete file is known before the server opens a data listener.

use std::net::{SocketAddr, SocketAddrV4};
use std::time::SystemTime;

use crate::commands::{Command, TransferType};
use crate::error::FtpError;
use crate::file_facts::{parse_mdtm, parse_size};
use crate::passive::{parse_epsv, parse_pasv};
use crate::reply::Reply;

/// How the data connection is set up (`--ftp-pasv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// We connect to the server (EPSV, then PASV if EPSV is refused).
    Passive,
    /// The server connects to our listener at this address (EPRT, then PORT
    /// for IPv4 if EPRT is refused).
    Active(SocketAddr),
}

/// Everything the session needs to know up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// `--ftp-user`; aria2's default is `anonymous`.
    pub user: String,
    /// `--ftp-passwd`; aria2's default is `ARIA2USER@`.
    pub password: String,
    /// Directories to CWD into one by one, relative to the login directory.
    pub dirs: Vec<String>,
    /// The file name to SIZE and RETR inside the last directory.
    pub file: String,
    /// `--ftp-type`.
    pub transfer_type: TransferType,
    /// `--ftp-pasv`.
    pub data_mode: DataMode,
    /// Byte offset to resume or start a segment from; REST is sent when > 0.
    pub offset: u64,
    /// Ask MDTM for `--remote-time`.
    pub want_mtime: bool,
    /// The control connection runs over IPv6, so PASV (IPv4 only) is no
    /// fallback for a refused EPSV.
    pub control_is_ipv6: bool,
}

impl SessionConfig {
    /// A config with aria2's defaults for an already percent-decoded URI
    /// path such as `/pub/dir/file.iso`.
    pub fn anonymous(path: &str) -> Self {
        let (dirs, file) = split_path(path);
        SessionConfig {
            user: "anonymous".into(),
            password: "ARIA2USER@".into(),
            dirs,
            file,
            transfer_type: TransferType::Binary,
            data_mode: DataMode::Passive,
            offset: 0,
            want_mtime: false,
            control_is_ipv6: false,
        }
    }
}

/// Splits a decoded URI path into directories and file name, skipping empty
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

/// Where to open the passive data connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataTarget {
    /// EPSV: this port on the control connection's host.
    ControlHost(u16),
    /// PASV: the advertised address. Drivers commonly substitute the control
    /// host's IP when this one is private and the control host is not.
    Address(SocketAddrV4),
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write this command, then feed the reply.
    Send(Command),
    /// Open the passive data connection, then call [`Session::data_opened`].
    OpenData(DataTarget),
    /// Nothing to send; feed the next reply (after a 1xx preliminary).
    AwaitReply,
    /// RETR was accepted: read the data connection to EOF (accepting it from
    /// the listener first in active mode), and feed the final reply.
    Transfer,
    /// The transfer is complete (or nothing was left to fetch because the
    /// offset equals the SIZE). In passive mode a data connection that is
    /// still open should be read to EOF.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    User,
    Pass,
    Type,
    Cwd(usize),
    Mdtm,
    Size,
    Epsv,
    Pasv,
    DataPending,
    Eprt,
    Port,
    Rest,
    Retr,
    Transferring,
    Done,
    Failed,
}

/// One download's control-connection dialogue. See the module docs.
#[derive(Debug, Clone)]
pub struct Session {
    config: SessionConfig,
    state: State,
    size: Option<u64>,
    modified: Option<SystemTime>,
    /// EPSV was refused once; later transfers on this connection go to PASV
    /// (or PORT) directly instead of paying a round trip each time.
    extended_refused: bool,
}

impl Session {
    /// A session waiting for the server's greeting.
    pub fn new(config: SessionConfig) -> Self {
        Session {
            config,
            state: State::Greeting,
            size: None,
            modified: None,
            extended_refused: false,
        }
    }

    /// The size reported by SIZE, if the server answered it.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The modification time reported by MDTM, if asked and answered.
    pub fn modified(&self) -> Option<SystemTime> {
        self.modified
    }

    /// True once [`Step::Done`] was returned.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds one complete reply; returns what to do next. After an error the
    /// session refuses further input; close the connection.
    pub fn on_reply(&mut self, reply: &Reply) -> Result<Step, FtpError> {
        let result = self.advance(reply);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    /// Called once the passive data connection is open; returns REST or RETR.
    pub fn data_opened(&mut self) -> Result<Step, FtpError> {
        if self.state != State::DataPending {
            return Err(FtpError::Misuse("data_opened without a passive reply"));
        }
        Ok(self.rest_or_retr())
    }

    /// Starts another transfer of the same file from `offset` on this logged-in
    /// connection (`--ftp-reuse-connection`, or the next segment), skipping
    /// login, TYPE, CWD and SIZE. Only valid once the previous transfer is
    /// [`Step::Done`].
    pub fn restart_at(&mut self, offset: u64) -> Result<Step, FtpError> {
        if self.state != State::Done {
            return Err(FtpError::Misuse("restart_at before the transfer finished"));
        }
        self.config.offset = offset;
        Ok(self.start_data())
    }

    fn advance(&mut self, reply: &Reply) -> Result<Step, FtpError> {
        let code = reply.code;
        // 1yz before a final reply (120 "ready in n minutes", 110 markers).
        if reply.is_preliminary() && self.state != State::Retr {
            return match self.state {
                State::Done | State::Failed | State::DataPending => {
                    Err(FtpError::Misuse("reply fed when none was expected"))
                }
                _ => Ok(Step::AwaitReply),
            };
        }
        let fail = |command: &'static str| FtpError::CommandFailed {
            command,
            code,
            text: reply.text(),
        };
        match self.state {
            State::Greeting => {
                if code == 220 {
                    self.state = State::User;
                    Ok(Step::Send(Command::User(self.config.user.clone())))
                } else {
                    Err(fail("greeting"))
                }
            }
            State::User => match code {
                230 => Ok(self.after_login()),
                331 => {
                    self.state = State::Pass;
                    Ok(Step::Send(Command::Pass(self.config.password.clone())))
                }
                530 => Err(self.login_failed(reply)),
                _ => Err(fail("USER")),
            },
            State::Pass => match code {
                230 | 202 => Ok(self.after_login()),
                530 => Err(self.login_failed(reply)),
                _ => Err(fail("PASS")),
            },
            State::Type => {
                if reply.is_completion() {
                    Ok(self.next_cwd(0))
                } else {
                    Err(fail("TYPE"))
                }
            }
            State::Cwd(i) => {
                if reply.is_completion() {
                    Ok(self.next_cwd(i + 1))
                } else if code == 550 {
                    Err(not_found(reply))
                } else {
                    Err(fail("CWD"))
                }
            }
            State::Mdtm => {
                // MDTM is advisory: a refusal or garbage leaves the time unset.
                if code == 213 {
                    self.modified = parse_mdtm(reply.first_line()).ok();
                }
                Ok(self.send_size())
            }
            State::Size => {
                if code == 213 {
                    let size = parse_size(reply.first_line())?;
                    self.size = Some(size);
                    if self.config.offset == size && size > 0 {
                        self.state = State::Done;
                        return Ok(Step::Done);
                    }
                } else if code == 550 {
                    return Err(not_found(reply));
                } else if code == 421 {
                    return Err(fail("SIZE"));
                }
                // Other refusals (500/502: SIZE unsupported) leave the size unknown.
                Ok(self.start_data())
            }
            State::Epsv => {
                if code == 229 {
                    let port = parse_epsv(reply.first_line())?;
                    self.state = State::DataPending;
                    Ok(Step::OpenData(DataTarget::ControlHost(port)))
                } else if reply.is_negative() && code != 421 && !self.config.control_is_ipv6 {
                    self.extended_refused = true;
                    self.state = State::Pasv;
                    Ok(Step::Send(Command::Pasv))
                } else {
                    Err(fail("EPSV"))
                }
            }
            State::Pasv => {
                if code == 227 {
                    let addr = parse_pasv(reply.first_line())?;
                    self.state = State::DataPending;
                    Ok(Step::OpenData(DataTarget::Address(addr)))
                } else {
                    Err(fail("PASV"))
                }
            }
            State::Eprt => {
                if reply.is_completion() {
                    Ok(self.rest_or_retr())
                } else {
                    match self.config.data_mode {
                        DataMode::Active(SocketAddr::V4(v4)) if code != 421 => {
                            self.extended_refused = true;
                            self.state = State::Port;
                            Ok(Step::Send(Command::Port(v4)))
                        }
                        _ => Err(fail("EPRT")),
                    }
                }
            }
            State::Port => {
                if reply.is_completion() {
                    Ok(self.rest_or_retr())
                } else {
                    Err(fail("PORT"))
                }
            }
            State::Rest => {
                if code == 350 {
                    self.state = State::Retr;
                    Ok(Step::Send(Command::Retr(self.config.file.clone())))
                } else {
                    Err(FtpError::ResumeUnsupported {
                        code,
                        text: reply.text(),
                    })
                }
            }
            State::Retr => match code {
                125 | 150 => {
                    self.state = State::Transferring;
                    Ok(Step::Transfer)
                }
                110 => Ok(Step::AwaitReply),
                226 | 250 => {
                    self.state = State::Done;
                    Ok(Step::Done)
                }
                550 => Err(not_found(reply)),
                _ => Err(fail("RETR")),
            },
            State::Transferring => {
                if reply.is_completion() {
                    self.state = State::Done;
                    Ok(Step::Done)
                } else {
                    Err(fail("RETR"))
                }
            }
            State::DataPending => Err(FtpError::Misuse("reply fed while opening data")),
            State::Done | State::Failed => Err(FtpError::Misuse("session already finished")),
        }
    }

    fn login_failed(&self, reply: &Reply) -> FtpError {
        FtpError::LoginFailed {
            code: reply.code,
            text: reply.text(),
        }
    }

    fn after_login(&mut self) -> Step {
        self.state = State::Type;
        Step::Send(Command::Type(self.config.transfer_type))
    }

    fn next_cwd(&mut self, index: usize) -> Step {
        match self.config.dirs.get(index) {
            Some(dir) => {
                self.state = State::Cwd(index);
                Step::Send(Command::Cwd(dir.clone()))
            }
            None if self.config.want_mtime => {
                self.state = State::Mdtm;
                Step::Send(Command::Mdtm(self.config.file.clone()))
            }
            None => self.send_size(),
        }
    }

    fn send_size(&mut self) -> Step {
        self.state = State::Size;
        Step::Send(Command::Size(self.config.file.clone()))
    }

    fn start_data(&mut self) -> Step {
        match self.config.data_mode {
            DataMode::Passive if self.extended_refused => {
                self.state = State::Pasv;
                Step::Send(Command::Pasv)
            }
            DataMode::Passive => {
                self.state = State::Epsv;
                Step::Send(Command::Epsv)
            }
            DataMode::Active(SocketAddr::V4(v4)) if self.extended_refused => {
                self.state = State::Port;
                Step::Send(Command::Port(v4))
            }
            DataMode::Active(addr) => {
                self.state = State::Eprt;
                Step::Send(Command::Eprt(addr))
            }
        }
    }

    fn rest_or_retr(&mut self) -> Step {
        if self.config.offset > 0 {
            self.state = State::Rest;
            Step::Send(Command::Rest(self.config.offset))
        } else {
            self.state = State::Retr;
            Step::Send(Command::Retr(self.config.file.clone()))
        }
    }
}

fn not_found(reply: &Reply) -> FtpError {
    FtpError::NotFound {
        code: reply.code,
        text: reply.text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn r(code: u16, text: &str) -> Reply {
        Reply::new(code, text)
    }

    fn send(step: Result<Step, FtpError>) -> Command {
        match step.unwrap() {
            Step::Send(c) => c,
            other => panic!("expected Send, got {other:?}"),
        }
    }

    #[test]
    fn full_passive_resume_flow() {
        let mut cfg = SessionConfig::anonymous("/pub/linux/file.iso");
        cfg.offset = 100;
        cfg.want_mtime = true;
        let mut s = Session::new(cfg);
        assert_eq!(s.on_reply(&r(120, "soon")).unwrap(), Step::AwaitReply);
        assert_eq!(
            send(s.on_reply(&r(220, "hi"))),
            Command::User("anonymous".into())
        );
        assert_eq!(
            send(s.on_reply(&r(331, "pw"))),
            Command::Pass("ARIA2USER@".into())
        );
        assert_eq!(
            send(s.on_reply(&r(230, "ok"))),
            Command::Type(TransferType::Binary)
        );
        assert_eq!(send(s.on_reply(&r(200, "ok"))), Command::Cwd("pub".into()));
        assert_eq!(
            send(s.on_reply(&r(250, "ok"))),
            Command::Cwd("linux".into())
        );
        assert_eq!(
            send(s.on_reply(&r(250, "ok"))),
            Command::Mdtm("file.iso".into())
        );
        assert_eq!(
            send(s.on_reply(&r(213, "20231114221320"))),
            Command::Size("file.iso".into())
        );
        assert!(s.modified().is_some());
        assert_eq!(send(s.on_reply(&r(213, "1000"))), Command::Epsv);
        assert_eq!(s.size(), Some(1000));
        assert_eq!(send(s.on_reply(&r(502, "no epsv"))), Command::Pasv);
        let step = s
            .on_reply(&r(227, "Entering Passive Mode (127,0,0,1,4,1)"))
            .unwrap();
        assert_eq!(
            step,
            Step::OpenData(DataTarget::Address(SocketAddrV4::new(
                Ipv4Addr::LOCALHOST,
                1025
            )))
        );
        assert!(s.on_reply(&r(200, "?")).is_err());
    }

    #[test]
    fn rest_retr_and_completion() {
        let mut cfg = SessionConfig::anonymous("f");
        cfg.offset = 5;
        let mut s = Session::new(cfg);
        s.on_reply(&r(220, "")).unwrap();
        s.on_reply(&r(230, "no password needed")).unwrap();
        assert_eq!(send(s.on_reply(&r(200, ""))), Command::Size("f".into()));
        assert_eq!(send(s.on_reply(&r(502, "no SIZE"))), Command::Epsv);
        assert_eq!(s.size(), None);
        assert_eq!(
            s.on_reply(&r(229, "(|||6000|)")).unwrap(),
            Step::OpenData(DataTarget::ControlHost(6000))
        );
        assert_eq!(send(s.data_opened()), Command::Rest(5));
        assert_eq!(send(s.on_reply(&r(350, ""))), Command::Retr("f".into()));
        assert_eq!(s.on_reply(&r(150, "opening")).unwrap(), Step::Transfer);
        assert_eq!(s.on_reply(&r(226, "done")).unwrap(), Step::Done);
        assert!(s.is_done());
        assert!(matches!(s.on_reply(&r(226, "")), Err(FtpError::Misuse(_))));
    }

    #[test]
    fn already_complete_skips_transfer() {
        let mut cfg = SessionConfig::anonymous("f");
        cfg.offset = 10;
        let mut s = Session::new(cfg);
        s.on_reply(&r(220, "")).unwrap();
        s.on_reply(&r(230, "")).unwrap();
        s.on_reply(&r(200, "")).unwrap();
        assert_eq!(s.on_reply(&r(213, "10")).unwrap(), Step::Done);
    }

    #[test]
    fn active_mode_falls_back_to_port() {
        let mut cfg = SessionConfig::anonymous("f");
        let local = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 2000);
        cfg.data_mode = DataMode::Active(local.into());
        let mut s = Session::new(cfg);
        s.on_reply(&r(220, "")).unwrap();
        s.on_reply(&r(230, "")).unwrap();
        s.on_reply(&r(200, "")).unwrap();
        assert_eq!(send(s.on_reply(&r(213, "3"))), Command::Eprt(local.into()));
        assert_eq!(send(s.on_reply(&r(500, "?"))), Command::Port(local));
        assert_eq!(send(s.on_reply(&r(200, ""))), Command::Retr("f".into()));
        assert_eq!(s.on_reply(&r(125, "")).unwrap(), Step::Transfer);
        assert_eq!(s.on_reply(&r(226, "")).unwrap(), Step::Done);
    }

    #[test]
    fn ipv6_has_no_pasv_fallback() {
        let mut cfg = SessionConfig::anonymous("f");
        cfg.control_is_ipv6 = true;
        let mut s = Session::new(cfg);
        s.on_reply(&r(220, "")).unwrap();
        s.on_reply(&r(230, "")).unwrap();
        s.on_reply(&r(200, "")).unwrap();
        s.on_reply(&r(213, "3")).unwrap();
        let err = s.on_reply(&r(502, "")).unwrap_err();
        assert_eq!(err.aria2_exit_code(), 21);

        let mut cfg = SessionConfig::anonymous("f");
        cfg.data_mode = DataMode::Active(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 1));
        let mut s = Session::new(cfg);
        for reply in [r(220, ""), r(230, ""), r(200, ""), r(213, "3")] {
            s.on_reply(&reply).unwrap();
        }
        assert!(s.on_reply(&r(500, "")).is_err());
    }

    #[test]
    fn error_mapping() {
        let login = |code| {
            let mut s = Session::new(SessionConfig::anonymous("f"));
            s.on_reply(&r(220, "")).unwrap();
            s.on_reply(&r(331, "")).unwrap();
            s.on_reply(&r(code, "x")).unwrap_err()
        };
        assert_eq!(login(530).aria2_exit_code(), 24);
        assert_eq!(login(421).aria2_exit_code(), 21);

        let mut s = Session::new(SessionConfig::anonymous("d/f"));
        for reply in [r(220, ""), r(230, ""), r(200, "")] {
            s.on_reply(&reply).unwrap();
        }
        assert_eq!(
            s.on_reply(&r(550, "no dir")).unwrap_err().aria2_exit_code(),
            3
        );
        assert!(matches!(s.on_reply(&r(250, "")), Err(FtpError::Misuse(_))));

        let mut s = Session::new(SessionConfig::anonymous("f"));
        for reply in [r(220, ""), r(230, ""), r(200, "")] {
            s.on_reply(&reply).unwrap();
        }
        assert_eq!(
            s.on_reply(&r(550, "missing"))
                .unwrap_err()
                .aria2_exit_code(),
            3
        );

        let mut cfg = SessionConfig::anonymous("f");
        cfg.offset = 1;
        let mut s = Session::new(cfg);
        for reply in [
            r(220, ""),
            r(230, ""),
            r(200, ""),
            r(213, "9"),
            r(229, "(|||9|)"),
        ] {
            s.on_reply(&reply).unwrap();
        }
        s.data_opened().unwrap();
        assert_eq!(
            s.on_reply(&r(502, "no REST"))
                .unwrap_err()
                .aria2_exit_code(),
            8
        );

        let mut s = Session::new(SessionConfig::anonymous("f"));
        for reply in [
            r(220, ""),
            r(230, ""),
            r(200, ""),
            r(213, "9"),
            r(229, "(|||9|)"),
        ] {
            s.on_reply(&reply).unwrap();
        }
        s.data_opened().unwrap();
        s.on_reply(&r(150, "")).unwrap();
        assert_eq!(
            s.on_reply(&r(426, "aborted"))
                .unwrap_err()
                .aria2_exit_code(),
            21
        );

        let mut s = Session::new(SessionConfig::anonymous("f"));
        assert_eq!(
            s.on_reply(&r(421, "busy")).unwrap_err().aria2_exit_code(),
            21
        );
        assert!(Session::new(SessionConfig::anonymous("f"))
            .data_opened()
            .is_err());
    }

    #[test]
    fn garbage_in_passive_replies_is_an_error() {
        let mut s = Session::new(SessionConfig::anonymous("f"));
        for reply in [r(220, ""), r(230, ""), r(200, ""), r(213, "9")] {
            s.on_reply(&reply).unwrap();
        }
        assert!(matches!(
            s.on_reply(&r(229, "garbage")),
            Err(FtpError::Malformed { .. })
        ));
    }

    #[test]
    fn restart_reuses_login_and_remembers_pasv() {
        let mut s = Session::new(SessionConfig::anonymous("f"));
        assert!(s.restart_at(0).is_err());
        for reply in [r(220, ""), r(230, ""), r(200, ""), r(213, "9"), r(500, "")] {
            s.on_reply(&reply).unwrap();
        }
        s.on_reply(&r(227, "(127,0,0,1,0,21)")).unwrap();
        assert_eq!(send(s.data_opened()), Command::Retr("f".into()));
        s.on_reply(&r(150, "")).unwrap();
        assert_eq!(s.on_reply(&r(226, "")).unwrap(), Step::Done);
        assert_eq!(send(s.restart_at(4)), Command::Pasv);
        s.on_reply(&r(227, "(127,0,0,1,0,22)")).unwrap();
        assert_eq!(send(s.data_opened()), Command::Rest(4));
    }

    #[test]
    fn split_paths() {
        assert_eq!(
            split_path("/a//b/c"),
            (vec!["a".into(), "b".into()], "c".into())
        );
        assert_eq!(split_path("c"), (vec![], "c".into()));
        assert_eq!(split_path(""), (vec![], String::new()));
    }
}
