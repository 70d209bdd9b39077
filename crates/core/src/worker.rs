//! The per-core actor: takes connection tasks from its mailbox and runs
//! each as a local task on this core's executor, with this core's open
//! files and idle-connection pool.

use std::rc::Rc;

use arietta_runtime::{CoreId, Mailbox};
use arietta_storage::OpenFiles;

use arietta_ftp::FtpClient;

use crate::connection_pool::ConnectionPool;
use crate::http2_pool::Http2Pool;
use crate::messages::ToCore;
use crate::{ftp_fetch, http_fetch, sftp_fetch};
use tracing::Instrument;

/// What connection tasks on one core share. Never leaves the core.
pub struct CoreContext {
    pub files: OpenFiles,
    pub pool: ConnectionPool,
    /// HTTP/2 connections, shared by this core's tasks as streams.
    pub h2: Http2Pool,
    /// Logged-in FTP control connections, by user, host and port.
    pub ftp_pool: ConnectionPool<FtpClient>,
}

/// Runs a core until the coordinator says `Shutdown`.
pub async fn run_core(core: CoreId, inbox: Mailbox<ToCore>) {
    let _ = core;
    let ctx = Rc::new(CoreContext {
        files: OpenFiles::new(),
        pool: ConnectionPool::new(),
        h2: Http2Pool::default(),
        ftp_pool: ConnectionPool::new(),
    });
    while let Some(msg) = inbox.recv().await {
        match msg {
            // Every line a connection logs starts `CUID#n - `, as aria2's do.
            ToCore::Start(task) if ftp_fetch::speaks_ftp(&task) => {
                let span = tracing::info_span!("connection", cuid = task.conn);
                glommio::spawn_local(
                    ftp_fetch::run_connection(ctx.clone(), *task).instrument(span),
                )
                .detach();
            }
            ToCore::Start(task) if task.url.starts_with("sftp://") => {
                let span = tracing::info_span!("connection", cuid = task.conn);
                glommio::spawn_local(
                    sftp_fetch::run_connection(ctx.clone(), *task).instrument(span),
                )
                .detach();
            }
            ToCore::Start(task) => {
                let span = tracing::info_span!("connection", cuid = task.conn);
                glommio::spawn_local(
                    http_fetch::run_connection(ctx.clone(), *task).instrument(span),
                )
                .detach();
            }
            ToCore::Run(job) => {
                glommio::spawn_local(job()).detach();
            }
            ToCore::Shutdown => break,
        }
    }
}
