//! Choosing a proxy (HTTP, or SOCKS5 beyond aria2) from aria2's options and
//! the usual environment variables, honouring `no_proxy`.

use std::net::IpAddr;

use url::{Host, Url};

use crate::error::HttpError;

/// What a proxy speaks, from its URI's scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyKind {
    /// `http://` (or no scheme, as aria2): absolute-form requests, CONNECT
    /// tunnels for HTTPS and `--proxy-method=tunnel`.
    #[default]
    Http,
    /// `socks5://`: a SOCKS5 CONNECT to an address we resolved.
    Socks5,
    /// `socks5h://`: a SOCKS5 CONNECT by name; the proxy resolves it.
    Socks5h,
}

/// A proxy endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// HTTP or SOCKS5.
    pub kind: ProxyKind,
    /// Host name or IP literal, without brackets.
    pub host: String,
    /// TCP port (80 for HTTP and 1080 for SOCKS5 when not given).
    pub port: u16,
    /// `(user, password)`: Basic proxy authentication for HTTP, RFC 1929
    /// username/password for SOCKS5.
    pub auth: Option<(String, String)>,
}

impl Proxy {
    /// Parses `[http://][USER:PASSWORD@]HOST[:PORT]` as aria2's
    /// `--all-proxy` accepts it, and `socks5://` / `socks5h://` URIs of the
    /// same shape (aria2 has no SOCKS support; curl's schemes are used).
    pub fn parse(value: &str) -> Result<Proxy, HttpError> {
        let bad = |reason| HttpError::BadProxy {
            value: value.to_owned(),
            reason,
        };
        let trimmed = value.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let url = Url::parse(&with_scheme).map_err(|_| bad("not a valid proxy URI"))?;
        let (kind, default_port) = match url.scheme() {
            "http" => (ProxyKind::Http, 80),
            "socks5" => (ProxyKind::Socks5, 1080),
            "socks5h" => (ProxyKind::Socks5h, 1080),
            _ => {
                return Err(bad(
                    "only http://, socks5:// and socks5h:// proxies are supported",
                ))
            }
        };
        let host = match url.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(bad("missing host")),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let auth = (!url.username().is_empty())
            .then(|| (decode(url.username()), decode(url.password().unwrap_or(""))));
        Ok(Proxy {
            kind,
            host,
            port: url.port().unwrap_or(default_port),
            auth,
        })
    }

    /// Whether this is a SOCKS5 proxy (connections are relayed, requests
    /// go to the origin as if direct).
    pub fn is_socks(&self) -> bool {
        matches!(self.kind, ProxyKind::Socks5 | ProxyKind::Socks5h)
    }

    /// The scheme as a URI writes it, for logs and pool keys.
    pub fn scheme(&self) -> &'static str {
        match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Socks5h => "socks5h",
        }
    }

    /// `host:port` with IPv6 literals bracketed, for connecting and logs.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NoProxyRule {
    All,
    /// Matches the domain itself and every subdomain.
    Domain(String),
    /// An address block; a single IP has the full prefix length.
    Network(IpAddr, u8),
}

impl NoProxyRule {
    fn parse(entry: &str) -> Option<NoProxyRule> {
        let entry = entry.trim();
        if entry.is_empty() {
            return None;
        }
        if entry == "*" {
            return Some(NoProxyRule::All);
        }
        if let Some((addr, prefix)) = entry.split_once('/') {
            let ip: IpAddr = addr
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()?;
            let prefix: u8 = prefix.parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            return (prefix <= max).then_some(NoProxyRule::Network(ip, prefix));
        }
        let unbracketed = entry.trim_start_matches('[');
        let unbracketed = unbracketed.split(']').next().unwrap_or(unbracketed);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            return Some(NoProxyRule::Network(ip, max));
        }
        // `host:port` — ports are not distinguished.
        let host = entry.split(':').next().unwrap_or(entry);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(NoProxyRule::Network(ip, 32));
        }
        let domain = host
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .to_ascii_lowercase();
        (!domain.is_empty()).then_some(NoProxyRule::Domain(domain))
    }

    fn matches(&self, host: &str, ip: Option<IpAddr>) -> bool {
        match self {
            NoProxyRule::All => true,
            NoProxyRule::Domain(d) => {
                host == d
                    || (host.len() > d.len()
                        && host.ends_with(d.as_str())
                        && host.as_bytes().get(host.len() - d.len() - 1) == Some(&b'.'))
            }
            NoProxyRule::Network(net, prefix) => ip.is_some_and(|ip| in_network(ip, *net, *prefix)),
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let ip = match (ip, net) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// The proxies in effect for a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// Proxy for `http://` URLs.
    pub http: Option<Proxy>,
    /// Proxy for `https://` URLs (reached with CONNECT).
    pub https: Option<Proxy>,
    /// Proxy for `ftp://` URLs (`--ftp-proxy`, else `--all-proxy`, else
    /// `ftp_proxy`, else `all_proxy`).
    pub ftp: Option<Proxy>,
    /// Proxy for other schemes (`--all-proxy`).
    pub all: Option<Proxy>,
    no_proxy: Vec<NoProxyRule>,
}

impl ProxySettings {
    /// Combines aria2's options with the environment.
    ///
    /// For each scheme the most specific option wins, then `--all-proxy`,
    /// then `<scheme>_proxy`/`<SCHEME>_PROXY`, then `all_proxy`/`ALL_PROXY`.
    /// An option given as the empty string disables that proxy even if the
    /// environment sets one. `proxy_user`/`proxy_passwd` replace credentials
    /// embedded in the proxy URIs. `--no-proxy` replaces `no_proxy`.
    pub fn from_env_and_options(
        env: &dyn Fn(&str) -> Option<String>,
        all_proxy_opt: Option<&str>,
        http_proxy_opt: Option<&str>,
        https_proxy_opt: Option<&str>,
        no_proxy_opt: Option<&str>,
        proxy_user: Option<&str>,
        proxy_passwd: Option<&str>,
    ) -> Result<ProxySettings, HttpError> {
        let env_var = |lower: &str| {
            env(lower)
                .or_else(|| env(&lower.to_ascii_uppercase()))
                .filter(|v| !v.trim().is_empty())
        };
        let pick = |opt: Option<&str>, env_name: &str| -> Option<String> {
            match opt.or(all_proxy_opt) {
                Some(v) => Some(v.to_owned()),
                None => env_var(env_name).or_else(|| env_var("all_proxy")),
            }
        };
        let finish = |value: Option<String>| -> Result<Option<Proxy>, HttpError> {
            let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
                return Ok(None);
            };
            let mut proxy = Proxy::parse(&value)?;
            if let Some(user) = proxy_user {
                proxy.auth = Some((user.to_owned(), proxy_passwd.unwrap_or("").to_owned()));
            } else if let (Some(pass), Some(auth)) = (proxy_passwd, proxy.auth.as_mut()) {
                auth.1 = pass.to_owned();
            }
            Ok(Some(proxy))
        };
        let no_proxy_value = match no_proxy_opt {
            Some(v) => Some(v.to_owned()),
            None => env_var("no_proxy"),
        };
        let no_proxy = no_proxy_value
            .as_deref()
            .unwrap_or("")
            .split([',', ' ', '\t'])
            .filter_map(NoProxyRule::parse)
            .collect();
        Ok(ProxySettings {
            http: finish(pick(http_proxy_opt, "http_proxy"))?,
            https: finish(pick(https_proxy_opt, "https_proxy"))?,
            ftp: finish(pick(None, "ftp_proxy"))?,
            all: finish(
                all_proxy_opt
                    .map(str::to_owned)
                    .or_else(|| env_var("all_proxy")),
            )?,
            no_proxy,
        })
    }

    /// Whether `url`'s host is exempted by `no_proxy`.
    pub fn bypasses(&self, url: &Url) -> bool {
        let (host, ip) = match url.host() {
            Some(Host::Domain(d)) => (d.to_ascii_lowercase(), d.parse::<IpAddr>().ok()),
            Some(Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
            Some(Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
            None => return true,
        };
        self.no_proxy.iter().any(|r| r.matches(&host, ip))
    }

    /// The proxy to use for `url`, or `None` to connect directly.
    pub fn proxy_for(&self, url: &Url) -> Option<&Proxy> {
        let proxy = match url.scheme() {
            "http" => self.http.as_ref(),
            "https" => self.https.as_ref(),
            "ftp" => self.ftp.as_ref(),
            _ => self.all.as_ref(),
        }?;
        (!self.bypasses(url)).then_some(proxy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn parse_proxy_forms() {
        assert_eq!(
            Proxy::parse("proxy:3128").unwrap(),
            Proxy {
                kind: ProxyKind::Http,
                host: "proxy".into(),
                port: 3128,
                auth: None
            }
        );
        assert_eq!(
            Proxy::parse("http://us%40r:p%3Ass@[::1]").unwrap(),
            Proxy {
                kind: ProxyKind::Http,
                host: "::1".into(),
                port: 80,
                auth: Some(("us@r".into(), "p:ss".into()))
            }
        );
        assert_eq!(
            Proxy::parse("[::1]:8080").unwrap().authority(),
            "[::1]:8080"
        );
        assert_eq!(
            Proxy::parse("socks5://u:p%40ss@127.0.0.1").unwrap(),
            Proxy {
                kind: ProxyKind::Socks5,
                host: "127.0.0.1".into(),
                port: 1080,
                auth: Some(("u".into(), "p@ss".into()))
            }
        );
        let h = Proxy::parse("SOCKS5H://[::1]:9050").unwrap();
        assert_eq!(
            (h.kind, h.authority().as_str()),
            (ProxyKind::Socks5h, "[::1]:9050")
        );
        assert!(h.is_socks() && h.auth.is_none());
        assert!(Proxy::parse("socks4://h:1").is_err());
        assert!(Proxy::parse("socks5://").is_err());
        assert!(Proxy::parse("http://").is_err());
        assert!(Proxy::parse("h:99999").is_err());
    }

    #[test]
    fn precedence() {
        let env = env_of(&[
            ("http_proxy", "envhttp:1"),
            ("HTTPS_PROXY", "envhttps:2"),
            ("ALL_PROXY", "envall:3"),
        ]);
        let s =
            ProxySettings::from_env_and_options(&env, None, None, None, None, None, None).unwrap();
        assert_eq!(s.proxy_for(&u("http://x/")).unwrap().host, "envhttp");
        assert_eq!(s.proxy_for(&u("https://x/")).unwrap().host, "envhttps");
        assert_eq!(s.proxy_for(&u("ftp://x/")).unwrap().host, "envall");

        let s = ProxySettings::from_env_and_options(
            &env,
            Some("optall:4"),
            None,
            Some(""),
            None,
            Some("u"),
            Some("p"),
        )
        .unwrap();
        assert_eq!(s.proxy_for(&u("http://x/")).unwrap().host, "optall");
        assert_eq!(
            s.proxy_for(&u("http://x/")).unwrap().auth,
            Some(("u".into(), "p".into()))
        );
        assert!(s.proxy_for(&u("https://x/")).is_none());

        let env2 = env_of(&[("HTTP_PROXY", "upper:1"), ("http_proxy", "lower:1")]);
        let s =
            ProxySettings::from_env_and_options(&env2, None, None, None, None, None, None).unwrap();
        assert_eq!(s.http.unwrap().host, "lower");
        let s =
            ProxySettings::from_env_and_options(&env_of(&[]), None, None, None, None, None, None)
                .unwrap();
        assert!(s.proxy_for(&u("http://x/")).is_none());
        assert!(ProxySettings::from_env_and_options(
            &env_of(&[("http_proxy", "ftp://bad")]),
            None,
            None,
            None,
            None,
            None,
            None
        )
        .is_err());
    }

    #[test]
    fn no_proxy_rules() {
        let env = env_of(&[("no_proxy", "localhost, .internal.example,example.org:8080, 10.0.0.0/8,[::1], fd00::/8, 192.168.1.5, bogus/99")]);
        let s =
            ProxySettings::from_env_and_options(&env, Some("p:1"), None, None, None, None, None)
                .unwrap();
        for direct in [
            "http://localhost/",
            "http://a.internal.example/",
            "http://internal.example/",
            "http://example.org/",
            "http://www.example.org/",
            "http://10.1.2.3/",
            "http://[::1]:8080/",
            "https://[fd12::1]/",
            "http://192.168.1.5/",
            "http://[::ffff:10.0.0.1]/",
        ] {
            assert!(s.proxy_for(&u(direct)).is_none(), "{direct}");
        }
        for proxied in [
            "http://notlocalhost/",
            "http://example.org.evil/",
            "http://11.0.0.1/",
            "http://192.168.1.6/",
            "http://[::2]/",
        ] {
            assert!(s.proxy_for(&u(proxied)).is_some(), "{proxied}");
        }
        let star = ProxySettings::from_env_and_options(
            &env_of(&[]),
            Some("p:1"),
            None,
            None,
            Some("*"),
            None,
            None,
        )
        .unwrap();
        assert!(star.proxy_for(&u("http://anything/")).is_none());
        // --no-proxy replaces the environment's list.
        let s = ProxySettings::from_env_and_options(
            &env,
            Some("p:1"),
            None,
            None,
            Some(""),
            None,
            None,
        )
        .unwrap();
        assert!(s.proxy_for(&u("http://localhost/")).is_some());
    }
}
