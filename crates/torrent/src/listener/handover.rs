//! A routed incoming connection on its way from the listener's core to a
//! peer task on another: plain data only, so it is `Send`.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

use arietta_bt_net::{MseStream, StreamState};
use glommio::net::TcpStream;

use crate::IncomingSlot;

/// An accepted connection whose handshake (MSE or the first bytes of a
/// plain one) ran on the listener's core. The glommio socket there is tied
/// to that core's reactor, so what travels is a duplicate of its fd (the
/// original closes with that socket) and the stream state around it.
#[derive(Debug)]
pub(crate) struct IncomingPeer {
    fd: OwnedFd,
    state: StreamState,
    info_hash: [u8; 20],
    /// Its place in the process-wide count of incoming connections, held
    /// from accept until the peer task ends.
    slot: Option<IncomingSlot>,
}

impl IncomingPeer {
    /// Takes the connection off this core's socket handle.
    pub(crate) fn new(
        stream: MseStream<TcpStream>,
        info_hash: [u8; 20],
        slot: IncomingSlot,
    ) -> std::io::Result<IncomingPeer> {
        let (socket, state) = stream.into_parts();
        // SAFETY: the fd belongs to `socket`, which is alive until the end
        // of this function; the borrow only lives for the dup.
        #[allow(unsafe_code)]
        let borrowed = unsafe { BorrowedFd::borrow_raw(socket.as_raw_fd()) };
        // No read is in flight on it (the handshake finished): glommio's
        // plain stream reads straight into our buffers, so nothing the
        // peer sent is left behind in the old handle.
        let fd = borrowed.try_clone_to_owned()?;
        drop(socket);
        Ok(IncomingPeer {
            fd,
            state,
            info_hash,
            slot: Some(slot),
        })
    }

    /// The hash the peer asked for (the v1 hash, or a hybrid's truncated
    /// v2 one): what our handshake answers with.
    pub(crate) fn info_hash(&self) -> [u8; 20] {
        self.info_hash
    }

    /// The count's place, for the peer task to hold.
    pub(crate) fn take_slot(&mut self) -> Option<IncomingSlot> {
        self.slot.take()
    }

    /// The stream again, on the calling core's reactor.
    pub(crate) fn into_stream(self) -> MseStream<TcpStream> {
        // SAFETY: `fd` is an open, connected TCP socket we own; its
        // ownership moves into the glommio stream.
        #[allow(unsafe_code)]
        let socket = unsafe { TcpStream::from_raw_fd(self.fd.into_raw_fd()) };
        MseStream::from_parts(socket, self.state)
    }
}
