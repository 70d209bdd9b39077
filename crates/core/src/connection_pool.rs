//! A core's idle keep-alive connections, so a mirror operator's thousands
//! of small files from one host reuse a handful of TCP (and TLS) sessions,
//! and an FTP download's next segment skips the login.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use arietta_ftp::FtpClient;
use arietta_http::HttpConnection;
use arietta_net::NetStream;

/// Servers commonly close idle connections after 5–75 s; reusing one near
/// that edge races the server's close, so idle ones are dropped early.
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(15);
const MAX_PER_KEY: usize = 32;

pub type Conn = HttpConnection<NetStream>;

/// A connection that knows whether it can serve another request.
pub trait Reusable {
    fn reusable(&self) -> bool;
}

impl Reusable for Conn {
    fn reusable(&self) -> bool {
        HttpConnection::reusable(self)
    }
}

impl Reusable for FtpClient {
    fn reusable(&self) -> bool {
        FtpClient::reusable(self)
    }
}

/// Idle connections by key (scheme://host:port plus proxy or user).
pub struct ConnectionPool<C = Conn> {
    idle: RefCell<HashMap<String, Vec<(C, Instant)>>>,
}

impl<C> Default for ConnectionPool<C> {
    fn default() -> Self {
        ConnectionPool {
            idle: RefCell::new(HashMap::new()),
        }
    }
}

impl<C: Reusable> ConnectionPool<C> {
    pub fn new() -> Self {
        Self::default()
    }

    /// An idle connection to `key`, if one is fresh enough.
    pub fn take(&self, key: &str) -> Option<C> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        while let Some((c, at)) = list.pop() {
            if at.elapsed() < MAX_IDLE {
                return Some(c);
            }
        }
        None
    }

    /// Keeps a connection whose last exchange ended cleanly.
    pub fn put(&self, key: String, conn: C) {
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
