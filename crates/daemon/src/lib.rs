//! The RPC daemon: serves aria2's JSON-RPC (the `arietta-rpc` protocol
//! crate) over glommio sockets on core 0 and drives the download engine
//! through the coordinator's control API. Protocol code stays pure in
//! `rpc`; this crate is the thin I/O loop and the dispatch.
#![deny(unsafe_op_in_unsafe_fn)]

mod dispatch;
mod http_server;
mod metrics;
mod status;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use arietta_core::ServiceStarter;
use arietta_options::OptionSet;

pub use http_server::serve;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("--rpc-secure: {0}")]
    Tls(String),
    #[error("cannot listen on {addr} for RPC: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What the server needs from the options.
#[derive(Clone, Debug)]
pub struct RpcSettings {
    pub addr: SocketAddr,
    pub secret: Option<String>,
    pub allow_origin_all: bool,
    pub max_request_size: usize,
    /// `--enable-metrics`: serve `GET /metrics` (Prometheus text format).
    pub metrics: bool,
    /// `--rpc-secure` with `--rpc-certificate`/`--rpc-private-key` (PEM).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl RpcSettings {
    pub fn from_options(o: &OptionSet) -> RpcSettings {
        let ip = if o.get_bool("rpc-listen-all") {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        RpcSettings {
            addr: SocketAddr::new(ip, o.get_u64("rpc-listen-port") as u16),
            secret: o.get_opt_str("rpc-secret").map(str::to_owned),
            allow_origin_all: o.get_bool("rpc-allow-origin-all"),
            max_request_size: o.get_size("rpc-max-request-size") as usize,
            metrics: o.get_bool("enable-metrics"),
            tls: o.get_bool("rpc-secure").then(|| {
                let p = |n: &str| std::path::PathBuf::from(o.get_str(n));
                (p("rpc-certificate"), p("rpc-private-key"))
            }),
        }
    }
}

/// aria2 listens with a backlog of 1024; std's 128 made 2,000 clients
/// connecting at once wait seconds for their SYNs to be retried. Linux lets
/// `listen` be called again on a listening socket to change it; the
/// kernel caps it at `net.core.somaxconn`.
const RPC_BACKLOG: libc::c_int = 1024;

fn widen_backlog(listener: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is a listening TCP socket owned by `listener`,
    // alive for the call; listen(2) only changes its queue length.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), RPC_BACKLOG) };
    if rc != 0 {
        tracing::debug!(
            "RPC: keeping the default listen backlog: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Binds the RPC port now (so a taken port is an error at start, as in
/// aria2) and returns the service to run on core 0.
pub fn service(global: OptionSet) -> Result<ServiceStarter, DaemonError> {
    let settings = RpcSettings::from_options(&global);
    let tls = match &settings.tls {
        Some((cert, key)) => Some(tls_config(cert, key)?),
        None => None,
    };
    let listener =
        std::net::TcpListener::bind(settings.addr).map_err(|source| DaemonError::Bind {
            addr: settings.addr,
            source,
        })?;
    widen_backlog(&listener);
    Ok(Box::new(move |handle| {
        Box::pin(serve(listener, settings, global, handle, tls))
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
