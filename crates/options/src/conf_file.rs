//! `aria2.conf`: one `name=value` per line, `#` comments, blank lines.
//!
//! Parsing is a pure function of the text; where the file lives is decided
//! by [`conf_path`] from an environment lookup and an existence check handed
//! in by the caller, so both are testable without touching the real process
//! environment.

use std::path::PathBuf;

use crate::error::OptionError;
use crate::option_set::OptionSet;
use crate::table::{find_option, OptionKind};
use crate::value::normalize;

/// A conf file's options, and the lines naming options that do not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfFile {
    /// Validated `(name, value)` pairs in file order.
    pub pairs: Vec<(String, String)>,
    /// Lines with an unknown option name, as written: aria2 warns
    /// "Unknown option: LINE" for each and goes on.
    pub unknown: Vec<String>,
}

/// Parses the text of a conf file into validated `(name, value)` pairs in file
/// order (values normalized as [`OptionSet::set`] stores them). Unknown names
/// are skipped, as aria2 does ([`parse_conf_file`] lists them); bad values
/// fail with the 1-based line number.
///
/// Details matching aria2: whitespace around name and value is trimmed; a line
/// without `=` is a name with an empty value (so `continue` alone means
/// `continue=true`); only the first `=` splits, so values may contain `=`.
/// Beyond aria2: a UTF-8 byte-order mark and CRLF line ends are accepted, and
/// indented `#` lines are comments.
pub fn parse_conf(text: &str) -> Result<Vec<(String, String)>, OptionError> {
    parse_conf_file(text).map(|c| c.pairs)
}

/// [`parse_conf`], also telling which lines named unknown options.
pub fn parse_conf_file(text: &str) -> Result<ConfFile, OptionError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = ConfFile::default();
    for (i, raw_line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (line, ""),
        };
        if find_option(name).is_none() {
            out.unknown.push(line.to_string());
            continue;
        }
        let value = validate_pair(name, value).map_err(|e| e.at_line(line_no))?;
        out.pairs.push((name.to_string(), value));
    }
    Ok(out)
}

/// Parses a conf file straight into an [`OptionSet`] layer (unknown names
/// skipped).
pub fn parse_conf_to_set(text: &str) -> Result<OptionSet, OptionError> {
    conf_to_set(parse_conf_file(text)?.pairs)
}

/// Puts parsed pairs into an [`OptionSet`] layer.
pub fn conf_to_set(pairs: Vec<(String, String)>) -> Result<OptionSet, OptionError> {
    let mut set = OptionSet::new();
    for (name, value) in pairs {
        set.set(&name, &value)?;
    }
    Ok(set)
}

/// Validates one `name=value` from a file (shared with the input-file parser).
pub(crate) fn validate_pair(name: &str, value: &str) -> Result<String, OptionError> {
    let def = find_option(name).ok_or_else(|| OptionError::Unrecognized {
        option: name.to_string(),
    })?;
    if matches!(def.kind, OptionKind::Flag | OptionKind::Help) {
        return Err(OptionError::InvalidValue {
            name: def.name,
            detail: format!("{} can only be given on the command line.", def.name),
        });
    }
    normalize(def, value)
}

/// Which conf file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfPath {
    /// `--no-conf`, or no default file exists: read nothing.
    None,
    /// `--conf-path` was given: read it, and fail if it is missing (aria2:
    /// "Configuration file X is not found.").
    Explicit(PathBuf),
    /// The default location, known to exist.
    Default(PathBuf),
}

/// The default conf file candidates in aria2's order of preference: the
/// legacy `~/.aria2/aria2.conf` when present, otherwise
/// `$XDG_CONFIG_HOME/aria2/aria2.conf` (`~/.config` when unset). `env` looks up
/// an environment variable.
pub fn default_conf_candidates(env: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let home = env("HOME").filter(|h| !h.is_empty());
    let mut out = Vec::new();
    if let Some(home) = &home {
        out.push(PathBuf::from(home).join(".aria2").join("aria2.conf"));
    }
    if let Some(xdg) = xdg_dir(&env, "XDG_CONFIG_HOME", ".config") {
        out.push(xdg.join("aria2").join("aria2.conf"));
    }
    out
}

/// `$VAR` when set to an absolute path (the XDG spec says relative values are
/// ignored), else `$HOME/fallback`.
pub(crate) fn xdg_dir(
    env: &impl Fn(&str) -> Option<String>,
    var: &str,
    fallback: &str,
) -> Option<PathBuf> {
    if let Some(dir) = env(var).filter(|d| d.starts_with('/')) {
        return Some(PathBuf::from(dir));
    }
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(fallback))
}

/// Decides which conf file to load from the parsed command line: nothing with
/// `--no-conf`, the given file with `--conf-path`, else the first existing
/// default candidate.
pub fn conf_path(
    cli: &OptionSet,
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&std::path::Path) -> bool,
) -> ConfPath {
    if cli.get_bool("no-conf") {
        return ConfPath::None;
    }
    if let Some(p) = cli
        .get_opt_str("conf-path")
        .filter(|_| cli.is_set("conf-path"))
    {
        return ConfPath::Explicit(PathBuf::from(p));
    }
    default_conf_candidates(env)
        .into_iter()
        .find(|p| exists(p))
        .map_or(ConfPath::None, ConfPath::Default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn basic_syntax() {
        let text = "# comment\n\nsplit=4\n  dir = /tmp/x \r\ncontinue\nheader=A: b=c\nheader=D: e\n   # indented comment\n";
        let pairs = parse_conf(text).unwrap();
        assert_eq!(
            pairs,
            vec![
                ("split".to_string(), "4".to_string()),
                ("dir".to_string(), "/tmp/x".to_string()),
                ("continue".to_string(), "true".to_string()),
                ("header".to_string(), "A: b=c".to_string()),
                ("header".to_string(), "D: e".to_string()),
            ]
        );
        let set = parse_conf_to_set(text).unwrap();
        assert_eq!(set.get_list("header"), ["A: b=c", "D: e"]);
        assert!(set.get_bool("continue"));
    }

    #[test]
    fn bom_and_empty_file() {
        assert_eq!(parse_conf("\u{feff}split=3").unwrap().len(), 1);
        assert!(parse_conf("").unwrap().is_empty());
        assert!(parse_conf("\n\r\n  \n").unwrap().is_empty());
    }

    #[test]
    fn unknown_names_are_listed_not_fatal() {
        let c = parse_conf_file("split=4\n\n  foo = 3\nbar\n").unwrap();
        assert_eq!(c.pairs, vec![("split".to_string(), "4".to_string())]);
        assert_eq!(c.unknown, vec!["foo = 3".to_string(), "bar".to_string()]);
        assert_eq!(parse_conf("foo=3").unwrap(), vec![]);
    }

    #[test]
    fn errors_carry_line_numbers() {
        let e = parse_conf("split=4\nmax-connection-per-server=99\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert_eq!(
            e.to_string(),
            "line 2: We encountered a problem while processing the option '--max-connection-per-server'.\n  -> max-connection-per-server must be between 1 and 64."
        );
        // A name without '=' is an empty value: fine for booleans, not numbers.
        assert_eq!(parse_conf("split").unwrap_err().line(), Some(1));
        // No name, or a prefix (no abbreviations in files): unknown.
        assert_eq!(parse_conf_file("=3").unwrap().unknown, vec!["=3"]);
        assert!(parse_conf("help=#all").is_err());
        assert_eq!(
            parse_conf_file("max-conn=3").unwrap().unknown,
            vec!["max-conn=3"]
        );
    }

    fn env_from<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn default_candidates() {
        let c = default_conf_candidates(env_from(&[("HOME", "/h")]));
        assert_eq!(
            c,
            vec![
                PathBuf::from("/h/.aria2/aria2.conf"),
                PathBuf::from("/h/.config/aria2/aria2.conf")
            ]
        );
        let c = default_conf_candidates(env_from(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]));
        assert_eq!(c[1], PathBuf::from("/x/aria2/aria2.conf"));
        let c = default_conf_candidates(env_from(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "rel")]));
        assert_eq!(c[1], PathBuf::from("/h/.config/aria2/aria2.conf"));
        assert!(default_conf_candidates(env_from(&[])).is_empty());
    }

    #[test]
    fn choosing_the_conf_path() {
        let env = [("HOME", "/h")];
        let only_xdg = |p: &Path| p == Path::new("/h/.config/aria2/aria2.conf");
        let cli = OptionSet::new();
        assert_eq!(
            conf_path(&cli, env_from(&env), only_xdg),
            ConfPath::Default(PathBuf::from("/h/.config/aria2/aria2.conf"))
        );
        assert_eq!(conf_path(&cli, env_from(&env), |_| false), ConfPath::None);
        assert_eq!(
            conf_path(&cli, env_from(&env), |_| true),
            ConfPath::Default(PathBuf::from("/h/.aria2/aria2.conf"))
        );

        let mut cli = OptionSet::new();
        cli.set("conf-path", "/etc/a.conf").unwrap();
        assert_eq!(
            conf_path(&cli, env_from(&env), |_| false),
            ConfPath::Explicit(PathBuf::from("/etc/a.conf"))
        );
        cli.set("no-conf", "true").unwrap();
        assert_eq!(conf_path(&cli, env_from(&env), |_| true), ConfPath::None);
    }
}
