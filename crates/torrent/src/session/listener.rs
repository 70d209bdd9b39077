//! Incoming connections: the torrent's listening socket and the task that
//! hands each accepted connection to the actor (which decides whether it
//! gets a slot).

use std::rc::Rc;

use arietta_runtime::MailboxSender;
use glommio::net::TcpListener;

use crate::messages::ToTorrent;
use crate::TorrentError;

/// Binds the first free port of `--listen-port`.
pub(super) fn bind(ports: &[u16]) -> Result<(TcpListener, u16), TorrentError> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    for &p in ports {
        // Bound by std, not glommio: glommio sets SO_REUSEPORT (two
        // processes could share the port) and not SO_REUSEADDR (a restart
        // could not rebind while old connections sit in TIME_WAIT).
        if let Ok(l) = std::net::TcpListener::bind(("0.0.0.0", p)) {
            // SAFETY: the fd is a bound, listening TCP socket whose
            // ownership moves into the glommio listener (into_raw_fd gives
            // it up), on this executor's thread.
            #[allow(unsafe_code)]
            let l = unsafe { TcpListener::from_raw_fd(l.into_raw_fd()) };
            return Ok((l, p));
        }
    }
    Err(TorrentError::Listen(format!("{ports:?}")))
}

/// Accepts connections until the actor is gone (or the task cancelled).
pub(super) fn spawn_accept(
    listener: Rc<TcpListener>,
    me: MailboxSender<ToTorrent>,
) -> glommio::task::JoinHandle<()> {
    glommio::spawn_local(async move {
        while let Ok(s) = listener.shared_accept().await {
            if let Ok(addr) = s.peer_addr() {
                if me.send(ToTorrent::Incoming(s, addr)).is_err() {
                    break;
                }
            }
        }
    })
    .detach()
}
