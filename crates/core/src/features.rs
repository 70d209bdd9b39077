//! What this build can do, in aria2's words: `aria2.getVersion`'s
//! `enabledFeatures` (web UIs show or hide their torrent and metalink menus
//! by it) and `-v`'s "Enabled Features" line.

/// aria2's feature names, in aria2c 1.36's order, each one arietta has:
/// its own resolver work off the executors (Async DNS), the torrent engine,
/// Firefox/Chromium cookie databases, gzip/deflate, rustls, `--checksum`
/// and chunk hashes, metalink v3/v4, XML-RPC, and SFTP.
pub const ENABLED_FEATURES: &[&str] = &[
    "Async DNS",
    "BitTorrent",
    "Firefox3 Cookie",
    "GZip",
    "HTTPS",
    "Message Digest",
    "Metalink",
    "XML-RPC",
    "SFTP",
];

/// The digests `--checksum` and metalink hashes accept, as `-v` lists them.
pub const HASH_ALGORITHMS: &[&str] = &[
    "sha-1", "sha-224", "sha-256", "sha-384", "sha-512", "md5", "adler32",
];

/// The C libraries linked in, as `-v`'s "Libraries:" line names them
/// after the Rust ones (`sqlite3/3.50.4 libssh2/1.11.1`), each asked for
/// its own version at run time.
pub fn linked_c_libraries() -> Vec<String> {
    let mut libs = vec![format!("sqlite3/{}", arietta_cookie_db::sqlite_version())];
    if let Some(v) = arietta_sftp::libssh2_version_string() {
        libs.push(format!("libssh2/{v}"));
    }
    libs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_hash_is_computed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        for algo in HASH_ALGORITHMS {
            assert!(crate::checksum::file_digest(algo, &p).is_ok(), "{algo}");
        }
    }
}
