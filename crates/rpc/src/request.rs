//! The transport-independent shape of an RPC call.
//!
//! JSON-RPC and XML-RPC both decode into [`RpcCall`] so that authorization,
//! parameter validation and dispatch are written once. [`Param`] is also the
//! value type of results: the daemon builds a `Param` and the encoder of the
//! call's [`Dialect`] writes it.

/// A struct member's name: the names the daemon answers with are static
/// (`"gid"`, `"status"`, …) and borrowing them spares an allocation per
/// member in every status; decoded requests own theirs.
pub type Key = std::borrow::Cow<'static, str>;

/// One RPC value: the common subset of JSON and XML-RPC values.
///
/// Structs keep their members in wire order (and keep duplicates) because
/// aria2's answers list keys in a fixed order that clients' tests compare
/// against, and because a decoder must not silently reorder what it got.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// JSON string / XML-RPC `<string>` or bare text.
    String(String),
    /// JSON integer / XML-RPC `<int>`, `<i4>`, `<i8>`.
    Int(i64),
    /// JSON number with a fraction or exponent / XML-RPC `<double>`.
    Double(f64),
    /// JSON `true`/`false` / XML-RPC `<boolean>`.
    Bool(bool),
    /// JSON array / XML-RPC `<array>`.
    Array(Vec<Param>),
    /// JSON object / XML-RPC `<struct>`, members in wire order.
    Struct(Vec<(Key, Param)>),
    /// XML-RPC `<base64>`, already decoded. JSON has no binary type: there
    /// aria2 sends base64 text in a string, and so does this crate.
    Base64(Vec<u8>),
    /// JSON `null` / XML-RPC `<nil/>`.
    Nil,
}

impl Param {
    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Param::String(s) => Some(s),
            _ => None,
        }
    }

    /// Looks a struct member up by name. With duplicates the last one wins,
    /// as in aria2 (which stores members in a map).
    pub fn get(&self, key: &str) -> Option<&Param> {
        match self {
            Param::Struct(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Builds a struct from `(key, value)` pairs; a convenience for result
    /// building in the daemon and in tests.
    pub fn structure<K: Into<Key>>(members: impl IntoIterator<Item = (K, Param)>) -> Param {
        Param::Struct(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Nesting depth: 1 for a scalar, 1 + the deepest child for containers.
    ///
    /// Recursion is safe because every decoder in this crate bounds the
    /// depth of what it builds.
    pub fn depth(&self) -> usize {
        match self {
            Param::Array(items) => 1 + items.iter().map(Param::depth).max().unwrap_or(0),
            Param::Struct(members) => 1 + members.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 1,
        }
    }
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::String(s.to_owned())
    }
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::String(s)
    }
}

impl From<i64> for Param {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

impl From<bool> for Param {
    fn from(b: bool) -> Self {
        Param::Bool(b)
    }
}

/// A JSON-RPC request id, echoed back verbatim in the response.
///
/// XML-RPC has no ids; its calls carry [`Id::Null`].
#[derive(Debug, Clone, PartialEq)]
pub enum Id {
    /// `null`, absent (in error responses) or XML-RPC.
    Null,
    /// A numeric id, kept as serde_json's number so integers above `i64`
    /// and fractions echo back unchanged.
    Number(serde_json::Number),
    /// A string id.
    String(String),
    /// Any other JSON value (`true`, an array, ...): JSON-RPC 2.0 forbids
    /// them but aria2 echoes them, so clients relying on that keep working.
    Other(Param),
}

/// Which wire format a call came in; it decides how errors inside
/// `system.multicall` results are spelled (`code`/`message` vs
/// `faultCode`/`faultString`) and how binary parameters arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// JSON-RPC 2.0 over HTTP or WebSocket.
    Json,
    /// XML-RPC over HTTP.
    Xml,
}

/// One decoded call, before authorization.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcCall {
    /// `aria2.addUri`, `system.multicall`, ...
    pub method: String,
    /// Positional parameters; the first may still be `token:SECRET` until
    /// [`crate::auth::authorize`] strips it.
    pub params: Vec<Param>,
    /// Echoed back in the response.
    pub id: Id,
    /// The wire format it came in.
    pub dialect: Dialect,
}

/// Resource limits applied by the decoders, so a hostile client cannot make
/// the daemon allocate or recurse without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--rpc-max-request-size`; aria2's default is 2 MiB.
    pub max_request_size: usize,
    /// Deepest nesting of arrays/structs accepted in a request. Real aria2
    /// requests nest three or four levels (batch → call → options → list).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_size: 2 * 1024 * 1024,
            max_depth: 32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_lookup_and_depth() {
        let p = Param::structure([
            ("a", Param::Int(1)),
            ("b", Param::Array(vec![Param::Array(vec![])])),
            ("a", Param::Int(2)),
        ]);
        assert_eq!(p.get("a"), Some(&Param::Int(2)));
        assert_eq!(p.get("zz"), None);
        assert_eq!(Param::Int(3).get("a"), None);
        assert_eq!(p.depth(), 3);
        assert_eq!(Param::Nil.depth(), 1);
        assert_eq!(Param::from("x").as_str(), Some("x"));
        assert_eq!(Param::from(5i64).as_str(), None);
    }

    #[test]
    fn default_limits_match_aria2() {
        assert_eq!(Limits::default().max_request_size, 2_097_152);
    }
}
