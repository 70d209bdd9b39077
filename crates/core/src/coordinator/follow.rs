//! A probed response that turns out to be a metalink (by media type or
//! name) with `--follow-metalink` on: the files it describes start in its
//! place, at the front of the queue. With `true` the document is saved like
//! any download (off this thread); with `mem` it is not.

use super::{Coordinator, DownloadKind};
use crate::gid::Gid;
use crate::messages::ToCoordinator;
use crate::{metalink_plan, prepare};

impl Coordinator {
    pub(super) fn follow_metalink(&mut self, gid: Gid, final_url: &str, body: Vec<u8>) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let DownloadKind::Segmented(seg) = &mut a.kind else {
            return;
        };
        let base = url::Url::parse(final_url).ok();
        let plan = match metalink_plan::plan(&body, base.as_ref(), &a.request.options) {
            Ok(p) => p,
            Err(e) => {
                // The probe's ConnEnded finds no live mirror and fails the
                // download with this error (aria2's exit code 20).
                seg.give_up(e);
                return;
            }
        };
        seg.set_finishing();
        let cfg = seg.cfg().clone();
        for n in &plan.notices {
            self.reporter.notice(crate::download::LogLevel::Warn, n);
        }
        for (k, r) in plan.requests.into_iter().enumerate() {
            self.queue.insert_at(k, r);
        }
        let me = self.me.clone();
        if cfg.follow_metalink != "true" || cfg.dry_run {
            let _ = me.send(ToCoordinator::Finalized {
                gid,
                result: Ok(()),
                path: None,
            });
            return;
        }
        let mut path = prepare::planned_path(&cfg, final_url);
        self.disk.run(move || {
            if path.exists() && !cfg.allow_overwrite {
                path = arietta_storage::auto_rename(&path).unwrap_or(path);
            }
            let saved = match std::fs::write(&path, body) {
                Ok(()) => Some(path),
                Err(e) => {
                    let line = format!("Failed to save the metalink {}: {e}", path.display());
                    let _ = me.send(ToCoordinator::Notice {
                        level: crate::download::LogLevel::Warn,
                        line,
                    });
                    None
                }
            };
            let _ = me.send(ToCoordinator::Finalized {
                gid,
                result: Ok(()),
                path: saved,
            });
        });
    }
}
