//! The RPC daemon: serves aria2's JSON-RPC (the `arietta-rpc` protocol
//! crate) over glommio sockets on core 0 and drives the download engine
//! through the coordinator's control API. Protocol code stays pure in
//! `rpc`; this crate is the thin I/O loop and the dispatch.
#![deny(unsafe_op_in_unsafe_fn)]

mod dispatch;
mod http_server;
mod metrics;
mod status;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arietta_core::ServiceStarter;
use arietta_options::OptionSet;

pub use http_server::serve;

/// What the program does when `changeGlobalOption` changes an option
/// that lives outside the engine (`log`, `log-level`): its name and new
/// value.
pub type GlobalOptionHook = Box<dyn Fn(&str, &str) + Send + Sync>;

static GLOBAL_OPTION_HOOK: std::sync::OnceLock<GlobalOptionHook> = std::sync::OnceLock::new();

/// Registers the [`GlobalOptionHook`] (once, before the daemon starts).
pub fn on_global_option_change(hook: GlobalOptionHook) {
    let _ = GLOBAL_OPTION_HOOK.set(hook);
}

fn global_option_changed(name: &str, value: &str) {
    if let Some(hook) = GLOBAL_OPTION_HOOK.get() {
        hook(name, value);
    }
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("--rpc-secure: {0}")]
    Tls(String),
    /// Neither address family could be bound (aria2: "Failed to setup RPC
    /// server.").
    #[error("Failed to setup RPC server.")]
    Bind,
}

/// What the server needs from the options.
#[derive(Clone, Debug)]
pub struct RpcSettings {
    /// The addresses to listen on, IPv4 first: aria2 binds one socket per
    /// family (loopback, or the wildcard with `--rpc-listen-all`) and
    /// starts if either works.
    pub addrs: Vec<SocketAddr>,
    pub secret: Option<String>,
    /// `--rpc-user` and `--rpc-passwd` (deprecated in aria2, still
    /// honoured by aria2c 1.36): HTTP Basic authentication of every
    /// request but CORS preflights.
    pub basic_auth: Option<(String, String)>,
    pub allow_origin_all: bool,
    pub max_request_size: usize,
    /// `--enable-metrics`: serve `GET /metrics` (Prometheus text format).
    pub metrics: bool,
    /// `--rpc-secure` with `--rpc-certificate`/`--rpc-private-key` (PEM).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// How long a connection may take to deliver one whole request (the
    /// wait for it, its head and its body) or to take in its answer before
    /// it is closed: aria2's 30 s. [`REQUEST_TIMEOUT_ENV`] shortens it for
    /// tests.
    pub request_timeout: std::time::Duration,
    /// Connections served at once. At the cap a newcomer is let in by
    /// closing the connection that has waited longest for its request,
    /// or is closed itself when every slot is busy (requests running,
    /// WebSockets). See [`max_connections`].
    pub max_connections: usize,
}

/// aria2 closes an HTTP connection that has sent nothing for 30 s.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Milliseconds that replace [`REQUEST_TIMEOUT`]: a hook for the abuse
/// tests, which cannot wait 30 s per case. Not an option: aria2 has none.
pub const REQUEST_TIMEOUT_ENV: &str = "ARIETTA_RPC_REQUEST_TIMEOUT_MS";

/// The most RPC connections ever served at once.
pub const MAX_CONNECTIONS: usize = 4096;

/// The connection cap: [`MAX_CONNECTIONS`], or half the descriptor limit
/// when that is lower, so idle RPC sockets cannot starve downloads and
/// torrents of descriptors. aria2 has no cap (it is bounded only by its
/// `--rlimit-nofile`).
pub fn max_connections() -> usize {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given, which lives
    // for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return MAX_CONNECTIONS;
    }
    let half = usize::try_from(r.rlim_cur / 2).unwrap_or(usize::MAX);
    half.clamp(16, MAX_CONNECTIONS)
}

impl RpcSettings {
    pub fn from_options(o: &OptionSet) -> RpcSettings {
        let port = o.get_u64("rpc-listen-port") as u16;
        let (v4, v6) = if o.get_bool("rpc-listen-all") {
            (Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED)
        } else {
            (Ipv4Addr::LOCALHOST, Ipv6Addr::LOCALHOST)
        };
        let mut addrs = vec![SocketAddr::new(IpAddr::V4(v4), port)];
        if !o.get_bool("disable-ipv6") {
            addrs.push(SocketAddr::new(IpAddr::V6(v6), port));
        }
        RpcSettings {
            addrs,
            secret: o.get_opt_str("rpc-secret").map(str::to_owned),
            basic_auth: o
                .get_opt_str("rpc-user")
                .filter(|u| !u.is_empty())
                .map(|u| (u.to_owned(), o.get_str("rpc-passwd").to_owned())),
            allow_origin_all: o.get_bool("rpc-allow-origin-all"),
            max_request_size: o.get_size("rpc-max-request-size") as usize,
            metrics: o.get_bool("enable-metrics"),
            tls: o.get_bool("rpc-secure").then(|| {
                let p = |n: &str| std::path::PathBuf::from(o.get_str(n));
                (p("rpc-certificate"), p("rpc-private-key"))
            }),
            request_timeout: std::env::var(REQUEST_TIMEOUT_ENV)
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map(std::time::Duration::from_millis)
                .unwrap_or(REQUEST_TIMEOUT),
            max_connections: max_connections(),
        }
    }
}

/// aria2 listens with a backlog of 1024; std's 128 made 2,000 clients
/// connecting at once wait seconds for their SYNs to be retried. The kernel
/// caps it at `net.core.somaxconn`.
const RPC_BACKLOG: i32 = 1024;

/// One listening socket. IPv6 sockets are `IPV6_V6ONLY`, as aria2's, so
/// `::` and `0.0.0.0` can both hold the port.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // As std's bind: a restarted daemon can take its port back at once.
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(RPC_BACKLOG)?;
    Ok(s.into())
}

/// Binds the RPC port now (so a port taken in every family is an error at
/// start, as in aria2) and returns the service to run on core 0.
///
/// Each family is tried in turn; one that cannot be bound (no IPv6 on the
/// host, the port taken there) is logged as aria2 logs it and skipped.
/// With `--rpc-listen-port=0` the IPv6 socket takes the port the kernel
/// gave the IPv4 one, so both families serve one port.
pub fn service(global: OptionSet) -> Result<ServiceStarter, DaemonError> {
    let settings = RpcSettings::from_options(&global);
    let tls = match &settings.tls {
        Some((cert, key)) => Some(tls_config(cert, key)?),
        None => None,
    };
    if global.get_str("rpc-secret").is_empty() && global.get_str("rpc-user").is_empty() {
        tracing::warn!(
            "Neither --rpc-secret nor a combination of --rpc-user and --rpc-passwd is set. This is insecure. It is extremely recommended to specify --rpc-secret with the adequate secrecy or now deprecated --rpc-user and --rpc-passwd."
        );
    }
    if tls.is_some() {
        tracing::info!(notice = true, "RPC transport will be encrypted.");
    }
    let mut listeners = Vec::new();
    let mut port = None;
    for addr in &settings.addrs {
        let mut addr = *addr;
        if let Some(p) = port {
            addr.set_port(p);
        }
        let family = if addr.is_ipv4() { 4 } else { 6 };
        // `--rpc-listen-all` under `--interface` listens on the interface's
        // address, as aria2's passive bind does; loopback stays loopback.
        let bound = if addr.ip().is_unspecified() {
            arietta_net::bind_passive(addr.is_ipv6(), addr.port(), bind)
        } else {
            bind(addr)
        };
        match bound {
            Ok(l) => {
                let bound = l.local_addr().map(|a| a.port()).unwrap_or(addr.port());
                port.get_or_insert(bound);
                tracing::info!(
                    notice = true,
                    "IPv{family} RPC: listening on TCP port {bound}"
                );
                listeners.push(l);
            }
            Err(e) => {
                // aria2's exception line, this file in place of its .cc.
                let e = e.to_string();
                let cause = e.rsplit_once(" (os error").map_or(&*e, |(c, _)| c);
                tracing::error!(
                    "IPv{family} RPC: failed to bind TCP port {}\nException: [daemon/lib.rs:{}] errorCode=1 Failed to bind a socket, cause: {cause}",
                    addr.port(),
                    line!()
                );
            }
        }
    }
    if listeners.is_empty() {
        return Err(DaemonError::Bind);
    }
    Ok(Box::new(move |handle| {
        Box::pin(serve(listeners, settings, global, handle, tls))
    }))
}

/// The server side of `--rpc-secure`, loaded once at start so a bad
/// certificate is an error before the daemon runs.
fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<std::sync::Arc<rustls::ServerConfig>, DaemonError> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| DaemonError::Tls(format!("cannot read {}: {e}", p.display())))
    };
    let certs: Vec<_> = rustls_pemfile::certs(&mut &read(cert)?[..])
        .collect::<Result<_, _>>()
        .map_err(|e| DaemonError::Tls(format!("bad certificate {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(DaemonError::Tls(format!(
            "no certificate in {}",
            cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut &read(key)?[..])
        .map_err(|e| DaemonError::Tls(format!("bad private key {}: {e}", key.display())))?
        .ok_or_else(|| DaemonError::Tls(format!("no private key in {}", key.display())))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DaemonError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| DaemonError::Tls(e.to_string()))?;
    Ok(std::sync::Arc::new(cfg))
}
