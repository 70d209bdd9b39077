//! An asynchronous Mainline DHT node (BEP 5, BEP 32 for IPv6) on a glommio
//! UDP socket, driving the pure `arietta-dht` crate (KRPC codec, routing
//! table, tokens, table file).
//!
//! How the engine uses it, on the core that owns the DHT:
//!
//! ```text
//! let dht = DhtNode::start(config)?;        // binds --dht-listen-port, loads --dht-file-path
//! dht.bootstrap().await?;                    // --dht-entry-point(s) and saved nodes
//! let peers = dht.get_peers(info_hash).await;        // feed the torrent's peer list
//! let out = dht.announce(info_hash, tcp_port).await; // every 15 min while active
//! dht.add_node(addr).await;                  // a peer's BEP 5 `port` message
//! dht.shutdown().await?;                     // saves the routing table
//! ```
//!
//! Meanwhile the node answers ping, find_node, get_peers and announce_peer
//! from anyone, rotates its announce-token secret every 5 minutes, pings
//! questionable nodes and refreshes stale buckets. Private torrents
//! (BEP 27) must never be looked up or announced; that check is the
//! engine's. With a SOCKS5 proxy in [`DhtConfig::proxy`], every datagram
//! goes through the proxy's UDP relay (`arietta_net::Socks5Udp`).
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod config;
mod error;
mod node;
mod peer_store;
mod transport;

pub use config::{parse_entry_point, DhtConfig};
pub use error::{DhtNodeError, Result};
pub use node::{AnnounceOutcome, DhtHandle, DhtNode};
pub use peer_store::{MAX_VALUES, PEER_TTL};
