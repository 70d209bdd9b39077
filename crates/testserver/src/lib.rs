//! An in-tree HTTP(S) test server with fault injection, and an nginx harness.
//!
//! End-to-end tests run the real `arietta` binary against [`TestServer`]:
//! a std-thread-per-connection HTTP/1.1 server on `127.0.0.1:0` whose
//! routes ([`Route`]) can misbehave in the ways real servers do (truncated
//! bodies, resets, lying lengths, wrong ranges, throttling, redirects,
//! auth and cookies) while counting exactly what was sent, so a test can
//! assert that a resume did not re-fetch bytes. [`Nginx`] runs a real
//! nginx over a directory where one is installed.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod error;
mod http_date;
mod nginx;
mod pattern;
mod range;
mod request;
mod response;
mod route;
mod server;
mod stream;
mod throttle;
mod tls;

pub use error::Error;
pub use http_date::{format_http_date, parse_http_date};
pub use nginx::Nginx;
pub use pattern::pattern;
pub use range::{evaluate_range, RangeOutcome};
pub use request::RecordedRequest;
pub use route::{Body, Route, DEFAULT_LAST_MODIFIED};
pub use server::TestServer;

#[cfg(test)]
mod tests;
