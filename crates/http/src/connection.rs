//! The thin async layer: one HTTP/1.1 connection over any
//! `futures_io::AsyncRead + AsyncWrite` stream (glommio `TcpStream`, a
//! futures-rustls stream, an in-memory pipe in tests).
//!
//! All protocol decisions are made by the pure parsers in this crate; this
//! type only moves bytes. It owns one reusable read buffer; bytes read past
//! the end of a response stay in it for the next (pipelined) response.

use std::collections::VecDeque;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::body::{BodyDecoder, BodyKind};
use crate::error::HttpError;
use crate::response::{parse_head, ResponseHead, MAX_HEAD_SIZE};

/// Size of the connection's read buffer; it also bounds the response head.
pub const READ_BUF_SIZE: usize = 64 * 1024;
const _: () = assert!(READ_BUF_SIZE >= MAX_HEAD_SIZE);

/// How much [`HttpConnection::read_body`] grows the caller's `Vec` per call.
const VEC_READ_STEP: usize = 128 * 1024;

/// Progress reported by the body readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyChunk {
    /// Body bytes delivered by this call.
    pub appended: usize,
    /// Whether the body is now complete.
    pub finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Normal,
    Head,
    Connect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between responses.
    Idle,
    /// Head read; body (possibly empty) being read.
    Body,
}

/// One client connection speaking HTTP/1.1.
pub struct HttpConnection<S> {
    stream: S,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    phase: Phase,
    pending: VecDeque<Sent>,
    decoder: BodyDecoder,
    keep_alive: bool,
    broken: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> HttpConnection<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> Self {
        HttpConnection {
            stream,
            buf: vec![0; READ_BUF_SIZE],
            start: 0,
            end: 0,
            phase: Phase::Idle,
            pending: VecDeque::new(),
            decoder: BodyDecoder::new(BodyKind::Empty),
            keep_alive: true,
            broken: false,
        }
    }

    /// Writes one encoded request (see [`crate::RequestSpec::encode`]).
    ///
    /// Several requests may be sent before their responses are read
    /// (pipelining); the responses are matched in order. A `HEAD` or
    /// `CONNECT` request is recognised from its first bytes so that the
    /// response is framed correctly.
    pub async fn send(&mut self, req: &[u8]) -> Result<(), HttpError> {
        if self.broken {
            return Err(HttpError::InvalidState("connection is broken"));
        }
        let sent = if req.starts_with(b"HEAD ") {
            Sent::Head
        } else if req.starts_with(b"CONNECT ") {
            Sent::Connect
        } else {
            Sent::Normal
        };
        let result = async {
            self.stream.write_all(req).await?;
            self.stream.flush().await
        }
        .await;
        if let Err(e) = result {
            self.broken = true;
            return Err(e.into());
        }
        self.pending.push_back(sent);
        Ok(())
    }

    /// Reads the next final response head, skipping interim 1xx responses
    /// (100 Continue, 103 Early Hints).
    ///
    /// EOF before any byte yields [`HttpError::ConnectionClosed`] — on a
    /// reused connection, retry on a new one.
    pub async fn read_head(&mut self) -> Result<ResponseHead, HttpError> {
        if self.phase == Phase::Body && !self.decoder.is_finished() {
            return Err(HttpError::InvalidState("previous response body not read"));
        }
        if self.broken {
            return Err(HttpError::InvalidState("connection is broken"));
        }
        let sent = self.pending.pop_front().unwrap_or(Sent::Normal);
        match self.read_head_inner(sent).await {
            Ok(head) => Ok(head),
            Err(e) => {
                self.broken = true;
                Err(e)
            }
        }
    }

    async fn read_head_inner(&mut self, sent: Sent) -> Result<ResponseHead, HttpError> {
        let mut received_any = self.start < self.end;
        loop {
            let parsed = parse_head(self.buf.get(self.start..self.end).unwrap_or(&[]))?;
            if let Some((head, used)) = parsed {
                self.start += used;
                self.normalise_buffer();
                if (100..200).contains(&head.status) && head.status != 101 {
                    continue;
                }
                let tunnel = sent == Sent::Connect && head.is_success();
                let kind = if tunnel || head.status == 101 {
                    BodyKind::Empty
                } else {
                    BodyKind::for_response(&head, sent == Sent::Head)?
                };
                self.decoder = BodyDecoder::new(kind);
                self.keep_alive = head.keep_alive()
                    && kind != BodyKind::UntilClose
                    && !tunnel
                    && head.status != 101;
                self.phase = Phase::Body;
                if self.decoder.is_finished() {
                    self.phase = Phase::Idle;
                }
                return Ok(head);
            }
            if self.end == self.buf.len() {
                self.compact();
            }
            let n = self.stream.read(&mut self.buf[self.end..]).await?;
            if n == 0 {
                return Err(if received_any {
                    HttpError::UnexpectedEof
                } else {
                    HttpError::ConnectionClosed
                });
            }
            received_any = true;
            self.end += n;
        }
    }

    fn normalise_buffer(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }

    /// Reads body bytes into `dst`, returning how many were written and
    /// whether the body ended. This is the hot path: when no framing bytes
    /// are buffered it reads from the stream straight into `dst`, so
    /// identity bodies are copied once, by the kernel.
    ///
    /// Returns as soon as some bytes are available; never returns zero bytes
    /// unfinished unless `dst` is empty.
    pub async fn read_body_into(&mut self, dst: &mut [u8]) -> Result<BodyChunk, HttpError> {
        match self.phase {
            Phase::Idle => {
                return Ok(BodyChunk {
                    appended: 0,
                    finished: true,
                })
            }
            Phase::Body => {}
        }
        match self.read_body_inner(dst).await {
            Ok(chunk) => {
                if chunk.finished {
                    self.phase = Phase::Idle;
                }
                Ok(chunk)
            }
            Err(e) => {
                self.broken = true;
                Err(e)
            }
        }
    }

    async fn read_body_inner(&mut self, dst: &mut [u8]) -> Result<BodyChunk, HttpError> {
        let mut filled = 0;
        loop {
            if self.decoder.is_finished() {
                return Ok(BodyChunk {
                    appended: filled,
                    finished: true,
                });
            }
            let room = dst.len() - filled;
            if room == 0 {
                return Ok(BodyChunk {
                    appended: filled,
                    finished: false,
                });
            }
            if self.start < self.end {
                let input = &self.buf[self.start..self.end];
                let span = self.decoder.next_span(input, room)?;
                let body = input.get(span.body.clone()).unwrap_or(&[]);
                dst[filled..filled + body.len()].copy_from_slice(body);
                filled += body.len();
                self.start += span.consumed;
                self.normalise_buffer();
                continue;
            }
            if filled > 0 {
                return Ok(BodyChunk {
                    appended: filled,
                    finished: false,
                });
            }
            if let Some(limit) = self.decoder.direct_read_limit() {
                let want = usize::try_from(limit).map_or(room, |l| l.min(room));
                let n = self.stream.read(&mut dst[filled..filled + want]).await?;
                if n == 0 {
                    self.decoder.on_eof()?;
                    self.keep_alive = false;
                    continue;
                }
                self.decoder.advance_direct(n)?;
                filled += n;
            } else {
                let n = self.stream.read(&mut self.buf[..]).await?;
                if n == 0 {
                    self.decoder.on_eof()?;
                    continue;
                }
                self.start = 0;
                self.end = n;
            }
        }
    }

    /// Appends up to `max` body bytes to `out` (convenient form of
    /// [`read_body_into`](Self::read_body_into); it zero-fills the space it
    /// reads into, so prefer the slice form for bulk data).
    pub async fn read_body(
        &mut self,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<BodyChunk, HttpError> {
        let old = out.len();
        out.resize(old + max.min(VEC_READ_STEP), 0);
        let result = self.read_body_into(&mut out[old..]).await;
        let appended = result.as_ref().map_or(0, |c| c.appended);
        out.truncate(old + appended);
        result
    }

    /// Reads the whole remaining body into `out`, failing with
    /// [`HttpError::BodyTooLarge`] beyond `limit` bytes. For small bodies:
    /// error pages, metalink documents.
    pub async fn read_body_to_end(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), HttpError> {
        let start = out.len();
        loop {
            let taken = out.len() - start;
            // One byte more than allowed detects an oversized body.
            let chunk = self
                .read_body(out, (limit - taken.min(limit)).saturating_add(1))
                .await?;
            if out.len() - start > limit {
                self.broken = true;
                return Err(HttpError::BodyTooLarge {
                    limit: limit as u64,
                });
            }
            if chunk.finished {
                return Ok(());
            }
        }
    }

    /// Discards the rest of the body so the connection can be reused (as
    /// aria2 does for redirects and error pages). Returns `false` without
    /// reading further when more than `limit` bytes would have to be
    /// discarded — closing is cheaper then.
    pub async fn skip_body(&mut self, limit: u64) -> Result<bool, HttpError> {
        let mut scratch = vec![0u8; 16 * 1024];
        let mut skipped: u64 = 0;
        loop {
            let chunk = self.read_body_into(&mut scratch).await?;
            skipped = skipped.saturating_add(chunk.appended as u64);
            if chunk.finished {
                return Ok(true);
            }
            if skipped > limit {
                self.broken = true;
                return Ok(false);
            }
        }
    }

    /// Whether another request may be sent on this connection: the last
    /// response was complete, allowed keep-alive, and nothing failed.
    pub fn reusable(&self) -> bool {
        self.phase == Phase::Idle && self.keep_alive && !self.broken
    }

    /// Whether the connection stays open after the response being read
    /// (so a request sent behind it will be answered): the server allowed
    /// keep-alive and nothing failed.
    pub fn stays_open(&self) -> bool {
        self.keep_alive && !self.broken
    }

    /// Bytes read from the stream but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// The body decoder of the current response (for progress, remaining
    /// length, …).
    pub fn body_decoder(&self) -> &BodyDecoder {
        &self.decoder
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably (e.g. to set socket options).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Gives back the stream, dropping buffered bytes; after a successful
    /// CONNECT there are none, since the proxy waits for the TLS hello.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Gives back the stream and any bytes read past the last response.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        let rest = self.buffered().to_vec();
        (self.stream, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Serves `input` in pieces of at most `max_read` bytes, records writes,
    /// and optionally fails reads after the input runs out.
    struct Mock {
        input: Vec<u8>,
        pos: usize,
        max_read: usize,
        written: Vec<u8>,
        fail_at_end: bool,
        reads: usize,
    }

    impl Mock {
        fn new(input: &[u8], max_read: usize) -> Self {
            Mock {
                input: input.to_vec(),
                pos: 0,
                max_read,
                written: Vec::new(),
                fail_at_end: false,
                reads: 0,
            }
        }
    }

    impl AsyncRead for Mock {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            self.reads += 1;
            let rest = &self.input[self.pos..];
            if rest.is_empty() && self.fail_at_end {
                return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
            }
            let n = rest.len().min(buf.len()).min(self.max_read);
            buf[..n].copy_from_slice(&rest[..n]);
            self.pos += n;
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Mock {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn body_of(conn: &mut HttpConnection<Mock>) -> Result<Vec<u8>, HttpError> {
        let mut out = Vec::new();
        block_on(conn.read_body_to_end(&mut out, 10 << 20))?;
        Ok(out)
    }

    #[test]
    fn keep_alive_pipelined_responses() {
        let wire =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n\
HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nnopEXTRA";
        for max_read in [1, 7, 4096] {
            let mut conn = HttpConnection::new(Mock::new(wire, max_read));
            block_on(conn.send(b"GET / HTTP/1.1\r\n\r\n")).unwrap();
            block_on(conn.send(b"GET /c HTTP/1.1\r\n\r\n")).unwrap();
            block_on(conn.send(b"HEAD /h HTTP/1.1\r\n\r\n")).unwrap();
            block_on(conn.send(b"GET /x HTTP/1.1\r\n\r\n")).unwrap();
            let h = block_on(conn.read_head()).unwrap();
            assert_eq!(h.status, 200);
            assert!(!conn.reusable());
            assert_eq!(body_of(&mut conn).unwrap(), b"hello");
            assert!(conn.reusable());
            block_on(conn.read_head()).unwrap();
            assert_eq!(body_of(&mut conn).unwrap(), b"abc");
            let h = block_on(conn.read_head()).unwrap();
            assert_eq!(h.content_length().unwrap(), Some(10));
            assert!(conn.reusable(), "HEAD response has no body");
            let h = block_on(conn.read_head()).unwrap();
            assert_eq!(h.status, 404);
            assert!(block_on(conn.skip_body(100)).unwrap());
            assert!(!conn.reusable(), "Connection: close");
            assert_eq!(
                conn.buffered().len() + conn.get_ref().input.len() - conn.get_ref().pos,
                5
            );
            assert!(conn
                .get_ref()
                .written
                .starts_with(b"GET / HTTP/1.1\r\n\r\nGET /c"));
        }
    }

    #[test]
    fn identity_body_reads_directly_into_destination() {
        let mut wire = b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n".to_vec();
        let body: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        wire.extend_from_slice(&body);
        wire.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
        // The first read buffers part of the body (copied out), the rest is
        // read straight into `dst`.
        let mut conn = HttpConnection::new(Mock::new(&wire, 100_000));
        block_on(conn.read_head()).unwrap();
        let mut dst = vec![0u8; 50_000];
        let mut got = Vec::new();
        loop {
            let c = block_on(conn.read_body_into(&mut dst)).unwrap();
            got.extend_from_slice(&dst[..c.appended]);
            if c.finished {
                break;
            }
            assert!(c.appended > 0);
        }
        assert_eq!(got, body);
        assert!(conn.reusable());
        assert_eq!(block_on(conn.read_head()).unwrap().status, 204);
        assert!(conn.reusable());
    }

    #[test]
    fn read_body_respects_max() {
        let wire =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n";
        let mut conn = HttpConnection::new(Mock::new(wire, 4096));
        block_on(conn.read_head()).unwrap();
        let mut out = Vec::new();
        let c = block_on(conn.read_body(&mut out, 4)).unwrap();
        assert_eq!(
            (c.appended, c.finished, out.as_slice()),
            (4, false, &b"0123"[..])
        );
        assert_eq!(block_on(conn.read_body(&mut out, 0)).unwrap().appended, 0);
        let c = block_on(conn.read_body(&mut out, 100)).unwrap();
        assert_eq!(out, b"0123456789");
        let finished = c.finished || block_on(conn.read_body(&mut out, 100)).unwrap().finished;
        assert!(finished);
        assert!(conn.reusable());
    }

    #[test]
    fn eof_handling() {
        let mut conn = HttpConnection::new(Mock::new(b"", 10));
        assert!(matches!(
            block_on(conn.read_head()),
            Err(HttpError::ConnectionClosed)
        ));
        assert!(!conn.reusable());

        let mut conn = HttpConnection::new(Mock::new(b"HTTP/1.1 200 OK\r\nContent-", 10));
        assert!(matches!(
            block_on(conn.read_head()),
            Err(HttpError::UnexpectedEof)
        ));

        let mut conn = HttpConnection::new(Mock::new(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            10,
        ));
        block_on(conn.read_head()).unwrap();
        assert!(matches!(body_of(&mut conn), Err(HttpError::UnexpectedEof)));
        assert!(!conn.reusable());

        let mut conn = HttpConnection::new(Mock::new(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            3,
        ));
        block_on(conn.read_head()).unwrap();
        assert!(matches!(body_of(&mut conn), Err(HttpError::UnexpectedEof)));

        let mut conn = HttpConnection::new(Mock::new(b"HTTP/1.0 200 OK\r\n\r\nuntil close", 4));
        block_on(conn.read_head()).unwrap();
        assert_eq!(body_of(&mut conn).unwrap(), b"until close");
        assert!(!conn.reusable());

        let mut mock = Mock::new(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", 100);
        mock.fail_at_end = true;
        let mut conn = HttpConnection::new(mock);
        block_on(conn.read_head()).unwrap();
        assert!(matches!(body_of(&mut conn), Err(HttpError::Io(_))));
        assert!(!conn.reusable());
    }

    #[test]
    fn misuse_and_limits() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
        let mut conn = HttpConnection::new(Mock::new(wire, 4096));
        block_on(conn.read_head()).unwrap();
        assert!(matches!(
            block_on(conn.read_head()),
            Err(HttpError::InvalidState(_))
        ));

        let mut wire = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
        wire.resize(wire.len() + 100, b'x');
        let mut conn = HttpConnection::new(Mock::new(&wire, 4096));
        block_on(conn.read_head()).unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            block_on(conn.read_body_to_end(&mut out, 99)),
            Err(HttpError::BodyTooLarge { limit: 99 })
        ));

        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        while big.len() < 70_000 {
            big.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
        }
        let mut conn = HttpConnection::new(Mock::new(&big, 1000));
        assert!(block_on(conn.read_head()).is_err());
    }

    #[test]
    fn connect_tunnel() {
        let wire = b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 200 Connection established\r\n\r\n";
        let mut conn = HttpConnection::new(Mock::new(wire, 4096));
        block_on(conn.send(&crate::request::encode_connect("h", 443, None))).unwrap();
        let h = block_on(conn.read_head()).unwrap();
        assert_eq!(h.status, 407);
        assert!(block_on(conn.skip_body(10)).unwrap());
        block_on(conn.send(&crate::request::encode_connect("h", 443, Some(("u", "p"))))).unwrap();
        let h = block_on(conn.read_head()).unwrap();
        assert_eq!(h.status, 200);
        assert!(
            !conn.reusable(),
            "a tunnel is not an HTTP connection any more"
        );
        let (_, rest) = conn.into_parts();
        assert!(rest.is_empty());
    }
}
