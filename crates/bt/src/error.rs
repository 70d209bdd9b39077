//! The crate's one error type.

/// Everything that can go wrong while parsing or validating BitTorrent
/// protocol data. Variants carry enough context for a log line that tells a
/// user *which* peer or tracker misbehaved and how; the session decides
/// whether that means dropping the peer, banning it or retrying a tracker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The 68-byte handshake was malformed (wrong protocol string, ...).
    #[error("bad handshake: {0}")]
    BadHandshake(&'static str),
    /// A length prefix above the decoder's limit; checked before any buffer
    /// is sized from it so a hostile peer cannot make us allocate.
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    MessageTooLong {
        /// Length announced by the peer.
        len: u32,
        /// Configured maximum.
        max: u32,
    },
    /// A known message id whose payload has the wrong size.
    #[error("message id {id} has a malformed payload of {len} bytes")]
    BadPayload {
        /// Message id.
        id: u8,
        /// Payload length (without the id byte).
        len: usize,
    },
    /// A message id this implementation does not know.
    #[error("unknown message id {0}")]
    UnknownMessage(u8),
    /// A BEP 6 message arrived although the fast extension was not
    /// negotiated in the handshake.
    #[error("fast-extension message id {0} without the fast extension negotiated")]
    FastNotNegotiated(u8),
    /// A BEP 10 message arrived although the extension protocol was not
    /// negotiated in the handshake.
    #[error("extended message without the extension protocol negotiated")]
    ExtensionNotNegotiated,
    /// A bitfield of the wrong length or with spare bits set.
    #[error("bad bitfield: {0}")]
    BadBitfield(&'static str),
    /// A piece index at or beyond the torrent's piece count.
    #[error("piece index {index} out of range (torrent has {count} pieces)")]
    PieceOutOfRange {
        /// Offending index.
        index: u32,
        /// Number of pieces in the torrent.
        count: u32,
    },
    /// A request/cancel/reject/piece whose block is empty, too large, or
    /// not within its piece.
    #[error("block (piece {index}, offset {begin}, length {length}) is out of bounds: {reason}")]
    BadBlock {
        /// Piece index.
        index: u32,
        /// Offset within the piece.
        begin: u32,
        /// Block length.
        length: u32,
        /// Which rule was broken.
        reason: &'static str,
    },
    /// Torrent geometry that cannot be represented (zero piece length,
    /// more than 2^32 pieces).
    #[error("bad torrent geometry: {0}")]
    BadGeometry(&'static str),
    /// A UDP tracker packet that does not parse.
    #[error("malformed UDP tracker packet: {0}")]
    BadTrackerPacket(&'static str),
    /// A UDP tracker answered with the error action; the text is the
    /// tracker's own message (lossily decoded).
    #[error("tracker error: {0}")]
    TrackerFailure(String),
    /// A UDP tracker response whose transaction id does not match ours.
    #[error("tracker transaction id mismatch: expected {expected:#x}, got {got:#x}")]
    TransactionMismatch {
        /// Id we sent.
        expected: u32,
        /// Id the packet carried.
        got: u32,
    },
    /// The MSE handshake failed (no sync point, bad VC, no common crypto
    /// method, unknown info hash, ...).
    #[error("encryption handshake failed: {0}")]
    Mse(&'static str),
    /// A `ut_pex` payload that is not the bencoded dictionary BEP 11
    /// describes; names the offending key or problem.
    #[error("malformed ut_pex message: {0}")]
    BadPex(&'static str),
    /// A Local Peer Discovery datagram that is not a BEP 14 `BT-SEARCH`.
    #[error("malformed LPD announcement: {0}")]
    BadLpd(&'static str),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
