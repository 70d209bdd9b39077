//! A core's idle keep-alive connections, so a mirror operator's thousands
//! of small files from one host reuse a handful of TCP (and TLS) sessions.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use arietta_http::HttpConnection;
use arietta_net::NetStream;

/// Servers commonly close idle connections after 5–75 s; reusing one near
/// that edge races the server's close, so idle ones are dropped early.
const MAX_IDLE: Duration = Duration::from_secs(15);
const MAX_PER_KEY: usize = 32;

pub type Conn = HttpConnection<NetStream>;

#[derive(Default)]
pub struct ConnectionPool {
    idle: RefCell<HashMap<String, Vec<(Conn, Instant)>>>,
}

impl ConnectionPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// An idle connection to `key` (scheme://host:port plus proxy), if one
    /// is fresh enough.
    pub fn take(&self, key: &str) -> Option<Conn> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        while let Some((c, at)) = list.pop() {
            if at.elapsed() < MAX_IDLE {
                return Some(c);
            }
        }
        None
    }

    /// Keeps a connection whose last response ended cleanly.
    pub fn put(&self, key: String, conn: Conn) {
        if !conn.reusable() {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(key).or_default();
        list.retain(|(_, at)| at.elapsed() < MAX_IDLE);
        if list.len() < MAX_PER_KEY {
            list.push((conn, Instant::now()));
        }
    }
}
