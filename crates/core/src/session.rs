//! Starting a run: the cores, their mailboxes, the coordinator on core 0,
//! and the signal thread that turns Ctrl-C into a graceful stop.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use arietta_options::OptionSet;
use arietta_runtime::{mailbox, spawn_cores, CoreSettings, MailboxSender, RuntimeError};

use crate::control::ControlHandle;
use crate::coordinator::{Coordinator, CoordinatorSetup, DeferredRequests, RunReport};
use crate::download::{DownloadRequest, Reporter};
use crate::error::FetchError;
use crate::messages::{ToCoordinator, ToCore};
use crate::net_context::NetContext;
use crate::worker::run_core;

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Setup(#[from] FetchError),
    #[error("the coordinator core stopped unexpectedly")]
    Crashed,
}

/// Starts a service (the RPC server) on core 0 next to the coordinator,
/// given a handle to drive it. Called once, on the core-0 thread.
pub type ServiceStarter =
    Box<dyn FnOnce(ControlHandle) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// Runs `requests` to completion with the global options `global`.
pub fn run(
    global: &OptionSet,
    requests: Vec<DownloadRequest>,
    reporter: Box<dyn Reporter>,
) -> Result<RunReport, SessionError> {
    run_with(global, requests, reporter, None)
}

/// Like [`run`], with a service on core 0. With `--enable-rpc` the run
/// does not end when the queue empties, only on shutdown or a signal.
pub fn run_with(
    global: &OptionSet,
    requests: Vec<DownloadRequest>,
    reporter: Box<dyn Reporter>,
    service: Option<ServiceStarter>,
) -> Result<RunReport, SessionError> {
    run_with_input(global, requests, None, reporter, service)
}

/// Like [`run_with`], with `deferred` downloads queued after `requests`
/// as slots free up (`--deferred-input`).
pub fn run_with_input(
    global: &OptionSet,
    requests: Vec<DownloadRequest>,
    deferred: Option<DeferredRequests>,
    mut reporter: Box<dyn Reporter>,
    service: Option<ServiceStarter>,
) -> Result<RunReport, SessionError> {
    let cores = match global.get_u64("cores") {
        0 => arietta_runtime::core_count(),
        n => n as usize,
    };
    let net = Arc::new(NetContext::from_options(global)?);
    let (me, inbox) = mailbox::<ToCoordinator>();
    let mut core_tx: Vec<MailboxSender<ToCore>> = Vec::new();
    let mut core_rx = Vec::new();
    for _ in 0..cores {
        let (tx, rx) = mailbox::<ToCore>();
        core_tx.push(tx);
        core_rx.push(Some(rx));
    }
    // A stats file that cannot be read costs only the mirror ranking.
    let server_stats = global
        .get_opt_str("server-stat-if")
        .map(|p| {
            let timeout = std::time::Duration::from_secs(global.get_u64("server-stat-timeout"));
            crate::server_stat::ServerStatTable::load(std::path::Path::new(p), timeout)
                .unwrap_or_else(|e| {
                    reporter.notice(
                        crate::download::LogLevel::Warn,
                        &format!("Failed to load the server stats from {p}: {e}"),
                    );
                    Default::default()
                })
        })
        .unwrap_or_default();
    install_signal_thread(me.clone());
    install_halt_watchers(global, &me);
    let board = crate::status_board::StatusBoard::default();
    let setup = CoordinatorSetup {
        board: board.clone(),
        cores: core_tx,
        requests,
        deferred,
        max_concurrent: global.get_u64("max-concurrent-downloads") as usize,
        optimize_concurrent: global.get_str("optimize-concurrent-downloads").to_owned(),
        net,
        reporter,
        inbox,
        me,
        save_cookies: global.get_opt_str("save-cookies").map(str::to_owned),
        daemon: global.get_bool("enable-rpc"),
        max_results: global.get_u64("max-download-result") as usize,
        keep_unfinished: global.get_bool("keep-unfinished-download-result"),
        save_session: global
            .get_opt_str("save-session")
            .map(std::path::PathBuf::from),
        save_session_interval: std::time::Duration::from_secs(
            global.get_u64("save-session-interval"),
        ),
        server_stats,
        server_stat_out: global
            .get_opt_str("server-stat-of")
            .map(std::path::PathBuf::from),
    };
    let service = Arc::new(Mutex::new(service));
    let setup = Arc::new(Mutex::new(Some(setup)));
    let core_rx = Arc::new(Mutex::new(core_rx));
    let handles = spawn_cores(&CoreSettings::new(cores), move |core| {
        let setup = setup.clone();
        let core_rx = core_rx.clone();
        let service = service.clone();
        async move {
            let rx = core_rx.lock().expect("core mailboxes")[core]
                .take()
                .expect("one executor per core");
            let coordinator = if core == 0 {
                let s = setup
                    .lock()
                    .expect("setup")
                    .take()
                    .expect("core 0 starts once");
                let handle = ControlHandle {
                    tx: s.me.clone(),
                    board: s.board.clone(),
                };
                if let Some(start) = service.lock().expect("service").take() {
                    glommio::spawn_local(start(handle)).detach();
                }
                Some(glommio::spawn_local(Coordinator::new(s).run()))
            } else {
                None
            };
            run_core(core, rx).await;
            match coordinator {
                Some(c) => Some(c.await),
                None => None,
            }
        }
    })?;
    handles
        .join()
        .into_iter()
        .next()
        .flatten()
        .flatten()
        .ok_or(SessionError::Crashed)
}

/// Blocks SIGINT/SIGTERM in every thread (the executors inherit the mask)
/// and waits for them on one thread: the first asks the coordinator to save
/// and stop, the second exits at once like aria2's emergency shutdown.
/// `--stop=SEC` and `--stop-with-process=PID`: aria2's `TimedHaltCommand`
/// and `WatchProcessCommand` ask the engine for the same graceful halt as
/// a first Ctrl-C, so each watcher sends what the signal thread sends. A
/// watcher is a sleeping thread (the process is checked once a second, as
/// aria2 does); it outlives a run that ends first, harmlessly, since the
/// mailbox it sends into is gone by then.
fn install_halt_watchers(global: &OptionSet, coord: &MailboxSender<ToCoordinator>) {
    let stop = global.get_u64("stop");
    if stop > 0 {
        let coord = coord.clone();
        let _ = std::thread::Builder::new()
            .name("arietta-stop".into())
            .spawn(move || {
                std::thread::sleep(std::time::Duration::from_secs(stop));
                tracing::info!(
                    notice = true,
                    "{stop} second(s) has passed. Stopping application."
                );
                let _ = coord.send(ToCoordinator::Interrupt);
            });
    }
    let pid = global
        .get_opt_str("stop-with-process")
        .and_then(|p| p.trim().parse::<u32>().ok());
    if let Some(pid) = pid {
        let coord = coord.clone();
        let _ = std::thread::Builder::new()
            .name("arietta-watch-pid".into())
            .spawn(move || {
                let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
                while proc_dir.exists() {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
                tracing::info!("Process {pid} is not running. Commencing shutdown.");
                let _ = coord.send(ToCoordinator::Interrupt);
            });
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// starts from now on, and returns that set. `main` calls it before any
/// other thread exists: a thread started earlier (the log writer's) would
/// keep the signals unblocked, the kernel would deliver Ctrl-C there, and
/// the process would die on the spot (or, started by a shell in the
/// background with SIGINT ignored, never hear it) instead of saving its
/// control files.
pub fn block_shutdown_signals() -> libc::sigset_t {
    let set = shutdown_signals();
    // SAFETY: `set` is an initialized sigset; no old mask is asked for.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    set
}

/// SIGINT and SIGTERM: what the signal thread waits for. Only
/// async-signal-safe calls, so a child may use it between fork and exec.
pub(crate) fn shutdown_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; the libc calls only write into it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

fn install_signal_thread(coord: MailboxSender<ToCoordinator>) {
    let set = block_shutdown_signals();
    let _ = std::thread::Builder::new()
        .name("arietta-signals".into())
        .spawn(move || {
            let mut count = 0;
            loop {
                let mut sig: libc::c_int = 0;
                // SAFETY: `set` is an initialized sigset and `sig` is writable.
                if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                    return;
                }
                count += 1;
                if count > 1 {
                    std::process::exit(7);
                }
                let _ = coord.send(ToCoordinator::Interrupt);
            }
        });
}
