//! Network settings shared by every connection of a run: TLS
//! configuration (built once; it is expensive), the global rate limiter,
//! cookies, netrc and proxies.

use std::sync::{Arc, Mutex, OnceLock};

use arietta_http::{CookieJar, Netrc, ProxySettings};
use arietta_net::{RateLimiter, TlsOptions};
use arietta_options::OptionSet;
use rustls::ClientConfig;

use crate::error::FetchError;

pub struct NetContext {
    tls_options: TlsOptions,
    tls: OnceLock<Result<Arc<ClientConfig>, String>>,
    /// `--max-overall-download-limit`, shared by all cores.
    pub overall_limit: Arc<RateLimiter>,
    pub cookies: Mutex<CookieJar>,
    pub netrc: Option<Netrc>,
    pub proxies: ProxySettings,
}

impl NetContext {
    pub fn from_options(o: &OptionSet) -> Result<NetContext, FetchError> {
        let path = |n: &str| o.get_opt_str(n).map(std::path::PathBuf::from);
        let tls_options = TlsOptions {
            ca_certificate: path("ca-certificate"),
            check_certificate: o.get_bool("check-certificate"),
            certificate: path("certificate"),
            private_key: path("private-key"),
        };
        let mut cookies = CookieJar::new();
        if let Some(p) = o.get_opt_str("load-cookies") {
            let now = std::time::SystemTime::now();
            if arietta_cookie_db::is_sqlite(std::path::Path::new(p)) {
                // Firefox `cookies.sqlite` or Chromium `Cookies`.
                let (_, text) = arietta_cookie_db::to_netscape(std::path::Path::new(p))
                    .map_err(|e| FetchError::Cookies(e.to_string()))?;
                cookies.load_netscape(text.as_bytes(), now);
            } else if let Ok(text) = std::fs::read(p) {
                cookies.load_netscape(&text, now);
            }
        }
        let netrc = if o.get_bool("no-netrc") {
            None
        } else {
            let p = o
                .get_opt_str("netrc-path")
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".netrc"))
                });
            p.and_then(|p| std::fs::read_to_string(p).ok())
                .map(|t| Netrc::parse(t.as_bytes()))
        };
        let env = |k: &str| std::env::var(k).ok();
        let mut proxies = ProxySettings::from_env_and_options(
            &env,
            o.get_opt_str("all-proxy"),
            o.get_opt_str("http-proxy"),
            o.get_opt_str("https-proxy"),
            o.get_opt_str("no-proxy"),
            o.get_opt_str("all-proxy-user"),
            o.get_opt_str("all-proxy-passwd"),
        )?;
        if let Some(v) = o.get_opt_str("ftp-proxy") {
            let mut p = arietta_http::Proxy::parse(v)?;
            if let Some(u) = o.get_opt_str("all-proxy-user") {
                p.auth = Some((u.to_owned(), o.get_str("all-proxy-passwd").to_owned()));
            }
            proxies.ftp = Some(p);
        }
        if let (Some(u), Some(p)) = (o.get_opt_str("ftp-proxy-user"), proxies.ftp.as_mut()) {
            p.auth = Some((u.to_owned(), o.get_str("ftp-proxy-passwd").to_owned()));
        }
        Ok(NetContext {
            tls_options,
            tls: OnceLock::new(),
            overall_limit: RateLimiter::new(o.get_size("max-overall-download-limit")),
            cookies: Mutex::new(cookies),
            netrc,
            proxies,
        })
    }

    /// The TLS client configuration, built on first use.
    pub fn tls(&self) -> Result<Arc<ClientConfig>, FetchError> {
        self.tls
            .get_or_init(|| {
                arietta_net::client_config(&self.tls_options).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| FetchError::Net(arietta_net::NetError::TlsConfig(e)))
    }

    /// Writes the jar to `--save-cookies`, if set.
    pub fn save_cookies(&self, path: &str) -> std::io::Result<()> {
        let text = self
            .cookies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .save_netscape();
        std::fs::write(path, text)
    }
}
