//! Decodes arbitrary bytes as an XML-RPC methodCall; accepted params must
//! survive an encode/decode round trip.
#![no_main]

use arietta_rpc::{parse_method, xml, Limits, Param};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(call) = xml::decode_call(data, &limits) {
        let _ = parse_method(&call);
        let mut body = String::from("<methodCall><methodName>m</methodName><params>");
        for p in &call.params {
            body.push_str("<param>");
            xml::encode_value(&mut body, p);
            body.push_str("</param>");
        }
        body.push_str("</params></methodCall>");
        let back = xml::decode_call(body.as_bytes(), &limits).expect("re-decode");
        // Compare encodings rather than values: control characters are
        // replaced on output and NaN never equals itself.
        let mut re = String::new();
        xml::encode_value(&mut re, &Param::Array(back.params.clone()));
        let mut orig = String::new();
        xml::encode_value(&mut orig, &Param::Array(call.params.clone()));
        assert_eq!(re, orig);
        let _ = xml::encode_response(&Ok(Param::Array(call.params)));
    }
});
