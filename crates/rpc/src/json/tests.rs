//! Decoding and encoding checked against what aria2c 1.36 answers.

use super::*;

fn single(body: &str) -> Result<RpcCall, Rejected> {
    match decode_request(body.as_bytes(), &Limits::default()).unwrap() {
        JsonRequest::Single(r) => r,
        JsonRequest::Batch(_) => panic!("batch"),
    }
}

fn rejected(body: &str) -> String {
    encode_rejected(&single(body).unwrap_err())
}

#[test]
fn decodes_a_plain_call() {
    let c = single(
        r#"{"jsonrpc":"2.0","id":"qwer","method":"aria2.addUri",
            "params":["token:x",["http://a/b"],{"dir":"/tmp","split":"4"},0]}"#,
    )
    .unwrap();
    assert_eq!(c.method, "aria2.addUri");
    assert_eq!(c.id, Id::String("qwer".into()));
    assert_eq!(c.dialect, Dialect::Json);
    assert_eq!(c.params.len(), 4);
    assert_eq!(
        c.params[2],
        Param::structure([("dir", "/tmp".into()), ("split", "4".into())])
    );
    assert_eq!(c.params[3], Param::Int(0));
}

#[test]
fn keeps_member_order_and_types() {
    let c = single(r#"{"id":1,"method":"m","params":[{"z":1,"a":[true,null,1.5,-3]}]}"#).unwrap();
    assert_eq!(
        c.params[0],
        Param::structure([
            ("z", Param::Int(1)),
            (
                "a",
                Param::Array(vec![
                    Param::Bool(true),
                    Param::Nil,
                    Param::Double(1.5),
                    Param::Int(-3)
                ])
            ),
        ])
    );
}

#[test]
fn envelope_errors_match_aria2() {
    let parse = r#"{"id":null,"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error."}}"#;
    assert_eq!(rejected("{bad"), parse);
    assert_eq!(rejected("5"), parse);
    assert_eq!(
        rejected("\"str\""),
        r#"{"id":null,"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request."}}"#
    );
    assert_eq!(rejected(""), parse);
    assert_eq!(rejected("{} trailing"), parse);
    assert_eq!(
        rejected(r#"{"jsonrpc":"2.0","method":"aria2.getVersion"}"#),
        r#"{"id":null,"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request."}}"#
    );
    assert_eq!(
        rejected(r#"{"id":3,"params":[]}"#),
        r#"{"id":3,"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request."}}"#
    );
    assert_eq!(
        rejected(r#"{"id":3,"method":5}"#),
        r#"{"id":3,"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request."}}"#
    );
    assert_eq!(
        rejected(r#"{"id":3,"method":"aria2.tellStatus","params":{}}"#),
        r#"{"id":3,"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params."}}"#
    );
}

#[test]
fn params_absent_is_empty_and_last_duplicate_wins() {
    let c = single(r#"{"id":1,"method":"a","method":"b"}"#).unwrap();
    assert_eq!(c.method, "b");
    assert!(c.params.is_empty());
}

#[test]
fn ids_echo_verbatim() {
    for (body_id, out_id) in [
        ("1", "1"),
        ("-7", "-7"),
        ("9223372036854775807", "9223372036854775807"),
        // Beyond i64 the id becomes a float, like most JSON stacks do.
        ("18446744073709551615", "1.8446744073709552e+19"),
        ("1.5", "1.5"),
        ("\"a/b\"", "\"a\\/b\""),
        ("null", "null"),
        ("true", "true"),
        ("[1,{\"k\":\"v\"}]", "[1,{\"k\":\"v\"}]"),
    ] {
        let c = single(&format!(r#"{{"id":{body_id},"method":"m"}}"#)).unwrap();
        let out = encode_response(&c.id, &Ok(Param::Nil));
        assert_eq!(
            out,
            format!(r#"{{"id":{out_id},"jsonrpc":"2.0","result":null}}"#)
        );
    }
}

#[test]
fn batch_skips_non_objects() {
    let r = decode_request(
        br#"[1,{"id":2,"method":"m"},"x",{"method":"n"}]"#,
        &Limits::default(),
    )
    .unwrap();
    let JsonRequest::Batch(items) = r else {
        panic!()
    };
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().method, "m");
    assert_eq!(items[1].as_ref().unwrap_err().error, Error::InvalidRequest);
    assert_eq!(
        decode_request(b"[]", &Limits::default()).unwrap(),
        JsonRequest::Batch(vec![])
    );
    assert_eq!(encode_batch(Vec::<String>::new()), "[]");
    assert_eq!(encode_batch(["{}", "{}"]), "[{},{}]");
}

#[test]
fn size_and_depth_limits() {
    let limits = Limits {
        max_request_size: 10,
        max_depth: 3,
    };
    assert_eq!(
        decode_request(&[b' '; 11], &limits),
        Err(Error::RequestTooLarge {
            size: 11,
            limit: 10
        })
    );
    let limits = Limits {
        max_request_size: 1 << 20,
        max_depth: 3,
    };
    let ok = br#"{"id":1,"method":"m","params":[[]]}"#;
    assert!(matches!(
        decode_request(ok, &limits),
        Ok(JsonRequest::Single(Ok(_)))
    ));
    let deep = br#"{"id":1,"method":"m","params":[[[]]]}"#;
    let JsonRequest::Single(Err(r)) = decode_request(deep, &limits).unwrap() else {
        panic!()
    };
    assert_eq!(r.error, Error::ParseError);
    // Far beyond serde_json's own recursion limit: must not overflow.
    let bomb = "[".repeat(100_000);
    let JsonRequest::Single(Err(r)) = decode_request(bomb.as_bytes(), &Limits::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(r.error, Error::ParseError);
}

#[test]
fn escapes_like_aria2() {
    let mut out = String::new();
    encode_value(
        &mut out,
        &Param::String("a/b\"\\\u{1}\u{1f}\n\t\u{8}\u{c}\ré✓".into()),
    );
    assert_eq!(out, r#""a\/b\"\\\u0001\u001F\n\t\b\f\ré✓""#);
}

#[test]
fn encodes_errors_and_values() {
    assert_eq!(
        encode_response(
            &Id::Number(1.into()),
            &Err(Error::NoSuchMethod("aria2.nope".into()))
        ),
        r#"{"id":1,"jsonrpc":"2.0","error":{"code":1,"message":"No such method: aria2.nope"}}"#
    );
    assert_eq!(
        encode_response(&Id::Number(1.into()), &Err(Error::Unauthorized)),
        r#"{"id":1,"jsonrpc":"2.0","error":{"code":1,"message":"Unauthorized"}}"#
    );
    let v = Param::structure([
        ("b", Param::Base64(b"hi".to_vec())),
        ("d", Param::Double(2.0)),
        ("e", Param::Double(0.25)),
        ("n", Param::Double(f64::NAN)),
        ("x", Param::Array(vec![Param::Bool(false), Param::Int(-1)])),
    ]);
    let mut out = String::new();
    encode_value(&mut out, &v);
    assert_eq!(
        out,
        r#"{"b":"aGk=","d":2.0,"e":2.5e-1,"n":null,"x":[false,-1]}"#
    );
    let back: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(back["e"], serde_json::json!(0.25));
    assert_eq!(http_status(&Ok(Param::Nil)), 200);
    assert_eq!(http_status(&Err(Error::Unauthorized)), 400);
    assert_eq!(http_status(&Err(Error::InvalidRequest)), 400);
    assert_eq!(http_status(&Err(Error::ParseError)), 500);
    assert_eq!(http_status(&Err(Error::InvalidParams)), 500);
}

#[test]
fn notification_shape() {
    assert_eq!(
        encode_notification(Notification::DownloadStart, "2089b05ecca3d829"),
        r#"{"jsonrpc":"2.0","method":"aria2.onDownloadStart","params":[{"gid":"2089b05ecca3d829"}]}"#
    );
}

#[test]
fn get_single_call() {
    // aria2 manual's example: aria2.tellStatus('2089b05ecca3d829'), id foo.
    let g = decode_get_query(
        "?method=aria2.tellStatus&id=foo&params=WyIyMDg5YjA1ZWNjYTNkODI5Il0%3D&jsoncallback=cb",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(g.callback.as_deref(), Some("cb"));
    let JsonRequest::Single(Ok(c)) = g.request else {
        panic!()
    };
    assert_eq!(c.method, "aria2.tellStatus");
    assert_eq!(c.id, Id::String("foo".into()));
    assert_eq!(c.params, vec![Param::from("2089b05ecca3d829")]);
    assert_eq!(wrap_jsonp("cb", "{}"), "cb({})");
}

#[test]
fn get_variants() {
    let l = Limits::default();
    // No params at all; numeric-looking id stays a string.
    let g = decode_get_query("method=aria2.getVersion&id=1", &l).unwrap();
    let JsonRequest::Single(Ok(c)) = g.request else {
        panic!()
    };
    assert_eq!(c.id, Id::String("1".into()));
    assert!(c.params.is_empty());
    // Missing id.
    let g = decode_get_query("method=aria2.getVersion", &l).unwrap();
    assert_eq!(
        g.request,
        JsonRequest::Single(Err(Rejected {
            id: Id::Null,
            error: Error::InvalidRequest
        }))
    );
    // Batch in params, unpadded URL-safe base64 accepted.
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"[{"id":"x","method":"system.listNotifications"}]"#);
    let g = decode_get_query(&format!("params={b64}&jsoncallback=</script>"), &l).unwrap();
    assert_eq!(g.callback, None);
    let JsonRequest::Batch(items) = g.request else {
        panic!()
    };
    assert_eq!(
        items[0].as_ref().unwrap().method,
        "system.listNotifications"
    );
    // Garbage params.
    let g = decode_get_query("method=m&id=1&params=%%%", &l).unwrap();
    assert_eq!(
        g.request,
        JsonRequest::Single(Err(Rejected {
            id: Id::Null,
            error: Error::ParseError
        }))
    );
    // params that decode to a non-array.
    let b64 = base64::engine::general_purpose::STANDARD.encode(b"{}");
    let g = decode_get_query(&format!("method=m&id=1&params={b64}"), &l).unwrap();
    let JsonRequest::Single(Err(r)) = g.request else {
        panic!()
    };
    assert_eq!(r.error, Error::InvalidParams);
    assert_eq!(percent_decode("a%2Fb%zz%4"), b"a/b%zz%4");
}
