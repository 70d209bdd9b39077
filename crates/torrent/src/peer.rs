//! One peer connection, run as a task on whichever core the actor chose:
//! handshake, piece sets, interest and choking, request pipelining, block
//! writes to this core's file handles, and serving requests when we have
//! the piece. Generic over the byte stream, so an MSE-encrypted stream
//! plugs in where plain TCP is used today.

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use arietta_bencode::OwnedValue;
use arietta_bt::bitfield::Bitfield;
use arietta_bt::peer_wire::{Handshake, Message, MessageDecoder};
use arietta_bt::pex::{PexMessage, PexPeer};
use arietta_bt::piece_geometry::BlockRef;
use arietta_bt::piece_picker::PeerKey;
use arietta_bt_net::{CryptoPolicy, MseStream};
use arietta_net::RateLimiter;
use arietta_runtime::{Mailbox, MailboxSender};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalSender};

use crate::have_set::HaveSet;
use crate::layout::Layout;
use crate::messages::{ToPeer, ToTorrent};
use crate::open_files::{Handle, OpenFiles};
use crate::tracker::with_timeout;

/// Largest block we serve; aria2 and libtorrent ask for 16 KiB.
const MAX_SERVED_BLOCK: u32 = 128 * 1024;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const KEEPALIVE: Duration = Duration::from_secs(100);
/// Our id for `ut_pex` in the BEP 10 handshake (peers send PEX with it).
const OUR_UT_PEX: u8 = 1;

/// Everything a peer task needs; sent to its core.
pub(crate) struct PeerSetup {
    pub key: PeerKey,
    pub info_hash: [u8; 20],
    pub our_id: [u8; 20],
    pub layout: Arc<Layout>,
    pub have: Arc<HaveSet>,
    pub to_torrent: MailboxSender<ToTorrent>,
    pub inbox: Mailbox<ToPeer>,
    /// `--max-upload-limit` and `--max-overall-upload-limit`, all taken
    /// from before a block is sent.
    pub upload_limits: Vec<Arc<RateLimiter>>,
    pub download_limit: Option<Arc<RateLimiter>>,
    /// MSE/PSE: how to shake hands.
    pub crypto: CryptoPolicy,
    /// Speak `ut_pex` with this peer (off for private torrents).
    pub pex: bool,
    /// Our listening port, told in the extension handshake (`p`).
    pub listen_port: u16,
    /// `--bt-max-open-files`: the cap of this torrent's handles per core.
    pub max_open_files: usize,
}

/// How the connection came to be.
pub(crate) enum PeerSource {
    Outgoing(SocketAddr),
    Incoming(glommio::net::AcceptedTcpStream),
    /// A BEP 19 web seed: the URL of each file, in stream order.
    WebSeed(Arc<Vec<url::Url>>, arietta_http_client::HttpClient),
}

struct Failure {
    reason: String,
    ban: bool,
}

fn fail(reason: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        ban: false,
    }
}

fn ban(reason: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        ban: true,
    }
}

/// Runs the connection to its end and tells the actor why it ended.
pub(crate) async fn run_peer(source: PeerSource, setup: PeerSetup) {
    let key = setup.key;
    let tx = setup.to_torrent.clone();
    let result = match source {
        PeerSource::WebSeed(urls, http) => {
            return crate::web_seed::run_web_seed(urls, http, setup).await
        }
        PeerSource::Outgoing(addr) => outgoing(addr, setup).await,
        PeerSource::Incoming(s) => {
            let s = s.bind_to_executor();
            let _ = s.set_nodelay(true);
            // Tells MSE from a plain handshake by its first bytes; a plain
            // one is refused when crypto is required.
            match arietta_bt_net::accept(s, vec![setup.info_hash], &setup.crypto).await {
                Ok(a) => drive(a.stream, setup, false).await,
                Err(e) => Err(fail(format!("encryption handshake failed: {e}"))),
            }
        }
    };
    let (reason, ban) = match result {
        Ok(()) => (None, false),
        Err(f) => (Some(f.reason), f.ban),
    };
    let _ = tx.send(ToTorrent::Closed { key, reason, ban });
}

async fn connect(addr: SocketAddr) -> Result<glommio::net::TcpStream, Failure> {
    let s = glommio::net::TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)
        .await
        .map_err(|e| fail(format!("connect failed: {e}")))?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// Outgoing: MSE first (RC4, or an obfuscated handshake with a plain
/// payload when `--bt-min-crypto-level=plain` lets the other side choose),
/// our BitTorrent handshake riding in its initial payload; a peer that does
/// not speak MSE gets a second connection with a plain handshake unless
/// `--bt-require-crypto`.
async fn outgoing(addr: SocketAddr, setup: PeerSetup) -> Result<(), Failure> {
    let s = connect(addr).await?;
    let hs = Handshake::new(setup.info_hash, setup.our_id, false).encode();
    let mse_error = match arietta_bt_net::connect(s, setup.info_hash, &hs, &setup.crypto).await {
        Ok(c) => return drive(c.stream, setup, true).await,
        Err(e) => e,
    };
    if setup.crypto.require_crypto {
        return Err(fail(format!("encryption handshake failed: {mse_error}")));
    }
    let s = connect(addr).await?;
    drive(MseStream::plaintext(s), setup, false).await
}

/// This connection's view of the other side.
struct Local {
    /// Our requests not yet answered.
    requested: HashSet<BlockRef>,
    peer_choking: bool,
    am_choking: bool,
    fast: bool,
    /// PEX is allowed for this torrent.
    pex_enabled: bool,
    /// The peer's id for `ut_pex`, once its extension handshake said so.
    their_pex: Option<u8>,
    /// The peer set our PEX messages have told this peer about so far.
    pex_told: Vec<PexPeer>,
}

/// File access of one connection, through this core's bounded handle
/// cache for the torrent (`--bt-max-open-files`).
pub(crate) struct Files {
    layout: Arc<Layout>,
    open: Rc<OpenFiles>,
}

impl Files {
    /// This core's bounded handle cache for `layout`'s torrent.
    pub(crate) fn new(layout: Arc<Layout>, max_open_files: usize) -> Files {
        Files {
            open: OpenFiles::for_torrent(&layout, max_open_files),
            layout,
        }
    }

    async fn get(&self, i: usize) -> std::io::Result<Rc<Handle>> {
        self.open.get(i).await
    }

    /// Writes `data` at stream offset `offset`, across file boundaries.
    pub(crate) async fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        for s in self.layout.spans(offset, data.len()) {
            let file = &self.layout.files[s.file];
            if file.padding {
                continue;
            }
            if !file.selected && !self.open.is_open(s.file) {
                // A piece shared with an unselected file also writes into
                // it (as aria2 does); only selected files' directories
                // were made up front.
                if let Some(parent) = file.path.parent() {
                    let parent = parent.to_path_buf();
                    glommio::executor()
                        .spawn_blocking(move || std::fs::create_dir_all(parent))
                        .await?;
                }
            }
            let f = self.get(s.file).await?;
            let buf = data[s.range_offset..s.range_offset + s.len].to_vec();
            let n = f
                .write_at(buf, s.file_offset)
                .await
                .map_err(std::io::Error::from)?;
            if n < s.len {
                return Err(std::io::Error::from_raw_os_error(libc_enospc()));
            }
        }
        Ok(())
    }

    /// Reads `len` bytes at stream offset `offset` into `out`.
    async fn read(&self, offset: u64, len: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
        for s in self.layout.spans(offset, len) {
            if self.layout.files[s.file].padding {
                out.resize(out.len() + s.len, 0);
                continue;
            }
            let f = self.get(s.file).await?;
            let r = f
                .read_at(s.file_offset, s.len)
                .await
                .map_err(std::io::Error::from)?;
            if r.len() < s.len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "short read",
                ));
            }
            out.extend_from_slice(&r[..s.len]);
        }
        Ok(())
    }
}

fn libc_enospc() -> i32 {
    28
}

fn frame(m: &Message) -> Vec<u8> {
    m.to_vec()
}

async fn drive<S>(stream: S, setup: PeerSetup, handshake_sent: bool) -> Result<(), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let PeerSetup {
        key,
        info_hash,
        our_id,
        layout,
        have,
        to_torrent,
        inbox,
        upload_limits,
        download_limit,
        crypto: _,
        pex,
        listen_port,
        max_open_files,
    } = setup;
    let mut stream = stream;
    let piece_count = have.len();
    if !handshake_sent {
        stream
            .write_all(&Handshake::new(info_hash, our_id, false).encode())
            .await
            .map_err(|e| fail(format!("write failed: {e}")))?;
        stream
            .flush()
            .await
            .map_err(|e| fail(format!("write failed: {e}")))?;
    }
    let mut dec = MessageDecoder::for_piece_count(piece_count);
    let mut buf = vec![0u8; 256 * 1024];
    let hs = with_timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            if let Some(hs) = dec.next_handshake() {
                return hs.map_err(|e| ban(e.to_string()));
            }
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| fail(format!("read failed: {e}")))?;
            if n == 0 {
                return Err(fail("connection closed during the handshake"));
            }
            dec.feed(&buf[..n]);
        }
    })
    .await
    .ok_or_else(|| fail("handshake timed out"))??;
    if hs.info_hash != info_hash {
        return Err(fail("handshake for another torrent"));
    }
    if hs.peer_id == our_id {
        return Err(fail("connected to ourselves"));
    }
    let fast = hs.supports_fast();
    dec.set_negotiated(fast, hs.supports_extension_protocol());
    let _ = to_torrent.send(ToTorrent::Handshaken {
        key,
        peer_id: hs.peer_id,
    });

    let mut hello = Vec::new();
    if hs.supports_extension_protocol() {
        let mut m = OwnedValue::dict();
        if pex {
            m = m.insert(arietta_bt::pex::EXTENSION_NAME, i64::from(OUR_UT_PEX));
        }
        let dict = OwnedValue::dict()
            .insert("m", m)
            .insert("p", i64::from(listen_port))
            .insert("v", "arietta");
        Message::Extended {
            id: 0,
            payload: arietta_bencode::encode(&dict).into(),
        }
        .encode_into(&mut hello);
    }
    let ours = have.to_bitfield();
    let first = if fast && ours.count_ones() == 0 {
        Some(Message::HaveNone)
    } else if fast && ours.is_full() {
        Some(Message::HaveAll)
    } else if ours.count_ones() > 0 {
        Some(Message::Bitfield(bytes::Bytes::copy_from_slice(
            ours.as_bytes(),
        )))
    } else {
        None
    };
    if let Some(m) = first {
        m.encode_into(&mut hello);
    }
    if !hello.is_empty() {
        stream
            .write_all(&hello)
            .await
            .map_err(|e| fail(format!("write failed: {e}")))?;
        stream
            .flush()
            .await
            .map_err(|e| fail(format!("write failed: {e}")))?;
    }

    let local = Rc::new(RefCell::new(Local {
        requested: HashSet::new(),
        peer_choking: true,
        am_choking: true,
        fast,
        pex_enabled: pex,
        their_pex: None,
        pex_told: Vec::new(),
    }));
    let files = Rc::new(Files {
        layout: layout.clone(),
        open: OpenFiles::for_torrent(&layout, max_open_files),
    });
    let (out_tx, out_rx) = local_channel::new_unbounded::<Vec<u8>>();
    let out_tx = Rc::new(out_tx);
    let (mut rd, mut wr) = futures_lite::io::split(stream);
    let (serve_tx, serve_rx) = local_channel::new_unbounded::<BlockRef>();
    let server = {
        let files = files.clone();
        let out = out_tx.clone();
        let tx = to_torrent.clone();
        let layout = layout.clone();
        async move {
            // Requests come in piece order: read each piece once.
            let mut cached: Option<(u32, Vec<u8>)> = None;
            while let Some(b) = serve_rx.recv().await {
                if cached.as_ref().is_none_or(|(i, _)| *i != b.index) {
                    let (start, len) = layout.piece_range(b.index);
                    let mut data = Vec::with_capacity(len as usize);
                    if let Err(e) = files.read(start, len as usize, &mut data).await {
                        return Err(fail(format!("read failed: {e}")));
                    }
                    cached = Some((b.index, data));
                }
                let Some((_, data)) = &cached else { continue };
                if !upload_limits.is_empty() {
                    let limits: Vec<&RateLimiter> = upload_limits.iter().map(|l| &**l).collect();
                    let mut left = b.length as usize;
                    while left > 0 {
                        left -= arietta_net::take_all(&limits, left).await.min(left);
                    }
                }
                let at = b.begin as usize;
                let mut msg = Vec::with_capacity(13 + b.length as usize);
                msg.extend_from_slice(&arietta_bt::peer_wire::piece_header(
                    b.index, b.begin, b.length,
                ));
                msg.extend_from_slice(&data[at..at + b.length as usize]);
                if out.try_send(msg).is_err() {
                    return Ok(());
                }
                let _ = tx.send(ToTorrent::Uploaded {
                    key,
                    bytes: u64::from(b.length),
                });
            }
            Ok::<(), Failure>(())
        }
    };

    let writer = async move {
        loop {
            // Peers drop connections silent for two minutes (BEP 3).
            let next = futures_lite::future::or(async { out_rx.recv().await.map(Some) }, async {
                glommio::timer::sleep(KEEPALIVE).await;
                Some(None)
            })
            .await;
            let mut bytes = match next {
                None => break,
                Some(Some(bytes)) if bytes.is_empty() => break,
                Some(Some(bytes)) => bytes,
                Some(None) => vec![0; 4],
            };
            let mut closing = false;
            // Whatever else is queued goes out in the same write.
            while bytes.len() < 512 * 1024 {
                match futures_lite::future::poll_once(out_rx.recv()).await {
                    Some(Some(more)) if more.is_empty() => {
                        closing = true;
                        break;
                    }
                    Some(Some(more)) => bytes.extend_from_slice(&more),
                    _ => break,
                }
            }
            wr.write_all(&bytes)
                .await
                .map_err(|e| fail(format!("write failed: {e}")))?;
            // An RC4 stream holds the tail of a write until flushed.
            wr.flush()
                .await
                .map_err(|e| fail(format!("write failed: {e}")))?;
            if closing {
                break;
            }
        }
        Ok::<(), Failure>(())
    };

    let commands = {
        let local = local.clone();
        let out = out_tx.clone();
        async move {
            while let Some(cmd) = inbox.recv().await {
                let mut l = local.borrow_mut();
                let mut bytes = Vec::new();
                match cmd {
                    ToPeer::Request(blocks) => {
                        if l.peer_choking {
                            continue;
                        }
                        for b in blocks {
                            if l.requested.insert(b) {
                                Message::Request(b).encode_into(&mut bytes);
                            }
                        }
                    }
                    ToPeer::Cancel(b) => {
                        if l.requested.remove(&b) {
                            Message::Cancel(b).encode_into(&mut bytes);
                        }
                    }
                    ToPeer::Have(i) => Message::Have(i).encode_into(&mut bytes),
                    ToPeer::Interested(true) => Message::Interested.encode_into(&mut bytes),
                    ToPeer::Interested(false) => Message::NotInterested.encode_into(&mut bytes),
                    ToPeer::Pex(now) => {
                        let Some(id) = l.their_pex else { continue };
                        let Some(msg) = next_pex(&mut l.pex_told, &now) else {
                            continue;
                        };
                        Message::Extended {
                            id,
                            payload: msg.encode().into(),
                        }
                        .encode_into(&mut bytes);
                    }
                    ToPeer::Choke(c) => {
                        if l.am_choking != c {
                            l.am_choking = c;
                            let m = if c { Message::Choke } else { Message::Unchoke };
                            m.encode_into(&mut bytes);
                        }
                    }
                    ToPeer::Close => {
                        // An empty frame tells the writer to flush what is
                        // queued (the last blocks a leecher waits for) and
                        // end the connection.
                        let _ = out.try_send(Vec::new());
                        drop(l);
                        futures_lite::future::pending::<()>().await;
                    }
                }
                if !bytes.is_empty() && out.try_send(bytes).is_err() {
                    return Ok(());
                }
            }
            Ok::<(), Failure>(())
        }
    };

    let reader = {
        let local = local.clone();
        let out = out_tx;
        let tx = to_torrent.clone();
        async move {
            loop {
                loop {
                    let m = match dec.next() {
                        None => break,
                        Some(Ok(m)) => m,
                        Some(Err(e)) => return Err(ban(e.to_string())),
                    };
                    handle(m, key, &local, &have, &layout, &files, &tx, &out, &serve_tx)?;
                }
                let n = rd
                    .read(&mut buf)
                    .await
                    .map_err(|e| fail(format!("read failed: {e}")))?;
                if n == 0 {
                    return Err(fail("the peer closed the connection"));
                }
                if let Some(l) = &download_limit {
                    let mut left = n;
                    while left > 0 {
                        left -= l.take(left).await.min(left);
                    }
                }
                dec.feed(&buf[..n]);
            }
        }
    };
    futures_lite::future::or(
        futures_lite::future::or(reader, commands),
        futures_lite::future::or(writer, server),
    )
    .await
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

#[allow(clippy::too_many_arguments)]
fn handle(
    m: Message,
    key: PeerKey,
    local: &Rc<RefCell<Local>>,
    have: &Arc<HaveSet>,
    layout: &Arc<Layout>,
    files: &Rc<Files>,
    tx: &MailboxSender<ToTorrent>,
    out: &Rc<LocalSender<Vec<u8>>>,
    serve: &LocalSender<BlockRef>,
) -> Result<(), Failure> {
    let piece_count = have.len();
    let send = |msg: ToTorrent| {
        let _ = tx.send(msg);
    };
    match m {
        Message::KeepAlive => {}
        // BEP 52: we keep piece layers only, not the block-level proofs a
        // v2 peer may ask for; a reject is the answer the BEP allows.
        Message::V2Hashes { id, payload } => {
            if id == arietta_bt::peer_wire::id::HASH_REQUEST {
                let _ = out.try_send(frame(&Message::V2Hashes {
                    id: arietta_bt::peer_wire::id::HASH_REJECT,
                    payload,
                }));
            }
        }
        Message::Choke => {
            let mut l = local.borrow_mut();
            l.peer_choking = true;
            l.requested.clear();
            send(ToTorrent::Choked { key });
        }
        Message::Unchoke => {
            local.borrow_mut().peer_choking = false;
            send(ToTorrent::Unchoked { key });
        }
        Message::Interested => send(ToTorrent::Interested {
            key,
            interested: true,
        }),
        Message::NotInterested => send(ToTorrent::Interested {
            key,
            interested: false,
        }),
        Message::Have(i) => {
            if i >= piece_count {
                return Err(ban(format!("have for piece {i} of {piece_count}")));
            }
            send(ToTorrent::Have { key, index: i });
        }
        Message::Bitfield(bytes) => {
            let b = Bitfield::from_wire(&bytes, piece_count).map_err(|e| ban(e.to_string()))?;
            send(ToTorrent::Bitfield { key, have: b });
        }
        Message::HaveAll => send(ToTorrent::HaveAll { key }),
        Message::HaveNone => send(ToTorrent::HaveNone { key }),
        Message::Piece { index, begin, data } => {
            let block = BlockRef {
                index,
                begin,
                length: data.len() as u32,
            };
            if !local.borrow_mut().requested.remove(&block) {
                // Unrequested (or cancelled) data is dropped, never written.
                return Ok(());
            }
            if have.get(index) {
                send(ToTorrent::BlockWritten { key, block });
                return Ok(());
            }
            let offset = u64::from(index) * layout.piece_length + u64::from(begin);
            let files = files.clone();
            let tx = tx.clone();
            glommio::spawn_local(async move {
                match files.write(offset, &data).await {
                    Ok(()) => {
                        let _ = tx.send(ToTorrent::BlockWritten { key, block });
                    }
                    Err(e) => {
                        // A disk error is the download's, not the peer's.
                        let _ = tx.send(ToTorrent::DiskFailed {
                            reason: e.to_string(),
                        });
                    }
                }
            })
            .detach();
        }
        Message::Request(b) => {
            let (_, plen) = if b.index < piece_count {
                layout.piece_range(b.index)
            } else {
                return Err(ban(format!(
                    "request for piece {} of {piece_count}",
                    b.index
                )));
            };
            if b.length == 0
                || b.length > MAX_SERVED_BLOCK
                || u64::from(b.begin) + u64::from(b.length) > plen
            {
                return Err(ban(format!(
                    "request out of bounds: {b:?} in a piece of {plen}"
                )));
            }
            let (choking, fast) = {
                let l = local.borrow();
                (l.am_choking, l.fast)
            };
            if choking || !have.get(b.index) {
                if fast {
                    let _ = out.try_send(frame(&Message::Reject(b)));
                }
                return Ok(());
            }
            let _ = serve.try_send(b);
        }
        Message::Cancel(_) => {}
        Message::Reject(b) => {
            if local.borrow_mut().requested.remove(&b) {
                send(ToTorrent::Rejected { key, block: b });
            }
        }
        Message::Extended { id: 0, payload } => {
            // A malformed extension handshake costs the peer its
            // extensions, not the connection.
            let Ok((dict, _)) = arietta_bencode::decode_prefix(&payload) else {
                return Ok(());
            };
            let their_pex = dict
                .get("m")
                .and_then(|m| m.get(arietta_bt::pex::EXTENSION_NAME))
                .and_then(|v| v.as_int())
                .filter(|v| (1..=255).contains(v))
                .map(|v| v as u8);
            let mut l = local.borrow_mut();
            if l.pex_enabled {
                l.their_pex = their_pex;
            }
            if let Some(port) = dict
                .get("p")
                .and_then(|v| v.as_int())
                .filter(|v| (1..=65535).contains(v))
            {
                send(ToTorrent::ListenPort {
                    key,
                    port: port as u16,
                });
            }
        }
        Message::Extended {
            id: OUR_UT_PEX,
            payload,
        } => {
            if !local.borrow().pex_enabled {
                return Ok(());
            }
            // BEP 11 asks to ignore a bad PEX message, not to drop its sender.
            if let Ok(m) = PexMessage::decode(&payload) {
                let peers: Vec<SocketAddr> = m.added.iter().map(|p| p.addr).collect();
                if !peers.is_empty() {
                    send(ToTorrent::Peers(peers));
                }
            }
        }
        Message::Port(_)
        | Message::Suggest(_)
        | Message::AllowedFast(_)
        | Message::Extended { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_bt::pex::{PexFlags, MAX_SENT_PER_LIST};

    fn peer(i: u16) -> PexPeer {
        PexPeer {
            addr: SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 6881)),
            flags: PexFlags::default(),
        }
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
}
