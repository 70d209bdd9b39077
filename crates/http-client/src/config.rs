//! A download's HTTP settings, read once from its options.

use std::path::PathBuf;
use std::time::Duration;

use arietta_http::{HttpError, Proxy, ProxySettings};
use arietta_net::{FamilyPref, TlsOptions};
use arietta_options::OptionSet;

use crate::DialOptions;

/// What every request of one download shares: how to reach servers and
/// what to tell them about us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `--user-agent`.
    pub user_agent: String,
    /// `--header` lines as `(name, value)`; a name that equals a built-in
    /// header replaces it.
    pub headers: Vec<(String, String)>,
    /// `--all-proxy`, `--http-proxy`, `--https-proxy`, `--ftp-proxy`,
    /// `--no-proxy`, their credentials, and the `*_proxy` environment.
    pub proxies: ProxySettings,
    /// `--ca-certificate`, `--check-certificate`, `--certificate`,
    /// `--private-key`.
    pub tls: TlsOptions,
    /// `--disable-ipv6`.
    pub family: FamilyPref,
    /// `--connect-timeout`.
    pub connect_timeout: Duration,
    /// `--timeout`: for each wait for the server (zero: no limit).
    pub timeout: Duration,
}

impl Default for ClientConfig {
    /// aria2's defaults, no proxy, no extra header.
    fn default() -> Self {
        ClientConfig {
            user_agent: "aria2/1.37.0".into(),
            headers: Vec::new(),
            proxies: ProxySettings::default(),
            tls: TlsOptions::default(),
            family: FamilyPref::Any,
            connect_timeout: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
        }
    }
}

impl ClientConfig {
    /// Reads the HTTP options of one download (and the proxy variables of
    /// the environment).
    pub fn from_options(o: &OptionSet) -> Result<ClientConfig, HttpError> {
        Ok(ClientConfig {
            user_agent: o.get_str("user-agent").to_owned(),
            headers: headers_from_options(o),
            proxies: proxies_from_options(o)?,
            tls: tls_from_options(o),
            family: if o.get_bool("disable-ipv6") {
                FamilyPref::V4Only
            } else {
                FamilyPref::Any
            },
            connect_timeout: Duration::from_secs(o.get_u64("connect-timeout")),
            timeout: Duration::from_secs(o.get_u64("timeout")),
        })
    }

    /// The connection-level part, for [`crate::dial`] and
    /// [`crate::exchange`].
    pub fn dial_options(&self) -> DialOptions<'_> {
        DialOptions {
            tls: &self.tls,
            family: self.family,
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
        }
    }
}

/// `--header` lines as `(name, value)`; lines without a colon are dropped.
pub fn headers_from_options(o: &OptionSet) -> Vec<(String, String)> {
    o.get_list("header")
        .iter()
        .filter_map(|h| {
            let (k, v) = h.split_once(':')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// `--ca-certificate`, `--check-certificate`, `--certificate`,
/// `--private-key`, `--min-tls-version`.
pub fn tls_from_options(o: &OptionSet) -> TlsOptions {
    let path = |n: &str| o.get_opt_str(n).map(PathBuf::from);
    TlsOptions {
        ca_certificate: path("ca-certificate"),
        check_certificate: o.get_bool("check-certificate"),
        certificate: path("certificate"),
        private_key: path("private-key"),
        tls13_only: o.get_str("min-tls-version") == "TLSv1.3",
    }
}

/// aria2's proxy options combined with the environment: for each scheme the
/// most specific option, then `--all-proxy`, then `<scheme>_proxy`, then
/// `all_proxy`; `--no-proxy` replaces `no_proxy`; `--ftp-proxy` with its own
/// credentials.
pub fn proxies_from_options(o: &OptionSet) -> Result<ProxySettings, HttpError> {
    let env = |k: &str| std::env::var(k).ok();
    let mut proxies = ProxySettings::from_env_and_options(
        &env,
        o.get_opt_str("all-proxy"),
        o.get_opt_str("http-proxy"),
        o.get_opt_str("https-proxy"),
        o.get_opt_str("no-proxy"),
        o.get_opt_str("all-proxy-user"),
        o.get_opt_str("all-proxy-passwd"),
    )?;
    if let Some(v) = o.get_opt_str("ftp-proxy") {
        let mut p = Proxy::parse(v)?;
        if let Some(u) = o.get_opt_str("all-proxy-user") {
            p.auth = Some((u.to_owned(), o.get_str("all-proxy-passwd").to_owned()));
        }
        proxies.ftp = Some(p);
    }
    // A scheme's own proxy option goes with its own credentials, as
    // aria2's `getProxyOptionFor` pairs them (`--http-proxy` with
    // `--http-proxy-user`); a proxy that came from `--all-proxy` keeps
    // `--all-proxy-user`'s.
    for (proxy, scheme) in [
        (&mut proxies.http, "http"),
        (&mut proxies.https, "https"),
        (&mut proxies.ftp, "ftp"),
    ] {
        let own = o
            .get_opt_str(&format!("{scheme}-proxy"))
            .is_some_and(|v| !v.trim().is_empty());
        let Some(p) = proxy.as_mut().filter(|_| own) else {
            continue;
        };
        let user = o.get_opt_str(&format!("{scheme}-proxy-user"));
        let passwd = o.get_opt_str(&format!("{scheme}-proxy-passwd"));
        match (user, passwd, p.auth.as_mut()) {
            (Some(u), pw, _) => p.auth = Some((u.to_owned(), pw.unwrap_or("").to_owned())),
            (None, Some(pw), Some(auth)) => auth.1 = pw.to_owned(),
            _ => {}
        }
    }
    Ok(proxies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_downloads_options() {
        let o = OptionSet::from_pairs([
            ("user-agent", "ua/2"),
            ("header", "X-A: 1"),
            ("all-proxy", "http://u:p@proxy:3128"),
            ("no-proxy", "local.example"),
            ("check-certificate", "false"),
            ("disable-ipv6", "true"),
            ("connect-timeout", "7"),
            ("timeout", "9"),
        ])
        .unwrap();
        let c = ClientConfig::from_options(&o).unwrap();
        assert_eq!(c.user_agent, "ua/2");
        assert_eq!(c.headers, vec![("X-A".to_owned(), "1".to_owned())]);
        let url = url::Url::parse("https://example.org/").unwrap();
        let p = c.proxies.proxy_for(&url).unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy", 3128));
        assert_eq!(p.auth, Some(("u".into(), "p".into())));
        let local = url::Url::parse("http://local.example/").unwrap();
        assert!(c.proxies.proxy_for(&local).is_none());
        assert!(!c.tls.check_certificate);
        assert_eq!(c.family, FamilyPref::V4Only);
        assert_eq!(c.connect_timeout, Duration::from_secs(7));
        assert_eq!(c.timeout, Duration::from_secs(9));
    }

    #[test]
    fn a_schemes_proxy_goes_with_its_own_credentials() {
        let o = OptionSet::from_pairs([
            ("all-proxy", "http://proxy:3128"),
            ("all-proxy-user", "all"),
            ("all-proxy-passwd", "allpw"),
            ("http-proxy", "http://hproxy:8080"),
            ("http-proxy-user", "h"),
            ("http-proxy-passwd", "hpw"),
            ("https-proxy-user", "s"),
        ])
        .unwrap();
        let p = proxies_from_options(&o).unwrap();
        let auth = |p: &Option<Proxy>| p.as_ref().and_then(|p| p.auth.clone());
        assert_eq!(auth(&p.http), Some(("h".into(), "hpw".into())));
        // No --https-proxy: the all-proxy and its credentials.
        assert_eq!(auth(&p.https), Some(("all".into(), "allpw".into())));
        assert_eq!(auth(&p.ftp), Some(("all".into(), "allpw".into())));
    }
}
