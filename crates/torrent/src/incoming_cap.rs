//! The process-wide cap on incoming peer connections. `--bt-max-peers`
//! bounds each torrent, but a process with many torrents (or one being
//! flooded before handshakes name a torrent) needs one bound over all of
//! them: a count shared by every core, taken when a connection is
//! accepted and given back when its task ends.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Incoming peer connections the whole process keeps at once. aria2 has
/// no such number (its bound is `--bt-max-peers` per torrent and the
/// descriptor limit); 512 is nine torrents at the default 55 peers, and
/// far below the usual 1024-descriptor soft limit minus files and
/// outgoing connections.
pub const MAX_INCOMING_PER_PROCESS: usize = 512;

static INCOMING: AtomicUsize = AtomicUsize::new(0);

/// One incoming connection's place in the process-wide count; dropping it
/// frees the place.
#[derive(Debug)]
pub struct IncomingSlot(());

impl IncomingSlot {
    /// A place for one more incoming connection, or `None` when
    /// [`MAX_INCOMING_PER_PROCESS`] are open: refuse (close) it then.
    pub fn try_acquire() -> Option<IncomingSlot> {
        INCOMING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_INCOMING_PER_PROCESS).then_some(n + 1)
            })
            .ok()
            .map(|_| IncomingSlot(()))
    }

    /// Incoming connections open now, over the whole process.
    pub fn open() -> usize {
        INCOMING.load(Ordering::Acquire)
    }
}

impl Drop for IncomingSlot {
    fn drop(&mut self) {
        INCOMING.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_stops_at_the_cap_and_frees_on_drop() {
        // Other tests in this binary may hold slots; count from here.
        let mut held = Vec::new();
        while let Some(s) = IncomingSlot::try_acquire() {
            held.push(s);
        }
        assert_eq!(IncomingSlot::open(), MAX_INCOMING_PER_PROCESS);
        held.pop();
        assert!(
            IncomingSlot::try_acquire().is_some(),
            "one freed, one taken"
        );
        drop(held);
    }
}
