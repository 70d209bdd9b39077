//! One BitTorrent listening port for every torrent of the process, as aria2
//! and libtorrent have: the first free port of `--listen-port`, on IPv4
//! and IPv6.
//!
//! How it fits together:
//!
//! * [`Registry`] is process-wide (`Send + Sync`, [`Registry::global`]).
//!   Each torrent actor, on whichever core it runs, registers its info
//!   hashes (the swarm's v1 hash and, for a hybrid torrent, the truncated
//!   v2 hash too), its mailbox and its crypto policy when it starts; the
//!   [`Registration`] it gets back unregisters on drop. Every torrent
//!   reports the port of the registration (stats, trackers, DHT, LPD, the
//!   extension handshake's `p`).
//! * The first registration binds the sockets and spawns the accept loop
//!   on *its* executor ([`accept`]). One accept loop, not per-core
//!   `SO_REUSEPORT` sockets: accepting is cheap next to a peer's lifetime
//!   of piece traffic, and `SO_REUSEPORT` would also let another process
//!   share the port.
//! * Each accepted connection is routed on the listener's core: a plain
//!   handshake by the info-hash in its first 48 bytes, MSE/PSE by running
//!   the receiver over every registered hash (the initiator proves which
//!   one it wants with HASH('req2', SKEY), so MSE cannot be routed by
//!   peeking; the handshake has to run before routing). Then the torrent's
//!   own policy applies (`--bt-require-crypto` refuses the plain peer;
//!   `--bt-min-crypto-level` already steered the method). An unknown hash
//!   is closed.
//! * The routed connection crosses cores as an [`IncomingPeer`]: the socket
//!   as an owned fd plus the MSE cipher state and bytes already read, all
//!   `Send`. The actor hands it to a peer task on any core, which rebuilds
//!   the glommio stream there ([`IncomingPeer::into_stream`]).
//! * Lifetime: the listener stays open while its executor runs, even
//!   between torrents (as aria2's does), so a second torrent on a
//!   one-port `--listen-port` never races the first one's socket to
//!   rebind. When that executor ends (tests start and stop many in one
//!   process), a guard in its thread's locals shuts the sockets down and
//!   marks the registry unbound, so the next registration binds anew
//!   (glommio leaks, rather than drops, tasks still pending at the end of
//!   an executor, so the accept loop itself cannot be that guard).

mod accept;
mod handover;
mod registry;
mod routing;

pub(crate) use handover::IncomingPeer;
pub(crate) use registry::{Registration, Registry};

#[cfg(test)]
mod tests;
