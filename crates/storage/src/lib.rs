//! Files on disk: allocation, naming, per-core writers and the control file
//! that makes an interrupted download resumable.
#![deny(unsafe_op_in_unsafe_fn)]

mod allocation;
mod aria2_format;
mod atomic_write;
mod control_file;
mod error;
mod file_writer;
mod naming;
mod ordered_sink;
mod range_set;

pub use allocation::{allocate, Allocation};
pub use atomic_write::write_atomically;
pub use control_file::{control_path, ControlFile, CONTROL_VERSION, DEFAULT_PIECE_LENGTH};
pub use error::StorageError;
pub use file_writer::{ChunkBuf, FileWriter, OpenFiles};
pub use naming::{auto_rename, sanitize_file_name};
pub use ordered_sink::{install_stdout_sink, stdout_sink, OrderedSink, STREAM_WINDOW};
pub use range_set::RangeSet;
