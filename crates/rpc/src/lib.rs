//! aria2-compatible RPC protocol layer: JSON-RPC (over HTTP POST/GET and
//! WebSocket) and XML-RPC, as pure code with no sockets.
//!
//! The daemon loop reads bytes, hands them to the decoders here, dispatches
//! the typed [`Method`] it gets back and encodes the answer with the
//! encoders here. Keeping the wire formats free of I/O makes every parser a
//! plain function of bytes that can be unit tested and fuzzed.
//!
//! Flow for one HTTP POST to `/jsonrpc`:
//! 1. [`json::decode_request`] → a single call or a batch of calls;
//! 2. per call, [`auth::authorize`] checks and strips `token:SECRET`;
//! 3. [`methods::parse_method`] validates the parameter shapes;
//! 4. the daemon runs it and [`json::encode_response`] writes the answer.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod auth;
mod error;
pub mod json;
pub mod methods;
mod request;
pub mod websocket;
pub mod xml;

pub use auth::{authorize, Secret};
pub use error::Error;
pub use methods::{parse_method, GidRef, Method, Notification, Position, RpcOptions};
pub use request::{Dialect, Id, Limits, Param, RpcCall};
