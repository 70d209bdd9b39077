//! Borrowed values (with their raw spans) and owned values for encoding.

use std::collections::BTreeMap;
use std::ops::Range;

/// A decoded value borrowing from the input buffer.
///
/// `raw` is the exact byte span the value occupied in the input, so hashes
/// over sub-values (the info-hash) reproduce what the sender hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value<'a> {
    /// What the value is.
    pub kind: ValueKind<'a>,
    /// The exact input bytes of this value, from its type byte to its end.
    pub raw: &'a [u8],
    /// Where `raw` lies in the buffer handed to the decoder.
    pub span: Range<usize>,
}

/// The four bencode types. Dictionaries keep their original key order (and
/// any duplicate keys) because the input, not a normalized form, is the truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    Dict(Vec<(&'a [u8], Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self.kind {
            ValueKind::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.kind {
            ValueKind::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if it is a byte string and valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match &self.kind {
            ValueKind::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary entries in input order, if this is a dictionary.
    pub fn as_dict(&self) -> Option<&[(&'a [u8], Value<'a>)]> {
        match &self.kind {
            ValueKind::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Looks up `key` in a dictionary. With duplicate keys the first wins,
    /// matching a linear reading of the file.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.get_bytes(key.as_bytes())
    }

    /// Like [`Value::get`] for binary keys (e.g. `piece layers` roots).
    pub fn get_bytes(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.as_dict()?
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Copies into an owned value. Duplicate dictionary keys collapse to the
    /// first occurrence, consistent with [`Value::get`].
    pub fn to_owned_value(&self) -> OwnedValue {
        match &self.kind {
            ValueKind::Int(i) => OwnedValue::Int(*i),
            ValueKind::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
            ValueKind::List(l) => OwnedValue::List(l.iter().map(Value::to_owned_value).collect()),
            ValueKind::Dict(d) => {
                let mut map = BTreeMap::new();
                for (k, v) in d {
                    map.entry(k.to_vec()).or_insert_with(|| v.to_owned_value());
                }
                OwnedValue::Dict(map)
            }
        }
    }
}

/// An owned value for building messages. Dictionaries are `BTreeMap`s, whose
/// byte-wise key order is exactly bencode's canonical order, so encoding is
/// canonical by construction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OwnedValue {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<OwnedValue>),
    Dict(BTreeMap<Vec<u8>, OwnedValue>),
}

impl OwnedValue {
    /// An empty dictionary, to be filled with [`OwnedValue::insert`].
    pub fn dict() -> Self {
        OwnedValue::Dict(BTreeMap::new())
    }

    /// Adds `key` to a dictionary (builder style). On a non-dictionary this
    /// is a no-op: builders are written by our own code, not fed input.
    pub fn insert(mut self, key: impl Into<Vec<u8>>, value: impl Into<OwnedValue>) -> Self {
        if let OwnedValue::Dict(map) = &mut self {
            map.insert(key.into(), value.into());
        }
        self
    }

    /// Looks up a key of a dictionary.
    pub fn get(&self, key: &str) -> Option<&OwnedValue> {
        match self {
            OwnedValue::Dict(m) => m.get(key.as_bytes()),
            _ => None,
        }
    }
}

impl From<i64> for OwnedValue {
    fn from(v: i64) -> Self {
        OwnedValue::Int(v)
    }
}
impl From<u32> for OwnedValue {
    fn from(v: u32) -> Self {
        OwnedValue::Int(i64::from(v))
    }
}
impl From<u16> for OwnedValue {
    fn from(v: u16) -> Self {
        OwnedValue::Int(i64::from(v))
    }
}
impl From<&str> for OwnedValue {
    fn from(v: &str) -> Self {
        OwnedValue::Bytes(v.as_bytes().to_vec())
    }
}
impl From<String> for OwnedValue {
    fn from(v: String) -> Self {
        OwnedValue::Bytes(v.into_bytes())
    }
}
impl From<&[u8]> for OwnedValue {
    fn from(v: &[u8]) -> Self {
        OwnedValue::Bytes(v.to_vec())
    }
}
impl<const N: usize> From<&[u8; N]> for OwnedValue {
    fn from(v: &[u8; N]) -> Self {
        OwnedValue::Bytes(v.to_vec())
    }
}
impl From<Vec<u8>> for OwnedValue {
    fn from(v: Vec<u8>) -> Self {
        OwnedValue::Bytes(v)
    }
}
impl From<Vec<OwnedValue>> for OwnedValue {
    fn from(v: Vec<OwnedValue>) -> Self {
        OwnedValue::List(v)
    }
}
