//! A probed response that turns out to be a metalink (by media type or
//! name, `--follow-metalink`) or a torrent (`application/x-bittorrent` or
//! a `.torrent` name, `--follow-torrent`): the downloads it describes start
//! in its place, at the front of the queue, paused with `--pause-metadata`
//! in daemon mode (as aria2's post-download handlers do). With `true` the
//! document is saved like any download (off this thread); with `mem` it is
//! not.

use std::sync::Arc;

use super::{Coordinator, DownloadKind};
use crate::config::DownloadConfig;
use crate::download::{DownloadRequest, LogLevel};
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
        seg.took_whole(body.len() as u64);
        let cfg = seg.cfg().clone();
        for n in &plan.notices {
            self.reporter.notice(LogLevel::Warn, n);
        }
        self.queue_followers(gid, plan.requests);
        let save = cfg.follow_metalink == "true";
        self.finish_followed(gid, cfg, final_url, body, save);
    }

    /// The torrent starts as its own download; one that does not parse
    /// leaves only the saved file, as aria2 logs the error and still
    /// counts the `.torrent` download complete.
    pub(super) fn follow_torrent(&mut self, gid: Gid, final_url: &str, body: Vec<u8>) {
        let Some(a) = self.active.get_mut(&gid) else {
            return;
        };
        let DownloadKind::Segmented(seg) = &mut a.kind else {
            return;
        };
        seg.set_finishing();
        let cfg = seg.cfg().clone();
        let options = a.request.options.clone();
        tracing::info!("GID#{gid} - Generating a download for the torrent at {final_url}");
        match arietta_metainfo::Metainfo::parse(&body) {
            Ok(_) => {
                let mut req = DownloadRequest::new(Vec::new(), options);
                req.torrent = Some(Arc::from(body.as_slice()));
                self.queue_followers(gid, vec![req]);
            }
            Err(e) => self.reporter.notice(
                LogLevel::Error,
                &format!("Exception caught: Could not parse BitTorrent metainfo: {e}"),
            ),
        }
        let save = cfg.follow_torrent == "true";
        self.finish_followed(gid, cfg, final_url, body, save);
    }

    /// A magnet's metadata came: as in aria2, the magnet's own download is
    /// done (complete, named `[MEMORY][METADATA]NAME`) and the torrent it
    /// describes starts as a download of its own at the front of the queue
    /// (paused with `--pause-metadata` in daemon mode), `followedBy` and
    /// `following` linking the two; with `--bt-metadata-only` nothing
    /// follows. Returns `false` for any other torrent, which runs as it is.
    pub(super) fn follow_magnet(
        &mut self,
        gid: Gid,
        dl: &arietta_torrent::TorrentDownload,
    ) -> bool {
        let Some(a) = self.active.get(&gid) else {
            return false;
        };
        let from_magnet = a.request.torrent.is_none()
            && a.request
                .uris
                .first()
                .is_some_and(|u| u.starts_with("magnet:"));
        if !from_magnet {
            return false;
        }
        let options = a.request.options.clone();
        let name = dl.metainfo().name.clone();
        if !options.get_bool("bt-metadata-only") {
            let mut req = DownloadRequest::new(Vec::new(), options);
            req.torrent = Some(crate::bittorrent::torrent_from_metadata(dl.metainfo()).into());
            tracing::info!("GID#{gid} - Generating a download for the magnet's torrent {name}");
            self.queue_followers(gid, vec![req]);
        }
        let shown = format!("[MEMORY][METADATA]{name}");
        let meta = dl.metainfo();
        let len = meta.info_bytes.len() as u64;
        let info = crate::torrent_info::TorrentInfo::of_metadata(
            &hex::encode(dl.info_hash()),
            &name,
            len,
            meta.announce_list.clone(),
        );
        if let Some(t) = self.torrent_mut(gid) {
            t.path = Some(Arc::new(std::path::PathBuf::from(&shown)));
            t.metadata_done = true;
            if let Some(run) = t.run.as_mut() {
                run.info = Arc::new(info);
                let stats = arietta_torrent::TorrentStats::default();
                stats
                    .completed
                    .store(len, std::sync::atomic::Ordering::Relaxed);
                stats.total.store(len, std::sync::atomic::Ordering::Relaxed);
                run.stats = Arc::new(stats);
            }
        }
        self.reporter
            .notice(LogLevel::Notice, &format!("Download complete: {shown}"));
        let r = self.result_of(
            gid,
            crate::download::Status::Complete,
            crate::ExitCode::Success,
            None,
        );
        self.finish_with(r);
        true
    }

    /// Puts the downloads a document describes at the front of the queue,
    /// in order; `--pause-metadata` pauses them in daemon mode (a plain
    /// run would wait for them forever).
    fn queue_followers(&mut self, gid: Gid, requests: Vec<DownloadRequest>) {
        let pause = self.daemon
            && self
                .active
                .get(&gid)
                .is_some_and(|a| a.request.options.get_bool("pause-metadata"));
        let mut children = Vec::with_capacity(requests.len());
        for (k, r) in requests.into_iter().enumerate() {
            let new = self.queue.insert_at(k, r);
            if pause {
                self.queue.pause(new);
            }
            children.push(new);
        }
        self.lineage.record(gid, &children);
        self.changed.push(gid);
    }

    /// Ends the document's own download: saved (`save`, off this thread)
    /// or only in memory.
    fn finish_followed(
        &mut self,
        gid: Gid,
        cfg: Arc<DownloadConfig>,
        final_url: &str,
        body: Vec<u8>,
        save: bool,
    ) {
        let me = self.me.clone();
        // `-o -` names where the content goes: the document is followed
        // from memory, not saved as a file called `-`.
        if !save || cfg.dry_run || cfg.to_stdout() {
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
            let path = match std::fs::write(&path, body) {
                Ok(()) => Some(path),
                Err(e) => {
                    let line = format!("Failed to save {}: {e}", path.display());
                    let _ = me.send(ToCoordinator::Notice {
                        level: LogLevel::Warn,
                        line,
                    });
                    None
                }
            };
            let _ = me.send(ToCoordinator::Finalized {
                gid,
                result: Ok(()),
                path,
            });
        });
    }
}
