//! Message Stream Encryption (MSE, also called PE/PSE): the obfuscation
//! handshake that BitTorrent clients use to get past throttling middleboxes.
//!
//! ```text
//! 1 A->B: Ya, PadA
//! 2 B->A: Yb, PadB
//! 3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
//!         ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
//! 4 B->A: ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
//! 5 A->B: ENCRYPT2(payload)
//! ```
//!
//! Y is a 768-bit Diffie-Hellman public key (generator 2), S the shared
//! secret, SKEY the torrent's info hash, VC eight zero bytes, and ENCRYPT
//! RC4 keyed with `HASH('keyA', S, SKEY)` (A→B) or `HASH('keyB', S, SKEY)`
//! (B→A) with the first 1024 keystream bytes discarded. ENCRYPT2 is the
//! negotiated method: RC4 continuing the same streams, or plaintext.
//!
//! [`Initiator`] and [`Receiver`] are pure state machines: feed them
//! whatever the peer sent, write out what they return, until they hand back
//! an [`Established`] with the payload cipher. They work over any byte
//! stream, in any chunking.

use num_bigint::BigUint;
use rand::{Rng, RngCore};
use sha1::{Digest, Sha1};

use crate::{Error, Result};

/// The 768-bit safe prime from the MSE specification.
const PRIME: [u8; 96] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63,
];

/// Length of a DH public key or shared secret on the wire.
pub const KEY_LEN: usize = 96;
/// Longest PadA/PadB/PadC/PadD the spec allows.
pub const MAX_PAD: usize = 512;
const VC: [u8; 8] = [0; 8];
const LEGACY_PREFIX: &[u8; 20] = b"\x13BitTorrent protocol";

/// A crypto method bit set as carried in `crypto_provide`/`crypto_select`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CryptoMethods(pub u32);

impl CryptoMethods {
    /// Plaintext after the handshake (header obfuscation only).
    pub const PLAIN: CryptoMethods = CryptoMethods(0x01);
    /// RC4 for the whole connection.
    pub const RC4: CryptoMethods = CryptoMethods(0x02);
    /// Both; what an initiator with `--bt-min-crypto-level=plain` offers.
    pub const BOTH: CryptoMethods = CryptoMethods(0x03);

    fn has(self, other: CryptoMethods) -> bool {
        self.0 & other.0 == other.0
    }
}

/// aria2's `--bt-min-crypto-level`: the weakest method we accept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CryptoLevel {
    /// Accept (and, as receiver, prefer) plaintext payload, as aria2 does:
    /// it costs no CPU and the handshake already hides the protocol.
    Plain,
    /// Insist on RC4 for the whole stream.
    Arc4,
}

impl CryptoLevel {
    fn provide(self) -> CryptoMethods {
        match self {
            CryptoLevel::Plain => CryptoMethods::BOTH,
            CryptoLevel::Arc4 => CryptoMethods::RC4,
        }
    }
}

/// The method both sides settled on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CryptoMethod {
    /// Payload in the clear.
    Plain,
    /// Payload RC4-encrypted.
    Rc4,
}

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RC4 keyed with a 20-byte MSE key, 1024 bytes already discarded.
///
/// Written out here rather than taken from the `rc4` crate: that one runs
/// through the generic one-byte-block stream-cipher machinery and managed
/// about 150 MiB/s, a ceiling on every encrypted peer connection; this
/// loop is the textbook PRGA with `u8` indices (no bounds checks) and is
/// checked against the crate in the tests.
#[derive(Clone)]
pub struct Rc4Stream {
    s: Box<[u8; 256]>,
    i: u8,
    j: u8,
}

impl std::fmt::Debug for Rc4Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rc4Stream")
    }
}

impl Rc4Stream {
    /// The key schedule (KSA) for a 1..=256-byte key, without the discard.
    fn with_key(key: &[u8]) -> Self {
        let mut s = Box::new([0u8; 256]);
        for (i, b) in s.iter_mut().enumerate() {
            *b = i as u8;
        }
        let mut j = 0u8;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, usize::from(j));
        }
        Rc4Stream { s, i: 0, j: 0 }
    }

    fn new(key: [u8; 20]) -> Self {
        let mut c = Rc4Stream::with_key(&key);
        c.apply(&mut [0u8; 1024]);
        c
    }

    /// En- or decrypts in place (RC4 is its own inverse).
    pub fn apply(&mut self, data: &mut [u8]) {
        let (mut i, mut j) = (self.i, self.j);
        let s = &mut *self.s;
        for b in data {
            i = i.wrapping_add(1);
            let si = s[usize::from(i)];
            j = j.wrapping_add(si);
            let sj = s[usize::from(j)];
            s[usize::from(i)] = sj;
            s[usize::from(j)] = si;
            *b ^= s[usize::from(si.wrapping_add(sj))];
        }
        self.i = i;
        self.j = j;
    }
}

/// What to do with payload bytes once the handshake is over.
#[derive(Debug)]
pub enum PayloadCipher {
    /// Nothing: plaintext was negotiated (or the peer spoke plain BitTorrent).
    Plain,
    /// RC4 streams continuing from the handshake.
    Rc4 {
        /// Applied to everything we send.
        outgoing: Rc4Stream,
        /// Applied to everything we receive.
        incoming: Rc4Stream,
    },
}

impl PayloadCipher {
    /// Encrypts outgoing bytes in place.
    pub fn encrypt(&mut self, data: &mut [u8]) {
        if let PayloadCipher::Rc4 { outgoing, .. } = self {
            outgoing.apply(data);
        }
    }

    /// Decrypts incoming bytes in place.
    pub fn decrypt(&mut self, data: &mut [u8]) {
        if let PayloadCipher::Rc4 { incoming, .. } = self {
            incoming.apply(data);
        }
    }
}

/// A finished handshake.
#[derive(Debug)]
pub struct Established {
    /// Negotiated method.
    pub method: CryptoMethod,
    /// Cipher for the rest of the connection.
    pub cipher: PayloadCipher,
    /// Torrent the connection is for (the receiver learns it from the
    /// handshake).
    pub info_hash: [u8; 20],
    /// Receiver only: the initiator's initial payload (IA), decrypted —
    /// normally its BitTorrent handshake.
    pub initial_payload: Vec<u8>,
    /// Bytes that followed the handshake in what was fed, already decrypted.
    pub remaining: Vec<u8>,
    /// Receiver only: the peer skipped MSE and sent a plain BitTorrent
    /// handshake; `remaining` holds it from its first byte.
    pub legacy_plaintext: bool,
}

/// Result of feeding bytes to a handshake state machine.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes to send to the peer now.
    pub output: Vec<u8>,
    /// Set once the handshake is complete; feed nothing more after that.
    pub established: Option<Box<Established>>,
}

struct DhKey {
    private: BigUint,
    public: [u8; KEY_LEN],
}

fn to_key_bytes(n: &BigUint) -> [u8; KEY_LEN] {
    let bytes = n.to_bytes_be();
    let mut out = [0u8; KEY_LEN];
    // n < P < 2^768, so it always fits.
    let start = KEY_LEN.saturating_sub(bytes.len());
    out[start..].copy_from_slice(&bytes[bytes.len().saturating_sub(KEY_LEN)..]);
    out
}

impl DhKey {
    fn generate(rng: &mut (impl RngCore + ?Sized)) -> Self {
        // 160-bit private exponent, as the spec recommends.
        let mut x = [0u8; 20];
        rng.fill_bytes(&mut x);
        let private = BigUint::from_bytes_be(&x);
        let public = BigUint::from(2u8).modpow(&private, &BigUint::from_bytes_be(&PRIME));
        DhKey {
            private,
            public: to_key_bytes(&public),
        }
    }

    fn shared(&self, other: &[u8]) -> Result<[u8; KEY_LEN]> {
        let p = BigUint::from_bytes_be(&PRIME);
        let y = BigUint::from_bytes_be(other);
        // Y outside [2, P-2] forces S into a tiny subgroup (0, 1 or ±1),
        // which would make the "encryption" a known constant.
        if y < BigUint::from(2u8) || y > &p - 2u8 {
            return Err(Error::Mse("peer's public key is degenerate"));
        }
        Ok(to_key_bytes(&y.modpow(&self.private, &p)))
    }
}

fn padding(rng: &mut (impl RngCore + ?Sized), out: &mut Vec<u8>) {
    let len = rng.gen_range(0..=MAX_PAD);
    let start = out.len();
    out.resize(start + len, 0);
    rng.fill_bytes(&mut out[start..]);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn take(buf: &mut Vec<u8>, n: usize) -> Option<Vec<u8>> {
    if buf.len() < n {
        return None;
    }
    let rest = buf.split_off(n);
    Some(std::mem::replace(buf, rest))
}

enum InitState {
    WaitYb,
    WaitVc,
    WaitSelect,
    WaitPadD { len: usize, method: CryptoMethod },
    Done,
}

/// What the two sides share for [`feed_side`]: an input buffer, a step
/// function, and a way to stop for good after an error.
trait Side {
    fn input(&mut self) -> &mut Vec<u8>;
    fn step(&mut self, progress: &mut Progress) -> Result<()>;
    /// A broken handshake stays broken: later bytes are not parsed.
    fn give_up(&mut self);
}

fn feed_side(side: &mut impl Side, input: &[u8]) -> Result<Progress> {
    side.input().extend_from_slice(input);
    let mut progress = Progress::default();
    let result = side.step(&mut progress);
    if result.is_err() {
        side.give_up();
        side.input().clear();
    }
    result.map(|_| progress)
}

impl Side for Initiator {
    fn input(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
    fn step(&mut self, progress: &mut Progress) -> Result<()> {
        self.advance(progress)
    }
    fn give_up(&mut self) {
        self.state = InitState::Done;
    }
}

impl Side for Receiver {
    fn input(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
    fn step(&mut self, progress: &mut Progress) -> Result<()> {
        self.advance(progress)
    }
    fn give_up(&mut self) {
        self.state = RecvState::Done;
    }
}

/// The connecting side (A).
pub struct Initiator {
    key: DhKey,
    info_hash: [u8; 20],
    provide: CryptoMethods,
    initial_payload: Vec<u8>,
    buf: Vec<u8>,
    state: InitState,
    encrypt: Option<Rc4Stream>,
    decrypt: Option<Rc4Stream>,
    sync: [u8; 8],
}

impl Initiator {
    /// Starts a handshake for `info_hash`. Returns the state machine and
    /// the first bytes to send (Ya and PadA). `initial_payload` (IA) goes
    /// out RC4-encrypted in step 3 — usually empty, with the BitTorrent
    /// handshake sent after establishment under the negotiated method, as
    /// aria2 does.
    pub fn new(
        info_hash: [u8; 20],
        level: CryptoLevel,
        initial_payload: Vec<u8>,
        rng: &mut (impl RngCore + ?Sized),
    ) -> Result<(Self, Vec<u8>)> {
        if initial_payload.len() > usize::from(u16::MAX) {
            return Err(Error::Mse("initial payload longer than 65535 bytes"));
        }
        let key = DhKey::generate(rng);
        let mut out = key.public.to_vec();
        padding(rng, &mut out);
        Ok((
            Initiator {
                key,
                info_hash,
                provide: level.provide(),
                initial_payload,
                buf: Vec::new(),
                state: InitState::WaitYb,
                encrypt: None,
                decrypt: None,
                sync: [0; 8],
            },
            out,
        ))
    }

    /// Feeds bytes received from B.
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress> {
        feed_side(self, input)
    }

    fn advance(&mut self, progress: &mut Progress) -> Result<()> {
        loop {
            match self.state {
                InitState::WaitYb => {
                    let Some(yb) = take(&mut self.buf, KEY_LEN) else {
                        return Ok(());
                    };
                    let s = self.key.shared(&yb)?;
                    let skey = self.info_hash;
                    let out = &mut progress.output;
                    out.extend_from_slice(&sha1(&[b"req1", &s]));
                    let req2 = sha1(&[b"req2", &skey]);
                    let req3 = sha1(&[b"req3", &s]);
                    out.extend(req2.iter().zip(req3).map(|(a, b)| a ^ b));
                    let mut enc = Rc4Stream::new(sha1(&[b"keyA", &s, &skey]));
                    let start = out.len();
                    out.extend_from_slice(&VC);
                    out.extend_from_slice(&self.provide.0.to_be_bytes());
                    out.extend_from_slice(&0u16.to_be_bytes()); // len(PadC)
                    out.extend_from_slice(&(self.initial_payload.len() as u16).to_be_bytes());
                    out.extend_from_slice(&self.initial_payload);
                    enc.apply(&mut out[start..]);
                    let mut dec = Rc4Stream::new(sha1(&[b"keyB", &s, &skey]));
                    let mut sync = VC;
                    dec.apply(&mut sync);
                    self.sync = sync;
                    self.encrypt = Some(enc);
                    self.decrypt = Some(dec);
                    self.state = InitState::WaitVc;
                }
                InitState::WaitVc => {
                    let window = &self.buf[..self.buf.len().min(MAX_PAD + VC.len())];
                    match find(window, &self.sync) {
                        Some(pos) => {
                            self.buf.drain(..pos + VC.len());
                            self.state = InitState::WaitSelect;
                        }
                        None if self.buf.len() >= MAX_PAD + VC.len() => {
                            return Err(Error::Mse("no verification constant from the receiver"));
                        }
                        None => return Ok(()),
                    }
                }
                InitState::WaitSelect => {
                    let Some(mut head) = take(&mut self.buf, 6) else {
                        return Ok(());
                    };
                    self.decrypt_handshake(&mut head);
                    let select = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
                    let method = match select {
                        1 if self.provide.has(CryptoMethods::PLAIN) => CryptoMethod::Plain,
                        2 if self.provide.has(CryptoMethods::RC4) => CryptoMethod::Rc4,
                        _ => return Err(Error::Mse("receiver selected a method we did not offer")),
                    };
                    let len = usize::from(u16::from_be_bytes([head[4], head[5]]));
                    if len > MAX_PAD {
                        return Err(Error::Mse("PadD longer than 512 bytes"));
                    }
                    self.state = InitState::WaitPadD { len, method };
                }
                InitState::WaitPadD { len, method } => {
                    let Some(mut pad) = take(&mut self.buf, len) else {
                        return Ok(());
                    };
                    self.decrypt_handshake(&mut pad);
                    self.state = InitState::Done;
                    let (Some(outgoing), Some(incoming)) =
                        (self.encrypt.take(), self.decrypt.take())
                    else {
                        return Err(Error::Mse("internal state lost"));
                    };
                    let cipher = match method {
                        CryptoMethod::Plain => PayloadCipher::Plain,
                        CryptoMethod::Rc4 => PayloadCipher::Rc4 { outgoing, incoming },
                    };
                    let mut established = Established {
                        method,
                        cipher,
                        info_hash: self.info_hash,
                        initial_payload: Vec::new(),
                        remaining: std::mem::take(&mut self.buf),
                        legacy_plaintext: false,
                    };
                    established.cipher.decrypt(&mut established.remaining);
                    progress.established = Some(Box::new(established));
                    return Ok(());
                }
                InitState::Done => return Err(Error::Mse("handshake already finished")),
            }
        }
    }

    fn decrypt_handshake(&mut self, data: &mut [u8]) {
        if let Some(d) = &mut self.decrypt {
            d.apply(data);
        }
    }
}

enum RecvState {
    WaitYa,
    WaitReq1,
    WaitReq2,
    WaitProvide,
    WaitPadC { len: usize },
    WaitIa { len: usize },
    Done,
}

/// The accepting side (B).
pub struct Receiver {
    key: DhKey,
    /// The torrents served, each with its own `--bt-min-crypto-level`.
    torrents: Vec<([u8; 20], CryptoLevel)>,
    /// The level of the torrent the initiator asked for, once known.
    level: CryptoLevel,
    allow_legacy: bool,
    buf: Vec<u8>,
    state: RecvState,
    s: [u8; KEY_LEN],
    req1: [u8; 20],
    info_hash: [u8; 20],
    provide: CryptoMethods,
    encrypt: Option<Rc4Stream>,
    decrypt: Option<Rc4Stream>,
    pad_b: Vec<u8>,
}

impl Receiver {
    /// Prepares to accept a connection for any of `info_hashes` (the
    /// torrents we serve; the initiator proves which one it wants without
    /// naming it in clear). `allow_legacy` lets a peer that opens with a
    /// plain BitTorrent handshake through (`--bt-require-crypto=false`);
    /// without it such a peer is refused as soon as its first 20 bytes
    /// arrive.
    pub fn new(
        info_hashes: Vec<[u8; 20]>,
        level: CryptoLevel,
        allow_legacy: bool,
        rng: &mut (impl RngCore + ?Sized),
    ) -> Self {
        let torrents = info_hashes.into_iter().map(|h| (h, level)).collect();
        Receiver::for_torrents(torrents, allow_legacy, rng)
    }

    /// Like [`Receiver::new`] for a listener shared by torrents with
    /// different `--bt-min-crypto-level`s: the method is chosen with the
    /// level of the torrent the initiator proves it wants (HASH('req2',
    /// SKEY)), which is only known midway through the handshake.
    pub fn for_torrents(
        torrents: Vec<([u8; 20], CryptoLevel)>,
        allow_legacy: bool,
        rng: &mut (impl RngCore + ?Sized),
    ) -> Self {
        let level = CryptoLevel::Plain;
        let key = DhKey::generate(rng);
        let mut pad_b = Vec::new();
        padding(rng, &mut pad_b);
        Receiver {
            key,
            torrents,
            level,
            allow_legacy,
            buf: Vec::new(),
            state: RecvState::WaitYa,
            s: [0; KEY_LEN],
            req1: [0; 20],
            info_hash: [0; 20],
            provide: CryptoMethods(0),
            encrypt: None,
            decrypt: None,
            pad_b,
        }
    }

    /// Feeds bytes received from A.
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress> {
        feed_side(self, input)
    }

    fn advance(&mut self, progress: &mut Progress) -> Result<()> {
        loop {
            match self.state {
                RecvState::WaitYa => {
                    let n = self.buf.len().min(LEGACY_PREFIX.len());
                    if n > 0 && self.buf[..n] == LEGACY_PREFIX[..n] {
                        if n < LEGACY_PREFIX.len() {
                            return Ok(());
                        }
                        // A Ya starting with these 20 bytes has odds of
                        // 2^-160; refusing now beats waiting for 96 bytes
                        // that a plain peer will never send.
                        if !self.allow_legacy {
                            return Err(Error::Mse(
                                "plain BitTorrent handshake refused: encryption is required",
                            ));
                        }
                        self.state = RecvState::Done;
                        progress.established = Some(Box::new(Established {
                            method: CryptoMethod::Plain,
                            cipher: PayloadCipher::Plain,
                            info_hash: [0; 20],
                            initial_payload: Vec::new(),
                            remaining: std::mem::take(&mut self.buf),
                            legacy_plaintext: true,
                        }));
                        return Ok(());
                    }
                    let Some(ya) = take(&mut self.buf, KEY_LEN) else {
                        return Ok(());
                    };
                    self.s = self.key.shared(&ya)?;
                    self.req1 = sha1(&[b"req1", &self.s]);
                    progress.output.extend_from_slice(&self.key.public);
                    progress.output.append(&mut self.pad_b);
                    self.state = RecvState::WaitReq1;
                }
                RecvState::WaitReq1 => {
                    let window = &self.buf[..self.buf.len().min(MAX_PAD + 20)];
                    match find(window, &self.req1) {
                        Some(pos) => {
                            self.buf.drain(..pos + 20);
                            self.state = RecvState::WaitReq2;
                        }
                        None if self.buf.len() >= MAX_PAD + 20 => {
                            return Err(Error::Mse("no synchronisation hash from the initiator"));
                        }
                        None => return Ok(()),
                    }
                }
                RecvState::WaitReq2 => {
                    let Some(x) = take(&mut self.buf, 20) else {
                        return Ok(());
                    };
                    let req3 = sha1(&[b"req3", &self.s]);
                    let wanted: Vec<u8> = x.iter().zip(req3).map(|(a, b)| a ^ b).collect();
                    let (skey, level) = self
                        .torrents
                        .iter()
                        .find(|(ih, _)| sha1(&[b"req2", &ih[..]])[..] == wanted[..])
                        .copied()
                        .ok_or(Error::Mse("initiator asked for a torrent we do not serve"))?;
                    self.info_hash = skey;
                    self.level = level;
                    self.decrypt = Some(Rc4Stream::new(sha1(&[b"keyA", &self.s, &skey])));
                    self.encrypt = Some(Rc4Stream::new(sha1(&[b"keyB", &self.s, &skey])));
                    self.state = RecvState::WaitProvide;
                }
                RecvState::WaitProvide => {
                    let Some(mut head) = take(&mut self.buf, 14) else {
                        return Ok(());
                    };
                    self.decrypt_handshake(&mut head);
                    if head[..8] != VC {
                        return Err(Error::Mse("bad verification constant"));
                    }
                    self.provide =
                        CryptoMethods(u32::from_be_bytes([head[8], head[9], head[10], head[11]]));
                    let len = usize::from(u16::from_be_bytes([head[12], head[13]]));
                    if len > MAX_PAD {
                        return Err(Error::Mse("PadC longer than 512 bytes"));
                    }
                    self.state = RecvState::WaitPadC { len };
                }
                RecvState::WaitPadC { len } => {
                    let Some(mut pad) = take(&mut self.buf, len + 2) else {
                        return Ok(());
                    };
                    self.decrypt_handshake(&mut pad);
                    let ia_len = usize::from(u16::from_be_bytes([pad[len], pad[len + 1]]));
                    self.state = RecvState::WaitIa { len: ia_len };
                }
                RecvState::WaitIa { len } => {
                    let Some(mut ia) = take(&mut self.buf, len) else {
                        return Ok(());
                    };
                    self.decrypt_handshake(&mut ia);
                    let method = self.select()?;
                    let select = match method {
                        CryptoMethod::Plain => CryptoMethods::PLAIN,
                        CryptoMethod::Rc4 => CryptoMethods::RC4,
                    };
                    let (Some(mut outgoing), Some(incoming)) =
                        (self.encrypt.take(), self.decrypt.take())
                    else {
                        return Err(Error::Mse("internal state lost"));
                    };
                    let start = progress.output.len();
                    progress.output.extend_from_slice(&VC);
                    progress.output.extend_from_slice(&select.0.to_be_bytes());
                    progress.output.extend_from_slice(&0u16.to_be_bytes()); // len(PadD)
                    outgoing.apply(&mut progress.output[start..]);
                    self.state = RecvState::Done;
                    let cipher = match method {
                        CryptoMethod::Plain => PayloadCipher::Plain,
                        CryptoMethod::Rc4 => PayloadCipher::Rc4 { outgoing, incoming },
                    };
                    let mut established = Established {
                        method,
                        cipher,
                        info_hash: self.info_hash,
                        initial_payload: ia,
                        remaining: std::mem::take(&mut self.buf),
                        legacy_plaintext: false,
                    };
                    established.cipher.decrypt(&mut established.remaining);
                    progress.established = Some(Box::new(established));
                    return Ok(());
                }
                RecvState::Done => return Err(Error::Mse("handshake already finished")),
            }
        }
    }

    /// aria2's choice: plaintext when both allow it (cheapest), else RC4.
    fn select(&self) -> Result<CryptoMethod> {
        if self.level == CryptoLevel::Plain && self.provide.has(CryptoMethods::PLAIN) {
            Ok(CryptoMethod::Plain)
        } else if self.provide.has(CryptoMethods::RC4) {
            Ok(CryptoMethod::Rc4)
        } else {
            Err(Error::Mse("no crypto method in common"))
        }
    }

    fn decrypt_handshake(&mut self, data: &mut [u8]) {
        if let Some(d) = &mut self.decrypt {
            d.apply(data);
        }
    }
}

#[cfg(test)]
mod tests;
