//! Command-line parsing with aria2c's getopt conventions on top of lexopt.
//!
//! What aria2 users rely on, and what this keeps:
//! - `--name=value` and `--name value` for options that need a value; the
//!   next word is taken even when it starts with `-`.
//! - optional-argument options (booleans, `--help`) take a value only when it
//!   is attached: `--check-integrity=false`, `-h#http`. In
//!   `--continue false`, `false` is a URI, as in aria2.
//! - short forms `-x16`, `-x 16`, and clusters of flags (`-cZ`), where aria2's
//!   getopt would fail, mean each flag in turn unless the rest of the cluster
//!   is `true`/`false` (`-cfalse` is `--continue=false`, as in aria2).
//! - unambiguous prefixes of long names (`--max-conn=4`), like getopt_long.
//! - `--` ends options; `-` alone is a positional argument (stdin).

use std::ffi::OsString;

use lexopt::{Arg, Parser};

use crate::error::OptionError;
use crate::option_set::OptionSet;
use crate::table::{find_option, find_short, OptionDef, OptionKind, OPTIONS};

/// The result of parsing aria2c's command line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedArgs {
    /// Only the options that were given (no defaults), validated.
    pub options: OptionSet,
    /// Positional arguments in order: URIs, magnet links, torrent and
    /// metalink paths.
    pub uris: Vec<String>,
    /// `--help` was given; the tag or keyword (`#basic` when bare).
    pub help: Option<String>,
    /// `-v`/`--version` was given.
    pub version: bool,
}

/// Parses aria2c's arguments (without the program name).
pub fn parse_args(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<ParsedArgs, OptionError> {
    let mut parser = Parser::from_args(args);
    // getopt hands `-x=3` to -x as "=3" (an error); keep that rather than
    // lexopt's friendlier stripping so behaviour matches aria2.
    parser.set_short_equals(false);
    let mut out = ParsedArgs::default();
    loop {
        let arg = parser.next().map_err(map_lexopt)?;
        match arg {
            None => break,
            Some(Arg::Value(v)) => out.uris.push(to_string(v)?),
            Some(Arg::Long(name)) => {
                let name = name.to_string();
                let def = match resolve_long(&name) {
                    Ok(def) => def,
                    // getopt names the whole argument, `--spilt=3`.
                    Err(OptionError::Unrecognized { mut option }) => {
                        if let Some(v) = parser.optional_value() {
                            option.push('=');
                            option.push_str(&v.to_string_lossy());
                        }
                        return Err(OptionError::Unrecognized { option });
                    }
                    Err(e) => return Err(e),
                };
                let value = if def.kind.requires_argument() {
                    Some(parser.value().map_err(|_| OptionError::MissingArgument {
                        option: format!("--{name}"),
                    })?)
                } else {
                    parser.optional_value()
                };
                let value = value.map(to_string).transpose()?;
                apply(&mut out, def, &format!("--{name}"), value)?;
            }
            Some(Arg::Short(c)) => {
                let rest = parser.optional_value().map(to_string).transpose()?;
                parse_short_cluster(&mut parser, &mut out, c, rest)?;
            }
        }
    }
    Ok(out)
}

/// Handles `-c`, `-x16`, `-x 16`, `-cZ`: `rest` is whatever followed the first
/// letter in the same word.
fn parse_short_cluster(
    parser: &mut Parser,
    out: &mut ParsedArgs,
    first: char,
    rest: Option<String>,
) -> Result<(), OptionError> {
    let mut c = first;
    let mut rest = rest.unwrap_or_default();
    loop {
        let Some(def) = find_short(c) else {
            return Err(OptionError::Unrecognized {
                option: format!("-{c}"),
            });
        };
        let shown = format!("-{c}");
        if def.kind.requires_argument() {
            let value = if rest.is_empty() {
                to_string(parser.value().map_err(|_| OptionError::MissingArgument {
                    option: shown.clone(),
                })?)?
            } else {
                std::mem::take(&mut rest)
            };
            return apply(out, def, &shown, Some(value));
        }
        match def.kind {
            OptionKind::Help => {
                let value = (!rest.is_empty()).then_some(rest);
                return apply(out, def, &shown, value);
            }
            OptionKind::Bool if rest == "true" || rest == "false" => {
                return apply(out, def, &shown, Some(rest));
            }
            _ => {}
        }
        apply(out, def, &shown, None)?;
        let mut chars = rest.chars();
        match chars.next() {
            None => return Ok(()),
            Some(next) => {
                c = next;
                rest = chars.as_str().to_string();
            }
        }
    }
}

/// Exact long name, else the unique option starting with `name`.
fn resolve_long(name: &str) -> Result<&'static OptionDef, OptionError> {
    if let Some(def) = find_option(name) {
        return Ok(def);
    }
    let candidates: Vec<&'static OptionDef> = if name.is_empty() {
        Vec::new()
    } else {
        OPTIONS
            .iter()
            .filter(|d| d.name.starts_with(name))
            .collect()
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(OptionError::Unrecognized {
            option: format!("--{name}"),
        }),
        many => Err(OptionError::Ambiguous {
            option: format!("--{name}"),
            candidates: many.iter().map(|d| d.name).collect(),
        }),
    }
}

fn apply(
    out: &mut ParsedArgs,
    def: &'static OptionDef,
    shown: &str,
    value: Option<String>,
) -> Result<(), OptionError> {
    match def.kind {
        OptionKind::Flag => {
            if value.is_some() {
                return Err(OptionError::UnexpectedArgument {
                    option: shown.to_string(),
                });
            }
            out.version = true;
            Ok(())
        }
        OptionKind::Help => {
            out.help = Some(value.unwrap_or_else(|| def.default.to_string()));
            Ok(())
        }
        _ => out.options.set(def.name, value.as_deref().unwrap_or("")),
    }
}

fn to_string(v: OsString) -> Result<String, OptionError> {
    v.into_string().map_err(|v| OptionError::NotUnicode {
        lossy: v.to_string_lossy().into_owned(),
    })
}

fn map_lexopt(e: lexopt::Error) -> OptionError {
    match e {
        lexopt::Error::MissingValue { option } => OptionError::MissingArgument {
            option: option.unwrap_or_default(),
        },
        lexopt::Error::UnexpectedValue { option, .. } => OptionError::UnexpectedArgument { option },
        lexopt::Error::NonUnicodeValue(v) => OptionError::NotUnicode {
            lossy: v.to_string_lossy().into_owned(),
        },
        other => OptionError::Syntax {
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ParsedArgs, OptionError> {
        parse_args(args.iter().copied())
    }

    #[test]
    fn long_forms() {
        let p = parse(&[
            "--split=5",
            "--dir",
            "/tmp/d",
            "--max-connection-per-server",
            "16",
            "http://a/x",
        ])
        .unwrap();
        assert_eq!(p.options.get_i64("split"), 5);
        assert_eq!(p.options.get_str("dir"), "/tmp/d");
        assert_eq!(p.options.get_i64("max-connection-per-server"), 16);
        assert_eq!(p.uris, ["http://a/x"]);
        assert!(p.help.is_none());
        assert!(!p.version);
    }

    #[test]
    fn short_forms() {
        let p = parse(&["-x16", "-s", "5", "-d", "/dl", "-k1M", "u1", "u2"]).unwrap();
        assert_eq!(p.options.get_str("max-connection-per-server"), "16");
        assert_eq!(p.options.get_i64("split"), 5);
        assert_eq!(p.options.get_str("dir"), "/dl");
        assert_eq!(p.options.get_size("min-split-size"), 1 << 20);
        assert_eq!(p.uris, ["u1", "u2"]);
    }

    #[test]
    fn bare_boolean_flags() {
        let p = parse(&["-c", "-q", "-Z", "-V", "-D", "-n", "-S", "-R", "-P", "-p"]).unwrap();
        for name in [
            "continue",
            "quiet",
            "force-sequential",
            "check-integrity",
            "daemon",
            "no-netrc",
            "show-files",
            "remote-time",
            "parameterized-uri",
            "ftp-pasv",
        ] {
            assert!(p.options.get_bool(name), "{name}");
            assert_eq!(p.options.get_str(name), "true");
        }
        assert!(p.uris.is_empty());
    }

    #[test]
    fn optional_bool_takes_only_attached_value() {
        let p = parse(&[
            "--check-integrity",
            "--check-certificate=false",
            "--continue",
            "false",
        ])
        .unwrap();
        assert!(p.options.get_bool("check-integrity"));
        assert!(!p.options.get_bool("check-certificate"));
        assert!(p.options.get_bool("continue"));
        assert_eq!(p.uris, ["false"]);
        let p = parse(&["-cfalse", "-Vtrue"]).unwrap();
        assert!(!p.options.get_bool("continue"));
        assert!(p.options.get_bool("check-integrity"));
    }

    #[test]
    fn short_clusters() {
        let p = parse(&["-cZq", "uri"]).unwrap();
        assert!(p.options.get_bool("continue"));
        assert!(p.options.get_bool("force-sequential"));
        assert!(p.options.get_bool("quiet"));
        // A value-taking option ends the cluster and takes the rest...
        let p = parse(&["-cx4"]).unwrap();
        assert_eq!(p.options.get_i64("max-connection-per-server"), 4);
        // ...or the next word.
        let p = parse(&["-cd", "/x"]).unwrap();
        assert!(p.options.get_bool("continue"));
        assert_eq!(p.options.get_str("dir"), "/x");
        assert!(matches!(
            parse(&["-cY"]),
            Err(OptionError::Unrecognized { option }) if option == "-Y"
        ));
        assert!(matches!(
            parse(&["-c="]),
            Err(OptionError::Unrecognized { .. })
        ));
    }

    #[test]
    fn short_equals_is_part_of_value_like_getopt() {
        let err = parse(&["-x=3"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "We encountered a problem while processing the option '--max-connection-per-server'.\n  -> Bad number =3"
        );
    }

    #[test]
    fn values_that_look_like_options() {
        let p = parse(&["--header", "-X: y", "-o", "-"]).unwrap();
        assert_eq!(p.options.get_list("header"), ["-X: y"]);
        assert_eq!(p.options.get_str("out"), "-");
    }

    #[test]
    fn cumulative_and_repeats() {
        let p = parse(&[
            "--header=A: 1",
            "--header",
            "B: 2",
            "-s2",
            "-s3",
            "-O",
            "1=a",
            "--index-out=2=b",
        ])
        .unwrap();
        assert_eq!(p.options.get_list("header"), ["A: 1", "B: 2"]);
        assert_eq!(p.options.get_i64("split"), 3);
        assert_eq!(p.options.get_list("index-out"), ["1=a", "2=b"]);
    }

    #[test]
    fn help_and_version() {
        let p = parse(&["--help"]).unwrap();
        assert_eq!(p.help.as_deref(), Some("#basic"));
        let p = parse(&["--help=#http"]).unwrap();
        assert_eq!(p.help.as_deref(), Some("#http"));
        let p = parse(&["-h#all"]).unwrap();
        assert_eq!(p.help.as_deref(), Some("#all"));
        let p = parse(&["-h", "split"]).unwrap();
        assert_eq!(p.help.as_deref(), Some("#basic"));
        assert_eq!(p.uris, ["split"]);
        assert!(parse(&["-v"]).unwrap().version);
        assert!(parse(&["--version"]).unwrap().version);
        assert!(matches!(
            parse(&["--version=1"]),
            Err(OptionError::UnexpectedArgument { .. })
        ));
    }

    #[test]
    fn prefixes_and_ambiguity() {
        let p = parse(&["--max-conn=3", "--check-cert=false"]).unwrap();
        assert_eq!(p.options.get_i64("max-connection-per-server"), 3);
        assert!(!p.options.get_bool("check-certificate"));
        match parse(&["--max=3"]).unwrap_err() {
            OptionError::Ambiguous { option, candidates } => {
                assert_eq!(option, "--max");
                assert!(candidates.contains(&"max-tries"));
                assert!(candidates.contains(&"max-connection-per-server"));
            }
            other => panic!("{other:?}"),
        }
        // An exact name wins over being a prefix of longer names.
        let p = parse(&["--dir=/a", "--seed-time=1", "--log=-"]).unwrap();
        assert_eq!(p.options.get_str("dir"), "/a");
        assert_eq!(p.options.get_str("log"), "-");
    }

    #[test]
    fn errors_and_exit_code() {
        let e = parse(&["--foo"]).unwrap_err();
        assert_eq!(e.to_string(), "unrecognized option '--foo'");
        assert_eq!(e.exit_code(), 28);
        let e = parse(&["--max-connection-per-server=99", "x"]).unwrap_err();
        assert!(e.to_string().starts_with(
            "We encountered a problem while processing the option '--max-connection-per-server'."
        ));
        assert!(e.to_string().ends_with("must be between 1 and 64."));
        assert!(matches!(
            parse(&["-x"]),
            Err(OptionError::MissingArgument { option }) if option == "-x"
        ));
        assert!(matches!(
            parse(&["--header"]),
            Err(OptionError::MissingArgument { option }) if option == "--header"
        ));
        assert!(matches!(
            parse(&["-Y"]),
            Err(OptionError::Unrecognized { .. })
        ));
        assert!(matches!(
            parse(&["--="]),
            Err(OptionError::Unrecognized { .. })
        ));
    }

    #[test]
    fn double_dash_and_stdin() {
        let p = parse(&["-c", "--", "--not-an-option", "-"]).unwrap();
        assert_eq!(p.uris, ["--not-an-option", "-"]);
        let p = parse(&["-i", "-"]).unwrap();
        assert_eq!(p.options.get_str("input-file"), "-");
    }

    #[test]
    fn optional_argument_non_bool() {
        let p = parse(&[
            "--optimize-concurrent-downloads",
            "--enable-metrics",
            "--cores=4",
        ])
        .unwrap();
        assert_eq!(p.options.get_str("optimize-concurrent-downloads"), "true");
        assert!(p.options.get_bool("enable-metrics"));
        assert_eq!(p.options.get_u64("cores"), 4);
        let p = parse(&["--optimize-concurrent-downloads=5:25"]).unwrap();
        assert_eq!(p.options.get_str("optimize-concurrent-downloads"), "5:25");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_is_an_error_not_a_panic() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'a', 0xff]);
        assert!(matches!(
            parse_args([bad.clone()]),
            Err(OptionError::NotUnicode { .. })
        ));
        assert!(parse_args([OsString::from("-d"), bad.clone()]).is_err());
        let mut long = b"--".to_vec();
        long.push(0xff);
        assert!(parse_args([OsString::from_vec(long)]).is_err());
        let mut short = b"-".to_vec();
        short.push(0xff);
        assert!(parse_args([OsString::from_vec(short)]).is_err());
    }
}
