//! The crate's one error type and its mapping onto aria2's exit codes.

use thiserror::Error;

/// Everything that can go wrong while speaking FTP on the control connection.
///
/// Parse errors mean the server sent something we cannot trust; the caller
/// should close the control connection rather than try to resynchronise.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FtpError {
    /// A reply line grew past the limit without a line terminator.
    #[error("FTP reply line longer than {limit} bytes")]
    LineTooLong { limit: usize },
    /// A multi-line reply grew past the limit before its last line.
    #[error("FTP reply longer than {limit} bytes")]
    ReplyTooLarge { limit: usize },
    /// The first line of a reply did not start with a three-digit code.
    #[error("malformed FTP reply line: '{}'", .line.escape_debug())]
    BadReplyLine { line: String },
    /// A command argument contained CR, LF or NUL, which would let it smuggle
    /// a second command onto the control connection.
    #[error("FTP command argument contains CR, LF or NUL")]
    InvalidArgument,
    /// A reply had the right code but its text could not be understood.
    #[error("malformed {what} reply: '{}'", .text.escape_debug())]
    Malformed { what: &'static str, text: String },
    /// The server refused the login (530 or similar while authenticating).
    /// Worded as aria2's (its reply text is in the log's `Response
    /// received` line).
    #[error("The response status is not successful. status={code}")]
    LoginFailed { code: u16, text: String },
    /// The server said the file or directory does not exist (550).
    /// aria2's words; the reply is in the log's `Response received` line.
    #[error("Resource not found")]
    NotFound {
        /// `CWD` (a directory is missing), `SIZE` or `RETR`.
        command: &'static str,
        code: u16,
        text: String,
    },
    /// Resuming from an offset was required but REST was refused.
    #[error("FTP server doesn't support resuming.")]
    ResumeUnsupported { code: u16, text: String },
    /// Any other negative or unexpected reply to a command (aria2's
    /// words; the command and reply are in the log).
    #[error("The response status is not successful. status={code}")]
    CommandFailed {
        command: &'static str,
        code: u16,
        text: String,
    },
    /// The session was driven out of order (a bug in the caller).
    #[error("FTP session misuse: {0}")]
    Misuse(&'static str),
    /// Opening a control or data connection failed; `code` is the exit code
    /// of the network layer's error (19 name resolution, 2 timeout, 1 the
    /// rest), kept so the user sees the same status as for HTTP.
    #[error("FTP {what} connection failed: {message}")]
    Connect {
        what: &'static str,
        message: String,
        code: u8,
    },
    /// Reading or writing an established connection failed.
    #[error("FTP {what} connection I/O error: {message}")]
    Io { what: &'static str, message: String },
    /// The server closed the control connection where a reply was due.
    #[error("the FTP server closed the control connection")]
    Closed,
    /// No reply (or no data) within `--timeout`.
    #[error("no answer from the FTP server for {secs} seconds")]
    Timeout { secs: u64 },
    /// The active-mode data connection came from another host than the
    /// server: someone else is trying to feed us a file.
    #[error("FTP data connection from {got}, expected the server at {want}")]
    ForeignDataPeer { got: String, want: String },
}

impl FtpError {
    /// The exit code aria2c would report for this failure, so that scripts
    /// written against aria2c keep working.
    ///
    /// 3: resource not found; 8: resume required but unsupported;
    /// 21: FTP command failed, a refused login included (aria2c 1.36
    /// answers a 530 with 21, not 24); 2: timeout; 1: anything else (a
    /// cut connection and protocol garbage are aria2's generic "unknown
    /// error"; aria2 never reports 6).
    pub fn aria2_exit_code(&self) -> u8 {
        match self {
            FtpError::NotFound { .. } => 3,
            FtpError::ResumeUnsupported { .. } => 8,
            FtpError::LoginFailed { .. } | FtpError::CommandFailed { .. } => 21,
            FtpError::Connect { code, .. } => *code,
            FtpError::Timeout { .. } => 2,
            _ => 1,
        }
    }

    /// Whether another try on a fresh connection may succeed: network
    /// trouble and transient (4yz) replies may pass; a refused login, a
    /// missing file or a server speaking garbage will not.
    pub fn is_retryable(&self) -> bool {
        match self {
            FtpError::Connect { code, .. } => *code != 19,
            FtpError::Io { .. } | FtpError::Closed | FtpError::Timeout { .. } => true,
            FtpError::CommandFailed { code, .. } => (400..500).contains(code),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_aria2() {
        let t = String::new;
        assert_eq!(
            FtpError::LoginFailed {
                code: 530,
                text: t()
            }
            .aria2_exit_code(),
            21
        );
        assert_eq!(
            FtpError::NotFound {
                command: "RETR",
                code: 550,
                text: t()
            }
            .aria2_exit_code(),
            3
        );
        let failed = FtpError::CommandFailed {
            command: "RETR",
            code: 425,
            text: t(),
        };
        assert_eq!(failed.aria2_exit_code(), 21);
        assert_eq!(
            FtpError::ResumeUnsupported {
                code: 502,
                text: t()
            }
            .aria2_exit_code(),
            8
        );
        assert_eq!(FtpError::LineTooLong { limit: 1 }.aria2_exit_code(), 1);
    }
}
