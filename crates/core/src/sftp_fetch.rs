//! One SFTP connection of a download, run as a task on one core.
//!
//! The SSH session itself lives on its own thread (see `arietta-sftp`);
//! this task speaks the coordinator's protocol exactly as `http_fetch`
//! does: the probe connects, logs in and stats the file (SFTP always reads
//! at any offset, so the download is ranged), then every connection loops
//! asking for a segment and reading it in large chunks, each written at its
//! offset and reported only once the write completed.

use std::rc::Rc;
use std::sync::atomic::Ordering;

use arietta_sftp::{
    default_key_files, read_size, remote_path, Credentials, HostKeyCheck, SessionConfig,
    SftpConnection, SftpError,
};
use arietta_storage::ChunkBuf;
use percent_encoding::percent_decode_str;
use url::Url;

use crate::conn_link::{self, TargetWriter};
use crate::error::FetchError;
use crate::messages::{ConnTask, ProbeDecision, ProbeInfo, ToCoordinator, Work};
use crate::segment_map::{Claim, SegId};
use crate::worker::CoreContext;

/// Bytes per read: libssh2 keeps many SFTP read requests in flight for a
/// large buffer, so a big chunk is what makes one connection fast; 1 MiB
/// also keeps the per-chunk messages (thread hop, `Written`) rare.
const READ_CHUNK: u64 = 1 << 20;
/// The smallest read near a segment's end: libssh2's own request size.
const MIN_READ: u64 = 30_000;

struct SftpFetch {
    ctx: Rc<CoreContext>,
    task: ConnTask,
    session: Option<SftpConnection>,
    path: String,
    seg: Option<SegId>,
    out: TargetWriter,
}

pub async fn run_connection(ctx: Rc<CoreContext>, task: ConnTask) {
    let to_coord = task.to_coord.clone();
    let (gid, conn) = (task.gid, task.conn);
    let mut f = SftpFetch {
        ctx,
        task,
        session: None,
        path: String::new(),
        seg: None,
        out: TargetWriter::default(),
    };
    let result = f.drive().await;
    // Dropping the session ends its thread, which logs out.
    f.session = None;
    let _ = to_coord.send(ToCoordinator::ConnEnded {
        gid,
        conn,
        seg: f.seg.take(),
        result,
    });
}

impl SftpFetch {
    async fn drive(&mut self) -> Result<(), FetchError> {
        let url = Url::parse(&self.task.url)
            .map_err(|_| FetchError::UnsupportedUri(self.task.url.clone()))?;
        let cfg = session_config(&url, &self.task)?;
        self.path = remote_path(&percent_decode_str(url.path()).decode_utf8_lossy());
        self.session = Some(SftpConnection::connect(cfg).await?);
        if self.task.probe {
            match self.probe().await? {
                ProbeDecision::Stream { claim, target } => {
                    self.out.set(target);
                    self.seg = Some(claim.id);
                    self.fetch_segment(&claim).await?;
                }
                ProbeDecision::AskForWork { target } => self.out.set(target),
                ProbeDecision::Stop => return Ok(()),
            }
        }
        loop {
            let Some(work) = self.need_work().await else {
                return Ok(());
            };
            self.out.set(work.target);
            self.seg = Some(work.claim.id);
            self.fetch_segment(&work.claim).await?;
        }
    }

    fn session(&self) -> &SftpConnection {
        self.session.as_ref().expect("connected before use")
    }

    async fn probe(&mut self) -> Result<ProbeDecision, FetchError> {
        let st = self.session().stat(&self.path).await?;
        let info = ProbeInfo {
            final_url: self.task.url.clone(),
            total: Some(st.size),
            ranges: true,
            disposition_name: None,
            last_modified: st.mtime,
            validator: None,
            not_modified: false,
            mirrors: Vec::new(),
            digest: None,
            metalink: None,
        };
        Ok(conn_link::report_probe(&self.task, info).await)
    }

    async fn need_work(&mut self) -> Option<Work> {
        let at = None;
        conn_link::ask_for_work(&self.task, self.seg.take(), at).await
    }

    /// Reads the segment until its end (which moves down when the
    /// coordinator splits it), reporting each chunk once it is on disk.
    async fn fetch_segment(&mut self, claim: &Claim) -> Result<(), FetchError> {
        let writer = self.out.get(&self.ctx, &self.task).await?;
        loop {
            if self.task.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let (at, end) = claim.cursor.get();
            let size = read_size(end.saturating_sub(at), READ_CHUNK, MIN_READ);
            let (pos, mut want) = claim.cursor.next_read(size);
            if want == 0 {
                return Ok(());
            }
            want = conn_link::throttle(&self.task, want).await;
            let buf = self
                .session()
                .read_at(&self.path, pos, want as usize)
                .await?;
            let got = buf.len() as u64;
            let keep = claim.cursor.advance(pos, got);
            if keep > 0 {
                conn_link::write_and_report(
                    &self.task,
                    &writer,
                    ChunkBuf::Heap(buf),
                    keep as usize,
                    pos,
                )
                .await?;
            }
            if got < want {
                // The file ended before the segment did: it shrank.
                return Err(SftpError::UnexpectedEof { at: pos + got }.into());
            }
        }
    }
}

/// Where to connect and as whom, following aria2's rules for SFTP
/// credentials: the URL's user and password; for a URL user without a
/// password, the `.netrc` entry of that host and user, else
/// `--ftp-passwd`; without a URL user, the host's `.netrc` entry, else
/// `--ftp-user`/`--ftp-passwd`. Where aria2 would then log in as
/// `anonymous`, arietta logs in as the local user with the SSH agent or
/// the default keys of `HOME/.ssh`, as `sftp` would.
fn session_config(url: &Url, task: &ConnTask) -> Result<SessionConfig, FetchError> {
    let cfg = &task.cfg;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| FetchError::UnsupportedUri(task.url.clone()))?
        .to_owned();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let netrc = |host: &str| {
        task.net
            .netrc
            .as_ref()
            .and_then(|n| n.lookup(host))
            .map(|(u, p)| (u.to_owned(), p.to_owned()))
    };
    let (user, password) = if !url.username().is_empty() {
        let user = decode(url.username());
        let password = match url.password() {
            Some(p) => Some(decode(p)),
            None => netrc(&host)
                .filter(|(u, _)| *u == user)
                .map(|(_, p)| p)
                .or_else(|| cfg.ftp_passwd.clone()),
        };
        (user, password)
    } else if let Some((u, p)) = netrc(&host) {
        (u, Some(p))
    } else if let Some(u) = &cfg.ftp_user {
        (u.clone(), cfg.ftp_passwd.clone())
    } else {
        let local = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "root".to_owned());
        (local, None)
    };
    let host_key = cfg
        .ssh_host_key_md
        .as_deref()
        .map(HostKeyCheck::parse)
        .transpose()?;
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    Ok(SessionConfig {
        host,
        port: url.port().unwrap_or(22),
        connect_timeout: cfg.connect_timeout,
        timeout: cfg.timeout,
        host_key,
        credentials: Credentials {
            user,
            password: password.filter(|p| !p.is_empty()),
            key_files: default_key_files(home.as_deref()),
            use_agent: std::env::var_os("SSH_AUTH_SOCK").is_some(),
        },
        ipv4_only: cfg.disable_ipv6,
    })
}
