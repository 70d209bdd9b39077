//! BitTorrent metadata as pure functions of bytes: `.torrent` files (BEP 3,
//! 12, 19, 27, 47, 52), magnet links (BEP 9), file selection and the `-S`
//! listing, and the HTTP tracker's request URL and response (BEP 3, 7, 23).
//!
//! Nothing here does I/O; the `bt` crate drives the network and the storage
//! crate writes the files whose (sanitized) paths are computed here.
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod error;
mod file_select;
mod magnet;
mod path_sanitize;
mod show_files;
mod torrent;
mod tracker_http;

pub use error::Error;
pub use file_select::{parse_index_out, select_files};
pub use magnet::Magnet;
pub use path_sanitize::{decode_text, sanitize_component};
pub use show_files::{abbrev_size, group_thousands, http_date};
pub use torrent::{FileEntry, Metainfo};
pub use tracker_http::{
    announce_url, parse_announce_response, parse_scrape_response, scrape_url, Announce,
    AnnounceEvent, AnnounceRequest, ScrapeEntry,
};

/// Percent-encodes every byte except RFC 3986 unreserved characters — the
/// form trackers and magnet links expect for binary values such as hashes.
pub fn percent_encode_all(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
