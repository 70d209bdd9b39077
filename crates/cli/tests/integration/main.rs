//! arietta's end-to-end tests: the real `arietta` binary against real
//! servers and peers on loopback (nginx, vsftpd, pyftpdlib, sshd,
//! opentracker, aria2c, python3-libtorrent, aria2p, aioaria2, and Node's
//! aria2 and maria2 client libraries) and against hostile
//! servers written here.
//!
//! One test binary with one module per topic, as ripgrep does: the shared
//! plumbing (`support`, `bt_support`) is compiled and linked once instead
//! of once per file. Run one topic with
//! `cargo test -p arietta-cli --test integration -- ftp::`.
//!
//! A test whose peer program is missing skips with a message on a
//! developer's machine and fails under `CI=true` (see [`support::require`]).
//!
//! A new topic is a file in this directory and one `mod` line below; it
//! reaches the plumbing as `crate::support::…` and `crate::bt_support::…`
//! (not `mod support;`, which would compile a second copy).

mod bt_support;
mod support;

mod aria2_interop;
mod bittorrent;
mod bittorrent_cores;
mod bittorrent_crypto;
mod bittorrent_dht;
mod bittorrent_discovery;
mod bittorrent_follow;
mod bittorrent_hostile;
mod bittorrent_names;
mod bittorrent_one_port;
mod bittorrent_open_files;
mod bittorrent_padding;
mod bittorrent_piece_order;
mod bittorrent_trackers;
mod cli_options;
mod console_output;
mod cookie_db;
mod existing_file;
mod exit_codes;
mod ftp;
mod hooks;
mod http2;
mod http_download;
mod http_faults;
mod http_options;
mod input_list;
mod interface_sockets;
mod logging;
mod metalink;
mod multi_source;
mod nginx;
mod resume;
mod rpc;
mod rpc_abuse;
mod rpc_client_libraries;
mod rpc_methods;
mod rpc_semantics;
mod rpc_torrent_stats;
mod rpc_vs_aria2;
mod sftp;
mod show_files;
mod socks5_proxy;
mod stdout_stream;
mod tls;
