//! aria2's RPC methods: names, notification names and parameter shapes.
//!
//! [`parse_method`] turns an authorized [`RpcCall`] into a typed [`Method`]
//! the daemon can dispatch on, or into the error aria2 1.36 answers for the
//! same parameters (wording checked against aria2c on loopback, e.g.
//! "The parameter at 0 has wrong type."). Parameter indexes in messages
//! count from the first parameter after the token, as in aria2.

mod gid;
mod params;
#[cfg(test)]
mod tests;

use crate::error::Error;
use crate::request::{Dialect, Param, RpcCall};

pub use gid::GidRef;
pub use params::RpcOptions;
use params::{strings, Params};

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
