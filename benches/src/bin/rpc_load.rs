//! A compiled WebSocket JSON-RPC load client, so the daemon — not the
//! client — is what `perf/rpc_vs_aria2.py --client rust` measures.
//!
//! `rpc_load PORT N`: pipelines N `aria2.addUri` calls (paused downloads)
//! over one WebSocket, then N `aria2.tellStatus` calls for the returned
//! GIDs, and prints `addUri_per_s tellStatus_per_s` on one line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

fn frame(text: &str) -> Vec<u8> {
    let p = text.as_bytes();
    let mut f = vec![0x81];
    match p.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    // An all-zero mask is valid and keeps the client cheap.
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(p);
    f
}

struct Reader {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Reader {
    fn need(&mut self, n: usize) {
        let mut chunk = [0u8; 65536];
        while self.buf.len() < n {
            let got = self.s.read(&mut chunk).expect("read");
            assert!(got > 0, "daemon closed the connection");
            self.buf.extend_from_slice(&chunk[..got]);
        }
    }

    fn message(&mut self) -> String {
        self.need(2);
        let (len, off) = match self.buf[1] & 0x7f {
            126 => {
                self.need(4);
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                self.need(10);
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (n as usize, 2),
        };
        self.need(off + len);
        let text = String::from_utf8_lossy(&self.buf[off..off + len]).into_owned();
        self.buf.drain(..off + len);
        text
    }

    /// The next response (skipping notifications).
    fn response(&mut self) -> String {
        loop {
            let m = self.message();
            if m.contains("\"id\"") {
                return m;
            }
        }
    }
}

fn result_string(m: &str) -> String {
    let at = m.find("\"result\":\"").expect("result") + 10;
    m[at..].split('"').next().unwrap_or_default().to_string()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|a| a.parse().ok()).expect("PORT");
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).ok();
    write!(
        s,
        "GET /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut r = Reader {
        s: s.try_clone().unwrap(),
        buf: Vec::new(),
    };
    loop {
        r.need(4);
        if let Some(i) = r.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(r.buf.starts_with(b"HTTP/1.1 101"), "no upgrade");
            r.buf.drain(..i + 4);
            break;
        }
        let l = r.buf.len();
        r.need(l + 1);
    }
    let mut out = Vec::new();
    for i in 0..n {
        out.extend(frame(&format!(
            r#"{{"jsonrpc":"2.0","id":{i},"method":"aria2.addUri","params":[["http://127.0.0.1:9/never"],{{"pause":"true"}}]}}"#
        )));
    }
    let t0 = Instant::now();
    s.write_all(&out).unwrap();
    let gids: Vec<String> = (0..n).map(|_| result_string(&r.response())).collect();
    let add = n as f64 / t0.elapsed().as_secs_f64();
    let mut out = Vec::new();
    for (i, g) in gids.iter().enumerate() {
        out.extend(frame(&format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"aria2.tellStatus","params":["{g}"]}}"#,
            n + i
        )));
    }
    let t1 = Instant::now();
    s.write_all(&out).unwrap();
    for _ in 0..n {
        r.response();
    }
    let tell = n as f64 / t1.elapsed().as_secs_f64();
    println!("{add:.0} {tell:.0}");
}
