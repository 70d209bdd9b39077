//! The one error type of this crate.

/// Why a KRPC packet or a saved routing table is unusable. A KRPC error here
/// means "drop the packet" (or answer 203 Protocol Error when it had a `t`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DhtError {
    #[error(transparent)]
    Bencode(#[from] arietta_bencode::Error),
    /// A required key is missing.
    #[error("KRPC: missing `{0}`")]
    Missing(&'static str),
    /// A key has the wrong type or size.
    #[error("KRPC: invalid `{0}`")]
    Invalid(&'static str),
    /// The routing table file is damaged, truncated or from another version.
    #[error("DHT table file: {0}")]
    TableFile(&'static str),
}
