//! A counting TCP relay: forwards each accepted connection to a target
//! port and counts the bytes the target sent. Put in front of a server
//! whose own logs cannot say how much it served (sshd logs its byte count
//! only for connections the client did not close with a disconnect
//! message, and internal-sftp's per-file lines need syslog).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub struct CountingRelay {
    pub port: u16,
    down: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl CountingRelay {
    /// Listens on a free loopback port, relaying to `127.0.0.1:target`.
    pub fn start(target: u16) -> CountingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("relay addr").port();
        let down = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, st) = (down.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let d = d.clone();
                let up = AtomicU64::new(0);
                let (c2, s2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || pump(c2, s2, &up));
                std::thread::spawn(move || pump(server, client, &d));
            }
        });
        CountingRelay { port, down, stop }
    }

    /// Bytes the target sent through the relay so far.
    pub fn bytes_down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
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

impl Drop for CountingRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
