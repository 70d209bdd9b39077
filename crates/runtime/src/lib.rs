//! The thread-per-core runtime: one glommio executor per core, and the
//! mailboxes cores use to talk to each other.
//!
//! Cores share nothing but messages. A [`Mailbox`] is a crossbeam channel
//! whose receiving task is woken through an [`atomic_waker::AtomicWaker`];
//! a waiting core parks in io_uring instead of polling the channel.
#![deny(unsafe_op_in_unsafe_fn)]

mod cores;
mod error;
mod mailbox;
mod uring_check;

pub use cores::{core_count, spawn_cores, CoreHandles, CoreId, CoreSettings};
pub use error::RuntimeError;
pub use mailbox::{mailbox, Mailbox, MailboxSender};
pub use uring_check::check_io_uring;
