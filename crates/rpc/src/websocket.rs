//! RFC 6455 WebSocket, server side, as pure code.
//!
//! aria2 serves JSON-RPC over WebSocket on the same port as HTTP and pushes
//! download notifications through it. The daemon parses the HTTP request
//! head, checks it with [`check_upgrade`], writes [`upgrade_response`], then
//! feeds socket bytes to a [`FrameDecoder`] and writes frames built by the
//! `encode_*` functions. Any [`Error::WebSocket`] from the decoder carries
//! the close code to send before dropping the connection.

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::error::Error;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What a valid upgrade request told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// `Sec-WebSocket-Key`, to be answered with [`accept_key`].
    pub key: String,
}

/// Checks the headers of an HTTP request (already parsed with httparse)
/// that asks for a WebSocket upgrade.
///
/// The caller has matched the method and path; the method must be GET.
pub fn check_upgrade(method: &str, headers: &[httparse::Header<'_>]) -> Result<Upgrade, Error> {
    if method != "GET" {
        return Err(Error::Handshake("upgrade requires GET"));
    }
    let value = |name: &str| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let has_token = |name: &str, token: &str| {
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token("Upgrade", "websocket") {
        return Err(Error::Handshake("missing Upgrade: websocket"));
    }
    if !has_token("Connection", "upgrade") {
        return Err(Error::Handshake("missing Connection: Upgrade"));
    }
    if value("Sec-WebSocket-Version") != Some("13") {
        return Err(Error::Handshake("unsupported Sec-WebSocket-Version"));
    }
    let key = value("Sec-WebSocket-Key").ok_or(Error::Handshake("missing Sec-WebSocket-Key"))?;
    // The key must be base64 of 16 bytes (RFC 6455 §4.1).
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|_| Error::Handshake("malformed Sec-WebSocket-Key"))?;
    if decoded.len() != 16 {
        return Err(Error::Handshake("malformed Sec-WebSocket-Key"));
    }
    Ok(Upgrade {
        key: key.to_owned(),
    })
}

/// `Sec-WebSocket-Accept` for a key: base64(sha1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// The complete `101 Switching Protocols` response head.
pub fn upgrade_response(upgrade: &Upgrade) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&upgrade.key)
    )
    .into_bytes()
}

/// The response head for a refused upgrade: 426 with the supported version
/// for a version mismatch (RFC 6455 §4.4), 400 otherwise.
pub fn rejection_response(error: &Error) -> Vec<u8> {
    let version = matches!(error, Error::Handshake(m) if m.contains("Version"));
    if version {
        b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\
          Connection: close\r\n\r\n"
            .to_vec()
    } else {
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
    }
}

/// Frame opcodes (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// Continuation of a fragmented message.
    Continuation,
    /// UTF-8 text.
    Text,
    /// Binary data.
    Binary,
    /// Connection close.
    Close,
    /// Ping (answer with a pong carrying the same payload).
    Ping,
    /// Pong.
    Pong,
}

impl Opcode {
    fn from_bits(b: u8) -> Option<Self> {
        Some(match b {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// A complete incoming message: data messages are reassembled from their
/// fragments; control frames arrive as they come, even between fragments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text message, UTF-8 validated.
    Text(String),
    /// A binary message (aria2 treats it like text: JSON-RPC).
    Binary(Vec<u8>),
    /// Ping payload; answer with [`encode_pong`].
    Ping(Vec<u8>),
    /// Pong payload.
    Pong(Vec<u8>),
    /// Close, with status code and reason if the peer sent them. Answer
    /// with [`encode_close`] and close the connection.
    Close(Option<(u16, String)>),
}

/// Declares the decoder's protocol errors as constants, each with its
/// close code.
macro_rules! protocol_errors {
    ($($name:ident = ($code:expr, $reason:expr),)*) => {
        $(const $name: Error = Error::WebSocket { close_code: $code, reason: $reason };)*
    };
}
protocol_errors! {
    UNMASKED = (1002, "client frame is not masked"),
    RESERVED_BITS = (1002, "reserved bits set"),
    BAD_OPCODE = (1002, "unknown opcode"),
    CONTROL_TOO_BIG = (1002, "control frame payload over 125 bytes"),
    CONTROL_FRAGMENTED = (1002, "fragmented control frame"),
    STRAY_CONTINUATION = (1002, "continuation without a message to continue"),
    INTERLEAVED = (1002, "new data frame inside a fragmented message"),
    LENGTH_MSB = (1002, "payload length has its top bit set"),
    BAD_CLOSE_LEN = (1002, "close payload of one byte"),
    BAD_CLOSE_CODE = (1002, "invalid close code"),
    TOO_BIG = (1009, "message too big"),
    BAD_UTF8 = (1007, "text is not UTF-8"),
    AFTER_CLOSE = (1002, "frame after close"),
}

/// Streaming decoder for client-to-server frames.
///
/// Feed it whatever the socket delivered, then call
/// [`FrameDecoder::next_frame`] until it returns `Ok(None)`. The buffer holds
/// at most one frame's worth of unread bytes beyond the latest read, because
/// a frame whose declared length breaks the limit is refused as soon as its
/// header has arrived.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max_message: usize,
    /// A fragmented data message being reassembled.
    partial: Option<(Opcode, Vec<u8>)>,
    closed: bool,
}

impl FrameDecoder {
    /// `max_message` bounds a whole (reassembled) message; aria2 uses
    /// `--rpc-max-request-size` for it.
    pub fn new(max_message: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            max_message,
            partial: None,
            closed: false,
        }
    }

    /// Appends bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 4096 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes fed but not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete message or control frame, `Ok(None)` if more bytes
    /// are needed. After an error or a close frame the decoder is finished:
    /// further data is a protocol error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            let Some((fin, opcode, payload)) = self.next_raw()? else {
                return Ok(None);
            };
            if self.closed {
                return Err(AFTER_CLOSE);
            }
            match opcode {
                Opcode::Ping => return Ok(Some(Frame::Ping(payload))),
                Opcode::Pong => return Ok(Some(Frame::Pong(payload))),
                Opcode::Close => {
                    self.closed = true;
                    return parse_close(&payload).map(|c| Some(Frame::Close(c)));
                }
                Opcode::Text | Opcode::Binary => {
                    if self.partial.is_some() {
                        return Err(INTERLEAVED);
                    }
                    if fin {
                        return finish_message(opcode, payload).map(Some);
                    }
                    self.partial = Some((opcode, payload));
                }
                Opcode::Continuation => {
                    let Some((kind, mut data)) = self.partial.take() else {
                        return Err(STRAY_CONTINUATION);
                    };
                    if data.len().saturating_add(payload.len()) > self.max_message {
                        return Err(TOO_BIG);
                    }
                    data.extend_from_slice(&payload);
                    if fin {
                        return finish_message(kind, data).map(Some);
                    }
                    self.partial = Some((kind, data));
                }
            }
        }
    }

    /// One raw frame, unmasked: `(fin, opcode, payload)`.
    fn next_raw(&mut self) -> Result<Option<(bool, Opcode, Vec<u8>)>, Error> {
        let b = &self.buf[self.start..];
        let (Some(&b0), Some(&b1)) = (b.first(), b.get(1)) else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        if b0 & 0x70 != 0 {
            return Err(RESERVED_BITS);
        }
        let opcode = Opcode::from_bits(b0 & 0x0f).ok_or(BAD_OPCODE)?;
        if b1 & 0x80 == 0 {
            return Err(UNMASKED);
        }
        let (len, mut pos) = match b1 & 0x7f {
            126 => match b.get(2..4) {
                Some(l) => (u64::from(u16::from_be_bytes([l[0], l[1]])), 4),
                None => return Ok(None),
            },
            127 => match b.get(2..10).and_then(|l| <[u8; 8]>::try_from(l).ok()) {
                Some(l) => (u64::from_be_bytes(l), 10),
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        if len >> 63 != 0 {
            return Err(LENGTH_MSB);
        }
        if opcode.is_control() {
            if len > 125 {
                return Err(CONTROL_TOO_BIG);
            }
            if !fin {
                return Err(CONTROL_FRAGMENTED);
            }
        }
        let already = match (&self.partial, opcode) {
            (Some((_, data)), Opcode::Continuation) => data.len(),
            _ => 0,
        };
        let len = usize::try_from(len).map_err(|_| TOO_BIG)?;
        if len.saturating_add(already) > self.max_message {
            return Err(TOO_BIG);
        }
        let Some(mask) = b
            .get(pos..pos + 4)
            .and_then(|m| <[u8; 4]>::try_from(m).ok())
        else {
            return Ok(None);
        };
        pos += 4;
        let Some(masked) = b.get(pos..pos.saturating_add(len)) else {
            return Ok(None);
        };
        let payload: Vec<u8> = masked
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, m)| byte ^ m)
            .collect();
        self.start += pos + len;
        Ok(Some((fin, opcode, payload)))
    }
}

fn finish_message(kind: Opcode, data: Vec<u8>) -> Result<Frame, Error> {
    if kind == Opcode::Text {
        String::from_utf8(data)
            .map(Frame::Text)
            .map_err(|_| BAD_UTF8)
    } else {
        Ok(Frame::Binary(data))
    }
}

fn parse_close(payload: &[u8]) -> Result<Option<(u16, String)>, Error> {
    match payload {
        [] => Ok(None),
        [_] => Err(BAD_CLOSE_LEN),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !valid {
                return Err(BAD_CLOSE_CODE);
            }
            let reason = std::str::from_utf8(reason).map_err(|_| BAD_UTF8)?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}

/// Encodes one unmasked server frame.
pub fn encode_frame(opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(if fin { 0x80 } else { 0 } | opcode.bits());
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// A text message in one frame (how the daemon sends responses and
/// notifications).
pub fn encode_text(text: &str) -> Vec<u8> {
    encode_frame(Opcode::Text, true, text.as_bytes())
}

/// The answer to a ping: a pong echoing its payload.
pub fn encode_pong(payload: &[u8]) -> Vec<u8> {
    encode_frame(Opcode::Pong, true, payload)
}

/// A ping, for keep-alive.
pub fn encode_ping(payload: &[u8]) -> Vec<u8> {
    let payload = payload.get(..125).unwrap_or(payload);
    encode_frame(Opcode::Ping, true, payload)
}

/// A close frame with status code and reason; the reason is cut (at a
/// character boundary) to fit the 125-byte control frame limit.
pub fn encode_close(code: u16, reason: &str) -> Vec<u8> {
    let mut cut = reason.len().min(123);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..cut]);
    encode_frame(Opcode::Close, true, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 0xffff {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        out
    }

    fn decode_all(bytes: &[u8], max: usize) -> Result<Vec<Frame>, Error> {
        let mut d = FrameDecoder::new(max);
        d.feed(bytes);
        let mut out = Vec::new();
        while let Some(f) = d.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    fn close_code(e: Error) -> u16 {
        match e {
            Error::WebSocket { close_code, .. } => close_code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc_accept_key() {
        // RFC 6455 §1.3's worked example.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn handshake() {
        let raw = b"GET /jsonrpc HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n\
                    Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                    Sec-WebSocket-Version: 13\r\n\r\n";
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut headers);
        assert!(req.parse(raw).unwrap().is_complete());
        let up = check_upgrade(req.method.unwrap(), req.headers).unwrap();
        let resp = String::from_utf8(upgrade_response(&up)).unwrap();
        assert!(resp.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(resp.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(resp.ends_with("\r\n\r\n"));

        let h = |n: &'static str, v: &'static str| httparse::Header {
            name: n,
            value: v.as_bytes(),
        };
        let good = [
            h("Upgrade", "websocket"),
            h("Connection", "Upgrade"),
            h("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            h("Sec-WebSocket-Version", "13"),
        ];
        assert!(check_upgrade("GET", &good).is_ok());
        assert!(check_upgrade("POST", &good).is_err());
        for skip in 0..4 {
            let hs: Vec<_> = good
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, h)| *h)
                .collect();
            assert!(check_upgrade("GET", &hs).is_err());
        }
        let mut v8 = good;
        v8[3] = h("Sec-WebSocket-Version", "8");
        let e = check_upgrade("GET", &v8).unwrap_err();
        assert!(String::from_utf8(rejection_response(&e))
            .unwrap()
            .starts_with("HTTP/1.1 426"));
        let mut badkey = good;
        badkey[2] = h("Sec-WebSocket-Key", "c2hvcnQ=");
        let e = check_upgrade("GET", &badkey).unwrap_err();
        assert!(String::from_utf8(rejection_response(&e))
            .unwrap()
            .starts_with("HTTP/1.1 400"));
    }

    #[test]
    fn decodes_masked_frames_in_pieces() {
        let mut bytes = masked(true, 1, b"Hello");
        bytes.extend(masked(true, 9, b"ping"));
        bytes.extend(masked(true, 2, &[0u8; 300]));
        bytes.extend(masked(true, 2, &vec![7u8; 70_000]));
        // Byte-at-a-time feeding must give the same result.
        let mut d = FrameDecoder::new(1 << 20);
        let mut frames = Vec::new();
        for b in &bytes {
            d.feed(std::slice::from_ref(b));
            while let Some(f) = d.next_frame().unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames, decode_all(&bytes, 1 << 20).unwrap());
        assert_eq!(frames[0], Frame::Text("Hello".into()));
        assert_eq!(frames[1], Frame::Ping(b"ping".to_vec()));
        assert_eq!(frames[2], Frame::Binary(vec![0; 300]));
        assert_eq!(frames[3], Frame::Binary(vec![7; 70_000]));
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn reassembles_fragments_with_interleaved_control() {
        let mut bytes = masked(false, 1, "Hé".as_bytes()[..2].as_ref());
        bytes.extend(masked(true, 9, b""));
        bytes.extend(masked(false, 0, &"Hé".as_bytes()[2..]));
        bytes.extend(masked(true, 0, b"llo"));
        assert_eq!(
            decode_all(&bytes, 100).unwrap(),
            vec![Frame::Ping(vec![]), Frame::Text("Héllo".into())]
        );
    }

    #[test]
    fn protocol_violations() {
        let unmasked = {
            let mut f = encode_text("hi");
            f[1] &= 0x7f;
            f
        };
        assert_eq!(close_code(decode_all(&unmasked, 100).unwrap_err()), 1002);
        assert_eq!(
            close_code(decode_all(&masked(true, 1, &[b'a'; 101]), 100).unwrap_err()),
            1009
        );
        let mut frag = masked(false, 1, &[b'a'; 60]);
        frag.extend(masked(true, 0, &[b'a'; 60]));
        assert_eq!(close_code(decode_all(&frag, 100).unwrap_err()), 1009);
        assert_eq!(
            close_code(decode_all(&masked(true, 9, &[0; 126]), 1000).unwrap_err()),
            1002
        );
        assert_eq!(
            close_code(decode_all(&masked(false, 9, b""), 100).unwrap_err()),
            1002
        );
        assert_eq!(
            close_code(decode_all(&masked(true, 0, b"x"), 100).unwrap_err()),
            1002
        );
        assert_eq!(
            close_code(decode_all(&masked(true, 3, b"x"), 100).unwrap_err()),
            1002
        );
        assert_eq!(
            close_code(decode_all(&masked(true, 0x41, b"x"), 100).unwrap_err()),
            1002
        );
        let mut inter = masked(false, 1, b"a");
        inter.extend(masked(true, 1, b"b"));
        assert_eq!(close_code(decode_all(&inter, 100).unwrap_err()), 1002);
        assert_eq!(
            close_code(decode_all(&masked(true, 1, &[0xff, 0xfe]), 100).unwrap_err()),
            1007
        );
        // Top bit of a 64-bit length.
        let huge = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(close_code(decode_all(&huge, 100).unwrap_err()), 1002);
        // A large declared length is refused before its payload arrives.
        let big = [0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(close_code(decode_all(&big, 1 << 20).unwrap_err()), 1009);
    }

    #[test]
    fn close_frames() {
        assert_eq!(
            decode_all(&masked(true, 8, b""), 100).unwrap(),
            vec![Frame::Close(None)]
        );
        let mut p = 1000u16.to_be_bytes().to_vec();
        p.extend_from_slice(b"bye");
        assert_eq!(
            decode_all(&masked(true, 8, &p), 100).unwrap(),
            vec![Frame::Close(Some((1000, "bye".into())))]
        );
        assert_eq!(
            close_code(decode_all(&masked(true, 8, &[3]), 100).unwrap_err()),
            1002
        );
        for bad in [999u16, 1004, 1005, 1006, 1015, 2999, 5000] {
            let e = decode_all(&masked(true, 8, &bad.to_be_bytes()), 100).unwrap_err();
            assert_eq!(close_code(e), 1002, "{bad}");
        }
        let mut badutf = 1000u16.to_be_bytes().to_vec();
        badutf.push(0xff);
        assert_eq!(
            close_code(decode_all(&masked(true, 8, &badutf), 100).unwrap_err()),
            1007
        );
        let mut after = masked(true, 8, b"");
        after.extend(masked(true, 1, b"x"));
        let mut d = FrameDecoder::new(100);
        d.feed(&after);
        assert_eq!(d.next_frame().unwrap(), Some(Frame::Close(None)));
        assert!(d.next_frame().is_err());
    }

    #[test]
    fn encoder() {
        assert_eq!(encode_text("hi"), [0x81, 2, b'h', b'i']);
        assert_eq!(encode_pong(b"x"), [0x8a, 1, b'x']);
        assert_eq!(encode_ping(&[1; 200]).len(), 127);
        let f = encode_frame(Opcode::Binary, true, &[0; 300]);
        assert_eq!(&f[..4], [0x82, 126, 1, 44]);
        let f = encode_frame(Opcode::Text, false, &[0; 70_000]);
        assert_eq!(&f[..10], [0x01, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        assert_eq!(
            encode_close(1009, "too big"),
            [0x88, 9, 0x03, 0xf1, b't', b'o', b'o', b' ', b'b', b'i', b'g']
        );
        let long = "é".repeat(100);
        let c = encode_close(1000, &long);
        assert!(c.len() <= 127);
        assert!(std::str::from_utf8(&c[4..]).is_ok());
    }

    /// Consumed bytes are dropped from the front of the buffer once they
    /// outweigh the unread ones, without losing a frame that straddles feeds.
    #[test]
    fn compacts_consumed_bytes_between_feeds() {
        let mut stream = Vec::new();
        for i in 0..100u8 {
            stream.extend(masked(true, 2, &[i; 100]));
        }
        let split = stream.len() - 3;
        let mut d = FrameDecoder::new(1 << 20);
        d.feed(&stream[..split]);
        for i in 0..99u8 {
            assert_eq!(d.next_frame().unwrap(), Some(Frame::Binary(vec![i; 100])));
        }
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.buffered(), split - 99 * 106);
        d.feed(&stream[split..]);
        assert_eq!(d.buffered(), 106);
        assert_eq!(d.next_frame().unwrap(), Some(Frame::Binary(vec![99; 100])));
        assert_eq!(d.buffered(), 0);
        d.feed(&masked(true, 1, b"again"));
        assert_eq!(d.next_frame().unwrap(), Some(Frame::Text("again".into())));
    }
}
