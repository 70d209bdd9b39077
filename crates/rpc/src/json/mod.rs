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

mod deserialize;
#[cfg(test)]
mod tests;
mod text;

use base64::Engine as _;

use crate::error::Error;
use crate::methods::Notification;
use crate::request::{Dialect, Id, Limits, Param, RpcCall};

use deserialize::JsonParam;
pub use text::encode_value;
use text::{encode_id, encode_str};

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
