//! The one error type of this crate.

/// Why a byte string is not acceptable bencode. Offsets are positions in the
/// input so that a bad torrent can be diagnosed with a hex dump.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input ended inside a value.
    #[error("bencode: unexpected end of input at offset {offset}")]
    UnexpectedEof { offset: usize },
    /// A byte that cannot start or continue a value here.
    #[error("bencode: unexpected byte 0x{byte:02x} at offset {offset}")]
    UnexpectedByte { byte: u8, offset: usize },
    /// An integer or string length is malformed: empty, leading zeros, or `-0`.
    #[error("bencode: malformed number at offset {offset}")]
    BadNumber { offset: usize },
    /// An integer or string length does not fit the target type.
    #[error("bencode: number overflows at offset {offset}")]
    Overflow { offset: usize },
    /// A dictionary key is not a byte string.
    #[error("bencode: dictionary key is not a string at offset {offset}")]
    NonStringKey { offset: usize },
    /// Bytes follow a complete top-level value (use `decode_prefix` when that is expected).
    #[error("bencode: {count} trailing bytes at offset {offset}")]
    TrailingData { offset: usize, count: usize },
    /// Lists/dicts nest deeper than [`crate::Limits::max_depth`].
    #[error("bencode: nesting deeper than {limit}")]
    TooDeep { limit: usize },
    /// More values than [`crate::Limits::max_items`].
    #[error("bencode: more than {limit} values")]
    TooManyItems { limit: usize },
    /// Input larger than [`crate::Limits::max_input`].
    #[error("bencode: input of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
}
