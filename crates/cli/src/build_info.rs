//! What `-v` and the log's banner say of this build, in aria2's words
//! (its `usedLibs` and `usedCompilerAndPlatform`): the values come from
//! `build.rs` (Rust libraries from `Cargo.lock`, the compiler, the
//! triples, the date) and, for the C libraries, from the libraries
//! themselves at run time.

/// `rustls/0.23.46 ring/0.17.14 … sqlite3/3.50.4 libssh2/1.11.1`.
pub fn libraries() -> String {
    let mut libs: Vec<String> = env!("ARIETTA_LIBRARIES")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    libs.extend(arietta_core::linked_c_libraries());
    libs.join(" ")
}

/// The compiler, then aria2's `built by`, `targeting` (only when the
/// target is not the build machine) and `on` lines.
pub fn compiler() -> String {
    let (host, target) = (env!("ARIETTA_BUILD_HOST"), env!("ARIETTA_BUILD_TARGET"));
    let mut s = format!("{}\n  built by  {host}", env!("ARIETTA_COMPILER"));
    if host != target {
        s.push_str(&format!("\n  targeting {target}"));
    }
    s.push_str(&format!("\n  on        {}", env!("ARIETTA_BUILD_DATE")));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_name_each_with_its_version() {
        let libs = libraries();
        for name in ["rustls/", "h2/", "glommio/", "sqlite3/", "libssh2/"] {
            assert!(libs.contains(name), "{libs}");
        }
        for lib in libs.split(' ') {
            let (_, v) = lib.split_once('/').expect("name/version");
            assert!(
                v.chars().next().is_some_and(|c| c.is_ascii_digit()),
                "{lib}"
            );
        }
    }

    #[test]
    fn compiler_lines_in_arias_layout() {
        let c = compiler();
        let lines: Vec<&str> = c.lines().collect();
        assert!(lines[0].starts_with("rustc "), "{c}");
        assert!(lines[1].starts_with("  built by  "), "{c}");
        let on = lines.last().unwrap();
        // `Aug 21 2021 15:26:28`
        let date = on.strip_prefix("  on        ").expect(on);
        assert_eq!(date.len(), 20, "{date}");
    }
}
