//! A download's status in aria2's RPC shape: every number a string, keys
//! named as aria2 names them, filtered by the `keys` parameter.

use arietta_core::control::DownloadStatus;
use arietta_core::torrent_info::TorrentInfo;
use arietta_core::{Gid, Status};
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
    // aria2 marks the URIs of a download that has not started "waiting";
    // one paused after it ran (it has pieces) has used them.
    let ran = d.pieces.bits.is_some();
    let word = match d.status {
        Status::Waiting | Status::Paused if !ran => "waiting",
        _ => "used",
    };
    Param::Array(
        d.uris
            .iter()
            .map(|u| Param::structure([("status", s(word)), ("uri", s(u))]))
            .collect(),
    )
}

/// `getFiles`: one file per HTTP download, every file of a torrent. A
/// file's `completedLength` counts its bytes in complete pieces, as aria2
/// does (so an HTTP download shows 0 until its first whole piece).
pub fn files(d: &DownloadStatus) -> Param {
    if let Some(bt) = &d.bittorrent {
        return Param::Array(
            bt.info
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    Param::structure([
                        ("index", s(i + 1)),
                        ("path", s(f.path.display())),
                        ("length", s(f.length)),
                        (
                            "completedLength",
                            s(d.pieces.completed_within(f.offset, f.length)),
                        ),
                        ("selected", s(f.selected)),
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
        ("completedLength", s(d.pieces.completed_within(0, d.total))),
        ("selected", s("true")),
        ("uris", uris(d)),
    ])])
}

/// `getServers`: per file, the connections in use (none for a torrent's
/// files, as aria2 answers).
pub fn servers(d: &DownloadStatus) -> Param {
    let servers = || {
        Param::Array(
            d.servers
                .iter()
                .map(|c| {
                    Param::structure([
                        ("uri", s(&c.uri)),
                        ("currentUri", s(&c.current_uri)),
                        ("downloadSpeed", s(c.download_speed)),
                    ])
                })
                .collect(),
        )
    };
    let n = d.bittorrent.as_ref().map_or(1, |bt| bt.info.files.len());
    Param::Array(
        (1..=n)
            .map(|i| {
                let list = if d.bittorrent.is_some() {
                    Param::Array(Vec::new())
                } else {
                    servers()
                };
                Param::structure([("index", s(i)), ("servers", list)])
            })
            .collect(),
    )
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

/// The `bittorrent` struct: aria2 leaves out what the torrent lacks (no
/// comment, no date, and no `info` or `mode` before a magnet's metadata).
fn bittorrent(info: &TorrentInfo) -> Param {
    let tiers = info
        .announce_list
        .iter()
        .map(|t| Param::Array(t.iter().map(s).collect()))
        .collect();
    let mut m: Vec<(&str, Param)> = Vec::with_capacity(5);
    if let Some(c) = &info.comment {
        m.push(("comment", s(c)));
    }
    if let Some(d) = info.creation_date {
        // An integer, not a string: aria2's one numeric status value.
        m.push(("creationDate", Param::Int(d)));
    }
    if info.has_metadata {
        m.push(("mode", s(if info.multi_file { "multi" } else { "single" })));
    }
    m.push(("announceList", Param::Array(tiers)));
    if info.has_metadata {
        m.push(("info", Param::structure([("name", s(&info.name))])));
    }
    Param::structure(m)
}

fn gid_list(g: &[Gid]) -> Param {
    Param::Array(g.iter().map(s).collect())
}

/// `tellStatus` and the list methods. Keys appear as aria2c 1.36 shows
/// them for the download's state (compared key by key in
/// `tests/integration/rpc_vs_aria2.rs`).
pub fn render(d: &DownloadStatus, keys: Option<&[String]>) -> Param {
    let stopped = d.error_code.is_some();
    let mut all: Vec<(&str, Param)> = vec![
        ("gid", s(d.gid)),
        ("status", s(status_word(d.status))),
        ("totalLength", s(d.total)),
        ("completedLength", s(d.completed)),
        ("uploadLength", s(d.upload_length)),
    ];
    if let Some(hex) = d.pieces.hex() {
        all.push(("bitfield", s(hex)));
    }
    all.extend([
        ("downloadSpeed", s(d.download_speed)),
        ("uploadSpeed", s(d.upload_speed)),
        ("connections", s(d.connections)),
        ("numPieces", s(d.pieces.num_pieces)),
        ("pieceLength", s(d.pieces.piece_length)),
    ]);
    if let Some(code) = d.error_code {
        all.push(("errorCode", s(code.code())));
        all.push((
            "errorMessage",
            s(d.error_message.clone().unwrap_or_default()),
        ));
    }
    if !d.followed_by.is_empty() {
        all.push(("followedBy", gid_list(&d.followed_by)));
    }
    if let Some(g) = d.following {
        all.push(("following", s(g)));
    }
    if let Some(g) = d.belongs_to {
        all.push(("belongsTo", s(g)));
    }
    all.push(("dir", s(d.dir.display())));
    all.push(("files", files(d)));
    if let Some(bt) = &d.bittorrent {
        all.push(("infoHash", s(&bt.info.info_hash)));
        all.push(("numSeeders", s(if stopped { 0 } else { bt.num_seeders })));
        if let Some(seeder) = bt.seeder {
            all.push(("seeder", s(seeder)));
        }
        all.push(("bittorrent", bittorrent(&bt.info)));
    }
    Param::Struct(
        all.into_iter()
            .filter(|(k, _)| keys.is_none_or(|keys| keys.iter().any(|w| w == k)))
            .map(|(k, v)| (k.into(), v))
            .collect(),
    )
}
