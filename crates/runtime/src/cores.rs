use std::future::Future;

use glommio::{LocalExecutorBuilder, Placement, PoolPlacement};

use crate::RuntimeError;

/// Index of a core (executor) in `0..n`.
pub type CoreId = usize;

/// How executors are built. io_memory is kept small: arietta writes through
/// `BufferedFile`, so it needs no registered DMA buffers, and `ulimit -l`
/// is 8 MiB on many hosts.
#[derive(Clone, Debug)]
pub struct CoreSettings {
    pub cores: usize,
    pub io_memory: usize,
    pub blocking_threads: usize,
}

impl CoreSettings {
    pub fn new(cores: usize) -> Self {
        Self {
            cores: cores.max(1),
            io_memory: 256 << 10,
            blocking_threads: 4,
        }
    }
}

/// Number of cores to use when the user asked for "all" (`--cores=0`).
pub fn core_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Join handles of the spawned executors.
pub struct CoreHandles<T: Send + 'static> {
    handles: Vec<glommio::ExecutorJoinHandle<T>>,
}

impl<T: Send + 'static> CoreHandles<T> {
    /// Waits for every executor; returns their results in core order.
    /// A panicked executor yields `None`.
    pub fn join(self) -> Vec<Option<T>> {
        self.handles.into_iter().map(|h| h.join().ok()).collect()
    }
}

/// Starts one executor per core, each running `make(core)`.
///
/// Executors are not pinned: these hosts are shared with other processes,
/// and a pinned executor next to a busy neighbour is slower than a free one.
/// The blocking pool is enlarged from glommio's single thread because DNS
/// lookups and file preparation run there and would otherwise queue.
pub fn spawn_cores<G, F, T>(
    settings: &CoreSettings,
    make: G,
) -> Result<CoreHandles<T>, RuntimeError>
where
    G: Fn(CoreId) -> F + Send + Sync + Clone + 'static,
    F: Future<Output = T> + 'static,
    T: Send + 'static,
{
    crate::check_io_uring()?;
    tracing::info!(
        "Starting {} core(s): io_memory={}, blocking threads={} per core",
        settings.cores,
        settings.io_memory,
        settings.blocking_threads
    );
    let mut handles = Vec::with_capacity(settings.cores);
    for core in 0..settings.cores {
        let make = make.clone();
        let h = LocalExecutorBuilder::new(Placement::Unbound)
            .name(&format!("arietta-core{core}"))
            .io_memory(settings.io_memory)
            .blocking_thread_pool_placement(PoolPlacement::Unbound(settings.blocking_threads))
            .spawn(move || {
                tracing::debug!("Core #{core} started.");
                make(core)
            })
            .map_err(|e| RuntimeError::Executor {
                core,
                source: std::io::Error::other(e.to_string()),
            })?;
        handles.push(h);
    }
    Ok(CoreHandles { handles })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox;

    #[test]
    fn cores_exchange_messages() {
        let (tx, rx) = mailbox::<usize>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
        let h = spawn_cores(&CoreSettings::new(2), move |core| {
            let tx = tx.clone();
            let rx = rx.clone();
            async move {
                if core == 0 {
                    let rx = rx.lock().unwrap().take().unwrap();
                    rx.recv().await
                } else {
                    glommio::timer::sleep(std::time::Duration::from_millis(20)).await;
                    tx.send(41 + core).ok();
                    None
                }
            }
        })
        .unwrap();
        let r = h.join();
        assert_eq!(r[0], Some(Some(42)));
    }
}
