//! The segmented download's rules, driven without sockets, files or
//! timers: inputs in, actions out.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arietta_http::HttpError;
use arietta_metalink::{HashAlgo, PieceHashes};
use arietta_options::OptionSet;
use arietta_storage::RangeSet;

use super::*;
use crate::metalink_plan::MetalinkFile;

const MIB: u64 = 1 << 20;

fn cfg(opts: &[(&str, &str)]) -> Arc<DownloadConfig> {
    let mut o = OptionSet::new();
    for (k, v) in opts {
        o.set(k, v).unwrap();
    }
    Arc::new(DownloadConfig::from_options(&o))
}

fn uris(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("http://mirror{i}/file")).collect()
}

struct World {
    stats: ServerStatTable,
    now: Instant,
    halted: bool,
}

impl World {
    fn new() -> Self {
        World {
            stats: ServerStatTable::default(),
            now: Instant::now(),
            halted: false,
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            now: self.now,
            stats: &self.stats,
            halted: self.halted,
            tick: Duration::from_millis(250),
        }
    }
}

fn prepared(total: u64, control: bool) -> PreparedFile {
    PreparedFile {
        path: PathBuf::from("/nonexistent/file"),
        done: RangeSet::new(),
        total: Some(total),
        ranges: true,
        control,
        validator: None,
        verified: false,
    }
}

fn connects(out: &[Action]) -> Vec<(ConnId, String, bool)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Connect { conn, url, probe } => Some((*conn, url.clone(), *probe)),
            _ => None,
        })
        .collect()
}

/// Starts a download of `total` bytes over `n` mirrors and runs the probe
/// (connection 1) to the point where the file is prepared.
fn running(
    opts: &[(&str, &str)],
    n: usize,
    total: u64,
    w: &World,
) -> (SegmentedDownload, Vec<Action>) {
    let mut d = SegmentedDownload::new(cfg(opts), &uris(n), None);
    let mut out = Vec::new();
    d.start(&w.ctx(), &mut out);
    assert_eq!(
        connects(&out),
        vec![(1, "http://mirror0/file".into(), true)]
    );
    out.clear();
    let outcome = d.on_probed(
        1,
        Ok(ProbeInfo::ranged("http://mirror0/file", total)),
        &mut out,
    );
    assert!(matches!(outcome, ProbeOutcome::Prepare { .. }));
    let decision = d.on_prepared(1, Ok(prepared(total, true)), &w.ctx(), &mut out);
    assert!(matches!(decision, ProbeDecision::Stream { .. }));
    (d, out)
}

#[test]
fn unsupported_uris_fail_at_start() {
    let w = World::new();
    let mut d = SegmentedDownload::new(cfg(&[]), &["gopher://x/y".to_owned()], None);
    let mut out = Vec::new();
    d.start(&w.ctx(), &mut out);
    assert!(matches!(out.as_slice(), [Action::Fail]));
    assert!(matches!(
        d.take_error(),
        Some(FetchError::UnsupportedUri(_))
    ));
}

#[test]
fn prepared_file_opens_split_connections_over_mirrors() {
    let w = World::new();
    let (d, out) = running(
        &[
            ("split", "4"),
            ("max-connection-per-server", "2"),
            ("min-split-size", "1M"),
        ],
        2,
        64 * MIB,
        &w,
    );
    // -s4 over 2 mirrors with -x2: three more besides the probe, never
    // more than two on a mirror.
    let c = connects(&out);
    assert_eq!(c.len(), 3);
    let on0 = c.iter().filter(|(_, u, _)| u.contains("mirror0")).count();
    assert!(on0 <= 1, "mirror0 already has the probe: {c:?}");
    assert_eq!(d.connections(), 4);
}

#[test]
fn work_is_handed_out_until_done_then_finalized() {
    let w = World::new();
    let (mut d, out) = running(
        &[
            ("split", "2"),
            ("max-connection-per-server", "2"),
            ("min-split-size", "1M"),
        ],
        1,
        8 * MIB,
        &w,
    );
    let (second, _, _) = connects(&out)[0];
    let work = d.need_work(second, None, None, false).expect("a segment");
    let (s, e) = work.claim.cursor.get();
    assert!(s > 0 && e == 8 * MIB, "the back half: {s}..{e}");
    let mut out = Vec::new();
    d.on_written(second, s, e, w.now, &mut out);
    assert!(out.is_empty());
    d.on_written(1, 0, s, w.now, &mut out);
    match out.as_slice() {
        [Action::Finalize(Some(job))] => assert!(job.control),
        other => panic!("expected Finalize, got {other:?}"),
    }
    assert!(d.finishing());
    assert_eq!(d.completed(), 8 * MIB);
    assert!(d.need_work(second, None, None, false).is_none());
}

#[test]
fn control_snapshot_tracks_written_bytes() {
    let w = World::new();
    let (mut d, _) = running(&[], 1, 4 * MIB, &w);
    let mut out = Vec::new();
    d.on_written(1, 0, MIB, w.now, &mut out);
    d.on_tick(0, &w.ctx(), &mut out);
    assert!(matches!(out.first(), Some(Action::SaveControl)));
    let (path, rec) = d.control_snapshot().expect("ranged file keeps one");
    assert_eq!(path, PathBuf::from("/nonexistent/file.aria2"));
    assert_eq!(rec.total_length, 4 * MIB);
    assert_eq!(rec.completed.covered(), MIB);
    out.clear();
    d.on_tick(0, &w.ctx(), &mut out);
    assert!(
        !out.iter().any(|a| matches!(a, Action::SaveControl)),
        "clean now"
    );
}

/// `--auto-save-interval=0`: no saves while running (aria2 saves only
/// when the download stops, which the coordinator does on halt and fail).
#[test]
fn auto_save_interval_zero_saves_nothing_while_running() {
    let w = World::new();
    let (mut d, _) = running(&[("auto-save-interval", "0")], 1, 4 * MIB, &w);
    let mut out = Vec::new();
    d.on_written(1, 0, MIB, w.now, &mut out);
    d.on_tick(0, &w.ctx(), &mut out);
    assert!(!out.iter().any(|a| matches!(a, Action::SaveControl)));
    let (_, rec) = d.control_snapshot().expect("still recorded at the stop");
    assert_eq!(rec.completed.covered(), MIB);
}

#[test]
fn retryable_failure_waits_then_reconnects() {
    let w = World::new();
    let (mut d, _) = running(&[("retry-wait", "3"), ("max-tries", "5")], 1, 4 * MIB, &w);
    let mut out = Vec::new();
    d.on_conn_ended(1, None, Err(FetchError::Timeout(5)), &w.ctx(), &mut out);
    let retry = out.iter().find_map(|a| match a {
        Action::RetryAfter { uri, probe, after } => Some((*uri, *probe, *after)),
        _ => None,
    });
    assert_eq!(retry, Some((0, false, Duration::from_secs(3))));
    // A retry is logged (INFO, "Restarting the download."), not shown,
    // as aria2 does.
    assert!(!out.iter().any(|a| matches!(a, Action::Notice(..))));
    assert!(!out.iter().any(|a| matches!(a, Action::Fail)));
    out.clear();
    d.on_retry(0, false, &w.ctx(), &mut out);
    assert_eq!(connects(&out).len(), 1);
}

#[test]
fn a_dead_mirror_hands_its_work_to_the_other() {
    let w = World::new();
    let (mut d, _) = running(
        &[("max-connection-per-server", "1"), ("split", "1")],
        2,
        4 * MIB,
        &w,
    );
    let mut out = Vec::new();
    // 404 with the default --max-file-not-found=0: the mirror is dead at once.
    let nf = FetchError::Http(HttpError::Status { status: 404 });
    d.on_conn_ended(1, None, Err(nf), &w.ctx(), &mut out);
    let c = connects(&out);
    assert_eq!(c.len(), 1, "{out:?}");
    assert!(c[0].1.contains("mirror1"));
    assert!(!out
        .iter()
        .any(|a| matches!(a, Action::Fail | Action::RetryAfter { .. })));
}

#[test]
fn last_mirror_out_of_tries_fails_the_download() {
    let w = World::new();
    let (mut d, _) = running(&[("max-tries", "1")], 1, 4 * MIB, &w);
    let mut out = Vec::new();
    d.on_conn_ended(1, None, Err(FetchError::Timeout(5)), &w.ctx(), &mut out);
    assert!(matches!(out.last(), Some(Action::Fail)), "{out:?}");
    // The connection said it, aria2's way, so the download's end does not
    // say it again.
    let said = out.iter().find_map(|a| match a {
        Action::Notice(LogLevel::Error, l) => Some(l.clone()),
        _ => None,
    });
    let said = said.expect("a Download aborted line");
    assert!(
        said.starts_with("CUID#1 - Download aborted. URI=http://mirror0/file\nException: ["),
        "{said}"
    );
    let e = d.take_error().expect("the error");
    assert!(matches!(e, FetchError::Timeout(5)));
    assert!(d.error_reported(&e));
}

#[test]
fn an_interrupt_stops_work_and_halts_when_idle() {
    let mut w = World::new();
    let (mut d, _) = running(&[], 1, 4 * MIB, &w);
    w.halted = true;
    assert!(d.need_work(1, None, None, true).is_none());
    let mut out = Vec::new();
    d.on_conn_ended(1, None, Ok(()), &w.ctx(), &mut out);
    assert!(matches!(out.as_slice(), [Action::Halt]), "{out:?}");
}

#[test]
fn too_slow_for_lowest_speed_limit_fails_after_grace() {
    let mut w = World::new();
    let (mut d, _) = running(
        &[("lowest-speed-limit", "1M"), ("timeout", "5")],
        1,
        64 * MIB,
        &w,
    );
    let mut out = Vec::new();
    d.on_tick(0, &w.ctx(), &mut out);
    assert!(!out.iter().any(|a| matches!(a, Action::Fail)));
    w.now += Duration::from_secs(6);
    d.on_tick(0, &w.ctx(), &mut out);
    assert!(matches!(out.last(), Some(Action::Fail)), "{out:?}");
    assert!(matches!(d.take_error(), Some(FetchError::TooSlow { .. })));
}

#[test]
fn metalink_size_mismatch_drops_every_mirror() {
    let w = World::new();
    let ml = MetalinkFile {
        name: "f".into(),
        size: Some(100),
        pieces: None,
        signature: None,
        torrent: None,
    };
    let mut d = SegmentedDownload::new(cfg(&[]), &uris(2), Some(&ml));
    let mut out = Vec::new();
    d.start(&w.ctx(), &mut out);
    let _ = d.on_probed(
        1,
        Ok(ProbeInfo::ranged("http://mirror0/file", 200)),
        &mut out,
    );
    let decision = d.on_prepared(1, Ok(prepared(200, false)), &w.ctx(), &mut out);
    assert!(matches!(decision, ProbeDecision::Stop));
    out.clear();
    d.on_conn_ended(1, None, Ok(()), &w.ctx(), &mut out);
    assert!(matches!(out.as_slice(), [Action::Fail]), "{out:?}");
    assert!(matches!(
        d.take_error(),
        Some(FetchError::SizeChanged { was: 100, now: 200 })
    ));
}

#[test]
fn bad_piece_is_refetched_and_its_mirror_dropped() {
    let w = World::new();
    let ml = MetalinkFile {
        name: "f".into(),
        size: None,
        pieces: Some(PieceHashes {
            algo: HashAlgo::Sha1,
            length: MIB,
            hashes: vec![vec![0; 20]; 2],
        }),
        signature: None,
        torrent: None,
    };
    let mut d = SegmentedDownload::new(
        cfg(&[
            ("split", "2"),
            ("max-connection-per-server", "1"),
            ("min-split-size", "1M"),
        ]),
        &uris(2),
        Some(&ml),
    );
    let mut out = Vec::new();
    d.start(&w.ctx(), &mut out);
    let _ = d.on_probed(
        1,
        Ok(ProbeInfo::ranged("http://mirror0/file", 2 * MIB)),
        &mut out,
    );
    let _ = d.on_prepared(1, Ok(prepared(2 * MIB, true)), &w.ctx(), &mut out);
    out.clear();
    d.on_written(1, 0, MIB, w.now, &mut out);
    let index = match out.as_slice() {
        [Action::CheckPiece {
            index,
            check: Some(c),
        }] => {
            assert_eq!((c.job.start, c.job.end), (0, MIB));
            *index
        }
        other => panic!("expected a piece check, got {other:?}"),
    };
    out.clear();
    d.on_piece_checked(index, false, &w.ctx(), &mut out);
    assert_eq!(d.completed(), 0, "the bad piece left the done ranges");
    assert!(out.iter().any(
        |a| matches!(a, Action::Notice(_, l) if l.contains("dropping mirror http://mirror0/file"))
    ));
    assert!(out.iter().any(|a| matches!(a, Action::SaveControl)));
    assert!(!out.iter().any(|a| matches!(a, Action::Fail)));
}

#[test]
fn not_modified_finishes_without_prepare() {
    let w = World::new();
    let mut d = SegmentedDownload::new(cfg(&[("conditional-get", "true")]), &uris(1), None);
    let mut out = Vec::new();
    d.start(&w.ctx(), &mut out);
    out.clear();
    let mut i = ProbeInfo::ranged("http://mirror0/file", 10);
    i.not_modified = true;
    assert!(matches!(
        d.on_probed(1, Ok(i), &mut out),
        ProbeOutcome::Stop
    ));
    assert!(matches!(out.last(), Some(Action::Finalize(None))));
    assert!(d.finishing());
}

#[test]
fn max_file_not_found_gives_the_download_up_with_exit_4() {
    let w = World::new();
    let mut d = SegmentedDownload::new(
        cfg(&[("max-file-not-found", "2"), ("max-tries", "5")]),
        &uris(1),
        None,
    );
    let mut out = Vec::new();
    d.start(&w.ctx(), &mut out);
    let nf = || FetchError::Http(HttpError::Status { status: 404 });
    d.on_conn_ended(1, None, Err(nf()), &w.ctx(), &mut out);
    assert!(!out.iter().any(|a| matches!(a, Action::Fail)), "{out:?}");
    out.clear();
    d.on_retry(0, true, &w.ctx(), &mut out);
    let conn = connects(&out)[0].0;
    d.on_conn_ended(conn, None, Err(nf()), &w.ctx(), &mut out);
    assert!(matches!(out.last(), Some(Action::Fail)), "{out:?}");
    let e = d.take_error().expect("an error");
    assert_eq!(e.exit_code(), crate::ExitCode::MaxFileNotFound);
}

/// Per-mirror counts of the connections a freshly prepared download runs
/// (the probe on mirror0 included).
fn spread(opts: &[(&str, &str)], n: usize) -> Vec<usize> {
    let w = World::new();
    let (_, out) = running(opts, n, 64 * MIB, &w);
    let mut per = vec![0; n];
    per[0] += 1;
    for (_, u, _) in connects(&out) {
        let i = (0..n).find(|i| u.contains(&format!("mirror{i}/"))).unwrap();
        per[i] += 1;
    }
    per
}

#[test]
fn connections_go_round_the_mirrors_not_onto_the_best() {
    // aria2c -x8 -s8 with two mirrors: 4 and 4, not 8 and 0.
    let opts = [
        ("split", "8"),
        ("max-connection-per-server", "8"),
        ("min-split-size", "1M"),
    ];
    assert_eq!(spread(&opts, 2), vec![4, 4]);
    for sel in ["inorder", "adaptive"] {
        let mut o = opts.to_vec();
        o.push(("uri-selector", sel));
        assert_eq!(spread(&o, 2), vec![4, 4], "{sel}");
    }
    // -s5 over three: the list order decides who gets the extra one.
    let o = [
        ("split", "5"),
        ("max-connection-per-server", "2"),
        ("min-split-size", "1M"),
    ];
    assert_eq!(spread(&o, 3), vec![2, 2, 1]);
}

#[test]
fn without_reuse_uri_each_uri_serves_its_copies_in_arias_list() {
    // aria2 lists 3 URIs under -s8 -x8 twice, the first two once more.
    let opts = [
        ("split", "8"),
        ("max-connection-per-server", "8"),
        ("min-split-size", "1M"),
        ("reuse-uri", "false"),
    ];
    assert_eq!(spread(&opts, 3), vec![3, 3, 2]);
    // -x2 caps the copies at two, with no remainder.
    let opts = [
        ("split", "8"),
        ("max-connection-per-server", "2"),
        ("min-split-size", "1M"),
        ("reuse-uri", "false"),
    ];
    assert_eq!(spread(&opts, 3), vec![2, 2, 2]);
    // As many URIs as -s: one connection each.
    let opts = [
        ("split", "3"),
        ("max-connection-per-server", "8"),
        ("min-split-size", "1M"),
        ("reuse-uri", "false"),
    ];
    assert_eq!(spread(&opts, 3), vec![1, 1, 1]);
}

#[test]
fn max_connection_per_server_counts_hosts_not_uris() {
    // Two URIs on one host (other ports, other paths) share its -x.
    let w = World::new();
    let list = vec![
        "http://h/a".to_owned(),
        "http://h:81/b".to_owned(),
        "http://other/c".to_owned(),
    ];
    let opts = [
        ("split", "8"),
        ("max-connection-per-server", "2"),
        ("min-split-size", "1M"),
    ];
    let mut d = SegmentedDownload::new(cfg(&opts), &list, None);
    let mut out = Vec::new();
    d.start(&w.ctx(), &mut out);
    out.clear();
    let _ = d.on_probed(1, Ok(ProbeInfo::ranged("http://h/a", 64 * MIB)), &mut out);
    let _ = d.on_prepared(1, Ok(prepared(64 * MIB, true)), &w.ctx(), &mut out);
    let c = connects(&out);
    let on_h = 1 + c
        .iter()
        .filter(|(_, u, _)| u.starts_with("http://h"))
        .count();
    let on_other = c.iter().filter(|(_, u, _)| u.contains("other")).count();
    assert_eq!((on_h, on_other), (2, 2), "{c:?}");
}

/// `-o -`: small pieces handed out lowest first, next to the write cursor,
/// and the end waits for stdout rather than doing file work.
#[test]
fn streaming_hands_out_small_pieces_in_order_and_finishes_on_stdout() {
    let w = World::new();
    let total = 64 * MIB;
    let mut d = SegmentedDownload::new(
        cfg(&[
            ("out", "-"),
            ("split", "4"),
            ("max-connection-per-server", "4"),
        ]),
        &uris(1),
        None,
    );
    let mut out = Vec::new();
    d.start(&w.ctx(), &mut out);
    let outcome = d.on_probed(
        1,
        Ok(ProbeInfo::ranged("http://mirror0/file", total)),
        &mut out,
    );
    assert!(matches!(outcome, ProbeOutcome::Prepare { .. }));
    out.clear();
    let pf = PreparedFile {
        path: PathBuf::from("-"),
        control: false,
        ..prepared(total, false)
    };
    let ProbeDecision::Stream { claim, target } = d.on_prepared(1, Ok(pf), &w.ctx(), &mut out)
    else {
        panic!("the probe streams");
    };
    assert!(target.stream);
    // -s4: pieces of 16 MiB / 8 = 2 MiB, from the cursor up.
    assert_eq!(claim.cursor.get(), (0, 2 * MIB));
    let conns: Vec<ConnId> = connects(&out).iter().map(|c| c.0).collect();
    assert_eq!(conns.len(), 3);
    for (i, &c) in conns.iter().enumerate() {
        let work = d.need_work(c, None, None, false).expect("a piece");
        let at = (i as u64 + 1) * 2 * MIB;
        assert_eq!(work.claim.cursor.get(), (at, at + 2 * MIB));
        assert!(work.target.stream);
    }
    out.clear();
    d.on_written(1, 0, total, w.now, &mut out);
    match out.as_slice() {
        [Action::Finalize(Some(job))] => {
            assert_eq!(job.stream_len, Some(total));
            assert!(!job.control);
        }
        other => panic!("expected Finalize, got {other:?}"),
    }
    assert!(d.control_snapshot().is_none(), "no control file for a pipe");
}
