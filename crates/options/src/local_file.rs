//! Options whose value must name an existing regular file when given.
//!
//! aria2's `LocalFilePathOptionHandler` checks these while it parses, so a
//! mistyped `-T` fails as an option error (exit 28, the option's usage
//! printed) before anything starts, not as a failed download (exit 1).
//! The check needs the file system; the caller passes it in as `stat` so
//! this crate stays free of I/O.

use std::path::Path;

use crate::{OptionError, OptionSet};

/// The options aria2c 1.36 (on Linux, OpenSSL/GnuTLS builds) creates with
/// `mustExist`, and whether `-` (standard input) is accepted instead.
const MUST_EXIST: &[(&str, bool)] = &[
    ("torrent-file", false),
    ("metalink-file", true),
    ("certificate", false),
    ("rpc-certificate", false),
    ("rpc-private-key", false),
];

/// What a file-system lookup found: a directory, something else, or the
/// failure's text (e.g. "No such file or directory").
pub enum LocalFile {
    Dir,
    File,
    Missing(String),
}

/// Fails, with aria2's wording, on the first must-exist option of `set`
/// whose value `stat` finds missing or a directory.
pub fn check_local_files(
    set: &OptionSet,
    stat: impl Fn(&Path) -> LocalFile,
) -> Result<(), OptionError> {
    for &(name, stdin_ok) in MUST_EXIST {
        let Some(value) = set.get_opt_str(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        if stdin_ok && value == "-" {
            continue;
        }
        let detail = match stat(Path::new(value)) {
            LocalFile::File => continue,
            LocalFile::Dir => format!("{value} is not a file."),
            LocalFile::Missing(why) => format!("Could not get file status: {why}"),
        };
        return Err(OptionError::InvalidValue { name, detail });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> OptionSet {
        let mut o = OptionSet::new();
        for (k, v) in pairs {
            o.set(k, v).unwrap();
        }
        o
    }

    #[test]
    fn missing_or_directory_is_an_option_error() {
        let missing = |_: &Path| LocalFile::Missing("No such file or directory".into());
        let e = check_local_files(&set(&[("torrent-file", "x.torrent")]), missing).unwrap_err();
        assert_eq!(
            e.to_string(),
            "We encountered a problem while processing the option '--torrent-file'.\n  -> Could not get file status: No such file or directory"
        );
        let e = check_local_files(&set(&[("certificate", "d")]), |_| LocalFile::Dir).unwrap_err();
        assert!(e.to_string().ends_with("-> d is not a file."), "{e}");
    }

    #[test]
    fn present_files_unset_options_and_stdin_pass() {
        let missing = |_: &Path| LocalFile::Missing("gone".into());
        assert!(check_local_files(&set(&[("metalink-file", "-")]), missing).is_ok());
        assert!(check_local_files(&set(&[("dir", "nowhere")]), missing).is_ok());
        let file = |_: &Path| LocalFile::File;
        assert!(check_local_files(&set(&[("torrent-file", "a.torrent")]), file).is_ok());
    }
}
