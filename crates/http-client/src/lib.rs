//! The one HTTP(S) client of arietta.
//!
//! Segmented downloads (`core`'s `http_fetch`), BitTorrent trackers, web
//! seeds and `.torrent` files fetched by URL all reach servers the same
//! way, so the policies aria2 users rely on apply to each of them alike:
//! the per-core DNS cache and Happy Eyeballs of `arietta-net`,
//! `--all-proxy`/`--http-proxy`/`--https-proxy`/`*_proxy`/`no_proxy`
//! (CONNECT tunnels for HTTPS, SOCKS5 for any scheme), the TLS options, `--user-agent`,
//! `--header` and the timeouts.
//!
//! Layers, lowest first:
//! - [`Route`]: where a URL's request goes (origin, proxy), its pool key.
//! - [`dial`] (and [`tunnel`]): a connected [`HttpConnection`] for a route.
//! - [`exchange`]: sends one request head on a pooled connection (retrying
//!   once on a fresh one when the pooled one was closed meanwhile) or a new
//!   one, and returns the response head with the connection, whose body the
//!   caller reads and which it may keep for the next request.
//! - [`dial_http2`], [`Http2Connection`]: HTTP/2 (arietta only, opt-in):
//!   many requests as streams of one connection.
//! - [`HttpClient`]: the above with a download's settings ([`ClientConfig`]),
//!   for callers that need no more than a GET.
//!
//! What stays with callers: redirects, cookies and netrc (the download
//! task decides those per request), and reading bodies into their files.

mod client;
mod config;
mod dial;
mod error;
mod exchange;
mod http2;
mod route;

pub use client::{Connection, HttpClient, Response};
pub use config::{headers_from_options, proxies_from_options, tls_from_options, ClientConfig};
pub(crate) use dial::dial_with;
pub use dial::{dial, socks5_proxy, tunnel, DialOptions};
pub use error::ClientError;
pub use exchange::{exchange, read_ahead, send_ahead, with_timeout};
pub use http2::{dial_http2, Http2Body, Http2Connection, Negotiated};
pub use route::Route;

/// The connection type every layer hands around.
pub type HttpConnection = arietta_http::HttpConnection<arietta_net::NetStream>;
