//! Which torrent an accepted connection is for, and whether that torrent
//! takes it.

use std::sync::Arc;

use arietta_bt::mse::{CryptoLevel, CryptoMethod};
use arietta_bt_net::mse_stream::DEFAULT_HANDSHAKE_TIMEOUT;
use arietta_bt_net::CryptoPolicy;
use glommio::net::TcpStream;

use super::handover::IncomingPeer;
use super::registry::Registry;
use crate::messages::ToTorrent;
use crate::IncomingSlot;

/// Runs the handshake far enough to know the torrent, checks the torrent's
/// policy and posts the connection to its actor; anything else closes it.
pub(super) async fn route(registry: Arc<Registry>, stream: TcpStream, slot: IncomingSlot) {
    let Ok(addr) = stream.peer_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let served = registry.served();
    let routed =
        match arietta_bt_net::accept_shared(stream, served, DEFAULT_HANDSHAKE_TIMEOUT).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(peer = %addr, "Incoming handshake failed: {e}");
                return;
            }
        };
    let Some(to) = registry.route(&routed.info_hash) else {
        tracing::debug!(peer = %addr, "Incoming peer wants a torrent we do not serve");
        return;
    };
    if let Err(why) = admits(&to.policy, routed.legacy, routed.method) {
        tracing::debug!(peer = %addr, "Refusing an incoming peer: {why}");
        return;
    }
    match IncomingPeer::new(routed.stream, routed.info_hash, slot) {
        Ok(peer) => {
            let _ = to
                .to_torrent
                .send(ToTorrent::Incoming(Box::new(peer), addr));
        }
        Err(e) => tracing::warn!(peer = %addr, "Handing over a connection failed: {e}"),
    }
}

/// The torrent's own crypto options, applied once the listener knows which
/// torrent the peer wants.
pub(super) fn admits(
    policy: &CryptoPolicy,
    legacy: bool,
    method: CryptoMethod,
) -> Result<(), &'static str> {
    if legacy && policy.require_crypto {
        return Err("plain handshake, and this torrent requires encryption");
    }
    if !legacy && policy.min_level == CryptoLevel::Arc4 && method != CryptoMethod::Rc4 {
        return Err("plaintext payload, and this torrent requires RC4");
    }
    Ok(())
}
