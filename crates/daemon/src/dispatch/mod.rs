//! Runs one authorized RPC call against the engine.

use std::cell::RefCell;
use std::sync::Arc;

use arietta_core::control::{
    Control, ControlError, ControlHandle, DownloadStatus, ListKind, RunSnapshot, Whence,
};
use arietta_core::torrent_info::TorrentInfo;
use arietta_core::{DownloadRequest, Gid};
use arietta_options::{OptionError, OptionSet};
use arietta_rpc::methods::{
    list_methods, list_notifications, multicall_failure, multicall_success,
};
use arietta_rpc::{
    authorize, parse_method, Dialect, Error, GidRef, Method, Param, Position, RpcCall, RpcOptions,
    Secret,
};

use crate::status;

/// What every connection of the server shares (on core 0).
pub struct Ctx {
    pub handle: ControlHandle,
    pub secret: Option<Secret>,
    /// The global options RPC reads and changes.
    pub global: RefCell<OptionSet>,
    /// `global` frozen for the downloads added since it last changed: each
    /// download's options layer over this one `Arc` instead of a copy of
    /// the global set (10,000 queued downloads held 10,000 copies).
    pub global_parent: RefCell<Option<Arc<OptionSet>>>,
    pub session_id: String,
}

fn gone(_: arietta_core::control::EngineGone) -> Error {
    Error::Fault("the download engine has shut down".into())
}

fn fault(e: impl ToString) -> Error {
    Error::Fault(e.to_string())
}

/// Authorizes and runs `call` (entries of `system.multicall` included).
pub async fn run_call(ctx: &Ctx, mut call: RpcCall) -> Result<Param, Error> {
    if let Err(e) = authorize(&mut call, ctx.secret.as_ref()) {
        tracing::info!("RPC: unauthorized call of {}", call.method);
        // aria2 answers a wrong secret only after a pause, which makes
        // guessing it over the network slow.
        glommio::timer::sleep(std::time::Duration::from_secs(1)).await;
        return Err(e);
    }
    tracing::info!("Executing RPC method {}", call.method);
    let dialect = call.dialect;
    let method = parse_method(&call)?;
    if let Method::Multicall(entries) = method {
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let r = match entry {
                Ok(c) => Box::pin(run_call(ctx, c)).await,
                Err(e) => Err(e),
            };
            out.push(match r {
                Ok(v) => multicall_success(v),
                Err(e) => multicall_failure(&e, dialect),
            });
        }
        return Ok(Param::Array(out));
    }
    execute(ctx, method, dialect).await
}

async fn resolve(ctx: &Ctx, g: &GidRef) -> Result<Gid, Error> {
    if let Some(full) = g.full() {
        return Ok(Gid(full));
    }
    g.resolve(ctx.handle.known_gids().into_iter().map(|g| g.0))
        .map(Gid)
}

/// Read from what the coordinator published: no round trip through its
/// mailbox (the status read is most of what RPC clients poll).
async fn status(ctx: &Ctx, g: &GidRef) -> Result<Arc<DownloadStatus>, Error> {
    let gid = resolve(ctx, g).await?;
    ctx.handle
        .status(gid)
        .ok_or_else(|| fault(format!("GID {gid} is not found")))
}

/// The lists too are read from what the coordinator published.
fn list(
    ctx: &Ctx,
    which: ListKind,
    offset: i64,
    num: u64,
    keys: Option<&[String]>,
) -> Result<Param, Error> {
    let num = usize::try_from(num).unwrap_or(usize::MAX);
    let v = ctx.handle.list(which, offset, num);
    Ok(Param::Array(
        v.iter().map(|d| status::render(d, keys)).collect(),
    ))
}

/// What RPC makes of setting option `name`, as aria2c: `true` when set,
/// `false` when skipped (unknown, or not settable there: logged, the call
/// goes on), an error with aria2's one-line message for a bad value.
fn rpc_option(name: &str, r: Result<(), OptionError>) -> Result<bool, Error> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.skipped_by_rpc() => {
            tracing::info!("RPC: ignoring option {name}: {e}");
            Ok(false)
        }
        Err(e) => Err(Error::Fault(e.rpc_message())),
    }
}

/// `getOption(gid)`: only what applies to one download, as aria2c 1.36
/// lists it (compared key by key): the per-download options, without
/// `gid` and `pause`, which aria2 consumes when it queues the download.
fn download_options_param(o: &OptionSet) -> Param {
    options_param_where(o, |name| {
        name != "gid"
            && name != "pause"
            && arietta_options::find_option(name).is_some_and(|d| d.per_download())
    })
}

/// `getGlobalOption`: every option with a value, less `pause` and
/// `force-sequential`, which aria2 consumes for the command line's own
/// downloads and does not list (compared with aria2c 1.36).
fn options_param(o: &OptionSet) -> Param {
    options_param_where(o, |name| name != "pause" && name != "force-sequential")
}

/// Options with a value whose name passes `keep`. `--rpc-secret` never
/// leaves the daemon: aria2 leaves it out too, and a web UI that displays
/// options would show it to anyone looking at the screen.
fn options_param_where(o: &OptionSet, keep: impl Fn(&str) -> bool) -> Param {
    Param::Struct(
        o.effective()
            .into_iter()
            .filter(|(k, _)| *k != "rpc-secret" && keep(k))
            .map(|(k, v)| (k.into(), Param::String(v.to_joined())))
            .filter(|(_, v)| v.as_str().is_some_and(|s| !s.is_empty()))
            .collect(),
    )
}

fn ok() -> Param {
    Param::String("OK".into())
}

fn gid_param(g: Gid) -> Param {
    Param::String(g.to_string())
}

async fn add(
    ctx: &Ctx,
    uris: Vec<String>,
    options: RpcOptions,
    position: Option<u64>,
) -> Result<Param, Error> {
    let set = download_options(ctx, &options)?;
    enqueue(ctx, uris, set, position).await
}

/// Queues one download of `uris` (its GID from the `gid` option when
/// given) at `position`; answers its GID.
async fn enqueue(
    ctx: &Ctx,
    uris: Vec<String>,
    set: OptionSet,
    position: Option<u64>,
) -> Result<Param, Error> {
    enqueue_with(ctx, uris, Arc::new(set), position, None).await
}

/// [`enqueue`], with what `tellStatus` shows while it waits.
async fn enqueue_with(
    ctx: &Ctx,
    uris: Vec<String>,
    set: Arc<OptionSet>,
    position: Option<u64>,
    snapshot: Option<Arc<RunSnapshot>>,
) -> Result<Param, Error> {
    let gid = set.get_opt_str("gid").and_then(Gid::parse);
    let mut request = DownloadRequest::new(uris, set);
    request.gid = gid;
    request.snapshot = snapshot;
    let position = position.map(|p| usize::try_from(p).unwrap_or(usize::MAX));
    Ok(gid_param(queue(ctx, request, position).await?))
}

/// Hands one request to the coordinator's queue at `position`.
async fn queue(ctx: &Ctx, request: DownloadRequest, position: Option<usize>) -> Result<Gid, Error> {
    ctx.handle
        .ask(|reply| Control::Add {
            request,
            position,
            reply,
        })
        .await
        .map_err(gone)?
        .map_err(fault)
}

/// A download's options as RPC gives them, over the global ones.
fn download_options(ctx: &Ctx, options: &RpcOptions) -> Result<OptionSet, Error> {
    let parent = ctx
        .global_parent
        .borrow_mut()
        .get_or_insert_with(|| Arc::new(ctx.global.borrow().clone()))
        .clone();
    let mut set = OptionSet::with_parent(parent);
    for (k, v) in &options.0 {
        rpc_option(k, set.set_per_download(k, v))?;
    }
    Ok(set)
}

/// `aria2.addMetalink`: one download per selected file of the document,
/// queued together at `position`; answers their GIDs in file order, as
/// aria2 does. A document that cannot be used is a fault and queues
/// nothing. With `--rpc-save-upload-metadata` (the default) the document
/// is first saved as `DIR/SHA1.meta4`, as aria2 saves it.
async fn add_metalink(
    ctx: &Ctx,
    metalink: &[u8],
    options: RpcOptions,
    position: Option<u64>,
) -> Result<Param, Error> {
    let set = download_options(ctx, &options)?;
    let plan =
        arietta_core::metalink_plan::plan(metalink, None, &Arc::new(set.clone())).map_err(fault)?;
    if set.get_bool("rpc-save-upload-metadata") {
        save_upload(&set, metalink, "meta4").await;
    }
    let mut gids = Vec::with_capacity(plan.requests.len());
    for (k, request) in plan.requests.into_iter().enumerate() {
        let position = position.map(|p| usize::try_from(p).unwrap_or(usize::MAX).saturating_add(k));
        gids.push(gid_param(queue(ctx, request, position).await?));
    }
    Ok(Param::Array(gids))
}

/// Saves uploaded metadata as `DIR/SHA1-OF-DATA.EXT` (aria2's name), so a
/// saved session can restart the download. Like aria2, a failure to
/// write is logged and the download goes on from memory. Written off the
/// executor thread: core 0 also runs every download's coordinator work.
async fn save_upload(set: &OptionSet, data: &[u8], ext: &str) -> Option<std::path::PathBuf> {
    use sha1::Digest as _;
    let dir = arietta_core::config::download_dir(set);
    let path = dir.join(format!("{}.{ext}", hex_lower(&sha1::Sha1::digest(data))));
    let (target, bytes) = (path.clone(), data.to_vec());
    let written = glommio::executor()
        .spawn_blocking(move || {
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&target, &bytes))
        })
        .await;
    match written {
        Ok(()) => {
            tracing::info!("Uploaded metadata was saved as {}", path.display());
            Some(path)
        }
        Err(e) => {
            tracing::info!(
                "Uploaded metadata was not saved. Failed to write file {}: {e}",
                path.display()
            );
            None
        }
    }
}

/// `aria2.addTorrent`: with `--rpc-save-upload-metadata` (the default) the
/// torrent is saved as `DIR/SHA1.torrent` (SHA-1 of the uploaded bytes, as
/// aria2 names it) and queued as that local file, so `--save-session`
/// restarts it like a command-line torrent; without, it runs from memory
/// and a saved session cannot name it.
async fn add_torrent(
    ctx: &Ctx,
    torrent: Vec<u8>,
    uris: Vec<String>,
    options: RpcOptions,
    position: Option<u64>,
) -> Result<Param, Error> {
    let meta = arietta_metainfo::Metainfo::parse(&torrent).map_err(fault)?;
    if meta.swarm_info_hash().is_none() {
        return Err(fault("the torrent has no info-hash"));
    }
    let set = download_options(ctx, &options)?;
    let saved = if set.get_bool("rpc-save-upload-metadata") {
        save_upload(&set, &torrent, "torrent").await
    } else {
        None
    };
    // `uris` follow the torrent as web seeds.
    let mut all: Vec<String> = saved.iter().map(|p| p.display().to_string()).collect();
    all.extend(uris);
    // A waiting or paused torrent shows its metainfo and files, as aria2's.
    let set = Arc::new(set);
    let snapshot = TorrentInfo::preview(meta, &set).map(|t| {
        Arc::new(RunSnapshot {
            torrent: Some(t),
            ..RunSnapshot::default()
        })
    });
    let gid = set.get_opt_str("gid").and_then(Gid::parse);
    let mut request = DownloadRequest::new(all, set);
    request.gid = gid;
    request.snapshot = snapshot;
    if saved.is_none() {
        request.torrent = Some(Arc::from(torrent.as_slice()));
    }
    let position = position.map(|p| usize::try_from(p).unwrap_or(usize::MAX));
    Ok(gid_param(queue(ctx, request, position).await?))
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// remove/pause/unpause: resolve the GID, ask, answer with the GID.
async fn gid_action(
    ctx: &Ctx,
    gid: &GidRef,
    make: impl FnOnce(Gid, arietta_runtime::MailboxSender<Result<Gid, ControlError>>) -> Control,
) -> Result<Param, Error> {
    let gid = resolve(ctx, gid).await?;
    ctx.handle
        .ask(|reply| make(gid, reply))
        .await
        .map_err(gone)?
        .map_err(fault)
        .map(gid_param)
}

/// Runs one parsed call; the methods come in four groups, each its own
/// function, so no one match grows with the method list.
async fn execute(ctx: &Ctx, method: Method, dialect: Dialect) -> Result<Param, Error> {
    let _ = dialect;
    match method {
        m @ (Method::AddUri { .. }
        | Method::AddTorrent { .. }
        | Method::AddMetalink { .. }
        | Method::Remove { .. }
        | Method::ForceRemove { .. }
        | Method::Pause { .. }
        | Method::ForcePause { .. }
        | Method::Unpause { .. }
        | Method::PauseAll
        | Method::ForcePauseAll
        | Method::UnpauseAll
        | Method::ChangePosition { .. }) => queue_method(ctx, m).await,
        m @ (Method::TellStatus { .. }
        | Method::GetUris { .. }
        | Method::GetFiles { .. }
        | Method::GetPeers { .. }
        | Method::GetServers { .. }
        | Method::TellActive { .. }
        | Method::TellWaiting { .. }
        | Method::TellStopped { .. }
        | Method::GetGlobalStat) => query_method(ctx, m).await,
        m @ (Method::GetOption { .. }
        | Method::ChangeOption { .. }
        | Method::ChangeUri { .. }
        | Method::GetGlobalOption
        | Method::ChangeGlobalOption { .. }) => option_method(ctx, m).await,
        m => system_method(ctx, m).await,
    }
}

/// Adding, removing, pausing and moving downloads.
async fn queue_method(ctx: &Ctx, method: Method) -> Result<Param, Error> {
    let h = &ctx.handle;
    match method {
        Method::AddUri {
            uris,
            options,
            position,
        } => add(ctx, uris, options, position).await,
        Method::AddTorrent {
            torrent,
            uris,
            options,
            position,
        } => add_torrent(ctx, torrent, uris, options, position).await,
        Method::AddMetalink {
            metalink,
            options,
            position,
        } => add_metalink(ctx, &metalink, options, position).await,
        Method::Remove { gid } => {
            gid_action(ctx, &gid, |gid, reply| Control::Remove {
                gid,
                force: false,
                reply,
            })
            .await
        }
        Method::ForceRemove { gid } => {
            gid_action(ctx, &gid, |gid, reply| Control::Remove {
                gid,
                force: true,
                reply,
            })
            .await
        }
        Method::Pause { gid } => {
            gid_action(ctx, &gid, |gid, reply| Control::Pause {
                gid,
                force: false,
                reply,
            })
            .await
        }
        Method::ForcePause { gid } => {
            gid_action(ctx, &gid, |gid, reply| Control::Pause {
                gid,
                force: true,
                reply,
            })
            .await
        }
        Method::Unpause { gid } => {
            gid_action(ctx, &gid, |gid, reply| Control::Unpause { gid, reply }).await
        }
        Method::PauseAll | Method::ForcePauseAll => {
            let force = matches!(method, Method::ForcePauseAll);
            h.ask(|reply| Control::PauseAll { force, reply })
                .await
                .map_err(gone)?;
            Ok(ok())
        }
        Method::UnpauseAll => {
            h.ask(|reply| Control::UnpauseAll { reply })
                .await
                .map_err(gone)?;
            Ok(ok())
        }
        Method::ChangePosition { gid, pos, how } => {
            let gid = resolve(ctx, &gid).await?;
            let whence = match how {
                Position::Set => Whence::Set,
                Position::Cur => Whence::Cur,
                Position::End => Whence::End,
            };
            h.ask(|reply| Control::ChangePosition {
                gid,
                pos,
                whence,
                reply,
            })
            .await
            .map_err(gone)?
            .map_err(fault)
            .map(|p| Param::Int(p as i64))
        }
        _ => unreachable!("routed to another group by execute"),
    }
}

/// What RPC reads of downloads: status, lists, files, peers, servers.
async fn query_method(ctx: &Ctx, method: Method) -> Result<Param, Error> {
    let h = &ctx.handle;
    match method {
        Method::TellStatus { gid, keys } => {
            let d = status(ctx, &gid).await?;
            Ok(status::render(&d, keys.as_deref()))
        }
        Method::GetUris { gid } => Ok(status::uris(&*status(ctx, &gid).await?)),
        Method::GetFiles { gid } => Ok(status::files(&*status(ctx, &gid).await?)),
        Method::GetPeers { gid } => Ok(status::peers(&*status(ctx, &gid).await?)),
        Method::GetServers { gid } => {
            let d = status(ctx, &gid).await?;
            if d.status != arietta_core::Status::Active {
                return Err(fault(format!("No active download for GID#{}", d.gid)));
            }
            Ok(status::servers(&d))
        }
        Method::TellActive { keys } => list(ctx, ListKind::Active, 0, u64::MAX, keys.as_deref()),
        Method::TellWaiting { offset, num, keys } => {
            list(ctx, ListKind::Waiting, offset, num, keys.as_deref())
        }
        Method::TellStopped { offset, num, keys } => {
            list(ctx, ListKind::Stopped, offset, num, keys.as_deref())
        }
        Method::GetGlobalStat => {
            let st = h.global_stat();
            let s = |v: usize| Param::String(v.to_string());
            Ok(Param::structure([
                (
                    "downloadSpeed",
                    Param::String(st.download_speed.to_string()),
                ),
                ("uploadSpeed", Param::String(st.upload_speed.to_string())),
                ("numActive", s(st.num_active)),
                ("numWaiting", s(st.num_waiting)),
                ("numStopped", s(st.num_stopped)),
                ("numStoppedTotal", s(st.num_stopped_total)),
            ]))
        }
        _ => unreachable!("routed to another group by execute"),
    }
}

/// Per-download and global options, and URIs.
async fn option_method(ctx: &Ctx, method: Method) -> Result<Param, Error> {
    let h = &ctx.handle;
    match method {
        Method::GetOption { gid } => Ok(download_options_param(&status(ctx, &gid).await?.options)),
        Method::ChangeOption { gid, options } => {
            let gid = resolve(ctx, &gid).await?;
            let options = options.0;
            h.ask(|reply| Control::ChangeOption {
                gid,
                options,
                reply,
            })
            .await
            .map_err(gone)?
            .map_err(fault)?;
            Ok(ok())
        }
        Method::ChangeUri {
            gid,
            file_index,
            del_uris,
            add_uris,
            position,
        } => {
            let gid = resolve(ctx, &gid).await?;
            if file_index != 1 {
                return Err(fault("fileIndex is out of range"));
            }
            let position = position.map(|p| usize::try_from(p).unwrap_or(usize::MAX));
            let (d, a) = h
                .ask(|reply| Control::ChangeUri {
                    gid,
                    del: del_uris,
                    add: add_uris,
                    position,
                    reply,
                })
                .await
                .map_err(gone)?
                .map_err(fault)?;
            Ok(Param::Array(vec![
                Param::Int(d as i64),
                Param::Int(a as i64),
            ]))
        }
        Method::GetGlobalOption => Ok(options_param(&ctx.global.borrow())),
        Method::ChangeGlobalOption { options } => {
            // Downloads added from now on see the change; queued ones keep
            // the set they were added with, as in aria2.
            ctx.global_parent.borrow_mut().take();
            let mut g = ctx.global.borrow_mut();
            for (k, v) in &options.0 {
                if !rpc_option(k, g.change_global(k, v))? {
                    continue;
                }
                match k.as_str() {
                    "max-concurrent-downloads" => {
                        let n = g.get_u64(k) as usize;
                        let _ = h.tell(Control::SetMaxConcurrent { n });
                    }
                    "max-overall-download-limit" => {
                        let bytes_per_sec = g.get_size(k);
                        let _ = h.tell(Control::SetOverallLimit { bytes_per_sec });
                    }
                    "optimize-concurrent-downloads" => {
                        let value = g.get_str(k).to_owned();
                        let _ = h.tell(Control::SetOptimizeConcurrent { value });
                    }
                    "max-overall-upload-limit" => {
                        let bytes_per_sec = g.get_size(k);
                        let _ = h.tell(Control::SetOverallUploadLimit { bytes_per_sec });
                    }
                    "max-download-result" => {
                        let n = g.get_u64(k) as usize;
                        let _ = h.tell(Control::SetMaxResults { n });
                    }
                    "save-session" => {
                        let path = g
                            .get_opt_str(k)
                            .filter(|p| !p.is_empty())
                            .map(std::path::PathBuf::from);
                        let _ = h.tell(Control::SetSaveSession { path });
                    }
                    "log" | "log-level" => crate::global_option_changed(k, g.get_str(k)),
                    // The rest are read where they are used, from the
                    // options a download is added with.
                    _ => {}
                }
            }
            Ok(ok())
        }
        _ => unreachable!("routed to another group by execute"),
    }
}

/// Results, version, session, shutdown and introspection.
async fn system_method(ctx: &Ctx, method: Method) -> Result<Param, Error> {
    let h = &ctx.handle;
    match method {
        Method::PurgeDownloadResult => {
            h.ask(|reply| Control::PurgeResults { reply })
                .await
                .map_err(gone)?;
            Ok(ok())
        }
        Method::RemoveDownloadResult { gid } => {
            let gid = resolve(ctx, &gid).await?;
            h.ask(|reply| Control::RemoveResult { gid, reply })
                .await
                .map_err(gone)?
                .map_err(fault)?;
            Ok(ok())
        }
        Method::GetVersion => Ok(Param::structure([
            // Clients gate features on aria2's version number; arietta
            // implements the 1.37 RPC interface.
            ("version", Param::String("1.37.0".into())),
            (
                "enabledFeatures",
                Param::Array(
                    arietta_core::ENABLED_FEATURES
                        .iter()
                        .map(|f| Param::String((*f).into()))
                        .collect(),
                ),
            ),
        ])),
        Method::GetSessionInfo => Ok(Param::structure([(
            "sessionId",
            Param::String(ctx.session_id.clone()),
        )])),
        Method::Shutdown => {
            let _ = h.tell(Control::Shutdown { force: false });
            Ok(ok())
        }
        Method::ForceShutdown => {
            let _ = h.tell(Control::Shutdown { force: true });
            Ok(ok())
        }
        Method::SaveSession => {
            h.ask(|reply| Control::SaveSession { reply })
                .await
                .map_err(gone)?
                .map_err(fault)?;
            Ok(ok())
        }
        Method::Multicall(_) => unreachable!("handled in run_call"),
        Method::ListMethods => Ok(list_methods()),
        Method::ListNotifications => Ok(list_notifications()),
        _ => unreachable!("routed to another group by execute"),
    }
}

#[cfg(test)]
mod tests;
