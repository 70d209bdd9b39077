//! Where the coordinator runs aria2's hooks ([`crate::hooks`]) and what it
//! tells them: the download's selected files as they stand at that moment
//! (an HTTP download has no path until its server answered; a magnet has
//! no files until its metadata came).

use super::{Coordinator, DownloadKind};
use crate::download::Status;
use crate::gid::Gid;
use crate::hooks::{self, Hook, HookTarget};

impl Coordinator {
    fn hook_target(&self, gid: Gid) -> Option<HookTarget> {
        let a = self.active.get(&gid)?;
        let (files, first_path) = match &a.kind {
            DownloadKind::Segmented(_) => (1, a.path().map(|p| p.display().to_string())),
            DownloadKind::Torrent(t) => {
                let files = t
                    .run
                    .as_ref()
                    .map(|r| r.info.files.as_slice())
                    .unwrap_or(&[]);
                let mut selected = files.iter().filter(|f| f.selected);
                let first = selected.next().map(|f| f.path.display().to_string());
                (first.iter().count() + selected.count(), first)
            }
        };
        Some(HookTarget {
            gid,
            files,
            first_path: first_path.unwrap_or_default(),
        })
    }

    /// Runs `hook` for the active download `gid`, if its options name a
    /// command.
    pub(super) fn run_hook(&self, hook: Hook, gid: Gid) {
        let Some(a) = self.active.get(&gid) else {
            return;
        };
        if a.request
            .options
            .get_opt_str(hook.option())
            .is_none_or(str::is_empty)
        {
            return;
        }
        if let Some(target) = self.hook_target(gid) {
            hooks::run(&a.request.options, hook, target);
        }
    }

    /// The hook for an active download ending with `status` (see
    /// [`hooks::stop_hook`]); called before it leaves the active set.
    pub(super) fn run_stop_hook(&self, gid: Gid, status: Status) {
        let Some(a) = self.active.get(&gid) else {
            return;
        };
        if let Some(hook) = hooks::stop_hook(&a.request.options, status) {
            self.run_hook(hook, gid);
        }
    }
}
