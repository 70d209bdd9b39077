//! A core's HTTP/2 connections (`--enable-http2`,
//! `--http2-prior-knowledge`): one per route, shared by every connection
//! task of the core that fetches from that server, each request a stream.
//!
//! The first task to need a route dials it while the others wait, so a
//! burst of `-j 16` downloads from one mirror opens one connection per
//! core, not sixteen. A TLS server that does not pick `h2` is remembered,
//! and the route goes on over HTTP/1.1 as without the option.
//!
//! A connection closed by the server (GOAWAY, EOF) is seen as closed by
//! the next pick, which dials anew. One without a stream for
//! [`MAX_IDLE`] is dropped, as the HTTP/1.1 pool drops its idle ones: not
//! reused near the server's own idle timeout, and closed (GOAWAY from our
//! side) rather than held open for a long-running session.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

use arietta_http_client::{
    dial_http2, ClientError, DialOptions, Http2Connection, Negotiated, Route,
};
use glommio::sync::Semaphore;

use crate::connection_pool::{Conn, MAX_IDLE};

/// How often a connection's idleness is looked at.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// HTTP/2 connections by route key.
#[derive(Default)]
pub struct Http2Pool {
    slots: RefCell<HashMap<String, Rc<Slot>>>,
}

struct Slot {
    /// Held while the route is being dialled.
    dialing: Semaphore,
    conn: RefCell<Option<Http2Connection>>,
    /// Bumped for each connection dialled, so an idle watch ends with the
    /// connection it watched.
    generation: Cell<u64>,
    /// The server answered ALPN without `h2`.
    http1_only: Cell<bool>,
}

/// How a request to a route goes.
pub enum Pick {
    /// As a stream of this connection.
    Http2(Http2Connection),
    /// Over HTTP/1.1: on this fresh connection (the dial that found the
    /// server without `h2`), else as without the option.
    Http1(Option<Conn>),
}

impl Http2Pool {
    /// The connection for `key`, dialling `route` when there is none open.
    pub async fn pick(
        &self,
        key: &str,
        route: &Route,
        o: &DialOptions<'_>,
    ) -> Result<Pick, ClientError> {
        let slot = self
            .slots
            .borrow_mut()
            .entry(key.to_owned())
            .or_insert_with(|| {
                Rc::new(Slot {
                    dialing: Semaphore::new(1),
                    conn: RefCell::new(None),
                    generation: Cell::new(0),
                    http1_only: Cell::new(false),
                })
            })
            .clone();
        if let Some(p) = slot.ready() {
            return Ok(p);
        }
        let _permit = slot.dialing.acquire_permit(1).await;
        if let Some(p) = slot.ready() {
            return Ok(p);
        }
        match dial_http2(route, o).await? {
            Negotiated::Http2(c) => {
                *slot.conn.borrow_mut() = Some(c.clone());
                slot.generation.set(slot.generation.get() + 1);
                watch_idle(Rc::downgrade(&slot), slot.generation.get());
                Ok(Pick::Http2(c))
            }
            Negotiated::Http1(c) => {
                slot.http1_only.set(true);
                Ok(Pick::Http1(Some(c)))
            }
        }
    }

    /// Drops `key`'s connection `failed` (a request on it failed): the
    /// next [`Http2Pool::pick`] dials anew. A newer connection that another
    /// task dialled meanwhile stays.
    pub fn forget(&self, key: &str, failed: &Http2Connection) {
        if let Some(slot) = self.slots.borrow().get(key) {
            let mut conn = slot.conn.borrow_mut();
            if conn.as_ref().is_some_and(|c| c.same(failed)) {
                *conn = None;
            }
        }
    }
}

impl Slot {
    fn ready(&self) -> Option<Pick> {
        if self.http1_only.get() {
            return Some(Pick::Http1(None));
        }
        let mut conn = self.conn.borrow_mut();
        let usable = conn
            .as_mut()
            .is_some_and(|c| c.is_open() && c.idle_for().is_none_or(|d| d < MAX_IDLE));
        if !usable {
            *conn = None;
        }
        conn.clone().map(Pick::Http2)
    }
}

/// Drops `slot`'s connection number `generation` once it has been without
/// a stream for [`MAX_IDLE`]: with the pool's handle gone, h2 closes it
/// when its last stream ends. Ends when the connection is replaced.
fn watch_idle(slot: Weak<Slot>, generation: u64) {
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(IDLE_CHECK).await;
            let Some(slot) = slot.upgrade() else { return };
            if slot.generation.get() != generation {
                return;
            }
            let mut conn = slot.conn.borrow_mut();
            match conn.as_ref() {
                None => return,
                Some(c) if c.idle_for().is_some_and(|d| d >= MAX_IDLE) => {
                    tracing::debug!("closing an HTTP/2 connection idle for {MAX_IDLE:?}");
                    *conn = None;
                    return;
                }
                Some(_) => {}
            }
        }
    })
    .detach();
}
