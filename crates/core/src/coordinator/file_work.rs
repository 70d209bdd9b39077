//! The coordinator's file work, queued on [`DiskJobs`](super::disk_jobs):
//! control-file snapshots, finishing work, piece hashes, the session and
//! what is saved at exit.

use super::*;

impl Coordinator {
    /// Server stats, the session and cookies, queued as file work.
    pub(super) fn save_at_exit(&mut self) {
        if let Some(path) = self.stat_out.clone() {
            let stats = self.stats.clone();
            let me = self.me.clone();
            self.disk.run(move || {
                if let Err(e) = stats.save(&path) {
                    let line =
                        format!("Failed to save the server stats to {}: {e}", path.display());
                    let _ = me.send(error_notice(line));
                }
            });
        }
        self.write_session(None);
        if let Some(p) = self.save_cookies.clone() {
            let net = self.net.clone();
            let me = self.me.clone();
            self.disk.run(move || {
                if let Err(e) = net.save_cookies(&p) {
                    let _ = me.send(error_notice(format!("Failed to save cookies to {p}: {e}")));
                }
            });
        }
    }

    /// Hashes a completed metalink piece on the blocking pool.
    pub(super) fn check_piece(
        &mut self,
        gid: Gid,
        index: usize,
        check: Option<crate::segmented::PieceCheck>,
    ) {
        let me = self.me.clone();
        let Some(c) = check else {
            let _ = me.send(ToCoordinator::PieceChecked {
                gid,
                index,
                ok: true,
            });
            return;
        };
        glommio::spawn_local(async move {
            let ok = glommio::executor()
                .spawn_blocking(move || {
                    crate::piece_verify::piece_matches(&c.path, c.job, c.algo, &c.digest)
                })
                .await;
            let _ = me.send(ToCoordinator::PieceChecked { gid, index, ok });
        })
        .detach();
    }

    /// Runs a download's finishing work in order with its control-file
    /// saves, then reports `Finalized`.
    pub(super) fn finalize(&mut self, gid: Gid, job: Option<crate::segmented::FinishJob>) {
        tracing::debug!("GID#{gid} - All bytes written; finishing");
        let me = self.me.clone();
        let Some(job) = job else {
            let _ = me.send(ToCoordinator::Finalized {
                gid,
                result: Ok(()),
                path: None,
            });
            return;
        };
        if let Some(len) = job.stream_len {
            // Not on `DiskJobs`: a slow reader may take its time, and the
            // queue's other work must not wait for it.
            glommio::spawn_local(async move {
                let result = glommio::executor()
                    .spawn_blocking(move || prepare::finish_stream(&job.cfg, len))
                    .await;
                let _ = me.send(ToCoordinator::Finalized {
                    gid,
                    result,
                    path: None,
                });
            })
            .detach();
            return;
        }
        self.disk.run(move || {
            let result = prepare::finish(
                &job.cfg,
                &job.path,
                job.control,
                job.last_modified,
                job.verified,
            );
            let _ = me.send(ToCoordinator::Finalized {
                gid,
                result,
                path: None,
            });
        });
    }

    /// Queues a snapshot of the download's control file (none for a
    /// torrent here: its actor keeps its own).
    pub(super) fn save_control(&mut self, gid: Gid) {
        let Some(Active {
            kind: DownloadKind::Segmented(seg),
            ..
        }) = self.active.get_mut(&gid)
        else {
            return;
        };
        let Some((path, rec)) = seg.control_snapshot() else {
            return;
        };
        tracing::trace!("GID#{gid} - Saving control file {}", path.display());
        let me = self.me.clone();
        self.disk.run(move || {
            if let Err(e) = rec.save(&path) {
                let _ = me.send(error_notice(format!("Failed to save control file: {e}")));
            }
        });
    }

    /// Writes `--save-session` (a no-op without it): every unfinished
    /// download, active ones first, in queue order. The text is made here;
    /// the file is written with the other file work, and `reply` (from
    /// `aria2.saveSession`) hears how that went.
    pub(super) fn write_session(
        &mut self,
        reply: Option<MailboxSender<Result<(), crate::control::ControlError>>>,
    ) {
        let Some(path) = self.save_session.clone() else {
            return;
        };
        self.last_session_save = Instant::now();
        let text = session_file::render(&self.session_entries());
        let me = self.me.clone();
        self.disk.run(move || {
            let r = session_file::save(&path, &text);
            if let Err(e) = &r {
                let _ = me.send(error_notice(format!("Failed to save the session: {e}")));
            }
            if let Some(reply) = reply {
                let _ = reply.send(r.map_err(|e| crate::control::ControlError(e.to_string())));
            }
        });
    }
}

pub(super) fn error_notice(line: String) -> ToCoordinator {
    ToCoordinator::Notice {
        level: LogLevel::Error,
        line,
    }
}
