//! Where a request for a URL goes: straight to the origin, through a plain
//! HTTP proxy (absolute-form request), through a CONNECT tunnel (HTTPS
//! behind an HTTP proxy), or through a SOCKS5 proxy (any scheme; the
//! request is the same as a direct one).

use arietta_http::{Proxy, ProxyAuth, ProxySettings};
use url::Url;

/// The origin of a URL and the proxy, if any, that reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The URL's scheme (`http`, `https`, or `ftp` through a GET proxy).
    pub scheme: String,
    /// The origin's host as the URL writes it (IPv6 literals bracketed).
    pub host: String,
    /// The origin's port (the scheme's default when the URL names none).
    pub port: u16,
    /// The proxy in effect for this URL (`no_proxy` already applied).
    pub proxy: Option<Proxy>,
}

impl Route {
    /// The route for `url` under `proxies`.
    pub fn new(url: &Url, proxies: &ProxySettings) -> Route {
        Route {
            scheme: url.scheme().to_owned(),
            host: url.host_str().unwrap_or("").to_owned(),
            port: url.port_or_known_default().unwrap_or(80),
            proxy: proxies.proxy_for(url).cloned(),
        }
    }

    /// Whether the connection ends in TLS to the origin.
    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// The idle-connection pool key: connections are interchangeable only
    /// for the same origin reached the same way.
    pub fn key(&self) -> String {
        let (scheme, host, port) = (&self.scheme, &self.host, self.port);
        match &self.proxy {
            Some(p) => format!(
                "{scheme}://{host}:{port}@{}://{}",
                p.scheme(),
                p.authority()
            ),
            None => format!("{scheme}://{host}:{port}"),
        }
    }

    /// How the request head travels: `Some` when it goes to a plain proxy
    /// in absolute form (with the proxy's credentials); `None` when it goes
    /// to the origin, directly or inside a tunnel.
    pub fn proxy_auth(&self) -> Option<ProxyAuth> {
        match &self.proxy {
            Some(p) if !self.is_https() && !p.is_socks() => Some(ProxyAuth {
                credentials: p.auth.clone(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(all: &str, no_proxy: Option<&str>) -> ProxySettings {
        ProxySettings::from_env_and_options(&|_| None, Some(all), None, None, no_proxy, None, None)
            .unwrap()
    }

    #[test]
    fn direct_and_proxied_routes() {
        let none = ProxySettings::default();
        let u = Url::parse("https://example.org/a").unwrap();
        let r = Route::new(&u, &none);
        assert_eq!(r.key(), "https://example.org:443");
        assert!(r.is_https() && r.proxy_auth().is_none());

        let p = proxies("http://u:pw@proxy:3128", Some("skip.example"));
        let plain = Route::new(&Url::parse("http://example.org:8080/x").unwrap(), &p);
        assert_eq!(plain.key(), "http://example.org:8080@http://proxy:3128");
        let auth = plain.proxy_auth().unwrap();
        assert_eq!(auth.credentials, Some(("u".into(), "pw".into())));
        // HTTPS goes through a tunnel: the request itself is origin-form.
        let tunnelled = Route::new(&u, &p);
        assert!(tunnelled.proxy.is_some() && tunnelled.proxy_auth().is_none());
        let bypass = Route::new(&Url::parse("http://skip.example/").unwrap(), &p);
        assert!(bypass.proxy.is_none());

        // Through SOCKS5 a plain request is origin-form too, and the pool
        // keeps it apart from an HTTP proxy at the same address.
        let socks = proxies("socks5h://u:pw@proxy:3128", None);
        let r = Route::new(&Url::parse("http://example.org/x").unwrap(), &socks);
        assert!(r.proxy.is_some() && r.proxy_auth().is_none());
        assert_eq!(r.key(), "http://example.org:80@socks5h://proxy:3128");
    }
}
