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
    /// Snapshots the verified pieces and queues their save.
    pub(super) fn save_control(&mut self) {
        self.dirty = false;
        let rec = resume::record(&self.dl.layout, &self.have, &self.dl.info_hash);
        let path = control_path(&self.dl.layout.root);
        let previous = self.control.last.take();
        self.control.last = Some(glommio::spawn_local(
            async move {
                if let Some(p) = previous {
                    p.await;
                }
                // Small (a range per run of pieces) and at most twice a second.
                let saved = glommio::executor()
                    .spawn_blocking(move || rec.save(&path).map_err(|e| (path, e.to_string())))
                    .await;
                if let Err((path, e)) = saved {
                    tracing::warn!("Saving the control file {} failed: {e}", path.display());
                }
            }
            .instrument(tracing::Span::current()),
        ));
    }

    /// At the end: a finished download's control file goes, any other is
    /// saved a last time.
    pub(super) async fn settle_control_file(&mut self, finished: bool) {
        if !finished {
            self.save_control();
        }
        self.control.settle().await;
        if finished {
            let control = control_path(&self.dl.layout.root);
            glommio::executor()
                .spawn_blocking(move || {
                    let _ = std::fs::remove_file(&control);
                })
                .await;
        }
    }
}
