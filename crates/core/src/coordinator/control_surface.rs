//! What RPC can ask of the coordinator (`aria2.addUri`, `tellStatus`,
//! `pause`, `changeOption`, …): each [`Control`] is answered from the very
//! state the coordinator acts on, through the one-shot mailbox it carries.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Active, Coordinator, DownloadKind, Halt};
use crate::control::{
    BtStatus, Control, ControlError, DownloadStatus, GlobalStat, ListKind, RunSnapshot,
};
use crate::download::{DownloadRequest, DownloadResult, Status};
use crate::exit_code::ExitCode;
use crate::gid::Gid;
use crate::piece_view::PieceView;
use crate::session_file::SessionEntry;
use crate::status_board::{slice_like_aria2, Order};

impl Coordinator {
    pub(super) fn on_control(&mut self, c: Control) {
        match c {
            Control::Add {
                request,
                position,
                reply,
            } => {
                if request.gid.is_some_and(|g| self.gid_in_use(g)) {
                    let _ = reply.send(Err(ControlError("No URI to download.".into())));
                    return;
                }
                let _ = reply.send(Ok(self.queue.add(request, position)));
                self.fill_slots();
            }
            Control::Status { gid, reply } => {
                let _ = reply.send(self.status_of(gid));
            }
            Control::List {
                which,
                offset,
                num,
                reply,
            } => {
                let _ = reply.send(self.list(which, offset, num));
            }
            Control::GlobalStat { reply } => {
                let _ = reply.send(self.global_stat());
            }
            Control::Remove { gid, force, reply } => {
                let _ = reply.send(self.remove(gid, force));
            }
            Control::Pause { gid, force, reply } => {
                let _ = reply.send(self.pause(gid, force));
            }
            Control::Unpause { gid, reply } => {
                // aria2 names a GID it does not know before it looks at
                // the download's state.
                let r = if !self.gid_in_use(gid) {
                    Err(ControlError::no_gid(gid))
                } else if self.queue.unpause(gid) {
                    self.fill_slots();
                    Ok(gid)
                } else {
                    Err(ControlError(format!("GID#{gid} cannot be unpaused now")))
                };
                let _ = reply.send(r);
            }
            Control::PauseAll { force, reply } => {
                // The waiting ones first, so no slot a paused download
                // frees starts one of them; then the active ones in the
                // order they started, each put at the queue's front as
                // aria2 does (its queue reads last started first).
                let mut active: Vec<(&Gid, &Active)> = self.active.iter().collect();
                active.sort_by_key(|(_, a)| a.start_seq);
                let gids: Vec<Gid> = self
                    .queue
                    .waiting()
                    .filter_map(|r| r.gid)
                    .chain(active.into_iter().map(|(g, _)| *g))
                    .collect();
                for gid in gids {
                    let _ = self.pause(gid, force);
                }
                let _ = reply.send(());
            }
            Control::UnpauseAll { reply } => {
                self.queue.unpause_all();
                self.fill_slots();
                let _ = reply.send(());
            }
            Control::ChangePosition {
                gid,
                pos,
                whence,
                reply,
            } => {
                let _ = reply.send(self.queue.change_position(gid, pos, whence));
            }
            Control::RemoveResult { gid, reply } => {
                // aria2 names a GID it has never heard of (or forgotten)
                // before it looks among the results.
                let r = if self.gid_in_use(gid) {
                    self.queue.remove_result(gid)
                } else {
                    Err(ControlError::no_gid(gid))
                };
                let _ = reply.send(r);
                self.forget_gone_links();
            }
            Control::PurgeResults { reply } => {
                self.queue.purge_results();
                let _ = reply.send(());
                self.forget_gone_links();
            }
            Control::SetMaxConcurrent { n } => {
                self.queue.set_max_concurrent(n);
                self.fill_slots();
            }
            Control::SetOptimizeConcurrent { value } => {
                self.optimizer = super::concurrency::ConcurrencyOptimizer::from_option(&value);
                self.fill_slots();
            }
            Control::SetMaxResults { n } => self.queue.set_max_results(n),
            Control::SetSaveSession { path } => self.save_session = path,
            Control::SetOverallLimit { bytes_per_sec } => {
                self.net.overall_limit.set_rate(bytes_per_sec);
            }
            Control::SetOverallUploadLimit { bytes_per_sec } => {
                arietta_torrent::set_overall_upload_limit(bytes_per_sec);
            }
            Control::Subscribe { events } => self.subscribers.push(events),
            Control::ChangeOption {
                gid,
                options,
                reply,
            } => {
                let _ = reply.send(self.change_option(gid, &options));
            }
            Control::ChangeUri {
                gid,
                del,
                add,
                position,
                reply,
            } => {
                let _ = reply.send(self.change_uri(gid, &del, &add, position));
            }
            Control::SaveSession { reply } => {
                if self.save_session.is_none() {
                    let _ = reply.send(Err(ControlError("Filename is not given.".into())));
                } else {
                    self.write_session(Some(reply));
                }
            }
            Control::Shutdown { force } => {
                // Graceful or forced, progress is saved: the control file
                // makes a later run resume. As in aria2, what was running
                // stays in the session file written at exit (an unfinished
                // result) and makes the exit code 7. A graceful shutdown
                // waits for each torrent's `stopped` announce; a forced one
                // does not send it.
                self.shutdown = true;
                let gids: Vec<Gid> = self.active.keys().copied().collect();
                for gid in gids {
                    if self.winds_down(gid) {
                        let halt = self.active.get(&gid).and_then(|a| a.halt);
                        self.halt(gid, halt.unwrap_or(Halt::Shutdown), force);
                        continue;
                    }
                    if let Some(r) = self.stop_active(gid, Status::Removed, ExitCode::Unfinished) {
                        self.reporter.finished(&r);
                        self.queue.push_result(r);
                    }
                }
            }
        }
    }

    /// Drops the `followedBy`/`following` links of downloads RPC no
    /// longer shows.
    fn forget_gone_links(&mut self) {
        let Coordinator {
            lineage,
            active,
            queue,
            ..
        } = self;
        lineage.retain(|g| {
            active.contains_key(&g)
                || queue.contains(g)
                || queue.results().iter().any(|r| r.gid == g)
        });
    }

    /// Whether a download with `gid` is active, queued or among the results.
    fn gid_in_use(&self, gid: Gid) -> bool {
        self.active.contains_key(&gid)
            || self.queue.contains(gid)
            || self.queue.results().iter().any(|r| r.gid == gid)
    }

    fn global_stat(&self) -> GlobalStat {
        GlobalStat {
            download_speed: self.active.values().map(Active::speed).sum(),
            upload_speed: self.active.values().map(Active::upload_speed).sum(),
            num_active: self.active.len(),
            num_waiting: self.queue.waiting_len(),
            num_stopped: self.queue.results().len(),
            num_stopped_total: self.queue.stopped_total(),
            completed_bytes: self.active.values().map(Active::completed).sum::<u64>()
                + self.queue.results_completed(),
            connections: self.active.values().map(Active::connections).sum(),
        }
    }

    /// Stops an active download now: its connections stop at their next
    /// chunk and its control file is saved.
    pub(super) fn stop_active(
        &mut self,
        gid: Gid,
        status: Status,
        code: ExitCode,
    ) -> Option<DownloadResult> {
        let a = self.active.get(&gid)?;
        a.stop.store(true, Ordering::Relaxed);
        self.save_control(gid);
        Some(self.result_of(gid, status, code, None))
    }

    /// As aria2c 1.36: a removed active download is a stopped result with
    /// `errorCode` 31; a removed waiting one is simply gone (not in
    /// `tellStopped`, not counted in `numStoppedTotal`).
    ///
    /// A torrent stays active until its actor has stopped: `remove` lets
    /// it tell the trackers it leaves (aria2's graceful halt waits for
    /// that announce), `forceRemove` does not.
    fn remove(&mut self, gid: Gid, force: bool) -> Result<Gid, ControlError> {
        if self.winds_down(gid) {
            self.halt(gid, Halt::Remove, force);
            return Ok(gid);
        }
        if let Some(r) = self.stop_active(gid, Status::Removed, ExitCode::Removed) {
            self.finish_with(r);
            return Ok(gid);
        }
        // No notification: aria2 drops a waiting download from its queue
        // without one (its onDownloadStop comes from a stopping group).
        self.queue
            .remove_waiting(gid)
            .ok_or_else(|| ControlError::no_gid(gid))?;
        Ok(gid)
    }

    /// Active → stopped and re-queued at the front, paused; waiting →
    /// paused in place. A paused download resumes from its control file.
    /// A torrent pauses once its actor has stopped (after the `stopped`
    /// announce, unless `force`).
    fn pause(&mut self, gid: Gid, force: bool) -> Result<Gid, ControlError> {
        if let Some(a) = self.active.get(&gid) {
            match a.halt {
                None => {}
                // As aria2: a forced pause may hurry a graceful one; any
                // other pause of a stopping download is refused.
                Some(h @ (Halt::Pause | Halt::Restart)) if force => {
                    self.halt(gid, h, true);
                    return Ok(gid);
                }
                Some(_) => return Err(ControlError(format!("GID#{gid} cannot be paused now"))),
            }
            if self.winds_down(gid) {
                self.halt(gid, Halt::Pause, force);
            } else {
                self.requeue(gid, true);
            }
            return Ok(gid);
        }
        if self.queue.contains(gid) {
            if !self.queue.pause(gid) {
                // aria2 refuses to pause what is already paused.
                return Err(ControlError(format!("GID#{gid} cannot be paused now")));
            }
            self.announce(crate::control::EventKind::Pause, gid);
            return Ok(gid);
        }
        Err(ControlError::no_gid(gid))
    }

    /// Whether `gid` is a torrent whose actor reports its own end: a stop
    /// then waits for it (its `stopped` announce, its control file).
    fn winds_down(&self, gid: Gid) -> bool {
        matches!(
            self.active.get(&gid),
            Some(Active { kind: DownloadKind::Torrent(t), .. }) if t.run.is_some()
        )
    }

    /// Tells a download that winds down to stop; [`Coordinator::halted`]
    /// does what `halt` says once it has. `force` only ever raises the
    /// force flag: a graceful request never slows a forced stop.
    fn halt(&mut self, gid: Gid, halt: Halt, force: bool) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        a.halt = Some(halt);
        if force {
            if let DownloadKind::Torrent(t) = &a.kind {
                if let Some(run) = &t.run {
                    run.force_stop.store(true, Ordering::Relaxed);
                }
            }
        }
        a.stop.store(true, Ordering::Relaxed);
    }

    /// A download told to stop by [`Coordinator::halt`] has stopped.
    pub(super) fn halted(&mut self, gid: Gid, halt: Halt, download_done: bool) {
        match halt {
            // aria2 reports a removed torrent that was only seeding as
            // complete.
            Halt::Remove if download_done => {
                self.notify_torrent_done(gid);
                self.report_torrent_finished(gid);
                let r = self.result_of(gid, Status::Complete, ExitCode::Success, None);
                self.finish_with(r);
            }
            Halt::Remove => {
                let r = self.result_of(gid, Status::Removed, ExitCode::Removed, None);
                self.finish_with(r);
            }
            Halt::Pause => self.requeue(gid, true),
            Halt::Restart => self.requeue(gid, false),
            Halt::Shutdown => {
                let r = self.result_of(gid, Status::Removed, ExitCode::Unfinished, None);
                self.reporter.finished(&r);
                self.queue.push_result(r);
            }
        }
    }

    /// Stops an active download now and puts it back at the queue's front
    /// (it resumes from its control file): `paused`, or waiting to start
    /// again at once with its changed options (aria2's restart, which
    /// neither announces a pause nor runs the pause hook).
    fn requeue(&mut self, gid: Gid, paused: bool) {
        let Some(a) = self.active.get(&gid) else {
            return;
        };
        let mut request = a.request.clone();
        // A paused download still shows its progress, as aria2's
        // stopped group keeps its piece storage.
        request.snapshot = Some(a.snapshot());
        // Resuming must continue our own partial file, never rename it.
        let mut opts = (*request.options).clone();
        let _ = opts.set("continue", "true");
        request.options = Arc::new(opts);
        if paused {
            self.stop_active(gid, Status::Paused, ExitCode::Success);
            self.queue.requeue_paused(gid, request);
            self.announce(crate::control::EventKind::Pause, gid);
        } else {
            a.stop.store(true, Ordering::Relaxed);
            self.save_control(gid);
            tracing::info!("GID#{gid} - Restarting with changed options");
            self.active.remove(&gid);
            self.queue.insert_at(0, request);
        }
        self.fill_slots();
    }

    fn request_mut(&mut self, gid: Gid) -> Option<&mut DownloadRequest> {
        if let Some(a) = self.active.get_mut(&gid) {
            self.changed.push(gid);
            return Some(&mut a.request);
        }
        self.queue.get_mut(gid)
    }

    fn change_option(
        &mut self,
        gid: Gid,
        options: &[(String, String)],
    ) -> Result<(), ControlError> {
        // aria2 restarts a running download for an option it cannot apply
        // in place, unless it is stopping already (then the option waits
        // for its next start).
        let running = self.active.get(&gid).is_some_and(|a| a.halt.is_none());
        let mut restart = false;
        let req = self
            .request_mut(gid)
            .ok_or_else(|| ControlError::no_gid(gid))?;
        let mut set = (*req.options).clone();
        for (k, v) in options {
            match set.change_for_download(k, v) {
                Ok(()) => {
                    restart |= running
                        && !arietta_options::find_option(k).is_some_and(|d| d.changes_live());
                }
                // aria2 leaves such an option out and answers OK.
                Err(e) if e.skipped_by_rpc() => {
                    tracing::info!("GID#{gid} - changeOption ignores {k}: {e}");
                }
                Err(e) => return Err(ControlError(e.rpc_message())),
            }
        }
        let limit = set.get_size("max-download-limit");
        let live = arietta_torrent::LiveOptions::from_options(&set);
        req.options = Arc::new(set);
        match self.active.get(&gid) {
            Some(Active {
                kind: DownloadKind::Torrent(t),
                ..
            }) => {
                if let Some(link) = t.run.as_ref().and_then(|r| r.live.as_ref()) {
                    link.change(live);
                }
            }
            Some(a) => {
                if let Some(l) = &a.limit {
                    l.set_rate(limit);
                }
            }
            None => {}
        }
        if restart {
            if self.winds_down(gid) {
                self.halt(gid, Halt::Restart, false);
            } else {
                self.requeue(gid, false);
            }
        }
        Ok(())
    }

    fn change_uri(
        &mut self,
        gid: Gid,
        del: &[String],
        add: &[String],
        position: Option<usize>,
    ) -> Result<(usize, usize), ControlError> {
        let req = self
            .request_mut(gid)
            .ok_or_else(|| ControlError::no_gid(gid))?;
        let mut deleted = 0;
        for d in del {
            // aria2 removes one occurrence per listed URI.
            if let Some(i) = req.uris.iter().position(|u| u == d) {
                req.uris.remove(i);
                deleted += 1;
            }
        }
        let at = position.unwrap_or(usize::MAX).min(req.uris.len());
        for (k, u) in add.iter().enumerate() {
            req.uris.insert(at + k, u.clone());
        }
        self.with_segmented(gid, |seg, ctx, out| seg.change_uris(del, add, ctx, out));
        Ok((deleted, add.len()))
    }

    /// Republishes, in daemon mode, the status of every download that may
    /// have changed since the last call, and the global numbers; called
    /// after each message, before the coordinator yields.
    pub(super) fn publish(&mut self) {
        // Every start, stop, requeue and move touches the queue; progress
        // does not, so the lists' order is rebuilt only after those.
        let moved = self.queue.was_touched();
        let mut changed = std::mem::take(&mut self.changed);
        changed.extend(self.queue.take_touched());
        if self.board.is_none() {
            return;
        }
        let global = self.global_stat_cached();
        changed.sort_unstable();
        changed.dedup();
        let order = moved.then(|| self.order());
        let statuses = changed.into_iter().map(|g| (g, self.status_of(g)));
        if let Some(board) = &self.board {
            board.publish(statuses, global, order);
        }
    }

    /// [`global_stat`](Self::global_stat), summed over the active
    /// downloads only once per tick or when a download starts or stops:
    /// summing after every message made a 10,000-torrent start-up
    /// quadratic. Between ticks the speeds and byte counts may lag by one
    /// tick; the counts are always current.
    fn global_stat_cached(&mut self) -> GlobalStat {
        let counts = (
            self.active.len(),
            self.queue.waiting_len(),
            self.queue.results().len(),
            self.queue.stopped_total(),
        );
        match &self.global {
            Some(g)
                if (
                    g.num_active,
                    g.num_waiting,
                    g.num_stopped,
                    g.num_stopped_total,
                ) == counts =>
            {
                g.clone()
            }
            _ => {
                let g = self.global_stat();
                self.global = Some(g.clone());
                g
            }
        }
    }

    /// The GIDs of `tellActive`, `tellWaiting` and `tellStopped`, in order.
    fn order(&self) -> Order {
        let mut active: Vec<(&Gid, &Active)> = self.active.iter().collect();
        active.sort_by_key(|(_, a)| a.start_seq);
        Order {
            active: active.into_iter().map(|(g, _)| *g).collect(),
            waiting: self.queue.waiting_gids().collect(),
            stopped: self.queue.results().iter().map(|r| r.gid).collect(),
        }
    }

    fn status_of(&self, gid: Gid) -> Option<DownloadStatus> {
        let mut st = if let Some(a) = self.active.get(&gid) {
            active_status(a, gid)
        } else if let Some(r) = self.queue.get(gid) {
            self.queued_status(r)
        } else {
            self.queue
                .results()
                .iter()
                .rev()
                .find(|r| r.gid == gid)
                .map(stopped_status)?
        };
        self.lineage.fill(&mut st);
        Some(st)
    }

    fn queued_status(&self, r: &DownloadRequest) -> DownloadStatus {
        let gid = r.gid.unwrap_or(Gid(0));
        let snap = r.snapshot.as_deref();
        let piece_length = r.options.get_size("piece-length");
        let pieces = match snap {
            Some(RunSnapshot {
                pieces: Some(p), ..
            }) => p.clone(),
            // A torrent not yet run: its pieces are known, none checked.
            Some(RunSnapshot {
                torrent: Some(t), ..
            }) => PieceView::from_bits(t.stream_length, t.piece_length, t.num_pieces, None),
            _ => PieceView::unknown(piece_length),
        };
        let total = snap.map_or(0, |s| s.total);
        let completed = snap.map_or(0, |s| s.completed);
        DownloadStatus {
            gid,
            status: if self.queue.is_paused(gid) {
                Status::Paused
            } else {
                Status::Waiting
            },
            total,
            completed,
            download_speed: 0,
            upload_length: snap.map_or(0, |s| s.uploaded),
            upload_speed: 0,
            connections: 0,
            dir: crate::config::download_dir(&r.options),
            path: snap
                .and_then(|s| s.path.clone())
                .or_else(|| planned_path(&r.options)),
            uris: r.uris.clone(),
            error_code: None,
            error_message: None,
            options: r.options.clone(),
            pieces,
            bittorrent: snap.and_then(|s| s.torrent.clone()).map(|info| BtStatus {
                info,
                num_seeders: 0,
                seeder: Some(total > 0 && completed == total),
                peers: Vec::new(),
            }),
            servers: Vec::new(),
            following: None,
            followed_by: Vec::new(),
            belongs_to: None,
        }
    }

    fn list(&self, which: ListKind, offset: i64, num: usize) -> Vec<DownloadStatus> {
        let all: Vec<DownloadStatus> = match which {
            ListKind::Active => {
                // In the order they started, as aria2 lists them.
                let mut v: Vec<(&Gid, &Active)> = self.active.iter().collect();
                v.sort_by_key(|(_, a)| a.start_seq);
                v.into_iter().map(|(g, a)| active_status(a, *g)).collect()
            }
            ListKind::Waiting => self
                .queue
                .waiting()
                .map(|r| self.queued_status(r))
                .collect(),
            ListKind::Stopped => self.queue.results().iter().map(stopped_status).collect(),
        };
        let mut v = slice_like_aria2(&all, offset, num);
        for st in &mut v {
            self.lineage.fill(st);
        }
        v
    }

    /// Every unfinished download for `--save-session`: active ones first
    /// (in start order), then the queue's.
    pub(super) fn session_entries(&self) -> Vec<SessionEntry> {
        let mut active: Vec<&Active> = self.active.values().filter(|a| !a.finishing()).collect();
        active.sort_by_key(|a| a.start_seq);
        active
            .iter()
            .map(|a| SessionEntry {
                request: a.request.clone(),
                paused: false,
            })
            .chain(self.queue.session_entries())
            .collect()
    }
}

fn active_status(a: &Active, gid: Gid) -> DownloadStatus {
    DownloadStatus {
        gid,
        status: Status::Active,
        total: a.total(),
        completed: a.completed(),
        download_speed: a.speed(),
        upload_length: a.upload_length(),
        upload_speed: a.upload_speed(),
        connections: a.connections(),
        dir: a.cfg().dir.clone(),
        path: a.path().map(|p| (**p).clone()),
        uris: a.request.uris.clone(),
        error_code: None,
        error_message: None,
        options: a.request.options.clone(),
        pieces: a.pieces(),
        bittorrent: match &a.kind {
            DownloadKind::Torrent(t) => Coordinator::bt_status(t),
            DownloadKind::Segmented(_) => None,
        },
        servers: a.servers(),
        following: None,
        followed_by: Vec::new(),
        belongs_to: None,
    }
}

fn stopped_status(r: &DownloadResult) -> DownloadStatus {
    let snap = r.snapshot.as_deref();
    let piece_length = r.options.get_size("piece-length");
    DownloadStatus {
        gid: r.gid,
        status: r.status,
        total: r.total,
        completed: r.completed,
        download_speed: 0,
        upload_length: snap.map_or(0, |s| s.uploaded),
        upload_speed: 0,
        connections: 0,
        dir: crate::config::download_dir(&r.options),
        path: r.path.clone().or_else(|| planned_path(&r.options)),
        uris: r.uris.clone(),
        error_code: Some(r.code),
        error_message: r.message.clone(),
        options: r.options.clone(),
        pieces: snap
            .and_then(|s| s.pieces.clone())
            .unwrap_or_else(|| PieceView::unknown(piece_length)),
        // aria2 shows a stopped torrent's metainfo, no seeder flag and no
        // seeders.
        bittorrent: snap.and_then(|s| s.torrent.clone()).map(|info| BtStatus {
            info,
            num_seeders: 0,
            seeder: None,
            peers: Vec::new(),
        }),
        servers: Vec::new(),
        following: None,
        followed_by: Vec::new(),
        belongs_to: None,
    }
}

/// Where a download that has not named its file yet will write: aria2
/// shows `dir/out` when `--out` is given (and nothing otherwise).
fn planned_path(o: &arietta_options::OptionSet) -> Option<std::path::PathBuf> {
    let out = o.get_opt_str("out").filter(|s| !s.is_empty())?;
    Some(crate::prepare::apply_dir(
        &crate::config::download_dir(o),
        out,
    ))
}
