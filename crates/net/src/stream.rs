//! One stream type for plain and TLS connections, so protocol code (HTTP,
//! FTP data channels, proxies) is written once over `AsyncRead + AsyncWrite`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;

use crate::TlsStream;

/// A connected byte stream, with or without TLS.
pub enum NetStream {
    /// Cleartext TCP (http://, ftp://).
    Plain(TcpStream),
    /// TLS over TCP (https://, ftps://). Boxed: the rustls state is ~1 KiB
    /// and would bloat every plain connection otherwise.
    Tls(Box<TlsStream>),
}

impl NetStream {
    fn tcp(&self) -> &TcpStream {
        match self {
            NetStream::Plain(s) => s,
            NetStream::Tls(s) => s.get_ref().0,
        }
    }

    /// The remote address (for `--log` lines and per-host statistics).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr().map_err(io::Error::from)
    }

    /// The local address (FTP `PORT`/`EPRT` needs it).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().local_addr().map_err(io::Error::from)
    }

    /// Whether this connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, NetStream::Tls(_))
    }

    /// The protocol the server picked via ALPN, if any (e.g. `b"http/1.1"`).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            NetStream::Plain(_) => None,
            NetStream::Tls(s) => s.get_ref().1.alpn_protocol(),
        }
    }
}

impl From<TcpStream> for NetStream {
    fn from(s: TcpStream) -> Self {
        NetStream::Plain(s)
    }
}

impl From<TlsStream> for NetStream {
    fn from(s: TlsStream) -> Self {
        NetStream::Tls(Box::new(s))
    }
}

impl std::fmt::Debug for NetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_tls() { "Tls" } else { "Plain" };
        f.debug_struct("NetStream")
            .field("kind", &kind)
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl AsyncRead for NetStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for NetStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_flush(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    /// For TLS this sends close_notify first, so servers do not log a
    /// truncation attack.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            NetStream::Plain(s) => Pin::new(s).poll_close(cx),
            NetStream::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}
