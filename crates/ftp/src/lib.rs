//! FTP protocol code for arietta: a streaming reply parser, command
//! encoders, parsers for the replies a download depends on (PASV, EPSV,
//! SIZE, MDTM, PWD, FEAT) and a [`Session`] state machine, all without I/O;
//! keeping them pure makes every server quirk testable in unit tests and
//! the parser fuzzable. On top, behind the default `client` feature,
//! [`FtpClient`] drives one control connection on glommio with them.
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "client")]
pub mod client;
pub mod commands;
pub mod directory;
pub mod error;
pub mod features;
pub mod file_facts;
pub mod passive;
pub mod reply;
pub mod session;

#[cfg(feature = "client")]
pub use client::{DataConnection, DataConnector, FtpClient, Timeouts, Transfer};
pub use commands::{eprt_argument, port_argument, Command, TransferType};
pub use directory::parse_pwd;
pub use error::FtpError;
pub use features::Features;
pub use file_facts::{parse_mdtm, parse_size};
pub use passive::{parse_epsv, parse_pasv};
pub use reply::{Reply, ReplyParser};
pub use session::{split_path, DataMode, Session, Step};
