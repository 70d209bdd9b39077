//! JSON-RPC 2.0 as aria2 speaks it.
//!
//! Behaviour checked against aria2c 1.36 on loopback:
//! - a body that is not JSON, or JSON that is neither an object nor an
//!   array, is answered `-32700 Parse error.` with id `null`;
//! - an object without `id` is `-32600 Invalid Request.` with id `null`
//!   (aria2 has no notifications from clients); without a string `method`
//!   it is `-32600` with the id echoed; a non-array `params` is
//!   `-32602 Invalid params.`;
//! - in a batch, elements that are not objects are skipped and an empty
//!   batch is answered `[]`;
//! - the `jsonrpc` member is not checked;
//! - output escapes `/` as `\/` and control bytes as `\u00XX`, leaves other
//!   text as raw UTF-8, and orders members `id`, `jsonrpc`, `result`/`error`.

use std::fmt::Write as _;

use base64::Engine as _;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::Error;
use crate::methods::Notification;
use crate::request::{Dialect, Id, Limits, Param, RpcCall};

/// A call the envelope check refused, with the id to answer it under.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// `Id::Null` when the id itself was missing or unreadable.
    pub id: Id,
    /// One of [`Error::ParseError`], [`Error::InvalidRequest`],
    /// [`Error::InvalidParams`].
    pub error: Error,
}

/// A decoded HTTP body or WebSocket message.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonRequest {
    /// A single request object (or a body too broken to tell).
    Single(Result<RpcCall, Rejected>),
    /// A batch: answer with a JSON array of the responses, in order.
    Batch(Vec<Result<RpcCall, Rejected>>),
}

/// A JSON-RPC request carried in the query string of an HTTP GET.
#[derive(Debug, Clone, PartialEq)]
pub struct GetRequest {
    /// The request(s) the query encodes.
    pub request: JsonRequest,
    /// JSONP: wrap the response in `callback(...)` (see [`wrap_jsonp`]).
    /// Only plain JavaScript identifiers (with dots) are honoured, so a
    /// crafted link cannot inject script into the response.
    pub callback: Option<String>,
}

/// Decodes a JSON-RPC request body.
///
/// The only `Err` is [`Error::RequestTooLarge`]: that is a transport-level
/// refusal (aria2 drops the connection); every other problem becomes a
/// [`Rejected`] entry that must be answered.
pub fn decode_request(body: &[u8], limits: &Limits) -> Result<JsonRequest, Error> {
    if body.len() > limits.max_request_size {
        return Err(Error::RequestTooLarge {
            size: body.len(),
            limit: limits.max_request_size,
        });
    }
    let root = match parse_value(body, limits) {
        Ok(v) => v,
        Err(error) => {
            return Ok(JsonRequest::Single(Err(Rejected {
                id: Id::Null,
                error,
            })))
        }
    };
    Ok(match root {
        Param::Struct(members) => JsonRequest::Single(call_from_members(members)),
        Param::Array(items) => JsonRequest::Batch(
            items
                .into_iter()
                .filter_map(|item| match item {
                    Param::Struct(members) => Some(call_from_members(members)),
                    _ => None,
                })
                .collect(),
        ),
        // aria2's parser refuses a bare number outright.
        Param::Int(_) | Param::Double(_) => JsonRequest::Single(Err(Rejected {
            id: Id::Null,
            error: Error::ParseError,
        })),
        // Other valid JSON that is no request object: aria2 says -32600.
        _ => JsonRequest::Single(Err(Rejected {
            id: Id::Null,
            error: Error::InvalidRequest,
        })),
    })
}

/// Decodes the query string of `GET /jsonrpc?method=M&id=ID&params=B64`
/// (with or without the leading `?`).
///
/// As in aria2, `method` and `id` are taken as strings, `params` is the
/// base64 of the JSON params array, and a query without `method` carries a
/// whole request (or batch) base64-encoded in `params`.
pub fn decode_get_query(query: &str, limits: &Limits) -> Result<GetRequest, Error> {
    if query.len() > limits.max_request_size {
        return Err(Error::RequestTooLarge {
            size: query.len(),
            limit: limits.max_request_size,
        });
    }
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut method = None;
    let mut id = None;
    let mut params = None;
    let mut callback = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "method" => &mut method,
            "id" => &mut id,
            "params" => &mut params,
            "jsoncallback" => &mut callback,
            _ => continue,
        };
        *slot = Some(percent_decode(value));
    }
    let callback = callback
        .and_then(|c| String::from_utf8(c).ok())
        .filter(|c| is_jsonp_callback(c));
    let decoded_params = match params {
        Some(p) => match decode_base64_lenient(&p) {
            Some(bytes) => bytes,
            None => return Ok(get_rejected(Id::Null, Error::ParseError, callback)),
        },
        None => Vec::new(),
    };
    let Some(method) = method else {
        let request = decode_request(&decoded_params, limits)?;
        return Ok(GetRequest { request, callback });
    };
    let Some(id) = id else {
        return Ok(get_rejected(Id::Null, Error::InvalidRequest, callback));
    };
    let id = Id::String(String::from_utf8_lossy(&id).into_owned());
    let Ok(method) = String::from_utf8(method) else {
        return Ok(get_rejected(id, Error::InvalidRequest, callback));
    };
    let params = if decoded_params.is_empty() {
        Vec::new()
    } else {
        match parse_value(&decoded_params, limits) {
            Ok(Param::Array(items)) => items,
            Ok(_) => return Ok(get_rejected(id, Error::InvalidParams, callback)),
            Err(e) => return Ok(get_rejected(id, e, callback)),
        }
    };
    Ok(GetRequest {
        request: JsonRequest::Single(Ok(RpcCall {
            method,
            params,
            id,
            dialect: Dialect::Json,
        })),
        callback,
    })
}

fn get_rejected(id: Id, error: Error, callback: Option<String>) -> GetRequest {
    GetRequest {
        request: JsonRequest::Single(Err(Rejected { id, error })),
        callback,
    }
}

/// Encodes one response: `{"id":..,"jsonrpc":"2.0","result":..}` or
/// `{"id":..,"jsonrpc":"2.0","error":{"code":..,"message":".."}}`.
pub fn encode_response(id: &Id, outcome: &Result<Param, Error>) -> String {
    let mut out = String::with_capacity(64);
    out.push_str("{\"id\":");
    encode_id(&mut out, id);
    out.push_str(",\"jsonrpc\":\"2.0\",");
    match outcome {
        Ok(result) => {
            out.push_str("\"result\":");
            encode_value(&mut out, result);
        }
        Err(error) => {
            out.push_str("\"error\":");
            encode_value(&mut out, &error_object(error));
        }
    }
    out.push('}');
    out
}

/// Encodes the answer to a [`Rejected`] call.
pub fn encode_rejected(rejected: &Rejected) -> String {
    encode_response(&rejected.id, &Err(rejected.error.clone()))
}

/// Joins already-encoded responses into a batch answer.
pub fn encode_batch<S: AsRef<str>>(responses: impl IntoIterator<Item = S>) -> String {
    let mut out = String::from("[");
    for (i, r) in responses.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r.as_ref());
    }
    out.push(']');
    out
}

/// Wraps a response for JSONP: `callback(body)`.
pub fn wrap_jsonp(callback: &str, body: &str) -> String {
    format!("{callback}({body})")
}

/// The HTTP status aria2 sends with a single JSON-RPC response: 200 on
/// success, 400 for method errors and `Invalid Request.`, 500 for
/// `Parse error.` and `Invalid params.`. Batches are always 200.
pub fn http_status(outcome: &Result<Param, Error>) -> u16 {
    match outcome {
        Ok(_) => 200,
        Err(Error::ParseError | Error::InvalidParams) => 500,
        Err(_) => 400,
    }
}

/// The server-to-client WebSocket notification for a download event:
/// `{"jsonrpc":"2.0","method":"aria2.onDownloadStart","params":[{"gid":".."}]}`.
pub fn encode_notification(notification: Notification, gid: &str) -> String {
    let mut out = String::from("{\"jsonrpc\":\"2.0\",\"method\":");
    encode_str(&mut out, notification.name());
    out.push_str(",\"params\":[{\"gid\":");
    encode_str(&mut out, gid);
    out.push_str("}]}");
    out
}

/// The `{"code":..,"message":..}` object aria2 puts in `error` and in failed
/// `system.multicall` entries.
pub fn error_object(error: &Error) -> Param {
    Param::structure([
        ("code", Param::Int(error.code())),
        ("message", Param::String(error.to_string())),
    ])
}

/// Appends the JSON text of `value` the way aria2 writes it.
pub fn encode_value(out: &mut String, value: &Param) {
    match value {
        Param::String(s) => encode_str(out, s),
        Param::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Param::Double(d) => encode_double(out, *d),
        Param::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Param::Nil => out.push_str("null"),
        Param::Base64(bytes) => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
            out.push('"');
        }
        Param::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_value(out, item);
            }
            out.push(']');
        }
        Param::Struct(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_str(out, k);
                out.push(':');
                encode_value(out, v);
            }
            out.push('}');
        }
    }
}

fn encode_double(out: &mut String, d: f64) {
    if !d.is_finite() {
        out.push_str("null");
    } else if d.fract() == 0.0 && d.abs() < 1e15 {
        // Keep it a float on re-parse, like serde_json does.
        let _ = write!(out, "{d:.1}");
    } else {
        // `{:e}` is the shortest round-trip form and is valid JSON.
        let _ = write!(out, "{d:e}");
    }
}

fn encode_id(out: &mut String, id: &Id) {
    match id {
        Id::Null => out.push_str("null"),
        Id::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Id::String(s) => encode_str(out, s),
        Id::Other(p) => encode_value(out, p),
    }
}

/// aria2's `jsonEscape`: `"`, `\` and `/` are backslashed, control bytes
/// become `\b \f \n \r \t` or `\u00XX` (upper-case hex).
fn encode_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of bytes that need no escape are copied whole: status strings
    // are mostly digits and plain words, and a push per char showed up in
    // the tellStatus profile.
    let bytes = s.as_bytes();
    let mut clean = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'/' => "\\/",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `i` is a char boundary.
        out.push_str(&s[clean..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04X}", b);
        } else {
            out.push_str(esc);
        }
        clean = i + 1;
    }
    out.push_str(&s[clean..]);
    out.push('"');
}

/// Parses JSON into a [`Param`], enforcing the depth limit. serde_json's own
/// recursion limit (128) bounds the parse itself; ours is usually tighter.
fn parse_value(bytes: &[u8], limits: &Limits) -> Result<Param, Error> {
    let value = serde_json::from_slice::<JsonParam>(bytes)
        .map_err(|_| Error::ParseError)?
        .0;
    if value.depth() > limits.max_depth {
        return Err(Error::ParseError);
    }
    Ok(value)
}

fn call_from_members(members: Vec<(crate::request::Key, Param)>) -> Result<RpcCall, Rejected> {
    // aria2 stores members in a map: the last duplicate wins.
    let mut id = None;
    let mut method = None;
    let mut params = None;
    for (k, v) in members {
        match &*k {
            "id" => id = Some(v),
            "method" => method = Some(v),
            "params" => params = Some(v),
            _ => {}
        }
    }
    let Some(id) = id else {
        return Err(Rejected {
            id: Id::Null,
            error: Error::InvalidRequest,
        });
    };
    let id = id_from_param(id);
    let Some(Param::String(method)) = method else {
        return Err(Rejected {
            id,
            error: Error::InvalidRequest,
        });
    };
    let params = match params {
        None => Vec::new(),
        Some(Param::Array(items)) => items,
        Some(_) => {
            return Err(Rejected {
                id,
                error: Error::InvalidParams,
            })
        }
    };
    Ok(RpcCall {
        method,
        params,
        id,
        dialect: Dialect::Json,
    })
}

fn id_from_param(p: Param) -> Id {
    match p {
        Param::Nil => Id::Null,
        Param::String(s) => Id::String(s),
        Param::Int(i) => Id::Number(i.into()),
        Param::Double(d) => serde_json::Number::from_f64(d)
            .map(Id::Number)
            .unwrap_or(Id::Null),
        other => Id::Other(other),
    }
}

/// `%XX` decoding as aria2's `util::percentDecode` does it: `+` stays `+`
/// (base64 uses it) and a malformed escape is kept literally.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).and_then(|c| (*c as char).to_digit(16));
            let lo = b.get(i + 2).and_then(|c| (*c as char).to_digit(16));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Base64 as browsers and scripts produce it in query strings: standard or
/// URL-safe alphabet, padding optional, surrounding whitespace ignored.
fn decode_base64_lenient(input: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::{
        general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig,
    };
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let trimmed = input.trim_ascii();
    GeneralPurpose::new(&base64::alphabet::STANDARD, config)
        .decode(trimmed)
        .or_else(|_| GeneralPurpose::new(&base64::alphabet::URL_SAFE, config).decode(trimmed))
        .ok()
        .or_else(|| general_purpose::STANDARD.decode(trimmed).ok())
}

fn is_jsonp_callback(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= 128
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.')
}

/// serde adapter that builds a [`Param`] straight from the JSON text,
/// keeping object members in order (serde_json's own map would sort them).
struct JsonParam(Param);

impl<'de> Deserialize<'de> for JsonParam {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ParamVisitor).map(JsonParam)
    }
}

struct ParamVisitor;

impl<'de> Visitor<'de> for ParamVisitor {
    type Value = Param;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Param, E> {
        Ok(Param::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Param, E> {
        Ok(Param::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Param, E> {
        Ok(i64::try_from(v).map_or(Param::Double(v as f64), Param::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Param, E> {
        Ok(Param::Double(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Param, E> {
        Ok(Param::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Param, E> {
        Ok(Param::String(v))
    }

    fn visit_unit<E>(self) -> Result<Param, E> {
        Ok(Param::Nil)
    }

    fn visit_none<E>(self) -> Result<Param, E> {
        Ok(Param::Nil)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Param, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonParam(p)) = seq.next_element()? {
            items.push(p);
        }
        Ok(Param::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Param, A::Error> {
        let mut members = Vec::new();
        while let Some((k, JsonParam(v))) = map.next_entry::<String, JsonParam>()? {
            members.push((k.into(), v));
        }
        Ok(Param::Struct(members))
    }
}

#[cfg(test)]
mod tests {
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
        let c =
            single(r#"{"id":1,"method":"m","params":[{"z":1,"a":[true,null,1.5,-3]}]}"#).unwrap();
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
        let parse =
            r#"{"id":null,"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error."}}"#;
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
        let JsonRequest::Single(Err(r)) =
            decode_request(bomb.as_bytes(), &Limits::default()).unwrap()
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
}
