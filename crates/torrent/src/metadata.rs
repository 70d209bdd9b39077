//! Magnet links: fetching the info dictionary from peers with the BEP 10
//! extension protocol and BEP 9 `ut_metadata`, checked against the
//! magnet's info-hash before anything trusts it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arietta_bencode::OwnedValue;
use arietta_bt::peer_wire::{Handshake, Message, MessageDecoder};
use arietta_metainfo::{AnnounceEvent, Magnet};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use sha1::{Digest, Sha1};
use tracing::Instrument;

use crate::tracker::{announce_tiers, with_timeout, AnnounceParams};
use crate::{TorrentConfig, TorrentError};

/// Our `ut_metadata` id in the extension handshake.
const OUR_UT_METADATA: u8 = 1;
/// The block size BEP 9 fixes.
const METADATA_BLOCK: usize = 16 * 1024;
/// Refuse larger info dictionaries (a 100k-piece torrent's is ~2 MiB).
const MAX_METADATA: usize = 16 << 20;
const PEER_TIMEOUT: Duration = Duration::from_secs(15);
/// Numbers the metadata connections' log lines (a torrent's data
/// connections are numbered by its actor).
static METADATA_CUIDS: AtomicU64 = AtomicU64::new(1);

/// Fetches and verifies the info dictionary a magnet link names. Tries the
/// magnet's `x.pe` peers and the peers its trackers (and `--bt-tracker`)
/// return (and the DHT's, when on), re-announcing every few seconds until
/// one serves it or `stop` is raised. `--bt-stop-timeout` bounds the wait
/// as it bounds a download without data (aria2 runs its stop timer from
/// the metadata phase on).
pub async fn fetch_metadata(
    magnet: &Magnet,
    cfg: &TorrentConfig,
    peer_id: [u8; 20],
    stop: &Arc<AtomicBool>,
    dht: Option<&crate::DhtLink>,
) -> Result<Vec<u8>, TorrentError> {
    let rounds = fetch_rounds(magnet, cfg, peer_id, stop, dht);
    let Some(t) = cfg.stop_timeout else {
        return rounds.await;
    };
    match with_timeout(t, rounds).await {
        Some(r) => r,
        None => {
            tracing::warn!("No data for {}s: stopping (--bt-stop-timeout)", t.as_secs());
            Err(TorrentError::Stalled {
                secs: t.as_secs(),
                last_peer_error: String::new(),
            })
        }
    }
}

async fn fetch_rounds(
    magnet: &Magnet,
    cfg: &TorrentConfig,
    peer_id: [u8; 20],
    stop: &Arc<AtomicBool>,
    dht: Option<&crate::DhtLink>,
) -> Result<Vec<u8>, TorrentError> {
    let info_hash = magnet.info_hash_v1.ok_or(TorrentError::V2Only)?;
    let mut tiers: Vec<Vec<String>> = magnet
        .trackers
        .iter()
        .filter(|t| !cfg.exclude_trackers.iter().any(|x| x == "*" || x == *t))
        .map(|t| vec![t.clone()])
        .collect();
    if !cfg.extra_trackers.is_empty() {
        tiers.push(cfg.extra_trackers.clone());
    }
    let mut tried: Vec<SocketAddr> = Vec::new();
    let mut last_error = String::from("no peer served the metadata");
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(TorrentError::Stopped);
        }
        let mut peers: Vec<SocketAddr> =
            magnet.peers.iter().filter_map(|p| p.parse().ok()).collect();
        if !tiers.is_empty() {
            let p = AnnounceParams {
                info_hash,
                peer_id,
                // The shared listener's port once a torrent has bound it.
                port: crate::listener::Registry::global()
                    .port()
                    .or(cfg.listen_ports.first().copied())
                    .unwrap_or(6881),
                uploaded: 0,
                downloaded: 0,
                left: 1,
                event: Some(AnnounceEvent::Started),
                key: rand::random(),
                ip: cfg.external_ip.clone(),
                connect_timeout: cfg.tracker_connect_timeout,
                timeout: cfg.tracker_timeout,
                http: cfg.http.clone(),
                udp_proxy: cfg.peer_proxy.clone(),
            };
            if let Ok(r) = announce_tiers(&mut tiers, &p).await {
                peers.extend(r.peers);
            }
        }
        if let Some(dht) = dht {
            peers.extend(dht.get_peers(info_hash).await);
        }
        for addr in peers {
            if tried.contains(&addr) {
                continue;
            }
            tried.push(addr);
            // aria2's `CUID#n - ` prefix on the connection's lines.
            let span = tracing::info_span!(
                parent: None,
                "peer",
                cuid = METADATA_CUIDS.fetch_add(1, Ordering::Relaxed)
            );
            let fetch = from_peer(addr, info_hash, peer_id, cfg).instrument(span);
            match with_timeout(PEER_TIMEOUT, fetch).await {
                Some(Ok(info)) => return Ok(info),
                Some(Err(e)) => last_error = format!("{addr}: {e}"),
                None => last_error = format!("{addr}: timed out"),
            }
        }
        // Peers that failed get another chance on the next round. With
        // no source at all it waits too, as aria2 does (a peer may still
        // come, and RPC may remove it), watching `stop` meanwhile.
        tried.clear();
        tracing::debug!("No metadata yet: {last_error}");
        for _ in 0..20 {
            if stop.load(Ordering::Relaxed) {
                return Err(TorrentError::Stopped);
            }
            glommio::timer::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Extended message `id` carrying `dict`, logged as sent to `addr`
/// (`extension`: what `id` stands for at the peer).
fn ext_message(addr: SocketAddr, id: u8, dict: &OwnedValue, extension: Option<&str>) -> Vec<u8> {
    let m = Message::Extended {
        id,
        payload: arietta_bencode::encode(dict).into(),
    };
    tracing::info!("To: {addr} {}", arietta_bt::WireText(&m, extension));
    m.to_vec()
}

async fn from_peer(
    addr: SocketAddr,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    cfg: &TorrentConfig,
) -> Result<Vec<u8>, String> {
    let agent: &str = &cfg.peer_agent;
    let ours = Handshake::new(info_hash, peer_id, false);
    let hs = ours.encode();
    tracing::info!("Connecting to the peer {}", addr.ip());
    // As for data connections: MSE first, plain only when allowed, through
    // the SOCKS5 proxy when there is one.
    let mut s = arietta_bt_net::dial(
        addr,
        info_hash,
        &hs,
        &cfg.crypto,
        Duration::from_secs(10),
        cfg.peer_proxy.as_deref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!("To: {addr} {ours}");
    let hello = OwnedValue::dict()
        .insert(
            b"m".to_vec(),
            OwnedValue::dict().insert(b"ut_metadata".to_vec(), i64::from(OUR_UT_METADATA)),
        )
        .insert(b"v".to_vec(), agent);
    s.write_all(&ext_message(addr, 0, &hello, None))
        .await
        .map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())?;
    // Bitfields of huge torrents may pass by before the extension handshake.
    let mut dec = MessageDecoder::new(MAX_METADATA as u32);
    let mut buf = vec![0u8; 64 * 1024];
    let mut handshaken = false;
    let mut their_id = None;
    let mut data: Vec<u8> = Vec::new();
    let mut got: Vec<bool> = Vec::new();
    loop {
        if !handshaken {
            if let Some(hs) = dec.next_handshake() {
                let hs = hs.map_err(|e| e.to_string())?;
                if hs.info_hash != info_hash {
                    return Err("handshake for another torrent".into());
                }
                tracing::info!("From: {addr} {hs}");
                if !hs.supports_extension_protocol() {
                    return Err("the peer does not speak the extension protocol".into());
                }
                handshaken = true;
                continue;
            }
        } else {
            while let Some(m) = dec.next() {
                let m = m.map_err(|e| e.to_string())?;
                // Extended messages come with the id we announced.
                let ext = matches!(m, Message::Extended { id, .. } if id == OUR_UT_METADATA)
                    .then_some("ut_metadata");
                tracing::info!("From: {addr} {}", arietta_bt::WireText(&m, ext));
                let Message::Extended { id, payload } = m else {
                    continue;
                };
                let (dict, rest) =
                    arietta_bencode::decode_prefix(&payload).map_err(|e| e.to_string())?;
                if id == 0 {
                    let ut = dict
                        .get("m")
                        .and_then(|m| m.get("ut_metadata"))
                        .and_then(|v| v.as_int())
                        .filter(|v| (1..=255).contains(v))
                        .ok_or("the peer does not serve ut_metadata")?;
                    let size = dict
                        .get("metadata_size")
                        .and_then(|v| v.as_int())
                        .filter(|&v| v > 0 && v as usize <= MAX_METADATA)
                        .ok_or("missing or absurd metadata_size")?
                        as usize;
                    their_id = Some(ut as u8);
                    data = vec![0; size];
                    got = vec![false; size.div_ceil(METADATA_BLOCK)];
                    let mut out = Vec::new();
                    for piece in 0..got.len() {
                        let req = OwnedValue::dict()
                            .insert(b"msg_type".to_vec(), 0i64)
                            .insert(b"piece".to_vec(), piece as i64);
                        out.extend(ext_message(addr, ut as u8, &req, Some("ut_metadata")));
                    }
                    s.write_all(&out).await.map_err(|e| e.to_string())?;
                    s.flush().await.map_err(|e| e.to_string())?;
                } else if id == OUR_UT_METADATA && their_id.is_some() {
                    match dict.get("msg_type").and_then(|v| v.as_int()) {
                        Some(1) => {}
                        Some(2) => return Err("the peer rejected the metadata request".into()),
                        _ => continue,
                    }
                    let piece =
                        dict.get("piece")
                            .and_then(|v| v.as_int())
                            .filter(|&p| p >= 0 && (p as usize) < got.len())
                            .ok_or("bad metadata piece index")? as usize;
                    let start = piece * METADATA_BLOCK;
                    let len = (data.len() - start).min(METADATA_BLOCK);
                    if rest.len() != len {
                        return Err("metadata piece of the wrong size".into());
                    }
                    data[start..start + len].copy_from_slice(rest);
                    got[piece] = true;
                    if got.iter().all(|g| *g) {
                        if Sha1::digest(&data).as_slice() != info_hash {
                            return Err("metadata does not match the info-hash".into());
                        }
                        return Ok(data);
                    }
                }
            }
        }
        let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the peer closed the connection".into());
        }
        dec.feed(&buf[..n]);
    }
}
