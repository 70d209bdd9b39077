//! The typed view of the options one download runs with. Built once per
//! download from the layered [`OptionSet`], so the data path never parses
//! option strings.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arietta_options::OptionSet;
use arietta_storage::Allocation;

/// `--checksum=TYPE=DIGEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checksum {
    pub algo: String,
    pub hex: String,
}

/// `--uri-selector`: how a download picks among its mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriSelector {
    /// The URIs in the order given.
    InOrder,
    /// The fastest mirror first, by this run's measurements and the
    /// server stats (aria2's default).
    Feedback,
    /// The best mirror for the first connection; further connections try
    /// mirrors not measured yet, then the best again.
    Adaptive,
}

#[derive(Clone, Debug)]
pub struct DownloadConfig {
    pub dir: PathBuf,
    pub out: Option<String>,
    pub split: usize,
    pub max_conn_per_server: usize,
    pub min_split_size: u64,
    pub max_tries: u32,
    pub retry_wait: Duration,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub lowest_speed_limit: u64,
    pub max_file_not_found: u32,
    pub continue_: bool,
    pub allow_overwrite: bool,
    pub auto_file_renaming: bool,
    pub allocation: Allocation,
    /// `--no-file-allocation-limit`: files smaller than this are never
    /// allocated ahead (aria2's default 5M), so a small download that
    /// fills the disk stops at the write with its progress recorded.
    pub no_file_allocation_limit: u64,
    pub checksum: Option<Checksum>,
    pub user_agent: String,
    pub referer: Option<String>,
    pub headers: Vec<(String, String)>,
    pub http_user: Option<String>,
    pub http_passwd: Option<String>,
    pub netrc: bool,
    pub netrc_path: Option<PathBuf>,
    pub accept_gzip: bool,
    /// `--enable-http2`: offer `h2` in ALPN for https:// (arietta only).
    pub enable_http2: bool,
    /// `--http2-prior-knowledge`: h2c for http:// (arietta only).
    pub http2_prior_knowledge: bool,
    pub conditional_get: bool,
    pub remote_time: bool,
    pub max_download_limit: u64,
    pub disable_ipv6: bool,
    pub dry_run: bool,
    pub auto_save_interval: Duration,
    /// `--piece-length`: the unit of aria2's control-file bitfield, which
    /// aria2c must find unchanged to resume our file.
    pub piece_length: u32,
    /// `--remove-control-file`: drop an existing record before starting.
    pub remove_control_file: bool,
    /// `--force-save`: keep the control file of a finished download.
    pub force_save: bool,
    /// `--always-resume`: a recorded download the server cannot continue
    /// (no ranges) fails instead of starting over.
    pub always_resume: bool,
    /// `--max-resume-failure-tries`: with `--always-resume=false`, start
    /// over after this many mirrors could not resume (0: once all failed).
    pub max_resume_failure_tries: u32,
    /// `-V`/`--check-integrity`: an existing file is checked against
    /// `--checksum` in place (kept when it matches, fetched again into the
    /// same name when not) instead of being renamed around.
    pub check_integrity: bool,
    /// `--ftp-user`/`--ftp-passwd`; credentials in the URI and `.netrc`
    /// come first, and anonymous login (as aria2) when none is given.
    pub ftp_user: Option<String>,
    pub ftp_passwd: Option<String>,
    /// `--ftp-type=ascii`: the server may rewrite line endings, so the
    /// size is unknown and the file is fetched in one stream.
    pub ftp_ascii: bool,
    /// `--ftp-pasv` (default): EPSV/PASV; false: EPRT/PORT.
    pub ftp_pasv: bool,
    /// `--ftp-reuse-connection`: keep logged-in control connections for
    /// the next segment or file.
    pub ftp_reuse_connection: bool,
    /// `--ssh-host-key-md=TYPE=DIGEST` for sftp:// URIs (which use
    /// `--ftp-user`/`--ftp-passwd` too, as aria2 does).
    pub ssh_host_key_md: Option<String>,
    /// `--follow-metalink`: `true` (save and follow), `mem` (follow only)
    /// or `false`.
    pub follow_metalink: String,
    /// `--follow-torrent`: `true` (save and follow), `mem` (follow only)
    /// or `false`.
    pub follow_torrent: String,
    /// `--realtime-chunk-checksum`: check metalink piece hashes as pieces
    /// complete.
    pub realtime_chunk_checksum: bool,
    /// `--proxy-method=tunnel`: reach FTP servers through a proxy with
    /// CONNECT and speak FTP end to end; `get` (default) asks the proxy for
    /// `GET ftp://…` and gets the file over HTTP.
    pub proxy_tunnel: bool,
    pub uri_selector: UriSelector,
    /// `--reuse-uri`: once every URI has had a connection, further
    /// connections may use them again; off, a download opens at most one
    /// connection per URI (retries aside).
    pub reuse_uri: bool,
    /// The proxies of this download: its own `--all-proxy`,
    /// `--http-proxy`, `--no-proxy`, credentials… over the run's.
    pub proxies: Arc<arietta_http::ProxySettings>,
    /// `--enable-http-keep-alive` (or `--enable-http-pipelining`, which
    /// implies it in aria2): off, each request asks `Connection: close`
    /// and goes on a new connection.
    pub http_keep_alive: bool,
    /// `--enable-http-pipelining`: a connection about to finish its
    /// segment claims the next one and sends its request before the body
    /// ends (aria2's default depth of two requests in flight).
    pub http_pipelining: bool,
    /// `--use-head`: the first request of a download whose size is not
    /// known yet is a HEAD; the data then comes with GETs.
    pub use_head: bool,
    /// `--http-auth-challenge`: `--http-user`/`.netrc` credentials go out
    /// only once the host answered 401, then with each of its requests
    /// (credentials in the URI are sent at once, as in aria2).
    pub http_auth_challenge: bool,
    /// `--http-no-cache`: `Pragma: no-cache` and `Cache-Control: no-cache`.
    pub http_no_cache: bool,
    /// Not `--no-want-digest-header`: send aria2's `Want-Digest`.
    pub want_digest: bool,
    /// `--content-disposition-default-utf8`.
    pub content_disposition_utf8: bool,
    /// `--allow-piece-length-change`: a control file of another piece
    /// length resumes from its whole pieces instead of failing (exit 10).
    pub allow_piece_length_change: bool,
    /// `--hash-check-only`: `-V` checks the file and the download ends
    /// there, whether or not it matched.
    pub hash_check_only: bool,
}

impl DownloadConfig {
    /// `-o -`: the file goes to stdout, in order, and nowhere on disk.
    pub fn to_stdout(&self) -> bool {
        self.out.as_deref() == Some("-")
    }

    pub fn from_options(o: &OptionSet) -> DownloadConfig {
        let opt_string = |name: &str| o.get_opt_str(name).map(str::to_owned);
        let secs = |name: &str| Duration::from_secs(o.get_u64(name));
        let checksum = o.get_opt_str("checksum").and_then(|v| {
            let (algo, hex) = v.split_once('=')?;
            Some(Checksum {
                algo: algo.to_ascii_lowercase(),
                hex: hex.to_ascii_lowercase(),
            })
        });
        let headers = arietta_http_client::headers_from_options(o);
        let dir = download_dir(o);
        DownloadConfig {
            dir,
            out: opt_string("out"),
            split: o.get_u64("split").max(1) as usize,
            max_conn_per_server: o.get_u64("max-connection-per-server").max(1) as usize,
            min_split_size: o.get_size("min-split-size"),
            max_tries: o.get_u64("max-tries") as u32,
            retry_wait: secs("retry-wait"),
            timeout: secs("timeout"),
            connect_timeout: secs("connect-timeout"),
            lowest_speed_limit: o.get_size("lowest-speed-limit"),
            max_file_not_found: o.get_u64("max-file-not-found") as u32,
            continue_: o.get_bool("continue"),
            allow_overwrite: o.get_bool("allow-overwrite"),
            auto_file_renaming: o.get_bool("auto-file-renaming"),
            no_file_allocation_limit: o.get_size("no-file-allocation-limit"),
            allocation: Allocation::parse(o.get_str("file-allocation"))
                .unwrap_or(Allocation::Prealloc),
            checksum,
            user_agent: o.get_str("user-agent").to_owned(),
            referer: opt_string("referer"),
            headers,
            http_user: opt_string("http-user"),
            http_passwd: opt_string("http-passwd"),
            netrc: !o.get_bool("no-netrc"),
            netrc_path: o.get_opt_str("netrc-path").map(PathBuf::from),
            accept_gzip: o.get_bool("http-accept-gzip"),
            enable_http2: o.get_bool("enable-http2"),
            http2_prior_knowledge: o.get_bool("http2-prior-knowledge"),
            conditional_get: o.get_bool("conditional-get"),
            remote_time: o.get_bool("remote-time"),
            max_download_limit: o.get_size("max-download-limit"),
            disable_ipv6: o.get_bool("disable-ipv6"),
            dry_run: o.get_bool("dry-run"),
            auto_save_interval: secs("auto-save-interval"),
            piece_length: o.get_size("piece-length").clamp(1, u64::from(u32::MAX)) as u32,
            remove_control_file: o.get_bool("remove-control-file"),
            force_save: o.get_bool("force-save"),
            always_resume: o.get_bool("always-resume"),
            max_resume_failure_tries: o.get_u64("max-resume-failure-tries") as u32,
            check_integrity: o.get_bool("check-integrity"),
            ftp_user: opt_string("ftp-user"),
            ftp_passwd: opt_string("ftp-passwd"),
            ftp_ascii: o.get_str("ftp-type") == "ascii",
            ftp_pasv: o.get_bool("ftp-pasv"),
            ftp_reuse_connection: o.get_bool("ftp-reuse-connection"),
            ssh_host_key_md: opt_string("ssh-host-key-md"),
            follow_metalink: o.get_str("follow-metalink").to_owned(),
            follow_torrent: o.get_str("follow-torrent").to_owned(),
            realtime_chunk_checksum: o.get_bool("realtime-chunk-checksum"),
            proxy_tunnel: o.get_str("proxy-method") == "tunnel",
            uri_selector: match o.get_str("uri-selector") {
                "inorder" => UriSelector::InOrder,
                "adaptive" => UriSelector::Adaptive,
                _ => UriSelector::Feedback,
            },
            reuse_uri: o.get_bool("reuse-uri"),
            // The option table checked the values; the run's were also
            // parsed at start, where a bad one fails the run.
            proxies: Arc::new(arietta_http_client::proxies_from_options(o).unwrap_or_default()),
            http_keep_alive: o.get_bool("enable-http-keep-alive")
                || o.get_bool("enable-http-pipelining"),
            http_pipelining: o.get_bool("enable-http-pipelining"),
            use_head: o.get_bool("use-head"),
            http_auth_challenge: o.get_bool("http-auth-challenge"),
            http_no_cache: o.get_bool("http-no-cache"),
            want_digest: !o.get_bool("no-want-digest-header"),
            content_disposition_utf8: o.get_bool("content-disposition-default-utf8"),
            allow_piece_length_change: o.get_bool("allow-piece-length-change"),
            hash_check_only: o.get_bool("hash-check-only"),
        }
    }
}

/// `--dir`, or the working directory when unset.
pub fn download_dir(o: &OptionSet) -> PathBuf {
    o.get_opt_str("dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
}
