//! The connection transport: plain TCP or rustls over TCP, with the socket
//! operations fault injection needs (half-close, RST, close_notify).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use rustls::{ServerConnection, StreamOwned};

pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Orderly close: TLS close_notify, FIN, then drain what the client
    /// still sends so the kernel doesn't turn our close into an RST (which
    /// would discard response bytes the client has not read yet).
    pub fn close_gracefully(mut self) {
        if let Stream::Tls(s) = &mut self {
            s.conn.send_close_notify();
        }
        let _ = self.flush();
        self.close_abruptly_with_fin();
    }

    /// FIN without TLS close_notify: a truncation the client must notice.
    pub fn close_abruptly_with_fin(self) {
        let tcp = self.tcp();
        let _ = tcp.shutdown(Shutdown::Write);
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(200)));
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut sink = [0u8; 16 * 1024];
        let mut raw = tcp;
        while Instant::now() < deadline {
            match raw.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Closes with `SO_LINGER {on, 0}` so the peer receives RST.
    pub fn reset(self) {
        let fd = self.tcp().as_raw_fd();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: `fd` is an open socket owned by `self`, alive for this
        // call; the option value points at a live, correctly sized `linger`.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        debug_assert_eq!(rc, 0, "SO_LINGER failed");
        drop(self);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
