//! [`HttpClient`]: GETs with one download's settings, for the callers that
//! need nothing more (trackers, web seeds, a `.torrent` by URL).

use std::sync::Arc;
use std::time::Duration;

use arietta_http::{HttpError, Method, RequestSpec, ResponseHead};
use url::Url;

use crate::{exchange, with_timeout, ClientConfig, ClientError, HttpConnection, Route};

/// A download's HTTP client: its [`ClientConfig`], cheap to clone and to
/// send to other cores.
#[derive(Clone, Default)]
pub struct HttpClient {
    cfg: Arc<ClientConfig>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.cfg.fmt(f)
    }
}

/// An open connection and the route it serves, to send the next request
/// on (keep-alive).
pub struct Connection {
    key: String,
    /// The connection, positioned after the last response head read.
    pub http: HttpConnection,
}

/// A response head, with the connection positioned at its body.
pub struct Response {
    /// Status and headers.
    pub head: ResponseHead,
    /// Where the body is read from; keep it for the next request once the
    /// body is read.
    pub conn: Connection,
}

impl HttpClient {
    /// A client with `cfg`'s settings.
    pub fn new(cfg: ClientConfig) -> HttpClient {
        HttpClient { cfg: Arc::new(cfg) }
    }

    /// The settings this client runs with.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// The same client with other timeouts (trackers have their own
    /// `--bt-tracker-connect-timeout` and `--bt-tracker-timeout`).
    pub fn with_timeouts(&self, connect: Duration, io: Duration) -> HttpClient {
        let mut cfg = (*self.cfg).clone();
        cfg.connect_timeout = connect;
        cfg.timeout = io;
        HttpClient::new(cfg)
    }

    /// Where requests for `url` go.
    pub fn route(&self, url: &Url) -> Route {
        Route::new(url, &self.cfg.proxies)
    }

    /// A GET of `url` along `route`, with the user agent and extra headers;
    /// the caller adds a range or turns keep-alive off.
    pub fn request(&self, route: &Route, url: &Url) -> RequestSpec {
        let mut spec = RequestSpec::new(Method::Get, url.clone());
        spec.user_agent = self.cfg.user_agent.clone();
        spec.headers = self.cfg.headers.clone();
        spec.via_proxy = route.proxy_auth();
        spec
    }

    /// Sends `spec` along `route`, on `kept` when it serves the same route
    /// and can take another request, else on a new connection.
    pub async fn send(
        &self,
        route: &Route,
        spec: &RequestSpec,
        kept: Option<Connection>,
    ) -> Result<Response, ClientError> {
        if !matches!(route.scheme.as_str(), "http" | "https") {
            return Err(ClientError::Unsupported(spec.url.to_string()));
        }
        let key = route.key();
        let pooled = kept
            .filter(|c| c.key == key && c.http.reusable())
            .map(|c| c.http);
        let o = self.cfg.dial_options();
        let (head, http) = exchange(route, &o, pooled, &spec.encode(), self.cfg.timeout).await?;
        Ok(Response {
            head,
            conn: Connection { key, http },
        })
    }

    /// GETs a small resource whole (a tracker's answer, a `.torrent`), on a
    /// connection of its own, failing on a non-2xx status and beyond
    /// `max_body` bytes. Redirects are not followed.
    pub async fn get_bytes(&self, url: &Url, max_body: usize) -> Result<Vec<u8>, ClientError> {
        let route = self.route(url);
        let mut spec = self.request(&route, url);
        spec.keep_alive = false;
        let Response { head, mut conn } = self.send(&route, &spec, None).await?;
        if !head.is_success() {
            return Err(HttpError::Status {
                status: head.status,
            }
            .into());
        }
        let mut body = Vec::new();
        with_timeout(
            self.cfg.timeout,
            conn.http.read_body_to_end(&mut body, max_body),
        )
        .await?;
        Ok(body)
    }
}
