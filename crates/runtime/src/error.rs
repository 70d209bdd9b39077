use thiserror::Error;

/// Failures of the runtime itself, before any download starts.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The kernel refused io_uring (too old, disabled by sysctl or seccomp).
    /// glommio would panic deep inside; we say why and exit instead.
    #[error("arietta needs io_uring (Linux 5.8 or newer, not disabled by sysctl or seccomp); io_uring_setup failed: {0}")]
    NoIoUring(std::io::Error),
    /// An executor thread could not be created.
    #[error("cannot start executor for core {core}: {source}")]
    Executor {
        core: usize,
        #[source]
        source: std::io::Error,
    },
}
