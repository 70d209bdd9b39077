//! Who to log in as and with what: a password, the SSH agent, or private
//! key files.

use std::path::{Path, PathBuf};

/// What [`crate::SftpSession::connect`] authenticates with.
///
/// A password, when there is one (from the URL, `.netrc` or
/// `--ftp-passwd`), is the only method tried: the user named it, and
/// falling back to keys after a wrong password would hide the mistake.
/// Without one, the agent (`SSH_AUTH_SOCK`) is tried first, then each key
/// file in order, as `ssh` does.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub user: String,
    pub password: Option<String>,
    /// Unencrypted private keys to offer (OpenSSH or PEM format).
    pub key_files: Vec<PathBuf>,
    pub use_agent: bool,
}

/// The private keys `ssh` offers by default, those of them that exist in
/// `HOME/.ssh`: `id_ed25519`, `id_ecdsa`, `id_rsa`.
pub fn default_key_files(home: Option<&Path>) -> Vec<PathBuf> {
    let Some(home) = home else {
        return Vec::new();
    };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| home.join(".ssh").join(n))
        .filter(|p| p.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keys_are_those_present_in_order() {
        let dir = std::env::temp_dir().join(format!("arietta-sftp-keys-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".ssh")).unwrap();
        std::fs::write(dir.join(".ssh/id_rsa"), "x").unwrap();
        std::fs::write(dir.join(".ssh/id_ed25519"), "x").unwrap();
        let keys = default_key_files(Some(&dir));
        assert_eq!(
            keys,
            vec![dir.join(".ssh/id_ed25519"), dir.join(".ssh/id_rsa")]
        );
        assert!(default_key_files(None).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
