//! One peer connection, run as a task on whichever core the actor chose:
//! handshake, piece sets, interest and choking, request pipelining, block
//! writes to this core's file handles, and serving requests when we have
//! the piece. Generic over the byte stream, so an MSE-encrypted stream
//! plugs in where plain TCP is used today.
//!
//! A connection is four loops over one socket: the reader ([`incoming`]
//! checks and dispatches each message), the actor's commands ([`local`]
//! turns them into wire bytes), the server (reads requested blocks from
//! disk) and the writer (batches whatever is queued into one write).

mod block_writes;
mod files;
mod incoming;
mod local;
mod serve_queue;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use arietta_bencode::OwnedValue;
use arietta_bt::bitfield::Bitfield;
use arietta_bt::peer_wire::{Handshake, Message, MessageDecoder};
use arietta_bt::piece_picker::PeerKey;
use arietta_bt_net::CryptoPolicy;
use arietta_net::RateLimiter;
use arietta_runtime::{Mailbox, MailboxSender};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};

use crate::have_set::HaveSet;
use crate::layout::Layout;
use crate::messages::{ToPeer, ToTorrent};
use crate::tracker::with_timeout;

pub(crate) use files::Files;
use incoming::Inbound;
use local::{Local, Outgoing};
use serve_queue::{ServeQueue, Unsent};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const KEEPALIVE: Duration = Duration::from_secs(100);
/// A peer that sends nothing at all (not even a keep-alive) for this long
/// is gone: aria2 sends a keep-alive every 120 s and libtorrent's
/// `peer_timeout` is 120 s, so a live peer always beats it.
const PEER_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Our id for `ut_pex` in the BEP 10 handshake (peers send PEX with it).
pub(super) const OUR_UT_PEX: u8 = 1;

/// Everything a peer task needs; sent to its core.
pub(crate) struct PeerSetup {
    pub key: PeerKey,
    /// The peer's address, as the log names it.
    pub addr: SocketAddr,
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
    /// The SOCKS5 proxy outgoing connections go through, if any.
    pub proxy: Option<Arc<arietta_net::Socks5Proxy>>,
    /// Speak `ut_pex` with this peer (off for private torrents).
    pub pex: bool,
    /// Our listening port, told in the extension handshake (`p`).
    pub listen_port: u16,
    /// `--bt-max-open-files`: the cap of this torrent's handles per core.
    pub max_open_files: usize,
    /// `--peer-agent`: the client name in the extension handshake (`v`).
    pub peer_agent: Arc<str>,
    /// The process-wide count of incoming connections this one holds a
    /// place in, given back when the connection ends.
    pub incoming_slot: Option<crate::incoming_cap::IncomingSlot>,
}

/// How the connection came to be.
pub(crate) enum PeerSource {
    Outgoing(SocketAddr),
    /// Routed by the shared listener, its handshake begun there.
    Incoming(crate::listener::IncomingPeer),
    /// A BEP 19 web seed: the URL of each file, in stream order.
    WebSeed(Arc<Vec<url::Url>>, arietta_http_client::HttpClient),
}

pub(super) struct Failure {
    reason: String,
    ban: bool,
}

pub(super) fn fail(reason: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        ban: false,
    }
}

pub(super) fn ban(reason: impl Into<String>) -> Failure {
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
        PeerSource::Incoming(peer) => {
            // The listener checked the torrent's crypto policy; answer
            // with the hash the peer asked for (v1, or a hybrid's v2).
            let mut setup = setup;
            setup.info_hash = peer.info_hash();
            drive(peer.into_stream(), setup, false).await
        }
    };
    let (reason, ban) = match result {
        Ok(()) => (None, false),
        Err(f) => (Some(f.reason), f.ban),
    };
    let _ = tx.send(ToTorrent::Closed { key, reason, ban });
}

/// Outgoing: dialled MSE first, plain when allowed
/// ([`arietta_bt_net::dial`]); our handshake has gone out either way.
async fn outgoing(addr: SocketAddr, setup: PeerSetup) -> Result<(), Failure> {
    tracing::info!("Connecting to the peer {}", addr.ip());
    let ours = Handshake::new(setup.info_hash, setup.our_id, false);
    let s = arietta_bt_net::dial(
        addr,
        setup.info_hash,
        &ours.encode(),
        &setup.crypto,
        CONNECT_TIMEOUT,
        setup.proxy.as_deref(),
    )
    .await
    .map_err(|e| fail(e.to_string()))?;
    tracing::info!("To: {addr} {ours}");
    drive(s, setup, true).await
}

/// aria2's `To: ADDR message` lines for what we send, read back from the
/// bytes written (only while INFO is logged: decoding costs).
struct WireTap {
    addr: SocketAddr,
    dec: MessageDecoder,
}

impl WireTap {
    fn new(addr: SocketAddr, piece_count: u32, fast: bool, extended: bool) -> Option<WireTap> {
        if !tracing::enabled!(tracing::Level::INFO) {
            return None;
        }
        let mut dec = MessageDecoder::for_piece_count(piece_count);
        dec.set_negotiated(fast, extended);
        Some(WireTap { addr, dec })
    }

    fn sent(&mut self, bytes: &[u8]) {
        self.dec.feed(bytes);
        while let Some(Ok(m)) = self.dec.next() {
            // The only extended message a data connection sends besides
            // the handshake is `ut_pex` (under the peer's id for it).
            let text = arietta_bt::WireText(&m, Some(arietta_bt::pex::EXTENSION_NAME));
            tracing::info!("To: {} {text}", self.addr);
        }
    }
}

fn write_failed(e: std::io::Error) -> Failure {
    fail(format!("write failed: {e}"))
}

async fn send_now<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> Result<(), Failure> {
    stream.write_all(bytes).await.map_err(write_failed)?;
    stream.flush().await.map_err(write_failed)
}

/// Reads until the peer's handshake is whole, within
/// [`HANDSHAKE_TIMEOUT`].
async fn read_handshake<S: AsyncRead + Unpin>(
    stream: &mut S,
    dec: &mut MessageDecoder,
    buf: &mut [u8],
) -> Result<Handshake, Failure> {
    with_timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            if let Some(hs) = dec.next_handshake() {
                return hs.map_err(|e| ban(e.to_string()));
            }
            let n = stream
                .read(buf)
                .await
                .map_err(|e| fail(format!("read failed: {e}")))?;
            if n == 0 {
                return Err(fail("connection closed during the handshake"));
            }
            dec.feed(&buf[..n]);
        }
    })
    .await
    .ok_or_else(|| fail("handshake timed out"))?
}

/// What we send right after the handshake: the BEP 10 extension
/// handshake (when the peer speaks it) and our piece set, as HaveNone or
/// HaveAll when the fast extension allows, else a bitfield (none when we
/// have nothing).
fn hello(
    extensions: bool,
    fast: bool,
    pex: bool,
    listen_port: u16,
    agent: &str,
    ours: &Bitfield,
) -> Vec<u8> {
    let mut hello = Vec::new();
    if extensions {
        let mut m = OwnedValue::dict();
        if pex {
            m = m.insert(arietta_bt::pex::EXTENSION_NAME, i64::from(OUR_UT_PEX));
        }
        let dict = OwnedValue::dict()
            .insert("m", m)
            .insert("p", i64::from(listen_port))
            .insert("v", agent);
        Message::Extended {
            id: 0,
            payload: arietta_bencode::encode(&dict).into(),
        }
        .encode_into(&mut hello);
    }
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
    hello
}

async fn drive<S>(stream: S, setup: PeerSetup, handshake_sent: bool) -> Result<(), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let PeerSetup {
        key,
        addr,
        info_hash,
        our_id,
        layout,
        have,
        to_torrent,
        inbox,
        upload_limits,
        download_limit,
        crypto: _,
        proxy: _,
        pex,
        listen_port,
        max_open_files,
        peer_agent,
        incoming_slot: _incoming_slot,
    } = setup;
    let mut stream = stream;
    if !handshake_sent {
        let ours = Handshake::new(info_hash, our_id, false);
        send_now(&mut stream, &ours.encode()).await?;
        tracing::info!("To: {addr} {ours}");
    }
    let mut dec = MessageDecoder::for_piece_count(have.len());
    let mut buf = vec![0u8; 256 * 1024];
    let hs = read_handshake(&mut stream, &mut dec, &mut buf).await?;
    if hs.info_hash != info_hash {
        return Err(fail("handshake for another torrent"));
    }
    if hs.peer_id == our_id {
        return Err(fail("connected to ourselves"));
    }
    tracing::info!("From: {addr} {hs}");
    let fast = hs.supports_fast();
    dec.set_negotiated(fast, hs.supports_extension_protocol());
    let _ = to_torrent.send(ToTorrent::Handshaken {
        key,
        peer_id: hs.peer_id,
    });
    let hello = hello(
        hs.supports_extension_protocol(),
        fast,
        pex,
        listen_port,
        &peer_agent,
        &have.to_bitfield(),
    );
    let mut tap = WireTap::new(addr, have.len(), fast, hs.supports_extension_protocol());
    if !hello.is_empty() {
        send_now(&mut stream, &hello).await?;
        if let Some(t) = tap.as_mut() {
            t.sent(&hello);
        }
    }

    let local = Rc::new(RefCell::new(Local::new(fast, pex)));
    let files = Rc::new(Files::new(layout.clone(), max_open_files));
    let (out_tx, out_rx) = local_channel::new_unbounded::<Vec<u8>>();
    let out_tx = Rc::new(out_tx);
    let (rd, wr) = futures_lite::io::split(stream);
    let queue = Rc::new(ServeQueue::default());
    let unsent = Rc::new(Unsent::default());
    let server = serve(
        key,
        queue.clone(),
        unsent.clone(),
        files.clone(),
        layout.clone(),
        upload_limits,
        out_tx.clone(),
        to_torrent.clone(),
    );
    let commands = commands(inbox, local.clone(), out_tx.clone(), queue.clone());
    let inbound = Inbound {
        key,
        addr,
        local,
        have,
        layout,
        files,
        to_torrent,
        out: out_tx,
        serve: queue,
        pex_gate: Default::default(),
        refused: Default::default(),
        writes: block_writes::BlockWrites::default(),
    };
    let reader = read_messages(rd, dec, buf, inbound, download_limit);
    futures_lite::future::or(
        futures_lite::future::or(reader, commands),
        futures_lite::future::or(write_frames(wr, out_rx, unsent, tap), server),
    )
    .await
}

/// Serves queued requests: reads each piece once (requests come in piece
/// order), takes the upload limits' tokens, and queues the block, waiting
/// while the writer has [`serve_queue::MAX_UNSENT_BLOCK_BYTES`] unsent.
/// A read error ends the connection without blaming the peer: the fault
/// is our disk's, not a bad piece, so no strike and no ban.
#[allow(clippy::too_many_arguments)]
async fn serve(
    key: PeerKey,
    requests: Rc<ServeQueue>,
    unsent: Rc<Unsent>,
    files: Rc<Files>,
    layout: Arc<Layout>,
    upload_limits: Vec<Arc<RateLimiter>>,
    out: Rc<LocalSender<Vec<u8>>>,
    tx: MailboxSender<ToTorrent>,
) -> Result<(), Failure> {
    let mut cached: Option<(u32, Vec<u8>)> = None;
    loop {
        unsent.room().await;
        let Some(b) = requests.next().await else {
            break;
        };
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
        unsent.add(msg.len());
        if out.try_send(msg).is_err() {
            return Ok(());
        }
        let _ = tx.send(ToTorrent::Uploaded {
            key,
            bytes: u64::from(b.length),
        });
    }
    Ok(())
}

/// Writes queued frames, batching whatever else is queued into the same
/// write, and a keep-alive after [`KEEPALIVE`] of silence (peers drop
/// connections silent for two minutes, BEP 3). An empty frame means:
/// flush and end.
async fn write_frames<W: AsyncWrite + Unpin>(
    mut wr: W,
    out_rx: LocalReceiver<Vec<u8>>,
    unsent: Rc<Unsent>,
    mut tap: Option<WireTap>,
) -> Result<(), Failure> {
    let is_piece = |f: &[u8]| f.len() > 4 && f[4] == arietta_bt::peer_wire::id::PIECE;
    loop {
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
        let mut pieces = if is_piece(&bytes) { bytes.len() } else { 0 };
        let mut closing = false;
        while bytes.len() < 512 * 1024 {
            match futures_lite::future::poll_once(out_rx.recv()).await {
                Some(Some(more)) if more.is_empty() => {
                    closing = true;
                    break;
                }
                Some(Some(more)) => {
                    if is_piece(&more) {
                        pieces += more.len();
                    }
                    bytes.extend_from_slice(&more)
                }
                _ => break,
            }
        }
        wr.write_all(&bytes).await.map_err(write_failed)?;
        if let Some(t) = tap.as_mut() {
            t.sent(&bytes);
        }
        // An RC4 stream holds the tail of a write until flushed.
        wr.flush().await.map_err(write_failed)?;
        unsent.written(pieces);
        if closing {
            break;
        }
    }
    Ok(())
}

/// Turns the actor's commands into frames for the writer. Choking the
/// peer voids its queued requests (BEP 3), each rejected when the fast
/// extension is on (BEP 6).
async fn commands(
    inbox: Mailbox<ToPeer>,
    local: Rc<RefCell<Local>>,
    out: Rc<LocalSender<Vec<u8>>>,
    queue: Rc<ServeQueue>,
) -> Result<(), Failure> {
    while let Some(cmd) = inbox.recv().await {
        let was_choking = local.borrow().am_choking;
        let outgoing = local.borrow_mut().command(cmd);
        let (choking, fast) = {
            let l = local.borrow();
            (l.am_choking, l.fast)
        };
        if choking && !was_choking {
            let voided = queue.take_all();
            if fast && !voided.is_empty() {
                let mut rejects = Vec::new();
                for b in voided {
                    Message::Reject(b).encode_into(&mut rejects);
                }
                let _ = out.try_send(rejects);
            }
        }
        match outgoing {
            Outgoing::Bytes(bytes) => {
                if !bytes.is_empty() && out.try_send(bytes).is_err() {
                    return Ok(());
                }
            }
            Outgoing::Close => {
                queue.close();
                // An empty frame tells the writer to flush what is queued
                // (the last blocks a leecher waits for) and end the
                // connection.
                let _ = out.try_send(Vec::new());
                futures_lite::future::pending::<()>().await;
            }
        }
    }
    Ok(())
}

/// Reads and handles the peer's messages, taking the download limit's
/// tokens for every read. The blocks of each read are written and
/// reported together before the next read waits.
async fn read_messages<R: AsyncRead + Unpin>(
    mut rd: R,
    mut dec: MessageDecoder,
    mut buf: Vec<u8>,
    inbound: Inbound,
    download_limit: Option<Arc<RateLimiter>>,
) -> Result<(), Failure> {
    loop {
        while let Some(m) = dec.next() {
            inbound.handle(m.map_err(|e| ban(e.to_string()))?)?;
        }
        inbound
            .writes
            .flush(inbound.key, &inbound.files, &inbound.to_torrent);
        let n = with_timeout(PEER_IDLE_TIMEOUT, rd.read(&mut buf))
            .await
            .ok_or_else(|| fail("the peer sent nothing for 120 s"))?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_announces_extensions_and_the_shortest_piece_set() {
        let mut none = Bitfield::new(10);
        let empty_plain = hello(false, false, false, 6881, "a", &none);
        assert!(empty_plain.is_empty(), "nothing to say without fast");
        assert_eq!(
            hello(false, true, false, 6881, "a", &none),
            Message::HaveNone.to_vec()
        );
        none.set(3, true);
        let some = hello(false, true, false, 6881, "a", &none);
        assert_eq!(some[4], 5, "a bitfield");
        let mut all = Bitfield::new(2);
        all.set(0, true);
        all.set(1, true);
        assert_eq!(
            hello(false, true, false, 6881, "a", &all),
            Message::HaveAll.to_vec()
        );
        let ext = hello(true, false, true, 6881, "aria2/1.37.0", &Bitfield::new(2));
        assert_eq!((ext[4], ext[5]), (20, 0), "the extension handshake");
        let text = String::from_utf8_lossy(&ext);
        assert!(text.contains("ut_pex") && text.contains("1:pi6881e"));
        assert!(text.contains("1:v12:aria2/1.37.0"), "--peer-agent is the v");
    }
}
