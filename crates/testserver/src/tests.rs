//! Server behaviour exercised with plain std `TcpStream` clients.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::{pattern, Nginx, Route, TestServer};

/// The workspace's one rule for missing peer programs (skip with a reason,
/// fail under `CI=true`), shared by path: this crate cannot depend on the
/// cli's integration tests.
#[allow(dead_code)]
#[path = "../../cli/tests/integration/support/require.rs"]
mod require;

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// How reading the body ended when it was close-delimited or cut short.
    eof: Option<io::ErrorKind>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A tiny HTTP/1.1 client reading exactly one response (keeps leftovers for pipelining).
struct Client<S: Read + Write> {
    s: S,
    buf: Vec<u8>,
}

impl Client<TcpStream> {
    fn connect(server: &TestServer) -> Client<TcpStream> {
        let s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client { s, buf: Vec::new() }
    }
}

impl<S: Read + Write> Client<S> {
    fn send(&mut self, raw: &str) {
        self.s.write_all(raw.as_bytes()).unwrap();
    }

    fn get(&mut self, path: &str, extra: &str) -> Response {
        self.send(&format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n"));
        self.read_response(false)
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut b = [0u8; 65536];
        let n = self.s.read(&mut b)?;
        self.buf.extend_from_slice(&b[..n]);
        Ok(n)
    }

    fn read_head(&mut self) -> (u16, Vec<(String, String)>) {
        loop {
            let mut hs = [httparse::EMPTY_HEADER; 64];
            let mut r = httparse::Response::new(&mut hs);
            if let httparse::Status::Complete(n) = r.parse(&self.buf).expect("valid response") {
                let status = r.code.unwrap();
                let headers = r
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                self.buf.drain(..n);
                return (status, headers);
            }
            assert!(self.fill().unwrap() > 0, "eof before response head");
        }
    }

    fn read_response(&mut self, head_request: bool) -> Response {
        let (status, headers) = self.read_head();
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
            eof: None,
        };
        if head_request || status == 304 || status == 204 {
            return resp;
        }
        if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                let line_end = loop {
                    if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    if self.fill().unwrap_or(0) == 0 {
                        resp.eof = Some(io::ErrorKind::UnexpectedEof);
                        return resp;
                    }
                };
                let line = String::from_utf8(self.buf[..line_end].to_vec()).unwrap();
                let size = usize::from_str_radix(line.trim(), 16).unwrap();
                self.buf.drain(..line_end + 2);
                while self.buf.len() < size + 2 {
                    if self.fill().unwrap_or(0) == 0 {
                        resp.body.append(&mut self.buf);
                        resp.eof = Some(io::ErrorKind::UnexpectedEof);
                        return resp;
                    }
                }
                resp.body.extend(self.buf.drain(..size));
                assert_eq!(&self.buf[..2], b"\r\n");
                self.buf.drain(..2);
                if size == 0 {
                    return resp;
                }
            }
        }
        let want = resp
            .header("content-length")
            .map(|v| v.parse::<usize>().unwrap());
        loop {
            if let Some(w) = want {
                if self.buf.len() >= w {
                    resp.body = self.buf.drain(..w).collect();
                    return resp;
                }
            }
            match self.fill() {
                Ok(0) => {
                    resp.eof = Some(io::ErrorKind::UnexpectedEof);
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    resp.eof = Some(e.kind());
                    break;
                }
            }
        }
        resp.body = std::mem::take(&mut self.buf);
        resp
    }

    /// True when the server closed the connection (EOF or reset).
    fn at_eof(&mut self) -> bool {
        matches!(self.fill(), Ok(0) | Err(_))
    }
}

fn body(n: usize) -> Vec<u8> {
    pattern(n, 42)
}

#[test]
fn ranges_and_validators() {
    let srv = TestServer::start();
    let data = body(1000);
    srv.add_file("/f", data.clone());
    let mut c = Client::connect(&srv);

    let r = c.get("/f", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        r.header("last-modified"),
        Some("Sun, 13 Sep 2020 12:26:40 GMT")
    );
    let etag = r.header("etag").unwrap().to_owned();

    let r = c.get("/f", "Range: bytes=10-19\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(r.body, &data[10..20]);

    let r = c.get("/f", "Range: bytes=990-\r\n");
    assert_eq!(r.body, &data[990..]);
    let r = c.get("/f", "Range: bytes=-5\r\n");
    assert_eq!(r.header("content-range"), Some("bytes 995-999/1000"));
    assert_eq!(r.body, &data[995..]);

    let r = c.get("/f", "Range: bytes=1000-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */1000"));
    assert!(r.body.is_empty());

    let r = c.get("/f", "Range: bytes=0-1,5-6\r\n");
    assert_eq!((r.status, r.body.len()), (200, 1000));

    let r = c.get("/f", "If-Modified-Since: Sun, 13 Sep 2020 12:26:40 GMT\r\n");
    assert_eq!(r.status, 304);
    let r = c.get("/f", "If-Modified-Since: Sun, 13 Sep 2020 12:26:39 GMT\r\n");
    assert_eq!(r.status, 200);
    let r = c.get("/f", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 304);
    let r = c.get("/f", "If-Range: \"other\"\r\nRange: bytes=0-1\r\n");
    assert_eq!(r.status, 200);
    let r = c.get("/f", &format!("If-Range: {etag}\r\nRange: bytes=0-1\r\n"));
    assert_eq!(r.status, 206);

    // All on one connection.
    assert_eq!(srv.connections_accepted(), 1);
    let reqs = srv.requests("/f");
    assert_eq!(reqs.len(), 11);
    assert_eq!(reqs[1].range(), Some("bytes=10-19"));
    assert!(reqs.iter().all(|r| r.connection == 0));
}

#[test]
fn no_range_serves_full_body() {
    let srv = TestServer::start();
    let data = body(100);
    srv.add_route("/py", Route::new(data.clone()).no_range());
    let r = Client::connect(&srv).get("/py", "Range: bytes=50-\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("accept-ranges"), None);
    assert_eq!(r.body, data);
}

#[test]
fn pipelined_requests_and_head() {
    let srv = TestServer::start();
    srv.add_file("/a", b"aaaa".to_vec());
    srv.add_file("b", b"bb".to_vec());
    let mut c = Client::connect(&srv);
    c.send(
        "GET /a HTTP/1.1\r\nHost: t\r\n\r\nHEAD /b HTTP/1.1\r\nHost: t\r\n\r\n\
         POST /a?q=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyzGET /missing HTTP/1.1\r\n\r\n",
    );
    assert_eq!(c.read_response(false).body, b"aaaa");
    let h = c.read_response(true);
    assert_eq!(h.header("content-length"), Some("2"));
    assert_eq!(c.read_response(false).body, b"aaaa");
    assert_eq!(c.read_response(false).status, 404);
    let posts = srv.requests("/a");
    assert_eq!(posts[1].body, b"xyz");
    assert_eq!(posts[1].target, "/a?q=1");
    assert_eq!(srv.bytes_served("/a"), 8);
    assert_eq!(srv.bytes_served("/b"), 0);
    assert_eq!(srv.total_bytes_served(), 8);
    assert_eq!(srv.all_requests().len(), 4);
}

#[test]
fn http10_and_close_after_each_response() {
    let srv = TestServer::start();
    srv.add_file("/a", b"x".to_vec());
    srv.add_route("/c", Route::new(b"y".to_vec()).close_after_each_response());
    let mut c = Client::connect(&srv);
    c.send("GET /a HTTP/1.0\r\n\r\n");
    let r = c.read_response(false);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.at_eof());
    let mut c = Client::connect(&srv);
    let r = c.get("/c", "");
    assert_eq!(
        (r.header("connection"), &r.body[..]),
        (Some("close"), &b"y"[..])
    );
    assert!(c.at_eof());
}

#[test]
fn chunked_framing() {
    let srv = TestServer::start();
    let data = body(300_000);
    srv.add_route("/c", Route::new(data.clone()).chunked());
    let mut c = Client::connect(&srv);
    let r = c.get("/c", "");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.body, data);
    // Ranges still work inside chunked framing, and the connection stays usable.
    let r = c.get("/c", "Range: bytes=100-199\r\n");
    assert_eq!((r.status, &r.body[..]), (206, &data[100..200]));
}

#[test]
fn content_codings() {
    use flate2::read::{GzDecoder, ZlibDecoder};
    let srv = TestServer::start();
    let data = body(50_000);
    srv.add_route("/g", Route::new(data.clone()).gzip());
    srv.add_route("/d", Route::new(data.clone()).deflate());
    let mut c = Client::connect(&srv);
    let r = c.get(
        "/g",
        "Accept-Encoding: deflate, gzip\r\nRange: bytes=0-9\r\n",
    );
    assert_eq!(
        (r.status, r.header("content-encoding")),
        (200, Some("gzip"))
    );
    let mut out = Vec::new();
    GzDecoder::new(&r.body[..]).read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
    let r = c.get("/g", "Accept-Encoding: gzip;q=0\r\n");
    assert_eq!(
        (r.header("content-encoding"), r.body.len()),
        (None, data.len())
    );
    let r = c.get("/d", "Accept-Encoding: deflate\r\n");
    let mut out = Vec::new();
    ZlibDecoder::new(&r.body[..]).read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
}

#[test]
fn redirects_auth_cookies_disposition() {
    let srv = TestServer::start();
    srv.add_route("/r", Route::redirect_to("/target", 302));
    srv.add_route("/loop1", Route::redirect_to("/loop2", 307));
    srv.add_route("/loop2", Route::redirect_to(&srv.url("/loop1"), 308));
    srv.add_route(
        "/auth",
        Route::new(b"secret".to_vec()).basic_auth("u", "p:w"),
    );
    srv.add_route(
        "/cookie",
        Route::new(b"c".to_vec())
            .require_cookie("sid=42")
            .set_cookie("a=b; Path=/")
            .set_cookie("c=d")
            .content_disposition("attachment; filename=\"x y.bin\""),
    );
    let mut c = Client::connect(&srv);
    let r = c.get("/r", "");
    assert_eq!((r.status, r.header("location")), (302, Some("/target")));
    let r = c.get("/loop2", "");
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some(&*srv.url("/loop1")));

    let r = c.get("/auth", "");
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm="));
    let cred = base64::engine::general_purpose::STANDARD.encode("u:p:w");
    let r = c.get("/auth", &format!("Authorization: Basic {cred}\r\n"));
    assert_eq!((r.status, &r.body[..]), (200, &b"secret"[..]));

    let r = c.get("/cookie", "Cookie: sid=4\r\n");
    assert_eq!(r.status, 403);
    let r = c.get("/cookie", "Cookie: x=1; sid=42\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.headers_named("set-cookie"), vec!["a=b; Path=/", "c=d"]);
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"x y.bin\"")
    );
}

#[test]
fn statuses_and_fail_first_n() {
    let srv = TestServer::start();
    srv.add_route(
        "/busy",
        Route::new(b"down".to_vec()).status(503).retry_after(7),
    );
    srv.add_route(
        "/flaky",
        Route::new(b"ok".to_vec())
            .fail_first_n(2, 503)
            .retry_after(1),
    );
    let mut c = Client::connect(&srv);
    let r = c.get("/busy", "Range: bytes=0-0\r\n");
    assert_eq!((r.status, r.header("retry-after")), (503, Some("7")));
    assert_eq!(r.body, b"down");
    assert_eq!(c.get("/flaky", "").status, 503);
    assert_eq!(c.get("/flaky", "").status, 503);
    let r = c.get("/flaky", "");
    assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
}

#[test]
fn truncate_after() {
    let srv = TestServer::start();
    srv.add_route("/t", Route::new(body(10_000)).truncate_after(1234));
    let mut c = Client::connect(&srv);
    let r = c.get("/t", "");
    assert_eq!(r.header("content-length"), Some("10000"));
    assert_eq!(r.body, &body(10_000)[..1234]);
    assert_eq!(r.eof, Some(io::ErrorKind::UnexpectedEof));
    assert_eq!(srv.bytes_served("/t"), 1234);
    // A range that ends before the cut is served whole.
    let r = Client::connect(&srv).get("/t", "Range: bytes=0-99\r\n");
    assert_eq!(r.body.len(), 100);
}

#[test]
fn reset_after() {
    let srv = TestServer::start();
    srv.add_route("/r", Route::new(body(100_000)).reset_after(5000));
    let mut c = Client::connect(&srv);
    let r = c.get("/r", "");
    assert_eq!(r.eof, Some(io::ErrorKind::ConnectionReset));
    assert_eq!(r.body, &body(100_000)[..5000]);
}

#[test]
fn lie_content_length() {
    let srv = TestServer::start();
    srv.add_route("/more", Route::new(body(100)).lie_content_length(10));
    srv.add_route("/less", Route::new(body(100)).lie_content_length(-10));
    let mut c = Client::connect(&srv);
    let r = c.get("/more", "");
    assert_eq!(r.header("content-length"), Some("110"));
    assert_eq!(
        (r.body.len(), r.eof),
        (100, Some(io::ErrorKind::UnexpectedEof))
    );
    let mut c = Client::connect(&srv);
    let r = c.get("/less", "");
    assert_eq!(r.header("content-length"), Some("90"));
    assert_eq!(r.body.len(), 90);
    // The other 10 bytes follow the declared body, then the server closes.
    let mut rest = c.buf.clone();
    c.s.read_to_end(&mut rest).unwrap();
    assert_eq!(rest.len(), 10);
}

#[test]
fn wrong_content_range() {
    let srv = TestServer::start();
    let data = body(1000);
    srv.add_route("/w", Route::new(data.clone()).wrong_content_range());
    let mut c = Client::connect(&srv);
    let r = c.get("/w", "Range: bytes=500-599\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 0-99/1000"));
    assert_eq!(r.body, &data[..100]);
    let r = c.get("/w", "Range: bytes=0-9\r\n");
    assert_eq!(r.header("content-range"), Some("bytes 1-10/1000"));
    assert_eq!(r.body, &data[1..11]);
}

#[test]
fn garbage_and_no_content_length() {
    let srv = TestServer::start();
    srv.add_route("/g", Route::new(b"x".to_vec()).garbage_headers());
    srv.add_route("/n", Route::new(body(5000)).no_content_length());
    let mut c = Client::connect(&srv);
    c.send("GET /g HTTP/1.1\r\n\r\n");
    let mut all = Vec::new();
    c.s.read_to_end(&mut all).unwrap();
    assert!(!all.starts_with(b"HTTP/"));
    let mut c = Client::connect(&srv);
    let r = c.get("/n", "");
    assert_eq!(r.header("content-length"), None);
    assert_eq!(
        (r.body, r.eof),
        (body(5000), Some(io::ErrorKind::UnexpectedEof))
    );
}

#[test]
fn throttle_and_first_byte_delay() {
    let srv = TestServer::start();
    srv.add_route("/slow", Route::new(body(50_000)).throttle(250_000));
    srv.add_route(
        "/late",
        Route::new(b"z".to_vec()).first_byte_delay(Duration::from_millis(300)),
    );
    srv.add_file("/fast", body(100_000));
    let mut c = Client::connect(&srv);
    let t = Instant::now();
    assert_eq!(c.get("/slow", "").body.len(), 50_000);
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(180) && e < Duration::from_secs(2),
        "{e:?}"
    );

    let t = Instant::now();
    c.get("/late", "");
    assert!(t.elapsed() >= Duration::from_millis(300));

    srv.set_throttle(Some(500_000));
    let t = Instant::now();
    assert_eq!(c.get("/fast", "").body.len(), 100_000);
    assert!(
        t.elapsed() >= Duration::from_millis(180),
        "{:?}",
        t.elapsed()
    );
    srv.set_throttle(None);
    let t = Instant::now();
    c.get("/fast", "");
    assert!(t.elapsed() < Duration::from_millis(150));
}

#[test]
fn throttle_change_mid_transfer() {
    let srv = Arc::new(TestServer::start());
    srv.add_file("/big", body(2_000_000));
    srv.set_throttle(Some(100_000));
    let s2 = srv.clone();
    let lifter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        assert!(s2.total_bytes_served() < 100_000);
        s2.set_throttle(None);
    });
    let t = Instant::now();
    let r = Client::connect(&srv).get("/big", "");
    assert_eq!(r.body.len(), 2_000_000);
    assert!(t.elapsed() < Duration::from_secs(5));
    lifter.join().unwrap();
}

#[test]
fn dir_mount() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/a b.bin"), body(3000)).unwrap();
    let srv = TestServer::start();
    srv.add_dir("/files", dir.path());
    srv.add_dir_with("/slow/", dir.path(), Route::new(Vec::new()).chunked());
    let mut c = Client::connect(&srv);
    let r = c.get("/files/sub/a%20b.bin", "Range: bytes=100-\r\n");
    assert_eq!((r.status, &r.body[..]), (206, &body(3000)[100..]));
    let r = c.get("/slow/sub/a%20b.bin", "");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, body(3000));
    assert_eq!(c.get("/files/../x", "").status, 404);
    assert_eq!(c.get("/files/sub", "").status, 404);
    assert_eq!(c.get("/files/nope", "").status, 404);
    assert_eq!(srv.bytes_served("/files/sub/a%20b.bin"), 2900);
}

#[test]
fn large_body_is_fast() {
    let srv = TestServer::start();
    let data = Arc::new(pattern(64 << 20, 1));
    srv.add_route("/big", Route::shared(data.clone()));
    let mut c = Client::connect(&srv);
    let t = Instant::now();
    c.send("GET /big HTTP/1.1\r\n\r\n");
    let (_, headers) = c.read_head();
    assert!(headers
        .iter()
        .any(|(n, v)| n == "Content-Length" && v == "67108864"));
    let mut got = c.buf.len() as u64;
    let mut b = vec![0u8; 1 << 20];
    while got < 64 << 20 {
        let n = c.s.read(&mut b).unwrap();
        assert!(n > 0);
        got += n as u64;
    }
    let e = t.elapsed();
    assert!(e < Duration::from_secs(5), "64 MiB took {e:?}");
    assert_eq!(srv.bytes_served("/big"), 64 << 20);
}

fn tls_client(
    srv: &TestServer,
    with_cert: bool,
) -> Client<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    fn pem_der(pem: &str) -> Vec<u8> {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(pem_der(&srv.ca_pem().unwrap())))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if with_cert {
        let cert = CertificateDer::from(pem_der(&srv.client_cert_pem().unwrap()));
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pem_der(
            &srv.client_key_pem().unwrap(),
        )));
        builder.with_client_auth_cert(vec![cert], key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(srv.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    Client {
        s: rustls::StreamOwned::new(conn, tcp),
        buf: Vec::new(),
    }
}

#[test]
fn tls_serves_and_truncates() {
    let srv = TestServer::start_tls();
    assert!(srv.url("/x").starts_with("https://127.0.0.1:"));
    assert!(srv.client_cert_pem().is_none());
    let data = body(200_000);
    srv.add_file("/f", data.clone());
    srv.add_route("/t", Route::new(data.clone()).truncate_after(70_000));
    let mut c = tls_client(&srv, false);
    let r = c.get("/f", "Range: bytes=1-\r\n");
    assert_eq!((r.status, &r.body[..]), (206, &data[1..]));
    let r = c.get("/t", "");
    assert_eq!(r.body, &data[..70_000]);
    assert!(r.eof.is_some());
    assert_eq!(srv.connections_accepted(), 1);
}

#[test]
fn tls_client_auth() {
    let srv = TestServer::start_tls_client_auth();
    srv.add_file("/f", b"hi".to_vec());
    let r = tls_client(&srv, true).get("/f", "");
    assert_eq!(r.body, b"hi");
    let mut c = tls_client(&srv, false);
    let sent =
        c.s.write_all(b"GET /f HTTP/1.1\r\n\r\n")
            .and_then(|_| c.s.flush());
    let mut b = [0u8; 16];
    assert!(sent.is_err() || c.s.read(&mut b).is_err());
    assert!(srv.requests("/f").len() == 1);
}

#[test]
fn drop_closes_connections() {
    let srv = TestServer::start();
    srv.add_route("/slow", Route::new(body(1_000_000)).throttle(10_000));
    let mut c = Client::connect(&srv);
    c.send("GET /slow HTTP/1.1\r\n\r\n");
    c.read_head();
    drop(srv);
    let mut rest = Vec::new();
    let _ = c.s.read_to_end(&mut rest);
    assert!(rest.len() < 100_000);
}

#[test]
fn nginx_serves_ranges() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.bin"), body(100_000)).unwrap();
    if !require::require("nginx") {
        return;
    }
    let nginx = Nginx::start(dir.path()).expect("nginx is installed");
    let mut s = TcpStream::connect(nginx.addr()).unwrap();
    s.write_all(
        b"GET /f.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    assert!(
        all.starts_with(b"HTTP/1.1 206"),
        "{}",
        String::from_utf8_lossy(&all)
    );
    assert!(all.ends_with(&body(100_000)[10..20]));
    assert!(nginx.url("f.bin").ends_with("/f.bin"));

    let limited = Nginx::start_with_limit_rate(dir.path(), 100_000).unwrap();
    let t = Instant::now();
    let mut s = TcpStream::connect(limited.addr()).unwrap();
    s.write_all(b"GET /f.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    assert!(all.ends_with(&body(100_000)));
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}
