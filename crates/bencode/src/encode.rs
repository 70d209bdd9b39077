//! Canonical encoding.

use crate::value::OwnedValue;

/// Encodes `value` canonically (dictionary keys sorted byte-wise, integers
/// without leading zeros).
pub fn encode(value: &OwnedValue) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the canonical encoding of `value` to `out`, for callers that
/// assemble a message from several parts (e.g. a KRPC packet into a reused buffer).
pub fn encode_into(value: &OwnedValue, out: &mut Vec<u8>) {
    match value {
        OwnedValue::Int(i) => {
            out.push(b'i');
            out.extend_from_slice(i.to_string().as_bytes());
            out.push(b'e');
        }
        OwnedValue::Bytes(b) => write_bytes(b, out),
        OwnedValue::List(items) => {
            out.push(b'l');
            for item in items {
                encode_into(item, out);
            }
            out.push(b'e');
        }
        OwnedValue::Dict(map) => {
            out.push(b'd');
            for (k, v) in map {
                write_bytes(k, out);
                encode_into(v, out);
            }
            out.push(b'e');
        }
    }
}

fn write_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Streams a dictionary whose keys the caller already supplies in sorted
/// order, without building an [`OwnedValue`] tree — for hot paths like
/// KRPC replies. A debug assertion guards the ordering.
#[derive(Debug, Default)]
pub struct DictBuilder {
    out: Vec<u8>,
    last_key: Option<Vec<u8>>,
}

impl DictBuilder {
    /// Starts a dictionary.
    pub fn new() -> Self {
        DictBuilder {
            out: vec![b'd'],
            last_key: None,
        }
    }

    fn key(&mut self, key: &[u8]) {
        debug_assert!(
            self.last_key.as_deref().is_none_or(|last| last < key),
            "DictBuilder keys must be strictly increasing"
        );
        self.last_key = Some(key.to_vec());
        write_bytes(key, &mut self.out);
    }

    /// Adds a byte-string entry.
    pub fn bytes(mut self, key: &str, value: &[u8]) -> Self {
        self.key(key.as_bytes());
        write_bytes(value, &mut self.out);
        self
    }

    /// Adds an integer entry.
    pub fn int(mut self, key: &str, value: i64) -> Self {
        self.key(key.as_bytes());
        encode_into(&OwnedValue::Int(value), &mut self.out);
        self
    }

    /// Adds an arbitrary value.
    pub fn value(mut self, key: &str, value: &OwnedValue) -> Self {
        self.key(key.as_bytes());
        encode_into(value, &mut self.out);
        self
    }

    /// Closes the dictionary and returns its encoding.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'e');
        self.out
    }
}
