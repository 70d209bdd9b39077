//! One HTTP(S) connection of a download, run as a task on one core.
//!
//! The first connection of a download probes: `GET` with `Range: bytes=0-`
//! tells in one round trip the length, whether ranges work, the file name
//! and the validators, and its body is already the first segment. Every
//! connection then loops: ask the coordinator for a segment, request it
//! (or keep reading when the open response already stands at its start),
//! stream it to the file, report written ranges.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arietta_http::{
    BodyChunk, ContentRange, Encoding, HttpError, Method, RequestSpec, ResponseHead,
};
use arietta_http_client::{ClientError, DialOptions, Http2Body, Route};
use arietta_net::FamilyPref;
use arietta_storage::{ChunkBuf, FileWriter};
use futures_lite::future;
use url::Url;

use crate::conn_link;
use crate::connection_pool::Conn;
use crate::error::FetchError;
use crate::http2_pool::Pick;
use crate::messages::{ConnTask, ProbeInfo};
use crate::segment_driver::{self, Chunk, SegmentSource, StreamEnd, FLUSH_AFTER};
use crate::worker::CoreContext;
/// aria2 follows at most this many redirects.
const MAX_REDIRECTS: usize = 20;
/// Error bodies and redirect bodies up to this size are drained to keep
/// the connection; larger ones are cheaper to close.
const DRAIN_LIMIT: u64 = 64 << 10;
/// How many times one HTTP/2 request may be refused unprocessed by
/// connections that answered no request at all: a bound for a server that
/// refuses everything. Refusals by connections that answered others (a
/// server's per-connection request limit: GOAWAY, then a new connection)
/// are not counted: each such connection made progress, so the queue of
/// downloads drains, and with `-j16` against `keepalive_requests 2` one
/// request can be refused dozens of times before its turn comes.
const MAX_H2_REFUSED: usize = 8;

/// Where an open response's body comes from.
enum Wire {
    /// An HTTP/1.1 connection, positioned in the body.
    Http1(Conn),
    /// A stream of a core's shared HTTP/2 connection.
    Http2(Http2Body),
}

impl Wire {
    fn is_finished(&self) -> bool {
        match self {
            Wire::Http1(c) => c.body_decoder().is_finished(),
            Wire::Http2(b) => b.is_finished(),
        }
    }

    async fn read_body_into(&mut self, dst: &mut [u8]) -> Result<BodyChunk, HttpError> {
        match self {
            Wire::Http1(c) => c.read_body_into(dst).await,
            Wire::Http2(b) => b.read_body_into(dst).await,
        }
    }
}

struct Open {
    conn: Wire,
    pool_key: String,
    /// File offset the next body byte belongs to.
    at: u64,
    /// Transforming decoder (gzip/deflate) when the body is encoded.
    decoder: Option<arietta_http::ContentDecoder>,
}

struct Fetch {
    ctx: Rc<CoreContext>,
    task: ConnTask,
    url: Url,
    open: Option<Open>,
    /// Length the coordinator expects (ranged downloads), to check 206s.
    total: Option<u64>,
    /// Whether the server answers ranges.
    ranged: bool,
    /// Where the request sent behind the open response starts
    /// (`--enable-http-pipelining`); its answer is read at the next open.
    ahead: Option<u64>,
}

pub async fn run_connection(ctx: Rc<CoreContext>, task: ConnTask) {
    let url = match Url::parse(&task.url) {
        Ok(u) => u,
        Err(_) => {
            let err = FetchError::UnsupportedUri(task.url.clone());
            return conn_link::report_end(&task, None, Err(err));
        }
    };
    segment_driver::run(Fetch {
        ctx,
        task,
        url,
        open: None,
        total: None,
        ranged: false,
        ahead: None,
    })
    .await;
}

impl SegmentSource for Fetch {
    fn task(&self) -> &ConnTask {
        &self.task
    }

    fn ctx(&self) -> &CoreContext {
        &self.ctx
    }

    async fn probe(&mut self) -> Result<ProbeInfo, FetchError> {
        Fetch::probe(self).await
    }

    async fn release(&mut self) {
        self.drop_open().await;
    }

    fn stream_at(&self) -> Option<u64> {
        self.open
            .as_ref()
            .filter(|o| !o.conn.is_finished())
            .map(|o| o.at)
    }

    async fn open(
        &mut self,
        pos: u64,
        end: u64,
        total: Option<u64>,
        ranged: bool,
    ) -> Result<(), FetchError> {
        self.total = total;
        self.ranged = ranged;
        if self.stream_at() == Some(pos) {
            return Ok(());
        }
        if let Some(sent) = self.ahead.take() {
            match self.read_ahead().await {
                Some(head) if sent == pos => return self.check_range(&head, pos, end),
                // Answers a request for another offset (the claim was
                // given back): the connection is of no further use.
                _ => self.open = None,
            }
        }
        self.drop_open().await;
        if ranged {
            self.request_range(pos, end).await
        } else {
            self.request_whole(pos).await
        }
    }

    async fn read(&mut self, writer: &FileWriter, pos: u64, want: usize) -> Chunk {
        let timeout = self.task.cfg.timeout;
        let Some(open) = self.open.as_mut() else {
            let err = FetchError::WrongResponse("no open response".into());
            return Chunk::failed(ChunkBuf::Heap(Vec::new()), err);
        };
        let chunk = read_chunk(open, writer, want, timeout, &self.task.received).await;
        open.at = pos + chunk.len as u64;
        chunk
    }

    fn can_send_ahead(&self) -> bool {
        self.task.cfg.http_pipelining
            && self.ranged
            && self.total.is_some()
            && matches!(
                &self.open,
                Some(Open { conn: Wire::Http1(c), decoder: None, .. }) if c.stays_open()
            )
    }

    async fn send_ahead(&mut self, pos: u64, end: u64) {
        let mut spec = self.spec(Method::Get, Some((pos, Some(end - 1))), None);
        spec.via_proxy = Route::new(&self.url, &self.task.cfg.proxies).proxy_auth();
        let req = spec.encode();
        let timeout = self.task.cfg.timeout;
        if let Some(Open {
            conn: Wire::Http1(c),
            ..
        }) = self.open.as_mut()
        {
            // A failed send leaves the connection broken: the body being
            // read fails or ends, and the next open asks anew.
            if arietta_http_client::send_ahead(c, &req, timeout)
                .await
                .is_ok()
            {
                self.ahead = Some(pos);
            }
        }
    }

    async fn cut(&mut self) {
        self.open = None;
        self.ahead = None;
    }

    async fn ended(&mut self, at: u64, end: u64) -> Result<StreamEnd, FetchError> {
        if self.total.is_none() {
            return Ok(StreamEnd::Length(at));
        }
        if at < end && self.ranged {
            // The response covered part of the segment (the probe's first
            // `-k` bytes): ask for the rest on the same connection, or on
            // a new one if an answer to a request sent ahead is coming.
            if self.ahead.take().is_some() {
                self.open = None;
            }
            self.request_range(at, end).await?;
            return Ok(StreamEnd::Reopened);
        }
        if at < end {
            return Err(FetchError::Http(HttpError::UnexpectedEof));
        }
        Ok(StreamEnd::Complete)
    }

    fn failed(&mut self) {
        self.open = None;
        self.ahead = None;
    }

    async fn close(&mut self) {
        if self.ahead.take().is_some() {
            // An answer is still coming on it: never pooled.
            self.open = None;
        }
        if let Some(Open {
            conn: Wire::Http1(c),
            pool_key,
            ..
        }) = self.open.take()
        {
            self.keep(pool_key, c);
        }
    }
}

impl Fetch {
    async fn drop_open(&mut self) {
        if self.ahead.take().is_some() {
            self.open = None;
        }
        // An HTTP/2 stream dropped unfinished is reset (RST_STREAM), its
        // connection goes on serving the others.
        if let Some(Open {
            conn: Wire::Http1(mut conn),
            pool_key,
            ..
        }) = self.open.take()
        {
            if !conn.body_decoder().is_finished() {
                let drained = future::or(
                    async { conn.skip_body(DRAIN_LIMIT).await.unwrap_or(false) },
                    async {
                        glommio::timer::sleep(Duration::from_millis(200)).await;
                        false
                    },
                )
                .await;
                if !drained {
                    return;
                }
            }
            self.keep(pool_key, conn);
        }
    }

    /// Pools a connection whose response was read through, unless
    /// `--enable-http-keep-alive=false` asked for one connection per
    /// request.
    fn keep(&self, pool_key: String, conn: Conn) {
        if self.task.cfg.http_keep_alive {
            self.ctx.pool.put(pool_key, conn);
        }
    }

    /// `--use-head`: a HEAD before the first GET, as aria2 sends while the
    /// size is unknown; it follows redirects (the GETs then go to where
    /// they led) and fails the download on an error status just as a GET
    /// would.
    async fn head_first(&mut self) -> Result<(), FetchError> {
        let head = self.request_method(Method::Head, None, None).await?;
        if head.status != 304 {
            check_status(&head)?;
        }
        self.drop_open().await;
        Ok(())
    }

    async fn probe(&mut self) -> Result<ProbeInfo, FetchError> {
        // The probe asks for the first `-k` bytes only: no segment is
        // shorter, so the response never runs past the probe's own segment
        // into bytes other connections fetch (an open-ended range would
        // leave megabytes in socket buffers to throw away).
        let ims = self.task.if_modified_since;
        if self.task.cfg.use_head {
            self.head_first().await?;
        }
        let probe_end = self.task.cfg.min_split_size.max(1) - 1;
        let head = self.request(Some((0, Some(probe_end))), ims).await?;
        let final_url = self.url.to_string();
        let validator = head
            .header("etag")
            .or_else(|| head.header("last-modified"))
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let mut info = ProbeInfo {
            final_url,
            total: None,
            ranges: false,
            disposition_name: head
                .content_disposition_filename(self.task.cfg.content_disposition_utf8),
            last_modified: head.last_modified(),
            validator,
            not_modified: false,
            mirrors: Vec::new(),
            digest: None,
            follow: None,
        };
        if head.status == 304 && ims.is_some() {
            info.not_modified = true;
            self.drop_open().await;
            return Ok(info);
        }
        if head.status == 416 {
            // `bytes=0-` of an empty file is unsatisfiable: that is a
            // complete, empty download, not an error.
            if let Ok(Some(ContentRange::Unsatisfied { total: 0 })) = head.content_range() {
                info.total = Some(0);
                info.ranges = true;
                self.total = info.total;
                self.drop_open().await;
                return Ok(info);
            }
        }
        check_status(&head)?;
        let encoded = head.content_encoding() != Encoding::Identity;
        if head.status == 206 {
            match head.content_range()? {
                Some(ContentRange::Bytes {
                    start: 0,
                    total: Some(t),
                    end,
                }) if end < t => {
                    info.total = Some(t);
                    info.ranges = !encoded;
                }
                other => {
                    let got = other.map_or_else(|| "none".to_owned(), |r| r.to_string());
                    return Err(FetchError::WrongResponse(format!(
                        "206 with Content-Range {got} to a request for bytes=0-"
                    )));
                }
            }
        } else {
            info.total = head.content_length()?;
        }
        if encoded {
            info.total = None;
            info.ranges = false;
            if let Some(o) = self.open.as_mut() {
                o.decoder = Some(arietta_http::ContentDecoder::new(head.content_encoding()));
            }
        }
        self.total = info.total;
        self.ranged = info.ranges;
        metalink_http(&head, &self.url, &mut info);
        let content_type = head
            .header("content-type")
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let ct = content_type.as_deref();
        if self.task.cfg.follow_metalink != "false"
            && crate::metalink_plan::looks_like_metalink(self.url.path(), ct)
        {
            let body = self.read_whole_body(info.total).await?;
            info.follow = Some(crate::messages::FollowDoc::Metalink(body));
        } else if self.task.cfg.follow_torrent != "false"
            && crate::bittorrent::looks_like_torrent_response(self.url.path(), ct)
        {
            let body = self.read_whole_body(info.total).await?;
            info.follow = Some(crate::messages::FollowDoc::Torrent(body));
        }
        Ok(info)
    }

    /// Reads the rest of a (small) response into memory: a metalink or a
    /// torrent to follow. Bounded by the metalink parser's size limit (a
    /// torrent's piece hashes for hundreds of GiB fit too); a ranged probe
    /// that covered only the start asks for the rest.
    async fn read_whole_body(&mut self, total: Option<u64>) -> Result<Vec<u8>, FetchError> {
        let limit = arietta_metalink::Limits::default().max_input_bytes;
        let too_large =
            || FetchError::Metalink(format!("the document is over the {limit}-byte limit"));
        if total.is_some_and(|t| t > limit as u64) {
            return Err(too_large());
        }
        let timeout = self.task.cfg.timeout;
        let mut out = Vec::new();
        let mut raw = vec![0u8; 64 << 10];
        while let Some(open) = self.open.as_mut() {
            let c = with_timeout(timeout, open.conn.read_body_into(&mut raw)).await?;
            self.task
                .received
                .fetch_add(c.appended as u64, Ordering::Relaxed);
            match open.decoder.as_mut() {
                Some(d) => d.decode(&raw[..c.appended], &mut out)?,
                None => out.extend_from_slice(&raw[..c.appended]),
            }
            if out.len() > limit {
                return Err(too_large());
            }
            if !c.finished {
                continue;
            }
            if let Some(d) = open.decoder.as_mut() {
                d.finish()?;
            }
            match total {
                Some(t) if (out.len() as u64) < t && self.ranged => {
                    self.request_range(out.len() as u64, t).await?;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Without range support the body is fetched whole, from byte 0.
    async fn request_whole(&mut self, pos: u64) -> Result<(), FetchError> {
        if pos != 0 {
            return Err(FetchError::WrongResponse(format!(
                "the server does not support ranges; cannot continue at {pos}"
            )));
        }
        let head = self.request(None, None).await?;
        check_status(&head)?;
        if head.content_length()? != self.total && self.total.is_some() {
            return Err(FetchError::SizeChanged {
                was: self.total.unwrap_or(0),
                now: head.content_length()?.unwrap_or(0),
            });
        }
        if head.content_encoding() != Encoding::Identity {
            if let Some(o) = self.open.as_mut() {
                o.decoder = Some(arietta_http::ContentDecoder::new(head.content_encoding()));
            }
        }
        Ok(())
    }

    /// Reads the answer to the request sent ahead, once the response
    /// before it is read through; `None` when the server closed the
    /// connection instead or the body before it was left unread.
    async fn read_ahead(&mut self) -> Option<ResponseHead> {
        let Some(Open {
            conn: Wire::Http1(c),
            ..
        }) = self.open.as_mut()
        else {
            return None;
        };
        if !c.body_decoder().is_finished() {
            return None;
        }
        match arietta_http_client::read_ahead(c, self.task.cfg.timeout).await {
            Ok(head) => {
                if tracing::enabled!(tracing::Level::INFO) {
                    tracing::info!("Response received:\n{}", response_text(&head));
                }
                self.store_cookies(&head);
                Some(head)
            }
            Err(e) => {
                tracing::debug!("The pipelined request got no answer ({e}); asking again");
                None
            }
        }
    }

    /// Requests `[pos, end)` and checks that the 206 is exactly that.
    async fn request_range(&mut self, pos: u64, end: u64) -> Result<(), FetchError> {
        let head = self.request(Some((pos, Some(end - 1))), None).await?;
        self.check_range(&head, pos, end)
    }

    /// Checks that `head` answers a request for `[pos, end)` with exactly
    /// those bytes, and stands the open response at `pos`.
    fn check_range(&mut self, head: &ResponseHead, pos: u64, end: u64) -> Result<(), FetchError> {
        check_status(head)?;
        let total = self.total;
        match (head.status, head.content_range()?) {
            (
                206,
                Some(ContentRange::Bytes {
                    start,
                    end: last,
                    total: t,
                }),
            ) if start == pos
                && last + 1 >= end.min(total.unwrap_or(u64::MAX))
                && (t.is_none() || t == total) =>
            {
                if head.content_encoding() != Encoding::Identity {
                    return Err(FetchError::WrongResponse(
                        "encoded body for a range request".into(),
                    ));
                }
                Ok(())
            }
            (
                206,
                Some(ContentRange::Bytes {
                    start,
                    end: last,
                    total: t,
                }),
            ) => Err(FetchError::InvalidRange {
                req_start: pos,
                req_end: end - 1,
                req_total: total.unwrap_or(0),
                start,
                end: last,
                total: t.unwrap_or(0),
            }),
            (206, Some(cr)) => Err(FetchError::WrongResponse(format!(
                "asked for bytes {pos}-{}, got Content-Range {cr}",
                end - 1
            ))),
            (status, _) => Err(FetchError::WrongResponse(format!(
                "asked for bytes {pos}-{}, got status {status} without a matching Content-Range",
                end - 1
            ))),
        }
        .inspect(|_| {
            if let Some(o) = self.open.as_mut() {
                o.at = pos;
            }
        })
    }

    /// Sends a GET for `self.url`, following redirects; leaves the response
    /// open in `self.open` and returns its head.
    async fn request(
        &mut self,
        range: Option<(u64, Option<u64>)>,
        ims: Option<SystemTime>,
    ) -> Result<ResponseHead, FetchError> {
        self.request_method(Method::Get, range, ims).await
    }

    async fn request_method(
        &mut self,
        method: Method,
        range: Option<(u64, Option<u64>)>,
        ims: Option<SystemTime>,
    ) -> Result<ResponseHead, FetchError> {
        for _ in 0..=MAX_REDIRECTS {
            let head = self.request_once(method, range, ims).await?;
            self.store_cookies(&head);
            if head.status == 401
                && self.task.cfg.http_auth_challenge
                && !self.challenged()
                && self.url.username().is_empty()
                && self.credentials().is_some()
            {
                // aria2's challenge: the credentials answer the host's
                // first 401, and go with its requests from then on; a 401
                // to a request that carried them fails the download.
                let (host_port, dir) = self.auth_scope();
                self.task.net.mark_auth_challenged(&host_port, &dir);
                self.drop_open().await;
                continue;
            }
            if head.is_redirect() {
                let Some(loc) = head.location() else {
                    return Ok(head);
                };
                let next = arietta_http::resolve_location(&self.url, &loc)?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(FetchError::UnsupportedUri(next.to_string()));
                }
                self.drop_open().await;
                self.url = next;
                continue;
            }
            return Ok(head);
        }
        Err(FetchError::TooManyRedirects(MAX_REDIRECTS))
    }

    fn store_cookies(&self, head: &ResponseHead) {
        let mut jar = None;
        for v in head.set_cookies() {
            let jar = jar.get_or_insert_with(|| {
                self.task
                    .net
                    .cookies
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
            });
            jar.store_set_cookie(&self.url, v, SystemTime::now());
        }
    }

    /// Where `--http-auth-challenge` remembers a 401: `host:port` and the
    /// request's directory (aria2's `BasicCred` scope).
    fn auth_scope(&self) -> (String, String) {
        let host_port = format!(
            "{}:{}",
            self.url.host_str().unwrap_or(""),
            self.url.port_or_known_default().unwrap_or(0)
        );
        let path = self.url.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        (
            host_port,
            if dir.is_empty() {
                "/".into()
            } else {
                dir.into()
            },
        )
    }

    /// Whether this request falls under a 401 seen before.
    fn challenged(&self) -> bool {
        let (host_port, dir) = self.auth_scope();
        self.task.net.auth_challenged(&host_port, &dir)
    }

    /// `--http-user`/`--http-passwd` (`--ftp-user` for ftp:// through a
    /// GET proxy), else `.netrc`'s entry for the host when the URI carries
    /// no user.
    fn credentials(&self) -> Option<(String, String)> {
        let cfg = &self.task.cfg;
        // An ftp:// URI reaches here only through a GET-style proxy, which
        // takes the FTP login as Basic credentials.
        let (user, passwd) = if self.url.scheme() == "ftp" {
            (&cfg.ftp_user, &cfg.ftp_passwd)
        } else {
            (&cfg.http_user, &cfg.http_passwd)
        };
        match (user, passwd) {
            (Some(u), p) => Some((u.clone(), p.clone().unwrap_or_default())),
            _ if self.url.username().is_empty() => self
                .task
                .net
                .netrc_for(cfg)
                .and_then(|n| n.lookup(self.url.host_str().unwrap_or("")))
                .map(|(u, p)| (u.to_owned(), p.to_owned())),
            _ => None,
        }
    }

    fn spec(
        &self,
        method: Method,
        range: Option<(u64, Option<u64>)>,
        ims: Option<SystemTime>,
    ) -> RequestSpec {
        let cfg = &self.task.cfg;
        let mut spec = RequestSpec::new(method, self.url.clone());
        spec.range = range;
        spec.headers = cfg.headers.clone();
        spec.user_agent = cfg.user_agent.clone();
        // `--referer=*`: each request names the URI it was sent for, as
        // aria2 (the mirror's URI, not where a redirect led).
        spec.referer = match cfg.referer.as_deref() {
            Some("*") => Some(self.task.url.clone()),
            other => other.map(str::to_owned),
        };
        spec.accept_gzip = cfg.accept_gzip;
        spec.if_modified_since = ims;
        spec.no_cache = cfg.http_no_cache;
        spec.want_digest = cfg.want_digest;
        spec.keep_alive = cfg.http_keep_alive;
        let challenge = cfg.http_auth_challenge && self.url.scheme() != "ftp";
        spec.basic_auth = if challenge && !self.challenged() {
            None
        } else {
            self.credentials()
        };
        spec.cookie = self
            .task
            .net
            .cookies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cookie_header(&self.url, SystemTime::now());
        spec
    }

    async fn request_once(
        &mut self,
        method: Method,
        range: Option<(u64, Option<u64>)>,
        ims: Option<SystemTime>,
    ) -> Result<ResponseHead, FetchError> {
        let mut spec = self.spec(method, range, ims);
        let route = Route::new(&self.url, &self.task.cfg.proxies);
        spec.via_proxy = route.proxy_auth();
        let key = route.key();
        let at = range.map_or(0, |r| r.0);
        let timeout = self.task.cfg.timeout;
        let mut fresh = None;
        if self.wants_http2(&route) {
            // A finished HTTP/1.1 response before it goes back to the pool.
            self.close().await;
            // A kept connection may have been closed by the server meanwhile
            // (its idle timeout, or a GOAWAY after its request limit): a
            // request it refused unprocessed goes again on a new one, as
            // does one that failed otherwise, once.
            let mut failed_once = false;
            let mut barren = 0;
            loop {
                let h2 = match self.ctx.h2.pick(&key, &route, &self.dial_options()).await? {
                    Pick::Http2(h2) => h2,
                    Pick::Http1(c) => {
                        fresh = c;
                        break;
                    }
                };
                let (head, body) = match h2.send(&spec, timeout).await {
                    Ok(r) => r,
                    Err(ClientError::Refused(why)) if barren < MAX_H2_REFUSED => {
                        tracing::debug!("HTTP/2 request refused, sending it again: {why}");
                        if h2.answered() == 0 {
                            barren += 1;
                        }
                        continue;
                    }
                    Err(ClientError::Timeout(secs)) => {
                        self.ctx.h2.forget(&key, &h2);
                        return Err(FetchError::Timeout(secs));
                    }
                    Err(e) => {
                        self.ctx.h2.forget(&key, &h2);
                        if !failed_once && !matches!(e, ClientError::Refused(_)) {
                            failed_once = true;
                            continue;
                        }
                        return Err(e.into());
                    }
                };
                self.open = Some(Open {
                    conn: Wire::Http2(body),
                    pool_key: key,
                    at,
                    decoder: None,
                });
                return Ok(head);
            }
        }
        let req = spec.encode();
        let keep_alive = self.task.cfg.http_keep_alive;
        let pooled = match self.open.take().map(|o| o.conn) {
            Some(Wire::Http1(c)) if keep_alive => Some(c),
            _ if keep_alive => fresh.or_else(|| self.ctx.pool.take(&key)),
            _ => fresh,
        };
        let (head, conn) =
            arietta_http_client::exchange(&route, &self.dial_options(), pooled, &req, timeout)
                .await?;
        if tracing::enabled!(tracing::Level::INFO) {
            tracing::info!("Response received:\n{}", response_text(&head));
        }
        self.open = Some(Open {
            conn: Wire::Http1(conn),
            pool_key: key,
            at,
            decoder: None,
        });
        Ok(head)
    }

    /// Whether requests along `route` go over HTTP/2: `--enable-http2`
    /// for https://, `--http2-prior-knowledge` for http://; never through
    /// a plain HTTP proxy (absolute-form requests are HTTP/1.1's).
    fn wants_http2(&self, route: &Route) -> bool {
        let cfg = &self.task.cfg;
        let asked = match route.scheme.as_str() {
            "https" => cfg.enable_http2,
            "http" => cfg.http2_prior_knowledge,
            _ => false,
        };
        asked && route.proxy_auth().is_none()
    }

    /// How this download's connections are dialled: the run's TLS options
    /// with the download's address family and timeouts.
    fn dial_options(&self) -> DialOptions<'_> {
        let cfg = &self.task.cfg;
        DialOptions {
            tls: self.task.net.tls_options(),
            family: if cfg.disable_ipv6 {
                FamilyPref::V4Only
            } else {
                FamilyPref::Any
            },
            connect_timeout: cfg.connect_timeout,
            timeout: cfg.timeout,
        }
    }
}

/// A response head as received (aria2 logs the raw head).
fn response_text(head: &ResponseHead) -> String {
    let mut s = format!(
        "HTTP/1.{} {} {}\r\n",
        head.version, head.status, head.reason
    );
    for (name, value) in &head.headers {
        s.push_str(name);
        s.push_str(": ");
        s.push_str(&String::from_utf8_lossy(value));
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s
}

/// Reads up to `want` decoded body bytes (fewer when the body ends).
/// `timeout` bounds each wait for bytes, not the whole chunk, so a slow but
/// moving server is not cut off.
async fn read_chunk(
    open: &mut Open,
    writer: &FileWriter,
    want: usize,
    timeout: Duration,
    received: &AtomicU64,
) -> Chunk {
    let flush_at = Instant::now() + FLUSH_AFTER;
    let mut finished = false;
    let mut error = None;
    if let Some(dec) = open.decoder.as_mut() {
        let mut out = Vec::with_capacity(want);
        let mut raw = vec![0u8; 64 << 10];
        while out.len() < want && !finished {
            let c = match with_timeout(timeout, open.conn.read_body_into(&mut raw)).await {
                Ok(c) => c,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            received.fetch_add(c.appended as u64, Ordering::Relaxed);
            if let Err(e) = dec.decode(&raw[..c.appended], &mut out) {
                error = Some(e.into());
                break;
            }
            finished = c.finished;
            if !out.is_empty() && Instant::now() >= flush_at {
                break;
            }
        }
        if finished {
            if let Err(e) = dec.finish() {
                error = Some(e.into());
            }
        }
        // A decoded stream cannot be resumed mid-way; partial output of a
        // failed stream is dropped with it.
        if error.is_some() {
            out.clear();
        }
        return Chunk {
            len: out.len(),
            buf: ChunkBuf::Heap(out),
            finished,
            error,
        };
    }
    let mut buf = writer.chunk(want);
    let mut filled = 0;
    while filled < want {
        let dst = &mut buf.as_mut_slice()[filled..want];
        match with_timeout(timeout, open.conn.read_body_into(dst)).await {
            Ok(c) => {
                filled += c.appended;
                received.fetch_add(c.appended as u64, Ordering::Relaxed);
                if c.finished {
                    finished = true;
                    break;
                }
                if filled > 0 && Instant::now() >= flush_at {
                    break;
                }
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    Chunk {
        buf,
        len: filled,
        finished,
        error,
    }
}

/// Metalink/HTTP (RFC 6249): `Link: rel=duplicate` mirrors (made absolute
/// against the response's URL, best first) and the strongest `Digest:`.
fn metalink_http(head: &ResponseHead, url: &Url, info: &mut ProbeInfo) {
    let links: Vec<_> = head
        .headers_all("link")
        .flat_map(|v| arietta_metalink::http_link::parse_link_header(&String::from_utf8_lossy(v)))
        .collect();
    info.mirrors = arietta_metalink::http_link::duplicate_mirrors(&links)
        .into_iter()
        .filter_map(|l| l.absolute_uri(url))
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.to_string())
        .filter(|u| u.as_str() != url.as_str())
        .collect();
    info.digest = head
        .headers_all("digest")
        .flat_map(|v| arietta_metalink::http_link::parse_digest_header(&String::from_utf8_lossy(v)))
        .max_by_key(|c| c.algo);
}

fn check_status(head: &ResponseHead) -> Result<(), FetchError> {
    if (200..300).contains(&head.status) {
        Ok(())
    } else {
        Err(HttpError::Status {
            status: head.status,
        }
        .into())
    }
}

async fn with_timeout<T>(
    d: Duration,
    fut: impl std::future::Future<Output = Result<T, impl Into<FetchError>>>,
) -> Result<T, FetchError> {
    if d.is_zero() {
        return fut.await.map_err(Into::into);
    }
    future::or(async { fut.await.map_err(Into::into) }, async {
        glommio::timer::sleep(d).await;
        Err(FetchError::Timeout(d.as_secs()))
    })
    .await
}
