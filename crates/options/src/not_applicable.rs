//! aria2 options that cannot act in arietta's design, with why: the run
//! warns once at start when one is given a value other than its default,
//! and `--help` says so under the option.
//!
//! Every other option of [`crate::OPTIONS`] must be read by some crate;
//! the guard test below fails when one is neither read nor listed here, so
//! an option cannot again be accepted and silently ignored.

/// Options accepted for aria2 compatibility that have no effect, by name,
/// with the reason shown to the user.
pub static NOT_APPLICABLE: &[(&str, &str)] = &[
    (
        "event-poll",
        "every core waits on its own io_uring (glommio); there is no other event loop to choose",
    ),
    (
        "enable-mmap",
        "pieces are written and read with io_uring at their offsets; there is no mmap path",
    ),
    (
        "max-mmap-limit",
        "pieces are written and read with io_uring at their offsets; there is no mmap path",
    ),
    (
        "disk-cache",
        "received data is written at once with io_uring; a write cache measured no faster \
         (see perf/RESULTS.md)",
    ),
    (
        "enable-async-dns6",
        "aria2 deprecated it and ignores it too: IPv6 addresses are looked up unless \
         --disable-ipv6",
    ),
];

/// Why `name` has no effect in arietta, if it has none.
pub fn not_applicable(name: &str) -> Option<&'static str> {
    NOT_APPLICABLE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// The inapplicable options `set` gives a non-default value, with why,
/// for the start-up warning.
pub fn inapplicable_given(set: &crate::OptionSet) -> Vec<(&'static str, &'static str)> {
    NOT_APPLICABLE
        .iter()
        .filter(|(name, _)| {
            set.is_set(name)
                && crate::find_option(name).is_some_and(|d| {
                    crate::value::normalize(d, d.default).ok().as_deref() != Some(set.get_str(name))
                })
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OPTIONS;
    use std::path::{Path, PathBuf};

    /// Options read under a name built at run time, with the pattern the
    /// reading code uses (checked to be there).
    const COMPOSED: &[(&str, &str)] = &[
        ("http-proxy-user", "\"{scheme}-proxy-user\""),
        ("https-proxy-user", "\"{scheme}-proxy-user\""),
        ("ftp-proxy-user", "\"{scheme}-proxy-user\""),
        ("http-proxy-passwd", "\"{scheme}-proxy-passwd\""),
        ("https-proxy-passwd", "\"{scheme}-proxy-passwd\""),
        ("ftp-proxy-passwd", "\"{scheme}-proxy-passwd\""),
        ("http-proxy", "\"{scheme}-proxy\""),
        ("https-proxy", "\"{scheme}-proxy\""),
    ];

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The non-test source of every crate but the option table itself.
    fn workspace_source() -> String {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for c in std::fs::read_dir(&crates).unwrap().flatten() {
            rust_files(&c.path().join("src"), &mut files);
        }
        let mut text = String::new();
        for f in files {
            let p = f.to_string_lossy().replace('\\', "/");
            if p.contains("/options/src/table/")
                || p.ends_with("/tests.rs")
                || p.contains("/tests/")
                || p.ends_with("/not_applicable.rs")
            {
                continue;
            }
            let src = std::fs::read_to_string(&f).unwrap();
            // An inline test module (at the end of a file) does not count
            // as reading; `mod tests;` lines cut nothing (their files are
            // skipped above).
            let code = src.split("#[cfg(test)]\nmod tests {").next().unwrap_or("");
            text.push_str(code);
        }
        text
    }

    #[test]
    fn every_option_is_read_or_declared_inapplicable() {
        let src = workspace_source();
        assert!(
            src.len() > 100_000,
            "found too little source: {}",
            src.len()
        );
        let mut inert = Vec::new();
        for d in OPTIONS {
            let read = src.contains(&format!("\"{}\"", d.name))
                || COMPOSED
                    .iter()
                    .any(|(n, pat)| *n == d.name && src.contains(pat));
            if !read && not_applicable(d.name).is_none() {
                inert.push(d.name);
            }
        }
        assert!(
            inert.is_empty(),
            "options accepted but read nowhere (read them, or list them in NOT_APPLICABLE \
             with a reason): {inert:?}"
        );
    }

    #[test]
    fn the_list_names_real_options() {
        for (name, why) in NOT_APPLICABLE {
            assert!(crate::find_option(name).is_some(), "{name}");
            assert!(!why.is_empty());
        }
        for (name, _) in COMPOSED {
            assert!(crate::find_option(name).is_some(), "{name}");
        }
    }

    #[test]
    fn given_values_other_than_the_default_are_reported() {
        let set = crate::OptionSet::from_pairs([
            ("event-poll", "epoll"),
            ("enable-mmap", "true"),
            ("disk-cache", "32M"),
        ])
        .unwrap();
        let given: Vec<&str> = inapplicable_given(&set).iter().map(|g| g.0).collect();
        assert_eq!(given, ["enable-mmap", "disk-cache"]);
    }
}
