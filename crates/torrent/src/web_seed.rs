//! Web seeds (BEP 19, GetRight style): an HTTP(S) or FTP server holding the torrent's
//! files, driven as one more peer. The task tells the actor it has every
//! piece and never chokes, then answers the actor's block requests with
//! ranged GETs and writes the bytes like a peer's, so the piece picker,
//! SHA-1 checks, strikes and bans treat it exactly like a peer.

use std::sync::Arc;
use std::time::Duration;

use arietta_bt::piece_geometry::BlockRef;
use arietta_http_client::{Connection, HttpClient, Response};
use arietta_metainfo::Metainfo;

use crate::layout::Layout;
use crate::messages::{ToPeer, ToTorrent};
use crate::peer::{Files, PeerSetup};
use crate::tracker::with_timeout;

/// At most this many bytes in one GET (contiguous requested blocks merge).
const MAX_RUN: u64 = 4 << 20;
/// A GET that moves nothing for this long fails the attempt.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Failed GETs in a row before the web seed is given up.
const MAX_FAILURES: u32 = 5;
const RETRY_WAIT: Duration = Duration::from_secs(1);

/// The URL of each of the torrent's files (stream order) on a web seed
/// whose `url-list` entry is `base`: BEP 19 appends the name (and, for a
/// multi-file torrent, the path) to a base ending in `/`.
pub(crate) fn file_urls(meta: &Metainfo, base: &str) -> Option<Vec<url::Url>> {
    let multi = meta.files.len() > 1 || meta.files.iter().any(|f| f.components.len() > 1);
    let mut out = Vec::with_capacity(meta.files.len());
    for f in &meta.files {
        let u = if !multi && !base.ends_with('/') {
            url::Url::parse(base).ok()?
        } else {
            let mut u = url::Url::parse(base).ok()?;
            {
                let mut segs = u.path_segments_mut().ok()?;
                segs.pop_if_empty();
                if multi && f.components.first() != Some(&meta.name) {
                    segs.push(&meta.name);
                }
                for c in &f.components {
                    segs.push(c);
                }
            }
            u
        };
        out.push(u);
    }
    Some(out)
}

/// One GET's worth: a file range covering some whole requested blocks.
struct Fetch {
    file: usize,
    file_offset: u64,
    len: u64,
}

struct Client {
    /// The kept-alive HTTP(S) connection of the last GET.
    conn: Option<Connection>,
    /// A logged-in FTP control connection, by `host:port`.
    ftp: Option<(String, arietta_ftp::FtpClient)>,
    http: HttpClient,
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Client {
    /// REST+RETR of `f.len` bytes at `f.file_offset` from an ftp:// web
    /// seed (anonymous login unless the URL names a user), then ABOR so
    /// the control connection serves the next range.
    async fn get_ftp(&mut self, url: &url::Url, f: &Fetch) -> Result<Vec<u8>, String> {
        use arietta_ftp::{DataConnection, FtpClient, Timeouts, TransferType};
        let host = url.host_str().ok_or("no host")?.to_owned();
        let port = url.port_or_known_default().unwrap_or(21);
        let server = format!("{host}:{port}");
        let timeouts = Timeouts {
            io: REQUEST_TIMEOUT,
            connect: Duration::from_secs(10),
        };
        let mut c = match self.ftp.take() {
            Some((s, c)) if s == server && c.reusable() => c,
            _ => {
                let family = self.http.config().family;
                // A SOCKS5 proxy for ftp:// carries the control and every
                // (passive) data connection, as for FTP downloads.
                let socks = self
                    .http
                    .config()
                    .proxies
                    .proxy_for(url)
                    .filter(|p| p.is_socks())
                    .map(arietta_http_client::socks5_proxy);
                let tcp = match &socks {
                    Some(p) => {
                        arietta_net::connect_socks5(
                            p,
                            &host,
                            port,
                            family,
                            timeouts.connect,
                            timeouts.io,
                        )
                        .await
                    }
                    None => arietta_net::connect_host(&host, port, family, timeouts.connect).await,
                }
                .map_err(|e| e.to_string())?;
                let data = socks.map(|p| socks_data_connector(p, host.clone(), family, timeouts));
                let mut c = FtpClient::handshake_after(tcp, &[], data, timeouts)
                    .await
                    .map_err(|e| e.to_string())?;
                let (user, pass) = match url.username() {
                    "" => ("anonymous".to_string(), "ARIA2USER@".to_string()),
                    u => (decode(u), decode(url.password().unwrap_or(""))),
                };
                c.login(&user, &pass).await.map_err(|e| e.to_string())?;
                c.set_type(TransferType::Binary)
                    .await
                    .map_err(|e| e.to_string())?;
                c
            }
        };
        let (dirs, file) = arietta_ftp::split_path(url.path());
        let dirs: Vec<String> = dirs.iter().map(|d| decode(d)).collect();
        // Each file's directory is entered from the login directory.
        let mut t = {
            let mut path = String::new();
            for d in &dirs {
                path.push_str(d);
                path.push('/');
            }
            path.push_str(&decode(&file));
            c.retrieve(&path, f.file_offset, DataConnection::Passive)
                .await
                .map_err(|e| e.to_string())?
        };
        let mut body = vec![0u8; f.len as usize];
        let mut got = 0;
        while got < body.len() {
            let n = t
                .read(&mut body[got..], REQUEST_TIMEOUT)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the web seed sent too few bytes".into());
            }
            got += n;
        }
        if c.abort(t).await {
            self.ftp = Some((server, c));
        }
        Ok(body)
    }
}

impl Client {
    /// A ranged GET of `f` from an http(s):// web seed, on the kept-alive
    /// connection when it serves the same server.
    async fn get(&mut self, url: &url::Url, f: &Fetch) -> Result<Vec<u8>, String> {
        if url.scheme() == "ftp" {
            return self.get_ftp(url, f).await;
        }
        let route = self.http.route(url);
        let mut spec = self.http.request(&route, url);
        spec.range = Some((f.file_offset, Some(f.file_offset + f.len - 1)));
        let Response { head, mut conn } = self
            .http
            .send(&route, &spec, self.conn.take())
            .await
            .map_err(|e| e.to_string())?;
        match head.status {
            206 => {}
            200 => {
                // A server that ignores Range (BEP 19 asks for it, but
                // aria2, for which a web seed is one more HTTP source, copes)
                // sends the whole file: skip to the part asked for.
                let mut skip = f.file_offset;
                let mut scratch = vec![0u8; (64 << 10).min(skip.max(1)) as usize];
                while skip > 0 {
                    let want = scratch
                        .len()
                        .min(usize::try_from(skip).unwrap_or(usize::MAX));
                    let chunk = conn
                        .http
                        .read_body_into(&mut scratch[..want])
                        .await
                        .map_err(|e| e.to_string())?;
                    if chunk.appended == 0 {
                        return Err("the web seed sent too few bytes".into());
                    }
                    skip -= chunk.appended as u64;
                }
            }
            s => return Err(format!("HTTP status {s}")),
        }
        let mut body = vec![0u8; f.len as usize];
        let mut got = 0usize;
        while got < body.len() {
            let chunk = conn
                .http
                .read_body_into(&mut body[got..])
                .await
                .map_err(|e| e.to_string())?;
            let n = chunk.appended;
            if n == 0 {
                return Err("the web seed sent too few bytes".into());
            }
            got += n;
        }
        if head.status == 206 && conn.http.reusable() {
            self.conn = Some(conn);
        }
        Ok(body)
    }
}

/// GETs a whole small resource (a `.torrent` named by a metalink), at most
/// 16 MiB, following no redirect, with the download's HTTP settings.
pub(crate) async fn fetch_whole(uri: &str, http: &HttpClient) -> Result<Vec<u8>, String> {
    let url = url::Url::parse(uri).map_err(|e| e.to_string())?;
    http.get_bytes(&url, 16 << 20)
        .await
        .map_err(|e| e.to_string())
}

/// Splits requested blocks into contiguous runs, then into per-file GETs.
fn plan(layout: &Layout, blocks: &[BlockRef]) -> Vec<(Vec<BlockRef>, u64, u64)> {
    let mut sorted: Vec<BlockRef> = blocks.to_vec();
    let abs = |b: &BlockRef| u64::from(b.index) * layout.piece_length + u64::from(b.begin);
    sorted.sort_by_key(abs);
    let mut runs: Vec<(Vec<BlockRef>, u64, u64)> = Vec::new();
    for b in sorted {
        let start = abs(&b);
        match runs.last_mut() {
            Some((bs, s, len)) if *s + *len == start && *len + u64::from(b.length) <= MAX_RUN => {
                *len += u64::from(b.length);
                bs.push(b);
            }
            _ => runs.push((vec![b], start, u64::from(b.length))),
        }
    }
    runs
}

/// Runs one web seed until the actor closes it or it fails for good.
pub(crate) async fn run_web_seed(urls: Arc<Vec<url::Url>>, http: HttpClient, setup: PeerSetup) {
    let key = setup.key;
    let tx = setup.to_torrent.clone();
    let reason = drive(urls, http, setup).await.err();
    let _ = tx.send(ToTorrent::Closed {
        key,
        reason,
        ban: false,
    });
}

async fn drive(urls: Arc<Vec<url::Url>>, http: HttpClient, setup: PeerSetup) -> Result<(), String> {
    let PeerSetup {
        key,
        layout,
        to_torrent: tx,
        inbox,
        download_limit,
        max_open_files,
        ..
    } = setup;
    let mut id = *b"-WS0000-000000000000";
    id[8..].copy_from_slice(&rand::random::<[u8; 12]>().map(|b| b'a' + b % 26));
    let send = |m| tx.send(m).map_err(|_| "the torrent ended".to_string());
    send(ToTorrent::Handshaken { key, peer_id: id })?;
    send(ToTorrent::HaveAll { key })?;
    send(ToTorrent::Unchoked { key })?;
    let files = Files::new(layout.clone(), max_open_files);
    // `urls` follows the torrent's file list; the layout also holds the
    // unlisted alignment gaps of a v2 torrent, so map its indexes back.
    let listed_index: Vec<usize> = layout
        .files
        .iter()
        .scan(0usize, |listed, f| {
            let i = *listed;
            *listed += usize::from(f.listed);
            Some(i)
        })
        .collect();
    let mut client = Client {
        conn: None,
        ftp: None,
        http,
    };
    let mut queue: Vec<BlockRef> = Vec::new();
    let mut failures = 0u32;
    loop {
        if queue.is_empty() {
            match inbox.recv().await {
                Some(ToPeer::Request(b)) => queue.extend(b),
                Some(ToPeer::Close) | None => return Ok(()),
                Some(_) => continue,
            }
        }
        while let Some(m) = inbox.try_recv() {
            match m {
                ToPeer::Request(b) => queue.extend(b),
                ToPeer::Cancel(b) => queue.retain(|q| *q != b),
                ToPeer::Close => return Ok(()),
                _ => {}
            }
        }
        let Some((blocks, start, len)) = plan(&layout, &queue).into_iter().next() else {
            continue;
        };
        let mut data = Vec::with_capacity(len as usize);
        let mut failed = None;
        for s in layout.spans(start, len as usize) {
            let lf = &layout.files[s.file];
            if lf.padding {
                data.resize(data.len() + s.len, 0);
                continue;
            }
            let f = Fetch {
                file: s.file,
                file_offset: s.file_offset,
                len: s.len as u64,
            };
            let url = &urls[listed_index[f.file]];
            match with_timeout(REQUEST_TIMEOUT, client.get(url, &f)).await {
                Some(Ok(b)) => data.extend_from_slice(&b),
                Some(Err(e)) => failed = Some(format!("{url}: {e}")),
                None => failed = Some(format!("{url}: timed out")),
            }
            if failed.is_some() {
                client.conn = None;
                client.ftp = None;
                break;
            }
        }
        if let Some(e) = failed {
            failures += 1;
            if failures >= MAX_FAILURES {
                return Err(e);
            }
            glommio::timer::sleep(RETRY_WAIT).await;
            continue;
        }
        failures = 0;
        if let Some(l) = &download_limit {
            let mut left = data.len();
            while left > 0 {
                left -= l.take(left).await.min(left);
            }
        }
        if let Err(e) = files.write(start, &data).await {
            let _ = tx.send(ToTorrent::DiskFailed {
                reason: e.to_string(),
            });
            return Err(e.to_string());
        }
        queue.retain(|q| !blocks.contains(q));
        send(ToTorrent::BlocksWritten { key, blocks })?;
    }
}

/// Opens an FTP web seed's passive data connections through its SOCKS5
/// proxy.
fn socks_data_connector(
    proxy: arietta_net::Socks5Proxy,
    host: String,
    family: arietta_net::FamilyPref,
    timeouts: arietta_ftp::Timeouts,
) -> arietta_ftp::DataConnector {
    std::rc::Rc::new(move |port| {
        let (proxy, host) = (proxy.clone(), host.clone());
        Box::pin(async move {
            arietta_net::connect_socks5(&proxy, &host, port, family, timeouts.connect, timeouts.io)
                .await
                .map_err(|e| arietta_ftp::FtpError::Connect {
                    what: "data",
                    message: e.to_string(),
                    code: e.aria2_exit_code(),
                })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_bencode::{encode, OwnedValue};

    fn torrent(multi: bool) -> Metainfo {
        let mut info = OwnedValue::dict()
            .insert(b"name".to_vec(), "my dir")
            .insert(b"piece length".to_vec(), 16384i64)
            .insert(b"pieces".to_vec(), vec![0u8; 20]);
        if multi {
            let f = |p: Vec<&str>| {
                OwnedValue::dict().insert(b"length".to_vec(), 5i64).insert(
                    b"path".to_vec(),
                    p.into_iter().map(OwnedValue::from).collect::<Vec<_>>(),
                )
            };
            info = info.insert(b"files".to_vec(), vec![f(vec!["a"]), f(vec!["sub", "b c"])]);
        } else {
            info = info.insert(b"length".to_vec(), 10i64);
        }
        let top = OwnedValue::dict().insert(b"info".to_vec(), info);
        Metainfo::parse(&encode(&top)).unwrap()
    }

    #[test]
    fn bep19_urls() {
        let single = torrent(false);
        let u = file_urls(&single, "http://h/x/file.iso").unwrap();
        assert_eq!(u[0].as_str(), "http://h/x/file.iso");
        let u = file_urls(&single, "http://h/x/").unwrap();
        assert_eq!(u[0].as_str(), "http://h/x/my%20dir");
        let multi = torrent(true);
        let u = file_urls(&multi, "http://h/x").unwrap();
        assert_eq!(u[0].as_str(), "http://h/x/my%20dir/a");
        assert_eq!(u[1].as_str(), "http://h/x/my%20dir/sub/b%20c");
        let u = file_urls(&multi, "ftp://h/").unwrap();
        assert_eq!(u[1].as_str(), "ftp://h/my%20dir/sub/b%20c");
    }
}
