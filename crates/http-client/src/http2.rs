//! HTTP/2 (`--enable-http2`, `--http2-prior-knowledge`; arietta only): one
//! connection carries many requests as concurrent streams.
//!
//! The framing, HPACK and flow control are the `h2` crate's. It is written
//! against tokio's `AsyncRead`/`AsyncWrite` traits but needs no tokio
//! runtime (no timers, no spawning of its own): our [`NetStream`] (a
//! futures-io stream on glommio) is adapted with `tokio-util`'s compat
//! layer, and the connection's driver future runs as a glommio local task.
//!
//! Requests are the same [`RequestSpec`] as over HTTP/1.1: its encoded head
//! is read back into h2 header fields (minus the hop-by-hop ones), so every
//! header policy (`--header`, cookies, auth, ranges) stays in one place.
//! Responses come back as the same [`ResponseHead`] with a [`Http2Body`]
//! that reads like [`crate::HttpConnection`]'s body.
//!
//! Reads from the socket go through a 256 KiB buffer: h2's frame reader
//! asks for a frame's worth (8–16 KiB) at a time, which unbuffered is one
//! `recv` per DATA frame; buffered, one `recv` takes what the socket holds.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use arietta_http::{BodyChunk, HttpError, RequestSpec, ResponseHead};
use arietta_net::NetStream;
use bytes::{Buf, Bytes};
use futures_lite::io::BufReader;
use h2::client::SendRequest;
use tokio_util::compat::FuturesAsyncReadCompatExt;
use tracing::debug;

use crate::{dial_with, with_timeout, ClientError, DialOptions, HttpConnection, Route};

/// Per-stream receive window: big enough that one stream of a segmented
/// download is not held to h2's default 64 KiB per round trip.
const STREAM_WINDOW: u32 = 4 << 20;
/// Whole-connection receive window, shared by all its streams: with
/// nginx's default 128 concurrent streams, room for every one of them to
/// have a 64 KiB file in flight without a WINDOW_UPDATE round trip.
const CONNECTION_WINDOW: u32 = 32 << 20;
/// See the module comment.
const READ_BUFFER: usize = 256 << 10;

/// Hop-by-hop fields of an HTTP/1.1 head that HTTP/2 forbids (RFC 9113
/// §8.2.2); `Host` becomes the `:authority` pseudo-header.
const DROPPED: [&str; 7] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
];

/// An open HTTP/2 connection; clones share it (each request is a stream).
#[derive(Clone)]
pub struct Http2Connection {
    send: SendRequest<Bytes>,
    /// Identity and use, shared by clones: see [`Http2Connection::same`]
    /// and [`Http2Connection::idle_for`].
    usage: Rc<Usage>,
}

/// How busy a connection is: its streams now, since when it has none,
/// and how many it answered.
struct Usage {
    streams: Cell<usize>,
    idle_since: Cell<Instant>,
    answered: Cell<u64>,
}

/// Counts a stream from its request until its [`Http2Body`] is dropped.
struct StreamGuard(Rc<Usage>);

impl StreamGuard {
    fn new(usage: &Rc<Usage>) -> StreamGuard {
        usage.streams.set(usage.streams.get() + 1);
        StreamGuard(usage.clone())
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let u = &self.0;
        u.streams.set(u.streams.get() - 1);
        if u.streams.get() == 0 {
            u.idle_since.set(Instant::now());
        }
    }
}

/// What a dial that may end in HTTP/2 gave.
pub enum Negotiated {
    /// The server speaks HTTP/2 (ALPN `h2`, or h2c by prior knowledge).
    Http2(Http2Connection),
    /// The TLS server picked HTTP/1.1 (or nothing): use it as such.
    Http1(HttpConnection),
}

/// Dials `route` for HTTP/2: over TLS offering `h2` in ALPN (falling back
/// to whatever the server picks), over plain TCP speaking h2c directly.
pub async fn dial_http2(route: &Route, o: &DialOptions<'_>) -> Result<Negotiated, ClientError> {
    let conn = dial_with(route, o, true).await?;
    let h2 = !conn.get_ref().is_tls() || conn.get_ref().alpn_protocol() == Some(b"h2");
    if !h2 {
        debug!("{}:{} chose HTTP/1.1 over h2", route.host, route.port);
        return Ok(Negotiated::Http1(conn));
    }
    let stream = conn.into_inner();
    let h = with_timeout(o.connect_timeout, Http2Connection::handshake(stream)).await?;
    Ok(Negotiated::Http2(h))
}

impl Http2Connection {
    /// Sends the connection preface and settings on `stream` and starts the
    /// connection's driver as a task on this core; it ends when every
    /// clone and stream of the connection is dropped, or the server closes.
    pub async fn handshake(stream: NetStream) -> Result<Http2Connection, HttpError> {
        let (send, conn) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake::<_, Bytes>(BufReader::with_capacity(READ_BUFFER, stream).compat())
            .await
            .map_err(h2_error)?;
        glommio::spawn_local(async move {
            if let Err(e) = conn.await {
                debug!("HTTP/2 connection ended: {e}");
            }
        })
        .detach();
        Ok(Http2Connection {
            send,
            usage: Rc::new(Usage {
                streams: Cell::new(0),
                idle_since: Cell::new(Instant::now()),
                answered: Cell::new(0),
            }),
        })
    }

    /// Whether `self` and `other` are clones of one connection.
    pub fn same(&self, other: &Http2Connection) -> bool {
        Rc::ptr_eq(&self.usage, &other.usage)
    }

    /// How many requests the server answered (a response head) on this
    /// connection: one that refuses a request after answering others is
    /// making progress (a per-connection request limit), one that answered
    /// none may refuse everything.
    pub fn answered(&self) -> u64 {
        self.usage.answered.get()
    }

    /// How long the connection has had no stream (a request sent, its
    /// body not yet dropped); `None` while it has one.
    pub fn idle_for(&self) -> Option<Duration> {
        (self.usage.streams.get() == 0).then(|| self.usage.idle_since.get().elapsed())
    }

    /// Whether the connection can still open streams (the server has not
    /// sent GOAWAY and the connection has not failed).
    pub fn is_open(&mut self) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        !matches!(
            self.send.poll_ready(&mut cx),
            std::task::Poll::Ready(Err(_))
        )
    }

    /// Sends `spec` (a GET, no body) as a new stream and waits for the
    /// response head, at most `timeout` (zero: no limit). A request the
    /// server did not process fails with [`ClientError::Refused`].
    pub async fn send(
        &self,
        spec: &RequestSpec,
        timeout: Duration,
    ) -> Result<(ResponseHead, Http2Body), ClientError> {
        let req = to_h2_request(spec)?;
        let guard = StreamGuard::new(&self.usage);
        let resp = with_timeout(timeout, async {
            let mut send = self.send.clone().ready().await.map_err(send_error)?;
            let (resp, _) = send.send_request(req, true).map_err(send_error)?;
            resp.await.map_err(send_error)
        })
        .await?;
        self.usage.answered.set(self.usage.answered.get() + 1);
        let (parts, body) = resp.into_parts();
        let head = ResponseHead {
            version: 1,
            status: parts.status.as_u16(),
            reason: parts.status.canonical_reason().unwrap_or("").to_owned(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
        };
        let finished = body.is_end_stream();
        Ok((
            head,
            Http2Body {
                recv: body,
                pending: Bytes::new(),
                finished,
                _guard: guard,
            },
        ))
    }
}

/// A response body arriving on one stream.
pub struct Http2Body {
    recv: h2::RecvStream,
    /// The rest of the last DATA frame, not yet handed out.
    pending: Bytes,
    /// Whether the stream's end was seen.
    finished: bool,
    _guard: StreamGuard,
}

impl Http2Body {
    /// Whether every body byte was handed out.
    pub fn is_finished(&self) -> bool {
        self.finished && self.pending.is_empty()
    }

    /// Copies body bytes into `dst`, waiting for a DATA frame when none is
    /// buffered; as [`crate::HttpConnection::read_body_into`]. Flow-control
    /// credit goes back to the server as frames are taken, so a stream
    /// buffers at most its window.
    pub async fn read_body_into(&mut self, dst: &mut [u8]) -> Result<BodyChunk, HttpError> {
        if self.pending.is_empty() && !self.finished {
            match self.recv.data().await {
                None => self.finished = true,
                Some(Ok(b)) => {
                    let _ = self.recv.flow_control().release_capacity(b.len());
                    self.pending = b;
                    self.finished = self.recv.is_end_stream();
                }
                Some(Err(e)) => return Err(h2_error(e)),
            }
        }
        let n = dst.len().min(self.pending.len());
        dst[..n].copy_from_slice(&self.pending[..n]);
        self.pending.advance(n);
        Ok(BodyChunk {
            appended: n,
            finished: self.is_finished(),
        })
    }
}

/// A failure of [`Http2Connection::send`]: [`ClientError::Refused`] when
/// the server never processed the stream (it reset it with
/// `REFUSED_STREAM`, or its GOAWAY came before the stream: h2 fails the
/// streams above the GOAWAY's last stream id, and new requests, with the
/// GOAWAY), else as [`h2_error`].
fn send_error(e: h2::Error) -> ClientError {
    if e.reason() == Some(h2::Reason::REFUSED_STREAM) || (e.is_go_away() && e.is_remote()) {
        return ClientError::Refused(e.to_string());
    }
    ClientError::Http(h2_error(e))
}

/// An h2 failure as the HTTP/1.1 code sees a broken connection: an I/O
/// error (retryable, aria2's network-problem exit code).
fn h2_error(e: h2::Error) -> HttpError {
    if e.is_io() {
        if let Some(io) = e.into_io() {
            return HttpError::Io(io);
        }
        return HttpError::Io(io::Error::other("HTTP/2 connection failed"));
    }
    HttpError::Io(io::Error::other(e))
}

/// `spec` as an h2 request: the URI with its authority from the `Host`
/// field, the other fields of the encoded HTTP/1.1 head minus the
/// hop-by-hop ones.
fn to_h2_request(spec: &RequestSpec) -> Result<http::Request<()>, HttpError> {
    let head = spec.encode();
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut fields);
    let bad = |_| HttpError::BadHead("request head not expressible in HTTP/2");
    req.parse(&head).map_err(bad)?;
    let mut host = None;
    let mut b = http::Request::builder().method(req.method.unwrap_or("GET"));
    for f in req.headers.iter() {
        let name = f.name.to_ascii_lowercase();
        if name == "host" {
            host = Some(String::from_utf8_lossy(f.value).into_owned());
        }
        if !DROPPED.contains(&name.as_str()) {
            b = b.header(name, f.value);
        }
    }
    let authority = host.unwrap_or_else(|| spec.url.host_str().unwrap_or("").to_owned());
    let uri = format!(
        "{}://{authority}{}",
        spec.url.scheme(),
        spec.request_target()
    );
    b.uri(uri)
        .body(())
        .map_err(|_| HttpError::BadHead("request not expressible in HTTP/2"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_http::Method;

    #[test]
    fn request_fields_without_hop_by_hop_ones() {
        let url = url::Url::parse("https://example.org:8443/a/b?c=1#frag").unwrap();
        let mut spec = RequestSpec::new(Method::Get, url);
        spec.range = Some((5, Some(9)));
        spec.headers = vec![("X-A".into(), "1".into())];
        let r = to_h2_request(&spec).unwrap();
        assert_eq!(r.uri().to_string(), "https://example.org:8443/a/b?c=1");
        assert_eq!(r.headers()["range"], "bytes=5-9");
        assert_eq!(r.headers()["x-a"], "1");
        assert!(r.headers().get("host").is_none());
        assert!(r.headers().get("connection").is_none());
    }
}
