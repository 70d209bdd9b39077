//! The download model and the actors that run it: a coordinator that owns
//! every download's plan, and per-core workers that run connections.
//!
//! See `docs/architecture.md` for the picture.
#![deny(unsafe_op_in_unsafe_fn)]

mod bittorrent;
mod checksum;
pub mod config;
mod conn_link;
mod connection_pool;
pub mod control;
mod coordinator;
mod download;
mod error;
mod exit_code;
mod features;
mod ftp_fetch;
mod gid;
mod hooks;
mod http2_pool;
mod http_fetch;
mod messages;
pub mod metalink_plan;
mod net_context;
mod piece_verify;
pub mod piece_view;
mod prepare;
mod segment_driver;
pub mod segment_map;
mod segmented;
pub mod server_stat;
mod session;
mod session_file;
mod sftp_fetch;
mod speed_meter;
pub mod status_board;
pub mod torrent_info;
mod waiting_queue;
mod worker;

pub use bittorrent::looks_like_torrent;
pub use coordinator::DeferredRequests;
pub use coordinator::RunReport;
pub use download::{
    BtProgress, DownloadRequest, DownloadResult, LogLevel, Progress, QuietReporter, Reporter,
    Status,
};
pub use error::FetchError;
pub use exit_code::ExitCode;
pub use features::{linked_c_libraries, ENABLED_FEATURES, HASH_ALGORITHMS};
pub use gid::Gid;
pub use hooks::wait_for_hooks;
pub use metalink_plan::{looks_like_metalink, MetalinkFile, MetalinkPlan, METALINK_MAX_BYTES};
pub use session::{
    block_shutdown_signals, run, run_with, run_with_input, ServiceStarter, SessionError,
};
