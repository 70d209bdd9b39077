//! A connection's own view of the other side, and the actor's commands
//! turned into wire bytes against it: a pure step (state and command in,
//! bytes out), so the rules live apart from the socket loop.

use std::collections::HashSet;

use arietta_bt::peer_wire::Message;
use arietta_bt::pex::{PexMessage, PexPeer};
use arietta_bt::piece_geometry::BlockRef;

use crate::messages::ToPeer;

/// This connection's view of the other side.
#[derive(Debug)]
pub(super) struct Local {
    /// Our requests not yet answered.
    pub(super) requested: HashSet<BlockRef>,
    pub(super) peer_choking: bool,
    pub(super) am_choking: bool,
    pub(super) fast: bool,
    /// PEX is allowed for this torrent.
    pub(super) pex_enabled: bool,
    /// The peer's id for `ut_pex`, once its extension handshake said so.
    pub(super) their_pex: Option<u8>,
    /// The peer set our PEX messages have told this peer about so far.
    pub(super) pex_told: Vec<PexPeer>,
}

/// What a command from the actor comes to on the wire.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outgoing {
    /// These bytes (possibly none).
    Bytes(Vec<u8>),
    /// Flush what is queued and end the connection.
    Close,
}

impl Local {
    /// A fresh connection: both sides choking, nothing requested.
    pub(super) fn new(fast: bool, pex_enabled: bool) -> Self {
        Local {
            requested: HashSet::new(),
            peer_choking: true,
            am_choking: true,
            fast,
            pex_enabled,
            their_pex: None,
            pex_told: Vec::new(),
        }
    }

    /// Applies one of the actor's commands: requests are sent once and
    /// only while the peer does not choke us, cancels only for blocks
    /// still requested, choke changes only when they change something,
    /// PEX only the difference from what the peer was told.
    pub(super) fn command(&mut self, cmd: ToPeer) -> Outgoing {
        let mut bytes = Vec::new();
        match cmd {
            ToPeer::Request(blocks) => {
                if !self.peer_choking {
                    for b in blocks {
                        if self.requested.insert(b) {
                            Message::Request(b).encode_into(&mut bytes);
                        }
                    }
                }
            }
            ToPeer::Cancel(b) => {
                if self.requested.remove(&b) {
                    Message::Cancel(b).encode_into(&mut bytes);
                }
            }
            ToPeer::Have(i) => Message::Have(i).encode_into(&mut bytes),
            ToPeer::Interested(true) => Message::Interested.encode_into(&mut bytes),
            ToPeer::Interested(false) => Message::NotInterested.encode_into(&mut bytes),
            ToPeer::Pex(now) => {
                if let Some(id) = self.their_pex {
                    if let Some(msg) = next_pex(&mut self.pex_told, &now) {
                        Message::Extended {
                            id,
                            payload: msg.encode().into(),
                        }
                        .encode_into(&mut bytes);
                    }
                }
            }
            ToPeer::Choke(c) => {
                if self.am_choking != c {
                    self.am_choking = c;
                    let m = if c { Message::Choke } else { Message::Unchoke };
                    m.encode_into(&mut bytes);
                }
            }
            ToPeer::Close => return Outgoing::Close,
        }
        Outgoing::Bytes(bytes)
    }
}

/// The `ut_pex` message that brings a peer told `told` up to `now`, if
/// there is anything to say; `told` becomes what the message leaves the
/// peer believing (the lists are capped, the rest goes out next time).
fn next_pex(told: &mut Vec<PexPeer>, now: &[PexPeer]) -> Option<PexMessage> {
    let msg = PexMessage::diff(told, now);
    if msg.is_empty() {
        return None;
    }
    told.retain(|p| !msg.dropped.contains(&p.addr));
    told.extend_from_slice(&msg.added);
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_bt::pex::{PexFlags, MAX_SENT_PER_LIST};
    use std::net::SocketAddr;

    fn peer(i: u16) -> PexPeer {
        PexPeer {
            addr: SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 6881)),
            flags: PexFlags::default(),
        }
    }

    fn block(begin: u32) -> BlockRef {
        BlockRef {
            index: 0,
            begin,
            length: 16384,
        }
    }

    fn bytes(m: &[Message]) -> Outgoing {
        let mut out = Vec::new();
        for m in m {
            m.encode_into(&mut out);
        }
        Outgoing::Bytes(out)
    }

    #[test]
    fn pex_sends_differences_and_remembers_what_it_said() {
        let mut told = Vec::new();
        let now: Vec<PexPeer> = (1..=3).map(peer).collect();
        let m = next_pex(&mut told, &now).unwrap();
        assert_eq!(m.added.len(), 3);
        assert!(m.dropped.is_empty());
        assert!(
            next_pex(&mut told, &now).is_none(),
            "nothing new: no message"
        );
        let later = vec![peer(2), peer(3), peer(4)];
        let m = next_pex(&mut told, &later).unwrap();
        assert_eq!(m.added, vec![peer(4)]);
        assert_eq!(m.dropped, vec![peer(1).addr]);
    }

    #[test]
    fn pex_caps_a_message_and_sends_the_rest_next_time() {
        let mut told = Vec::new();
        let many: Vec<PexPeer> = (1..=(MAX_SENT_PER_LIST as u16 + 10)).map(peer).collect();
        let first = next_pex(&mut told, &many).unwrap();
        assert_eq!(first.added.len(), MAX_SENT_PER_LIST);
        let second = next_pex(&mut told, &many).unwrap();
        assert_eq!(second.added.len(), 10);
        assert!(next_pex(&mut told, &many).is_none());
    }

    #[test]
    fn requests_wait_for_an_unchoke_and_go_out_once() {
        let mut l = Local::new(true, true);
        assert_eq!(l.command(ToPeer::Request(vec![block(0)])), bytes(&[]));
        l.peer_choking = false;
        assert_eq!(
            l.command(ToPeer::Request(vec![block(0), block(16384)])),
            bytes(&[Message::Request(block(0)), Message::Request(block(16384))])
        );
        assert_eq!(l.command(ToPeer::Request(vec![block(0)])), bytes(&[]));
        assert_eq!(
            l.command(ToPeer::Cancel(block(0))),
            bytes(&[Message::Cancel(block(0))])
        );
        assert_eq!(l.command(ToPeer::Cancel(block(0))), bytes(&[]), "once");
    }

    #[test]
    fn choke_changes_only_when_it_changes_something() {
        let mut l = Local::new(false, false);
        assert_eq!(l.command(ToPeer::Choke(true)), bytes(&[]));
        assert_eq!(l.command(ToPeer::Choke(false)), bytes(&[Message::Unchoke]));
        assert_eq!(l.command(ToPeer::Choke(false)), bytes(&[]));
        assert_eq!(l.command(ToPeer::Close), Outgoing::Close);
    }

    #[test]
    fn pex_waits_for_the_peers_extension_id() {
        let mut l = Local::new(false, true);
        assert_eq!(l.command(ToPeer::Pex(vec![peer(1)])), bytes(&[]));
        l.their_pex = Some(3);
        let Outgoing::Bytes(b) = l.command(ToPeer::Pex(vec![peer(1)])) else {
            panic!("bytes expected");
        };
        assert_eq!(b[4], 20, "an extended message");
        assert_eq!(b[5], 3, "with the peer's ut_pex id");
    }
}
