//! The dispatch layer against a real engine (one core, no download
//! started, no socket): calls in, aria2-shaped JSON out. What each call
//! answered is collected and checked after the engine has shut down, so a
//! failed check cannot leave the engine running.

use std::sync::{Arc, Mutex};

use arietta_rpc::json::encode_response;
use arietta_rpc::Id;
use serde_json::Value;

use super::*;

fn call(method: &str, params: Vec<Param>) -> RpcCall {
    let mut all = vec![Param::String("token:s3cret".into())];
    all.extend(params);
    RpcCall {
        method: method.into(),
        params: all,
        id: Id::Null,
        dialect: Dialect::Json,
    }
}

/// Runs `calls` in order on a fresh engine; returns each JSON response.
fn answers(calls: Vec<RpcCall>) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut g = OptionSet::new();
    for (k, v) in [
        ("enable-rpc", "true"),
        ("cores", "1"),
        ("rpc-secret", "s3cret"),
        ("dir", dir.path().to_str().unwrap()),
    ] {
        g.set(k, v).unwrap();
    }
    let out = Arc::new(Mutex::new(Vec::new()));
    let (sink, global) = (out.clone(), g.clone());
    let service: arietta_core::ServiceStarter = Box::new(move |handle| {
        Box::pin(async move {
            let ctx = Ctx {
                handle: handle.clone(),
                secret: Some(Secret::new("s3cret")),
                global: RefCell::new(global),
                global_parent: RefCell::default(),
                session_id: "0123456789abcdef".into(),
            };
            for c in calls {
                let r = run_call(&ctx, c).await;
                sink.lock().unwrap().push(encode_response(&Id::Null, &r));
            }
            let _ = handle.tell(Control::Shutdown { force: false });
        })
    });
    arietta_core::run_with(
        &g,
        vec![],
        Box::new(arietta_core::QuietReporter),
        Some(service),
    )
    .expect("the engine runs");
    let texts = out.lock().unwrap().clone();
    texts
        .iter()
        .map(|t| serde_json::from_str(t).expect("valid JSON"))
        .collect()
}

fn paused_add(uri: &str) -> RpcCall {
    call(
        "aria2.addUri",
        vec![
            Param::Array(vec![Param::String(uri.into())]),
            Param::structure([("pause", Param::String("true".into()))]),
        ],
    )
}

#[test]
fn queue_calls_answer_in_aria2_shapes() {
    let r = answers(vec![
        paused_add("http://a.invalid/1"),
        call("aria2.getGlobalStat", vec![]),
        call(
            "aria2.tellWaiting",
            vec![
                Param::Int(0),
                Param::Int(10),
                Param::Array(vec![Param::String("status".into())]),
            ],
        ),
        call(
            "aria2.changePosition",
            vec![
                Param::String("0000000000000001".into()),
                Param::Int(0),
                Param::String("POS_SET".into()),
            ],
        ),
        call("aria2.getVersion", vec![]),
    ]);
    let gid = r[0]["result"].as_str().expect("addUri answers the GID");
    assert_eq!(gid.len(), 16);
    let stat = &r[1]["result"];
    assert_eq!(stat["numWaiting"], "1");
    assert_eq!(stat["numActive"], "0");
    assert_eq!(r[2]["result"], serde_json::json!([{"status": "paused"}]));
    assert_eq!(
        r[3]["error"]["code"], 1,
        "unknown GID is an error: {:?}",
        r[3]
    );
    assert!(r[4]["result"]["version"].is_string());
    // aria2c 1.36's list and order; web UIs gate their torrent and
    // metalink menus on it.
    assert_eq!(
        r[4]["result"]["enabledFeatures"],
        serde_json::json!([
            "Async DNS",
            "BitTorrent",
            "Firefox3 Cookie",
            "GZip",
            "HTTPS",
            "Message Digest",
            "Metalink",
            "XML-RPC",
            "SFTP"
        ])
    );
}

#[test]
fn multicall_runs_each_entry_and_wrong_gid_fails_alone() {
    let entry = |name: &str, params: Vec<Param>| {
        let mut p = vec![Param::String("token:s3cret".into())];
        p.extend(params);
        Param::structure([
            ("methodName", Param::String(name.into())),
            ("params", Param::Array(p)),
        ])
    };
    let r = answers(vec![call(
        "system.multicall",
        vec![Param::Array(vec![
            entry("aria2.getGlobalStat", vec![]),
            entry(
                "aria2.tellStatus",
                vec![Param::String("ffffffffffffffff".into())],
            ),
        ])],
    )]);
    let results = r[0]["result"].as_array().expect("an array of results");
    assert_eq!(results.len(), 2);
    assert!(results[0].is_array(), "a success is wrapped in an array");
    assert_eq!(results[1]["code"], 1);
}

#[test]
fn add_uri_with_a_gid_in_use_is_refused_like_aria2() {
    let with_gid = |uri: &str| {
        call(
            "aria2.addUri",
            vec![
                Param::Array(vec![Param::String(uri.into())]),
                Param::structure([
                    ("gid", Param::String("0123456789abcdef".into())),
                    ("pause", Param::String("true".into())),
                ]),
            ],
        )
    };
    let r = answers(vec![
        with_gid("http://a.invalid/1"),
        with_gid("http://a.invalid/2"),
        call(
            "aria2.tellWaiting",
            vec![
                Param::Int(0),
                Param::Int(10),
                Param::Array(vec![Param::String("gid".into())]),
            ],
        ),
    ]);
    assert_eq!(r[0]["result"], "0123456789abcdef");
    // aria2c 1.36 answers exactly this, and keeps the first download.
    assert_eq!(r[1]["error"]["code"], 1);
    assert_eq!(r[1]["error"]["message"], "No URI to download.");
    assert_eq!(
        r[2]["result"],
        serde_json::json!([{"gid": "0123456789abcdef"}])
    );
}

#[test]
fn get_global_option_never_shows_the_secret() {
    let r = answers(vec![call("aria2.getGlobalOption", vec![])]);
    let opts = r[0]["result"].as_object().expect("an options struct");
    assert_eq!(opts["enable-rpc"], "true");
    assert!(!opts.contains_key("rpc-secret"), "aria2 never lists it");
}

#[test]
fn options_rpc_cannot_use_are_skipped_and_bad_values_fail_in_one_line() {
    let add = |opts: Vec<(&'static str, &str)>| {
        let o = opts
            .into_iter()
            .map(|(k, v)| (k, Param::String(v.into())))
            .collect::<Vec<_>>();
        call(
            "aria2.addUri",
            vec![
                Param::Array(vec![Param::String("http://a.invalid/1".into())]),
                Param::structure(o),
            ],
        )
    };
    let r = answers(vec![
        add(vec![
            ("nosuch", "1"),
            ("pause", "true"),
            ("gid", "00000000000000aa"),
        ]),
        add(vec![("split", "abc"), ("pause", "true")]),
        call(
            "aria2.changeOption",
            vec![
                Param::String("00000000000000aa".into()),
                Param::structure([
                    ("nosuch", Param::String("1".into())),
                    ("rpc-listen-port", Param::String("1234".into())),
                ]),
            ],
        ),
        call(
            "aria2.changeGlobalOption",
            vec![Param::structure([("nosuch", Param::String("1".into()))])],
        ),
        call(
            "aria2.changeGlobalOption",
            vec![Param::structure([(
                "rpc-listen-port",
                Param::String("1234".into()),
            )])],
        ),
        call(
            "aria2.changeGlobalOption",
            vec![Param::structure([(
                "max-concurrent-downloads",
                Param::String("abc".into()),
            )])],
        ),
    ]);
    // Each answer as aria2c 1.36 gives it for the same call.
    assert_eq!(r[0]["result"], "00000000000000aa");
    assert_eq!(
        r[1]["error"]["message"],
        "We encountered a problem while processing the option '--split'."
    );
    assert_eq!(r[2]["result"], "OK");
    assert_eq!(r[3]["result"], "OK");
    assert_eq!(r[4]["result"], "OK");
    assert_eq!(
        r[5]["error"]["message"],
        "We encountered a problem while processing the option '--max-concurrent-downloads'."
    );
}

#[test]
fn get_option_of_a_download_lists_only_per_download_options() {
    let gid = "00000000000000ab";
    let add = call(
        "aria2.addUri",
        vec![
            Param::Array(vec![Param::String("http://a.invalid/2".into())]),
            Param::structure([
                ("gid", Param::String(gid.into())),
                ("pause", Param::String("true".into())),
            ]),
        ],
    );
    let get = call("aria2.getOption", vec![Param::String(gid.into())]);
    let r = answers(vec![add, get]);
    let opts = r[1]["result"].as_object().expect("an options struct");
    // As aria2c 1.36 (compared key by key): what one download uses, and
    // neither global-only options nor the consumed gid/pause.
    for key in [
        "dir",
        "split",
        "max-connection-per-server",
        "save-not-found",
    ] {
        assert!(opts.contains_key(key), "{key} missing: {opts:?}");
    }
    for key in [
        "max-concurrent-downloads",
        "enable-rpc",
        "rpc-listen-port",
        "gid",
        "pause",
    ] {
        assert!(!opts.contains_key(key), "{key} listed: {opts:?}");
    }
}

/// A one-piece single-file torrent with a comment and a creation date.
fn small_torrent() -> Vec<u8> {
    let mut info = b"d6:lengthi1000e4:name5:x.bin12:piece lengthi16384e6:pieces20:".to_vec();
    info.extend_from_slice(&[7u8; 20]);
    info.push(b'e');
    let mut t = b"d7:comment2:hi13:creation datei1700000000e4:info".to_vec();
    t.extend_from_slice(&info);
    t.push(b'e');
    t
}

#[test]
fn waiting_downloads_show_pieces_and_torrent_facts_as_aria2() {
    let r = answers(vec![
        call(
            "aria2.addTorrent",
            vec![
                Param::Base64(small_torrent()),
                Param::Array(vec![]),
                Param::structure([("pause", Param::String("true".into()))]),
            ],
        ),
        paused_add("http://a.invalid/1"),
        call("aria2.tellWaiting", vec![Param::Int(0), Param::Int(10)]),
        call("aria2.getGlobalStat", vec![]),
    ]);
    let list = r[2]["result"].as_array().expect("tellWaiting: a list");
    let (t, h) = (&list[0], &list[1]);
    // aria2c 1.36: a torrent queued paused shows its metainfo and pieces,
    // but no bitfield (it has no piece storage yet) and no length.
    assert_eq!(t["gid"], r[0]["result"]);
    assert_eq!(t["infoHash"].as_str().map(str::len), Some(40), "{t}");
    assert_eq!(t["numPieces"], "1");
    assert_eq!(t["pieceLength"], "16384");
    assert_eq!(t["totalLength"], "0");
    assert_eq!(t["seeder"], "false");
    assert_eq!(t["numSeeders"], "0");
    assert!(t.get("bitfield").is_none(), "{t}");
    let bt = &t["bittorrent"];
    assert_eq!(bt["comment"], "hi");
    assert_eq!(bt["creationDate"], 1700000000);
    assert_eq!(bt["mode"], "single");
    assert_eq!(bt["info"]["name"], "x.bin");
    assert_eq!(t["files"][0]["length"], "1000");
    assert_eq!(t["files"][0]["uris"], serde_json::json!([]));
    // An HTTP download that has not run: `--piece-length`, no pieces.
    assert_eq!(h["numPieces"], "0");
    assert_eq!(h["pieceLength"], "1048576");
    assert!(h.get("bitfield").is_none(), "{h}");
    assert!(h.get("infoHash").is_none(), "{h}");
    assert_eq!(r[3]["result"]["uploadSpeed"], "0");
}
