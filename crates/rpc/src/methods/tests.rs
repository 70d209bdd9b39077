//! Parameter validation of every method, with aria2's error wording.

use super::params::decode_base64_skipping_junk;
use super::*;
use crate::request::Id;

fn call(method: &str, params: Vec<Param>) -> RpcCall {
    RpcCall {
        method: method.into(),
        params,
        id: Id::Number(7.into()),
        dialect: Dialect::Json,
    }
}

fn err(method: &str, params: Vec<Param>) -> String {
    parse_method(&call(method, params)).unwrap_err().to_string()
}

fn arr(items: &[&str]) -> Param {
    Param::Array(items.iter().map(|s| Param::from(*s)).collect())
}

const GID: &str = "2089b05ecca3d829";

#[test]
fn method_list_is_aria2s() {
    let Param::Array(items) = list_methods() else {
        panic!()
    };
    assert_eq!(items.len(), 36);
    assert_eq!(items[0], Param::from("aria2.addUri"));
    assert_eq!(items[35], Param::from("system.listNotifications"));
    let Param::Array(n) = list_notifications() else {
        panic!()
    };
    assert_eq!(n[5], Param::from("aria2.onBtDownloadComplete"));
    // Every listed method parses (maybe with a parameter error), none is
    // "No such method".
    for m in METHOD_NAMES {
        let r = parse_method(&call(m, vec![]));
        assert!(!matches!(r, Err(Error::NoSuchMethod(_))), "{m}");
    }
    assert_eq!(err("aria2.nope", vec![]), "No such method: aria2.nope");
}

#[test]
fn add_uri_shapes() {
    let m = parse_method(&call(
        "aria2.addUri",
        vec![
            Param::Array(vec![
                "http://a/x".into(),
                Param::Int(3),
                "http://b/x".into(),
            ]),
            Param::structure([
                ("dir", Param::from("/tmp")),
                ("split", Param::Int(4)),
                ("header", arr(&["A: 1", "B: 2"])),
                ("ignored", Param::Nil),
            ]),
            Param::Int(0),
        ],
    ))
    .unwrap();
    assert_eq!(
        m,
        Method::AddUri {
            uris: vec!["http://a/x".into(), "http://b/x".into()],
            options: RpcOptions(vec![
                ("dir".into(), "/tmp".into()),
                ("split".into(), "4".into()),
                ("header".into(), "A: 1".into()),
                ("header".into(), "B: 2".into()),
            ]),
            position: Some(0),
        }
    );
    assert_eq!(
        err("aria2.addUri", vec![]),
        "The parameter at 0 is required but missing."
    );
    assert_eq!(
        err("aria2.addUri", vec!["x".into()]),
        "The parameter at 0 has wrong type."
    );
    assert_eq!(err("aria2.addUri", vec![arr(&[])]), "URI is not provided.");
    assert_eq!(
        err("aria2.addUri", vec![Param::Array(vec![Param::Int(1)])]),
        "URI is not provided."
    );
    assert_eq!(
        err("aria2.addUri", vec![arr(&["u"]), Param::Int(1)]),
        "The parameter at 1 has wrong type."
    );
    assert_eq!(
        err(
            "aria2.addUri",
            vec![arr(&["u"]), Param::Struct(vec![]), Param::Int(-1)]
        ),
        "Position must be greater than or equal to 0."
    );
    assert_eq!(
        err(
            "aria2.addUri",
            vec![arr(&["u"]), Param::Struct(vec![]), "0".into()]
        ),
        "The parameter at 2 has wrong type."
    );
}

#[test]
fn add_torrent_decodes_base64_per_dialect() {
    let json = call("aria2.addTorrent", vec!["ZDQ6\nc3BhbWU=".into()]);
    let Method::AddTorrent {
        torrent,
        uris,
        position,
        ..
    } = parse_method(&json).unwrap()
    else {
        panic!()
    };
    assert_eq!(torrent, b"d4:spame");
    assert!(uris.is_empty());
    assert_eq!(position, None);
    let mut xml = call(
        "aria2.addTorrent",
        vec![Param::Base64(b"raw".to_vec()), arr(&["ws"])],
    );
    xml.dialect = Dialect::Xml;
    let Method::AddTorrent { torrent, uris, .. } = parse_method(&xml).unwrap() else {
        panic!()
    };
    assert_eq!(torrent, b"raw");
    assert_eq!(uris, vec!["ws".to_owned()]);
    xml.params[0] = "d4:spame".into();
    let Method::AddTorrent { torrent, .. } = parse_method(&xml).unwrap() else {
        panic!()
    };
    assert_eq!(torrent, b"d4:spame");
    assert_eq!(decode_base64_skipping_junk("!!!"), b"");
    assert_eq!(decode_base64_skipping_junk("QQ"), b"A");
    assert_eq!(decode_base64_skipping_junk("QUFBQ"), b"AAA");
    assert_eq!(
        err("aria2.addMetalink", vec![Param::Int(1)]),
        "The parameter at 0 has wrong type."
    );
}

#[test]
fn gid_validation_and_resolution() {
    assert_eq!(err("aria2.tellStatus", vec!["zz".into()]), "Invalid GID zz");
    assert_eq!(err("aria2.tellStatus", vec!["".into()]), "Invalid GID ");
    assert_eq!(
        err("aria2.tellStatus", vec!["00000000000000001".into()]),
        "Invalid GID 00000000000000001"
    );
    assert_eq!(
        err("aria2.remove", vec![Param::Int(1)]),
        "The parameter at 0 has wrong type."
    );
    let g = GidRef::parse("2089B0").unwrap();
    assert_eq!(g.as_str(), "2089b0");
    assert_eq!(g.full(), None);
    let known = [0x2089b05ecca3d829u64, 0x2089c00000000000, 0x1];
    assert_eq!(g.resolve(known), Ok(0x2089b05ecca3d829));
    assert_eq!(
        GidRef::parse("2089")
            .unwrap()
            .resolve(known)
            .unwrap_err()
            .to_string(),
        "GID 2089 is not unique"
    );
    assert_eq!(
        GidRef::parse("0")
            .unwrap()
            .resolve([])
            .unwrap_err()
            .to_string(),
        "GID 0 is not found"
    );
    assert_eq!(
        GidRef::parse("0000000000000001").unwrap().resolve(known),
        Ok(1)
    );
    assert_eq!(GidRef::parse(GID).unwrap().full(), Some(0x2089b05ecca3d829));
}

#[test]
fn tell_status_and_lists() {
    assert_eq!(
        parse_method(&call(
            "aria2.tellStatus",
            vec![GID.into(), arr(&["gid", "status"])]
        ))
        .unwrap(),
        Method::TellStatus {
            gid: GidRef::parse(GID).unwrap(),
            keys: Some(vec!["gid".into(), "status".into()])
        }
    );
    assert_eq!(
        parse_method(&call("aria2.tellActive", vec![])).unwrap(),
        Method::TellActive { keys: None }
    );
    assert_eq!(
        parse_method(&call(
            "aria2.tellWaiting",
            vec![Param::Int(-1), Param::Int(10)]
        ))
        .unwrap(),
        Method::TellWaiting {
            offset: -1,
            num: 10,
            keys: None
        }
    );
    assert_eq!(
        err("aria2.tellWaiting", vec![Param::Int(0), Param::Int(-1)]),
        "The integer parameter at 1 has invalid value: the value must be greater than or equal to 0."
    );
    assert_eq!(
        err("aria2.tellStopped", vec![Param::Int(0)]),
        "The parameter at 1 is required but missing."
    );
    assert_eq!(
        err("aria2.tellWaiting", vec!["a".into(), Param::Int(1)]),
        "The parameter at 0 has wrong type."
    );
}

#[test]
fn change_position_and_uri() {
    assert_eq!(
        parse_method(&call(
            "aria2.changePosition",
            vec![GID.into(), Param::Int(-2), "POS_CUR".into()]
        ))
        .unwrap(),
        Method::ChangePosition {
            gid: GidRef::parse(GID).unwrap(),
            pos: -2,
            how: Position::Cur
        }
    );
    assert_eq!(
        err(
            "aria2.changePosition",
            vec![GID.into(), Param::Int(1), "POS_X".into()]
        ),
        "Illegal argument."
    );
    assert_eq!(
        err("aria2.changeUri", vec![GID.into(), Param::Int(0), arr(&[]), arr(&[])]),
        "The integer parameter at 1 has invalid value: the value must be greater than or equal to 1."
    );
    assert_eq!(
        parse_method(&call(
            "aria2.changeUri",
            vec![
                GID.into(),
                Param::Int(1),
                arr(&["a"]),
                arr(&["b", "c"]),
                Param::Int(2)
            ]
        ))
        .unwrap(),
        Method::ChangeUri {
            gid: GidRef::parse(GID).unwrap(),
            file_index: 1,
            del_uris: vec!["a".into()],
            add_uris: vec!["b".into(), "c".into()],
            position: Some(2)
        }
    );
    assert_eq!(
        err("aria2.changeOption", vec![GID.into()]),
        "The parameter at 1 is required but missing."
    );
    assert_eq!(
        parse_method(&call(
            "aria2.changeGlobalOption",
            vec![Param::structure([(
                "max-overall-download-limit",
                Param::from("1M")
            )])]
        ))
        .unwrap(),
        Method::ChangeGlobalOption {
            options: RpcOptions(vec![("max-overall-download-limit".into(), "1M".into())])
        }
    );
}

#[test]
fn multicall_entries() {
    let m = parse_method(&call(
        "system.multicall",
        vec![Param::Array(vec![
            Param::structure([
                ("methodName", Param::from("aria2.getVersion")),
                ("params", arr(&["token:x"])),
            ]),
            Param::Int(5),
            Param::structure([("params", arr(&[]))]),
            Param::structure([("methodName", Param::from("system.multicall"))]),
            Param::structure([("methodName", Param::from("aria2.tellStatus"))]),
        ])],
    ))
    .unwrap();
    let Method::Multicall(entries) = m else {
        panic!()
    };
    let first = entries[0].as_ref().unwrap();
    assert_eq!(first.method, "aria2.getVersion");
    assert_eq!(first.params, vec![Param::from("token:x")]);
    assert_eq!(first.id, Id::Number(7.into()));
    let msgs: Vec<String> = entries[1..4]
        .iter()
        .map(|e| e.as_ref().unwrap_err().to_string())
        .collect();
    assert_eq!(
        msgs,
        [
            "system.multicall expected struct.",
            "Missing methodName.",
            "Recursive system.multicall forbidden."
        ]
    );
    assert!(entries[4].as_ref().unwrap().params.is_empty());
    assert_eq!(
        err("system.multicall", vec![]),
        "The parameter at 0 is required but missing."
    );
    assert_eq!(
        multicall_failure(&Error::Unauthorized, Dialect::Xml),
        Param::structure([
            ("faultCode", Param::Int(1)),
            ("faultString", "Unauthorized".into())
        ])
    );
    assert_eq!(
        multicall_failure(&Error::Unauthorized, Dialect::Json),
        Param::structure([("code", Param::Int(1)), ("message", "Unauthorized".into())])
    );
    assert_eq!(
        multicall_success(Param::Nil),
        Param::Array(vec![Param::Nil])
    );
}
