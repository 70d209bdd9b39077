//! The process-wide table of torrents served on the shared port, and the
//! state of that port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use arietta_bt::mse::CryptoLevel;
use arietta_bt_net::CryptoPolicy;
use arietta_runtime::MailboxSender;

use crate::messages::ToTorrent;
use crate::TorrentError;

/// Torrents by info hash, and the listener they share. `Send + Sync`:
/// actors on every core register here, the listener's core reads it.
#[derive(Default)]
pub(crate) struct Registry {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    torrents: HashMap<[u8; 20], Served>,
    bound: Option<Bound>,
    /// Tells registrations (and listeners) apart.
    next_id: u64,
}

struct Served {
    owner: u64,
    to_torrent: MailboxSender<ToTorrent>,
    policy: CryptoPolicy,
}

struct Bound {
    port: u16,
    /// Which accept loop holds the port, so a loop that ends late does not
    /// unbind its successor.
    id: u64,
}

/// Where a routed connection goes, and what the torrent admits.
pub(super) struct Route {
    pub(super) to_torrent: MailboxSender<ToTorrent>,
    pub(super) policy: CryptoPolicy,
}

/// A torrent's place in the registry; dropping it stops routing
/// connections to the torrent.
pub(crate) struct Registration {
    registry: Arc<Registry>,
    id: u64,
    port: u16,
}

impl Registration {
    /// The shared listening port: what the torrent tells trackers, the
    /// DHT, LPD and peers.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut s = self.registry.lock();
        s.torrents.retain(|_, t| t.owner != self.id);
    }
}

impl Registry {
    /// The registry of this process.
    pub(crate) fn global() -> Arc<Registry> {
        static GLOBAL: OnceLock<Arc<Registry>> = OnceLock::new();
        GLOBAL.get_or_init(Arc::default).clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere leaves a table that is still consistent (every
        // change is one insert or retain).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `info_hashes` on the shared port, binding it (the first free
    /// one of `ports`) and starting the accept loop on this executor when
    /// no listener is up. Must run on a glommio executor. A hash another
    /// torrent of the process already serves stays with that torrent.
    pub(crate) fn register(
        self: &Arc<Self>,
        info_hashes: &[[u8; 20]],
        to_torrent: MailboxSender<ToTorrent>,
        policy: CryptoPolicy,
        ports: &[u16],
    ) -> Result<Registration, TorrentError> {
        let mut s = self.lock();
        let port = self.bind_locked(&mut s, ports)?;
        // aria2 refuses a second download of a torrent it already runs
        // (exit 12) rather than letting two share one swarm.
        if let Some(h) = info_hashes.iter().find(|h| s.torrents.contains_key(*h)) {
            return Err(TorrentError::DuplicateInfoHash(hex::encode(h)));
        }
        s.next_id += 1;
        let id = s.next_id;
        for h in info_hashes {
            s.torrents.insert(
                *h,
                Served {
                    owner: id,
                    to_torrent: to_torrent.clone(),
                    policy,
                },
            );
        }
        Ok(Registration {
            registry: self.clone(),
            id,
            port,
        })
    }

    /// Binds the shared port now if no listener is up, as aria2 listens
    /// from the start of a magnet's metadata download (so the port told to
    /// trackers and peers then is one that accepts). Must run on a glommio
    /// executor. A failure is left for [`Registry::register`] to report.
    pub(crate) fn bind_early(self: &Arc<Self>, ports: &[u16]) {
        let mut s = self.lock();
        let _ = self.bind_locked(&mut s, ports);
    }

    /// The bound port, binding the first free one of `ports` and starting
    /// the accept loop when no listener is up.
    fn bind_locked(self: &Arc<Self>, s: &mut State, ports: &[u16]) -> Result<u16, TorrentError> {
        Ok(match &s.bound {
            Some(b) => b.port,
            None => {
                let bound = arietta_bt_net::bind_listen_sockets(ports).map_err(|e| {
                    TorrentError::Listen(format!(
                        "{}: {e}",
                        ports
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    ))
                })?;
                s.next_id += 1;
                let id = s.next_id;
                s.bound = Some(Bound {
                    port: bound.port,
                    id,
                });
                for socket in &bound.sockets {
                    let v = match socket.local_addr() {
                        Ok(a) if a.is_ipv6() => 6,
                        _ => 4,
                    };
                    tracing::info!(
                        notice = true,
                        "IPv{v} BitTorrent: listening on TCP port {}",
                        bound.port
                    );
                }
                super::accept::spawn(self.clone(), bound.sockets, id);
                bound.port
            }
        })
    }

    /// The port all torrents share, once bound.
    pub(crate) fn port(&self) -> Option<u16> {
        self.lock().bound.as_ref().map(|b| b.port)
    }

    /// Every served hash with its `--bt-min-crypto-level`, for the MSE
    /// receiver.
    pub(super) fn served(&self) -> Vec<([u8; 20], CryptoLevel)> {
        let s = self.lock();
        s.torrents
            .iter()
            .map(|(h, t)| (*h, t.policy.min_level))
            .collect()
    }

    pub(super) fn route(&self, info_hash: &[u8; 20]) -> Option<Route> {
        self.lock().torrents.get(info_hash).map(|t| Route {
            to_torrent: t.to_torrent.clone(),
            policy: t.policy,
        })
    }

    /// The accept loop `id` has ended (its executor is gone): the next
    /// registration binds again.
    pub(super) fn unbind(&self, id: u64) {
        let mut s = self.lock();
        if s.bound.as_ref().is_some_and(|b| b.id == id) {
            s.bound = None;
        }
    }
}
