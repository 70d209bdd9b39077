//! aria2's event hooks (`--on-download-start` and friends): a user command
//! run with three arguments, the GID in hex, the number of files and the
//! first file's path, as seedbox and mirror scripts expect them. The
//! command runs on a thread of its own (never on a core: a script may take
//! minutes), which reaps it and logs how it ended.

use std::process::{Command, Stdio};

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
    let gid = gid.to_string();
    let files = files.to_string();
    tracing::info!("Executing user command: {command} {gid} {files} {first_path}");
    let spawned = std::thread::Builder::new()
        .name("arietta-hook".into())
        .spawn(move || {
            let status = Command::new(&command)
                .args([&gid, &files, &first_path])
                .stdin(Stdio::null())
                .status();
            match status {
                Ok(s) if s.success() => {
                    tracing::info!("User command {command} for GID#{gid} exited: {s}")
                }
                Ok(s) => tracing::warn!("User command {command} for GID#{gid} exited: {s}"),
                Err(e) => tracing::error!("Could not execute user command: {command}: {e}"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!("Cannot execute user command: {e}");
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
