//! JSON text as aria2 writes it: its escaping (`/` as `\/`, control bytes
//! as `\u00XX`, other text raw UTF-8) and number forms.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::request::{Id, Param};

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

pub(super) fn encode_id(out: &mut String, id: &Id) {
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
pub(super) fn encode_str(out: &mut String, s: &str) {
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
