//! One SFTP connection of a download, run as a task on one core.
//!
//! The SSH session itself lives on its own thread (see `arietta-sftp`);
//! this task speaks the coordinator's protocol exactly as `http_fetch`
//! does: the probe connects, logs in and stats the file (SFTP always reads
//! at any offset, so the download is ranged), then every connection loops
//! asking for a segment and reading it in large chunks, each written at its
//! offset and reported only once the write completed.

use std::rc::Rc;

use arietta_sftp::{
    default_key_files, read_size, remote_path, Credentials, HostKeyCheck, ReadPace, SessionConfig,
    SftpConnection, SftpError, Socks5Via,
};
use arietta_storage::{ChunkBuf, FileWriter};
use percent_encoding::percent_decode_str;
use url::Url;

use crate::error::FetchError;
use crate::messages::{ConnTask, ProbeInfo};
use crate::segment_driver::{self, Chunk, SegmentSource, StreamEnd, FLUSH_AFTER};
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
}

pub async fn run_connection(ctx: Rc<CoreContext>, task: ConnTask) {
    segment_driver::run(SftpFetch {
        ctx,
        task,
        session: None,
        path: String::new(),
    })
    .await;
}

impl SftpFetch {
    fn session(&self) -> &SftpConnection {
        self.session.as_ref().expect("connected before use")
    }
}

impl SegmentSource for SftpFetch {
    fn task(&self) -> &ConnTask {
        &self.task
    }

    fn ctx(&self) -> &CoreContext {
        &self.ctx
    }

    fn chunk_size(&self, at: u64, end: u64) -> u64 {
        read_size(end.saturating_sub(at), READ_CHUNK, MIN_READ)
    }

    async fn open_session(&mut self) -> Result<(), FetchError> {
        let url = Url::parse(&self.task.url)
            .map_err(|_| FetchError::UnsupportedUri(self.task.url.clone()))?;
        let cfg = session_config(&url, &self.task)?;
        self.path = remote_path(&percent_decode_str(url.path()).decode_utf8_lossy());
        self.session = Some(SftpConnection::connect(cfg).await?);
        Ok(())
    }

    async fn probe(&mut self) -> Result<ProbeInfo, FetchError> {
        let st = self.session().stat(&self.path).await?;
        Ok(ProbeInfo {
            final_url: self.task.url.clone(),
            total: Some(st.size),
            ranges: true,
            disposition_name: None,
            last_modified: st.mtime,
            validator: None,
            not_modified: false,
            mirrors: Vec::new(),
            digest: None,
            follow: None,
        })
    }

    /// SFTP reads at any offset: there is no stream to stand anywhere.
    async fn open(&mut self, _: u64, _: u64, _: Option<u64>, _: bool) -> Result<(), FetchError> {
        Ok(())
    }

    async fn read(&mut self, _: &FileWriter, pos: u64, want: usize) -> Chunk {
        let pace = ReadPace {
            received: self.task.received.clone(),
            flush_after: FLUSH_AFTER,
        };
        let (buf, eof, error) = match self.session().read_at(&self.path, pos, want, pace).await {
            Ok((buf, eof)) => (buf, eof, None),
            Err(e) => (Vec::new(), false, Some(e.into())),
        };
        let got = buf.len();
        // The file ended before the segment did: it shrank.
        let error = error.or_else(|| {
            (eof && got < want).then(|| {
                SftpError::UnexpectedEof {
                    at: pos + got as u64,
                }
                .into()
            })
        });
        Chunk {
            len: got,
            buf: ChunkBuf::Heap(buf),
            finished: false,
            error,
        }
    }

    async fn ended(&mut self, _: u64, _: u64) -> Result<StreamEnd, FetchError> {
        Ok(StreamEnd::Complete)
    }

    async fn close(&mut self) {
        // Dropping the session ends its thread, which logs out.
        self.session = None;
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
            .netrc_for(cfg)
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
        // `--all-proxy` when it is a SOCKS5 one (an HTTP proxy cannot
        // carry SSH here; aria2 never proxies SFTP at all).
        socks5: cfg
            .proxies
            .proxy_for(url)
            .filter(|p| p.is_socks())
            .map(|p| {
                let p = arietta_http_client::socks5_proxy(p);
                Socks5Via {
                    host: p.host,
                    port: p.port,
                    remote_dns: p.remote_dns,
                    credentials: p.credentials,
                }
            }),
    })
}
