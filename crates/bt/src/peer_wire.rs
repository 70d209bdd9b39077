//! The BitTorrent peer wire protocol: BEP 3 handshake and messages, the
//! BEP 6 fast extension and BEP 10 extension-protocol framing.
//!
//! Everything here is a pure function of bytes. [`MessageDecoder`] is the
//! streaming entry point: the connection task feeds it whatever the socket
//! returned and pulls complete messages out; `piece` payloads are slices of
//! the decoder's buffer ([`Bytes`]) so a 16 KiB block is never copied on
//! its way to the disk writer.

use std::net::Ipv4Addr;

use bytes::{Buf, Bytes, BytesMut};
use sha1::{Digest, Sha1};

use crate::piece_geometry::{BlockRef, BLOCK_LEN};
use crate::{Error, Result};

/// The protocol string every handshake starts with (after its length byte).
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// Length of the complete handshake: 1 + 19 + 8 + 20 + 20.
pub const HANDSHAKE_LEN: usize = 68;

/// Default largest accepted message (length prefix value). A 16 KiB `piece`
/// needs 16384 + 9; BEP 9 `ut_metadata` data messages add a bencoded header
/// of a few dozen bytes to a 16 KiB metadata block, hence the headroom.
/// Large bitfields need more; see [`MessageDecoder::for_piece_count`].
pub const DEFAULT_MAX_MESSAGE_LEN: u32 = BLOCK_LEN + 1024;

/// The 68-byte handshake.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Handshake {
    /// Feature bits; see the `supports_*` accessors.
    pub reserved: [u8; 8],
    /// Torrent the peer wants to talk about.
    pub info_hash: [u8; 20],
    /// The peer's self-chosen id.
    pub peer_id: [u8; 20],
}

impl Handshake {
    /// A handshake advertising the extension protocol (BEP 10), the fast
    /// extension (BEP 6) and, if `dht`, DHT support (BEP 5) — the set aria2
    /// advertises.
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20], dht: bool) -> Self {
        let mut reserved = [0u8; 8];
        reserved[5] |= 0x10;
        reserved[7] |= 0x04;
        if dht {
            reserved[7] |= 0x01;
        }
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    /// BEP 10: bit 20 from the right, byte 5 & 0x10.
    pub fn supports_extension_protocol(&self) -> bool {
        self.reserved[5] & 0x10 != 0
    }

    /// BEP 6: byte 7 & 0x04.
    pub fn supports_fast(&self) -> bool {
        self.reserved[7] & 0x04 != 0
    }

    /// BEP 5: byte 7 & 0x01 (the peer will accept a `port` message).
    pub fn supports_dht(&self) -> bool {
        self.reserved[7] & 0x01 != 0
    }

    /// Wire form.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[0] = 19;
        out[1..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(&self.info_hash);
        out[48..68].copy_from_slice(&self.peer_id);
        out
    }

    /// Parses the first [`HANDSHAKE_LEN`] bytes of `buf`; fewer is an
    /// error (use [`MessageDecoder::next_handshake`] when streaming).
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let buf = buf
            .get(..HANDSHAKE_LEN)
            .ok_or(Error::BadHandshake("truncated"))?;
        if buf[0] != 19 || &buf[1..20] != PROTOCOL {
            return Err(Error::BadHandshake("not the BitTorrent protocol"));
        }
        let mut hs = Handshake {
            reserved: [0; 8],
            info_hash: [0; 20],
            peer_id: [0; 20],
        };
        hs.reserved.copy_from_slice(&buf[20..28]);
        hs.info_hash.copy_from_slice(&buf[28..48]);
        hs.peer_id.copy_from_slice(&buf[48..68]);
        Ok(hs)
    }
}

/// Message ids (BEP 3, BEP 5 `port`, BEP 6, BEP 10, BEP 52 hashes).
pub mod id {
    #![allow(missing_docs)]
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST: u8 = 13;
    pub const HAVE_ALL: u8 = 14;
    pub const HAVE_NONE: u8 = 15;
    pub const REJECT: u8 = 16;
    pub const ALLOWED_FAST: u8 = 17;
    pub const EXTENDED: u8 = 20;
    pub const HASH_REQUEST: u8 = 21;
    pub const HASHES: u8 = 22;
    pub const HASH_REJECT: u8 = 23;
}

/// One peer wire message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Message {
    /// Zero-length message; keeps idle connections open.
    KeepAlive,
    /// We/they will not answer requests.
    Choke,
    /// We/they will answer requests.
    Unchoke,
    /// We/they want pieces from the other side.
    Interested,
    /// We/they want nothing from the other side.
    NotInterested,
    /// The sender completed a piece.
    Have(u32),
    /// The sender's pieces, raw; validate with
    /// [`crate::bitfield::Bitfield::from_wire`] once the piece count is known.
    Bitfield(Bytes),
    /// Ask for a block.
    Request(BlockRef),
    /// A block of data.
    Piece {
        /// Piece index.
        index: u32,
        /// Offset within the piece.
        begin: u32,
        /// The block's bytes (a view into the decoder's buffer).
        data: Bytes,
    },
    /// Withdraw a request.
    Cancel(BlockRef),
    /// The sender's DHT port (BEP 5).
    Port(u16),
    /// BEP 6: the sender suggests downloading this piece.
    Suggest(u32),
    /// BEP 6: the sender is a seed.
    HaveAll,
    /// BEP 6: the sender has nothing.
    HaveNone,
    /// BEP 6: the sender will not serve this request.
    Reject(BlockRef),
    /// BEP 6: the sender will serve this piece even while choking us.
    AllowedFast(u32),
    /// BEP 10: extension message `id` (0 is the extension handshake) with
    /// its still-bencoded payload.
    Extended {
        /// Extended message id.
        id: u8,
        /// Undecoded payload.
        payload: Bytes,
    },
    /// BEP 52 `hash request` (21), `hashes` (22) or `hash reject` (23),
    /// payload raw: v2 peers ask each other for merkle proofs this way.
    V2Hashes {
        /// 21, 22 or 23.
        id: u8,
        /// Pieces root, base layer, index, length, proof layers (and, for
        /// `hashes`, the hashes).
        payload: Bytes,
    },
}

fn be32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

impl Message {
    /// True for the BEP 6 messages, which are only legal when both sides
    /// set the fast bit.
    pub fn is_fast_extension(&self) -> bool {
        matches!(
            self,
            Message::Suggest(_)
                | Message::HaveAll
                | Message::HaveNone
                | Message::Reject(_)
                | Message::AllowedFast(_)
        )
    }

    /// Parses one message body (everything after the 4-byte length prefix;
    /// empty means keep-alive). Never panics, whatever `frame` holds.
    pub fn parse(frame: Bytes) -> Result<Self> {
        let Some(&msg_id) = frame.first() else {
            return Ok(Message::KeepAlive);
        };
        let payload = frame.slice(1..);
        let len = payload.len();
        let bad = || Error::BadPayload { id: msg_id, len };
        let exact = |n: usize| if len == n { Ok(()) } else { Err(bad()) };
        let block = |p: &[u8]| BlockRef {
            index: be32(&p[0..4]),
            begin: be32(&p[4..8]),
            length: be32(&p[8..12]),
        };
        Ok(match msg_id {
            id::CHOKE => exact(0).map(|_| Message::Choke)?,
            id::UNCHOKE => exact(0).map(|_| Message::Unchoke)?,
            id::INTERESTED => exact(0).map(|_| Message::Interested)?,
            id::NOT_INTERESTED => exact(0).map(|_| Message::NotInterested)?,
            id::HAVE => exact(4).map(|_| Message::Have(be32(&payload)))?,
            id::BITFIELD => Message::Bitfield(payload),
            id::REQUEST => exact(12).map(|_| Message::Request(block(&payload)))?,
            id::PIECE => {
                if len < 8 {
                    return Err(bad());
                }
                Message::Piece {
                    index: be32(&payload[0..4]),
                    begin: be32(&payload[4..8]),
                    data: payload.slice(8..),
                }
            }
            id::CANCEL => exact(12).map(|_| Message::Cancel(block(&payload)))?,
            id::PORT => {
                exact(2).map(|_| Message::Port(u16::from_be_bytes([payload[0], payload[1]])))?
            }
            id::SUGGEST => exact(4).map(|_| Message::Suggest(be32(&payload)))?,
            id::HAVE_ALL => exact(0).map(|_| Message::HaveAll)?,
            id::HAVE_NONE => exact(0).map(|_| Message::HaveNone)?,
            id::REJECT => exact(12).map(|_| Message::Reject(block(&payload)))?,
            id::ALLOWED_FAST => exact(4).map(|_| Message::AllowedFast(be32(&payload)))?,
            id::EXTENDED => {
                let (&ext_id, _) = payload.split_first().ok_or_else(bad)?;
                Message::Extended {
                    id: ext_id,
                    payload: payload.slice(1..),
                }
            }
            id::HASH_REQUEST | id::HASH_REJECT => exact(48).map(|_| Message::V2Hashes {
                id: msg_id,
                payload,
            })?,
            id::HASHES => {
                if len < 48 {
                    return Err(bad());
                }
                Message::V2Hashes {
                    id: msg_id,
                    payload,
                }
            }
            other => return Err(Error::UnknownMessage(other)),
        })
    }

    /// Length of the body (what the 4-byte prefix will say).
    pub fn body_len(&self) -> usize {
        match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Have(_) | Message::Suggest(_) | Message::AllowedFast(_) => 5,
            Message::Bitfield(b) => 1 + b.len(),
            Message::Request(_) | Message::Cancel(_) | Message::Reject(_) => 13,
            Message::Piece { data, .. } => 9 + data.len(),
            Message::Port(_) => 3,
            Message::Extended { payload, .. } => 2 + payload.len(),
            Message::V2Hashes { payload, .. } => 1 + payload.len(),
        }
    }

    /// Appends the wire form (length prefix included) to `out`.
    ///
    /// For `piece` messages on the upload path prefer
    /// [`piece_header`] plus a vectored write of the block, which avoids
    /// copying the data.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let body = u32::try_from(self.body_len()).unwrap_or(u32::MAX);
        out.reserve(4 + body as usize);
        out.extend_from_slice(&body.to_be_bytes());
        let block = |out: &mut Vec<u8>, id: u8, b: &BlockRef| {
            out.push(id);
            out.extend_from_slice(&b.index.to_be_bytes());
            out.extend_from_slice(&b.begin.to_be_bytes());
            out.extend_from_slice(&b.length.to_be_bytes());
        };
        let index_msg = |out: &mut Vec<u8>, id: u8, i: u32| {
            out.push(id);
            out.extend_from_slice(&i.to_be_bytes());
        };
        match self {
            Message::KeepAlive => {}
            Message::Choke => out.push(id::CHOKE),
            Message::Unchoke => out.push(id::UNCHOKE),
            Message::Interested => out.push(id::INTERESTED),
            Message::NotInterested => out.push(id::NOT_INTERESTED),
            Message::HaveAll => out.push(id::HAVE_ALL),
            Message::HaveNone => out.push(id::HAVE_NONE),
            Message::Have(i) => index_msg(out, id::HAVE, *i),
            Message::Suggest(i) => index_msg(out, id::SUGGEST, *i),
            Message::AllowedFast(i) => index_msg(out, id::ALLOWED_FAST, *i),
            Message::Bitfield(b) => {
                out.push(id::BITFIELD);
                out.extend_from_slice(b);
            }
            Message::Request(b) => block(out, id::REQUEST, b),
            Message::Cancel(b) => block(out, id::CANCEL, b),
            Message::Reject(b) => block(out, id::REJECT, b),
            Message::Piece { index, begin, data } => {
                out.extend_from_slice(&piece_header(*index, *begin, data.len() as u32)[4..]);
                out.extend_from_slice(data);
            }
            Message::Port(p) => {
                out.push(id::PORT);
                out.extend_from_slice(&p.to_be_bytes());
            }
            Message::Extended { id: ext, payload } => {
                out.push(id::EXTENDED);
                out.push(*ext);
                out.extend_from_slice(payload);
            }
            Message::V2Hashes { id, payload } => {
                out.push(*id);
                out.extend_from_slice(payload);
            }
        }
    }

    /// The wire form as a fresh buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_into(&mut v);
        v
    }
}

/// The 13 bytes that precede a block of `len` bytes in a `piece` message
/// (length prefix, id, index, begin), for vectored writes.
pub fn piece_header(index: u32, begin: u32, len: u32) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[0..4].copy_from_slice(&len.saturating_add(9).to_be_bytes());
    h[4] = id::PIECE;
    h[5..9].copy_from_slice(&index.to_be_bytes());
    h[9..13].copy_from_slice(&begin.to_be_bytes());
    h
}

/// Incremental decoder for a peer connection's inbound byte stream.
///
/// Feed it bytes as they arrive with [`feed`](Self::feed), then call
/// [`next_handshake`](Self::next_handshake) once and
/// [`next`](Self::next) until it returns `None`. A length prefix above the
/// limit is an error reported before anything is allocated for it; after
/// any error the decoder is poisoned and yields nothing more, because the
/// stream's framing can no longer be trusted.
#[derive(Debug)]
pub struct MessageDecoder {
    buf: BytesMut,
    max_len: u32,
    fast: bool,
    extended: bool,
    poisoned: bool,
}

impl Default for MessageDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE_LEN)
    }
}

impl MessageDecoder {
    /// A decoder refusing bodies longer than `max_len` bytes. Fast and
    /// extension messages are accepted until restricted with
    /// [`set_negotiated`](Self::set_negotiated).
    pub fn new(max_len: u32) -> Self {
        MessageDecoder {
            buf: BytesMut::new(),
            max_len,
            fast: true,
            extended: true,
            poisoned: false,
        }
    }

    /// A decoder whose limit also admits the `bitfield` of a torrent with
    /// `piece_count` pieces (a 4 GiB torrent in 16 KiB pieces has a 32 KiB
    /// bitfield, beyond the default limit).
    pub fn for_piece_count(piece_count: u32) -> Self {
        let bitfield = (piece_count as usize).div_ceil(8) + 1;
        let bitfield = u32::try_from(bitfield).unwrap_or(u32::MAX);
        Self::new(DEFAULT_MAX_MESSAGE_LEN.max(bitfield))
    }

    /// Records what the handshakes negotiated: BEP 6 messages without the
    /// fast bit on both sides, or BEP 10 messages without the extension bit,
    /// become errors instead of being acted on.
    pub fn set_negotiated(&mut self, fast: bool, extension_protocol: bool) {
        self.fast = fast;
        self.extended = extension_protocol;
    }

    /// Current limit on a message body.
    pub fn max_len(&self) -> u32 {
        self.max_len
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        if !self.poisoned {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes buffered but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes the undecoded bytes (for handing the stream over, e.g. after
    /// detecting an MSE handshake instead of a plain one).
    pub fn take_buffered(&mut self) -> BytesMut {
        std::mem::take(&mut self.buf)
    }

    /// Decodes the 68-byte handshake that opens every connection; `None`
    /// until enough bytes arrived.
    pub fn next_handshake(&mut self) -> Option<Result<Handshake>> {
        if self.poisoned {
            return None;
        }
        // Fail fast on a wrong protocol string rather than waiting for 68
        // bytes that may never come.
        let prefix_len = self.buf.len().min(20);
        let mut expected = [0u8; 20];
        expected[0] = 19;
        expected[1..].copy_from_slice(PROTOCOL);
        if self.buf[..prefix_len] != expected[..prefix_len] {
            self.poisoned = true;
            return Some(Err(Error::BadHandshake("not the BitTorrent protocol")));
        }
        if self.buf.len() < HANDSHAKE_LEN {
            return None;
        }
        let hs = Handshake::parse(&self.buf);
        self.buf.advance(HANDSHAKE_LEN);
        if hs.is_err() {
            self.poisoned = true;
        }
        Some(hs)
    }

    /// The next complete message, `None` if more bytes are needed.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Message>> {
        if self.poisoned || self.buf.len() < 4 {
            return None;
        }
        let len = be32(&self.buf);
        if len > self.max_len {
            self.poisoned = true;
            self.buf = BytesMut::new();
            return Some(Err(Error::MessageTooLong {
                len,
                max: self.max_len,
            }));
        }
        let total = 4 + len as usize;
        if self.buf.len() < total {
            // `len` is bounded by `max_len`, so this reservation is too.
            self.buf.reserve(total - self.buf.len());
            return None;
        }
        let mut frame = self.buf.split_to(total).freeze();
        frame.advance(4);
        let result = Message::parse(frame).and_then(|m| {
            if m.is_fast_extension() && !self.fast {
                let id = match m {
                    Message::Suggest(_) => id::SUGGEST,
                    Message::HaveAll => id::HAVE_ALL,
                    Message::HaveNone => id::HAVE_NONE,
                    Message::Reject(_) => id::REJECT,
                    _ => id::ALLOWED_FAST,
                };
                Err(Error::FastNotNegotiated(id))
            } else if matches!(m, Message::Extended { .. }) && !self.extended {
                Err(Error::ExtensionNotNegotiated)
            } else {
                Ok(m)
            }
        });
        if result.is_err() {
            self.poisoned = true;
        }
        Some(result)
    }
}

/// BEP 6 allowed-fast set: the `k` pieces a peer at `ip` may download from
/// us while choked. Both sides can compute it, so it is deterministic in
/// the peer's IPv4 address (its /24), the info hash and the piece count.
/// BEP 6 defines it for IPv4 only; IPv6 peers get no allowed-fast set.
///
/// `k` is capped at `piece_count` (the BEP's loop would never end
/// otherwise).
pub fn allowed_fast_set(
    ip: Ipv4Addr,
    info_hash: &[u8; 20],
    piece_count: u32,
    k: usize,
) -> Vec<u32> {
    let k = k.min(piece_count as usize);
    let mut set = Vec::with_capacity(k);
    let masked = u32::from(ip) & 0xffff_ff00;
    let mut x = [0u8; 24];
    x[..4].copy_from_slice(&masked.to_be_bytes());
    x[4..].copy_from_slice(info_hash);
    let mut digest: [u8; 20] = Sha1::digest(x).into();
    while set.len() < k {
        for chunk in digest.chunks_exact(4) {
            if set.len() >= k {
                break;
            }
            let index = be32(chunk) % piece_count;
            if !set.contains(&index) {
                set.push(index);
            }
        }
        digest = Sha1::digest(digest).into();
    }
    set
}

/// aria2's `util::percentEncode`: every byte but the unreserved ones as
/// `%XX`.
fn percent_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// As aria2 logs a handshake: `handshake peerId=…, reserved=…`.
impl std::fmt::Display for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "handshake peerId={}, reserved={}",
            percent_encode(&self.peer_id),
            to_hex(&self.reserved)
        )
    }
}

/// As aria2 logs a message (its `BtMessage::toString`): `request index=3,
/// begin=16384, length=16384`, `have all`, `bitfield ff80`.
impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let range = |f: &mut std::fmt::Formatter<'_>, name: &str, b: &BlockRef| {
            write!(
                f,
                "{name} index={}, begin={}, length={}",
                b.index, b.begin, b.length
            )
        };
        match self {
            Message::KeepAlive => f.write_str("keep alive"),
            Message::Choke => f.write_str("choke"),
            Message::Unchoke => f.write_str("unchoke"),
            Message::Interested => f.write_str("interested"),
            Message::NotInterested => f.write_str("not interested"),
            Message::Have(i) => write!(f, "have index={i}"),
            Message::Bitfield(b) => write!(f, "bitfield {}", to_hex(b)),
            Message::Request(b) => range(f, "request", b),
            Message::Piece { index, begin, data } => write!(
                f,
                "piece index={index}, begin={begin}, length={}",
                data.len()
            ),
            Message::Cancel(b) => range(f, "cancel", b),
            Message::Port(p) => write!(f, "port port={p}"),
            Message::Suggest(i) => write!(f, "suggest piece index={i}"),
            Message::HaveAll => f.write_str("have all"),
            Message::HaveNone => f.write_str("have none"),
            Message::Reject(b) => range(f, "reject", b),
            Message::AllowedFast(i) => write!(f, "allowed fast index={i}"),
            Message::Extended { id: 0, payload } => {
                write!(f, "extended handshake length={}", payload.len())
            }
            Message::Extended { id, payload } => {
                write!(f, "extended id={id}, length={}", payload.len())
            }
            Message::V2Hashes { id, payload } => {
                let name = match *id {
                    id::HASH_REQUEST => "hash request",
                    id::HASHES => "hashes",
                    _ => "hash reject",
                };
                write!(f, "{name} length={}", payload.len())
            }
        }
    }
}

#[cfg(test)]
mod tests;
