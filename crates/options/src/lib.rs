//! aria2c's options for arietta: the option table, validated layered option
//! sets, and parsers for the command line, `aria2.conf` and `-i` input files.
//!
//! One table ([`OPTIONS`]) serves every source, so a value accepted on the
//! command line is accepted, and normalized the same way, in a conf file, an
//! input file or an RPC `changeOption` call. Everything here is pure: no file
//! or environment access, so the parsers can be fuzzed and tested directly.
//!
//! Typical start-up:
//! 1. [`parse_args`] the command line;
//! 2. [`conf_path`] decides which conf file to read; [`parse_conf_to_set`]
//!    parses it;
//! 3. layer: [`environment_defaults`] < conf < command line
//!    ([`OptionSet::overlay`]), then per-download sets with
//!    [`OptionSet::with_parent`].

#![deny(unsafe_op_in_unsafe_fn)]

mod cli;
mod conf_file;
mod environment;
mod error;
pub mod exception_text;
mod help;
mod input_file;
mod local_file;
mod not_applicable;
mod option_set;
mod table;
mod value;

pub use cli::{parse_args, ParsedArgs};
pub use conf_file::{
    conf_path, conf_to_set, default_conf_candidates, parse_conf, parse_conf_file,
    parse_conf_to_set, ConfFile, ConfPath,
};
pub use environment::environment_defaults;
pub use error::{OptionError, OPTION_ERROR_EXIT_CODE, USAGE_LINE};
pub use help::{help_text, option_usage, HELP_TAGS};
pub use input_file::{parse_input_file, InputEntry, InputReader};
pub use local_file::{check_local_files, LocalFile};
pub use not_applicable::{inapplicable_given, not_applicable, NOT_APPLICABLE};
pub use option_set::OptionSet;
pub use table::{
    definition_rank, find_option, find_short, OptionDef, OptionKind, CHANGE_DOWNLOAD,
    CHANGE_GLOBAL, CHANGE_LIVE, INT_UNLIMITED, OPTIONS, PER_DOWNLOAD, SIZE_UNLIMITED,
};
pub use value::{
    parse_checksum, parse_host_port, parse_index_out, parse_int_ranges, parse_optimize_concurrent,
    parse_prioritize_piece, parse_size, PiecePriority, RangeError, Value,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic stand-in for the fuzz target: glue together tokens that
    /// sit on parser boundaries and check nothing panics and every accepted
    /// value reads back and re-validates to itself.
    #[test]
    fn parsers_survive_generated_garbage() {
        const TOKENS: &[&str] = &[
            "-",
            "--",
            "=",
            "\t",
            "\n",
            "\r\n",
            " ",
            "#",
            "-x",
            "-c",
            "-cZ",
            "-h",
            "-v",
            "--split",
            "--max",
            "--header",
            "-O",
            "1=",
            "16",
            "0",
            "-1",
            "1M",
            "1G",
            "9999999999999999999K",
            "true",
            "false",
            "dir",
            "split",
            "header",
            "gid",
            "checksum",
            "sha-1=",
            "aaaa",
            "listen-port",
            "6881-",
            ",",
            ":",
            "[::1]",
            "http://",
            "@",
            "é",
            "\u{feff}",
            "\0",
            "index-out",
            "bt-prioritize-piece",
            "head=",
            "all-proxy",
            "seed-ratio",
            "1e5",
            "nan",
            "optimize-concurrent-downloads",
            "5:",
            "select-file",
            "max-concurrent-downloads",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 12) as usize;
            let mut text = String::new();
            for _ in 0..len {
                text.push_str(TOKENS[(next() % TOKENS.len() as u64) as usize]);
            }
            if let Ok(pairs) = parse_conf(&text) {
                let set =
                    OptionSet::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        .expect("conf pairs re-validate");
                check_round_trip(&set);
            }
            if let Ok(entries) = parse_input_file(&text) {
                for e in entries {
                    let mut set = OptionSet::new();
                    for (k, v) in &e.options {
                        set.set_per_download(k, v)
                            .expect("input options re-validate");
                    }
                    check_round_trip(&set);
                }
            }
            if let Ok(p) = parse_args(text.split_whitespace()) {
                check_round_trip(&p.options);
            }
            let _ = help_text(&text);
        }
    }

    fn check_round_trip(set: &OptionSet) {
        for def in OPTIONS {
            let _ = (
                set.get_bool(def.name),
                set.get_i64(def.name),
                set.get_size(def.name),
            );
            let _ = (set.get_opt_f64(def.name), set.get_list(def.name));
        }
        let mut again = OptionSet::new();
        for (name, value) in set.iter() {
            if let Value::Single(v) = value {
                again.set(name, v).unwrap();
                assert_eq!(again.get_str(name), v);
            }
        }
    }

    #[test]
    fn start_up_layering_end_to_end() {
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        let base = environment_defaults(env, std::path::Path::new("/cwd"), |_| false);
        let parsed = parse_args(["-x4", "--dir=/cli", "http://h/f"]).unwrap();
        assert_eq!(conf_path(&parsed.options, env, |_| false), ConfPath::None);
        let mut global = base;
        global.overlay(&parse_conf_to_set("split=3\ndir=/conf\n").unwrap());
        global.overlay(&parsed.options);
        let global = std::sync::Arc::new(global);
        let entry = &parse_input_file("http://h/f\n  out=x.bin\n").unwrap()[0];
        let mut dl = OptionSet::with_parent(global);
        for (k, v) in &entry.options {
            dl.set_per_download(k, v).unwrap();
        }
        assert_eq!(dl.get_str("dir"), "/cli");
        assert_eq!(dl.get_i64("split"), 3);
        assert_eq!(dl.get_i64("max-connection-per-server"), 4);
        assert_eq!(dl.get_str("out"), "x.bin");
        assert_eq!(dl.get_str("netrc-path"), "/home/u/.netrc");
        assert_eq!(dl.get_i64("max-tries"), 5);
    }
}
