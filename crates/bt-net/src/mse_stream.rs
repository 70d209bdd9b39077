//! The MSE/PSE handshake over a socket, and the stream it leaves behind.
//!
//! How the engine uses it:
//!
//! * **Outgoing peer** — with `--bt-require-crypto=true` (or after a plain
//!   attempt failed, as aria2 retries), call [`connect`] with the torrent's
//!   info-hash and the BitTorrent handshake as initial payload, then speak
//!   the peer wire protocol over the returned [`MseStream`]; the peer's
//!   handshake is the first thing read from it.
//! * **Incoming peer** — call [`accept`] on every accepted socket with the
//!   info-hashes of the torrents served on this listener. It tells an MSE
//!   handshake from a plain one by the first bytes (`0x13 "BitTorrent
//!   protocol"`), refusing the plain one when crypto is required. The
//!   [`Accepted`] value says which torrent the peer wants; its stream yields
//!   the peer's BitTorrent handshake first (carried in MSE's IA, or read in
//!   the clear), so the peer task parses it the same way in every case.
//! * **Shared listener** — [`accept_shared`] serves every torrent of the
//!   process on one port, each with its own crypto level, and always says
//!   which torrent the peer wants (reading a plain handshake up to its
//!   info-hash); [`MseStream::into_parts`] and [`MseStream::from_parts`]
//!   carry the stream to the core that runs the peer.
//!
//! [`MseStream`] implements `AsyncRead + AsyncWrite`, RC4-encrypting and
//! decrypting when arc4 was negotiated and passing bytes straight through
//! otherwise, so the peer wire loop never knows which it got.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use arietta_bt::mse::{
    CryptoLevel, CryptoMethod, Established, Initiator, PayloadCipher, Progress, Receiver,
};
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::error::{BtNetError, Result};

/// How long a handshake may take before the peer is dropped; aria2 gives a
/// peer's whole handshake `--bt-tracker-timeout`-like patience of about
/// this order, and a live peer answers within a round trip or two.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Largest encrypted chunk buffered on the write side before the stream
/// pushes back; one 16 KiB block plus headers fits.
const WRITE_BUFFER: usize = 64 * 1024;

/// The user's crypto options, as the engine reads them once per torrent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CryptoPolicy {
    /// `--bt-require-crypto`: refuse plain BitTorrent handshakes.
    pub require_crypto: bool,
    /// `--bt-min-crypto-level`: `plain` accepts an obfuscated handshake
    /// with a plaintext payload; `arc4` insists on RC4 throughout.
    pub min_level: CryptoLevel,
    /// Upper bound on the whole handshake.
    pub timeout: Duration,
}

impl Default for CryptoPolicy {
    /// aria2's defaults: crypto optional, plain payload acceptable.
    fn default() -> Self {
        CryptoPolicy {
            require_crypto: false,
            min_level: CryptoLevel::Plain,
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl CryptoPolicy {
    /// Builds the policy from the option values as aria2 spells them
    /// (`--bt-min-crypto-level=plain|arc4`); `None` for any other level.
    pub fn from_options(require_crypto: bool, min_crypto_level: &str) -> Option<Self> {
        let min_level = match min_crypto_level {
            "plain" => CryptoLevel::Plain,
            "arc4" => CryptoLevel::Arc4,
            _ => return None,
        };
        Some(CryptoPolicy {
            require_crypto,
            min_level,
            ..CryptoPolicy::default()
        })
    }
}

/// A stream after the MSE handshake (or a plain one that was let through).
///
/// With RC4, written bytes are encrypted into an internal buffer (the
/// keystream advances as they are accepted, so they must go out exactly
/// once); like any buffered writer, call `flush` after a batch of messages
/// before waiting for the peer's answer.
pub struct MseStream<S> {
    inner: S,
    cipher: PayloadCipher,
    /// Already-decrypted bytes to hand out before reading `inner` again.
    read_prefix: Vec<u8>,
    read_pos: usize,
    /// Encrypted bytes accepted by `poll_write` but not yet on the wire.
    write_pending: Vec<u8>,
    write_pos: usize,
    method: CryptoMethod,
}

impl<S> std::fmt::Debug for MseStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MseStream")
            .field("method", &self.method)
            .field("buffered_read", &(self.read_prefix.len() - self.read_pos))
            .field(
                "pending_write",
                &(self.write_pending.len() - self.write_pos),
            )
            .finish()
    }
}

impl<S> MseStream<S> {
    fn new(inner: S, cipher: PayloadCipher, method: CryptoMethod, prefix: Vec<u8>) -> Self {
        MseStream {
            inner,
            cipher,
            read_prefix: prefix,
            read_pos: 0,
            write_pending: Vec::new(),
            write_pos: 0,
            method,
        }
    }

    /// Wraps a stream that speaks plain BitTorrent (no MSE at all), so the
    /// engine can hold one stream type for every peer.
    pub fn plaintext(inner: S) -> Self {
        MseStream::plaintext_with(inner, Vec::new())
    }

    /// A plain stream whose first reads return `read` (bytes taken off the
    /// socket to find out what the peer speaks).
    fn plaintext_with(inner: S, read: Vec<u8>) -> Self {
        MseStream::new(inner, PayloadCipher::Plain, CryptoMethod::Plain, read)
    }

    /// What protects the payload: RC4, or nothing (after an obfuscated or
    /// a legacy plain handshake).
    pub fn method(&self) -> CryptoMethod {
        self.method
    }

    /// The socket underneath (for `peer_addr`, `set_nodelay`, ...).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    fn buffered(&self) -> &[u8] {
        &self.read_prefix[self.read_pos..]
    }
}

/// Everything an [`MseStream`] holds besides its socket: the cipher state,
/// bytes already read and decrypted, bytes encrypted but not yet sent.
///
/// It is `Send` where a glommio socket is not: a connection whose handshake
/// ran on one core travels to another as its file descriptor plus this, and
/// [`MseStream::from_parts`] rebuilds it there around a new socket handle.
#[derive(Debug)]
pub struct StreamState {
    cipher: PayloadCipher,
    method: CryptoMethod,
    read_prefix: Vec<u8>,
    write_pending: Vec<u8>,
}

impl StreamState {
    /// What protects the payload.
    pub fn method(&self) -> CryptoMethod {
        self.method
    }

    /// Bytes already read (and decrypted) that the next read returns.
    pub fn buffered(&self) -> &[u8] {
        &self.read_prefix
    }
}

impl<S> MseStream<S> {
    /// Splits the stream into its socket and the state to rebuild it with.
    pub fn into_parts(self) -> (S, StreamState) {
        let mut read_prefix = self.read_prefix;
        read_prefix.drain(..self.read_pos);
        let mut write_pending = self.write_pending;
        write_pending.drain(..self.write_pos);
        let state = StreamState {
            cipher: self.cipher,
            method: self.method,
            read_prefix,
            write_pending,
        };
        (self.inner, state)
    }

    /// The stream again, over `inner` (the same connection as the socket
    /// [`MseStream::into_parts`] gave back, possibly another handle to it).
    pub fn from_parts(inner: S, state: StreamState) -> Self {
        let mut s = MseStream::new(inner, state.cipher, state.method, state.read_prefix);
        s.write_pending = state.write_pending;
        s
    }
}

impl<S: AsyncWrite + Unpin> MseStream<S> {
    /// Writes out encrypted bytes still held from an earlier `poll_write`.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.write_pos < self.write_pending.len() {
            let n = match Pin::new(&mut self.inner)
                .poll_write(cx, &self.write_pending[self.write_pos..])
            {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            self.write_pos += n;
        }
        self.write_pending.clear();
        self.write_pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for MseStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.buffered().is_empty() {
            let n = this.buffered().len().min(buf.len());
            buf[..n].copy_from_slice(&this.buffered()[..n]);
            this.read_pos += n;
            if this.read_pos == this.read_prefix.len() {
                this.read_prefix = Vec::new();
                this.read_pos = 0;
            }
            return Poll::Ready(Ok(n));
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.cipher.decrypt(&mut buf[..n]);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for MseStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if matches!(this.cipher, PayloadCipher::Plain) {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        // RC4 is a stream: once bytes are encrypted the keystream has moved
        // on, so they must be sent exactly once. Accept them into our own
        // buffer and drain it before taking more.
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        let n = buf.len().min(WRITE_BUFFER);
        this.write_pending.extend_from_slice(&buf[..n]);
        this.cipher.encrypt(&mut this.write_pending);
        // Start sending right away; what does not fit stays pending.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_close(cx),
            other => other,
        }
    }
}

/// An outgoing connection after a successful MSE handshake.
#[derive(Debug)]
pub struct Connected<S> {
    /// The encrypted (or obfuscated-then-plain) stream; the peer's
    /// BitTorrent handshake is the next thing to read from it.
    pub stream: MseStream<S>,
    /// What was negotiated.
    pub method: CryptoMethod,
}

/// An incoming connection after [`accept`].
#[derive(Debug)]
pub struct Accepted<S> {
    /// The stream; reading it yields the peer's BitTorrent handshake first.
    pub stream: MseStream<S>,
    /// The torrent the peer asked for; `None` when it sent a plain
    /// handshake (then the info-hash is inside that handshake).
    pub info_hash: Option<[u8; 20]>,
    /// What protects the payload.
    pub method: CryptoMethod,
    /// The peer skipped MSE and spoke plain BitTorrent.
    pub legacy: bool,
    /// Length of MSE's initial payload (IA) now at the front of the
    /// stream's read side; 0 for a plain handshake or an empty IA.
    pub initial_payload_len: usize,
}

async fn with_timeout<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    futures_lite::future::or(fut, async {
        glommio::timer::sleep(timeout).await;
        Err(BtNetError::Timeout(timeout))
    })
    .await
}

/// Feeds what the peer sends to one side's state machine and sends its
/// answers, until the handshake is established.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    mut feed: impl FnMut(&[u8]) -> arietta_bt::Result<Progress>,
) -> Result<Box<Established>> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = read_some(stream, &mut buf).await?;
        let progress = feed(&buf[..n])?;
        if !progress.output.is_empty() {
            stream.write_all(&progress.output).await?;
            stream.flush().await?;
        }
        if let Some(e) = progress.established {
            return Ok(e);
        }
    }
}

async fn read_some<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> Result<usize> {
    match stream.read(buf).await? {
        0 => Err(BtNetError::Closed),
        n => Ok(n),
    }
}

/// Runs the initiator side (A) of MSE over `stream` for `info_hash`.
/// `initial_payload` (normally the 68-byte BitTorrent handshake, up to
/// 65535 bytes) travels RC4-encrypted inside the handshake, saving a round
/// trip. The offered methods follow `policy.min_level`.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    info_hash: [u8; 20],
    initial_payload: &[u8],
    policy: &CryptoPolicy,
) -> Result<Connected<S>> {
    let level = policy.min_level;
    let ia = initial_payload.to_vec();
    with_timeout(policy.timeout, async move {
        let (mut machine, first) = Initiator::new(info_hash, level, ia, &mut rand::thread_rng())?;
        stream.write_all(&first).await?;
        stream.flush().await?;
        let established = exchange(&mut stream, |b| machine.feed(b)).await?;
        let Established {
            method,
            cipher,
            remaining,
            ..
        } = *established;
        Ok(Connected {
            stream: MseStream::new(stream, cipher, method, remaining),
            method,
        })
    })
    .await
}

/// Runs the receiver side (B) for a connection that may want any of
/// `info_hashes`. A peer opening with a plain BitTorrent handshake is let
/// through unless `policy.require_crypto`; anything else must complete MSE
/// with a method `policy.min_level` allows.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    info_hashes: Vec<[u8; 20]>,
    policy: &CryptoPolicy,
) -> Result<Accepted<S>> {
    let level = policy.min_level;
    let allow_legacy = !policy.require_crypto;
    with_timeout(policy.timeout, async move {
        let mut machine = Receiver::new(info_hashes, level, allow_legacy, &mut rand::thread_rng());
        let established = exchange(&mut stream, |b| machine.feed(b)).await?;
        let Established {
            method,
            cipher,
            info_hash,
            initial_payload,
            remaining,
            legacy_plaintext,
        } = *established;
        let initial_payload_len = initial_payload.len();
        let mut prefix = initial_payload;
        prefix.extend_from_slice(&remaining);
        Ok(Accepted {
            stream: MseStream::new(stream, cipher, method, prefix),
            info_hash: (!legacy_plaintext).then_some(info_hash),
            method,
            legacy: legacy_plaintext,
            initial_payload_len,
        })
    })
    .await
}

/// An incoming connection on a listener shared by many torrents, after
/// [`accept_shared`]: the torrent it wants is known in every case.
#[derive(Debug)]
pub struct Routed<S> {
    /// Reading it yields the peer's BitTorrent handshake first.
    pub stream: MseStream<S>,
    /// The torrent the peer asked for: proved through HASH('req2', SKEY)
    /// under MSE, or read from the plain handshake.
    pub info_hash: [u8; 20],
    /// What protects the payload.
    pub method: CryptoMethod,
    /// The peer skipped MSE and spoke plain BitTorrent.
    pub legacy: bool,
}

/// Bytes of a plain handshake up to the end of its info-hash: pstrlen,
/// "BitTorrent protocol", eight reserved bytes, the hash.
const PLAIN_HASH_END: usize = 1 + 19 + 8 + 20;

/// The receiver side for one listener serving every torrent of the
/// process, each with its own `--bt-min-crypto-level`. A plain handshake is
/// always let through here (read up to its info-hash) and MSE is answered
/// for any listed torrent: whether the torrent admits a plain peer
/// (`--bt-require-crypto`) is for the caller to decide once it knows which
/// torrent that is.
pub async fn accept_shared<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    torrents: Vec<([u8; 20], CryptoLevel)>,
    timeout: Duration,
) -> Result<Routed<S>> {
    with_timeout(timeout, async move {
        let mut machine = Receiver::for_torrents(torrents, true, &mut rand::thread_rng());
        let established = exchange(&mut stream, |b| machine.feed(b)).await?;
        let Established {
            method,
            cipher,
            info_hash,
            initial_payload,
            remaining,
            legacy_plaintext,
        } = *established;
        if legacy_plaintext {
            let mut head = remaining;
            let mut buf = [0u8; 512];
            while head.len() < PLAIN_HASH_END {
                let n = read_some(&mut stream, &mut buf).await?;
                head.extend_from_slice(&buf[..n]);
            }
            let mut info_hash = [0u8; 20];
            info_hash.copy_from_slice(&head[PLAIN_HASH_END - 20..PLAIN_HASH_END]);
            return Ok(Routed {
                stream: MseStream::plaintext_with(stream, head),
                info_hash,
                method,
                legacy: true,
            });
        }
        let mut prefix = initial_payload;
        prefix.extend_from_slice(&remaining);
        Ok(Routed {
            stream: MseStream::new(stream, cipher, method, prefix),
            info_hash,
            method,
            legacy: false,
        })
    })
    .await
}
