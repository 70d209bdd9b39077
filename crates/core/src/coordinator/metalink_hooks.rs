//! The coordinator's metalink duties, kept apart from the plain-HTTP flow:
//! piece hashes checked as pieces complete (a bad piece is fetched again
//! and its mirror dropped) and a probed response that turns out to be a
//! metalink (`--follow-metalink`) replaced by the downloads it describes.

use std::sync::Arc;

use super::*;

impl Coordinator {
    /// Bytes reached the disk: record them, hash any piece they completed,
    /// and finalize when the file is whole.
    pub(super) fn on_written(&mut self, gid: Gid, conn: ConnId, start: u64, end: u64) {
        self.mirror_written(gid, conn, end.saturating_sub(start));
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let Some(m) = a.map.as_mut() else { return };
        m.written(start, end);
        a.dirty = true;
        let jobs = match a.pieces.as_mut() {
            Some(p) => p.written(start, end, a.conns.get(&conn).copied(), m.done()),
            None => Vec::new(),
        };
        let complete = m.is_complete() && a.file.as_ref().is_some_and(|f| f.total.is_some());
        for job in jobs {
            self.spawn_piece_check(gid, job);
        }
        if complete {
            self.finalize(gid);
        }
    }

    fn spawn_piece_check(&mut self, gid: Gid, job: PieceJob) {
        let Some(a) = self.active.get(&gid) else {
            return;
        };
        let path = a.path.clone();
        let expected = a.pieces.as_ref().and_then(|p| p.expected(job.index));
        let (Some(path), Some((algo, digest))) = (path, expected) else {
            // Cannot be checked: count it as good rather than wait forever.
            let _ = self.me.send(ToCoordinator::PieceChecked {
                gid,
                index: job.index,
                ok: true,
            });
            return;
        };
        let me = self.me.clone();
        glommio::spawn_local(async move {
            let ok = glommio::executor()
                .spawn_blocking(move || piece_verify::piece_matches(&path, job, algo, &digest))
                .await;
            let _ = me.send(ToCoordinator::PieceChecked {
                gid,
                index: job.index,
                ok,
            });
        })
        .detach();
    }

    /// A piece hash came back. A bad piece leaves the done ranges (and so
    /// the control file), goes to the front of the free list, and the
    /// mirrors that wrote it are dropped while another mirror is left; a
    /// lone mirror is charged a try instead, so `--max-tries` ends a
    /// download whose only source keeps serving bad bytes.
    pub(super) fn on_piece_checked(&mut self, gid: Gid, index: usize, ok: bool) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let Some(p) = a.pieces.as_mut() else { return };
        let algo = p.algo_name();
        let Some((job, sources)) = p.checked(index, ok) else {
            if a.map.as_ref().is_some_and(SegmentMap::is_complete) {
                self.finalize(gid);
            }
            return;
        };
        if let Some(m) = a.map.as_mut() {
            m.invalidate(job.start, job.end);
        }
        a.dirty = true;
        a.last_error = Some(FetchError::PieceHash {
            index,
            algo: algo.to_owned(),
        });
        let others_live = a
            .uris
            .iter()
            .enumerate()
            .any(|(i, u)| !u.dead && !sources.contains(&i));
        let mut dropped = Vec::new();
        for &u in &sources {
            let st = &mut a.uris[u];
            if others_live {
                st.dead = true;
            } else {
                st.tries += 1;
                let max = a.cfg.max_tries;
                st.dead = max != 0 && st.tries >= max;
            }
            if st.dead {
                dropped.push(st.url.clone());
            }
        }
        let mut line = format!(
            "Piece #{index} (bytes {}-{}) failed its {algo} chunk checksum; fetching it again",
            job.start,
            job.end - 1
        );
        if !dropped.is_empty() {
            line.push_str(&format!(", dropping mirror {}", dropped.join(", ")));
        }
        self.reporter.notice(LogLevel::Warn, &line);
        if !others_live && !dropped.is_empty() {
            // The last mirror keeps serving bad bytes: give up now rather
            // than let its running connections fetch more of them.
            a.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            self.fail(gid);
            return;
        }
        self.save_control(gid, true);
        self.add_connections(gid);
        self.check_stalled(gid);
    }

    /// The probe found a metalink (by media type or name) and
    /// `--follow-metalink` is on: start the files it describes in its
    /// place, right at the front of the queue. With `true` the document is
    /// saved like any download; with `mem` it is not.
    pub(super) fn follow_metalink(&mut self, gid: Gid, final_url: &str, body: &[u8]) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let base = url::Url::parse(final_url).ok();
        let plan = match metalink_plan::plan(body, base.as_ref(), &a.request.options) {
            Ok(p) => p,
            Err(e) => {
                // The probe's ConnEnded finds no live mirror and fails the
                // download with this error (aria2's exit code 20).
                a.last_error = Some(e);
                for u in &mut a.uris {
                    u.dead = true;
                }
                return;
            }
        };
        a.finishing = true;
        let mut notices = plan.notices;
        if a.cfg.follow_metalink == "true" && !a.cfg.dry_run {
            let mut path = prepare::planned_path(&a.cfg, final_url);
            if path.exists() && !a.cfg.allow_overwrite {
                path = arietta_storage::auto_rename(&path).unwrap_or(path);
            }
            match std::fs::write(&path, body) {
                Ok(()) => a.path = Some(Arc::new(path)),
                Err(e) => notices.push(format!(
                    "Failed to save the metalink {}: {e}",
                    path.display()
                )),
            }
        }
        for n in notices {
            self.reporter.notice(LogLevel::Warn, &n);
        }
        for (k, r) in plan.requests.into_iter().enumerate() {
            self.waiting.insert(k.min(self.waiting.len()), r);
        }
        let _ = self.me.send(ToCoordinator::Finalized {
            gid,
            result: Ok(()),
        });
    }
}
