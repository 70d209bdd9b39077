//! What peer tasks (on any core) and the torrent actor say to each other.

use std::net::SocketAddr;

use arietta_bt::bitfield::Bitfield;
use arietta_bt::piece_geometry::BlockRef;
use arietta_bt::piece_picker::PeerKey;

use crate::tracker::AnnounceReply;

/// Peer task (or tracker/listener task) → torrent actor.
///
/// Kept small (the rare, large payloads are boxed): every torrent's mailbox
/// allocates its slots in blocks of 31 messages, so with 10,000 seeding
/// torrents each byte of this enum costs about 300 KB of resident memory.
pub(crate) enum ToTorrent {
    /// RPC's `changeOption` changed settings that apply in place.
    ChangeLive(crate::config::LiveOptions),
    /// The handshake is done; the peer may now send its piece set.
    Handshaken {
        key: PeerKey,
        peer_id: [u8; 20],
    },
    Bitfield {
        key: PeerKey,
        have: Bitfield,
    },
    HaveAll {
        key: PeerKey,
    },
    HaveNone {
        key: PeerKey,
    },
    Have {
        key: PeerKey,
        index: u32,
    },
    Choked {
        key: PeerKey,
    },
    Unchoked {
        key: PeerKey,
    },
    Interested {
        key: PeerKey,
        interested: bool,
    },
    /// These blocks are on disk (or were already ours): one message per
    /// read batch of the peer task, not one per 16 KiB block, so a fast
    /// peer costs the actor's core a message per ~256 KiB.
    BlocksWritten {
        key: PeerKey,
        blocks: Vec<BlockRef>,
    },
    /// BEP 6 reject of one of our requests.
    Rejected {
        key: PeerKey,
        block: BlockRef,
    },
    /// We sent `bytes` of piece data.
    Uploaded {
        key: PeerKey,
        bytes: u64,
    },
    /// The connection ended; `ban` when the peer broke the protocol.
    Closed {
        key: PeerKey,
        reason: Option<String>,
        ban: bool,
    },
    /// `-o -`: the stream to stdout ended, every byte written or with the
    /// output's error.
    Streamed(Result<(), String>),
    /// Writing a block failed: the download cannot go on.
    DiskFailed {
        reason: String,
    },
    /// A peer connected to the shared listening port asking for this
    /// torrent; its handshake has begun on the listener's core.
    Incoming(Box<crate::listener::IncomingPeer>, SocketAddr),
    /// An announce finished.
    Announced(Box<Result<AnnounceReply, String>>),
    /// A piece's hash check finished.
    Hashed {
        index: u32,
        ok: bool,
    },
    /// Extra peers from outside (DHT, LPD, PEX, magnet `x.pe`), through
    /// [`crate::PeerSink`].
    Peers(Vec<SocketAddr>),
    /// The peer's extension handshake named the port it listens on (what
    /// PEX tells others for a peer that connected to us).
    ListenPort {
        key: PeerKey,
        port: u16,
    },
    Tick,
}

/// Torrent actor → one peer task.
pub(crate) enum ToPeer {
    /// Request these blocks (the peer task keeps them as outstanding).
    Request(Vec<BlockRef>),
    Cancel(BlockRef),
    Have(u32),
    Interested(bool),
    /// Choke (`true`) or unchoke (`false`) the peer.
    Choke(bool),
    /// The torrent's current peer set, for this peer's next `ut_pex`
    /// message (the task sends the difference from what it told before).
    Pex(Vec<arietta_bt::pex::PexPeer>),
    Close,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See [`ToTorrent`]: a payload added by value can quietly double the
    /// memory of an idle seedbox.
    #[test]
    fn messages_stay_small() {
        assert!(
            std::mem::size_of::<ToTorrent>() <= 48,
            "{}",
            std::mem::size_of::<ToTorrent>()
        );
        assert!(
            std::mem::size_of::<ToPeer>() <= 32,
            "{}",
            std::mem::size_of::<ToPeer>()
        );
    }
}
