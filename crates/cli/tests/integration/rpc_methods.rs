//! Every aria2 RPC method, on each transport (JSON over HTTP POST, JSON
//! over WebSocket, XML-RPC), with the secret, checked for aria2's result
//! shapes; and a wrong or missing secret refused on each transport.
//!
//! The expected answers were taken from aria2c 1.36 given the same calls
//! (numbers as strings, "OK" for the void methods, code 1 faults).

use std::time::Duration;

use crate::support;
use crate::support::rpc_client::{Daemon, RpcClient, Transport};
use crate::support::{assert_file_eq, s, tempdir, wait_until};
use arietta_testserver::{pattern, TestServer};
use serde_json::{json, Value};

const SECRET: &str = "s3cret";

fn is_gid(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|g| g.len() == 16 && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Polls `tellStatus` until the download's status is `want`.
fn wait_status(c: &mut RpcClient, gid: &str, want: &str) -> Value {
    let mut st = Value::Null;
    let reached = wait_until(Duration::from_secs(15), || {
        st = c.ok("aria2.tellStatus", vec![json!(gid)]);
        st["status"] == want
    });
    assert!(reached, "{gid} never became {want}: {st}");
    st
}

fn every_method(transport: Transport) {
    let srv = TestServer::start();
    let body = pattern(300_000, 7);
    let url = srv.add_file("/one.bin", body.clone());
    let url2 = srv.add_file("/two.bin", pattern(1000, 8));
    let tmp = tempdir();
    let session = tmp.path().join("session.txt");
    let d = Daemon::start(
        tmp.path(),
        &[
            &format!("--rpc-secret={SECRET}"),
            &format!("--save-session={}", s(&session)),
        ],
    );
    let mut c = RpcClient::new(d.port, transport, Some(SECRET));

    // Identity.
    let v = c.ok("aria2.getVersion", vec![]);
    assert!(
        v["version"].is_string() && v["enabledFeatures"].is_array(),
        "{v}"
    );
    let v = c.ok("aria2.getSessionInfo", vec![]);
    assert!(
        v["sessionId"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );

    // Queue: two paused downloads, the second put first.
    let g1 = c.ok("aria2.addUri", vec![json!([url]), json!({"pause": "true"})]);
    assert!(is_gid(&g1), "{g1}");
    let g1 = g1.as_str().unwrap().to_owned();
    let g2 = c.ok(
        "aria2.addUri",
        vec![json!([url2]), json!({"pause": "true"}), json!(0)],
    );
    let g2 = g2.as_str().unwrap().to_owned();
    let waiting = c.ok("aria2.tellWaiting", vec![json!(0), json!(10)]);
    let order: Vec<&str> = waiting
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["gid"].as_str().unwrap())
        .collect();
    assert_eq!(order, [g2.as_str(), g1.as_str()]);
    assert_eq!(
        c.ok(
            "aria2.changePosition",
            vec![json!(g1), json!(0), json!("POS_SET")]
        ),
        json!(0)
    );

    // Status and its keys filter; every number a string.
    let st = c.ok("aria2.tellStatus", vec![json!(g1)]);
    assert_eq!(st["status"], "paused", "{st}");
    for k in [
        "totalLength",
        "completedLength",
        "downloadSpeed",
        "connections",
    ] {
        assert!(st[k].is_string(), "{k} in {st}");
    }
    let st = c.ok(
        "aria2.tellStatus",
        vec![json!(g1), json!(["gid", "status"])],
    );
    assert_eq!(st, json!({"gid": g1, "status": "paused"}));

    let uris = c.ok("aria2.getUris", vec![json!(g1)]);
    assert_eq!(uris, json!([{"status": "waiting", "uri": url}]));
    let files = c.ok("aria2.getFiles", vec![json!(g1)]);
    assert_eq!(files[0]["index"], "1", "{files}");
    assert_eq!(files[0]["selected"], "true", "{files}");
    assert_eq!(c.ok("aria2.getPeers", vec![json!(g1)]), json!([]));
    let f = c.call("aria2.getServers", vec![json!(g1)]).unwrap_err();
    assert!(f.message.contains("No active download"), "{f:?}");
    assert_eq!(f.code, 1);

    // Options of a download and global ones.
    assert_eq!(
        c.ok(
            "aria2.changeOption",
            vec![json!(g1), json!({"max-download-limit": "10K"})]
        ),
        "OK"
    );
    let o = c.ok("aria2.getOption", vec![json!(g1)]);
    assert_eq!(o["max-download-limit"], "10240", "{o}");
    assert_eq!(
        c.ok(
            "aria2.changeOption",
            vec![json!(g1), json!({"max-download-limit": "0"})]
        ),
        "OK"
    );
    let o = c.ok("aria2.getGlobalOption", vec![]);
    assert!(o["dir"].is_string(), "{o}");
    assert_eq!(
        c.ok(
            "aria2.changeGlobalOption",
            vec![json!({"max-overall-download-limit": "0"})]
        ),
        "OK"
    );
    assert_eq!(
        c.ok(
            "aria2.changeUri",
            vec![json!(g1), json!(1), json!([url]), json!([url])]
        ),
        json!([1, 1])
    );

    // Pausing what is paused is refused, as aria2 does.
    let f = c.call("aria2.pause", vec![json!(g1)]).unwrap_err();
    assert!(f.message.contains("cannot be paused"), "{f:?}");
    let f = c.call("aria2.forcePause", vec![json!(g1)]).unwrap_err();
    assert!(f.message.contains("cannot be paused"), "{f:?}");

    // Run one to completion.
    assert_eq!(c.ok("aria2.unpause", vec![json!(g1)]), json!(g1));
    let f = c.call("aria2.unpause", vec![json!(g1)]).unwrap_err();
    assert_eq!(f.code, 1);
    let st = wait_status(&mut c, &g1, "complete");
    assert_eq!(st["completedLength"], body.len().to_string(), "{st}");
    assert_file_eq(&tmp.path().join("one.bin"), &body);
    let stopped = c.ok("aria2.tellStopped", vec![json!(0), json!(10)]);
    assert!(
        stopped
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["gid"] == json!(g1) && s["errorCode"] == "0"),
        "{stopped}"
    );
    assert!(c.ok("aria2.tellActive", vec![]).is_array());

    // The *All forms.
    assert_eq!(c.ok("aria2.pauseAll", vec![]), "OK");
    assert_eq!(c.ok("aria2.forcePauseAll", vec![]), "OK");
    assert_eq!(c.ok("aria2.unpauseAll", vec![]), "OK");
    wait_status(&mut c, &g2, "complete");

    // Removal: a queued one with remove, another with forceRemove.
    let g3 = c.ok("aria2.addUri", vec![json!([url]), json!({"pause": "true"})]);
    let g4 = c.ok("aria2.addUri", vec![json!([url]), json!({"pause": "true"})]);
    assert_eq!(c.ok("aria2.remove", vec![g3.clone()]), g3);
    assert_eq!(c.ok("aria2.forceRemove", vec![g4.clone()]), g4);
    // As aria2c 1.36: a removed waiting download is gone, not a result.
    let gone = c.call("aria2.tellStatus", vec![g3.clone(), json!(["status"])]);
    assert!(gone.is_err(), "{gone:?}");
    let stat = c.ok("aria2.getGlobalStat", vec![]);
    assert_eq!(stat["numStopped"], "2", "{stat}");
    let stopped = c.ok(
        "aria2.tellStopped",
        vec![json!(0), json!(10), json!(["gid"])],
    );
    let first = stopped[0]["gid"].clone();
    assert_eq!(c.ok("aria2.removeDownloadResult", vec![first]), "OK");
    assert_eq!(c.ok("aria2.purgeDownloadResult", vec![]), "OK");
    let stat = c.ok("aria2.getGlobalStat", vec![]);
    assert_eq!(stat["numStopped"], "0", "{stat}");
    assert_eq!(stat["numStoppedTotal"], "2", "{stat}");

    // Session, introspection, multicall.
    assert_eq!(c.ok("aria2.saveSession", vec![]), "OK");
    assert!(session.exists());
    let m = c.ok("system.listMethods", vec![]);
    assert!(
        m.as_array().unwrap().contains(&json!("aria2.addUri")),
        "{m}"
    );
    let n = c.ok("system.listNotifications", vec![]);
    assert!(
        n.as_array()
            .unwrap()
            .contains(&json!("aria2.onDownloadStart")),
        "{n}"
    );
    let token = format!("token:{SECRET}");
    let mc = c.ok(
        "system.multicall",
        vec![json!([
            {"methodName": "aria2.getGlobalStat", "params": [token]},
            {"methodName": "aria2.nope", "params": [token]},
        ])],
    );
    assert!(mc[0][0]["numActive"].is_string(), "{mc}");
    // A failed entry is a fault struct: JSON names it like an error
    // object, XML-RPC like a fault.
    let code = match c.transport {
        Transport::Xml => &mc[1]["faultCode"],
        _ => &mc[1]["code"],
    };
    assert_eq!(code, &json!(1), "{mc}");

    // Unknown methods and wrong parameter types are errors, not hangs.
    assert_eq!(c.call("aria2.nope", vec![]).unwrap_err().code, 1);
    assert_eq!(
        c.call("aria2.tellStatus", vec![json!(12)])
            .unwrap_err()
            .code,
        1
    );

    // Shutdown ends the daemon with exit code 0.
    assert_eq!(c.ok("aria2.shutdown", vec![]), "OK");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn every_method_over_http_post() {
    every_method(Transport::Http);
}

#[test]
fn every_method_over_websocket() {
    every_method(Transport::WebSocket);
}

#[test]
fn every_method_over_xml_rpc() {
    every_method(Transport::Xml);
}

/// A wrong and a missing secret are refused on every transport, and the
/// daemon keeps answering the right one.
#[test]
fn secret_checked_on_every_transport() {
    let tmp = tempdir();
    let d = Daemon::start(tmp.path(), &[&format!("--rpc-secret={SECRET}")]);
    for t in [Transport::Http, Transport::WebSocket, Transport::Xml] {
        let mut wrong = RpcClient::new(d.port, t, Some("nope"));
        let f = wrong.call("aria2.tellActive", vec![]).unwrap_err();
        assert_eq!(f.code, 1, "{t:?}");
        assert!(f.message.contains("Unauthorized"), "{t:?} {f:?}");
        let mut missing = RpcClient::new(d.port, t, None);
        assert!(missing.call("aria2.getVersion", vec![]).is_err(), "{t:?}");
        let mut right = RpcClient::new(d.port, t, Some(SECRET));
        assert!(right.ok("aria2.getVersion", vec![])["version"].is_string());
        // system.* methods need no token.
        assert!(right.ok("system.listMethods", vec![]).is_array());
    }
}

/// Malformed requests get aria2's error answers on each transport, and the
/// same connection (WebSocket) or the daemon (HTTP) keeps serving.
#[test]
fn malformed_requests_get_errors() {
    use std::io::Write;
    use support::rpc_client::{http_post, ws_connect, ws_read_text, ws_text_frame};

    let tmp = tempdir();
    let d = Daemon::start(tmp.path(), &[]);
    // (body, HTTP status, JSON-RPC code) as aria2c 1.36 answers them.
    for (bad, want_status, want_code) in [
        ("{", 500, -32700),
        ("[1,2", 500, -32700),
        ("5", 500, -32700),
        ("\"just a string\"", 400, -32600),
        ("{\"method\":12}", 400, -32600),
        ("\u{0}\u{1}", 500, -32700),
    ] {
        let (status, body) = d.post(bad);
        assert_eq!(status, want_status, "{bad}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{bad}: {e} {body}"));
        assert_eq!(v["error"]["code"], want_code, "{bad}: {body}");
    }
    let (mut c, _) = ws_connect(d.port);
    c.write_all(&ws_text_frame("{not json")).unwrap();
    let v: Value = serde_json::from_str(&ws_read_text(&mut c)).unwrap();
    assert_eq!(v["error"]["code"], -32700, "{v}");
    c.write_all(&ws_text_frame(
        r#"{"jsonrpc":"2.0","id":"after","method":"aria2.getVersion"}"#,
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&ws_read_text(&mut c)).unwrap();
    assert_eq!(v["id"], "after", "{v}");
    for bad in [
        "<methodCall>",
        "<?xml version=\"1.0\"?><nope/>",
        "not xml at all",
    ] {
        // aria2 answers unparsable XML-RPC with a bare 400.
        let (status, body) = http_post(d.port, "/rpc", "text/xml", bad);
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let mut c = RpcClient::new(d.port, Transport::Xml, None);
    assert!(c.ok("aria2.getVersion", vec![])["version"].is_string());
}
