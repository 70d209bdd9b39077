//! A download's status in aria2's RPC shape: every number a string, keys
//! named as aria2 names them, filtered by the `keys` parameter.

use arietta_core::control::DownloadStatus;
use arietta_core::Status;
use arietta_rpc::Param;

fn s(v: impl ToString) -> Param {
    Param::String(v.to_string())
}

pub fn status_word(st: Status) -> &'static str {
    match st {
        Status::Active => "active",
        Status::Waiting => "waiting",
        Status::Paused => "paused",
        Status::Error => "error",
        Status::Complete => "complete",
        Status::Removed => "removed",
    }
}

pub fn uris(d: &DownloadStatus) -> Param {
    // aria2 marks the URIs of a download that has not started "waiting".
    let word = match d.status {
        Status::Waiting | Status::Paused => "waiting",
        _ => "used",
    };
    Param::Array(
        d.uris
            .iter()
            .map(|u| Param::structure([("status", s(word)), ("uri", s(u))]))
            .collect(),
    )
}

/// `getFiles`: one file per HTTP download, every file of a torrent.
pub fn files(d: &DownloadStatus) -> Param {
    if let Some(bt) = &d.bittorrent {
        return Param::Array(
            bt.files
                .iter()
                .enumerate()
                .map(|(i, (path, len, selected))| {
                    Param::structure([
                        ("index", s(i + 1)),
                        ("path", s(path.display())),
                        ("length", s(len)),
                        // Per-file progress is not tracked; a finished
                        // torrent has all of each selected file.
                        (
                            "completedLength",
                            s(if bt.seeder && *selected { *len } else { 0 }),
                        ),
                        ("selected", s(selected)),
                        ("uris", Param::Array(Vec::new())),
                    ])
                })
                .collect(),
        );
    }
    let path = d
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    Param::Array(vec![Param::structure([
        ("index", s(1)),
        ("path", s(path)),
        ("length", s(d.total)),
        ("completedLength", s(d.completed)),
        ("selected", s("true")),
        ("uris", uris(d)),
    ])])
}

/// `getPeers`: a torrent's connected peers (none for other downloads).
pub fn peers(d: &DownloadStatus) -> Param {
    let Some(bt) = &d.bittorrent else {
        return Param::Array(Vec::new());
    };
    Param::Array(
        bt.peers
            .iter()
            .map(|p| {
                let id = p
                    .peer_id
                    .map(|id| arietta_metainfo::percent_encode_all(&id))
                    .unwrap_or_default();
                Param::structure([
                    ("peerId", s(id)),
                    ("ip", s(p.addr.ip())),
                    ("port", s(p.addr.port())),
                    ("bitfield", s("")),
                    ("amChoking", s(p.am_choking)),
                    ("peerChoking", s(p.peer_choking)),
                    ("downloadSpeed", s(p.download_speed)),
                    ("uploadSpeed", s(p.upload_speed)),
                    ("seeder", s(p.seeder)),
                ])
            })
            .collect(),
    )
}

/// `tellStatus` and the list methods.
pub fn render(d: &DownloadStatus, keys: Option<&[String]>) -> Param {
    let all = [
        ("gid", s(d.gid)),
        ("status", s(status_word(d.status))),
        ("totalLength", s(d.total)),
        ("completedLength", s(d.completed)),
        ("uploadLength", s(0)),
        ("bitfield", s("")),
        ("downloadSpeed", s(d.download_speed)),
        ("uploadSpeed", s(0)),
        ("connections", s(d.connections)),
        ("numPieces", s(1)),
        ("pieceLength", s(d.total.max(1))),
        (
            "errorCode",
            s(d.error_code.map_or(0, arietta_core::ExitCode::code)),
        ),
        (
            "errorMessage",
            s(d.error_message.clone().unwrap_or_default()),
        ),
        ("dir", s(d.dir.display())),
        ("files", files(d)),
    ];
    let mut all: Vec<(&str, Param)> = all.into_iter().collect();
    if let Some(bt) = &d.bittorrent {
        for (k, v) in all.iter_mut() {
            match *k {
                "uploadLength" => *v = s(bt.upload_length),
                "connections" => *v = s(d.connections),
                _ => {}
            }
        }
        all.push(("infoHash", s(&bt.info_hash)));
        all.push(("numSeeders", s(bt.num_seeders)));
        all.push(("seeder", s(bt.seeder)));
        let tiers = bt
            .announce_list
            .iter()
            .map(|t| Param::Array(t.iter().map(s).collect()))
            .collect();
        all.push((
            "bittorrent",
            Param::structure([
                ("announceList", Param::Array(tiers)),
                ("info", Param::structure([("name", s(&bt.name))])),
                (
                    "mode",
                    s(if bt.files.len() > 1 {
                        "multi"
                    } else {
                        "single"
                    }),
                ),
            ]),
        ));
    }
    Param::Struct(
        all.into_iter()
            .filter(|(k, _)| keys.is_none_or(|keys| keys.iter().any(|w| w == k)))
            .filter(|(k, _)| {
                // aria2 omits the error fields while a download has none.
                !(matches!(*k, "errorCode" | "errorMessage") && d.error_code.is_none())
            })
            .map(|(k, v)| (k.into(), v))
            .collect(),
    )
}
