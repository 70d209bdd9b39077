//! One FTP connection of a download, run as a task on one core: the same
//! conversation with the coordinator as an HTTP connection (probe, then
//! segments), spoken over a control connection and one data connection per
//! RETR.
//!
//! The probe logs in and asks SIZE (and MDTM for `--remote-time`); when the
//! size is known, segments are fetched with REST+RETR. FTP has no end
//! offset, so a transfer simply runs on: when a segment ends where the next
//! free one starts, the same transfer continues into it, and otherwise it
//! is aborted (ABOR, replies drained) and the logged-in control connection
//! serves the next RETR.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use arietta_ftp::{
    DataConnection, DataConnector, FtpClient, FtpError, Timeouts, Transfer, TransferType,
};
use arietta_net::FamilyPref;
use arietta_storage::FileWriter;

use url::{Host, Url};

use crate::config::DownloadConfig;
use crate::conn_link;
use crate::error::FetchError;
use crate::messages::{ConnTask, ProbeInfo};
use crate::segment_driver::{self, Chunk, SegmentSource, StreamEnd, FLUSH_AFTER};
use crate::worker::CoreContext;
/// aria2's anonymous password.
const ANONYMOUS_PASSWORD: &str = "ARIA2USER@";

/// Whether `url` is an ftp:// URI (scheme compared case-insensitively).
pub fn is_ftp(url: &str) -> bool {
    url.get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("ftp://"))
}

/// Whether this connection speaks FTP itself. An ftp:// URI behind an HTTP
/// proxy with `--proxy-method=get` (the default) is an HTTP exchange with
/// the proxy (`GET ftp://host/path`), which the HTTP connection task does.
/// A SOCKS5 proxy only relays bytes, so FTP is spoken through it.
pub fn speaks_ftp(task: &ConnTask) -> bool {
    if !is_ftp(&task.url) {
        return false;
    }
    let http_proxied = Url::parse(&task.url).ok().is_some_and(|u| {
        task.cfg
            .proxies
            .proxy_for(&u)
            .is_some_and(|p| !p.is_socks())
    });
    !http_proxied || task.cfg.proxy_tunnel
}

/// Where the file is and who we log in as, from the URI, `.netrc` and the
/// options.
struct Location {
    host: String,
    port: u16,
    user: String,
    password: String,
    /// Directory components, percent-decoded, relative to the login
    /// directory (RFC 1738).
    dirs: Vec<String>,
    file: String,
    /// Idle control connections are shared only between downloads that
    /// log in to the same server as the same user.
    pool_key: String,
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn locate(
    url: &Url,
    cfg: &DownloadConfig,
    netrc: Option<&arietta_http::Netrc>,
) -> Result<Location, FetchError> {
    let bad = |why: &str| FetchError::UnsupportedUri(format!("{url} ({why})"));
    let host = match url.host() {
        Some(Host::Domain(d)) => d.to_owned(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(bad("no host")),
    };
    let port = url.port().unwrap_or(21);
    let mut parts: Vec<String> = url
        .path()
        .split('/')
        .filter(|p| !p.is_empty())
        .map(decode)
        .collect();
    let file = parts.pop().ok_or_else(|| bad("no file name"))?;
    let from_netrc = || netrc.and_then(|n| n.lookup(&host));
    // aria2's order: credentials in the URI, then .netrc, then
    // --ftp-user/--ftp-passwd, then anonymous.
    let (user, password) = if !url.username().is_empty() {
        let user = decode(url.username());
        let password = match url.password() {
            Some(p) => decode(p),
            None => from_netrc()
                .filter(|(login, _)| *login == user)
                .map(|(_, p)| p.to_owned())
                .or_else(|| cfg.ftp_passwd.clone())
                .unwrap_or_else(|| ANONYMOUS_PASSWORD.into()),
        };
        (user, password)
    } else if let Some((login, p)) = from_netrc() {
        (login.to_owned(), p.to_owned())
    } else {
        (
            cfg.ftp_user.clone().unwrap_or_else(|| "anonymous".into()),
            cfg.ftp_passwd
                .clone()
                .unwrap_or_else(|| ANONYMOUS_PASSWORD.into()),
        )
    };
    let pool_key = format!("ftp://{user}:{password}@{host}:{port}");
    Ok(Location {
        host,
        port,
        user,
        password,
        dirs: parts,
        file,
        pool_key,
    })
}

/// An open RETR and the file offset its next byte belongs to.
struct Open {
    xfer: Transfer,
    at: u64,
}

struct FtpFetch {
    ctx: Rc<CoreContext>,
    task: ConnTask,
    loc: Location,
    /// The proxy (HTTP CONNECT or SOCKS5) that control and data
    /// connections are tunnelled through.
    proxy: Option<arietta_http::Proxy>,
    client: Option<FtpClient>,
    open: Option<Open>,
    total: Option<u64>,
    ranged: bool,
}

pub async fn run_connection(ctx: Rc<CoreContext>, task: ConnTask) {
    let url = match Url::parse(&task.url) {
        Ok(u) => u,
        Err(_) => {
            let err = FetchError::UnsupportedUri(task.url.clone());
            return conn_link::report_end(&task, None, Err(err));
        }
    };
    // Only a SOCKS5 proxy or `--proxy-method=tunnel` gets here with a
    // proxy (see `speaks_ftp`): control and data connections are SOCKS5
    // or CONNECT tunnels.
    let proxy = task.cfg.proxies.proxy_for(&url).cloned();
    let mut loc = match locate(&url, &task.cfg, task.net.netrc_for(&task.cfg)) {
        Ok(l) => l,
        Err(e) => return conn_link::report_end(&task, None, Err(e)),
    };
    if let Some(p) = &proxy {
        loc.pool_key = format!("{} via {}:{}", loc.pool_key, p.host, p.port);
    }
    segment_driver::run(FtpFetch {
        ctx,
        task,
        loc,
        proxy,
        client: None,
        open: None,
        total: None,
        ranged: false,
    })
    .await;
}

impl SegmentSource for FtpFetch {
    fn task(&self) -> &ConnTask {
        &self.task
    }

    fn ctx(&self) -> &CoreContext {
        &self.ctx
    }

    async fn probe(&mut self) -> Result<ProbeInfo, FetchError> {
        FtpFetch::probe(self).await
    }

    async fn start_probe_segment(&mut self, pos: u64) -> Result<(), FetchError> {
        self.start(pos).await
    }

    fn stream_at(&self) -> Option<u64> {
        self.open.as_ref().map(|o| o.at)
    }

    /// FTP has no end offset: a transfer standing at `pos` simply runs on
    /// into the segment; any other is aborted and a new RETR started.
    async fn open(
        &mut self,
        pos: u64,
        _end: u64,
        total: Option<u64>,
        ranged: bool,
    ) -> Result<(), FetchError> {
        self.total = total;
        self.ranged = ranged;
        if self.stream_at() != Some(pos) {
            self.end_transfer().await;
            self.start(pos).await?;
        }
        Ok(())
    }

    async fn read(&mut self, writer: &FileWriter, pos: u64, want: usize) -> Chunk {
        let timeout = self.task.cfg.timeout;
        let mut buf = writer.chunk(want);
        let Some(open) = self.open.as_mut() else {
            let err = FetchError::WrongResponse("no open transfer".into());
            return Chunk::failed(buf, err);
        };
        let flush_at = Instant::now() + FLUSH_AFTER;
        let mut filled = 0usize;
        let mut finished = false;
        let mut error = None;
        while filled < want {
            let dst = &mut buf.as_mut_slice()[filled..want];
            match open.xfer.read(dst, timeout).await {
                Ok(0) => {
                    finished = true;
                    break;
                }
                Ok(n) => {
                    filled += n;
                    self.task.received.fetch_add(n as u64, Ordering::Relaxed);
                    if Instant::now() >= flush_at {
                        break;
                    }
                }
                Err(e) => {
                    error = Some(e.into());
                    break;
                }
            }
        }
        open.at = pos + filled as u64;
        if error.is_some() {
            self.drop_connection();
        }
        Chunk {
            buf,
            len: filled,
            finished,
            error,
        }
    }

    async fn cut(&mut self) {
        self.end_transfer().await;
    }

    async fn ended(&mut self, at: u64, _end: u64) -> Result<StreamEnd, FetchError> {
        let Some(o) = self.open.take() else {
            return Ok(StreamEnd::Complete);
        };
        match self.total {
            None => {
                self.finish(o).await?;
                Ok(StreamEnd::Length(at))
            }
            Some(t) if at == t => {
                self.finish(o).await?;
                Ok(StreamEnd::Complete)
            }
            Some(t) => {
                // The server cut the data connection short; its final
                // reply may never come, so do not wait.
                drop(o);
                self.drop_connection();
                Err(FtpError::Io {
                    what: "data",
                    message: format!("the data connection closed at byte {at} of {t}"),
                }
                .into())
            }
        }
    }

    async fn close(&mut self) {
        if self.task.stop.load(Ordering::Relaxed) {
            // Interrupted or removed: report now rather than spend the
            // grace period on an orderly abort.
            self.drop_connection();
        }
        self.end_transfer().await;
        if let Some(c) = self.client.take() {
            if self.task.cfg.ftp_reuse_connection {
                self.ctx.ftp_pool.put(self.loc.pool_key.clone(), c);
            } else {
                c.quit().await;
            }
        }
    }
}

impl FtpFetch {
    fn timeouts(&self) -> Timeouts {
        Timeouts {
            io: self.task.cfg.timeout,
            connect: self.task.cfg.connect_timeout,
        }
    }

    fn transfer_type(&self) -> TransferType {
        if self.task.cfg.ftp_ascii {
            TransferType::Ascii
        } else {
            TransferType::Binary
        }
    }

    /// A logged-in control connection: a pooled one, or a new one.
    async fn connect(&mut self) -> Result<FtpClient, FetchError> {
        let cfg = &self.task.cfg;
        let family = if cfg.disable_ipv6 {
            FamilyPref::V4Only
        } else {
            FamilyPref::Any
        };
        let mut c = match &self.proxy {
            None => {
                tracing::info!("Connecting to {}:{}", self.loc.host, self.loc.port);
                let tcp = arietta_net::connect_host(
                    &self.loc.host,
                    self.loc.port,
                    family,
                    cfg.connect_timeout,
                )
                .await?;
                FtpClient::handshake(tcp, self.timeouts()).await?
            }
            Some(p) => {
                let timeouts = self.timeouts();
                let tls = self.task.net.tls_options().clone();
                let (tcp, early) =
                    tunnel(p, &self.loc.host, self.loc.port, family, timeouts, &tls).await?;
                let (proxy, host) = (p.clone(), self.loc.host.clone());
                let data: DataConnector = Rc::new(move |port| {
                    let (proxy, host, tls) = (proxy.clone(), host.clone(), tls.clone());
                    Box::pin(async move {
                        match tunnel(&proxy, &host, port, family, timeouts, &tls).await {
                            // Nothing is sent on a data connection before
                            // RETR, so early bytes would be garbage.
                            Ok((tcp, early)) if early.is_empty() => Ok(tcp),
                            Ok(_) => Err(FtpError::Malformed {
                                what: "proxy tunnel",
                                text: "data before RETR".into(),
                            }),
                            Err(e) => Err(FtpError::Connect {
                                what: "data",
                                message: e.to_string(),
                                code: e.exit_code().code(),
                            }),
                        }
                    })
                });
                FtpClient::handshake_after(tcp, &early, Some(data), timeouts).await?
            }
        };
        c.login(&self.loc.user, &self.loc.password).await?;
        Ok(c)
    }

    /// Makes `self.client` a connection logged in, in the file's directory
    /// and with the transfer type set, then runs `op` on it. A pooled
    /// connection that fails with a network error may simply have been
    /// closed by the server while idle: that costs one fresh connection,
    /// not a try.
    async fn with_client<T>(&mut self, op: impl AsyncClientOp<T>) -> Result<T, FetchError> {
        let mut fresh = false;
        loop {
            let mut c = match self.client.take() {
                Some(c) => c,
                None => match self.ctx.ftp_pool.take(&self.loc.pool_key) {
                    Some(c) => c,
                    None => {
                        fresh = true;
                        self.connect().await?
                    }
                },
            };
            let tt = self.transfer_type();
            let r: Result<T, FtpError> = async {
                c.set_type(tt).await?;
                c.change_dir(&self.loc.dirs).await?;
                op.run(&mut c, &self.loc.file).await
            }
            .await;
            match r {
                Ok(v) => {
                    self.client = Some(c);
                    return Ok(v);
                }
                Err(FtpError::Closed | FtpError::Io { .. }) if !fresh => continue,
                Err(e) => {
                    if c.reusable() {
                        self.client = Some(c);
                    }
                    return Err(e.into());
                }
            }
        }
    }

    async fn probe(&mut self) -> Result<ProbeInfo, FetchError> {
        let want_mtime = self.task.cfg.remote_time;
        let ascii = self.task.cfg.ftp_ascii;
        let (total, last_modified) = self.with_client(Probe { want_mtime, ascii }).await?;
        self.total = total;
        self.ranged = total.is_some();
        Ok(ProbeInfo {
            final_url: self.task.url.clone(),
            total,
            // REST is assumed, as aria2 does; a server that refuses it
            // fails the segment with exit 8.
            ranges: total.is_some(),
            disposition_name: None,
            last_modified,
            validator: None,
            not_modified: false,
            mirrors: Vec::new(),
            digest: None,
            follow: None,
        })
    }

    /// Starts a RETR at `pos`.
    async fn start(&mut self, pos: u64) -> Result<(), FetchError> {
        if pos != 0 && !self.ranged {
            return Err(FetchError::WrongResponse(format!(
                "the server's file size is unknown; cannot continue at {pos}"
            )));
        }
        // Through a tunnel (CONNECT or SOCKS5) only passive mode can work:
        // the server cannot connect back to us through the proxy.
        let mode = if self.task.cfg.ftp_pasv || self.proxy.is_some() {
            DataConnection::Passive
        } else {
            DataConnection::Active
        };
        let xfer = self.with_client(Retrieve { pos, mode }).await?;
        self.open = Some(Open { xfer, at: pos });
        Ok(())
    }

    /// Stops the open transfer, if any, keeping the control connection
    /// when the server followed the abort properly.
    async fn end_transfer(&mut self) {
        let Some(o) = self.open.take() else { return };
        if let Some(mut c) = self.client.take() {
            if c.abort(o.xfer).await && self.task.cfg.ftp_reuse_connection {
                self.client = Some(c);
            } else {
                c.quit().await;
            }
        }
    }

    /// Reads the final reply of a transfer that reached the end of the file.
    async fn finish(&mut self, o: Open) -> Result<(), FetchError> {
        let Some(mut c) = self.client.take() else {
            return Ok(());
        };
        c.finish(o.xfer).await?;
        if self.task.cfg.ftp_reuse_connection {
            self.client = Some(c);
        } else {
            c.quit().await;
        }
        Ok(())
    }

    /// Forgets a control connection whose state is unknown after an error.
    fn drop_connection(&mut self) {
        self.open = None;
        self.client = None;
    }
}

/// Opens a tunnel to `host:port` through the proxy (HTTP CONNECT or
/// SOCKS5) with the one HTTP client; returns the stream and any bytes of
/// the far end's that came with the proxy's answer (an FTP greeting can).
async fn tunnel(
    proxy: &arietta_http::Proxy,
    host: &str,
    port: u16,
    family: FamilyPref,
    timeouts: Timeouts,
    tls: &arietta_net::TlsOptions,
) -> Result<(arietta_net::TcpStream, Vec<u8>), FetchError> {
    let o = arietta_http_client::DialOptions {
        tls,
        family,
        connect_timeout: timeouts.connect,
        timeout: timeouts.io,
    };
    Ok(arietta_http_client::tunnel(proxy, host, port, &o).await?)
}

/// One step run on a ready control connection by
/// [`FtpFetch::with_client`]: a trait rather than a closure, because the
/// step borrows the client mutably across awaits.
trait AsyncClientOp<T> {
    async fn run(&self, c: &mut FtpClient, file: &str) -> Result<T, FtpError>;
}

struct Probe {
    want_mtime: bool,
    ascii: bool,
}

impl AsyncClientOp<(Option<u64>, Option<std::time::SystemTime>)> for Probe {
    async fn run(
        &self,
        c: &mut FtpClient,
        file: &str,
    ) -> Result<(Option<u64>, Option<std::time::SystemTime>), FtpError> {
        let mtime = if self.want_mtime {
            c.modified(file).await?
        } else {
            None
        };
        // In ASCII mode the server rewrites line endings, so SIZE does not
        // tell how many bytes RETR sends: fetch one stream of unknown length.
        let size = if self.ascii {
            None
        } else {
            c.size(file).await?
        };
        Ok((size, mtime))
    }
}

struct Retrieve {
    pos: u64,
    mode: DataConnection,
}

impl AsyncClientOp<Transfer> for Retrieve {
    async fn run(&self, c: &mut FtpClient, file: &str) -> Result<Transfer, FtpError> {
        c.retrieve(file, self.pos, self.mode).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_options::OptionSet;

    fn cfg(args: &[(&str, &str)]) -> DownloadConfig {
        let mut o = OptionSet::new();
        for (k, v) in args {
            o.set(k, v).unwrap();
        }
        DownloadConfig::from_options(&o)
    }

    #[test]
    fn anonymous_by_default_and_path_split() {
        let url = Url::parse("ftp://h.example/pub/a%20b/f%2Ex.iso").unwrap();
        let l = locate(&url, &cfg(&[]), None).unwrap();
        assert_eq!(
            (l.user.as_str(), l.password.as_str()),
            ("anonymous", "ARIA2USER@")
        );
        assert_eq!(l.dirs, vec!["pub".to_string(), "a b".to_string()]);
        assert_eq!(l.file, "f.x.iso");
        assert_eq!(l.port, 21);
    }

    #[test]
    fn credentials_order() {
        let c = cfg(&[("ftp-user", "opt"), ("ftp-passwd", "optpw")]);
        let url = Url::parse("ftp://u:p%40ss@[::1]:2121/f").unwrap();
        let l = locate(&url, &c, None).unwrap();
        assert_eq!((l.user.as_str(), l.password.as_str()), ("u", "p@ss"));
        assert_eq!((l.host.as_str(), l.port), ("::1", 2121));
        let url = Url::parse("ftp://u@h/f").unwrap();
        let l = locate(&url, &c, None).unwrap();
        assert_eq!((l.user.as_str(), l.password.as_str()), ("u", "optpw"));
        let netrc = arietta_http::Netrc::parse(b"machine h login n password np");
        let url = Url::parse("ftp://h/f").unwrap();
        let l = locate(&url, &c, Some(&netrc)).unwrap();
        assert_eq!((l.user.as_str(), l.password.as_str()), ("n", "np"));
        let l = locate(&url, &c, None).unwrap();
        assert_eq!((l.user.as_str(), l.password.as_str()), ("opt", "optpw"));
    }

    #[test]
    fn a_directory_is_not_a_file() {
        let url = Url::parse("ftp://h/").unwrap();
        assert!(locate(&url, &cfg(&[]), None).is_err());
    }
}
