//! The control file (`NAME.aria2`) of a running torrent, saved on the
//! blocking pool. Saves run one after another in the order asked, so an
//! older snapshot never lands after a newer one, and each snapshot holds
//! only pieces that passed their hash check, which were read back from
//! disk: the file never claims bytes that are not there.

use arietta_storage::control_path;
use tracing::Instrument;

use super::Session;
use crate::resume;

/// The last save asked for; each save waits for the one before it.
#[derive(Default)]
pub(super) struct ControlSaves {
    last: Option<glommio::Task<()>>,
}

impl ControlSaves {
    /// Waits for every save asked for so far.
    async fn settle(&mut self) {
        if let Some(t) = self.last.take() {
            t.await;
        }
    }
}

impl Session {
    /// Brings the control file up to date, as aria2's periodic save does:
    /// the file of a torrent with every piece here is removed (kept with
    /// `--force-save`), any other gets a snapshot of the verified pieces,
    /// so one whose `--select-file` files are done keeps it, as aria2's
    /// `allDownloadFinished` test does. Either is queued behind the saves
    /// before it.
    pub(super) fn save_control(&mut self) {
        let changed = std::mem::take(&mut self.dirty);
        let remove = self.have.is_full() && !self.dl.cfg.force_save;
        if !remove && self.control_current && !changed {
            return;
        }
        self.control_current = !remove;
        let path = control_path(&self.dl.layout.root);
        let job: Box<dyn FnOnce() -> Result<(), String> + Send> = if remove {
            Box::new(move || match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!(
                    "Removing the control file {} failed: {e}",
                    path.display()
                )),
                _ => Ok(()),
            })
        } else {
            let rec = resume::record(&self.dl.layout, &self.have, &self.dl.info_hash);
            Box::new(move || {
                rec.save(&path)
                    .map_err(|e| format!("Saving the control file {} failed: {e}", path.display()))
            })
        };
        let previous = self.control.last.take();
        self.control.last = Some(glommio::spawn_local(
            async move {
                if let Some(p) = previous {
                    p.await;
                }
                // Small (a range per run of pieces) and at most twice a second.
                if let Err(e) = glommio::executor().spawn_blocking(job).await {
                    tracing::warn!("{e}");
                }
            }
            .instrument(tracing::Span::current()),
        ));
    }

    /// At the end: the control file is brought up to date a last time
    /// (removed for a complete torrent, as aria2 does without
    /// `--force-save`), and every save asked for is waited for.
    pub(super) async fn settle_control_file(&mut self) {
        self.save_control();
        self.control.settle().await;
    }
}
