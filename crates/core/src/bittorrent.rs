//! The coordinator's side of BitTorrent: which requests are torrents, and
//! the hook through which a torrent's actor spreads peer tasks over cores.

use std::path::Path;
use std::sync::Arc;

use arietta_runtime::MailboxSender;
use arietta_torrent::{CoreSpawner, Job, TorrentSource, TorrentStats};

use crate::download::DownloadRequest;
use crate::messages::ToCore;

/// A torrent download's live handle, kept in the coordinator's entry.
pub struct TorrentRun {
    pub stats: Arc<TorrentStats>,
    pub info: Arc<crate::torrent_info::TorrentInfo>,
    /// "Download complete" was shown (seeding may go on).
    pub notified: bool,
    /// Raised before the stop flag for a stop without the trackers'
    /// `stopped` announce (aria2's force halt).
    pub force_stop: Arc<std::sync::atomic::AtomicBool>,
    /// Where `changeOption` sends what applies in place (`None` while a
    /// magnet's metadata is fetched).
    pub live: Option<arietta_torrent::LiveLink>,
}

/// What makes a request a torrent, as in aria2: `-T FILE`, a `magnet:`
/// URI, or a positional argument naming a local `.torrent` file. The
/// request's other `http(s)://`/`ftp://` URIs are the torrent's web seeds
/// (aria2 feeds them to the same torrent, as does `aria2.addTorrent`'s
/// `uris`).
pub fn source_of(req: &DownloadRequest) -> Option<(TorrentSource, Vec<String>)> {
    source_of_with(req, &looks_like_torrent)
}

/// What the coordinator can tell of a request without touching the disk.
pub enum Classified {
    Torrent(TorrentSource, Vec<String>),
    /// HTTP/FTP/SFTP mirrors of one file.
    Segmented,
    /// A local path must be read to tell (run [`source_of`] off the
    /// executor).
    NeedsSniff,
}

/// [`source_of`] without disk access.
pub fn classify(req: &DownloadRequest) -> Classified {
    let asked = std::cell::Cell::new(false);
    let found = source_of_with(req, &|_| {
        asked.set(true);
        false
    });
    match found {
        Some((src, seeds)) => Classified::Torrent(src, seeds),
        None if asked.get() => Classified::NeedsSniff,
        None => Classified::Segmented,
    }
}

fn source_of_with(
    req: &DownloadRequest,
    looks_like_torrent: &dyn Fn(&str) -> bool,
) -> Option<(TorrentSource, Vec<String>)> {
    let seeds = |skip: Option<&String>| -> Vec<String> {
        req.uris
            .iter()
            .filter(|u| Some(*u) != skip)
            .filter(|u| {
                ["http://", "https://", "ftp://"]
                    .iter()
                    .any(|p| u.starts_with(p))
            })
            .cloned()
            .collect()
    };
    if let Some(t) = &req.torrent {
        return Some((TorrentSource::Bytes(t.to_vec()), seeds(None)));
    }
    if let Some(t) = req.metalink.as_ref().and_then(|m| m.torrent.as_ref()) {
        let src = if t.starts_with("magnet:") {
            TorrentSource::Magnet(t.clone())
        } else if t.contains("://") {
            TorrentSource::Url(t.clone())
        } else {
            TorrentSource::File(t.into())
        };
        return Some((src, Vec::new()));
    }
    if let Some(t) = req
        .options
        .get_opt_str("torrent-file")
        .filter(|s| !s.is_empty())
    {
        return Some((TorrentSource::File(t.into()), seeds(None)));
    }
    if let [uri] = req.uris.as_slice() {
        if uri.starts_with("magnet:") {
            return Some((TorrentSource::Magnet(uri.clone()), Vec::new()));
        }
    }
    let mut local = req
        .uris
        .iter()
        .filter(|u| !u.contains("://") && !u.starts_with("magnet:") && looks_like_torrent(u));
    let torrent = local.next()?;
    if local.next().is_some() || seeds(Some(torrent)).len() + 1 != req.uris.len() {
        return None;
    }
    Some((TorrentSource::File(torrent.into()), seeds(Some(torrent))))
}

/// A local file taken as a torrent: named `.torrent`, or bencoded (a
/// torrent is a dictionary, so its first byte is `d`), as aria2 sniffs it.
pub fn looks_like_torrent(path: &str) -> bool {
    use std::io::Read;
    let p = Path::new(path);
    if !p.is_file() {
        return false;
    }
    if p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("torrent"))
    {
        return true;
    }
    let mut first = [0u8; 1];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut first))
        .is_ok_and(|()| first[0] == b'd')
}

/// Whether an HTTP response is a torrent to follow (`--follow-torrent`):
/// aria2's media type `application/x-bittorrent` or a `.torrent` name.
pub fn looks_like_torrent_response(path: &str, content_type: Option<&str>) -> bool {
    let ct = content_type
        .and_then(|t| t.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    ct.eq_ignore_ascii_case("application/x-bittorrent")
        || path.to_ascii_lowercase().ends_with(".torrent")
}

/// A `.torrent` made of metadata fetched from peers (BEP 9: the info
/// dictionary as they sent it) and the trackers known, so a download
/// resumed later need not ask the swarm again.
pub fn torrent_from_metadata(meta: &arietta_metainfo::Metainfo) -> Vec<u8> {
    let mut out = b"d".to_vec();
    let string = |out: &mut Vec<u8>, s: &[u8]| {
        out.extend_from_slice(format!("{}:", s.len()).as_bytes());
        out.extend_from_slice(s);
    };
    let tiers: Vec<&Vec<String>> = meta
        .announce_list
        .iter()
        .filter(|t| !t.is_empty())
        .collect();
    if !tiers.is_empty() {
        string(&mut out, b"announce-list");
        out.push(b'l');
        for tier in tiers {
            out.push(b'l');
            for url in tier {
                string(&mut out, url.as_bytes());
            }
            out.push(b'e');
        }
        out.push(b'e');
    }
    string(&mut out, b"info");
    out.extend_from_slice(&meta.info_bytes);
    out.push(b'e');
    out
}

/// Spawns torrent peer tasks (and piece hashing) on the engine's cores
/// through their mailboxes, for an actor running on core `home`.
pub struct CoreMailboxes {
    pub cores: Vec<MailboxSender<ToCore>>,
    pub home: usize,
}

impl CoreSpawner for CoreMailboxes {
    fn core_count(&self) -> usize {
        self.cores.len()
    }

    fn spawn_on(&self, core: usize, job: Job) {
        if let Some(tx) = self.cores.get(core % self.cores.len().max(1)) {
            let _ = tx.send(ToCore::Run(job));
        }
    }

    fn home_core(&self) -> usize {
        self.home
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_becomes_a_torrent_with_the_same_info_hash() {
        let info = b"d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
        let mut t = b"d8:announce14:http://t/annou4:info".to_vec();
        t.extend_from_slice(info);
        t.push(b'e');
        let meta = arietta_metainfo::Metainfo::parse(&t).unwrap();
        let again = arietta_metainfo::Metainfo::parse(&torrent_from_metadata(&meta)).unwrap();
        assert_eq!(again.info_hash_v1, meta.info_hash_v1);
        assert_eq!(again.announce_list, meta.announce_list);
    }
}
