//! `--help[=TAG|KEYWORD]` text, laid out like aria2c's: a tag (`#http`)
//! selects options carrying it, `#all` everything, any other word the options
//! whose name contains it.

use crate::error::USAGE_LINE;
use crate::table::{OptionDef, OPTIONS};
use crate::value::possible_values;

/// Tags `--help` understands, in aria2's order.
pub const HELP_TAGS: &[&str] = &[
    "#basic",
    "#advanced",
    "#http",
    "#https",
    "#ftp",
    "#metalink",
    "#bittorrent",
    "#cookie",
    "#hook",
    "#file",
    "#rpc",
    "#checksum",
    "#experimental",
    "#deprecated",
    "#help",
    "#all",
];

const DESCRIPTION_COLUMN: usize = 30;

/// The full `--help` output for `topic` (`#basic` when `--help` was bare).
pub fn help_text(topic: &str) -> String {
    let mut out = String::new();
    out.push_str(USAGE_LINE);
    out.push('\n');
    if let Some(tag) = topic.strip_prefix('#').map(|_| topic) {
        if tag == "#all" {
            out.push_str("Printing all options.\n");
        } else {
            out.push_str(&format!("Printing options tagged with '{tag}'.\n"));
            out.push_str("See 'aria2c -h#help' to know all available tags.\n");
        }
        out.push_str("Options:\n");
        for def in OPTIONS.iter().filter(|d| d.has_tag(tag)) {
            out.push_str(&option_usage(def));
            out.push('\n');
        }
    } else {
        let matches: Vec<&OptionDef> = OPTIONS.iter().filter(|d| d.name.contains(topic)).collect();
        if matches.is_empty() {
            out.push_str(&format!("No option matching with '{topic}'.\n"));
            if let Some(help) = crate::table::find_option("help") {
                out.push_str(&option_usage(help));
                out.push('\n');
            }
        } else {
            out.push_str(&format!(
                "Printing options whose name includes '{topic}'.\n"
            ));
            out.push_str("Options:\n");
            for def in matches {
                out.push_str(&option_usage(def));
                out.push('\n');
            }
        }
    }
    out.push_str("Refer to man page for more information.\n");
    out
}

/// One option's block: names and argument, description, possible values,
/// default and tags (aria2 also prints this under "Usage:" after a bad
/// value).
pub fn option_usage(def: &OptionDef) -> String {
    let pad = " ".repeat(DESCRIPTION_COLUMN);
    let mut out = option_description(def);
    out.push_str("\n\n");
    if let Some(values) = possible_values(def) {
        out.push_str(&format!("{pad}Possible Values: {values}\n"));
    }
    if !def.default.is_empty() {
        out.push_str(&format!("{pad}Default: {}\n", def.default));
    }
    if !def.tags.is_empty() {
        out.push_str(&format!("{pad}Tags: {}\n", def.tags.join(", ")));
    }
    if let Some(why) = crate::not_applicable(def.name) {
        out.push_str(&format!("{pad}No effect in arietta: {why}.\n"));
    }
    out
}

/// The option's names and argument, then its description, without a
/// newline at the end: what aria2 prints under "Usage:" after a bad value
/// in a conf file.
pub fn option_description(def: &OptionDef) -> String {
    let mut head = String::from(" ");
    if let Some(c) = def.short {
        head.push('-');
        head.push(c);
        head.push_str(", ");
    }
    head.push_str("--");
    head.push_str(def.name);
    head.push_str(def.arg);
    let mut out = head.clone();
    if head.len() < DESCRIPTION_COLUMN {
        out.push_str(&" ".repeat(DESCRIPTION_COLUMN - head.len()));
    } else if def.name == "torrent-file" {
        // aria2's own text for -T has two spaces here.
        out.push_str("  ");
    } else {
        out.push(' ');
    }
    out.push_str(def.help);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_help_lists_basic_options_only() {
        let h = help_text("#basic");
        assert!(h.starts_with(USAGE_LINE));
        assert!(h.contains("Printing options tagged with '#basic'."));
        assert!(h.contains(" -x, --max-connection-per-server=NUM"));
        assert!(!h.contains("--rpc-secret"));
        assert!(h.ends_with("Refer to man page for more information.\n"));
    }

    #[test]
    fn all_and_keyword() {
        let all = help_text("#all");
        for d in OPTIONS {
            assert!(all.contains(&format!("--{}", d.name)), "{}", d.name);
        }
        let k = help_text("proxy");
        assert!(k.contains("--all-proxy=PROXY"));
        assert!(!k.contains("--split"));
        let none = help_text("zzz");
        assert!(none.contains("No option matching with 'zzz'."));
        let unknown_tag = help_text("#nope");
        assert!(unknown_tag.contains("Printing options tagged with '#nope'."));
    }

    #[test]
    fn inapplicable_options_say_so() {
        let u = option_usage(crate::table::find_option("event-poll").unwrap());
        assert!(
            u.contains("\n                              No effect in arietta: every core"),
            "{u}"
        );
        let split = option_usage(crate::table::find_option("split").unwrap());
        assert!(!split.contains("No effect"));
    }

    #[test]
    fn usage_block_shape() {
        let u = option_usage(crate::table::find_option("split").unwrap());
        assert!(u.starts_with(" -s, --split=N                Download a file using N connections."));
        assert!(u.contains("\n                              Possible Values: 1-*\n"));
        assert!(u.contains("Default: 5\n"));
        assert!(u.contains("Tags: #basic, #http, #ftp\n"));
    }
}
