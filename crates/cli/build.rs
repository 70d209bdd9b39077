//! What `-v` and the log's banner say of the build, as aria2's do
//! ("Libraries:", "Compiler:", "built by", "on"): the versions of the Rust
//! libraries that do the work, read from the workspace's `Cargo.lock`; the
//! compiler's `--version`; the host and target triples; and the build's
//! date (`SOURCE_DATE_EPOCH` when set, for reproducible builds).

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The crates `-v` lists, in aria2's order of concerns: TLS and its
/// cryptography, HTTP/2, the runtime, compression, XML.
const LIBRARIES: &[(&str, &str)] = &[
    ("rustls", "rustls"),
    ("ring", "ring"),
    ("h2", "h2"),
    ("glommio", "glommio"),
    ("zlib-rs", "zlib-rs"),
    ("roxmltree", "roxmltree"),
];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
    let lock = Path::new(&manifest).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed={}", lock.display());
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let lock = std::fs::read_to_string(&lock).unwrap_or_default();
    let libs: Vec<String> = LIBRARIES
        .iter()
        .filter_map(|(krate, shown)| locked_version(&lock, krate).map(|v| format!("{shown}/{v}")))
        .collect();
    println!("cargo:rustc-env=ARIETTA_LIBRARIES={}", libs.join(" "));

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let compiler = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "rustc (unknown version)".into());
    println!("cargo:rustc-env=ARIETTA_COMPILER={compiler}");
    for var in ["HOST", "TARGET"] {
        let v = std::env::var(var).unwrap_or_default();
        println!("cargo:rustc-env=ARIETTA_BUILD_{var}={v}");
    }

    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    println!("cargo:rustc-env=ARIETTA_BUILD_DATE={}", c_build_date(secs));
}

/// The highest version of `krate` in `Cargo.lock` (a crate may be there
/// twice, in two major versions).
fn locked_version(lock: &str, krate: &str) -> Option<String> {
    let name = format!("name = \"{krate}\"");
    let mut lines = lock.lines();
    let mut best: Option<(Vec<u64>, String)> = None;
    while let Some(line) = lines.next() {
        if line.trim() != name {
            continue;
        }
        let Some(v) = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("version = \""))
            .and_then(|l| l.strip_suffix('"'))
        else {
            continue;
        };
        let key: Vec<u64> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
        if best.as_ref().is_none_or(|(k, _)| key > *k) {
            best = Some((key, v.to_owned()));
        }
    }
    best.map(|(_, v)| v)
}

/// `secs` since the epoch as C's `__DATE__ " " __TIME__` (UTC), which
/// aria2 prints: `Aug 21 2021 15:26:28`, the day padded with a space.
fn c_build_date(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {day:>2} {year} {:02}:{:02}:{:02}",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
