//! The crate's one error type.

/// Why a metalink document or header was refused.
///
/// Individual bad elements (an unparsable size, a hash of the wrong length, a
/// file named `../etc/passwd`) do not produce errors: they are dropped, as
/// aria2 does, so one bad mirror entry cannot sink a whole document. These
/// variants are for documents that cannot be used at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// Larger than [`crate::Limits::max_input_bytes`]; refused before parsing
    /// so a hostile server cannot make us build a huge tree.
    #[error("metalink document is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    /// Not UTF-8 (UTF-16 documents are not supported).
    #[error("metalink document is not valid UTF-8")]
    NotUtf8,
    /// Malformed XML, a DTD (entity bombs live there), or too many nodes.
    #[error("metalink XML rejected: {0}")]
    Xml(String),
    /// Well-formed XML whose root is not a v3 or v4 `<metalink>` element.
    #[error("not a metalink document (root element <{0}>)")]
    NotMetalink(String),
    /// A metalink with no usable `<file>` entries.
    #[error("metalink document describes no usable file")]
    NoFiles,
}
