//! Mainline DHT (BEP 5, IPv6 per BEP 32, read-only per BEP 43) as pure
//! logic: the KRPC codec, node IDs and XOR distance, a k-bucket routing
//! table driven by caller-supplied time, announce tokens, and the routing
//! table file. The UDP loop lives elsewhere and feeds this crate bytes and
//! instants, which keeps every rule here testable and fuzzable.
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod error;
mod krpc;
mod node_id;
mod routing_table;
mod table_file;
mod token;

pub use error::DhtError;
pub use krpc::{decode, encode, Body, Message, Query, Response, Want};
pub use node_id::{Node, NodeId};
pub use routing_table::{Contact, InsertOutcome, NodeStatus, RoutingTable, K};
pub use table_file::{load_table, save_table, SavedTable};
pub use token::TokenSecrets;
