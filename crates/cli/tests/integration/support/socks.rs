//! A real SOCKS5 server (Debian's microsocks) and a sniffing relay in front
//! of it that records what each client asked the proxy for.
//!
//! microsocks logs nothing we can read back, and resolves names itself, so
//! the relay is how a test proves what went through the proxy: every
//! CONNECT's destination as the client sent it (an address, or a name the
//! proxy had to resolve: `socks5h://`), the user name, and the bytes the
//! destination sent back on that connection.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{free_port, require, wait_listening};

/// microsocks on a loopback port, killed on drop.
pub struct Microsocks {
    child: Child,
    pub port: u16,
}

impl Microsocks {
    /// Starts microsocks, requiring `user`/`password` when given. `None`
    /// when it is not installed (a failure under CI, see [`require`]).
    pub fn start(login: Option<(&str, &str)>) -> Option<Microsocks> {
        if !require("microsocks") {
            return None;
        }
        let port = free_port();
        let mut cmd = Command::new("microsocks");
        cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
        if let Some((user, password)) = login {
            cmd.args(["-u", user, "-P", password]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start microsocks");
        let m = Microsocks { child, port };
        assert!(
            wait_listening(port, Duration::from_secs(10)),
            "microsocks never listened on {port}"
        );
        Some(m)
    }
}

impl Drop for Microsocks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One CONNECT (or UDP ASSOCIATE) a client asked the proxy for.
#[derive(Debug, Clone)]
pub struct Connect {
    /// RFC 1928's CMD: 1 CONNECT, 3 UDP ASSOCIATE (which microsocks
    /// refuses; it is passed on for it to say so).
    pub command: u8,
    /// The destination as sent: an IP address, or a name.
    pub host: String,
    pub port: u16,
    /// Whether `host` was sent as a name (ATYP 3) for the proxy to resolve.
    pub by_name: bool,
    /// The RFC 1929 user name, when the client logged in.
    pub user: Option<String>,
    /// Bytes the destination sent back through the proxy.
    pub down: Arc<AtomicU64>,
}

impl Connect {
    pub fn bytes_down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
}

/// A relay on a loopback port in front of a SOCKS5 server: clients use
/// its port as the proxy's.
pub struct SocksSniffer {
    pub port: u16,
    seen: Arc<Mutex<Vec<Connect>>>,
}

impl SocksSniffer {
    /// Relays to the SOCKS5 server on loopback `target`.
    pub fn start(target: u16) -> SocksSniffer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind sniffer");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let seen = s.clone();
                std::thread::spawn(move || relay(client, server, &seen));
            }
        });
        SocksSniffer { port, seen }
    }

    /// Every CONNECT seen so far, in order.
    pub fn connects(&self) -> Vec<Connect> {
        self.requests(1)
    }

    /// Every UDP ASSOCIATE seen so far, in order.
    pub fn udp_associates(&self) -> Vec<Connect> {
        self.requests(3)
    }

    fn requests(&self, command: u8) -> Vec<Connect> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|c| c.command == command)
            .cloned()
            .collect()
    }

    /// CONNECTs to loopback `port` (by address or by name).
    pub fn connects_to(&self, port: u16) -> Vec<Connect> {
        self.connects()
            .into_iter()
            .filter(|c| c.port == port)
            .collect()
    }
}

/// Copies the client's handshake to the server while parsing it, records
/// the CONNECT, then relays both ways.
fn relay(mut client: TcpStream, mut server: TcpStream, seen: &Mutex<Vec<Connect>>) {
    let down = Arc::new(AtomicU64::new(0));
    {
        let (from, to) = (server.try_clone().unwrap(), client.try_clone().unwrap());
        let down = down.clone();
        std::thread::spawn(move || pump(from, to, &down));
    }
    if let Some(mut c) = read_handshake(&mut client, &mut server) {
        c.down = down;
        seen.lock().unwrap().push(c);
        pump(client, server, &AtomicU64::new(0));
    } else {
        let _ = server.shutdown(Shutdown::Both);
    }
}

/// Reads the client's handshake messages and forwards each whole:
/// microsocks reads a message with one `recv` and fails on a partial one.
struct Handshake<'a> {
    client: &'a mut TcpStream,
    server: &'a mut TcpStream,
    message: Vec<u8>,
}

impl Handshake<'_> {
    /// Reads `n` more bytes of the current message.
    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        let mut b = vec![0u8; n];
        self.client.read_exact(&mut b).ok()?;
        self.message.extend_from_slice(&b);
        Some(b)
    }

    /// Sends the current message on.
    fn forward(&mut self) -> Option<()> {
        self.server.write_all(&self.message).ok()?;
        self.message.clear();
        Some(())
    }
}

fn read_handshake(client: &mut TcpStream, server: &mut TcpStream) -> Option<Connect> {
    let mut h = Handshake {
        client,
        server,
        message: Vec::new(),
    };
    let greeting = h.take(2)?;
    h.take(usize::from(greeting[1]))?;
    h.forward()?;
    let mut user = None;
    let mut first = h.take(1)?[0];
    if first == 1 {
        // RFC 1929 subnegotiation.
        let ulen = h.take(1)?[0];
        user = Some(String::from_utf8_lossy(&h.take(ulen.into())?).into_owned());
        let plen = h.take(1)?[0];
        h.take(plen.into())?;
        h.forward()?;
        first = h.take(1)?[0];
    }
    assert_eq!(first, 5, "SOCKS5 request version");
    let head = h.take(3)?;
    assert!(
        head[0] == 1 || head[0] == 3,
        "only CONNECT and UDP ASSOCIATE are expected"
    );
    let (host, by_name) = match head[2] {
        1 => {
            let a = h.take(4)?;
            (Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string(), false)
        }
        4 => {
            let a: [u8; 16] = h.take(16)?.try_into().unwrap();
            (Ipv6Addr::from(a).to_string(), false)
        }
        3 => {
            let len = h.take(1)?[0];
            let name = h.take(len.into())?;
            (String::from_utf8_lossy(&name).into_owned(), true)
        }
        t => panic!("unknown address type {t}"),
    };
    let p = h.take(2)?;
    h.forward()?;
    Some(Connect {
        command: head[0],
        host,
        port: u16::from_be_bytes([p[0], p[1]]),
        by_name,
        user,
        down: Arc::default(),
    })
}

fn pump(mut from: TcpStream, mut to: TcpStream, count: &AtomicU64) {
    let mut buf = vec![0u8; 64 << 10];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        count.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
