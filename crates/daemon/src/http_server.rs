//! The RPC listener: HTTP/1.1 with keep-alive on core 0, JSON-RPC over
//! `POST /jsonrpc` and `GET /jsonrpc?method=…`.

use std::cell::RefCell;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;

use arietta_core::control::ControlHandle;
use arietta_options::OptionSet;
use arietta_rpc::json::{self, JsonRequest};
use arietta_rpc::{websocket, xml};
use arietta_rpc::{Limits, Param, Secret};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpListener;

use crate::dispatch::{run_call, Ctx};
use crate::RpcSettings;

const MAX_HEAD: usize = 16 << 10;

/// Accepts RPC connections until the engine shuts down.
pub async fn serve(
    listener: std::net::TcpListener,
    settings: RpcSettings,
    global: OptionSet,
    handle: ControlHandle,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) {
    // SAFETY: the descriptor comes from a listener we own and give up here;
    // glommio's listener becomes its only owner.
    let listener = unsafe { TcpListener::from_raw_fd(listener.into_raw_fd()) };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(
            "RPC: listening on TCP {addr}{}",
            if tls.is_some() { " (TLS)" } else { "" }
        );
    }
    let ctx = Rc::new(Server {
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
        allow_origin_all: settings.allow_origin_all,
        metrics: settings.metrics,
    });
    loop {
        match listener.accept().await {
            Ok(stream) => {
                // The peer is looked up only when DEBUG is logged.
                tracing::debug!(
                    "RPC: accepted a connection from {}",
                    stream
                        .peer_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default()
                );
                // Answers are small and often pipelined: Nagle plus the
                // client's delayed ACK would hold them back tens of ms.
                let _ = stream.set_nodelay(true);
                let ctx = ctx.clone();
                match &tls {
                    None => glommio::spawn_local(connection(stream, ctx)).detach(),
                    Some(cfg) => {
                        let acceptor = futures_rustls::TlsAcceptor::from(cfg.clone());
                        glommio::spawn_local(async move {
                            if let Ok(s) = acceptor.accept(stream).await {
                                connection(s, ctx).await;
                            }
                        })
                        .detach()
                    }
                };
            }
            Err(e) => {
                tracing::debug!("RPC: accept failed: {e}");
                glommio::timer::sleep(std::time::Duration::from_millis(50)).await
            }
        }
    }
}

/// Plain TCP or TLS (`--rpc-secure`).
trait Stream: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin {}
impl<T: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> Stream for T {}

struct Server {
    ctx: Ctx,
    limits: Limits,
    allow_origin_all: bool,
    metrics: bool,
}

struct Request {
    method: String,
    path: String,
    keep_alive: bool,
    body: Vec<u8>,
    /// The checked `Upgrade: websocket` handshake, when one was asked for.
    websocket: Option<Result<websocket::Upgrade, arietta_rpc::Error>>,
}

/// Reads one request; `None` at a clean end or on a broken one.
async fn read_request<S: Stream>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    max_body: usize,
) -> Option<Result<Request, u16>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                tracing::info!(
                    "HTTP Server received request\n{}",
                    String::from_utf8_lossy(&buf[..head_len]).trim_end()
                );
                let mut content_length = 0usize;
                let mut keep_alive = req.version == Some(1);
                for h in req.headers.iter() {
                    let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
                    if h.name.eq_ignore_ascii_case("content-length") {
                        match v.trim().parse() {
                            Ok(n) => content_length = n,
                            Err(_) => return Some(Err(400)),
                        }
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        keep_alive =
                            !v.contains("close") && (keep_alive || v.contains("keep-alive"));
                    }
                }
                if content_length > max_body {
                    return Some(Err(413));
                }
                let method = req.method.unwrap_or("").to_owned();
                let path = req.path.unwrap_or("").to_owned();
                let wants_ws = req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("upgrade")
                        && h.value.eq_ignore_ascii_case(b"websocket")
                });
                let websocket = wants_ws.then(|| websocket::check_upgrade(&method, req.headers));
                while buf.len() < head_len + content_length {
                    if read_more(stream, buf).await == 0 {
                        return None;
                    }
                }
                let body = buf[head_len..head_len + content_length].to_vec();
                buf.drain(..head_len + content_length);
                return Some(Ok(Request {
                    method,
                    path,
                    keep_alive,
                    body,
                    websocket,
                }));
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD {
                    return Some(Err(431));
                }
                if read_more(stream, buf).await == 0 {
                    return None;
                }
            }
            Err(_) => return Some(Err(400)),
        }
    }
}

async fn read_more<S: Stream>(stream: &mut S, buf: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            n
        }
        Err(_) => 0,
    }
}

async fn respond<S: Stream>(
    stream: &mut S,
    server: &Server,
    status: u16,
    content_type: &str,
    body: &str,
    keep_alive: bool,
) -> bool {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Request Entity Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: {}\r\n",
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    if server.allow_origin_all {
        head.push_str("Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: POST, GET, OPTIONS\r\nAccess-Control-Allow-Headers: Content-Type\r\nAccess-Control-Max-Age: 1728000\r\n");
    }
    head.push_str("\r\n");
    tracing::debug!("HTTP Server sends response:\n{}", head.trim_end());
    head.push_str(body);
    stream.write_all(head.as_bytes()).await.is_ok()
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

async fn connection<S: Stream + 'static>(mut stream: S, server: Rc<Server>) {
    let mut buf = Vec::with_capacity(4096);
    while let Some(req) = read_request(&mut stream, &mut buf, server.limits.max_request_size).await
    {
        let req = match req {
            Ok(r) => r,
            Err(status) => {
                let _ = respond(&mut stream, &server, status, "text/plain", "", false).await;
                return;
            }
        };
        let (path, query) = match req.path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (req.path.as_str(), None),
        };
        if let Some(upgrade) = req.websocket {
            match upgrade {
                Ok(up) if path == "/jsonrpc" => {
                    tracing::info!("RPC: WebSocket session started");
                    if stream
                        .write_all(&websocket::upgrade_response(&up))
                        .await
                        .is_ok()
                    {
                        websocket_session(stream, server, std::mem::take(&mut buf)).await;
                    }
                }
                Ok(_) => {
                    let _ = respond(&mut stream, &server, 404, "text/plain", "", false).await;
                }
                Err(e) => {
                    let _ = stream.write_all(&websocket::rejection_response(&e)).await;
                }
            }
            return;
        }
        let (status, content_type, body) = match (req.method.as_str(), path, query) {
            // aria2 answers a CORS preflight 200 with an empty body.
            ("OPTIONS", _, _) => (200, "text/plain", String::new()),
            ("GET", "/metrics", _) if server.metrics => {
                match crate::metrics::render(&server.ctx.handle).await {
                    Some(text) => (200, "text/plain; version=0.0.4", text),
                    None => (503, "text/plain", String::new()),
                }
            }
            ("POST", "/jsonrpc", _) => match json::decode_request(&req.body, &server.limits) {
                Ok(request) => {
                    let (s, b) = answer_json(&server, request).await;
                    (s, "application/json-rpc", b)
                }
                Err(_) => (413, "text/plain", String::new()),
            },
            // As aria2: an unreadable XML body gets a bare 400, faults a 200.
            ("POST", "/rpc", _) => match xml::decode_call(&req.body, &server.limits) {
                Ok(call) => {
                    let outcome = run_call(&server.ctx, call).await;
                    (200, "text/xml", xml::encode_response(&outcome))
                }
                Err(_) => (400, "text/plain", String::new()),
            },
            ("GET", "/jsonrpc", Some(q)) => match json::decode_get_query(q, &server.limits) {
                Ok(get) => {
                    let (s, b) = answer_json(&server, get.request).await;
                    match get.callback {
                        Some(cb) => (s, "text/javascript", json::wrap_jsonp(&cb, &b)),
                        None => (s, "application/json-rpc", b),
                    }
                }
                Err(_) => (400, "text/plain", String::new()),
            },
            _ => (404, "text/plain", String::new()),
        };
        if !respond(
            &mut stream,
            &server,
            status,
            content_type,
            &body,
            req.keep_alive,
        )
        .await
            || !req.keep_alive
        {
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
                if wr.write_all(&bytes).await.is_err() {
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
    let mut chunk = vec![0u8; 16 << 10];
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

/// Frames waiting for the WebSocket writer task.
struct Outbox {
    pending: RefCell<Vec<u8>>,
    wake_tx: RefCell<Option<glommio::channels::local_channel::LocalSender<()>>>,
    wake_rx: glommio::channels::local_channel::LocalReceiver<()>,
}

impl Default for Outbox {
    fn default() -> Self {
        let (tx, rx) = glommio::channels::local_channel::new_unbounded();
        Outbox {
            pending: RefCell::new(Vec::new()),
            wake_tx: RefCell::new(Some(tx)),
            wake_rx: rx,
        }
    }
}

impl Outbox {
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
