//! aria2's RPC methods: names, notification names and parameter shapes.
//!
//! [`parse_method`] turns an authorized [`RpcCall`] into a typed [`Method`]
//! the daemon can dispatch on, or into the error aria2 1.36 answers for the
//! same parameters (wording checked against aria2c on loopback, e.g.
//! "The parameter at 0 has wrong type."). Parameter indexes in messages
//! count from the first parameter after the token, as in aria2.

use base64::Engine as _;

use crate::error::Error;
use crate::request::{Dialect, Param, RpcCall};

/// Every method aria2 1.36 (built with BitTorrent and Metalink) answers,
/// in the order `system.listMethods` returns them.
pub const METHOD_NAMES: [&str; 36] = [
    "aria2.addUri",
    "aria2.addTorrent",
    "aria2.getPeers",
    "aria2.addMetalink",
    "aria2.remove",
    "aria2.pause",
    "aria2.forcePause",
    "aria2.pauseAll",
    "aria2.forcePauseAll",
    "aria2.unpause",
    "aria2.unpauseAll",
    "aria2.forceRemove",
    "aria2.changePosition",
    "aria2.tellStatus",
    "aria2.getUris",
    "aria2.getFiles",
    "aria2.getServers",
    "aria2.tellActive",
    "aria2.tellWaiting",
    "aria2.tellStopped",
    "aria2.getOption",
    "aria2.changeUri",
    "aria2.changeOption",
    "aria2.getGlobalOption",
    "aria2.changeGlobalOption",
    "aria2.purgeDownloadResult",
    "aria2.removeDownloadResult",
    "aria2.getVersion",
    "aria2.getSessionInfo",
    "aria2.shutdown",
    "aria2.forceShutdown",
    "aria2.getGlobalStat",
    "aria2.saveSession",
    "system.multicall",
    "system.listMethods",
    "system.listNotifications",
];

/// Download events pushed to WebSocket clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notification {
    /// A download started (or resumed).
    DownloadStart,
    /// A download was paused.
    DownloadPause,
    /// A download was stopped by the user.
    DownloadStop,
    /// A download completed (for torrents: and seeding finished).
    DownloadComplete,
    /// A download stopped because of an error.
    DownloadError,
    /// A torrent finished downloading but may still be seeding.
    BtDownloadComplete,
}

impl Notification {
    /// All notifications, in `system.listNotifications` order.
    pub const ALL: [Notification; 6] = [
        Notification::DownloadStart,
        Notification::DownloadPause,
        Notification::DownloadStop,
        Notification::DownloadComplete,
        Notification::DownloadError,
        Notification::BtDownloadComplete,
    ];

    /// The wire name, e.g. `aria2.onDownloadStart`.
    pub fn name(self) -> &'static str {
        match self {
            Notification::DownloadStart => "aria2.onDownloadStart",
            Notification::DownloadPause => "aria2.onDownloadPause",
            Notification::DownloadStop => "aria2.onDownloadStop",
            Notification::DownloadComplete => "aria2.onDownloadComplete",
            Notification::DownloadError => "aria2.onDownloadError",
            Notification::BtDownloadComplete => "aria2.onBtDownloadComplete",
        }
    }
}

/// The result of `system.listMethods`.
pub fn list_methods() -> Param {
    Param::Array(METHOD_NAMES.iter().map(|m| Param::from(*m)).collect())
}

/// The result of `system.listNotifications`.
pub fn list_notifications() -> Param {
    Param::Array(
        Notification::ALL
            .iter()
            .map(|n| Param::from(n.name()))
            .collect(),
    )
}

/// The entry of a successful call inside a `system.multicall` result:
/// aria2 wraps each result in a one-element array.
pub fn multicall_success(result: Param) -> Param {
    Param::Array(vec![result])
}

/// The entry of a failed call inside a `system.multicall` result, spelled
/// per dialect: `{code, message}` for JSON, `{faultCode, faultString}` for
/// XML-RPC.
pub fn multicall_failure(error: &Error, dialect: Dialect) -> Param {
    let (code, message) = match dialect {
        Dialect::Json => ("code", "message"),
        Dialect::Xml => ("faultCode", "faultString"),
    };
    Param::structure([
        (code, Param::Int(error.code())),
        (message, Param::String(error.to_string())),
    ])
}

/// A GID as a client wrote it: 1 to 16 hex digits.
///
/// aria2 accepts any unique prefix of a GID; [`GidRef::resolve`] is the hook
/// the daemon calls with the GIDs it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GidRef(String);

impl GidRef {
    /// Validates the syntax; "Invalid GID X" as aria2 words it.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::fault(format!("Invalid GID {s}")));
        }
        Ok(GidRef(s.to_ascii_lowercase()))
    }

    /// The text (lower-cased).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GID if all 16 digits were given.
    pub fn full(&self) -> Option<u64> {
        if self.0.len() == 16 {
            u64::from_str_radix(&self.0, 16).ok()
        } else {
            None
        }
    }

    /// Expands the (possibly abbreviated) GID against the known ones, with
    /// aria2's messages for "not found" and "not unique".
    pub fn resolve(&self, known: impl IntoIterator<Item = u64>) -> Result<u64, Error> {
        let mut found = None;
        for gid in known {
            let hex = format!("{gid:016x}");
            if hex == self.0 {
                return Ok(gid);
            }
            if hex.starts_with(&self.0) {
                if found.is_some() {
                    return Err(Error::fault(format!("GID {} is not unique", self.0)));
                }
                found = Some(gid);
            }
        }
        found.ok_or_else(|| Error::fault(format!("GID {} is not found", self.0)))
    }
}

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
    fn from_members(members: &[(crate::request::Key, Param)]) -> Self {
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

/// `aria2.changePosition`'s reference point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// `POS_SET`: from the front of the queue.
    Set,
    /// `POS_CUR`: relative to the current position.
    Cur,
    /// `POS_END`: from the end of the queue.
    End,
}

/// A validated RPC method with its parameters, ready for dispatch.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Method {
    AddUri {
        uris: Vec<String>,
        options: RpcOptions,
        position: Option<u64>,
    },
    AddTorrent {
        /// Raw .torrent bytes (base64 already decoded).
        torrent: Vec<u8>,
        /// Web seeds.
        uris: Vec<String>,
        options: RpcOptions,
        position: Option<u64>,
    },
    AddMetalink {
        /// Raw metalink document bytes.
        metalink: Vec<u8>,
        options: RpcOptions,
        position: Option<u64>,
    },
    Remove {
        gid: GidRef,
    },
    ForceRemove {
        gid: GidRef,
    },
    Pause {
        gid: GidRef,
    },
    ForcePause {
        gid: GidRef,
    },
    PauseAll,
    ForcePauseAll,
    Unpause {
        gid: GidRef,
    },
    UnpauseAll,
    ChangePosition {
        gid: GidRef,
        pos: i64,
        how: Position,
    },
    /// `keys: None` means all keys.
    TellStatus {
        gid: GidRef,
        keys: Option<Vec<String>>,
    },
    GetUris {
        gid: GidRef,
    },
    GetFiles {
        gid: GidRef,
    },
    GetPeers {
        gid: GidRef,
    },
    GetServers {
        gid: GidRef,
    },
    TellActive {
        keys: Option<Vec<String>>,
    },
    /// A negative offset counts from the end of the queue (aria2 semantics).
    TellWaiting {
        offset: i64,
        num: u64,
        keys: Option<Vec<String>>,
    },
    TellStopped {
        offset: i64,
        num: u64,
        keys: Option<Vec<String>>,
    },
    GetOption {
        gid: GidRef,
    },
    ChangeUri {
        gid: GidRef,
        /// 1-based file index.
        file_index: u64,
        del_uris: Vec<String>,
        add_uris: Vec<String>,
        position: Option<u64>,
    },
    ChangeOption {
        gid: GidRef,
        options: RpcOptions,
    },
    GetGlobalOption,
    ChangeGlobalOption {
        options: RpcOptions,
    },
    PurgeDownloadResult,
    RemoveDownloadResult {
        gid: GidRef,
    },
    GetVersion,
    GetSessionInfo,
    Shutdown,
    ForceShutdown,
    GetGlobalStat,
    SaveSession,
    /// Each entry is a call to authorize and run on its own (or the error
    /// aria2 reports for a malformed entry). Entries inherit the id and
    /// dialect of the enclosing call.
    Multicall(Vec<Result<RpcCall, Error>>),
    ListMethods,
    ListNotifications,
}

/// Validates the parameters of an (already authorized) call.
pub fn parse_method(call: &RpcCall) -> Result<Method, Error> {
    let p = Params {
        params: &call.params,
        dialect: call.dialect,
    };
    let gid = || p.gid(0);
    Ok(match call.method.as_str() {
        "aria2.addUri" => {
            let uris = strings(p.required_array(0)?);
            if uris.is_empty() {
                return Err(Error::fault("URI is not provided."));
            }
            Method::AddUri {
                uris,
                options: p.options(1)?,
                position: p.position(2)?,
            }
        }
        "aria2.addTorrent" => Method::AddTorrent {
            torrent: p.binary(0)?,
            uris: p.optional_array(1)?.map(strings).unwrap_or_default(),
            options: p.options(2)?,
            position: p.position(3)?,
        },
        "aria2.addMetalink" => Method::AddMetalink {
            metalink: p.binary(0)?,
            options: p.options(1)?,
            position: p.position(2)?,
        },
        "aria2.remove" => Method::Remove { gid: gid()? },
        "aria2.forceRemove" => Method::ForceRemove { gid: gid()? },
        "aria2.pause" => Method::Pause { gid: gid()? },
        "aria2.forcePause" => Method::ForcePause { gid: gid()? },
        "aria2.pauseAll" => Method::PauseAll,
        "aria2.forcePauseAll" => Method::ForcePauseAll,
        "aria2.unpause" => Method::Unpause { gid: gid()? },
        "aria2.unpauseAll" => Method::UnpauseAll,
        "aria2.changePosition" => {
            let gid = gid()?;
            let pos = p.required_int(1)?;
            let how = match p.required_str(2)? {
                "POS_SET" => Position::Set,
                "POS_CUR" => Position::Cur,
                "POS_END" => Position::End,
                _ => return Err(Error::fault("Illegal argument.")),
            };
            Method::ChangePosition { gid, pos, how }
        }
        "aria2.tellStatus" => Method::TellStatus {
            gid: gid()?,
            keys: p.keys(1)?,
        },
        "aria2.getUris" => Method::GetUris { gid: gid()? },
        "aria2.getFiles" => Method::GetFiles { gid: gid()? },
        "aria2.getPeers" => Method::GetPeers { gid: gid()? },
        "aria2.getServers" => Method::GetServers { gid: gid()? },
        "aria2.tellActive" => Method::TellActive { keys: p.keys(0)? },
        "aria2.tellWaiting" | "aria2.tellStopped" => {
            let offset = p.required_int(0)?;
            let num = p.required_int_at_least(1, 0)?;
            let keys = p.keys(2)?;
            if call.method == "aria2.tellWaiting" {
                Method::TellWaiting { offset, num, keys }
            } else {
                Method::TellStopped { offset, num, keys }
            }
        }
        "aria2.getOption" => Method::GetOption { gid: gid()? },
        "aria2.changeUri" => Method::ChangeUri {
            gid: gid()?,
            file_index: p.required_int_at_least(1, 1)?,
            del_uris: strings(p.required_array(2)?),
            add_uris: strings(p.required_array(3)?),
            position: p.position(4)?,
        },
        "aria2.changeOption" => Method::ChangeOption {
            gid: gid()?,
            options: RpcOptions::from_members(p.required_struct(1)?),
        },
        "aria2.getGlobalOption" => Method::GetGlobalOption,
        "aria2.changeGlobalOption" => Method::ChangeGlobalOption {
            options: RpcOptions::from_members(p.required_struct(0)?),
        },
        "aria2.purgeDownloadResult" => Method::PurgeDownloadResult,
        "aria2.removeDownloadResult" => Method::RemoveDownloadResult { gid: gid()? },
        "aria2.getVersion" => Method::GetVersion,
        "aria2.getSessionInfo" => Method::GetSessionInfo,
        "aria2.shutdown" => Method::Shutdown,
        "aria2.forceShutdown" => Method::ForceShutdown,
        "aria2.getGlobalStat" => Method::GetGlobalStat,
        "aria2.saveSession" => Method::SaveSession,
        "system.multicall" => Method::Multicall(
            p.required_array(0)?
                .iter()
                .map(|entry| multicall_entry(entry, call))
                .collect(),
        ),
        "system.listMethods" => Method::ListMethods,
        "system.listNotifications" => Method::ListNotifications,
        other => return Err(Error::NoSuchMethod(other.to_owned())),
    })
}

fn multicall_entry(entry: &Param, parent: &RpcCall) -> Result<RpcCall, Error> {
    if !matches!(entry, Param::Struct(_)) {
        return Err(Error::fault("system.multicall expected struct."));
    }
    let Some(Param::String(method)) = entry.get("methodName") else {
        return Err(Error::fault("Missing methodName."));
    };
    if method == "system.multicall" {
        return Err(Error::fault("Recursive system.multicall forbidden."));
    }
    let params = match entry.get("params") {
        Some(Param::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    Ok(RpcCall {
        method: method.clone(),
        params,
        id: parent.id.clone(),
        dialect: parent.dialect,
    })
}

fn strings(items: &[Param]) -> Vec<String> {
    // aria2 skips non-string elements rather than failing.
    items
        .iter()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}

/// Positional access with aria2's error wording.
struct Params<'a> {
    params: &'a [Param],
    dialect: Dialect,
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

    fn required_str(&self, i: usize) -> Result<&'a str, Error> {
        self.required(i)?
            .as_str()
            .ok_or_else(|| Self::wrong_type(i))
    }

    fn required_array(&self, i: usize) -> Result<&'a [Param], Error> {
        match self.required(i)? {
            Param::Array(items) => Ok(items),
            _ => Err(Self::wrong_type(i)),
        }
    }

    fn optional_array(&self, i: usize) -> Result<Option<&'a [Param]>, Error> {
        match self.params.get(i) {
            None => Ok(None),
            Some(Param::Array(items)) => Ok(Some(items)),
            Some(_) => Err(Self::wrong_type(i)),
        }
    }

    fn required_struct(&self, i: usize) -> Result<&'a [(crate::request::Key, Param)], Error> {
        match self.required(i)? {
            Param::Struct(members) => Ok(members),
            _ => Err(Self::wrong_type(i)),
        }
    }

    fn required_int(&self, i: usize) -> Result<i64, Error> {
        match self.required(i)? {
            Param::Int(v) => Ok(*v),
            _ => Err(Self::wrong_type(i)),
        }
    }

    fn required_int_at_least(&self, i: usize, min: i64) -> Result<u64, Error> {
        let v = self.required_int(i)?;
        if v < min {
            return Err(Error::fault(format!(
                "The integer parameter at {i} has invalid value: \
                 the value must be greater than or equal to {min}."
            )));
        }
        u64::try_from(v).map_err(|_| Self::wrong_type(i))
    }

    fn gid(&self, i: usize) -> Result<GidRef, Error> {
        GidRef::parse(self.required_str(i)?)
    }

    fn options(&self, i: usize) -> Result<RpcOptions, Error> {
        match self.params.get(i) {
            None => Ok(RpcOptions::default()),
            Some(Param::Struct(members)) => Ok(RpcOptions::from_members(members)),
            Some(_) => Err(Self::wrong_type(i)),
        }
    }

    fn position(&self, i: usize) -> Result<Option<u64>, Error> {
        match self.params.get(i) {
            None => Ok(None),
            Some(Param::Int(v)) => u64::try_from(*v)
                .map(Some)
                .map_err(|_| Error::fault("Position must be greater than or equal to 0.")),
            Some(_) => Err(Self::wrong_type(i)),
        }
    }

    fn keys(&self, i: usize) -> Result<Option<Vec<String>>, Error> {
        Ok(self.optional_array(i)?.map(strings))
    }

    /// A .torrent or metalink body: XML-RPC sends `<base64>` (or, rarely, the
    /// raw text as a string); JSON-RPC sends base64 text in a string.
    fn binary(&self, i: usize) -> Result<Vec<u8>, Error> {
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
fn decode_base64_skipping_junk(s: &str) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Id;

    fn call(method: &str, params: Vec<Param>) -> RpcCall {
        RpcCall {
            method: method.into(),
            params,
            id: Id::Number(7.into()),
            dialect: Dialect::Json,
        }
    }

    fn err(method: &str, params: Vec<Param>) -> String {
        parse_method(&call(method, params)).unwrap_err().to_string()
    }

    fn arr(items: &[&str]) -> Param {
        Param::Array(items.iter().map(|s| Param::from(*s)).collect())
    }

    const GID: &str = "2089b05ecca3d829";

    #[test]
    fn method_list_is_aria2s() {
        let Param::Array(items) = list_methods() else {
            panic!()
        };
        assert_eq!(items.len(), 36);
        assert_eq!(items[0], Param::from("aria2.addUri"));
        assert_eq!(items[35], Param::from("system.listNotifications"));
        let Param::Array(n) = list_notifications() else {
            panic!()
        };
        assert_eq!(n[5], Param::from("aria2.onBtDownloadComplete"));
        // Every listed method parses (maybe with a parameter error), none is
        // "No such method".
        for m in METHOD_NAMES {
            let r = parse_method(&call(m, vec![]));
            assert!(!matches!(r, Err(Error::NoSuchMethod(_))), "{m}");
        }
        assert_eq!(err("aria2.nope", vec![]), "No such method: aria2.nope");
    }

    #[test]
    fn add_uri_shapes() {
        let m = parse_method(&call(
            "aria2.addUri",
            vec![
                Param::Array(vec![
                    "http://a/x".into(),
                    Param::Int(3),
                    "http://b/x".into(),
                ]),
                Param::structure([
                    ("dir", Param::from("/tmp")),
                    ("split", Param::Int(4)),
                    ("header", arr(&["A: 1", "B: 2"])),
                    ("ignored", Param::Nil),
                ]),
                Param::Int(0),
            ],
        ))
        .unwrap();
        assert_eq!(
            m,
            Method::AddUri {
                uris: vec!["http://a/x".into(), "http://b/x".into()],
                options: RpcOptions(vec![
                    ("dir".into(), "/tmp".into()),
                    ("split".into(), "4".into()),
                    ("header".into(), "A: 1".into()),
                    ("header".into(), "B: 2".into()),
                ]),
                position: Some(0),
            }
        );
        assert_eq!(
            err("aria2.addUri", vec![]),
            "The parameter at 0 is required but missing."
        );
        assert_eq!(
            err("aria2.addUri", vec!["x".into()]),
            "The parameter at 0 has wrong type."
        );
        assert_eq!(err("aria2.addUri", vec![arr(&[])]), "URI is not provided.");
        assert_eq!(
            err("aria2.addUri", vec![Param::Array(vec![Param::Int(1)])]),
            "URI is not provided."
        );
        assert_eq!(
            err("aria2.addUri", vec![arr(&["u"]), Param::Int(1)]),
            "The parameter at 1 has wrong type."
        );
        assert_eq!(
            err(
                "aria2.addUri",
                vec![arr(&["u"]), Param::Struct(vec![]), Param::Int(-1)]
            ),
            "Position must be greater than or equal to 0."
        );
        assert_eq!(
            err(
                "aria2.addUri",
                vec![arr(&["u"]), Param::Struct(vec![]), "0".into()]
            ),
            "The parameter at 2 has wrong type."
        );
    }

    #[test]
    fn add_torrent_decodes_base64_per_dialect() {
        let json = call("aria2.addTorrent", vec!["ZDQ6\nc3BhbWU=".into()]);
        let Method::AddTorrent {
            torrent,
            uris,
            position,
            ..
        } = parse_method(&json).unwrap()
        else {
            panic!()
        };
        assert_eq!(torrent, b"d4:spame");
        assert!(uris.is_empty());
        assert_eq!(position, None);
        let mut xml = call(
            "aria2.addTorrent",
            vec![Param::Base64(b"raw".to_vec()), arr(&["ws"])],
        );
        xml.dialect = Dialect::Xml;
        let Method::AddTorrent { torrent, uris, .. } = parse_method(&xml).unwrap() else {
            panic!()
        };
        assert_eq!(torrent, b"raw");
        assert_eq!(uris, vec!["ws".to_owned()]);
        xml.params[0] = "d4:spame".into();
        let Method::AddTorrent { torrent, .. } = parse_method(&xml).unwrap() else {
            panic!()
        };
        assert_eq!(torrent, b"d4:spame");
        assert_eq!(decode_base64_skipping_junk("!!!"), b"");
        assert_eq!(decode_base64_skipping_junk("QQ"), b"A");
        assert_eq!(decode_base64_skipping_junk("QUFBQ"), b"AAA");
        assert_eq!(
            err("aria2.addMetalink", vec![Param::Int(1)]),
            "The parameter at 0 has wrong type."
        );
    }

    #[test]
    fn gid_validation_and_resolution() {
        assert_eq!(err("aria2.tellStatus", vec!["zz".into()]), "Invalid GID zz");
        assert_eq!(err("aria2.tellStatus", vec!["".into()]), "Invalid GID ");
        assert_eq!(
            err("aria2.tellStatus", vec!["00000000000000001".into()]),
            "Invalid GID 00000000000000001"
        );
        assert_eq!(
            err("aria2.remove", vec![Param::Int(1)]),
            "The parameter at 0 has wrong type."
        );
        let g = GidRef::parse("2089B0").unwrap();
        assert_eq!(g.as_str(), "2089b0");
        assert_eq!(g.full(), None);
        let known = [0x2089b05ecca3d829u64, 0x2089c00000000000, 0x1];
        assert_eq!(g.resolve(known), Ok(0x2089b05ecca3d829));
        assert_eq!(
            GidRef::parse("2089")
                .unwrap()
                .resolve(known)
                .unwrap_err()
                .to_string(),
            "GID 2089 is not unique"
        );
        assert_eq!(
            GidRef::parse("0")
                .unwrap()
                .resolve([])
                .unwrap_err()
                .to_string(),
            "GID 0 is not found"
        );
        assert_eq!(
            GidRef::parse("0000000000000001").unwrap().resolve(known),
            Ok(1)
        );
        assert_eq!(GidRef::parse(GID).unwrap().full(), Some(0x2089b05ecca3d829));
    }

    #[test]
    fn tell_status_and_lists() {
        assert_eq!(
            parse_method(&call(
                "aria2.tellStatus",
                vec![GID.into(), arr(&["gid", "status"])]
            ))
            .unwrap(),
            Method::TellStatus {
                gid: GidRef::parse(GID).unwrap(),
                keys: Some(vec!["gid".into(), "status".into()])
            }
        );
        assert_eq!(
            parse_method(&call("aria2.tellActive", vec![])).unwrap(),
            Method::TellActive { keys: None }
        );
        assert_eq!(
            parse_method(&call(
                "aria2.tellWaiting",
                vec![Param::Int(-1), Param::Int(10)]
            ))
            .unwrap(),
            Method::TellWaiting {
                offset: -1,
                num: 10,
                keys: None
            }
        );
        assert_eq!(
            err("aria2.tellWaiting", vec![Param::Int(0), Param::Int(-1)]),
            "The integer parameter at 1 has invalid value: the value must be greater than or equal to 0."
        );
        assert_eq!(
            err("aria2.tellStopped", vec![Param::Int(0)]),
            "The parameter at 1 is required but missing."
        );
        assert_eq!(
            err("aria2.tellWaiting", vec!["a".into(), Param::Int(1)]),
            "The parameter at 0 has wrong type."
        );
    }

    #[test]
    fn change_position_and_uri() {
        assert_eq!(
            parse_method(&call(
                "aria2.changePosition",
                vec![GID.into(), Param::Int(-2), "POS_CUR".into()]
            ))
            .unwrap(),
            Method::ChangePosition {
                gid: GidRef::parse(GID).unwrap(),
                pos: -2,
                how: Position::Cur
            }
        );
        assert_eq!(
            err(
                "aria2.changePosition",
                vec![GID.into(), Param::Int(1), "POS_X".into()]
            ),
            "Illegal argument."
        );
        assert_eq!(
            err("aria2.changeUri", vec![GID.into(), Param::Int(0), arr(&[]), arr(&[])]),
            "The integer parameter at 1 has invalid value: the value must be greater than or equal to 1."
        );
        assert_eq!(
            parse_method(&call(
                "aria2.changeUri",
                vec![
                    GID.into(),
                    Param::Int(1),
                    arr(&["a"]),
                    arr(&["b", "c"]),
                    Param::Int(2)
                ]
            ))
            .unwrap(),
            Method::ChangeUri {
                gid: GidRef::parse(GID).unwrap(),
                file_index: 1,
                del_uris: vec!["a".into()],
                add_uris: vec!["b".into(), "c".into()],
                position: Some(2)
            }
        );
        assert_eq!(
            err("aria2.changeOption", vec![GID.into()]),
            "The parameter at 1 is required but missing."
        );
        assert_eq!(
            parse_method(&call(
                "aria2.changeGlobalOption",
                vec![Param::structure([(
                    "max-overall-download-limit",
                    Param::from("1M")
                )])]
            ))
            .unwrap(),
            Method::ChangeGlobalOption {
                options: RpcOptions(vec![("max-overall-download-limit".into(), "1M".into())])
            }
        );
    }

    #[test]
    fn multicall_entries() {
        let m = parse_method(&call(
            "system.multicall",
            vec![Param::Array(vec![
                Param::structure([
                    ("methodName", Param::from("aria2.getVersion")),
                    ("params", arr(&["token:x"])),
                ]),
                Param::Int(5),
                Param::structure([("params", arr(&[]))]),
                Param::structure([("methodName", Param::from("system.multicall"))]),
                Param::structure([("methodName", Param::from("aria2.tellStatus"))]),
            ])],
        ))
        .unwrap();
        let Method::Multicall(entries) = m else {
            panic!()
        };
        let first = entries[0].as_ref().unwrap();
        assert_eq!(first.method, "aria2.getVersion");
        assert_eq!(first.params, vec![Param::from("token:x")]);
        assert_eq!(first.id, Id::Number(7.into()));
        let msgs: Vec<String> = entries[1..4]
            .iter()
            .map(|e| e.as_ref().unwrap_err().to_string())
            .collect();
        assert_eq!(
            msgs,
            [
                "system.multicall expected struct.",
                "Missing methodName.",
                "Recursive system.multicall forbidden."
            ]
        );
        assert!(entries[4].as_ref().unwrap().params.is_empty());
        assert_eq!(
            err("system.multicall", vec![]),
            "The parameter at 0 is required but missing."
        );
        assert_eq!(
            multicall_failure(&Error::Unauthorized, Dialect::Xml),
            Param::structure([
                ("faultCode", Param::Int(1)),
                ("faultString", "Unauthorized".into())
            ])
        );
        assert_eq!(
            multicall_failure(&Error::Unauthorized, Dialect::Json),
            Param::structure([("code", Param::Int(1)), ("message", "Unauthorized".into())])
        );
        assert_eq!(
            multicall_success(Param::Nil),
            Param::Array(vec![Param::Nil])
        );
    }
}
