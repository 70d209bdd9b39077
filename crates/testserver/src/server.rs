//! The server: an accept thread, one thread per connection, keep-alive and
//! pipelining, route lookup and the request records tests assert on.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::request::{
    parse_request_head, RecordedRequest, RequestHead, MAX_HEAD, MAX_RECORDED_BODY,
};
use crate::response::{respond, write_simple};
use crate::route::{Body, Route};
use crate::stream::Stream;
use crate::tls;

/// Idle and stalled-write limit per connection, so abandoned clients don't pin threads forever.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTP/1.1 (optionally TLS) server on 127.0.0.1 with an ephemeral port.
///
/// Everything is configured through `&self` so a test can change routes and
/// the throttle while a client is mid-transfer. Dropping it stops accepting
/// and shuts down every open connection.
pub struct TestServer {
    state: Arc<State>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

pub(crate) struct State {
    routes: RwLock<HashMap<String, Arc<RouteEntry>>>,
    dirs: RwLock<Vec<DirMount>>,
    stats: Mutex<Stats>,
    pub(crate) total_bytes: AtomicU64,
    connections: AtomicU64,
    pub(crate) throttle: AtomicU64,
    pub(crate) stop: AtomicBool,
    live: Mutex<HashMap<u64, TcpStream>>,
    /// The most connections open at once so far.
    peak_live: AtomicU64,
    /// Each accepted connection's client address, by connection id.
    peers: Mutex<HashMap<u64, std::net::SocketAddr>>,
    tls: Option<Arc<ServerConfig>>,
    client_auth: bool,
    next_entry_id: AtomicU64,
}

#[derive(Default)]
struct Stats {
    per_path: HashMap<String, PathStats>,
    all: Vec<RecordedRequest>,
}

#[derive(Default)]
struct PathStats {
    bytes: Arc<AtomicU64>,
    requests: Vec<RecordedRequest>,
}

pub(crate) struct RouteEntry {
    pub(crate) route: Route,
    /// Distinguishes bodies in ETags when a path is re-registered.
    pub(crate) id: u64,
    pub(crate) gzip: OnceLock<Arc<Vec<u8>>>,
    pub(crate) deflate: OnceLock<Arc<Vec<u8>>>,
}

struct DirMount {
    prefix: String,
    root: PathBuf,
    template: Route,
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// close_notify (TLS), FIN, drain.
    Graceful,
    /// FIN without close_notify: a truncated body.
    Fin,
    /// RST.
    Reset,
    /// The peer is gone or broke the protocol; just release the socket.
    Drop,
}

fn normalize(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

impl TestServer {
    /// Plain HTTP on 127.0.0.1:0.
    pub fn start() -> TestServer {
        TestServer::start_with(None, false)
    }

    /// HTTPS with a certificate for "localhost", 127.0.0.1 and ::1 signed by
    /// the test CA ([`TestServer::ca_pem`]).
    pub fn start_tls() -> TestServer {
        TestServer::start_with(Some(tls::server_config(false)), false)
    }

    /// HTTPS that refuses clients without a certificate from the test CA
    /// (see [`TestServer::client_cert_pem`] / [`TestServer::client_key_pem`]).
    pub fn start_tls_client_auth() -> TestServer {
        TestServer::start_with(Some(tls::server_config(true)), true)
    }

    fn start_with(tls: Option<Arc<ServerConfig>>, client_auth: bool) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let state = Arc::new(State {
            routes: RwLock::default(),
            dirs: RwLock::default(),
            stats: Mutex::default(),
            total_bytes: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            throttle: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            live: Mutex::default(),
            peak_live: AtomicU64::new(0),
            peers: Mutex::default(),
            tls,
            client_auth,
            next_entry_id: AtomicU64::new(1),
        });
        let st = state.clone();
        let accept = std::thread::Builder::new()
            .name(format!("testserver-accept-{}", addr.port()))
            .spawn(move || accept_loop(st, listener))
            .expect("spawn accept thread");
        TestServer {
            state,
            addr,
            accept: Some(accept),
        }
    }

    /// The bound `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http(s)://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.state.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{}", self.addr, normalize(path))
    }

    /// PEM of the CA that signed the server certificate: what a client passes
    /// as `--ca-certificate`. `None` for plain HTTP.
    pub fn ca_pem(&self) -> Option<String> {
        self.state.tls.as_ref().map(|_| tls::pki().ca_pem.clone())
    }

    /// PEM of the server's own (leaf) certificate, for clients that pin it.
    pub fn server_cert_pem(&self) -> Option<String> {
        self.state
            .tls
            .as_ref()
            .map(|_| tls::pki().server_cert_pem.clone())
    }

    /// PKCS#8 PEM key of [`TestServer::server_cert_pem`], for running other
    /// TLS servers (FTPS, proxies) under the same test CA.
    pub fn server_key_pem(&self) -> Option<String> {
        self.state
            .tls
            .as_ref()
            .map(|_| tls::pki().server_key_pem.clone())
    }

    /// A client certificate the server accepts (only with client auth).
    pub fn client_cert_pem(&self) -> Option<String> {
        self.state
            .client_auth
            .then(|| tls::pki().client_cert_pem.clone())
    }

    /// PKCS#8 PEM key of [`TestServer::client_cert_pem`].
    pub fn client_key_pem(&self) -> Option<String> {
        self.state
            .client_auth
            .then(|| tls::pki().client_key_pem.clone())
    }

    /// Serves `body` at `path` with default behaviour; returns its URL.
    pub fn add_file(&self, path: &str, body: impl Into<Vec<u8>>) -> String {
        self.add_route(path, Route::new(body));
        self.url(path)
    }

    /// Sets (or replaces) the behaviour of `path`. The path is matched
    /// against the full request target first (so a query can have its own
    /// route), then against the target without its query.
    pub fn add_route(&self, path: &str, route: Route) {
        let entry = Arc::new(RouteEntry {
            route,
            id: self.state.next_entry_id.fetch_add(1, Ordering::Relaxed),
            gzip: OnceLock::new(),
            deflate: OnceLock::new(),
        });
        write_lock(&self.state.routes).insert(normalize(path), entry);
    }

    /// Unregisters `path`; later requests get 404 (dir mounts still apply).
    pub fn remove_route(&self, path: &str) {
        write_lock(&self.state.routes).remove(&normalize(path));
    }

    /// Serves files under `dir` at `prefix/…`, read from disk per request.
    pub fn add_dir(&self, prefix: &str, dir: impl AsRef<Path>) {
        self.add_dir_with(prefix, dir, Route::new(Vec::new()));
    }

    /// Like [`TestServer::add_dir`], applying `template`'s behaviour (faults,
    /// throttle, headers) to every file; its body is replaced by the file.
    pub fn add_dir_with(&self, prefix: &str, dir: impl AsRef<Path>, template: Route) {
        let mut prefix = normalize(prefix);
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        let mut dirs = write_lock(&self.state.dirs);
        dirs.push(DirMount {
            prefix,
            root: dir.as_ref().to_path_buf(),
            template,
        });
        // Longest prefix wins.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.prefix.len()));
    }

    /// Body bytes actually written for requests to `path` (query ignored).
    pub fn bytes_served(&self, path: &str) -> u64 {
        lock(&self.state.stats)
            .per_path
            .get(&normalize(path))
            .map_or(0, |s| s.bytes.load(Ordering::Relaxed))
    }

    /// Body bytes written for all paths.
    pub fn total_bytes_served(&self) -> u64 {
        self.state.total_bytes.load(Ordering::Relaxed)
    }

    /// Requests to `path` (query ignored), oldest first.
    pub fn requests(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.state.stats)
            .per_path
            .get(&normalize(path))
            .map_or_else(Vec::new, |s| s.requests.clone())
    }

    /// Every request received, oldest first.
    pub fn all_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.stats).all.clone()
    }

    /// The client address of accepted connection `id` (as in
    /// [`RecordedRequest::connection`]): the source address a client bound.
    pub fn connection_peer(&self, id: u64) -> Option<std::net::SocketAddr> {
        lock(&self.state.peers).get(&id).copied()
    }

    /// TCP connections accepted so far (TLS handshake failures included).
    pub fn connections_accepted(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// The most TCP connections that were open at the same time so far:
    /// how many connections a client really held in parallel.
    pub fn peak_connections(&self) -> u64 {
        self.state.peak_live.load(Ordering::Relaxed)
    }

    /// Clears request records and byte counters (not the connection count).
    pub fn reset_counters(&self) {
        let mut stats = lock(&self.state.stats);
        for s in stats.per_path.values() {
            s.bytes.store(0, Ordering::Relaxed);
        }
        stats.per_path.clear();
        stats.all.clear();
        self.state.total_bytes.store(0, Ordering::Relaxed);
    }

    /// Server-wide body rate limit per connection (`None` = unlimited);
    /// takes effect within one ~20 ms write on responses already in flight.
    pub fn set_throttle(&self, bytes_per_sec: Option<u64>) {
        self.state
            .throttle
            .store(bytes_per_sec.unwrap_or(0), Ordering::Relaxed);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for s in lock(&self.state.live).values() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn write_lock<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

fn read_lock<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(state: Arc<State>, listener: TcpListener) {
    for conn in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            break;
        }
        let tcp = match conn {
            Ok(t) => t,
            Err(_) => {
                // EMFILE and friends: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let id = state.connections.fetch_add(1, Ordering::Relaxed);
        if let Ok(peer) = tcp.peer_addr() {
            lock(&state.peers).insert(id, peer);
        }
        let st = state.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("testserver-conn-{id}"))
            .stack_size(1 << 20)
            .spawn(move || handle_connection(st, tcp, id));
        if spawned.is_err() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn handle_connection(state: Arc<State>, tcp: TcpStream, id: u64) {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
    if let Ok(c) = tcp.try_clone() {
        let mut live = lock(&state.live);
        live.insert(id, c);
        state
            .peak_live
            .fetch_max(live.len() as u64, Ordering::Relaxed);
    }
    let mut stream = match &state.tls {
        None => Stream::Plain(tcp),
        Some(cfg) => match ServerConnection::new(cfg.clone()) {
            Ok(conn) => Stream::Tls(Box::new(StreamOwned::new(conn, tcp))),
            Err(_) => {
                lock(&state.live).remove(&id);
                return;
            }
        },
    };
    let end = serve(&state, &mut stream, id);
    match end {
        End::Graceful => stream.close_gracefully(),
        End::Fin => stream.close_abruptly_with_fin(),
        End::Reset => stream.reset(),
        End::Drop => drop(stream),
    }
    lock(&state.live).remove(&id);
}

fn serve(state: &State, stream: &mut Stream, conn: u64) -> End {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    // Whether the next request was waiting when the last answer was sent.
    let mut waiting = false;
    loop {
        if state.stop.load(Ordering::Relaxed) {
            return End::Drop;
        }
        match parse_request_head(&buf) {
            Err(_) => {
                let _ = write_simple(stream, 400, &[], b"bad request\n", true, false);
                return End::Graceful;
            }
            Ok(None) => {
                if buf.len() > MAX_HEAD {
                    let _ = write_simple(stream, 431, &[], b"head too large\n", true, false);
                    return End::Graceful;
                }
                match stream.read(&mut chunk) {
                    Ok(0) => return End::Drop,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return End::Drop,
                }
            }
            Ok(Some((head, used))) => {
                buf.drain(..used);
                let (body, framed) = match head.body_length() {
                    Ok(n) => match read_request_body(stream, &mut buf, n) {
                        Ok(b) => (b, true),
                        Err(_) => return End::Drop,
                    },
                    Err(()) => (Vec::new(), false),
                };
                match respond(state, stream, conn, &head, body, waiting) {
                    Err(_) => return End::Drop,
                    Ok(Some(end)) => return end,
                    Ok(None) if !framed || !head.wants_keep_alive() => return End::Graceful,
                    Ok(None) => waiting = !buf.is_empty() || readable_now(stream.tcp()),
                }
            }
        }
    }
}

/// Whether bytes wait on `tcp` right now (a request the client sent before
/// it had the answer to the previous one).
fn readable_now(tcp: &TcpStream) -> bool {
    if tcp.set_nonblocking(true).is_err() {
        return false;
    }
    let ready = matches!(tcp.peek(&mut [0u8; 1]), Ok(n) if n > 0);
    let _ = tcp.set_nonblocking(false);
    ready
}

/// Consumes a `Content-Length` body (from the buffer first), keeping at most 64 KiB.
fn read_request_body(stream: &mut Stream, buf: &mut Vec<u8>, len: u64) -> io::Result<Vec<u8>> {
    let from_buf = usize::try_from(len).unwrap_or(usize::MAX).min(buf.len());
    let mut kept: Vec<u8> = buf.drain(..from_buf).collect();
    kept.truncate(MAX_RECORDED_BODY);
    let mut left = len - from_buf as u64;
    let mut chunk = [0u8; 16 * 1024];
    while left > 0 {
        let want = usize::try_from(left)
            .unwrap_or(chunk.len())
            .min(chunk.len());
        let n = stream.read(&mut chunk[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let room = MAX_RECORDED_BODY.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&chunk[..room]);
        left -= n as u64;
    }
    Ok(kept)
}

impl State {
    /// Records a request; returns how many earlier requests hit this path and its byte counter.
    pub(crate) fn record(&self, path: &str, req: RecordedRequest) -> (u64, Arc<AtomicU64>) {
        let mut stats = lock(&self.stats);
        stats.all.push(req.clone());
        let ps = stats.per_path.entry(path.to_owned()).or_default();
        let hit = ps.requests.len() as u64;
        ps.requests.push(req);
        (hit, ps.bytes.clone())
    }

    pub(crate) fn resolve(&self, head: &RequestHead) -> Option<Arc<RouteEntry>> {
        let path = head.path();
        {
            let routes = read_lock(&self.routes);
            let target = request_path_with_query(&head.target);
            if let Some(e) = routes.get(target).or_else(|| routes.get(path)) {
                return Some(e.clone());
            }
        }
        let dirs = read_lock(&self.dirs);
        let decoded = percent_decode(path)?;
        for mount in dirs.iter() {
            let Some(rest) = decoded.strip_prefix(&mount.prefix) else {
                continue;
            };
            let rel = Path::new(rest);
            if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return None;
            }
            let full = mount.root.join(rel);
            if !full.is_file() {
                continue;
            }
            let mut route = mount.template.clone();
            route.body = Body::File(full);
            return Some(Arc::new(RouteEntry {
                route,
                id: 0,
                gzip: OnceLock::new(),
                deflate: OnceLock::new(),
            }));
        }
        None
    }
}

/// Origin-form target including its query (absolute-form loses scheme and authority).
fn request_path_with_query(target: &str) -> &str {
    let t = match target.find("://") {
        Some(pos) if !target.starts_with('/') => {
            let after = &target[pos + 3..];
            after.find('/').map_or("/", |i| &after[i..])
        }
        _ => target,
    };
    &t[..t.find('#').unwrap_or(t.len())]
}

/// Decodes `%XX` escapes; `None` for malformed escapes or non-UTF-8 results.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("/a%20b%2Fc").as_deref(), Some("/a b/c"));
        assert_eq!(percent_decode("/x%2"), None);
        assert_eq!(percent_decode("/x%zz"), None);
        assert_eq!(percent_decode("/%ff"), None);
    }

    #[test]
    fn targets_keep_query() {
        assert_eq!(request_path_with_query("/a?b=1#f"), "/a?b=1");
        assert_eq!(request_path_with_query("http://h:1/a?q"), "/a?q");
        assert_eq!(request_path_with_query("http://h"), "/");
    }
}
