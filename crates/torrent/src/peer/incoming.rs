//! The peer's messages: each is checked (a protocol breach bans the
//! peer), turned into news for the actor, a block to write, a request to
//! serve or an immediate answer.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use arietta_bt::bitfield::Bitfield;
use arietta_bt::peer_wire::Message;
use arietta_bt::pex::PexMessage;
use arietta_bt::piece_geometry::BlockRef;
use arietta_bt::piece_picker::PeerKey;
use arietta_runtime::MailboxSender;
use glommio::channels::local_channel::LocalSender;
use std::cell::Cell;
use std::time::{Duration, Instant};

use super::block_writes::BlockWrites;
use super::files::Files;
use super::local::Local;
use super::serve_queue::ServeQueue;
use super::{ban, fail, Failure, OUR_UT_PEX};
use crate::have_set::HaveSet;
use crate::layout::Layout;
use crate::messages::ToTorrent;

/// Largest block we serve; aria2 and libtorrent ask for 16 KiB.
const MAX_SERVED_BLOCK: u32 = 128 * 1024;

/// Addresses taken from one PEX message: libtorrent's `max_peer_entries`
/// (100). A message may list more; the rest are ignored.
pub(super) const MAX_PEX_ADDED: usize = 100;

/// A peer's PEX messages closer together than this are ignored. BEP 11
/// asks senders for at most one a minute; a little slack keeps an honest
/// peer's timer jitter from costing it a message.
/// Requests refused in a row (choked, a piece we lack, a full queue)
/// before the connection is closed: twice the queue's cap, as libtorrent
/// closes a peer that keeps asking while choked. Each refusal costs a
/// queued reject, so a peer that asks and never reads cannot grow them
/// without bound.
pub(super) const MAX_REFUSED_REQUESTS: u32 = 2 * super::serve_queue::MAX_QUEUED_REQUESTS as u32;

pub(super) const PEX_MIN_INTERVAL: Duration = Duration::from_secs(50);

/// What one connection's message handling works with.
pub(super) struct Inbound {
    pub(super) key: PeerKey,
    /// The peer's address, as the log names it.
    pub(super) addr: std::net::SocketAddr,
    pub(super) local: Rc<RefCell<Local>>,
    pub(super) have: Arc<HaveSet>,
    pub(super) layout: Arc<Layout>,
    pub(super) files: Rc<Files>,
    pub(super) to_torrent: MailboxSender<ToTorrent>,
    /// Frames for the writer.
    pub(super) out: Rc<LocalSender<Vec<u8>>>,
    /// Requests for the serving task.
    pub(super) serve: Rc<ServeQueue>,
    /// When the peer's last PEX message was taken.
    pub(super) pex_gate: Cell<Option<Instant>>,
    /// Requests refused since the last one queued.
    pub(super) refused: Cell<u32>,
    /// Blocks of the current read, written and reported together.
    pub(super) writes: BlockWrites,
}

/// Whether a PEX message arriving `now` is taken, given when the last
/// one was ([`PEX_MIN_INTERVAL`] apart).
fn pex_due(last: Option<Instant>, now: Instant) -> bool {
    last.is_none_or(|t| now.saturating_duration_since(t) >= PEX_MIN_INTERVAL)
}

/// Checks a request against the piece it names: a piece we know of, a
/// block inside it, no larger than [`MAX_SERVED_BLOCK`]. `piece_len` gives
/// a valid piece's length.
fn check_request(
    b: &BlockRef,
    piece_count: u32,
    piece_len: impl Fn(u32) -> u64,
) -> Result<(), String> {
    if b.index >= piece_count {
        return Err(format!("request for piece {} of {piece_count}", b.index));
    }
    let plen = piece_len(b.index);
    if b.length == 0
        || b.length > MAX_SERVED_BLOCK
        || u64::from(b.begin) + u64::from(b.length) > plen
    {
        return Err(format!(
            "request out of bounds: piece {} offset {} length {} in a piece of {plen}",
            b.index, b.begin, b.length
        ));
    }
    Ok(())
}

/// From a BEP 10 extension handshake: the peer's `ut_pex` id and the port
/// it listens on, each when present and sane. `None` for a payload that
/// is not bencode (which costs the peer its extensions, not the
/// connection).
fn parse_extension_handshake(payload: &[u8]) -> Option<(Option<u8>, Option<u16>)> {
    let (dict, _) = arietta_bencode::decode_prefix(payload).ok()?;
    let their_pex = dict
        .get("m")
        .and_then(|m| m.get(arietta_bt::pex::EXTENSION_NAME))
        .and_then(|v| v.as_int())
        .filter(|v| (1..=255).contains(v))
        .map(|v| v as u8);
    let port = dict
        .get("p")
        .and_then(|v| v.as_int())
        .filter(|v| (1..=65535).contains(v))
        .map(|v| v as u16);
    Some((their_pex, port))
}

impl Inbound {
    fn send(&self, msg: ToTorrent) {
        let _ = self.to_torrent.send(msg);
    }

    fn reply(&self, m: &Message) {
        let _ = self.out.try_send(m.to_vec());
    }

    pub(super) fn handle(&self, m: Message) -> Result<(), Failure> {
        // Extended messages come with the ids we announced.
        let ext = matches!(m, Message::Extended { id, .. } if id == OUR_UT_PEX).then_some("ut_pex");
        tracing::info!("From: {} {}", self.addr, arietta_bt::WireText(&m, ext));
        let key = self.key;
        let piece_count = self.have.len();
        match m {
            Message::KeepAlive => {}
            // BEP 52: we keep piece layers only, not the block-level proofs a
            // v2 peer may ask for; a reject is the answer the BEP allows.
            Message::V2Hashes { id, payload } => {
                if id == arietta_bt::peer_wire::id::HASH_REQUEST {
                    self.reply(&Message::V2Hashes {
                        id: arietta_bt::peer_wire::id::HASH_REJECT,
                        payload,
                    });
                }
            }
            Message::Choke => {
                let mut l = self.local.borrow_mut();
                l.peer_choking = true;
                l.requested.clear();
                self.send(ToTorrent::Choked { key });
            }
            Message::Unchoke => {
                self.local.borrow_mut().peer_choking = false;
                self.send(ToTorrent::Unchoked { key });
            }
            Message::Interested => self.send(ToTorrent::Interested {
                key,
                interested: true,
            }),
            Message::NotInterested => self.send(ToTorrent::Interested {
                key,
                interested: false,
            }),
            Message::Have(i) => {
                if i >= piece_count {
                    return Err(ban(format!("have for piece {i} of {piece_count}")));
                }
                self.send(ToTorrent::Have { key, index: i });
            }
            Message::Bitfield(bytes) => {
                let b = Bitfield::from_wire(&bytes, piece_count).map_err(|e| ban(e.to_string()))?;
                self.send(ToTorrent::Bitfield { key, have: b });
            }
            Message::HaveAll => self.send(ToTorrent::HaveAll { key }),
            Message::HaveNone => self.send(ToTorrent::HaveNone { key }),
            Message::Piece { index, begin, data } => self.on_piece(index, begin, data),
            Message::Request(b) => self.on_request(b)?,
            Message::Cancel(b) => self.serve.cancel(&b),
            Message::Reject(b) => {
                if self.local.borrow_mut().requested.remove(&b) {
                    self.send(ToTorrent::Rejected { key, block: b });
                }
            }
            Message::Extended { id: 0, payload } => {
                let Some((their_pex, port)) = parse_extension_handshake(&payload) else {
                    return Ok(());
                };
                let mut l = self.local.borrow_mut();
                if l.pex_enabled {
                    l.their_pex = their_pex;
                }
                if let Some(port) = port {
                    self.send(ToTorrent::ListenPort { key, port });
                }
            }
            Message::Extended {
                id: OUR_UT_PEX,
                payload,
            } => self.on_pex(&payload),
            Message::Port(_)
            | Message::Suggest(_)
            | Message::AllowedFast(_)
            | Message::Extended { .. } => {}
        }
        Ok(())
    }

    /// A block we asked for is queued to be written on this core and
    /// reported with the rest of its read ([`BlockWrites`]); an
    /// unrequested (or cancelled) one is dropped, never written.
    fn on_piece(&self, index: u32, begin: u32, data: bytes::Bytes) {
        let block = BlockRef {
            index,
            begin,
            length: data.len() as u32,
        };
        if !self.local.borrow_mut().requested.remove(&block) {
            return;
        }
        let data = (!self.have.get(index)).then_some(data);
        self.writes.push(block, data);
    }

    /// Queues a valid request for the serving task; one we cannot serve
    /// (choked, a piece we lack, or [`super::serve_queue::MAX_QUEUED_REQUESTS`]
    /// already queued) is rejected when the fast extension allows, else
    /// ignored.
    fn on_request(&self, b: BlockRef) -> Result<(), Failure> {
        check_request(&b, self.have.len(), |i| self.layout.piece_range(i).1).map_err(ban)?;
        let (choking, fast) = {
            let l = self.local.borrow();
            (l.am_choking, l.fast)
        };
        if !choking && self.have.get(b.index) && self.serve.push(b) {
            self.refused.set(0);
            return Ok(());
        }
        let refused = self.refused.get() + 1;
        self.refused.set(refused);
        if refused > MAX_REFUSED_REQUESTS {
            return Err(fail(format!("{refused} requests refused in a row")));
        }
        if fast {
            self.reply(&Message::Reject(b));
        }
        Ok(())
    }

    fn on_pex(&self, payload: &[u8]) {
        if !self.local.borrow().pex_enabled {
            return;
        }
        let now = Instant::now();
        if !pex_due(self.pex_gate.get(), now) {
            return;
        }
        // BEP 11 asks to ignore a bad PEX message, not to drop its sender.
        if let Ok(m) = PexMessage::decode(payload) {
            self.pex_gate.set(Some(now));
            let peers: Vec<SocketAddr> =
                m.added.iter().take(MAX_PEX_ADDED).map(|p| p.addr).collect();
            if !peers.is_empty() {
                self.send(ToTorrent::Peers(peers));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_bencode::OwnedValue;

    fn b(index: u32, begin: u32, length: u32) -> BlockRef {
        BlockRef {
            index,
            begin,
            length,
        }
    }

    #[test]
    fn requests_outside_the_torrent_or_the_piece_are_refused() {
        let len = |i: u32| if i == 2 { 1000 } else { 32768 };
        assert!(check_request(&b(0, 16384, 16384), 3, len).is_ok());
        assert!(check_request(&b(3, 0, 16384), 3, len).is_err());
        assert!(check_request(&b(0, 16384, 16385), 3, len).is_err());
        assert!(check_request(&b(2, 0, 1000), 3, len).is_ok());
        assert!(check_request(&b(2, 0, 1001), 3, len).is_err());
        assert!(check_request(&b(0, 0, 0), 3, len).is_err());
        let big = |_| 1 << 20;
        assert!(check_request(&b(0, 0, MAX_SERVED_BLOCK), 1, big).is_ok());
        assert!(check_request(&b(0, 0, MAX_SERVED_BLOCK + 1), 1, big).is_err());
    }

    #[test]
    fn pex_is_taken_at_most_once_per_interval() {
        let t = Instant::now();
        assert!(pex_due(None, t));
        assert!(!pex_due(Some(t), t + Duration::from_secs(10)));
        assert!(pex_due(Some(t), t + PEX_MIN_INTERVAL));
    }

    #[test]
    fn extension_handshake_yields_sane_ids_and_ports_only() {
        let hs = |m: OwnedValue, p: i64| {
            arietta_bencode::encode(&OwnedValue::dict().insert("m", m).insert("p", p))
        };
        let good = hs(OwnedValue::dict().insert("ut_pex", 7i64), 6881);
        assert_eq!(
            parse_extension_handshake(&good),
            Some((Some(7), Some(6881)))
        );
        let bad = hs(OwnedValue::dict().insert("ut_pex", 300i64), 70000);
        assert_eq!(parse_extension_handshake(&bad), Some((None, None)));
        assert_eq!(parse_extension_handshake(b"not bencode"), None);
    }
}
