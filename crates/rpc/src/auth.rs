//! `--rpc-secret` checking.
//!
//! aria2 treats a first parameter that is a string starting with `token:` as
//! the secret and removes it before the method sees its parameters, whether
//! or not a secret is configured; so does [`authorize`]. Methods that need no
//! token: `system.listMethods`, `system.listNotifications` (since aria2
//! 1.36) and `system.multicall`, whose entries each carry their own token and
//! are authorized one by one.
//!
//! aria2 answers a failed authorization only after a delay (about a second)
//! to slow down guessing; the daemon should do the same when
//! [`authorize`] fails.

use sha1::{Digest, Sha1};

use crate::error::Error;
use crate::request::{Param, RpcCall};

const TOKEN_PREFIX: &str = "token:";

/// The configured `--rpc-secret`, kept only as a digest so that comparing
/// it with a token takes the same time whatever the token's length or
/// content.
#[derive(Clone)]
pub struct Secret {
    digest: [u8; 20],
}

impl Secret {
    /// Wraps the secret from the command line or config file.
    pub fn new(secret: &str) -> Self {
        Secret {
            digest: Sha1::digest(secret.as_bytes()).into(),
        }
    }

    /// Compares in constant time: both sides are hashed to equal-length
    /// digests and every byte is folded into the result.
    pub fn matches(&self, token: &str) -> bool {
        let other: [u8; 20] = Sha1::digest(token.as_bytes()).into();
        let diff = self
            .digest
            .iter()
            .zip(other.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        // black_box keeps the optimizer from turning the fold into an
        // early-exit comparison.
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Whether `method` may be called without a token.
pub fn needs_no_token(method: &str) -> bool {
    matches!(
        method,
        "system.listMethods" | "system.listNotifications" | "system.multicall"
    )
}

/// Checks and strips the `token:SECRET` first parameter of `call`.
///
/// `secret` is `None` when no `--rpc-secret` is configured: every call is
/// then allowed, but a `token:` parameter is still stripped so clients that
/// always send one keep working. Each entry of a `system.multicall` must be
/// passed through here separately.
pub fn authorize(call: &mut RpcCall, secret: Option<&Secret>) -> Result<(), Error> {
    let token = match call.params.first() {
        Some(Param::String(s)) if s.starts_with(TOKEN_PREFIX) => {
            let token = s[TOKEN_PREFIX.len()..].to_owned();
            call.params.remove(0);
            Some(token)
        }
        _ => None,
    };
    if needs_no_token(&call.method) {
        return Ok(());
    }
    match secret {
        None => Ok(()),
        Some(secret) => match token {
            Some(t) if secret.matches(&t) => Ok(()),
            _ => Err(Error::Unauthorized),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Dialect, Id};

    fn call(method: &str, params: Vec<Param>) -> RpcCall {
        RpcCall {
            method: method.into(),
            params,
            id: Id::Null,
            dialect: Dialect::Json,
        }
    }

    #[test]
    fn good_token_is_stripped() {
        let s = Secret::new("s3cr3t");
        let mut c = call(
            "aria2.tellStatus",
            vec!["token:s3cr3t".into(), "abc".into()],
        );
        assert_eq!(authorize(&mut c, Some(&s)), Ok(()));
        assert_eq!(c.params, vec![Param::from("abc")]);
    }

    #[test]
    fn bad_or_missing_token_is_refused() {
        let s = Secret::new("s3cr3t");
        for params in [
            vec![Param::from("token:bad")],
            vec![Param::from("token:")],
            vec![Param::from("token:s3cr3t ")],
            vec![Param::from("s3cr3t")],
            vec![Param::Nil],
            vec![],
        ] {
            let mut c = call("aria2.getVersion", params);
            assert_eq!(authorize(&mut c, Some(&s)), Err(Error::Unauthorized));
        }
    }

    #[test]
    fn empty_secret_requires_empty_token() {
        let s = Secret::new("");
        let mut c = call("aria2.getVersion", vec!["token:".into()]);
        assert_eq!(authorize(&mut c, Some(&s)), Ok(()));
        let mut c = call("aria2.getVersion", vec![]);
        assert_eq!(authorize(&mut c, Some(&s)), Err(Error::Unauthorized));
    }

    #[test]
    fn no_secret_still_strips_token() {
        let mut c = call(
            "aria2.addUri",
            vec!["token:anything".into(), Param::Array(vec![])],
        );
        assert_eq!(authorize(&mut c, None), Ok(()));
        assert_eq!(c.params, vec![Param::Array(vec![])]);
        // A non-token first string is left alone.
        let mut c = call("aria2.tellStatus", vec!["2089b05ecca3d829".into()]);
        assert_eq!(authorize(&mut c, None), Ok(()));
        assert_eq!(c.params.len(), 1);
    }

    #[test]
    fn introspection_needs_no_token() {
        let s = Secret::new("s3cr3t");
        for m in [
            "system.listMethods",
            "system.listNotifications",
            "system.multicall",
        ] {
            let mut c = call(m, vec!["token:wrong".into()]);
            assert_eq!(authorize(&mut c, Some(&s)), Ok(()), "{m}");
            assert!(c.params.is_empty());
        }
    }

    #[test]
    fn secret_debug_hides_value() {
        assert_eq!(format!("{:?}", Secret::new("x")), "Secret(..)");
        assert!(Secret::new("abc").matches("abc"));
        assert!(!Secret::new("abc").matches("abd"));
    }
}
