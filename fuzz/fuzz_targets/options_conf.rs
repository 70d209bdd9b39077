//! Feeds arbitrary bytes (as lossy UTF-8) to the option parsers: the conf
//! file, the input file and the command line (split on whitespace). None may
//! panic, and every value they accept must read back through the typed
//! getters and re-validate to itself.
#![no_main]

use arietta_options::{
    parse_args, parse_conf, parse_conf_to_set, parse_input_file, OptionSet, Value, OPTIONS,
};
use libfuzzer_sys::fuzz_target;

fn exercise(set: &OptionSet) {
    for def in OPTIONS {
        let _ = set.get_str(def.name);
        let _ = set.get_opt_str(def.name);
        let _ = set.get_bool(def.name);
        let _ = set.get_i64(def.name);
        let _ = set.get_u64(def.name);
        let _ = set.get_size(def.name);
        let _ = set.get_opt_f64(def.name);
        let _ = set.get_list(def.name);
    }
    let mut again = OptionSet::new();
    for (name, value) in set.iter() {
        match value {
            Value::Single(v) => {
                again.set(name, v).expect("normalized value re-validates");
                assert_eq!(again.get_str(name), v.as_str(), "normalization is idempotent");
            }
            Value::List(items) => {
                for v in items {
                    again.set(name, v).expect("normalized list item re-validates");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if parse_conf(&text).is_ok() {
        let set = parse_conf_to_set(&text).expect("parse_conf accepted it");
        exercise(&set);
    }
    if let Ok(entries) = parse_input_file(&text) {
        for e in entries {
            let mut set = OptionSet::new();
            for (k, v) in &e.options {
                set.set_per_download(k, v).expect("input file options re-validate");
            }
            exercise(&set);
        }
    }
    if let Ok(parsed) = parse_args(text.split_whitespace()) {
        exercise(&parsed.options);
    }
});
