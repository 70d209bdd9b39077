//! The actor itself, driven on one glommio executor with a fake core in
//! place of the workers: the fake answers `ToCore::Start` the way a
//! connection task would (probe, `Written`, `ConnEnded`), so the loop, the
//! disk jobs, results and RPC controls run for real without a socket.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arietta_options::OptionSet;
use arietta_runtime::{mailbox, Mailbox};

use super::*;
use crate::control::{Control, ControlHandle, DownloadStatus, ListKind};
use crate::download::Progress;
use crate::messages::ProbeInfo;

/// Keeps what the coordinator reported.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Reporter for Recorder {
    fn progress(&mut self, _: &[Progress]) {}
    fn notice(&mut self, _: LogLevel, line: &str) {
        self.0.lock().unwrap().push(line.to_owned());
    }
    fn finished(&mut self, r: &DownloadResult) {
        self.0
            .lock()
            .unwrap()
            .push(format!("finished {:?}", r.status));
    }
}

fn options(dir: &Path, extra: &[(&str, &str)]) -> Arc<OptionSet> {
    let mut o = OptionSet::new();
    o.set("dir", dir.to_str().unwrap()).unwrap();
    for (k, v) in extra {
        o.set(k, v).unwrap();
    }
    Arc::new(o)
}

fn setup(
    requests: Vec<DownloadRequest>,
    daemon: bool,
    global: &OptionSet,
    recorder: Recorder,
) -> (CoordinatorSetup, Mailbox<ToCore>, ControlHandle) {
    let (me, inbox) = mailbox();
    let (core_tx, core_rx) = mailbox();
    let board = crate::status_board::StatusBoard::default();
    let handle = ControlHandle {
        tx: me.clone(),
        board: board.clone(),
    };
    let s = CoordinatorSetup {
        cores: vec![core_tx],
        requests,
        deferred: None,
        max_concurrent: 1,
        optimize_concurrent: "false".into(),
        net: Arc::new(NetContext::from_options(global).unwrap()),
        reporter: Box::new(recorder),
        inbox,
        me,
        save_cookies: None,
        daemon,
        max_results: 1000,
        keep_unfinished: false,
        save_session: None,
        save_session_interval: Duration::ZERO,
        server_stats: Default::default(),
        server_stat_out: None,
        board,
    };
    (s, core_rx, handle)
}

/// Reports `task`'s probe as a ranged response of `len` bytes and waits
/// for the coordinator's decision.
async fn probe_ranged(task: &ConnTask, len: u64) -> Option<ProbeDecision> {
    let (reply, answer) = mailbox();
    task.to_coord
        .send(ToCoordinator::Probed {
            gid: task.gid,
            conn: task.conn,
            result: Ok(ProbeInfo::ranged(&task.url, len)),
            reply,
        })
        .ok()
        .unwrap();
    answer.recv().await
}

/// Plays one connection task: probes, writes `data` where told (as the
/// real task would, before reporting), and ends.
async fn serve_probe(core: &Mailbox<ToCore>, data: &[u8]) -> ConnTask {
    let Some(ToCore::Start(task)) = core.recv().await else {
        panic!("expected a connection to start");
    };
    assert!(task.probe);
    let decision = probe_ranged(&task, data.len() as u64).await;
    let Some(ProbeDecision::Stream { claim, target }) = decision else {
        panic!("the probe should stream from byte 0");
    };
    std::fs::write(&*target.path, data).unwrap();
    let send = |m| task.to_coord.send(m).ok().unwrap();
    send(ToCoordinator::Written {
        gid: task.gid,
        conn: task.conn,
        start: 0,
        end: data.len() as u64,
    });
    send(ToCoordinator::ConnEnded {
        gid: task.gid,
        conn: task.conn,
        seg: Some(claim.id),
        result: Ok(()),
    });
    *task
}

fn run_local<T: Send + 'static, F: std::future::Future<Output = T> + 'static>(
    f: impl FnOnce() -> F + Send + 'static,
) -> T {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .io_memory(1 << 20)
        .blocking_thread_pool_placement(glommio::PoolPlacement::Unbound(2))
        .spawn(f)
        .expect("an executor")
        .join()
        .expect("the executor's thread")
}

#[test]
fn a_download_runs_to_completion_through_the_actor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let rec = Recorder::default();
    let lines = rec.0.clone();
    let report = run_local(move || async move {
        let o = options(&path, &[("split", "1")]);
        let req = DownloadRequest::new(vec!["http://mirror.invalid/f.bin".into()], o.clone());
        let (s, core, _) = setup(vec![req], false, &o, rec);
        let coordinator = glommio::spawn_local(Coordinator::new(s).run()).detach();
        serve_probe(&core, b"hello, world").await;
        let report = coordinator.await.unwrap();
        assert!(matches!(core.recv().await, Some(ToCore::Shutdown)));
        report
    });
    assert_eq!(report.results.len(), 1);
    assert_eq!(report.results[0].status, Status::Complete);
    assert_eq!(report.exit_code(), ExitCode::Success);
    assert_eq!(
        std::fs::read(dir.path().join("f.bin")).unwrap(),
        b"hello, world"
    );
    assert!(!dir.path().join("f.bin.aria2").exists());
    let lines = lines.lock().unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("Download complete:")),
        "{lines:?}"
    );
}

#[test]
fn an_interrupted_download_keeps_its_control_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let report = run_local(move || async move {
        // Big enough for a control file; the probe writes nothing.
        let o = options(&path, &[("min-split-size", "1M"), ("split", "2")]);
        let req = DownloadRequest::new(vec!["http://mirror.invalid/big".into()], o.clone());
        let (s, core, _) = setup(vec![req], false, &o, Recorder::default());
        let me = s.me.clone();
        let coordinator = glommio::spawn_local(Coordinator::new(s).run()).detach();
        let Some(ToCore::Start(task)) = core.recv().await else {
            panic!("expected the probe");
        };
        assert!(matches!(
            probe_ranged(&task, 64 << 20).await,
            Some(ProbeDecision::Stream { .. })
        ));
        me.send(ToCoordinator::Interrupt).ok().unwrap();
        // The coordinator tells connections to stop (bounded wait).
        for _ in 0..500 {
            if task.stop.load(Ordering::Relaxed) {
                break;
            }
            glommio::timer::sleep(Duration::from_millis(2)).await;
        }
        assert!(
            task.stop.load(Ordering::Relaxed),
            "connections told to stop"
        );
        let ended = ToCoordinator::ConnEnded {
            gid: task.gid,
            conn: task.conn,
            seg: None,
            result: Ok(()),
        };
        task.to_coord.send(ended).ok().unwrap();
        coordinator.await.unwrap()
    });
    assert!(report.interrupted);
    assert_eq!(report.exit_code(), ExitCode::Unfinished);
    assert!(
        dir.path().join("big.aria2").exists(),
        "progress kept for -c"
    );
}

#[test]
fn rpc_controls_pause_unpause_remove_and_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    run_local(move || async move {
        let o = options(&path, &[]);
        let (s, core, h) = setup(vec![], true, &o, Recorder::default());
        let coordinator = glommio::spawn_local(Coordinator::new(s).run()).detach();
        let add = |name: &str, pause: bool| {
            let mut opts = (*o).clone();
            opts.set("pause", if pause { "true" } else { "false" })
                .unwrap();
            DownloadRequest::new(vec![format!("http://m.invalid/{name}")], Arc::new(opts))
        };
        let (r1, r2) = (add("a", true), add("b", true));
        let g1 = h
            .ask(|reply| Control::Add {
                request: r1,
                position: None,
                reply,
            })
            .await
            .unwrap()
            .unwrap();
        let g2 = h
            .ask(|reply| Control::Add {
                request: r2,
                position: Some(0),
                reply,
            })
            .await
            .unwrap()
            .unwrap();
        let waiting = h
            .ask(|reply| Control::List {
                which: ListKind::Waiting,
                offset: 0,
                num: 10,
                reply,
            })
            .await
            .unwrap();
        let order: Vec<Gid> = waiting.iter().map(|s| s.gid).collect();
        assert_eq!(order, vec![g2, g1], "position 0 goes first");
        assert!(waiting.iter().all(|s| s.status == Status::Paused));
        // Paused twice is refused, as aria2 does.
        let again = h
            .ask(|reply| Control::Pause {
                gid: g1,
                force: false,
                reply,
            })
            .await;
        assert!(again.unwrap().is_err());
        // Unpausing starts it: the fake core sees its probe.
        let r = h.ask(|reply| Control::Unpause { gid: g1, reply }).await;
        assert_eq!(r.unwrap().unwrap(), g1);
        let Some(ToCore::Start(task)) = core.recv().await else {
            panic!("expected g1 to start");
        };
        assert_eq!(task.gid, g1);
        let st = h.ask(|reply| Control::Status { gid: g1, reply }).await;
        assert_eq!(st.unwrap().unwrap().status, Status::Active);
        // Removing the active one moves it to the stopped list.
        let r = h
            .ask(|reply| Control::Remove {
                gid: g1,
                force: false,
                reply,
            })
            .await;
        assert_eq!(r.unwrap().unwrap(), g1);
        let stopped = h
            .ask(|reply| Control::List {
                which: ListKind::Stopped,
                offset: 0,
                num: 10,
                reply,
            })
            .await
            .unwrap();
        assert_eq!(stopped.len(), 1);
        assert_eq!(stopped[0].status, Status::Removed);
        // aria2c 1.36 reports errorCode 31 for a removed active download.
        assert_eq!(stopped[0].error_code, Some(ExitCode::Removed));
        h.tell(Control::Shutdown { force: false }).unwrap();
        let report = coordinator.await.unwrap();
        assert_eq!(report.results.len(), 1);
    });
}

/// What RPC reads without asking (the board) against what the coordinator
/// answers when asked, field by field.
async fn assert_published(h: &ControlHandle, gid: Gid) {
    let asked = h.ask(|reply| Control::Status { gid, reply }).await.unwrap();
    let read = h.status(gid);
    let view = |s: &DownloadStatus| {
        format!(
            "{:?} {} {} {} {:?} {:?} {:?} {:?} {:?}",
            s.status,
            s.total,
            s.completed,
            s.connections,
            s.uris,
            s.path,
            s.error_code,
            s.followed_by,
            s.pieces.hex()
        )
    };
    assert_eq!(
        asked.as_ref().map(view),
        read.as_deref().map(view),
        "GID {gid}"
    );
}

#[test]
fn rpc_reads_what_the_coordinator_published() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    run_local(move || async move {
        let o = options(&path, &[("split", "1")]);
        let (s, core, h) = setup(vec![], true, &o, Recorder::default());
        let coordinator = glommio::spawn_local(Coordinator::new(s).run()).detach();
        let add = |name: &str, pause: bool| {
            let mut opts = (*o).clone();
            opts.set("pause", if pause { "true" } else { "false" })
                .unwrap();
            let req =
                DownloadRequest::new(vec![format!("http://m.invalid/{name}")], Arc::new(opts));
            h.ask(move |reply| Control::Add {
                request: req,
                position: None,
                reply,
            })
        };
        let waiting = add("w", true).await.unwrap().unwrap();
        assert_eq!(h.status(waiting).unwrap().status, Status::Paused);
        assert_eq!(h.global_stat().num_waiting, 1);
        assert_published(&h, waiting).await;
        // Started by the add itself: active before the answer is read.
        let running = add("r", false).await.unwrap().unwrap();
        assert_eq!(h.status(running).unwrap().status, Status::Active);
        assert_eq!(h.global_stat().num_active, 1);
        // Progress shows without a tick.
        serve_probe(&core, b"twelve bytes").await;
        for _ in 0..500 {
            if h.status(running)
                .is_some_and(|s| s.status == Status::Complete)
            {
                break;
            }
            glommio::timer::sleep(Duration::from_millis(2)).await;
        }
        let done = h.status(running).unwrap();
        assert_eq!((done.status, done.completed), (Status::Complete, 12));
        assert_published(&h, running).await;
        // Unpause, then remove: each change is on the board with the answer.
        h.ask(|reply| Control::Unpause {
            gid: waiting,
            reply,
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(h.status(waiting).unwrap().status, Status::Active);
        h.ask(|reply| Control::Remove {
            gid: waiting,
            force: false,
            reply,
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(h.status(waiting).unwrap().status, Status::Removed);
        assert_published(&h, waiting).await;
        assert_eq!(h.global_stat().num_stopped, 2);
        h.ask(|reply| Control::PurgeResults { reply })
            .await
            .unwrap();
        assert!(h.status(waiting).is_none() && h.status(running).is_none());
        assert!(h.known_gids().is_empty());
        h.tell(Control::Shutdown { force: false }).unwrap();
        coordinator.await.unwrap();
    });
}

#[test]
fn shutdown_keeps_the_running_download_in_the_session_and_exits_7() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let session = dir.path().join("session.txt");
    let session_at = session.clone();
    let report = run_local(move || async move {
        let o = options(&path, &[]);
        let (mut s, core, h) = setup(vec![], true, &o, Recorder::default());
        s.save_session = Some(session_at);
        let coordinator = glommio::spawn_local(Coordinator::new(s).run()).detach();
        let req = DownloadRequest::new(vec!["http://m.invalid/running".into()], o.clone());
        let add = h.ask(|reply| Control::Add {
            request: req,
            position: None,
            reply,
        });
        let gid = add.await.unwrap().unwrap();
        let Some(ToCore::Start(task)) = core.recv().await else {
            panic!("expected the download to start");
        };
        assert_eq!(task.gid, gid);
        h.tell(Control::Shutdown { force: false }).unwrap();
        coordinator.await.unwrap()
    });
    assert_eq!(report.exit_code(), ExitCode::Unfinished, "aria2 exits 7");
    let text = std::fs::read_to_string(&session).unwrap();
    assert!(text.starts_with("http://m.invalid/running\t\n"), "{text}");
    assert!(text.contains(" gid="), "{text}");
}

#[test]
fn tell_active_lists_downloads_in_start_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let (started, listed) = run_local(move || async move {
        let o = options(&path, &[]);
        let (s, core, h) = setup(vec![], true, &o, Recorder::default());
        let coordinator = glommio::spawn_local(Coordinator::new(s).run()).detach();
        h.tell(Control::SetMaxConcurrent { n: 5 }).unwrap();
        let mut started = Vec::new();
        for name in ["a", "b", "c", "d"] {
            let request = DownloadRequest::new(vec![format!("http://m.invalid/{name}")], o.clone());
            let add = h.ask(|reply| Control::Add {
                request,
                position: None,
                reply,
            });
            add.await.unwrap().unwrap();
            let Some(ToCore::Start(task)) = core.recv().await else {
                panic!("expected a start");
            };
            started.push(task.gid);
        }
        let list = h.ask(|reply| Control::List {
            which: ListKind::Active,
            offset: 0,
            num: 10,
            reply,
        });
        let listed: Vec<Gid> = list.await.unwrap().iter().map(|s| s.gid).collect();
        h.tell(Control::Shutdown { force: true }).unwrap();
        coordinator.await.unwrap();
        (started, listed)
    });
    assert_eq!(
        listed, started,
        "aria2 lists active downloads as they started"
    );
}

/// Issue 11's stall: a download paused just after its first bytes and
/// unpaused at once runs again under the same GID while the first run's
/// connection is still winding down. That connection's late messages
/// (its end, a request for work, a write) must not touch the new run:
/// once they did, and the resumed download waited forever on a
/// connection that no longer existed.
#[test]
fn a_resumed_run_ignores_the_paused_runs_late_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    run_local(move || async move {
        let o = options(&path, &[]);
        let (s, core, h) = setup(vec![], true, &o, Recorder::default());
        let coordinator = glommio::spawn_local(Coordinator::new(s).run()).detach();
        let req = DownloadRequest::new(vec!["http://m.invalid/f".into()], o.clone());
        let gid = h
            .ask(|reply| Control::Add {
                request: req,
                position: None,
                reply,
            })
            .await
            .unwrap()
            .unwrap();
        let probe = |task: Box<ConnTask>| async move {
            let Some(ProbeDecision::Stream { claim, .. }) = probe_ranged(&task, 8 << 20).await
            else {
                panic!("the probe should stream");
            };
            (task, claim)
        };
        let Some(ToCore::Start(first)) = core.recv().await else {
            panic!("expected the first run's probe");
        };
        let (first, first_claim) = probe(first).await;
        let r = h
            .ask(|reply| Control::Pause {
                gid,
                force: false,
                reply,
            })
            .await;
        assert_eq!(r.unwrap().unwrap(), gid);
        assert!(first.stop.load(Ordering::Relaxed), "old run told to stop");
        let r = h.ask(|reply| Control::Unpause { gid, reply }).await;
        assert_eq!(r.unwrap().unwrap(), gid);
        let Some(ToCore::Start(second)) = core.recv().await else {
            panic!("expected the second run's probe");
        };
        assert_ne!(first.conn, second.conn, "CUIDs never repeat");
        let (second, _claim) = probe(second).await;
        // The first run's connection now reports, late.
        let (reply, answer) = mailbox();
        let late_ask = ToCoordinator::NeedWork {
            gid,
            finished: Some(first_claim.id),
            at: None,
            conn: first.conn,
            reply,
        };
        first.to_coord.send(late_ask).ok().unwrap();
        assert!(answer.recv().await.flatten().is_none(), "no work for it");
        let late = [
            ToCoordinator::Written {
                gid,
                conn: first.conn,
                start: 0,
                end: 1 << 20,
            },
            ToCoordinator::ConnEnded {
                gid,
                conn: first.conn,
                seg: Some(first_claim.id),
                result: Ok(()),
            },
        ];
        for m in late {
            first.to_coord.send(m).ok().unwrap();
        }
        // The new run still counts its own connection and no byte of the
        // old one's.
        let st = h.ask(|reply| Control::Status { gid, reply }).await;
        let st = st.unwrap().unwrap();
        assert_eq!(st.status, Status::Active);
        assert_eq!(st.connections, 1, "{st:?}");
        assert_eq!(st.completed, 0);
        drop(second);
        h.tell(Control::Shutdown { force: true }).unwrap();
        coordinator.await.unwrap();
    });
}
