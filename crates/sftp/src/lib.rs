//! SFTP downloads for arietta: connect, check the host key, authenticate,
//! stat, and read byte ranges of one remote file.
//!
//! libssh2 (through the `ssh2` crate) is blocking, and a glommio executor
//! must never block, so each [`SftpConnection`] owns one OS thread that
//! holds the SSH session and does every libssh2 call; the core only sends
//! it commands and awaits the answers through a mailbox (which wakes the
//! executor through its eventfd, never by polling). One thread per
//! connection rather than glommio's blocking pool, because that pool is
//! small and a read may wait on the network for the whole `--timeout`.
//!
//! The pure parts (host key digests, remote paths, who to log in as) live
//! in their own modules and are tested without a server.
#![deny(unsafe_op_in_unsafe_fn)]

mod connection;
mod credentials;
mod error;
mod host_key;
mod library_version;
mod remote_path;
mod session;

pub use connection::SftpConnection;
pub use credentials::{default_key_files, Credentials};
pub use error::SftpError;
pub use host_key::{HostKeyAlgo, HostKeyCheck};
pub use library_version::libssh2_version_string;
pub use remote_path::remote_path;
pub use session::{
    read_size, ReadEnd, ReadPace, RemoteStat, SessionConfig, SftpSession, Socks5Via,
};
