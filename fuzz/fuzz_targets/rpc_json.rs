//! Decodes arbitrary bytes as a JSON-RPC body and as a GET query; every
//! accepted call must parse into a method or an error without panicking,
//! and its params must survive an encode/decode round trip.
#![no_main]

use arietta_rpc::json::{self, JsonRequest};
use arietta_rpc::{parse_method, Limits, Param};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let calls = match json::decode_request(data, &limits) {
        Ok(JsonRequest::Single(c)) => vec![c],
        Ok(JsonRequest::Batch(cs)) => cs,
        Err(_) => return,
    };
    for call in calls {
        match call {
            Ok(mut call) => {
                let _ = arietta_rpc::authorize(&mut call, Some(&arietta_rpc::Secret::new("s")));
                let _ = parse_method(&call);
                let mut body = String::from("{\"id\":1,\"method\":\"m\",\"params\":");
                json::encode_value(&mut body, &Param::Array(call.params.clone()));
                body.push('}');
                match json::decode_request(body.as_bytes(), &limits) {
                    Ok(JsonRequest::Single(Ok(back))) => assert_eq!(back.params, call.params),
                    other => panic!("re-decode failed: {other:?}"),
                }
                let _ = json::encode_response(&call.id, &Ok(Param::Array(call.params)));
            }
            Err(rejected) => {
                let _ = json::encode_rejected(&rejected);
            }
        }
    }
    if let Ok(q) = std::str::from_utf8(data) {
        let _ = json::decode_get_query(q, &limits);
    }
});
