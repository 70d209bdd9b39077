//! Metalink (RFC 5854 "v4" and the older metalinker.org "v3") and
//! Metalink/HTTP (RFC 6249) as pure code: bytes in, typed values out.
//!
//! The crate knows nothing of sockets or the download model. The core asks
//! it three things:
//!
//! 1. [`parse`]: turn a `.meta4` / `.metalink` document into a [`Metalink`]
//!    (hostile input — DTDs, entity bombs, huge documents, `../` names — is
//!    rejected or dropped here, never later).
//! 2. [`Metalink::resolve`] and [`Metalink::select_files`] /
//!    [`FileEntry::ordered_uris`]: which files to fetch and in which order to
//!    try their mirrors, honouring aria2's `--metalink-*` options.
//! 3. [`http_link`]: mirrors and digests advertised by an HTTP response's
//!    `Link:` and `Digest:` headers.
#![deny(unsafe_op_in_unsafe_fn)]

mod document;
mod error;
mod hash;
pub mod http_link;
mod name;
mod parse;
mod selection;

pub use document::{FileEntry, MetaUrl, Metalink, MetalinkVersion, Resource, Signature};
pub use error::Error;
pub use hash::{Checksum, HashAlgo, Hasher, PieceHashes};
pub use name::sanitize_file_name;
pub use parse::{parse, parse_with_limits, Limits};
pub use selection::{PreferredProtocol, SelectionOptions, LOWEST_PRIORITY};
/// Re-exported because [`Metalink::resolve`] takes one; callers need not
/// pin a matching `url` version.
pub use url::Url;
