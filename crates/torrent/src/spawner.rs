//! How a torrent spreads its peer connections over the thread-per-core
//! runtime: the engine hands the actor a [`CoreSpawner`], and every peer
//! task becomes a [`Job`] on one core's executor.

use std::future::Future;
use std::pin::Pin;

/// A job to run on one core's executor (a peer connection task).
pub type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// Runs jobs on the engine's cores: the hook through which a torrent
/// spreads its peer connections over the thread-per-core runtime.
pub trait CoreSpawner {
    fn core_count(&self) -> usize;
    fn spawn_on(&self, core: usize, job: Job);
}

/// Runs every job on the current core (tests, single-core runs).
pub struct CurrentCore;

impl CoreSpawner for CurrentCore {
    fn core_count(&self) -> usize {
        1
    }
    fn spawn_on(&self, _core: usize, job: Job) {
        glommio::spawn_local(job()).detach();
    }
}
