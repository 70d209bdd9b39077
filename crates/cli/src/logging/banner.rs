//! What aria2 writes at the top of every log (its `Context.cc`): a banner,
//! the version, the compiler, the system, the libraries, "Logging
//! started.", then what was read.

use std::ffi::CStr;
use std::path::Path;

use arietta_options::OptionSet;

/// The banner, version, compiler, system and libraries, at INFO like
/// aria2's.
pub fn log_startup() {
    tracing::info!("<<--- --- --- ---");
    tracing::info!("  --- --- --- ---");
    tracing::info!("  --- --- --- --->>");
    tracing::info!("arietta {} (aria2 compatible)", env!("CARGO_PKG_VERSION"));
    tracing::info!("{}", crate::build_info::compiler());
    if let Some(os) = operating_system() {
        tracing::info!("{os}");
    }
    tracing::info!("{}", crate::build_info::libraries());
    tracing::info!("Logging started.");
}

/// The configuration file read (if any) and every option given, at DEBUG.
/// Secrets, passwords and headers (which may carry credentials) are
/// written as `********`.
pub fn log_options(conf: Option<&Path>, global: &OptionSet) {
    match conf {
        Some(p) => tracing::info!("Configuration file {} was read.", p.display()),
        None => tracing::debug!("No configuration file was read."),
    }
    // The command line over aria2.conf over the environment: each layer's
    // own values, so the log shows what the user set rather than the whole
    // table of defaults.
    let mut layer = Some(global);
    while let Some(set) = layer {
        for (name, value) in set.iter() {
            let secret = ["passwd", "password", "secret", "private-key", "header"]
                .iter()
                .any(|w| name.contains(w));
            if secret {
                tracing::debug!("Option {name}=********");
            } else {
                tracing::debug!("Option {name}={}", value.to_joined());
            }
        }
        layer = set.parent().map(|p| &**p);
    }
}

/// `Linux 6.1.0 #1 SMP … x86_64`, aria2's `getOperatingSystemInfo`.
pub fn operating_system() -> Option<String> {
    // SAFETY: utsname is plain bytes; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a live, writable utsname for the whole call.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field within its array.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Some(format!(
        "{} {} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.version),
        field(&u.machine)
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_the_system() {
        let os = super::operating_system().unwrap();
        assert!(os.starts_with("Linux "), "{os}");
    }
}
