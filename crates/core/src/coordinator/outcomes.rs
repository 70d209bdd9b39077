//! How downloads end: complete (after the finishing work), failed,
//! stopped by an interrupt; each becomes a result, an event and a line in
//! the readout.

use super::*;

impl Coordinator {
    pub(super) fn on_finalized(
        &mut self,
        gid: Gid,
        result: Result<(), FetchError>,
        path: Option<PathBuf>,
    ) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        if let Some(p) = path {
            a.set_path(p);
        }
        if let Err(e) = result {
            a.set_error(e);
            return self.fail(gid);
        }
        let sig = a
            .request
            .metalink
            .as_ref()
            .and_then(|m| m.signature.clone());
        if let (Some(sig), Some(p)) = (sig, a.path()) {
            let mut sig_path = p.as_os_str().to_owned();
            sig_path.push(".sig");
            let me = self.me.clone();
            self.disk.run(move || {
                if let Err(e) = std::fs::write(&sig_path, sig) {
                    let line = format!(
                        "Failed to save the signature {}: {e}",
                        std::path::Path::new(&sig_path).display()
                    );
                    let _ = me.send(ToCoordinator::Notice {
                        level: LogLevel::Warn,
                        line,
                    });
                }
            });
        }
        tracing::info!("GID#{gid} - The download was complete.");
        let r = self.result_of(gid, Status::Complete, ExitCode::Success, None);
        if let Some(p) = &r.path {
            self.reporter.notice(
                LogLevel::Notice,
                &format!("Download complete: {}", p.display()),
            );
        }
        self.finish_with(r);
    }

    pub(super) fn fail(&mut self, gid: Gid) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        a.set_finishing();
        let err = a.take_error();
        let (code, msg) = match &err {
            Some(e) => (e.exit_code(), Some(e.to_string())),
            None => (ExitCode::Unknown, None),
        };
        // A connection that gave up already said "Download aborted." with
        // this error, as aria2 says it: once.
        let reported = match (&a.kind, &err) {
            (DownloadKind::Segmented(s), Some(e)) => s.error_reported(e),
            _ => false,
        };
        if let Some(m) = msg.as_ref().filter(|_| !reported) {
            self.reporter.notice(
                LogLevel::Error,
                &format!("Download aborted. gid#{gid}: {m}"),
            );
        }
        // Keep the control file: a later run resumes what was fetched.
        self.save_control(gid);
        let r = self.result_of(gid, Status::Error, code, msg);
        self.finish_with(r);
    }

    pub(super) fn result_of(
        &mut self,
        gid: Gid,
        status: Status,
        code: ExitCode,
        message: Option<String>,
    ) -> DownloadResult {
        tracing::info!(
            "GID#{gid} - Download ended: status={} code={}",
            status.word(),
            code as u8
        );
        self.run_stop_hook(gid, status);
        let a = self.active.remove(&gid).expect("active download");
        self.changed.push(gid);
        // aria2's notices for a download that stops unfinished: paused, or
        // ended (error, removal, shutdown; the path empty before it is
        // known).
        match status {
            Status::Complete => {}
            Status::Paused => self
                .reporter
                .notice(LogLevel::Notice, &format!("Download GID#{gid} paused")),
            _ => {
                let path = a
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                self.reporter.notice(
                    LogLevel::Notice,
                    &format!("Download GID#{gid} not complete: {path}"),
                );
            }
        }
        let snapshot = Some(a.snapshot());
        let uri = match &a.kind {
            DownloadKind::Segmented(s) => {
                s.record_server_stats(&mut self.stats);
                s.first_uri().map(str::to_owned)
            }
            DownloadKind::Torrent(_) => a.request.uris.first().cloned(),
        };
        DownloadResult {
            gid,
            status,
            code,
            message,
            path: a.path().map(|p| (**p).clone()),
            uri: uri.unwrap_or_default(),
            uris: a.request.uris.clone(),
            options: a.request.options.clone(),
            completed: a.completed(),
            total: a.total(),
            session_bytes: a.session_bytes(),
            elapsed: a.started.elapsed(),
            snapshot,
        }
    }

    pub(super) fn finish_with(&mut self, r: DownloadResult) {
        let kind = match r.status {
            Status::Complete => EventKind::Complete,
            Status::Error => EventKind::Error,
            _ => EventKind::Stop,
        };
        self.announce(kind, r.gid);
        self.reporter.finished(&r);
        self.queue.push_result(r);
        self.fill_slots();
    }

    pub(super) fn stop_interrupted(&mut self, gid: Gid) {
        if self.active.get(&gid).is_none_or(Active::finishing) {
            return;
        }
        self.save_control(gid);
        let r = self.result_of(gid, Status::Removed, ExitCode::Unfinished, None);
        self.reporter.finished(&r);
        self.queue.push_result(r);
    }
}
