/// aria2's exit status table. Scripts test these numbers, so they are
/// kept exactly; this is the one place errors become exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ExitCode {
    Success = 0,
    Unknown = 1,
    Timeout = 2,
    NotFound = 3,
    MaxFileNotFound = 4,
    TooSlow = 5,
    Network = 6,
    Unfinished = 7,
    NoResume = 8,
    NoSpace = 9,
    PieceLengthMismatch = 10,
    SameFileInProgress = 11,
    SameInfoHash = 12,
    FileExists = 13,
    RenameFailed = 14,
    OpenExisting = 15,
    CreateFile = 16,
    FileIo = 17,
    MakeDir = 18,
    NameResolution = 19,
    MetalinkParse = 20,
    FtpCommand = 21,
    BadHttpResponse = 22,
    TooManyRedirects = 23,
    Auth = 24,
    BencodeParse = 25,
    TorrentCorrupt = 26,
    BadMagnet = 27,
    BadOption = 28,
    Overloaded = 29,
    RpcParse = 30,
    /// "Reserved" in aria2's manual, yet what aria2c 1.36 reports as a
    /// removed active download's `errorCode`.
    Removed = 31,
    Checksum = 32,
}

impl ExitCode {
    /// Maps a raw code from a protocol crate's `aria2_exit_code()`.
    pub fn from_u8(v: u8) -> ExitCode {
        use ExitCode::*;
        const ALL: [ExitCode; 33] = [
            Success,
            Unknown,
            Timeout,
            NotFound,
            MaxFileNotFound,
            TooSlow,
            Network,
            Unfinished,
            NoResume,
            NoSpace,
            PieceLengthMismatch,
            SameFileInProgress,
            SameInfoHash,
            FileExists,
            RenameFailed,
            OpenExisting,
            CreateFile,
            FileIo,
            MakeDir,
            NameResolution,
            MetalinkParse,
            FtpCommand,
            BadHttpResponse,
            TooManyRedirects,
            Auth,
            BencodeParse,
            TorrentCorrupt,
            BadMagnet,
            BadOption,
            Overloaded,
            RpcParse,
            Removed,
            Checksum,
        ];
        ALL.get(usize::from(v)).copied().unwrap_or(Unknown)
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_aria2() {
        for v in 0..=32u8 {
            assert_eq!(ExitCode::from_u8(v).code(), v);
        }
        assert_eq!(ExitCode::from_u8(200), ExitCode::Unknown);
        assert_eq!(ExitCode::BadOption.code(), 28);
        assert_eq!(ExitCode::Checksum.code(), 32);
        assert_eq!(ExitCode::NameResolution.code(), 19);
    }
}
