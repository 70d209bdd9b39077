//! The coordinator's file work, off its executor thread and in order.
//!
//! Control-file snapshots, the final checksum/stamp/control-file removal,
//! session files, `.sig` files and saved metalinks are plain `std::fs`
//! work; done inline they would stall every connection on core 0 (an
//! `openat(O_CREAT)` was measured at ~300 µs in a busy ext4 directory).
//! They run on glommio's blocking pool, **one at a time, in the order they
//! were asked for**: a control-file snapshot queued before a download's
//! finish must not land after the finish removed the file, and two saves of
//! one control file share its `.tmp` name.

use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::task::JoinHandle;

type Job = Box<dyn FnOnce() + Send + 'static>;

pub(super) struct DiskJobs {
    tx: LocalSender<Job>,
    worker: JoinHandle<()>,
}

impl DiskJobs {
    /// Starts the worker task on the current executor.
    pub fn start() -> Self {
        let (tx, rx) = local_channel::new_unbounded::<Job>();
        let worker = glommio::spawn_local(run(rx)).detach();
        DiskJobs { tx, worker }
    }

    /// Queues `job`; it reports back through whatever it captured (the
    /// coordinator's mailbox).
    pub fn run(&self, job: impl FnOnce() + Send + 'static) {
        // Unbounded and never closed while `self` lives: cannot fail.
        let _ = self.tx.try_send(Box::new(job));
    }

    /// Waits until every queued job is done (at exit, before the process
    /// may end with a control file or session half written).
    pub async fn drain(self) {
        drop(self.tx);
        self.worker.await;
    }
}

async fn run(rx: LocalReceiver<Job>) {
    while let Some(job) = rx.recv().await {
        glommio::executor().spawn_blocking(job).await;
    }
}
