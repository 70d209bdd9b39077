//! Defaults aria2 derives from the environment rather than fixing at build
//! time: the download directory (the working directory), `~/.netrc`, the conf
//! file and the DHT routing table files (XDG locations, unless aria2's legacy
//! `~/.aria2/` files exist).

use std::path::{Path, PathBuf};

use crate::conf_file::{default_conf_candidates, xdg_dir};
use crate::option_set::OptionSet;

/// A layer holding the environment-derived defaults, meant to sit below the
/// conf file layer. `env` looks up environment variables, `cwd` is the working
/// directory and `exists` tells whether a file exists; all are passed in so
/// this stays a pure function.
pub fn environment_defaults(
    env: impl Fn(&str) -> Option<String>,
    cwd: &Path,
    exists: impl Fn(&Path) -> bool,
) -> OptionSet {
    let mut set = OptionSet::new();
    let mut put = |name: &str, path: &Path| {
        // Paths that are not UTF-8 cannot be stored; the option then keeps its
        // empty default and the consumer falls back the same way aria2 would
        // without a home directory.
        if let Some(s) = path.to_str() {
            let _ = set.set(name, s);
        }
    };
    put("dir", cwd);
    let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    if let Some(home) = &home {
        put("netrc-path", &home.join(".netrc"));
    }
    let conf = default_conf_candidates(&env);
    if let Some(p) = conf.iter().find(|p| exists(p)).or(conf.last()) {
        put("conf-path", p);
    }
    for (name, file) in [("dht-file-path", "dht.dat"), ("dht-file-path6", "dht6.dat")] {
        let legacy = home.as_ref().map(|h| h.join(".aria2").join(file));
        let chosen = match legacy {
            Some(l) if exists(&l) => Some(l),
            _ => xdg_dir(&env, "XDG_CACHE_HOME", ".cache").map(|d| d.join("aria2").join(file)),
        };
        if let Some(p) = chosen {
            put(name, &p);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_paths_from_home_and_xdg() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_string()),
            "XDG_CACHE_HOME" => Some("/cache".to_string()),
            _ => None,
        };
        let d = environment_defaults(env, Path::new("/work"), |_| false);
        assert_eq!(d.get_str("dir"), "/work");
        assert_eq!(d.get_str("netrc-path"), "/home/u/.netrc");
        assert_eq!(d.get_str("conf-path"), "/home/u/.config/aria2/aria2.conf");
        assert_eq!(d.get_str("dht-file-path"), "/cache/aria2/dht.dat");
        assert_eq!(d.get_str("dht-file-path6"), "/cache/aria2/dht6.dat");

        let legacy = |p: &Path| p.starts_with("/home/u/.aria2");
        let d = environment_defaults(env, Path::new("/work"), legacy);
        assert_eq!(d.get_str("conf-path"), "/home/u/.aria2/aria2.conf");
        assert_eq!(d.get_str("dht-file-path"), "/home/u/.aria2/dht.dat");
    }

    #[test]
    fn no_home() {
        let d = environment_defaults(|_| None, Path::new("/"), |_| true);
        assert_eq!(d.get_str("dir"), "/");
        assert_eq!(d.get_opt_str("netrc-path"), None);
        assert_eq!(d.get_opt_str("dht-file-path"), None);
    }
}
