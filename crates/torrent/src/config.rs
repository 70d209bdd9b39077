//! The options a torrent download runs with, read once from the option set.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arietta_bt::mse::CryptoLevel;
use arietta_bt::piece_order::PieceOrder;
use arietta_bt_net::CryptoPolicy;
use arietta_http_client::{socks5_proxy, ClientConfig, HttpClient};
use arietta_net::Socks5Proxy;
use arietta_options::OptionSet;

use crate::TorrentError;

/// The settings RPC's `changeOption` changes in a running torrent without
/// restarting it (aria2's `setChangeOption` options).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveOptions {
    /// `--bt-max-peers` (0: no limit).
    pub max_peers: usize,
    /// `--max-upload-limit` (0: none).
    pub max_upload_limit: u64,
    /// `--max-download-limit` (0: none).
    pub max_download_limit: u64,
    /// `--bt-request-peer-speed-limit`.
    pub request_peer_speed_limit: u64,
    /// `--bt-remove-unselected-file`.
    pub remove_unselected_file: bool,
}

impl LiveOptions {
    pub fn from_options(o: &OptionSet) -> LiveOptions {
        LiveOptions {
            max_peers: o.get_u64("bt-max-peers") as usize,
            max_upload_limit: o.get_size("max-upload-limit"),
            max_download_limit: o.get_size("max-download-limit"),
            request_peer_speed_limit: o.get_size("bt-request-peer-speed-limit"),
            remove_unselected_file: o.get_bool("bt-remove-unselected-file"),
        }
    }
}

/// One torrent's settings, taken from aria2's options.
#[derive(Clone, Debug)]
pub struct TorrentConfig {
    /// `--dir`: files go under it (multi-file torrents in `dir/NAME/`).
    pub dir: PathBuf,
    /// `--listen-port`: candidate ports, tried in order until one binds.
    pub listen_ports: Vec<u16>,
    /// `--bt-max-peers` (0: unlimited).
    pub max_peers: usize,
    /// `--seed-ratio` (0: no ratio limit).
    pub seed_ratio: f64,
    /// `--seed-time` in minutes, when given.
    pub seed_time: Option<Duration>,
    /// `-V`: hash every piece of existing data before starting.
    pub check_integrity: bool,
    /// `--bt-seed-unverified`: trust complete existing files without hashing.
    pub seed_unverified: bool,
    /// `--bt-hash-check-seed` (default true): after `-V` finds the files
    /// complete, go on seeding; false ends the download there.
    pub hash_check_seed: bool,
    /// `--hash-check-only`: `-V` checks the files and the download ends
    /// there, complete (OK) or not (an error, its record saved).
    pub hash_check_only: bool,
    /// `--select-file` as given.
    pub select_file: Option<String>,
    /// `--index-out` pairs (1-based index, path relative to `dir`).
    pub index_out: Vec<(usize, PathBuf)>,
    /// `--max-upload-limit`, bytes/s (0: none).
    pub max_upload_limit: u64,
    /// `--max-download-limit`, bytes/s (0: none).
    pub max_download_limit: u64,
    /// `--bt-tracker`: extra announce URIs, a tier of their own.
    pub extra_trackers: Vec<String>,
    /// `--bt-exclude-tracker` (`*` removes every tracker of the torrent).
    pub exclude_trackers: Vec<String>,
    /// `--peer-id-prefix`: the start of our 20-byte peer id.
    pub peer_id_prefix: String,
    /// `--peer-agent`: our client name in the extension handshake (`v`).
    pub peer_agent: Arc<str>,
    /// `--stream-piece-selector`: the order new pieces are started in
    /// (`inorder`, whatever was asked, with `-o -`).
    pub piece_order: PieceOrder,
    /// `-o -`: verified pieces also go to stdout, in order.
    pub to_stdout: bool,
    /// `--bt-prioritize-piece`: bytes at each file's head and tail whose
    /// pieces go first (0: none).
    pub prioritize_head: u64,
    pub prioritize_tail: u64,
    /// `--bt-tracker-interval` (0: the tracker's interval).
    pub tracker_interval: Option<Duration>,
    /// `--bt-tracker-timeout`.
    pub tracker_timeout: Duration,
    /// `--bt-tracker-connect-timeout`.
    pub tracker_connect_timeout: Duration,
    /// `--bt-stop-timeout`: give up when no byte arrives for this long (0: never).
    pub stop_timeout: Option<Duration>,
    /// `--bt-external-ip`.
    pub external_ip: Option<String>,
    /// `--bt-save-metadata`: keep a magnet's metadata as `dir/HASH.torrent`.
    pub save_metadata: bool,
    /// `--bt-metadata-only`: stop once a magnet's metadata is fetched.
    pub metadata_only: bool,
    /// `--bt-load-saved-metadata`: a magnet first looks for the
    /// `dir/HASH.torrent` `--bt-save-metadata` writes.
    pub load_saved_metadata: bool,
    /// `--bt-remove-unselected-file`: delete the files `--select-file`
    /// left out once the download is complete.
    pub remove_unselected_file: bool,
    /// `--force-save`: a complete torrent keeps its control file (aria2
    /// otherwise removes it at the next save once every piece is there).
    pub force_save: bool,
    /// `--bt-request-peer-speed-limit`, bytes/s: a leecher with enough
    /// peers dials more only while slower than this.
    pub request_peer_speed_limit: u64,
    /// `--bt-require-crypto`, `--bt-min-crypto-level`,
    /// `--bt-force-encryption` (= require + arc4): how handshakes go.
    pub crypto: CryptoPolicy,
    /// `--enable-peer-exchange` (BEP 11; never for private torrents).
    pub enable_pex: bool,
    /// `--bt-enable-lpd` (BEP 14; never for private torrents).
    pub enable_lpd: bool,
    /// `--enable-dht` (BEP 5; never for private torrents).
    pub enable_dht: bool,
    /// `--max-overall-upload-limit`, bytes/s over every torrent (0: none).
    pub max_overall_upload_limit: u64,
    /// `--bt-lpd-interface`.
    pub lpd_interface: LpdInterface,
    /// HTTP URIs given next to the torrent (command line, `aria2.addTorrent`
    /// `uris`): web seeds like the torrent's own `url-list`.
    pub web_seeds: Vec<String>,
    /// The download's HTTP client (`--user-agent`, `--header`, proxies,
    /// TLS options, timeouts): trackers, web seeds and a `.torrent` fetched
    /// by URL reach servers through it, like any HTTP download.
    pub http: HttpClient,
    /// `--bt-max-open-files`: file handles one torrent keeps open per core
    /// (aria2 counts them globally; per core keeps cores share-nothing).
    pub max_open_files: usize,
    /// A SOCKS5 `--all-proxy` (or `ALL_PROXY`): outgoing peer connections
    /// go through it, and UDP announces through its UDP relay. An HTTP
    /// proxy never carries peers, as in aria2.
    pub peer_proxy: Option<Arc<Socks5Proxy>>,
}

fn csv(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses aria2's port list syntax (`6881-6999`, `6881,6885`).
pub fn parse_ports(spec: &str) -> Result<Vec<u16>, TorrentError> {
    let bad = || TorrentError::BadOption(format!("bad --listen-port value '{spec}'"));
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            ),
            None => {
                let p: u16 = part.parse().map_err(|_| bad())?;
                (p, p)
            }
        };
        if lo > hi || lo == 0 {
            return Err(bad());
        }
        out.extend(lo..=hi);
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

fn secs(v: u64) -> Option<Duration> {
    (v > 0).then(|| Duration::from_secs(v))
}

impl TorrentConfig {
    /// Reads the BitTorrent options of one download.
    pub fn from_options(o: &OptionSet) -> Result<TorrentConfig, TorrentError> {
        let mut index_out = Vec::new();
        for v in o.get_list("index-out") {
            index_out.push(arietta_metainfo::parse_index_out(v)?);
        }
        let level = o.get_str("bt-min-crypto-level");
        let mut crypto = CryptoPolicy::from_options(o.get_bool("bt-require-crypto"), level)
            .ok_or_else(|| {
                TorrentError::BadOption(format!("bad --bt-min-crypto-level value '{level}'"))
            })?;
        if o.get_bool("bt-force-encryption") {
            crypto.require_crypto = true;
            crypto.min_level = CryptoLevel::Arc4;
        }
        let selector = o.get_str("stream-piece-selector");
        let piece_order = PieceOrder::from_option(selector).ok_or_else(|| {
            TorrentError::BadOption(format!("bad --stream-piece-selector value '{selector}'"))
        })?;
        let prio = o.get_str("bt-prioritize-piece");
        let (mut prioritize_head, mut prioritize_tail) = (0, 0);
        for p in arietta_options::parse_prioritize_piece(prio).ok_or_else(|| {
            TorrentError::BadOption(format!("bad --bt-prioritize-piece value '{prio}'"))
        })? {
            match p {
                arietta_options::PiecePriority::Head(n) => prioritize_head = n,
                arietta_options::PiecePriority::Tail(n) => prioritize_tail = n,
            }
        }
        let mut seed_time = o
            .get_opt_f64("seed-time")
            .map(|m| Duration::from_secs_f64((m * 60.0).max(0.0)));
        let http =
            ClientConfig::from_options(o).map_err(|e| TorrentError::BadOption(e.to_string()))?;
        let to_stdout = o.get_opt_str("out") == Some("-");
        let piece_order = if to_stdout {
            PieceOrder::InOrder
        } else {
            piece_order
        };
        if to_stdout && !o.is_set("seed-time") && !o.is_set("seed-ratio") {
            // A pipe's reader expects the command to end with the data:
            // no seeding unless asked for.
            seed_time = Some(Duration::ZERO);
        }
        Ok(TorrentConfig {
            dir: PathBuf::from(o.get_opt_str("dir").unwrap_or(".")),
            listen_ports: parse_ports(o.get_str("listen-port"))?,
            max_peers: o.get_u64("bt-max-peers") as usize,
            seed_ratio: o.get_opt_f64("seed-ratio").unwrap_or(1.0),
            seed_time,
            check_integrity: o.get_bool("check-integrity"),
            seed_unverified: o.get_bool("bt-seed-unverified"),
            hash_check_seed: o.get_bool("bt-hash-check-seed"),
            hash_check_only: o.get_bool("hash-check-only"),
            select_file: o
                .get_opt_str("select-file")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            index_out,
            max_upload_limit: o.get_size("max-upload-limit"),
            max_download_limit: o.get_size("max-download-limit"),
            extra_trackers: csv(o.get_str("bt-tracker")),
            exclude_trackers: csv(o.get_str("bt-exclude-tracker")),
            peer_id_prefix: o.get_str("peer-id-prefix").to_owned(),
            peer_agent: o.get_str("peer-agent").into(),
            piece_order,
            to_stdout,
            prioritize_head,
            prioritize_tail,
            tracker_interval: secs(o.get_u64("bt-tracker-interval")),
            tracker_timeout: secs(o.get_u64("bt-tracker-timeout"))
                .unwrap_or(Duration::from_secs(60)),
            tracker_connect_timeout: secs(o.get_u64("bt-tracker-connect-timeout"))
                .unwrap_or(Duration::from_secs(60)),
            stop_timeout: secs(o.get_u64("bt-stop-timeout")),
            external_ip: o
                .get_opt_str("bt-external-ip")
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            save_metadata: o.get_bool("bt-save-metadata"),
            metadata_only: o.get_bool("bt-metadata-only"),
            load_saved_metadata: o.get_bool("bt-load-saved-metadata"),
            remove_unselected_file: o.get_bool("bt-remove-unselected-file"),
            force_save: o.get_bool("force-save"),
            request_peer_speed_limit: o.get_size("bt-request-peer-speed-limit"),
            crypto,
            enable_pex: o.get_bool("enable-peer-exchange"),
            enable_lpd: o.get_bool("bt-enable-lpd"),
            enable_dht: o.get_bool("enable-dht"),
            max_overall_upload_limit: o.get_size("max-overall-upload-limit"),
            lpd_interface: LpdInterface::from_option(
                o.get_opt_str("bt-lpd-interface").unwrap_or_default(),
            ),
            web_seeds: Vec::new(),
            peer_proxy: http
                .proxies
                .all
                .as_ref()
                .filter(|p| p.is_socks())
                .map(|p| Arc::new(socks5_proxy(p))),
            http: HttpClient::new(http),
            max_open_files: o.get_u64("bt-max-open-files").max(1) as usize,
        })
    }

    /// A fresh 20-byte peer id: the prefix, then random printable bytes.
    pub fn peer_id(&self) -> [u8; 20] {
        use rand::Rng;
        let mut id = [0u8; 20];
        let prefix = self.peer_id_prefix.as_bytes();
        let n = prefix.len().min(20);
        id[..n].copy_from_slice(&prefix[..n]);
        let mut rng = rand::thread_rng();
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        for b in &mut id[n..] {
            *b = ALPHABET[rng.gen_range(0..ALPHABET.len())];
        }
        id
    }
}

/// Where Local Peer Discovery joins its multicast group, from
/// `--bt-lpd-interface`: an interface's name (its first IPv4 address) or an
/// IPv4 address, as aria2's `getInterfaceAddress(…, AF_INET)` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LpdInterface {
    /// Not given: the kernel's default multicast interface.
    Default,
    /// Join and send on this address's interface.
    Address(std::net::Ipv4Addr),
    /// Given, but no IPv4 address answers to it: aria2 then leaves LPD
    /// off ("LpdMessageReceiver not initialized."), and so does arietta.
    Missing(String),
}

impl LpdInterface {
    pub fn from_option(v: &str) -> Self {
        let v = v.trim();
        if v.is_empty() {
            return LpdInterface::Default;
        }
        if let Ok(ip) = v.parse() {
            return LpdInterface::Address(ip);
        }
        arietta_net::interface_addresses(v, arietta_net::FamilyPref::V4Only)
            .into_iter()
            .find_map(|ip| match ip {
                std::net::IpAddr::V4(ip) => Some(LpdInterface::Address(ip)),
                std::net::IpAddr::V6(_) => None,
            })
            .unwrap_or_else(|| LpdInterface::Missing(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lpd_interface_by_name_or_address() {
        use std::net::Ipv4Addr;
        assert_eq!(LpdInterface::from_option(""), LpdInterface::Default);
        assert_eq!(
            LpdInterface::from_option("127.0.0.1"),
            LpdInterface::Address(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            LpdInterface::from_option("lo"),
            LpdInterface::Address(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            LpdInterface::from_option("no-such-if0"),
            LpdInterface::Missing("no-such-if0".into())
        );
    }

    #[test]
    fn peer_id_starts_with_the_prefix() {
        let mut o = OptionSet::new();
        o.set("peer-id-prefix", "-XY1234-").unwrap();
        let id = TorrentConfig::from_options(&o).unwrap().peer_id();
        assert_eq!(&id[..8], b"-XY1234-");
        let long = "A".repeat(30);
        o.set("peer-id-prefix", &long).unwrap();
        let id = TorrentConfig::from_options(&o).unwrap().peer_id();
        assert_eq!(&id[..], &long.as_bytes()[..20], "cut to 20 bytes");
    }

    #[test]
    fn piece_selection_options() {
        let mut o = OptionSet::new();
        o.set("stream-piece-selector", "inorder").unwrap();
        o.set("bt-prioritize-piece", "head=32K,tail").unwrap();
        o.set("peer-agent", "me/1").unwrap();
        let c = TorrentConfig::from_options(&o).unwrap();
        assert_eq!(c.piece_order, PieceOrder::InOrder);
        assert_eq!((c.prioritize_head, c.prioritize_tail), (32768, 1 << 20));
        assert_eq!(&*c.peer_agent, "me/1");
    }

    #[test]
    fn stdout_streams_in_order_and_seeds_only_when_asked() {
        let mut o = OptionSet::new();
        o.set("out", "-").unwrap();
        o.set("stream-piece-selector", "random").unwrap();
        let c = TorrentConfig::from_options(&o).unwrap();
        assert!(c.to_stdout);
        assert_eq!(c.piece_order, PieceOrder::InOrder, "forced");
        assert_eq!(c.seed_time, Some(Duration::ZERO), "no seeding by default");
        o.set("seed-ratio", "2.0").unwrap();
        let c = TorrentConfig::from_options(&o).unwrap();
        assert_eq!((c.seed_time, c.seed_ratio), (None, 2.0), "seeds as asked");
        let c = TorrentConfig::from_options(&OptionSet::new()).unwrap();
        assert!(!c.to_stdout);
    }

    #[test]
    fn port_lists() {
        assert_eq!(parse_ports("6881-6883").unwrap(), vec![6881, 6882, 6883]);
        assert_eq!(parse_ports("7000,7002").unwrap(), vec![7000, 7002]);
        assert!(parse_ports("x").is_err());
        assert!(parse_ports("9-3").is_err());
    }
}
