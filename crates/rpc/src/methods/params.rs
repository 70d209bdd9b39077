//! Positional parameter access with aria2's error wording, and the shapes
//! parameters come in (option structs, string arrays, base64 bodies).

use base64::Engine as _;

use super::GidRef;
use crate::error::Error;
use crate::request::{Dialect, Param};

/// Options passed in a struct (`addUri`'s options, `changeOption`, ...), as
/// `(name, value)` pairs in wire order. An array value (aria2 allows one
/// for cumulative options such as `header`) becomes one pair per element.
/// Validation of names and values is the option table's job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpcOptions(pub Vec<(String, String)>);

impl RpcOptions {
    /// aria2 silently ignores non-string values; numbers and booleans are
    /// taken here as their text instead, because popular clients send
    /// `"split": 4` and expect it to work.
    pub(super) fn from_members(members: &[(crate::request::Key, Param)]) -> Self {
        let mut out = Vec::new();
        for (name, value) in members {
            match value {
                Param::Array(items) => out.extend(
                    items
                        .iter()
                        .filter_map(scalar_text)
                        .map(|v| (name.to_string(), v)),
                ),
                other => {
                    if let Some(v) = scalar_text(other) {
                        out.push((name.to_string(), v));
                    }
                }
            }
        }
        RpcOptions(out)
    }
}

fn scalar_text(p: &Param) -> Option<String> {
    match p {
        Param::String(s) => Some(s.clone()),
        Param::Int(i) => Some(i.to_string()),
        Param::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn strings(items: &[Param]) -> Vec<String> {
    // aria2 skips non-string elements rather than failing.
    items
        .iter()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}

/// Positional access with aria2's error wording.
pub(super) struct Params<'a> {
    pub(super) params: &'a [Param],
    pub(super) dialect: Dialect,
}

impl<'a> Params<'a> {
    fn missing(i: usize) -> Error {
        Error::fault(format!("The parameter at {i} is required but missing."))
    }

    fn wrong_type(i: usize) -> Error {
        Error::fault(format!("The parameter at {i} has wrong type."))
    }

    fn required(&self, i: usize) -> Result<&'a Param, Error> {
        self.params.get(i).ok_or_else(|| Self::missing(i))
    }

    pub(super) fn required_str(&self, i: usize) -> Result<&'a str, Error> {
        self.required(i)?
            .as_str()
            .ok_or_else(|| Self::wrong_type(i))
    }

    pub(super) fn required_array(&self, i: usize) -> Result<&'a [Param], Error> {
        match self.required(i)? {
            Param::Array(items) => Ok(items),
            _ => Err(Self::wrong_type(i)),
        }
    }

    pub(super) fn optional_array(&self, i: usize) -> Result<Option<&'a [Param]>, Error> {
        match self.params.get(i) {
            None => Ok(None),
            Some(Param::Array(items)) => Ok(Some(items)),
            Some(_) => Err(Self::wrong_type(i)),
        }
    }

    pub(super) fn required_struct(
        &self,
        i: usize,
    ) -> Result<&'a [(crate::request::Key, Param)], Error> {
        match self.required(i)? {
            Param::Struct(members) => Ok(members),
            _ => Err(Self::wrong_type(i)),
        }
    }

    pub(super) fn required_int(&self, i: usize) -> Result<i64, Error> {
        match self.required(i)? {
            Param::Int(v) => Ok(*v),
            _ => Err(Self::wrong_type(i)),
        }
    }

    pub(super) fn required_int_at_least(&self, i: usize, min: i64) -> Result<u64, Error> {
        let v = self.required_int(i)?;
        if v < min {
            return Err(Error::fault(format!(
                "The integer parameter at {i} has invalid value: \
                 the value must be greater than or equal to {min}."
            )));
        }
        u64::try_from(v).map_err(|_| Self::wrong_type(i))
    }

    pub(super) fn gid(&self, i: usize) -> Result<GidRef, Error> {
        GidRef::parse(self.required_str(i)?)
    }

    pub(super) fn options(&self, i: usize) -> Result<RpcOptions, Error> {
        match self.params.get(i) {
            None => Ok(RpcOptions::default()),
            Some(Param::Struct(members)) => Ok(RpcOptions::from_members(members)),
            Some(_) => Err(Self::wrong_type(i)),
        }
    }

    pub(super) fn position(&self, i: usize) -> Result<Option<u64>, Error> {
        match self.params.get(i) {
            None => Ok(None),
            Some(Param::Int(v)) => u64::try_from(*v)
                .map(Some)
                .map_err(|_| Error::fault("Position must be greater than or equal to 0.")),
            Some(_) => Err(Self::wrong_type(i)),
        }
    }

    pub(super) fn keys(&self, i: usize) -> Result<Option<Vec<String>>, Error> {
        Ok(self.optional_array(i)?.map(strings))
    }

    /// A .torrent or metalink body: XML-RPC sends `<base64>` (or, rarely, the
    /// raw text as a string); JSON-RPC sends base64 text in a string.
    pub(super) fn binary(&self, i: usize) -> Result<Vec<u8>, Error> {
        match (self.required(i)?, self.dialect) {
            (Param::Base64(bytes), _) => Ok(bytes.clone()),
            (Param::String(s), Dialect::Xml) => Ok(s.as_bytes().to_vec()),
            (Param::String(s), Dialect::Json) => Ok(decode_base64_skipping_junk(s)),
            _ => Err(Self::wrong_type(i)),
        }
    }
}

/// aria2's base64 decoder skips characters outside the alphabet (line
/// breaks from `base64` tools, stray spaces); bytes that cannot form a
/// whole quantum are dropped. Garbage therefore decodes to something the
/// torrent/metalink parser then rejects with its own message, as in aria2.
pub(super) fn decode_base64_skipping_junk(s: &str) -> Vec<u8> {
    let mut clean: Vec<u8> = s
        .bytes()
        .take_while(|&b| b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&clean)
        .unwrap_or_default()
}
