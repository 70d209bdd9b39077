//! A real nginx serving a directory, for tests that must not depend on our
//! own server's idea of HTTP (Range, keep-alive, sendfile pacing).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;

/// A running `nginx` (single process, foreground) on 127.0.0.1; killed on drop.
pub struct Nginx {
    port: u16,
    child: Child,
    tmpdir: tempfile::TempDir,
    tls: bool,
}

/// How [`Nginx`] listens beyond plain HTTP/1.1.
#[derive(Debug, Clone, Copy, Default)]
struct Listen {
    /// `limit_rate` bytes/s per connection.
    limit_rate: Option<u64>,
    /// HTTPS with the test PKI's server certificate.
    tls: bool,
    /// `http2` on the listener: ALPN `h2` over TLS, h2c (prior knowledge
    /// only, nginx 1.22) over plain TCP. Also turns the access log on.
    http2: bool,
    /// `keepalive_requests` (default 100000): after this many requests
    /// nginx closes an HTTP/1.1 connection, and sends GOAWAY on an HTTP/2
    /// one.
    keepalive_requests: Option<u32>,
    /// `keepalive_timeout` in seconds (default 60): how long an idle
    /// connection (HTTP/2 included) stays open.
    keepalive_timeout: Option<u32>,
}

/// `/usr/sbin/nginx`, else the first `nginx` on `PATH`.
fn find_binary() -> Option<PathBuf> {
    let sbin = PathBuf::from("/usr/sbin/nginx");
    if sbin.is_file() {
        return Some(sbin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    })
}

/// A port that was free a moment ago. nginx cannot bind port 0, so there
/// is a window where someone else may take it; `start` retries on that.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn config(tmp: &Path, root: &Path, port: u16, how: Listen) -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let is_root = unsafe { libc::geteuid() } == 0;
    let t = tmp.display();
    let limit = how.limit_rate.map_or(String::new(), |r| {
        format!("        limit_rate {r};\n        limit_rate_after 0;\n")
    });
    let mut listen = String::new();
    if how.tls {
        listen.push_str(" ssl");
    }
    if how.http2 {
        listen.push_str(" http2");
    }
    let mut extra = String::new();
    if how.tls {
        extra.push_str(&format!(
            "        ssl_certificate {t}/server.pem;\n        ssl_certificate_key {t}/server.key;\n"
        ));
    }
    let log = if how.http2 {
        format!(
            "log_format proto '$server_protocol $connection $request_uri $status';\n    access_log {t}/access.log proto;"
        )
    } else {
        "access_log off;".to_owned()
    };
    format!(
        "{user}daemon off;
master_process off;
worker_processes 1;
error_log {t}/error.log warn;
pid {t}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    {log}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests {requests};
    keepalive_timeout {idle}s;
    client_body_temp_path {t}/client_body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    server {{
        listen 127.0.0.1:{port}{listen};
        server_name localhost;
        root {root};
{limit}{extra}    }}
}}
",
        user = if is_root { "user root;\n" } else { "" },
        root = root.display(),
        requests = how.keepalive_requests.unwrap_or(100_000),
        idle = how.keepalive_timeout.unwrap_or(60),
    )
}

impl Nginx {
    /// Serves `root` at `http://127.0.0.1:PORT/`. `None` when nginx is not
    /// installed (callers print a skip line); panics if it is installed but
    /// will not start, since that is a broken test environment.
    pub fn start(root: &Path) -> Option<Nginx> {
        Nginx::start_inner(root, None)
    }

    /// Like [`Nginx::start`] with `limit_rate` bytes/s per connection, so
    /// kill-and-resume tests can stop a client mid-file.
    pub fn start_with_limit_rate(root: &Path, bytes_per_sec: u64) -> Option<Nginx> {
        Nginx::start_inner(root, Some(bytes_per_sec))
    }

    /// Serves `root` over HTTP/2 with the access log on (see
    /// [`Nginx::access_log`]): with `tls`, HTTPS offering `h2` and
    /// `http/1.1` in ALPN (certificate from the test CA,
    /// [`crate::TestServer::ca_pem`]'s); without, h2c with prior knowledge
    /// only.
    pub fn start_http2(root: &Path, tls: bool) -> Option<Nginx> {
        let how = Listen {
            tls,
            http2: true,
            ..Listen::default()
        };
        match Nginx::try_start_with(root, how) {
            Ok(n) => Some(n),
            Err(Error::NotInstalled) => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Nginx::start_http2`] that closes connections early: each after
    /// `keepalive_requests` requests (over HTTP/2 a GOAWAY, the streams
    /// after it refused) and after `keepalive_timeout` seconds idle.
    pub fn start_http2_limited(
        root: &Path,
        tls: bool,
        keepalive_requests: u32,
        keepalive_timeout: u32,
    ) -> Option<Nginx> {
        let how = Listen {
            tls,
            http2: true,
            keepalive_requests: Some(keepalive_requests),
            keepalive_timeout: Some(keepalive_timeout),
            ..Listen::default()
        };
        match Nginx::try_start_with(root, how) {
            Ok(n) => Some(n),
            Err(Error::NotInstalled) => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Nginx::start_http2`] with `limit_rate` bytes/s per connection.
    pub fn start_http2_throttled(root: &Path, tls: bool, bytes_per_sec: u64) -> Option<Nginx> {
        let how = Listen {
            tls,
            http2: true,
            limit_rate: Some(bytes_per_sec),
            ..Listen::default()
        };
        match Nginx::try_start_with(root, how) {
            Ok(n) => Some(n),
            Err(Error::NotInstalled) => None,
            Err(e) => panic!("{e}"),
        }
    }

    fn start_inner(root: &Path, rate: Option<u64>) -> Option<Nginx> {
        match Nginx::try_start(root, rate) {
            Ok(n) => Some(n),
            Err(Error::NotInstalled) => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// The fallible form: `Err(Error::NotInstalled)` when there is no nginx.
    pub fn try_start(root: &Path, limit_rate: Option<u64>) -> Result<Nginx, Error> {
        let how = Listen {
            limit_rate,
            ..Listen::default()
        };
        Nginx::try_start_with(root, how)
    }

    fn try_start_with(root: &Path, how: Listen) -> Result<Nginx, Error> {
        let bin = find_binary().ok_or(Error::NotInstalled)?;
        let root = root.canonicalize()?;
        let mut last_log = String::new();
        for _ in 0..8 {
            let tmpdir = tempfile::Builder::new().prefix("arietta-nginx").tempdir()?;
            let port = free_port()?;
            let conf = tmpdir.path().join("nginx.conf");
            if how.tls {
                let pki = crate::tls::pki();
                std::fs::write(tmpdir.path().join("server.pem"), &pki.server_cert_pem)?;
                std::fs::write(tmpdir.path().join("server.key"), &pki.server_key_pem)?;
            }
            std::fs::write(&conf, config(tmpdir.path(), &root, port, how))?;
            let child = Command::new(&bin)
                .arg("-p")
                .arg(tmpdir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(tmpdir.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(tmpdir.path().join("stderr.log"))?)
                .spawn()?;
            let mut nginx = Nginx {
                port,
                child,
                tmpdir,
                tls: how.tls,
            };
            if nginx.wait_ready(Duration::from_secs(10)) {
                return Ok(nginx);
            }
            last_log = nginx.error_log();
            // Dropping kills it; a lost port race gets a fresh port next round.
            if !last_log.contains("Address already in use") && !last_log.is_empty() {
                break;
            }
        }
        Err(Error::StartFailed(last_log))
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let addr = self.addr();
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn error_log(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let read =
            |name: &str| std::fs::read_to_string(self.tmpdir.path().join(name)).unwrap_or_default();
        read("error.log") + &read("stderr.log")
    }

    /// The listening port (nginx cannot take port 0, so it was probed free).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, for raw socket clients.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `http://127.0.0.1:PORT/path` (`https://` for a TLS server).
    pub fn url(&self, path: &str) -> String {
        let sep = if path.starts_with('/') { "" } else { "/" };
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{sep}{path}", self.port)
    }

    /// PEM of the CA that signed a TLS server's certificate, for
    /// `--ca-certificate`.
    pub fn ca_pem(&self) -> String {
        crate::tls::pki().ca_pem.clone()
    }

    /// The access log of a [`Nginx::start_http2`] server, one line per
    /// request: `PROTOCOL CONNECTION-SERIAL URI STATUS`.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.tmpdir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
