//! The handshake over a blocking socket, for threads that own one (the
//! SFTP connection's libssh2 thread).

use std::io::{Read, Write};

use crate::{Credentials, Handshake, Socks5Error, Target};

/// Runs the handshake on `stream` (already connected to the proxy) to
/// CONNECT to `target`; afterwards the stream is the target's. Returns the
/// proxy's bound address. Timeouts are the socket's own.
pub fn connect_blocking<S: Read + Write>(
    stream: &mut S,
    target: Target,
    creds: Option<Credentials>,
) -> Result<Target, Socks5Error> {
    let mut h = Handshake::new(target, creds)?;
    let mut buf = [0u8; 262];
    loop {
        let out = h.transmit();
        if !out.is_empty() {
            stream.write_all(&out)?;
            stream.flush()?;
        }
        if let Some(b) = h.bound() {
            return Ok(b.clone());
        }
        let n = h.wanted().min(buf.len());
        let got = stream.read(&mut buf[..n])?;
        if got == 0 {
            return Err(Socks5Error::Closed);
        }
        h.feed(&buf[..got])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A scripted server: reads come from `input`, writes are recorded.
    struct Scripted {
        input: Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn runs_to_the_reply_and_leaves_the_rest_unread() {
        let mut input = vec![5, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 22];
        input.extend_from_slice(b"SSH-2.0-x\r\n");
        let mut s = Scripted {
            input: Cursor::new(input),
            written: Vec::new(),
        };
        let bound = connect_blocking(&mut s, Target::new("10.1.1.1", 22), None).unwrap();
        assert_eq!(bound.to_string(), "1.2.3.4:22");
        assert_eq!(s.written, [5, 1, 0, 5, 1, 0, 1, 10, 1, 1, 1, 0, 22]);
        let mut rest = String::new();
        s.input.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "SSH-2.0-x\r\n");
    }

    #[test]
    fn a_closed_proxy_is_an_error() {
        let mut s = Scripted {
            input: Cursor::new(vec![5]),
            written: Vec::new(),
        };
        let e = connect_blocking(&mut s, Target::new("h", 1), None).unwrap_err();
        assert!(matches!(e, Socks5Error::Closed));
    }
}
