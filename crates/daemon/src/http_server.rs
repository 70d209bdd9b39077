//! The RPC listener: HTTP/1.1 with keep-alive on core 0, JSON-RPC over
//! `POST /jsonrpc` and `GET /jsonrpc?method=…`.
//!
//! Abuse bounds (see docs/architecture.md, "The daemon"): at most
//! [`RpcSettings::max_connections`] sockets at once (at the cap the one
//! that has waited longest for its request is closed to admit a new one),
//! each given [`RpcSettings::request_timeout`] to deliver a whole request;
//! a body over `--rpc-max-request-size` refused from its `Content-Length`
//! before a byte of it is read, a head over [`MAX_HEAD`] refused, and a
//! WebSocket client that does not read its answers no longer read from.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use arietta_core::control::ControlHandle;
use arietta_options::OptionSet;
use arietta_rpc::json::{self, JsonRequest};
use arietta_rpc::{websocket, xml};
use arietta_rpc::{Limits, Param, Secret};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::TcpListener;

use crate::dispatch::{run_call, Ctx};
use crate::RpcSettings;

/// The longest request head accepted. aria2 has no limit; real clients send
/// a few hundred bytes, and an unbounded head is unbounded memory.
const MAX_HEAD: usize = 16 << 10;

/// How much a connection reads at a time. An idle connection holds this
/// much while it waits, so it is kept small.
const READ_CHUNK: usize = 4096;

/// Accepts RPC connections on every listener until the engine shuts down.
pub async fn serve(
    listeners: Vec<std::net::TcpListener>,
    settings: RpcSettings,
    global: OptionSet,
    handle: ControlHandle,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) {
    let server = Rc::new(Server {
        ctx: Ctx {
            handle,
            secret: settings.secret.as_deref().map(Secret::new),
            global: RefCell::new(global),
            global_parent: RefCell::default(),
            session_id: format!("{:016x}", arietta_core::Gid::new().0),
        },
        limits: Limits {
            max_request_size: settings.max_request_size,
            ..Limits::default()
        },
        basic_auth: settings.basic_auth.as_ref().map(|(u, p)| BasicAuth {
            user: Secret::new(u),
            passwd: (!p.is_empty()).then(|| Secret::new(p)),
        }),
        allow_origin_all: settings.allow_origin_all,
        metrics: settings.metrics,
        request_timeout: settings.request_timeout,
        max_connections: settings.max_connections,
        open: Cell::new(0),
        waiting: RefCell::new(BTreeMap::new()),
        next_ticket: Cell::new(0),
    });
    // Not detached: when the service ends, dropping these stops accepting.
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|l| glommio::spawn_local(accept_loop(l, server.clone(), tls.clone())))
        .collect();
    for l in loops {
        l.await;
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    server: Rc<Server>,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) {
    // SAFETY: the descriptor comes from a listener we own and give up here;
    // glommio's listener becomes its only owner.
    let listener = unsafe { TcpListener::from_raw_fd(listener.into_raw_fd()) };
    loop {
        let stream = match listener.accept().await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!("RPC: accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if server.open.get() >= server.max_connections && !server.evict_oldest_waiting() {
            // Every slot is busy with a request or a WebSocket: closing the
            // newcomer at once frees its descriptor.
            tracing::debug!(
                "RPC: {} connections open, closing a new one",
                server.open.get()
            );
            continue;
        }
        tracing::info!("RPC: Accepted the connection from {}.", peer(&stream));
        // Answers are small and often pipelined: Nagle plus the client's
        // delayed ACK would hold them back tens of ms.
        let _ = stream.set_nodelay(true);
        let slot = Slot::take(server.clone());
        match &tls {
            None => glommio::spawn_local(connection(stream, slot)).detach(),
            Some(cfg) => {
                let acceptor = futures_rustls::TlsAcceptor::from(cfg.clone());
                glommio::spawn_local(async move {
                    // A handshake that never finishes holds its slot no longer
                    // than a request that never comes, and may be evicted.
                    let deadline = Instant::now() + slot.server.request_timeout;
                    let handshake = before(deadline, acceptor.accept(stream));
                    if let Some(Some(Ok(s))) = slot.server.evictable(handshake).await {
                        connection(s, slot).await;
                    }
                })
                .detach()
            }
        };
        // Let the new connection read what it already has before the next
        // accept: under a flood of connects, a client whose request is
        // waiting is served at once instead of being evicted unread.
        futures_lite::future::yield_now().await;
    }
}

/// aria2's `ADDR:PORT` (no brackets around an IPv6 address).
fn peer(stream: &glommio::net::TcpStream) -> String {
    stream
        .peer_addr()
        .map(|a| format!("{}:{}", a.ip(), a.port()))
        .unwrap_or_default()
}

/// Plain TCP or TLS (`--rpc-secure`).
trait Stream: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin {}
impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> Stream for T {}

/// `--rpc-user`/`--rpc-passwd`, kept as digests compared in constant
/// time, as aria2 keeps HMACs.
struct BasicAuth {
    user: Secret,
    /// An empty `--rpc-passwd` accepts any password, as in aria2.
    passwd: Option<Secret>,
}

impl BasicAuth {
    /// Whether an `Authorization` value carries our user and password.
    fn admits(&self, authorization: Option<&str>) -> bool {
        use base64::Engine as _;
        let Some(b64) = authorization.and_then(|v| v.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
            return false;
        };
        let text = String::from_utf8_lossy(&raw);
        let (user, passwd) = text.split_once(':').unwrap_or((&text, ""));
        let user_ok = self.user.matches(user);
        let passwd_ok = self.passwd.as_ref().is_none_or(|p| p.matches(passwd));
        user_ok & passwd_ok
    }
}

struct Server {
    ctx: Ctx,
    limits: Limits,
    basic_auth: Option<BasicAuth>,
    allow_origin_all: bool,
    metrics: bool,
    request_timeout: Duration,
    max_connections: usize,
    /// Connections now open, counted by [`Slot`].
    open: Cell<usize>,
    /// Connections waiting for (or part way through) a request, by the
    /// order they began waiting: at the cap, the oldest is closed to let a
    /// newcomer in, so a flood of idle sockets delays no real client.
    waiting: RefCell<BTreeMap<u64, LocalSender<()>>>,
    next_ticket: Cell<u64>,
}

impl Server {
    /// Registers a connection as waiting for a request; the receiver
    /// yields when [`evict_oldest_waiting`](Self::evict_oldest_waiting)
    /// picks it.
    fn wait_begin(&self) -> (u64, LocalReceiver<()>) {
        let ticket = self.next_ticket.get();
        self.next_ticket.set(ticket + 1);
        let (tx, rx) = local_channel::new_bounded(1);
        self.waiting.borrow_mut().insert(ticket, tx);
        (ticket, rx)
    }

    fn wait_end(&self, ticket: u64) {
        self.waiting.borrow_mut().remove(&ticket);
    }

    /// Runs `fut` with the connection counted as waiting: `None` when the
    /// cap evicted it first.
    async fn evictable<T>(&self, fut: impl std::future::Future<Output = T>) -> Option<T> {
        let (ticket, evicted) = self.wait_begin();
        let out = futures_lite::future::or(async { Some(fut.await) }, async {
            evicted.recv().await;
            None
        })
        .await;
        self.wait_end(ticket);
        out
    }

    /// Tells the longest-waiting connection to close; false when none
    /// waits (every connection is in a request or a WebSocket).
    fn evict_oldest_waiting(&self) -> bool {
        let Some((_, tx)) = self.waiting.borrow_mut().pop_first() else {
            return false;
        };
        tracing::debug!(
            "RPC: {} connections open, closing the longest idle",
            self.open.get()
        );
        let _ = tx.try_send(());
        true
    }
}

/// One counted connection: the count drops when its task ends, however it
/// ends (closed, timed out, cancelled at shutdown).
struct Slot {
    server: Rc<Server>,
}

impl Slot {
    fn take(server: Rc<Server>) -> Slot {
        server.open.set(server.open.get() + 1);
        Slot { server }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.server.open.set(self.server.open.get() - 1);
    }
}

/// Runs `fut` until `deadline`; `None` when the deadline came first.
async fn before<T>(deadline: Instant, fut: impl std::future::Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(fut.await) }, async {
        glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
        None
    })
    .await
}

struct Request {
    method: String,
    path: String,
    keep_alive: bool,
    /// `Accept-Encoding` names `gzip`: aria2 then gzips every answer.
    gzip: bool,
    /// The CORS headers a preflight gets (aria2 sends them only when the
    /// request has `Origin` and `Access-Control-Request-Method` and
    /// `--rpc-allow-origin-all` is on).
    preflight: Option<String>,
    body: Vec<u8>,
    /// The checked `Upgrade: websocket` handshake, when one was asked for.
    websocket: Option<Result<websocket::Upgrade, arietta_rpc::Error>>,
    /// The `Authorization` header, for `--rpc-user`.
    authorization: Option<String>,
}

/// Why no request came: each ends the connection without an answer, as
/// aria2 does (it answers nothing it cannot read).
#[derive(Debug)]
enum NoRequest {
    /// The peer closed, or the socket failed.
    Closed,
    /// No complete head (or body) within the request timeout.
    Timeout { in_body: bool },
    /// A head httparse cannot read, or longer than [`MAX_HEAD`].
    BadHead,
    /// A `Content-Length` that is not a number.
    BadLength(String),
    /// A `Content-Length` over `--rpc-max-request-size`.
    TooLarge(u64),
}

/// A parsed request head, owned: nothing borrows the read buffer across
/// the awaits that follow, and an idle connection's future stays small.
struct Head {
    method: String,
    path: String,
    keep_alive: bool,
    gzip: bool,
    preflight: Option<String>,
    content_length: usize,
    websocket: Option<Result<websocket::Upgrade, arietta_rpc::Error>>,
    authorization: Option<String>,
    /// Bytes of `buf` the head took.
    len: usize,
}

/// Parses the head at the start of `buf`: `Ok(None)` while it is
/// incomplete. Pure, so the checks are testable without sockets.
fn parse_head(
    buf: &[u8],
    max_body: usize,
    allow_origin_all: bool,
) -> Result<Option<Head>, NoRequest> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(NoRequest::BadHead),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(NoRequest::BadHead),
    };
    tracing::info!(
        "HTTP Server received request\n{}",
        String::from_utf8_lossy(&buf[..len]).trim_end()
    );
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
    };
    let content_length = match header("content-length") {
        None => 0,
        Some(v) => v.parse::<u64>().map_err(|_| NoRequest::BadLength(v))?,
    };
    let mut keep_alive = req.version == Some(1);
    if let Some(v) = header("connection") {
        let v = v.to_ascii_lowercase();
        keep_alive = !v.contains("close") && (keep_alive || v.contains("keep-alive"));
    }
    let gzip = header("accept-encoding").is_some_and(|v| accepts_gzip(&v));
    let method = req.method.unwrap_or("").to_owned();
    let path = req.path.unwrap_or("").to_owned();
    let wants_ws = req.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("upgrade") && h.value.eq_ignore_ascii_case(b"websocket")
    });
    let websocket = wants_ws.then(|| websocket::check_upgrade(&method, req.headers));
    let content_length = match usize::try_from(content_length) {
        Ok(n) if websocket.is_some() || n <= max_body => n,
        _ => return Err(NoRequest::TooLarge(content_length)),
    };
    let preflight = (method == "OPTIONS"
        && allow_origin_all
        && header("origin").is_some_and(|v| !v.is_empty())
        && header("access-control-request-method").is_some_and(|v| !v.is_empty()))
    .then(|| {
        let mut h = String::from(
            "Access-Control-Allow-Methods: POST, GET, OPTIONS\r\nAccess-Control-Max-Age: 1728000\r\n",
        );
        if let Some(asked) = header("access-control-request-headers").filter(|v| !v.is_empty()) {
            h.push_str(&format!("Access-Control-Allow-Headers: {asked}\r\n"));
        }
        h
    });
    Ok(Some(Head {
        method,
        path,
        keep_alive,
        gzip,
        preflight,
        content_length,
        websocket,
        authorization: header("authorization"),
        len,
    }))
}

/// Reads one request, giving up at `deadline`.
async fn read_request<S: Stream>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    server: &Server,
    deadline: Instant,
) -> Result<Request, NoRequest> {
    let head = loop {
        match parse_head(buf, server.limits.max_request_size, server.allow_origin_all)? {
            Some(head) => break head,
            None => read_more(stream, buf, deadline)
                .await
                .map_err(|_| NoRequest::Timeout { in_body: false })??,
        }
    };
    // A WebSocket upgrade's body, if any, is left for the frame decoder.
    let body_len = if head.websocket.is_some() {
        0
    } else {
        head.content_length
    };
    let end = head.len + body_len;
    while buf.len() < end {
        read_more(stream, buf, deadline)
            .await
            .map_err(|_| NoRequest::Timeout { in_body: true })??;
    }
    let body = buf[head.len..end].to_vec();
    buf.drain(..end);
    Ok(Request {
        method: head.method,
        path: head.path,
        keep_alive: head.keep_alive,
        gzip: head.gzip,
        preflight: head.preflight,
        body,
        websocket: head.websocket,
        authorization: head.authorization,
    })
}

/// Whether an `Accept-Encoding` value names gzip. As aria2: a plain
/// comma-separated token compare, so `gzip;q=0.5` does not count.
fn accepts_gzip(value: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("gzip"))
}

/// The deadline passed.
struct Late;

/// Appends what one read brings; `Ok(Err(Closed))` at the end of the
/// stream or on an error.
async fn read_more<S: Stream>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<Result<(), NoRequest>, Late> {
    let at = buf.len();
    buf.resize(at + READ_CHUNK, 0);
    let read = before(deadline, stream.read(&mut buf[at..])).await;
    let n = match read {
        Some(Ok(n)) => n,
        Some(Err(_)) => 0,
        None => {
            buf.truncate(at);
            return Err(Late);
        }
    };
    buf.truncate(at + n);
    Ok(if n == 0 {
        Err(NoRequest::Closed)
    } else {
        Ok(())
    })
}

/// aria2's status lines (the subset the server sends).
fn status_line(status: u16) -> &'static str {
    match status {
        200 => "200 OK",
        400 => "400 Bad Request",
        401 => "401 Unauthorized",
        404 => "404 Not Found",
        413 => "413 Request Entity Too Large",
        503 => "503 Service Unavailable",
        _ => "500 Internal Server Error",
    }
}

/// One answer, laid out as aria2's `HttpServer::feedResponse` lays it out.
struct Response {
    status: u16,
    /// `None` for the empty answers, which aria2 sends without a type.
    content_type: Option<&'static str>,
    body: String,
    /// Extra header lines (each ending in CRLF), after the standard ones.
    extra: String,
}

impl Response {
    fn empty(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            body: String::new(),
            extra: String::new(),
        }
    }

    fn with(status: u16, content_type: &'static str, body: String) -> Response {
        Response {
            status,
            content_type: Some(content_type),
            body,
            extra: String::new(),
        }
    }
}

/// The bytes of an answer: head, then the body (gzipped when `gzip`).
fn encode_response(r: &Response, allow_origin_all: bool, gzip: bool, keep_alive: bool) -> Vec<u8> {
    let body = if gzip && !r.body.is_empty() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let _ = enc.write_all(r.body.as_bytes());
        enc.finish().unwrap_or_default()
    } else {
        r.body.as_bytes().to_vec()
    };
    let date = arietta_http::date::format_http_date(std::time::SystemTime::now());
    let mut head = format!(
        "HTTP/1.1 {}\r\nDate: {date}\r\nContent-Length: {}\r\nExpires: {date}\r\nCache-Control: no-cache\r\n",
        status_line(r.status),
        body.len()
    );
    if let Some(t) = r.content_type {
        head.push_str(&format!("Content-Type: {t}\r\n"));
    }
    if allow_origin_all {
        head.push_str("Access-Control-Allow-Origin: *\r\n");
    }
    if gzip {
        head.push_str("Content-Encoding: gzip\r\n");
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str(&r.extra);
    head.push_str("\r\n");
    tracing::debug!("HTTP Server sends response:\n{}", head.trim_end());
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    out
}

async fn answer_json(server: &Server, request: JsonRequest) -> (u16, String) {
    match request {
        JsonRequest::Single(Ok(call)) => {
            let id = call.id.clone();
            let outcome = run_call(&server.ctx, call).await;
            (
                json::http_status(&outcome),
                json::encode_response(&id, &outcome),
            )
        }
        JsonRequest::Single(Err(rejected)) => {
            let outcome: Result<Param, _> = Err(rejected.error.clone());
            (
                json::http_status(&outcome),
                json::encode_rejected(&rejected),
            )
        }
        JsonRequest::Batch(calls) => {
            let mut out = Vec::with_capacity(calls.len());
            for c in calls {
                out.push(match c {
                    Ok(call) => {
                        let id = call.id.clone();
                        let outcome = run_call(&server.ctx, call).await;
                        json::encode_response(&id, &outcome)
                    }
                    Err(rejected) => json::encode_rejected(&rejected),
                });
            }
            (200, json::encode_batch(out))
        }
    }
}

/// Logs why a connection ends without a request, in aria2's words.
fn log_no_request(why: &NoRequest) {
    match why {
        NoRequest::Closed => {}
        NoRequest::Timeout { in_body: false } => tracing::info!("HTTP request timeout."),
        NoRequest::Timeout { in_body: true } => tracing::info!("HTTP request body timeout."),
        NoRequest::BadHead => {
            tracing::info!("RPC: Error occurred while reading HTTP request: bad request head")
        }
        NoRequest::BadLength(v) => {
            tracing::info!(
                "RPC: Error occurred while reading HTTP request: Invalid Content-Length={v}"
            )
        }
        NoRequest::TooLarge(n) => tracing::info!(
            "Request too long. ContentLength={n}. See --rpc-max-request-size option to loose this limitation."
        ),
    }
}

async fn connection<S: Stream + 'static>(mut stream: S, slot: Slot) {
    let server = slot.server.clone();
    let _slot = slot;
    let mut buf = Vec::new();
    loop {
        // One deadline for the wait, the head and the body: a peer that
        // trickles a byte at a time gets no more time than a silent one.
        // aria2 restarts its 30 s on every byte, which lets a trickle hold
        // the socket forever.
        let deadline = Instant::now() + server.request_timeout;
        let read = server
            .evictable(read_request(&mut stream, &mut buf, &server, deadline))
            .await;
        let req = match read {
            Some(Ok(r)) => r,
            Some(Err(why)) => {
                log_no_request(&why);
                return;
            }
            None => return,
        };
        let (path, query) = match req.path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (req.path.as_str(), None),
        };
        // As aria2: every request but a CORS preflight must carry
        // `--rpc-user`'s credentials, or gets 401 and the connection ends.
        let refused = server
            .basic_auth
            .as_ref()
            .is_some_and(|a| req.method != "OPTIONS" && !a.admits(req.authorization.as_deref()));
        if refused {
            let denied = Response {
                extra: "WWW-Authenticate: Basic realm=\"aria2\"\r\n".into(),
                ..Response::empty(401)
            };
            let bytes = encode_response(&denied, server.allow_origin_all, req.gzip, false);
            let _ = before(deadline, stream.write_all(&bytes)).await;
            return;
        }
        if let Some(upgrade) = req.websocket {
            match upgrade {
                Ok(up) if path == "/jsonrpc" => {
                    tracing::info!("RPC: WebSocket session started");
                    if stream
                        .write_all(&websocket::upgrade_response(&up))
                        .await
                        .is_ok()
                    {
                        // The slot stays taken for the session's life.
                        let leftover = std::mem::take(&mut buf);
                        websocket_session(stream, server, leftover).await;
                    }
                }
                Ok(_) => {
                    let bytes = encode_response(
                        &Response::empty(404),
                        server.allow_origin_all,
                        req.gzip,
                        false,
                    );
                    let _ = before(deadline, stream.write_all(&bytes)).await;
                }
                Err(e) => {
                    let _ = stream.write_all(&websocket::rejection_response(&e)).await;
                }
            }
            return;
        }
        let response = match (req.method.as_str(), path, query) {
            // aria2 answers a CORS preflight 200 with an empty body.
            ("OPTIONS", _, _) => Response {
                extra: req.preflight.clone().unwrap_or_default(),
                ..Response::empty(200)
            },
            ("GET", "/metrics", _) if server.metrics => {
                match crate::metrics::render(&server.ctx.handle).await {
                    Some(text) => Response::with(200, "text/plain; version=0.0.4", text),
                    None => Response::empty(503),
                }
            }
            ("POST", "/jsonrpc", _) => match json::decode_request(&req.body, &server.limits) {
                Ok(request) => {
                    let (s, b) = answer_json(&server, request).await;
                    Response::with(s, "application/json-rpc", b)
                }
                // Only a body over the limit, which the head check already
                // refused: aria2 drops such a connection unanswered.
                Err(_) => return,
            },
            // As aria2: an unreadable XML body gets a bare 400, faults a 200.
            ("POST", "/rpc", _) => match xml::decode_call(&req.body, &server.limits) {
                Ok(call) => {
                    let outcome = run_call(&server.ctx, call).await;
                    Response::with(200, "text/xml", xml::encode_response(&outcome))
                }
                Err(_) => Response::empty(400),
            },
            ("GET", "/jsonrpc", Some(q)) => match json::decode_get_query(q, &server.limits) {
                Ok(get) => {
                    let (s, b) = answer_json(&server, get.request).await;
                    match get.callback {
                        Some(cb) => Response::with(s, "text/javascript", json::wrap_jsonp(&cb, &b)),
                        None => Response::with(s, "application/json-rpc", b),
                    }
                }
                Err(_) => Response::empty(400),
            },
            _ => Response::empty(404),
        };
        let bytes = encode_response(&response, server.allow_origin_all, req.gzip, req.keep_alive);
        // A peer that does not read its answer is held no longer than one
        // that does not send its request.
        let deadline = Instant::now() + server.request_timeout;
        let sent = before(deadline, stream.write_all(&bytes)).await;
        if !matches!(sent, Some(Ok(()))) || !req.keep_alive {
            return;
        }
    }
}

/// A WebSocket client: JSON-RPC requests in text frames, answers and
/// download notifications out. One writer task owns the socket's write
/// half so answers and notifications never interleave mid-frame.
async fn websocket_session<S: Stream + 'static>(stream: S, server: Rc<Server>, leftover: Vec<u8>) {
    use arietta_core::control::{Control, EventKind};
    use arietta_rpc::Notification;

    let (mut rd, mut wr) = futures_lite::io::split(stream);
    let out = Rc::new(Outbox::default());
    let writer = {
        let out = out.clone();
        glommio::spawn_local(async move {
            // Everything queued while the previous write was in flight goes
            // out in one write: pipelined clients get their answers batched.
            while let Some(()) = out.wake_rx.recv().await {
                let bytes = std::mem::take(&mut *out.pending.borrow_mut());
                if bytes.is_empty() {
                    continue;
                }
                out.in_flight.set(bytes.len());
                let written = wr.write_all(&bytes).await;
                out.in_flight.set(0);
                if written.is_err() {
                    out.broken.set(true);
                    break;
                }
            }
        })
    };
    let out_tx = out.clone();
    let (ev_tx, ev_rx) = arietta_runtime::mailbox();
    let _ = server.ctx.handle.tell(Control::Subscribe { events: ev_tx });
    let notify_tx = out.clone();
    let notifier = glommio::spawn_local(async move {
        while let Some(ev) = ev_rx.recv().await {
            let n = match ev.kind {
                EventKind::Start => Notification::DownloadStart,
                EventKind::Pause => Notification::DownloadPause,
                EventKind::Stop => Notification::DownloadStop,
                EventKind::Complete => Notification::DownloadComplete,
                EventKind::Error => Notification::DownloadError,
                EventKind::BtComplete => Notification::BtDownloadComplete,
            };
            let text = json::encode_notification(n, &ev.gid.to_string());
            notify_tx.push(&websocket::encode_text(&text));
        }
    })
    .detach();

    let mut decoder = websocket::FrameDecoder::new(server.limits.max_request_size);
    decoder.feed(&leftover);
    // Its capacity would otherwise live as long as the session.
    drop(leftover);
    let mut chunk = vec![0u8; WS_READ_CHUNK];
    'session: loop {
        loop {
            match decoder.next_frame() {
                Ok(None) => {
                    // Every frame this read delivered is answered: send the
                    // answers in one write (a pipelining client gets one
                    // syscall per read, not one per request).
                    out_tx.flush();
                    break;
                }
                Ok(Some(websocket::Frame::Text(text))) => {
                    let reply = answer_ws(&server, text.as_bytes()).await;
                    out_tx.queue(&websocket::encode_text(&reply));
                }
                Ok(Some(websocket::Frame::Binary(bytes))) => {
                    let reply = answer_ws(&server, &bytes).await;
                    out_tx.queue(&websocket::encode_text(&reply));
                }
                Ok(Some(websocket::Frame::Ping(p))) => {
                    out_tx.queue(&websocket::encode_pong(&p));
                }
                Ok(Some(websocket::Frame::Pong(_))) => {}
                Ok(Some(websocket::Frame::Close(_))) => {
                    out_tx.push(&websocket::encode_close(1000, ""));
                    break 'session;
                }
                Err(arietta_rpc::Error::WebSocket { close_code, reason }) => {
                    out_tx.push(&websocket::encode_close(close_code, reason));
                    break 'session;
                }
                Err(_) => break 'session,
            }
        }
        // Back-pressure: a client that sends requests and never reads the
        // answers is not read from until they drain, so its answers cannot
        // pile up here without bound (aria2 queues them all).
        while out.backlog() > WS_BACKLOG {
            if out.broken.get() {
                break 'session;
            }
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => decoder.feed(&chunk[..n]),
        }
    }
    out_tx.flush();
    drop(out_tx);
    notifier.cancel();
    out.close();
    // The writer flushes what is queued (the close frame) and ends.
    futures_lite::future::or(
        writer,
        glommio::timer::sleep(std::time::Duration::from_secs(1)),
    )
    .await;
}

async fn answer_ws(server: &Server, body: &[u8]) -> String {
    match json::decode_request(body, &server.limits) {
        Ok(request) => answer_json(server, request).await.1,
        Err(e) => json::encode_response(&arietta_rpc::Id::Null, &Err(e)),
    }
}

/// How much a WebSocket session reads at a time. Every open session holds
/// this much while it waits; 4 KiB still carries dozens of pipelined
/// requests per read.
const WS_READ_CHUNK: usize = 4 << 10;

/// Unsent answer bytes above which a WebSocket session stops reading
/// requests until its client reads.
const WS_BACKLOG: usize = 1 << 20;

/// Frames waiting for the WebSocket writer task.
struct Outbox {
    pending: RefCell<Vec<u8>>,
    /// Bytes the writer has taken and not yet written.
    in_flight: Cell<usize>,
    /// The writer failed: nothing queued will be sent.
    broken: Cell<bool>,
    wake_tx: RefCell<Option<glommio::channels::local_channel::LocalSender<()>>>,
    wake_rx: glommio::channels::local_channel::LocalReceiver<()>,
}

impl Default for Outbox {
    fn default() -> Self {
        let (tx, rx) = glommio::channels::local_channel::new_unbounded();
        Outbox {
            pending: RefCell::new(Vec::new()),
            in_flight: Cell::new(0),
            broken: Cell::new(false),
            wake_tx: RefCell::new(Some(tx)),
            wake_rx: rx,
        }
    }
}

impl Outbox {
    /// Bytes queued or being written.
    fn backlog(&self) -> usize {
        self.pending.borrow().len() + self.in_flight.get()
    }

    /// Queues a frame and wakes the writer (notifications, close frames).
    fn push(&self, frame: &[u8]) {
        self.queue(frame);
        self.flush();
    }

    /// Queues a frame without waking the writer: answers to a pipelined
    /// read are queued one by one and flushed together.
    fn queue(&self, frame: &[u8]) {
        self.pending.borrow_mut().extend_from_slice(frame);
    }

    /// Wakes the writer if anything is queued.
    fn flush(&self) {
        if self.pending.borrow().is_empty() {
            return;
        }
        if let Some(tx) = self.wake_tx.borrow().as_ref() {
            let _ = tx.try_send(());
        }
    }

    /// Lets the writer finish what is queued, then stop.
    fn close(&self) {
        self.wake_tx.borrow_mut().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn rpc_user_and_passwd_are_checked_as_basic_auth() {
        let a = BasicAuth {
            user: Secret::new("u"),
            passwd: Some(Secret::new("p:w")),
        };
        // "u:p:w", "u:x", "v:p:w"
        assert!(a.admits(Some("Basic dTpwOnc=")));
        assert!(!a.admits(Some("Basic dTp4")));
        assert!(!a.admits(Some("Basic djpwOnc=")));
        assert!(!a.admits(Some("Bearer dTpwOnc=")));
        assert!(!a.admits(Some("Basic !!!")));
        assert!(!a.admits(None));
        let any_passwd = BasicAuth {
            user: Secret::new("u"),
            passwd: None,
        };
        assert!(any_passwd.admits(Some("Basic dTp4")));
    }

    #[test]
    fn gzip_is_a_plain_token_as_in_aria2() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("deflate,GZIP"));
        assert!(!accepts_gzip("deflate"));
        assert!(!accepts_gzip("gzip;q=1.0"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn heads_are_refused_before_their_bodies_are_read() {
        let post = |len: &str| format!("POST /jsonrpc HTTP/1.1\r\nContent-Length: {len}\r\n\r\n");
        assert!(matches!(
            parse_head(post("104857600").as_bytes(), 2 << 20, false),
            Err(NoRequest::TooLarge(104857600))
        ));
        assert!(matches!(
            parse_head(post("-1").as_bytes(), 2 << 20, false),
            Err(NoRequest::BadLength(_))
        ));
        let ok = parse_head(post("10").as_bytes(), 2 << 20, false)
            .unwrap()
            .unwrap();
        assert_eq!((ok.content_length, ok.keep_alive), (10, true));
        // Half a head waits for more; a head past 16 KiB is refused.
        assert!(
            parse_head(b"POST /jsonrpc HTTP/1.1\r\nHost", 2 << 20, false)
                .unwrap()
                .is_none()
        );
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_HEAD + 1, b'a');
        assert!(matches!(
            parse_head(&long, 2 << 20, false),
            Err(NoRequest::BadHead)
        ));
        assert!(matches!(
            parse_head(b"\x00\x01\r\n\r\n", 2 << 20, false),
            Err(NoRequest::BadHead)
        ));
    }

    #[test]
    fn preflight_headers_only_for_a_real_preflight_with_allow_origin_all() {
        let req = b"OPTIONS /jsonrpc HTTP/1.1\r\nOrigin: http://ui\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n";
        let head = parse_head(req, 1024, true).unwrap().unwrap();
        assert_eq!(
            head.preflight.as_deref(),
            Some("Access-Control-Allow-Methods: POST, GET, OPTIONS\r\nAccess-Control-Max-Age: 1728000\r\nAccess-Control-Allow-Headers: content-type\r\n")
        );
        assert!(!head.keep_alive);
        assert!(parse_head(req, 1024, false)
            .unwrap()
            .unwrap()
            .preflight
            .is_none());
    }

    fn head_names(bytes: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(bytes);
        let head = text.split("\r\n\r\n").next().unwrap();
        head.lines()
            .skip(1)
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn answers_are_laid_out_as_aria2s_and_gzipped_when_accepted() {
        let r = Response::with(200, "application/json-rpc", "{\"result\":1}".into());
        let plain = encode_response(&r, false, false, true);
        assert!(plain.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert_eq!(
            head_names(&plain),
            [
                "Date",
                "Content-Length",
                "Expires",
                "Cache-Control",
                "Content-Type"
            ]
        );
        assert!(plain.ends_with(b"\r\n\r\n{\"result\":1}"));

        let zipped = encode_response(&r, true, true, false);
        assert_eq!(
            head_names(&zipped),
            [
                "Date",
                "Content-Length",
                "Expires",
                "Cache-Control",
                "Content-Type",
                "Access-Control-Allow-Origin",
                "Content-Encoding",
                "Connection"
            ]
        );
        let at = zipped.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&zipped[..at]);
        assert!(head.contains(&format!("Content-Length: {}\r\n", zipped.len() - at)));
        let mut body = String::new();
        flate2::read::GzDecoder::new(&zipped[at..])
            .read_to_string(&mut body)
            .unwrap();
        assert_eq!(body, "{\"result\":1}");

        // Empty answers say gzip too, with nothing to unzip, as aria2's do.
        let empty = encode_response(&Response::empty(404), false, true, true);
        let text = String::from_utf8_lossy(&empty);
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(
            text.contains("Content-Length: 0\r\n") && text.contains("Content-Encoding: gzip\r\n")
        );
        assert!(!text.contains("Content-Type"));
    }
}
