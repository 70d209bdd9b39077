//! aria2's words for a BEP 10 extended message in its peer-wire log lines
//! (`To: ADDR extended ut_metadata request piece=0`): its
//! `BtExtendedMessage::toString` over `HandshakeExtensionMessage`,
//! `UTMetadata{Request,Data,Reject}ExtensionMessage` and
//! `UTPexExtensionMessage`.
//!
//! A message's id means an extension only within one direction of one
//! connection (ids are what the *receiver* announced), so the caller says
//! which extension the id stands for.

use arietta_bencode::Value;

use crate::peer_wire::Message;

/// The extensions aria2 knows, in its registry's order (the order its
/// handshake line lists their ids in).
const KNOWN: [&str; 2] = ["ut_metadata", "ut_pex"];

/// The log text of extended message `id` with `payload`; `extension`: the
/// name `id` stands for on this connection in this direction (ignored for
/// the handshake, id 0). A payload that does not parse, or an extension
/// aria2 does not know, reads `extended id=N, length=N`.
pub fn extended_text(id: u8, payload: &[u8], extension: Option<&str>) -> String {
    let described = arietta_bencode::decode_prefix(payload)
        .ok()
        .and_then(|(dict, _)| match (id, extension) {
            (0, _) => Some(handshake(&dict)),
            (_, Some("ut_metadata")) => ut_metadata(&dict),
            (_, Some("ut_pex")) => Some(ut_pex(&dict)),
            _ => None,
        });
    match described {
        Some(text) => format!("extended {text}"),
        None => format!("extended id={id}, length={}", payload.len()),
    }
}

/// A message as aria2's `To:`/`From:` lines name it, an extended one with
/// the extension its id stands for on this connection in this direction
/// (formatted only when the line is logged).
pub struct WireText<'a>(pub &'a Message, pub Option<&'a str>);

impl std::fmt::Display for WireText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Message::Extended { id, payload } => f.write_str(&extended_text(*id, payload, self.1)),
            m => m.fmt(f),
        }
    }
}

/// `handshake client=aria2%2F1.36.0, tcpPort=6881, metadataSize=123,
/// ut_metadata=2, ut_pex=1`: what was announced, 0 for what was not.
fn handshake(dict: &Value) -> String {
    let int = |k: &str| dict.get(k).and_then(Value::as_int).unwrap_or(0);
    let client = dict.get("v").and_then(Value::as_bytes).unwrap_or_default();
    let mut s = format!(
        "handshake client={}, tcpPort={}, metadataSize={}",
        percent_encode(client),
        int("p"),
        int("metadata_size")
    );
    let m = dict.get("m");
    for name in KNOWN {
        let id = m.and_then(|m| m.get(name)).and_then(Value::as_int);
        if let Some(id) = id.filter(|&id| id > 0) {
            s.push_str(&format!(", {name}={id}"));
        }
    }
    s
}

/// `ut_metadata request piece=0` (`data`, `reject`).
fn ut_metadata(dict: &Value) -> Option<String> {
    let kind = match dict.get("msg_type").and_then(Value::as_int)? {
        0 => "request",
        1 => "data",
        2 => "reject",
        _ => return None,
    };
    let piece = dict.get("piece").and_then(Value::as_int)?;
    Some(format!("ut_metadata {kind} piece={piece}"))
}

/// `ut_pex added=2, dropped=0`: IPv4 and IPv6 peers together, as aria2
/// counts them.
fn ut_pex(dict: &Value) -> String {
    let peers = |key: &str, size: usize| {
        dict.get(key)
            .and_then(Value::as_bytes)
            .map_or(0, |b| b.len() / size)
    };
    format!(
        "ut_pex added={}, dropped={}",
        peers("added", 6) + peers("added6", 18),
        peers("dropped", 6) + peers("dropped6", 18)
    )
}

/// aria2's `util::percentEncode`: every byte but `A-Za-z0-9-._~` as `%XX`.
fn percent_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use arietta_bencode::OwnedValue;

    fn enc(v: OwnedValue) -> Vec<u8> {
        arietta_bencode::encode(&v)
    }

    #[test]
    fn handshake_reads_as_arias() {
        let hs = OwnedValue::dict()
            .insert(
                "m",
                OwnedValue::dict()
                    .insert("ut_pex", 1i64)
                    .insert("ut_metadata", 2i64),
            )
            .insert("metadata_size", 157i64)
            .insert("p", 6881i64)
            .insert("v", "aria2/1.36.0");
        assert_eq!(
            extended_text(0, &enc(hs), None),
            "extended handshake client=aria2%2F1.36.0, tcpPort=6881, metadataSize=157, \
             ut_metadata=2, ut_pex=1"
        );
        let bare = OwnedValue::dict().insert("m", OwnedValue::dict());
        assert_eq!(
            extended_text(0, &enc(bare), None),
            "extended handshake client=, tcpPort=0, metadataSize=0"
        );
    }

    #[test]
    fn ut_metadata_kinds_and_piece() {
        let m = |t: i64| {
            enc(OwnedValue::dict()
                .insert("msg_type", t)
                .insert("piece", 3i64))
        };
        let ut = Some("ut_metadata");
        assert_eq!(
            extended_text(2, &m(0), ut),
            "extended ut_metadata request piece=3"
        );
        let mut data = m(1);
        data.extend_from_slice(b"raw info bytes after the dict");
        assert_eq!(
            extended_text(2, &data, ut),
            "extended ut_metadata data piece=3"
        );
        assert_eq!(
            extended_text(2, &m(2), ut),
            "extended ut_metadata reject piece=3"
        );
    }

    #[test]
    fn ut_pex_counts_both_families() {
        let pex = OwnedValue::dict()
            .insert("added", vec![0u8; 12])
            .insert("added6", vec![0u8; 18])
            .insert("dropped", vec![0u8; 6]);
        assert_eq!(
            extended_text(1, &enc(pex), Some("ut_pex")),
            "extended ut_pex added=3, dropped=1"
        );
    }

    #[test]
    fn unknown_or_unparsable_falls_back_to_id_and_length() {
        assert_eq!(
            extended_text(9, b"d1:xi1ee", None),
            "extended id=9, length=8"
        );
        assert_eq!(
            extended_text(1, b"not bencode", Some("ut_pex")),
            "extended id=1, length=11"
        );
    }
}
