//! Where an `sftp://` URL's path points on the server.

/// The remote path of an already percent-decoded URL path: absolute as
/// written (`sftp://h/srv/f` → `/srv/f`, as aria2 does), except that a
/// leading `/~/` means the login's home directory (`sftp://h/~/f` → `f`,
/// which SFTP servers resolve against the home), as curl and OpenSSH's
/// `sftp` understand it.
pub fn remote_path(decoded_url_path: &str) -> String {
    if let Some(rest) = decoded_url_path.strip_prefix("/~/") {
        return rest.to_owned();
    }
    if decoded_url_path.is_empty() {
        return "/".to_owned();
    }
    decoded_url_path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_home_relative() {
        assert_eq!(remote_path("/srv/a b"), "/srv/a b");
        assert_eq!(remote_path("/~/f.iso"), "f.iso");
        assert_eq!(remote_path(""), "/");
    }
}
