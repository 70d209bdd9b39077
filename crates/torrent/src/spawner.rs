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
    /// The core the torrent's actor runs on: its peer tasks are spread
    /// starting there, so torrents placed on different cores do not all
    /// put their first peer on core 0.
    fn home_core(&self) -> usize {
        0
    }
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
