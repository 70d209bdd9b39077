//! [`OptionSet`]: validated option values in layers.
//!
//! aria2 resolves an option by looking in the download's own options, then the
//! command line, then `aria2.conf`, then the built-in default. Each layer here
//! holds only what was given at that level and points at its parent, so a
//! per-download set is cheap (a handful of entries plus an `Arc`) and a
//! `changeGlobalOption` on the parent is seen by every download that did not
//! override it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::OptionError;
use crate::table::{option_index, OptionDef, OptionKind, OPTIONS};
use crate::value::{normalize, parse_float, parse_int, parse_size, Value};

/// One layer of validated options, with an optional parent layer.
#[derive(Debug, Clone, Default)]
pub struct OptionSet {
    /// Keyed by position in [`OPTIONS`], so iteration follows table order.
    values: BTreeMap<usize, Value>,
    parent: Option<Arc<OptionSet>>,
}

impl PartialEq for OptionSet {
    /// Two sets are equal when their own layers hold the same values; parents
    /// are compared by content too.
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values && self.parent.as_deref() == other.parent.as_deref()
    }
}

fn lookup_def(name: &str) -> Result<(usize, &'static OptionDef), OptionError> {
    option_index(name)
        .and_then(|i| OPTIONS.get(i).map(|d| (i, d)))
        .ok_or_else(|| OptionError::Unrecognized {
            option: name.to_string(),
        })
}

impl OptionSet {
    /// An empty layer with no parent: every getter returns the default.
    pub fn new() -> OptionSet {
        OptionSet::default()
    }

    /// An empty layer on top of `parent` (e.g. a download's options over the
    /// global ones).
    pub fn with_parent(parent: Arc<OptionSet>) -> OptionSet {
        OptionSet {
            values: BTreeMap::new(),
            parent: Some(parent),
        }
    }

    /// Builds a layer from already parsed `(name, value)` pairs, such as the
    /// output of [`crate::parse_conf`].
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<OptionSet, OptionError> {
        let mut set = OptionSet::new();
        for (k, v) in pairs {
            set.set(k, v)?;
        }
        Ok(set)
    }

    /// The layer below this one.
    pub fn parent(&self) -> Option<&Arc<OptionSet>> {
        self.parent.as_ref()
    }

    /// Replaces the layer below this one.
    pub fn set_parent(&mut self, parent: Option<Arc<OptionSet>>) {
        self.parent = parent;
    }

    /// Validates and stores `value` for `name` in this layer. Cumulative
    /// options (`header`, `index-out`) append; everything else replaces.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), OptionError> {
        let (idx, def) = lookup_def(name)?;
        if matches!(def.kind, OptionKind::Flag | OptionKind::Help) {
            return Err(OptionError::InvalidValue {
                name: def.name,
                detail: format!("{} can only be given on the command line.", def.name),
            });
        }
        let normalized = normalize(def, value)?;
        if def.kind.is_cumulative() {
            match self.values.get_mut(&idx) {
                Some(Value::List(list)) => list.push(normalized),
                _ => {
                    self.values.insert(idx, Value::List(vec![normalized]));
                }
            }
        } else {
            self.values.insert(idx, Value::Single(normalized));
        }
        Ok(())
    }

    /// Like [`OptionSet::set`] but refuses options that only apply to the
    /// whole session (input-file option lines, per-download RPC options).
    pub fn set_per_download(&mut self, name: &str, value: &str) -> Result<(), OptionError> {
        let (_, def) = lookup_def(name)?;
        if !def.per_download() {
            return Err(OptionError::NotPerDownload { name: def.name });
        }
        self.set(name, value)
    }

    /// RPC `changeOption`: only options aria2 lets a running download change.
    /// A cumulative option given here replaces the previous list.
    pub fn change_for_download(&mut self, name: &str, value: &str) -> Result<(), OptionError> {
        let (_, def) = lookup_def(name)?;
        if !def.changeable_per_download() {
            return Err(OptionError::NotChangeable { name: def.name });
        }
        self.replace(def, name, value)
    }

    /// RPC `changeGlobalOption`: only options aria2 lets the session change.
    /// A cumulative option given here replaces the previous list.
    pub fn change_global(&mut self, name: &str, value: &str) -> Result<(), OptionError> {
        let (_, def) = lookup_def(name)?;
        if !def.changeable_globally() {
            return Err(OptionError::NotChangeable { name: def.name });
        }
        self.replace(def, name, value)
    }

    fn replace(
        &mut self,
        def: &'static OptionDef,
        name: &str,
        value: &str,
    ) -> Result<(), OptionError> {
        if def.kind.is_cumulative() {
            // Validate before dropping the old list so a bad value changes nothing.
            normalize(def, value)?;
            self.unset(name);
        }
        self.set(name, value)
    }

    /// Removes `name` from this layer so the parent's value (or the default)
    /// shows through again.
    pub fn unset(&mut self, name: &str) {
        if let Some(idx) = option_index(name) {
            self.values.remove(&idx);
        }
    }

    /// Copies every value of `other`'s own layer over this layer (the command
    /// line over the conf file). Lists from `other` replace lists here.
    pub fn overlay(&mut self, other: &OptionSet) {
        for (k, v) in &other.values {
            self.values.insert(*k, v.clone());
        }
    }

    /// The value given in this layer or any parent, ignoring defaults.
    pub fn lookup(&self, name: &str) -> Option<&Value> {
        let idx = option_index(name)?;
        self.lookup_index(idx)
    }

    fn lookup_index(&self, idx: usize) -> Option<&Value> {
        let mut layer = self;
        loop {
            if let Some(v) = layer.values.get(&idx) {
                return Some(v);
            }
            layer = layer.parent.as_deref()?;
        }
    }

    /// Whether `name` was given in this layer or a parent (aria2's
    /// `Option::defined`).
    pub fn is_set(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }

    /// Whether `name` was given in this very layer.
    pub fn is_set_here(&self, name: &str) -> bool {
        option_index(name).is_some_and(|i| self.values.contains_key(&i))
    }

    /// The effective string value; the default when nobody set it. Unknown
    /// names are a programming error: they trip a debug assertion and read as
    /// empty in release builds.
    pub fn get_str(&self, name: &str) -> &str {
        let Some(idx) = option_index(name) else {
            debug_assert!(false, "unknown option name {name:?}");
            return "";
        };
        match self.lookup_index(idx) {
            Some(Value::Single(s)) => s,
            Some(Value::List(_)) => "",
            None => OPTIONS.get(idx).map_or("", |d| d.default),
        }
    }

    /// The effective string value, or `None` when it is empty (aria2 uses an
    /// empty value to mean "not set", e.g. `--all-proxy=""`).
    pub fn get_opt_str(&self, name: &str) -> Option<&str> {
        Some(self.get_str(name)).filter(|s| !s.is_empty())
    }

    /// A boolean option (`true` only when the value is `true`).
    pub fn get_bool(&self, name: &str) -> bool {
        self.get_str(name) == "true"
    }

    /// An integer option; 0 for an unset option without a default.
    pub fn get_i64(&self, name: &str) -> i64 {
        parse_int(self.get_str(name)).unwrap_or(0)
    }

    /// An integer option known to be non-negative (clamped at 0).
    pub fn get_u64(&self, name: &str) -> u64 {
        u64::try_from(self.get_i64(name)).unwrap_or(0)
    }

    /// A size option in bytes (`1M` → 1048576).
    pub fn get_size(&self, name: &str) -> u64 {
        parse_size(self.get_str(name)).unwrap_or(0)
    }

    /// A floating point option; 0.0 when unset without a default.
    pub fn get_f64(&self, name: &str) -> f64 {
        self.get_opt_f64(name).unwrap_or(0.0)
    }

    /// A floating point option, `None` when unset without a default (e.g.
    /// `--seed-time`, where "unset" differs from 0).
    pub fn get_opt_f64(&self, name: &str) -> Option<f64> {
        parse_float(self.get_str(name))
    }

    /// A cumulative option's values, nearest layer wins; empty when unset.
    pub fn get_list(&self, name: &str) -> &[String] {
        match self.lookup(name) {
            Some(Value::List(v)) => v,
            _ => &[],
        }
    }

    /// The values given in this layer only, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> + '_ {
        self.values
            .iter()
            .filter_map(|(i, v)| OPTIONS.get(*i).map(|d| (d.name, v)))
    }

    /// Number of values given in this layer.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether this layer holds no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Every option's effective value, defaults included, skipping empty ones
    /// and command-line-only entries — what RPC `getGlobalOption` returns.
    pub fn effective(&self) -> Vec<(&'static str, Value)> {
        OPTIONS
            .iter()
            .enumerate()
            .filter(|(_, d)| !matches!(d.kind, OptionKind::Flag | OptionKind::Help))
            .filter_map(|(i, d)| {
                let mut v = match self.lookup_index(i) {
                    Some(v) => v.clone(),
                    None => Value::Single(d.default.to_string()),
                };
                // aria2 reports sizes in bytes ("20M" → "20971520").
                if let (OptionKind::Size { .. }, Value::Single(s)) = (d.kind, &mut v) {
                    if let Some(n) = crate::value::parse_size(s) {
                        *s = n.to_string();
                    }
                }
                let empty = match &v {
                    Value::Single(s) => s.is_empty(),
                    Value::List(l) => l.is_empty(),
                };
                (!empty).then_some((d.name, v))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_any_layer() {
        let o = OptionSet::new();
        assert_eq!(o.get_i64("split"), 5);
        assert_eq!(o.get_u64("max-connection-per-server"), 1);
        assert_eq!(o.get_size("min-split-size"), 20 << 20);
        assert_eq!(o.get_str("min-split-size"), "20M");
        assert!(o.get_bool("check-certificate"));
        assert!(!o.get_bool("continue"));
        assert_eq!(o.get_f64("seed-ratio"), 1.0);
        assert_eq!(o.get_opt_f64("seed-time"), None);
        assert_eq!(o.get_str("file-allocation"), "prealloc");
        assert_eq!(o.get_opt_str("out"), None);
        assert!(o.get_list("header").is_empty());
        assert_eq!(o.get_size("max-mmap-limit"), i64::MAX as u64);
        assert_eq!(o.get_i64("cores"), 0);
        assert!(!o.get_bool("enable-metrics"));
        assert!(!o.is_set("split"));
    }

    #[test]
    fn set_normalizes_and_validates() {
        let mut o = OptionSet::new();
        o.set("split", "016").unwrap();
        assert_eq!(o.get_str("split"), "16");
        o.set("min-split-size", "1M").unwrap();
        assert_eq!(o.get_str("min-split-size"), "1048576");
        assert_eq!(o.get_size("min-split-size"), 1 << 20);
        o.set("continue", "").unwrap();
        assert!(o.get_bool("continue"));
        let err = o.set("split", "0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "We encountered a problem while processing the option '--split'.\n  -> split must be greater than or equal to 1."
        );
        // A failed set leaves the previous value alone.
        assert_eq!(o.get_str("split"), "16");
        assert!(matches!(
            o.set("no-such-option", "1"),
            Err(OptionError::Unrecognized { .. })
        ));
        assert!(o.set("version", "").is_err());
        assert!(o.set("help", "#all").is_err());
    }

    #[test]
    fn cumulative_options_append() {
        let mut o = OptionSet::new();
        o.set("header", "A: 1").unwrap();
        o.set("header", "B: 2").unwrap();
        o.set("index-out", "1=a.bin").unwrap();
        assert_eq!(o.get_list("header"), ["A: 1", "B: 2"]);
        assert_eq!(o.get_list("index-out"), ["1=a.bin"]);
        assert_eq!(o.get_str("header"), "");
        assert_eq!(o.lookup("header").unwrap().to_joined(), "A: 1\nB: 2");
    }

    #[test]
    fn layering_defaults_conf_cli_download() {
        let mut conf = OptionSet::new();
        conf.set("split", "4").unwrap();
        conf.set("dir", "/conf").unwrap();
        conf.set("header", "X-Conf: 1").unwrap();
        let mut cli = OptionSet::new();
        cli.set("dir", "/cli").unwrap();
        cli.set("header", "X-Cli: 1").unwrap();
        let mut global = conf.clone();
        global.overlay(&cli);
        let global = Arc::new(global);
        assert_eq!(global.get_str("split"), "4");
        assert_eq!(global.get_str("dir"), "/cli");
        assert_eq!(global.get_list("header"), ["X-Cli: 1"]);
        assert_eq!(global.get_i64("max-tries"), 5);

        let mut dl = OptionSet::with_parent(global.clone());
        dl.set_per_download("dir", "/dl").unwrap();
        assert_eq!(dl.get_str("dir"), "/dl");
        assert_eq!(dl.get_str("split"), "4");
        assert!(dl.is_set("split"));
        assert!(!dl.is_set_here("split"));
        assert_eq!(dl.len(), 1);
        dl.unset("dir");
        assert_eq!(dl.get_str("dir"), "/cli");
        assert!(matches!(
            dl.set_per_download("max-concurrent-downloads", "2"),
            Err(OptionError::NotPerDownload {
                name: "max-concurrent-downloads"
            })
        ));
    }

    #[test]
    fn rpc_change_rules() {
        let mut g = OptionSet::new();
        g.change_global("max-concurrent-downloads", "3").unwrap();
        g.change_global("max-overall-download-limit", "1M").unwrap();
        assert!(matches!(
            g.change_global("dir-does-not-exist", "x"),
            Err(OptionError::Unrecognized { .. })
        ));
        assert!(matches!(
            g.change_global("enable-rpc", "true"),
            Err(OptionError::NotChangeable { .. })
        ));
        assert!(matches!(
            g.change_global("out", "x"),
            Err(OptionError::NotChangeable { .. })
        ));
        let mut d = OptionSet::new();
        d.change_for_download("max-download-limit", "100K").unwrap();
        d.set("header", "A: 1").unwrap();
        d.change_for_download("header", "B: 2").unwrap();
        assert_eq!(d.get_list("header"), ["B: 2"]);
        assert!(d.change_for_download("header", "bad\0").is_err());
        assert_eq!(d.get_list("header"), ["B: 2"]);
        assert!(matches!(
            d.change_for_download("pause", "true"),
            Err(OptionError::NotChangeable { .. })
        ));
    }

    #[test]
    fn iter_and_effective() {
        let mut o = OptionSet::new();
        o.set("split", "3").unwrap();
        o.set("continue", "true").unwrap();
        let names: Vec<_> = o.iter().map(|(n, _)| n).collect();
        // Table order: split comes before continue.
        assert_eq!(names, ["split", "continue"]);
        let eff = o.effective();
        assert!(eff.contains(&("split", Value::Single("3".into()))));
        assert!(eff.contains(&("max-tries", Value::Single("5".into()))));
        assert!(!eff.iter().any(|(n, _)| *n == "out" || *n == "help"));
    }

    #[test]
    fn from_pairs_builds_layer() {
        let o = OptionSet::from_pairs([("split", "2"), ("header", "a: b")]).unwrap();
        assert_eq!(o.get_i64("split"), 2);
        assert!(OptionSet::from_pairs([("split", "x")]).is_err());
    }

    /// Three layers resolve nearest first; re-parenting swaps what shows
    /// through without touching this layer's own values.
    #[test]
    fn parent_chain_and_reparenting() {
        let mut conf = OptionSet::new();
        conf.set("split", "2").unwrap();
        conf.set("dir", "/conf").unwrap();
        let conf = Arc::new(conf);
        let mut global = OptionSet::with_parent(conf.clone());
        global.set("dir", "/global").unwrap();
        let global = Arc::new(global);
        let mut dl = OptionSet::with_parent(global.clone());
        dl.set("out", "f").unwrap();
        assert_eq!(dl.get_str("dir"), "/global");
        assert_eq!(dl.get_i64("split"), 2);
        assert_eq!(dl.get_i64("max-tries"), 5);
        assert!(dl.is_set("split") && !dl.is_set("max-tries"));

        dl.set_parent(Some(conf));
        assert_eq!(dl.get_str("dir"), "/conf");
        dl.set_parent(None);
        assert_eq!(dl.get_str("dir"), "");
        assert_eq!(dl.get_i64("split"), 5);
        assert_eq!(dl.get_str("out"), "f");
        assert!(dl.parent().is_none());
    }

    /// `getGlobalOption` lists options in table order, across sections.
    #[test]
    fn effective_follows_table_order() {
        let mut o = OptionSet::new();
        o.set("metalink-language", "en").unwrap();
        o.set("ftp-user", "u").unwrap();
        o.set("split", "3").unwrap();
        let names: Vec<_> = o.effective().into_iter().map(|(n, _)| n).collect();
        let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert!(pos("split") < pos("rpc-listen-port"));
        assert!(pos("rpc-listen-port") < pos("ftp-user"));
        assert!(pos("ftp-user") < pos("metalink-language"));
        let table: Vec<_> = OPTIONS.iter().map(|d| d.name).collect();
        let mut in_table_order = names.clone();
        in_table_order.sort_by_key(|n| table.iter().position(|t| t == n));
        assert_eq!(names, in_table_order);
    }
}
