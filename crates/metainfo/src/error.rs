//! The one error type of this crate.

/// Why metadata, a magnet link, a selection or a tracker reply is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes are not valid bencode.
    #[error(transparent)]
    Bencode(#[from] arietta_bencode::Error),
    /// A required key is absent.
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// A key holds a value of the wrong type or out of range.
    #[error("invalid `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A file path would escape the download directory (aria2 refuses these too).
    #[error("unsafe path in torrent: {0}")]
    UnsafePath(String),
    /// A v1 torrent's name or joined path fails aria2's `detectDirTraversal`
    /// (`..` or `.` as a component, a leading or trailing `/`, a control
    /// character); aria2's words.
    #[error("Detected directory traversal directive in {0}")]
    DirTraversal(String),
    /// A `--select-file` specification is malformed or out of range.
    #[error("bad file selection `{spec}`: {reason}")]
    Selection { spec: String, reason: String },
    /// A magnet URI is malformed or carries no usable info-hash.
    #[error("bad magnet link: {0}")]
    Magnet(String),
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
