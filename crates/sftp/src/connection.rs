//! [`SftpConnection`]: an [`SftpSession`] on its own thread, driven by
//! async calls from a glommio core.

use std::sync::mpsc;

use arietta_runtime::{mailbox, MailboxSender};

use crate::error::SftpError;
use crate::session::{ReadPace, RemoteStat, SessionConfig, SftpSession};

enum Command {
    Stat {
        path: String,
        reply: MailboxSender<Result<RemoteStat, SftpError>>,
    },
    Read {
        path: String,
        pos: u64,
        buf: Vec<u8>,
        pace: ReadPace,
        reply: MailboxSender<Result<(Vec<u8>, bool), SftpError>>,
    },
}

/// A logged-in SFTP session owned by a dedicated thread. Its methods send
/// one command and await the answer, so the calling executor never
/// blocks; dropping it ends the thread (which says goodbye to the server).
pub struct SftpConnection {
    commands: mpsc::Sender<Command>,
}

impl SftpConnection {
    /// Starts the thread and connects there (see [`SftpSession::connect`]).
    pub async fn connect(cfg: SessionConfig) -> Result<SftpConnection, SftpError> {
        let (ready_tx, ready_rx) = mailbox();
        let (commands, inbox) = mpsc::channel();
        std::thread::Builder::new()
            .name("arietta-sftp".into())
            .spawn(move || {
                let session = match SftpSession::connect(&cfg) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                serve(session, inbox);
            })
            .map_err(|_| SftpError::ThreadGone)?;
        ready_rx
            .recv()
            .await
            .unwrap_or(Err(SftpError::ThreadGone))?;
        Ok(SftpConnection { commands })
    }

    /// Size and modification time of the remote file at `path`.
    pub async fn stat(&self, path: &str) -> Result<RemoteStat, SftpError> {
        let (reply, rx) = mailbox();
        self.commands
            .send(Command::Stat {
                path: path.to_owned(),
                reply,
            })
            .map_err(|_| SftpError::ThreadGone)?;
        rx.recv().await.unwrap_or(Err(SftpError::ThreadGone))
    }

    /// Reads up to `len` bytes of `path` from `pos` into a fresh buffer,
    /// paced by `pace` ([`SftpSession::read_at`]); `true` with it when the
    /// file ended there.
    pub async fn read_at(
        &self,
        path: &str,
        pos: u64,
        len: usize,
        pace: ReadPace,
    ) -> Result<(Vec<u8>, bool), SftpError> {
        let (reply, rx) = mailbox();
        self.commands
            .send(Command::Read {
                path: path.to_owned(),
                pos,
                buf: vec![0; len],
                pace,
                reply,
            })
            .map_err(|_| SftpError::ThreadGone)?;
        rx.recv().await.unwrap_or(Err(SftpError::ThreadGone))
    }
}

fn serve(mut session: SftpSession, inbox: mpsc::Receiver<Command>) {
    while let Ok(cmd) = inbox.recv() {
        match cmd {
            Command::Stat { path, reply } => {
                let _ = reply.send(session.stat(&path));
            }
            Command::Read {
                path,
                pos,
                mut buf,
                pace,
                reply,
            } => {
                let r = session.read_at(&path, pos, &mut buf, &pace).map(|end| {
                    buf.truncate(end.len);
                    (buf, end.eof)
                });
                let _ = reply.send(r);
            }
        }
    }
    session.close();
}
