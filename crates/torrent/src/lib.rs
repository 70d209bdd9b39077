//! arietta's BitTorrent engine: a per-torrent actor that owns the piece
//! accounting, and peer connection tasks spread over the thread-per-core
//! runtime that move the bytes.
//!
//! The protocol itself is pure code in `arietta-bt` and `arietta-metainfo`;
//! this crate drives it: [`TorrentDownload`] parses and lays out a torrent,
//! then [`TorrentDownload::run`] downloads, verifies (SHA-1 on the blocking
//! pool, never on a peer's task), seeds and announces to trackers until
//! aria2's seeding rules say stop. Peers reach the actor through
//! `ToTorrent::Peers` (trackers, the shared [`DhtService`] through a
//! [`DhtLink`] from any core; LPD and PEX plug in there), and
//! peer tasks are generic over the byte stream so MSE streams plug in
//! beside plain TCP.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]

mod config;
mod dht_link;
mod dht_service;
mod discovery;
mod download;
mod error;
mod hashing;
mod have_set;
mod incoming_cap;
mod layout;
mod listener;
mod messages;
mod metadata;
mod open_files;
mod peer;
mod piece_hashes;
mod resume;
mod session;
mod spawner;
mod stats;
mod tracker;
mod web_seed;

pub use config::{parse_ports, LiveOptions, TorrentConfig};
pub use dht_link::DhtLink;
pub use dht_service::DhtService;
pub use discovery::Discovery;
pub use download::{LiveLink, PeerSink, TorrentDownload, TorrentSource};
pub use error::TorrentError;
pub use hashing::{check_all, verify_piece};
pub use incoming_cap::{IncomingSlot, MAX_INCOMING_PER_PROCESS};
pub use layout::{LaidFile, Layout};
pub use metadata::fetch_metadata;
pub use piece_hashes::PieceHashes;
pub use session::set_overall_upload_limit;
pub use spawner::{CoreSpawner, CurrentCore, Job};
pub use stats::{PeerSummary, TorrentStats};
pub use tracker::{announce_one, AnnounceParams, AnnounceReply};
