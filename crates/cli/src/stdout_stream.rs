//! `-o -`: the download goes to stdout, so everything else that would
//! print there must not.
//!
//! Before anything is printed, the real stdout is duplicated for the
//! download's [`OrderedSink`] and descriptor 1 is pointed at stderr: the
//! readout, the console log, `-l -`, the results table and the output of
//! hooks (which inherit descriptor 1) all land on stderr, and nothing but
//! the file's bytes can reach the pipe.

use std::os::fd::AsFd;

use arietta_options::OptionSet;
use arietta_storage::{OrderedSink, STREAM_WINDOW};

/// Whether the run's `-o` is `-`.
pub fn wanted(global: &OptionSet) -> bool {
    global.get_opt_str("out") == Some("-")
}

/// Takes stdout for the download (see the module docs). Runs before any
/// other thread exists.
pub fn take_stdout() -> std::io::Result<()> {
    let out = std::io::stdout().as_fd().try_clone_to_owned()?;
    let out = std::fs::File::from(out);
    grow_pipe(&out);
    // SAFETY: dup2 on descriptors 2 and 1, which this process owns; no
    // other thread runs yet, so none writes to descriptor 1 meanwhile.
    if unsafe { libc::dup2(2, 1) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let sink = OrderedSink::spawn(out, STREAM_WINDOW)?;
    arietta_storage::install_stdout_sink(sink);
    Ok(())
}

/// A pipe holds 64 KiB by default: each of the writer's 256 KiB chunks
/// then costs the reader four wake-ups. 1 MiB (the unprivileged limit)
/// lets a whole chunk through at once; refused, the default stays.
fn grow_pipe(out: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor this function borrows; F_SETPIPE_SZ
    // takes an int and fails harmlessly (EBADF/EPERM) on a non-pipe or
    // past the limit.
    let _ = unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
}

/// Options that cannot apply to a stream: named at start, as aria2 warns
/// about options it ignores.
pub fn warn_ignored(global: &OptionSet) {
    let ignored = [
        ("continue", "a pipe cannot be resumed"),
        ("force-save", "no control file is kept for a pipe"),
        ("remote-time", "a pipe has no modification time"),
    ];
    for (name, why) in ignored {
        if global.get_bool(name) {
            tracing::warn!("--{name} does not apply to -o - ({why}); ignored.");
        }
    }
}
