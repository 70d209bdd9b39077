//! aria2's event hooks (`--on-download-start` and friends): a user command
//! run with three arguments, the GID in hex, the number of files and the
//! first file's path, as seedbox and mirror scripts expect them. Commands
//! are started off the cores (a fork and exec is a blocking call; a script
//! may take minutes), reaped, and their exit status logged.

use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use arietta_options::OptionSet;

use crate::download::Status;
use crate::gid::Gid;

/// When a hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Start,
    Pause,
    Stop,
    Complete,
    Error,
    /// A torrent's last piece is verified, before seeding.
    BtComplete,
}

impl Hook {
    /// The option naming this hook's command.
    pub fn option(self) -> &'static str {
        match self {
            Hook::Start => "on-download-start",
            Hook::Pause => "on-download-pause",
            Hook::Stop => "on-download-stop",
            Hook::Complete => "on-download-complete",
            Hook::Error => "on-download-error",
            Hook::BtComplete => "on-bt-download-complete",
        }
    }
}

/// The hook a download that ended with `status` runs, as aria2's
/// `executeStopHook` picks it: `--on-download-stop` for any end, unless
/// the end is a completion with `--on-download-complete` set or an error
/// with `--on-download-error` set (only one of them runs). A pause is no
/// stop: it has its own hook.
pub fn stop_hook(options: &OptionSet, status: Status) -> Option<Hook> {
    let set = |h: Hook| {
        options
            .get_opt_str(h.option())
            .is_some_and(|c| !c.is_empty())
    };
    let specific = match status {
        Status::Paused => return set(Hook::Pause).then_some(Hook::Pause),
        Status::Complete => Some(Hook::Complete),
        Status::Error => Some(Hook::Error),
        Status::Removed | Status::Active | Status::Waiting => None,
    };
    specific
        .filter(|h| set(*h))
        .or_else(|| set(Hook::Stop).then_some(Hook::Stop))
}

/// What a hook is told about its download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookTarget {
    pub gid: Gid,
    /// Selected files (0 while a torrent's metadata is still coming).
    pub files: usize,
    /// The first selected file's path; empty while not known yet.
    pub first_path: String,
}

/// Runs `hook`'s command for `target` if `options` name one.
pub fn run(options: &OptionSet, hook: Hook, target: HookTarget) {
    let Some(command) = options
        .get_opt_str(hook.option())
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
    else {
        return;
    };
    let HookTarget {
        gid,
        files,
        first_path,
    } = target;
    let args = [gid.to_string(), files.to_string(), first_path];
    tracing::info!("Executing user command: {command} {}", args.join(" "));
    runner().submit(command, args);
}

/// Waits (a few seconds at most) until every hook asked for so far has
/// been started, so the last download's hook is not lost when the
/// process exits right after it; the commands themselves run on, as
/// aria2's do.
pub fn wait_for_hooks() {
    if let Some(r) = RUNNER.get() {
        r.flush(Duration::from_secs(5));
    }
}

static RUNNER: OnceLock<Runner> = OnceLock::new();

fn runner() -> &'static Runner {
    RUNNER.get_or_init(Runner::start)
}

type Job = (String, [String; 3]);

/// One thread starts the commands in the order they were asked for (as
/// aria2 forks them in order); each started command gets a small thread
/// that reaps it and logs its exit status.
struct Runner {
    tx: Mutex<mpsc::Sender<Job>>,
    pending: Arc<(Mutex<usize>, Condvar)>,
}

impl Runner {
    fn start() -> Runner {
        let (tx, rx) = mpsc::channel::<Job>();
        let pending: Arc<(Mutex<usize>, Condvar)> = Arc::default();
        let count = pending.clone();
        let started = std::thread::Builder::new()
            .name("arietta-hooks".into())
            .spawn(move || {
                for (command, args) in rx {
                    spawn_and_reap(command, args);
                    let (n, idle) = &*count;
                    let mut n = n.lock().unwrap_or_else(|e| e.into_inner());
                    *n = n.saturating_sub(1);
                    idle.notify_all();
                }
            });
        if let Err(e) = started {
            tracing::error!("Cannot start the user command runner: {e}");
        }
        Runner {
            tx: Mutex::new(tx),
            pending,
        }
    }

    fn submit(&self, command: String, args: [String; 3]) {
        let (n, _) = &*self.pending;
        *n.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let sent = self
            .tx
            .lock()
            .map(|tx| tx.send((command, args)).is_ok())
            .unwrap_or(false);
        if !sent {
            *n.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            tracing::error!("Cannot execute user command: the runner is gone");
        }
    }

    fn flush(&self, limit: Duration) {
        let (n, idle) = &*self.pending;
        let guard = n.lock().unwrap_or_else(|e| e.into_inner());
        let _ = idle.wait_timeout_while(guard, limit, |n| *n > 0);
    }
}

fn spawn_and_reap(command: String, args: [String; 3]) {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(&command);
    cmd.args(&args).stdin(Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls
    // (sigemptyset, sigaddset, pthread_sigmask on the child's one thread).
    // The child must not inherit arietta's blocked SIGINT/SIGTERM (kept
    // for its signal thread), or `kill` could not stop a hook script.
    unsafe {
        cmd.pre_exec(|| {
            let set = crate::session::shutdown_signals();
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = cmd.spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("Could not execute user command: {command}: {e}");
            return;
        }
    };
    let gid = args[0].clone();
    let reaper = std::thread::Builder::new()
        .name("arietta-hook".into())
        .spawn(move || match child.wait() {
            Ok(s) if s.success() => {
                tracing::info!("User command {command} for GID#{gid} exited: {s}")
            }
            Ok(s) => tracing::warn!("User command {command} for GID#{gid} exited: {s}"),
            Err(e) => tracing::error!("User command {command} for GID#{gid}: {e}"),
        });
    if let Err(e) = reaper {
        tracing::warn!("Cannot wait for a user command: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(set: &[(&str, &str)]) -> OptionSet {
        let mut o = OptionSet::default();
        for (k, v) in set {
            o.set(k, v).unwrap();
        }
        o
    }

    #[test]
    fn the_specific_hook_wins_over_stop() {
        let all = opts(&[
            ("on-download-stop", "/s"),
            ("on-download-complete", "/c"),
            ("on-download-error", "/e"),
        ]);
        assert_eq!(stop_hook(&all, Status::Complete), Some(Hook::Complete));
        assert_eq!(stop_hook(&all, Status::Error), Some(Hook::Error));
        assert_eq!(stop_hook(&all, Status::Removed), Some(Hook::Stop));
        assert_eq!(stop_hook(&all, Status::Paused), None);
    }

    #[test]
    fn stop_covers_what_has_no_hook_of_its_own() {
        let stop = opts(&[("on-download-stop", "/s")]);
        assert_eq!(stop_hook(&stop, Status::Complete), Some(Hook::Stop));
        assert_eq!(stop_hook(&stop, Status::Error), Some(Hook::Stop));
        let complete = opts(&[("on-download-complete", "/c")]);
        assert_eq!(stop_hook(&complete, Status::Error), None);
        assert_eq!(stop_hook(&complete, Status::Removed), None);
        let pause = opts(&[("on-download-pause", "/p")]);
        assert_eq!(stop_hook(&pause, Status::Paused), Some(Hook::Pause));
    }
}
