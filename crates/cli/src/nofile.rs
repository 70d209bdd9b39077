//! The descriptor limit, raised at start as aria2's `--rlimit-nofile` does.
//!
//! aria2 raises the soft limit to `--rlimit-nofile` (1024 by default) when
//! it is lower. arietta goes further and raises it to the hard limit: one
//! process serves every torrent's peers, every segment's connection and up
//! to the RPC connection cap (half this limit, see `arietta_daemon`), and
//! a soft limit of 1024 would make a few hundred idle RPC sockets starve
//! the downloads. `--rlimit-nofile` still sets the floor when the hard
//! limit is unlimited.

use arietta_options::OptionSet;

/// Raises `RLIMIT_NOFILE`'s soft limit; a failure is only logged, as in
/// aria2.
pub fn raise(global: &OptionSet) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given, which lives for
    // the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return;
    }
    let asked = global.get_u64("rlimit-nofile") as libc::rlim_t;
    let want = if r.rlim_max == libc::RLIM_INFINITY {
        r.rlim_cur.max(asked)
    } else {
        r.rlim_max
    };
    if want <= r.rlim_cur {
        tracing::debug!("Not setting rlimit NO_FILE: {} >= {want}", r.rlim_cur);
        return;
    }
    let old = r.rlim_cur;
    r.rlim_cur = want;
    // SAFETY: setrlimit reads only the struct it is given, which lives for
    // the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } != 0 {
        tracing::warn!(
            "Failed to set rlimit NO_FILE from {old} to {want}: {}",
            std::io::Error::last_os_error()
        );
    } else {
        tracing::debug!("Set rlimit NO_FILE from {old} to {want}");
    }
}
