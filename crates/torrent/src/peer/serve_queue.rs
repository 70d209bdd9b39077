//! The serving side's bounds: the requests a peer has queued with us and
//! the piece data waiting for the socket. Both are capped so a peer that
//! asks for everything and reads nothing costs a fixed amount of memory.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, Waker};

use arietta_bt::piece_geometry::BlockRef;

/// Requests one peer may have queued with us: libtorrent's
/// `max_allowed_in_request_queue` (500). Beyond it a request is rejected
/// (fast extension) or dropped, as libtorrent does; the connection stays.
/// aria2 and libtorrent keep well under it (aria2 pipelines at most
/// `--bt-request-peer-speed-limit`-driven tens of blocks).
pub(super) const MAX_QUEUED_REQUESTS: usize = 500;

/// Piece data queued for the writer and not yet on the socket, per
/// connection. Serving waits while more than this is queued, so a peer
/// that does not read holds at most this much (plus one piece read
/// ahead) of our memory.
pub(super) const MAX_UNSENT_BLOCK_BYTES: usize = 1 << 20;

/// A peer's queued requests, in arrival order.
#[derive(Default)]
pub(super) struct ServeQueue {
    queue: RefCell<VecDeque<BlockRef>>,
    waker: RefCell<Option<Waker>>,
    closed: Cell<bool>,
}

impl ServeQueue {
    /// Queues `b`; false when [`MAX_QUEUED_REQUESTS`] are already queued.
    /// A block already queued is one request, not two.
    pub(super) fn push(&self, b: BlockRef) -> bool {
        let mut q = self.queue.borrow_mut();
        if q.contains(&b) {
            return true;
        }
        if q.len() >= MAX_QUEUED_REQUESTS {
            return false;
        }
        q.push_back(b);
        drop(q);
        self.wake();
        true
    }

    /// The peer's `cancel`: the block is no longer wanted.
    pub(super) fn cancel(&self, b: &BlockRef) {
        self.queue.borrow_mut().retain(|q| q != b);
    }

    /// Everything queued, emptied (we choked the peer).
    pub(super) fn take_all(&self) -> Vec<BlockRef> {
        self.queue.borrow_mut().drain(..).collect()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.queue.borrow().len()
    }

    /// Ends [`ServeQueue::next`] for good.
    pub(super) fn close(&self) {
        self.closed.set(true);
        self.wake();
    }

    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// The oldest queued request, waiting for one; `None` once closed.
    pub(super) async fn next(&self) -> Option<BlockRef> {
        poll_fn(|cx| {
            if self.closed.get() {
                return Poll::Ready(None);
            }
            if let Some(b) = self.queue.borrow_mut().pop_front() {
                return Poll::Ready(Some(b));
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// Bytes of piece data handed to the writer and not yet written.
#[derive(Default)]
pub(super) struct Unsent {
    bytes: Cell<usize>,
    waker: RefCell<Option<Waker>>,
}

impl Unsent {
    pub(super) fn add(&self, n: usize) {
        self.bytes.set(self.bytes.get() + n);
    }

    /// The writer put `n` bytes of piece data on the socket.
    pub(super) fn written(&self, n: usize) {
        self.bytes.set(self.bytes.get().saturating_sub(n));
        if self.bytes.get() <= MAX_UNSENT_BLOCK_BYTES {
            if let Some(w) = self.waker.borrow_mut().take() {
                w.wake();
            }
        }
    }

    /// Waits until no more than [`MAX_UNSENT_BLOCK_BYTES`] are unsent.
    pub(super) async fn room(&self) {
        poll_fn(|cx| {
            if self.bytes.get() <= MAX_UNSENT_BLOCK_BYTES {
                return Poll::Ready(());
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(index: u32, begin: u32) -> BlockRef {
        BlockRef {
            index,
            begin,
            length: 16384,
        }
    }

    #[test]
    fn capped_deduplicated_and_cancellable() {
        let q = ServeQueue::default();
        for i in 0..MAX_QUEUED_REQUESTS as u32 {
            assert!(q.push(b(i, 0)));
        }
        assert!(!q.push(b(9999, 0)), "over the cap");
        q.cancel(&b(3, 0));
        assert_eq!(q.len(), MAX_QUEUED_REQUESTS - 1);
        assert!(q.push(b(4, 0)), "already queued: one request");
        assert_eq!(q.len(), MAX_QUEUED_REQUESTS - 1);
        assert!(q.push(b(9999, 0)), "room again after a cancel");
        assert_eq!(q.take_all().len(), MAX_QUEUED_REQUESTS);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn next_yields_in_order_and_ends_when_closed() {
        let q = ServeQueue::default();
        q.push(b(1, 0));
        q.push(b(2, 0));
        futures_lite::future::block_on(async {
            assert_eq!(q.next().await, Some(b(1, 0)));
            assert_eq!(q.next().await, Some(b(2, 0)));
            q.close();
            assert_eq!(q.next().await, None);
        });
    }

    #[test]
    fn unsent_bytes_hold_serving_back() {
        let u = Unsent::default();
        u.add(MAX_UNSENT_BLOCK_BYTES + 1);
        let mut room = std::pin::pin!(u.room());
        assert!(
            futures_lite::future::block_on(futures_lite::future::poll_once(&mut room)).is_none()
        );
        u.written(1);
        assert!(
            futures_lite::future::block_on(futures_lite::future::poll_once(&mut room)).is_some()
        );
    }
}
