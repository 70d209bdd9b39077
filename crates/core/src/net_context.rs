//! Network settings shared by every connection of a run: TLS
//! configuration (built once; it is expensive), the global rate limiter,
//! cookies, netrc and proxies.

use std::sync::{Arc, Mutex};

use arietta_http::{CookieJar, Netrc};
use arietta_http_client::ClientError;
use arietta_net::{RateLimiter, TlsOptions};
use arietta_options::OptionSet;

use crate::error::FetchError;

pub struct NetContext {
    tls_options: TlsOptions,
    /// `--max-overall-download-limit`, shared by all cores.
    pub overall_limit: Arc<RateLimiter>,
    pub cookies: Mutex<CookieJar>,
    netrc: Option<Netrc>,
    /// `--http-auth-challenge`: the `(host:port, directory)`s that
    /// answered 401; requests under them carry credentials from the start
    /// (aria2's activated basic credentials, kept for the run).
    challenged: Mutex<Vec<(String, String)>>,
}

impl NetContext {
    pub fn from_options(o: &OptionSet) -> Result<NetContext, FetchError> {
        let tls_options = arietta_http_client::tls_from_options(o);
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
        // Checked here so a bad proxy stops the run before it starts; each
        // download builds its own (per-download proxy options).
        arietta_http_client::proxies_from_options(o)?;
        Ok(NetContext {
            tls_options,
            overall_limit: RateLimiter::new(o.get_size("max-overall-download-limit")),
            cookies: Mutex::new(cookies),
            netrc,
            challenged: Mutex::default(),
        })
    }

    /// The run's `.netrc` (`--netrc-path` is the run's alone, as in aria2)
    /// unless this download says `--no-netrc`, which aria2 honours per
    /// download.
    pub fn netrc_for(&self, cfg: &crate::config::DownloadConfig) -> Option<&Netrc> {
        self.netrc.as_ref().filter(|_| cfg.netrc)
    }

    /// The TLS options every https:// connection of the run uses (the
    /// rustls configuration is built once, on first use, by
    /// [`arietta_net::client_config`]).
    pub fn tls_options(&self) -> &TlsOptions {
        &self.tls_options
    }

    /// Whether a request for `dir` (a path ending in `/`) on `host_port`
    /// falls under a 401 seen before with `--http-auth-challenge`.
    pub fn auth_challenged(&self, host_port: &str, dir: &str) -> bool {
        self.challenged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|(h, d)| h == host_port && dir.starts_with(d.as_str()))
    }

    /// Remembers that `dir` on `host_port` asked for credentials.
    pub fn mark_auth_challenged(&self, host_port: &str, dir: &str) {
        let mut c = self.challenged.lock().unwrap_or_else(|e| e.into_inner());
        if !c.iter().any(|(h, d)| h == host_port && d == dir) {
            c.push((host_port.to_owned(), dir.to_owned()));
        }
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

/// The HTTP client's failures are the download's: the same variants, so
/// the exit codes stay aria2's.
impl From<ClientError> for FetchError {
    fn from(e: ClientError) -> FetchError {
        match e {
            ClientError::Http(e) => FetchError::Http(e),
            ClientError::Net(e) => FetchError::Net(e),
            ClientError::Timeout(secs) => FetchError::Timeout(secs),
            // Refused again after the caller's retries: a network problem.
            ClientError::Refused(why) => {
                FetchError::Http(arietta_http::HttpError::Io(std::io::Error::other(why)))
            }
            ClientError::Unsupported(uri) => FetchError::UnsupportedUri(uri),
        }
    }
}
