//! The accept loop: one per process, on the executor of the torrent that
//! bound the port.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use glommio::net::TcpListener;

use super::registry::Registry;
use super::routing::route;

/// How long to wait before accepting again after a failed accept (out of
/// fds, most likely), rather than spinning.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

thread_local! {
    /// The listener this executor's thread runs, stopped when the thread
    /// ends. glommio does not drop the tasks still pending when an
    /// executor finishes (they leak, holding their sockets), so the end of
    /// the accept loop cannot be what releases the port.
    static RUNNING: RefCell<Vec<Running>> = const { RefCell::new(Vec::new()) };
}

/// Stops listener `id` and marks the registry unbound when dropped: when
/// the executor's thread exits.
struct Running {
    registry: Arc<Registry>,
    id: u64,
    /// Second handles to the listening sockets.
    sockets: Vec<std::net::TcpListener>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for s in &self.sockets {
            let _ = arietta_bt_net::stop_listening(s);
        }
        self.registry.unbind(self.id);
    }
}

/// Accepts on every socket (IPv4, IPv6) on this executor; each connection
/// is routed in its own task, so a slow handshake holds up no other.
pub(super) fn spawn(registry: Arc<Registry>, sockets: Vec<std::net::TcpListener>, id: u64) {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let mut running = Running {
        registry: registry.clone(),
        id,
        sockets: Vec::new(),
    };
    for s in sockets {
        match s.try_clone() {
            Ok(second) => running.sockets.push(second),
            Err(e) => tracing::warn!("The listener will outlive its executor: {e}"),
        }
        // SAFETY: the fd is a bound, listening TCP socket whose ownership
        // moves into the glommio listener (into_raw_fd gives it up), on
        // this executor's thread.
        #[allow(unsafe_code)]
        let listener = unsafe { TcpListener::from_raw_fd(s.into_raw_fd()) };
        let registry = registry.clone();
        glommio::spawn_local(async move {
            loop {
                match listener.accept().await {
                    // The process-wide cap is taken before the handshake,
                    // so silent connections count too.
                    Ok(s) => match crate::IncomingSlot::try_acquire() {
                        Some(slot) => {
                            arietta_net::apply_dscp(&s);
                            glommio::spawn_local(route(registry.clone(), s, slot)).detach();
                        }
                        None => tracing::debug!(
                            "Refusing an incoming connection: {} are open",
                            crate::MAX_INCOMING_PER_PROCESS
                        ),
                    },
                    Err(e) => {
                        tracing::warn!("Accepting a peer failed: {e}");
                        glommio::timer::sleep(ACCEPT_RETRY).await;
                    }
                }
            }
        })
        .detach();
    }
    RUNNING.with(|r| r.borrow_mut().push(running));
}
