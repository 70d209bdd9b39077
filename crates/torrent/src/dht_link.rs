//! A `Send` handle to the process's DHT. The nodes ([`DhtService`]) live
//! on the coordinator's core and hold `Rc`s; torrent actors run on other
//! cores, so they reach the nodes through this mailbox instead. Only two
//! requests cross: "feed this torrent" (once per torrent) and "peers for
//! this hash" (a magnet's metadata search), so the traffic is tiny.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arietta_runtime::{mailbox, MailboxSender};

use crate::dht_service::DhtService;
use crate::download::PeerSink;

enum DhtRequest {
    Feed {
        info_hash: [u8; 20],
        port: u16,
        sink: PeerSink,
        stop: Arc<AtomicBool>,
    },
    GetPeers {
        info_hash: [u8; 20],
        reply: MailboxSender<Vec<SocketAddr>>,
    },
}

/// Reaches the DHT from any core; clones share one serving task on the
/// DHT's core, which ends with the last clone.
#[derive(Clone)]
pub struct DhtLink(MailboxSender<DhtRequest>);

impl DhtLink {
    /// Serves requests for `dht` on the current core (the DHT's).
    pub fn serve(dht: DhtService) -> DhtLink {
        let (tx, inbox) = mailbox::<DhtRequest>();
        glommio::spawn_local(async move {
            while let Some(req) = inbox.recv().await {
                match req {
                    DhtRequest::Feed {
                        info_hash,
                        port,
                        sink,
                        stop,
                    } => dht.feed(info_hash, port, sink, stop),
                    DhtRequest::GetPeers { info_hash, reply } => {
                        let dht = dht.clone();
                        glommio::spawn_local(async move {
                            let _ = reply.send(dht.get_peers(info_hash).await);
                        })
                        .detach();
                    }
                }
            }
        })
        .detach();
        DhtLink(tx)
    }

    /// [`DhtService::feed`] from any core.
    pub fn feed(&self, info_hash: [u8; 20], port: u16, sink: PeerSink, stop: Arc<AtomicBool>) {
        let _ = self.0.send(DhtRequest::Feed {
            info_hash,
            port,
            sink,
            stop,
        });
    }

    /// [`DhtService::get_peers`] from any core; empty when the DHT is gone.
    pub async fn get_peers(&self, info_hash: [u8; 20]) -> Vec<SocketAddr> {
        let (reply, answer) = mailbox();
        if self
            .0
            .send(DhtRequest::GetPeers { info_hash, reply })
            .is_err()
        {
            return Vec::new();
        }
        answer.recv().await.unwrap_or_default()
    }
}
