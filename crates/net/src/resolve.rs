//! Host name resolution: IP literals short-circuit, everything else goes to the
//! system resolver (`getaddrinfo`, so `/etc/hosts`, nsswitch and search domains
//! behave exactly as for other programs) on glommio's blocking thread pool,
//! or, with `--async-dns-server`, to the servers given (see [`crate::dns`]).
//!
//! Results are cached per core for [`CACHE_TTL`]: a mirror run fetching
//! thousands of files from one host must not pay a lookup per connection, and
//! concurrent lookups of the same host on one core are coalesced into one
//! `getaddrinfo` call (16 connections opening at once would otherwise issue 16).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::NetError;

/// Which address families a connection may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FamilyPref {
    /// IPv6 and IPv4, in the resolver's order.
    #[default]
    Any,
    /// IPv4 only (aria2 `--disable-ipv6`).
    V4Only,
    /// IPv6 only.
    V6Only,
}

impl FamilyPref {
    pub(crate) fn allows(self, ip: &IpAddr) -> bool {
        match self {
            FamilyPref::Any => true,
            FamilyPref::V4Only => ip.is_ipv4(),
            FamilyPref::V6Only => ip.is_ipv6(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            FamilyPref::Any => "no address",
            FamilyPref::V4Only => "no IPv4 address",
            FamilyPref::V6Only => "no IPv6 address",
        }
    }
}

/// How long a successful lookup is reused. getaddrinfo does not expose DNS
/// TTLs; one minute is short enough to follow DNS-based failover.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Entries beyond this are evicted (expired first, then the oldest), so a
/// recursive crawl over many hosts cannot grow the cache without bound.
const CACHE_CAPACITY: usize = 1024;

/// Cached as socket addresses (port 0), not bare IPs, so that an IPv6 scope
/// id from getaddrinfo (`fe80::1%eth0`) survives.
type LookupResult = Result<Rc<[SocketAddr]>, String>;

/// A lookup in progress that later callers for the same host wait on.
#[derive(Default)]
struct Pending {
    result: Option<LookupResult>,
    waiters: Vec<Waker>,
}

#[derive(Default)]
struct Cache {
    fresh: HashMap<String, (Instant, Rc<[SocketAddr]>)>,
    pending: HashMap<String, Rc<RefCell<Pending>>>,
}

impl Cache {
    fn get(&mut self, host: &str, now: Instant) -> Option<Rc<[SocketAddr]>> {
        match self.fresh.get(host) {
            Some((at, ips)) if now.saturating_duration_since(*at) < CACHE_TTL => Some(ips.clone()),
            Some(_) => {
                self.fresh.remove(host);
                None
            }
            None => None,
        }
    }

    fn insert(&mut self, host: String, ips: Rc<[SocketAddr]>, now: Instant) {
        if self.fresh.len() >= CACHE_CAPACITY {
            self.fresh
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < CACHE_TTL);
        }
        if self.fresh.len() >= CACHE_CAPACITY {
            if let Some(oldest) = self
                .fresh
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(h, _)| h.clone())
            {
                self.fresh.remove(&oldest);
            }
        }
        self.fresh.insert(host, (now, ips));
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Drops this core's cached lookups (e.g. after the network changed).
pub fn clear_cache() {
    CACHE.with(|c| c.borrow_mut().fresh.clear());
}

/// Strips the brackets of a URL-style IPv6 literal (`[::1]` → `::1`).
fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Resolves `host` to the socket addresses to try, in the resolver's order,
/// keeping only the families `family` allows.
///
/// Must run inside a glommio executor (the lookup uses its blocking pool).
/// An empty result is an error, so callers can always try `addrs[0]`.
pub async fn resolve(
    host: &str,
    port: u16,
    family: FamilyPref,
) -> Result<Vec<SocketAddr>, NetError> {
    let name = unbracket(host);
    let fail = |reason: String| NetError::Resolve {
        host: host.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(fail("empty host name".into()));
    }
    let found: Rc<[SocketAddr]> = match name.parse::<IpAddr>() {
        Ok(ip) => Rc::from([SocketAddr::new(ip, 0)]),
        Err(_) => lookup(name).await.map_err(fail)?,
    };
    let addrs: Vec<SocketAddr> = found
        .iter()
        .filter(|a| family.allows(&a.ip()))
        .map(|a| {
            let mut a = *a;
            a.set_port(port);
            a
        })
        .collect();
    if addrs.is_empty() {
        return Err(fail(family.describe().into()));
    }
    Ok(addrs)
}

/// Cached, coalesced getaddrinfo for one name. Returns the unique addresses in
/// the resolver's order.
async fn lookup(name: &str) -> LookupResult {
    // DNS names are case-insensitive; do not cache "Example.com" twice.
    let key = name.to_ascii_lowercase();
    let now = Instant::now();
    let pending = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(ips) = c.get(&key, now) {
            return Err(ips);
        }
        if let Some(p) = c.pending.get(&key) {
            return Ok((p.clone(), false));
        }
        let p = Rc::new(RefCell::new(Pending::default()));
        c.pending.insert(key.clone(), p.clone());
        Ok((p, true))
    });
    let pending = match pending {
        Ok((p, true)) => {
            // The lookup runs in its own task so that a caller that gives
            // up (its download was paused) does not strand the others
            // waiting on it. Spawned outside the cache's borrow: the task
            // takes it again when done.
            glommio::spawn_local(run_lookup(key.clone(), p.clone())).detach();
            p
        }
        Ok((p, false)) => p,
        Err(cached) => return Ok(cached),
    };
    poll_fn(|cx| {
        let mut p = pending.borrow_mut();
        match &p.result {
            Some(r) => Poll::Ready(r.clone()),
            None => {
                if !p.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    p.waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    })
    .await
}

async fn run_lookup(key: String, pending: Rc<RefCell<Pending>>) {
    let query = key.clone();
    let result = match crate::dns::dns_servers() {
        Some(cfg) => crate::dns::lookup(cfg, &query).await,
        None => {
            glommio::executor()
                .spawn_blocking(move || system_lookup(&query))
                .await
        }
    };
    let result: LookupResult = result.map(Rc::from);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.pending.remove(&key);
        if let Ok(ips) = &result {
            c.insert(key, ips.clone(), Instant::now());
        }
    });
    let waiters = {
        let mut p = pending.borrow_mut();
        p.result = Some(result);
        std::mem::take(&mut p.waiters)
    };
    waiters.into_iter().for_each(Waker::wake);
}

/// getaddrinfo's complaint in the words aria2's resolver (c-ares) uses
/// for the same outcome, which is what aria2c prints: a name that does
/// not exist is "Domain name not found".
fn gai_reason(std_text: &str) -> String {
    let gai = std_text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(std_text);
    match gai {
        "Name or service not known" | "No address associated with hostname" => {
            "Domain name not found".into()
        }
        "Temporary failure in name resolution" => "Timeout while contacting DNS servers".into(),
        other => other.into(),
    }
}

/// The blocking part: getaddrinfo through std, deduplicated (getaddrinfo
/// repeats addresses once per socket type on some libcs).
fn system_lookup(name: &str) -> Result<Vec<SocketAddr>, String> {
    let addrs = (name, 0u16)
        .to_socket_addrs()
        .map_err(|e| gai_reason(&e.to_string()))?;
    let mut ips: Vec<SocketAddr> = Vec::new();
    for a in addrs {
        if !ips.contains(&a) {
            ips.push(a);
        }
    }
    if ips.is_empty() {
        return Err("no address returned".into());
    }
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::happy_eyeballs::test_executor;

    #[test]
    fn getaddrinfo_failures_read_as_aria2s() {
        assert_eq!(
            gai_reason("failed to lookup address information: Name or service not known"),
            "Domain name not found"
        );
        assert_eq!(gai_reason("something else"), "something else");
    }

    #[test]
    fn literals_short_circuit() {
        test_executor(|| async {
            let v4 = resolve("127.0.0.1", 80, FamilyPref::Any).await.unwrap();
            assert_eq!(v4, vec!["127.0.0.1:80".parse().unwrap()]);
            let v6 = resolve("[::1]", 443, FamilyPref::Any).await.unwrap();
            assert_eq!(v6, vec!["[::1]:443".parse().unwrap()]);
            let bare = resolve("::1", 443, FamilyPref::V6Only).await.unwrap();
            assert_eq!(bare, v6);
            let err = resolve("::1", 443, FamilyPref::V4Only).await.unwrap_err();
            assert_eq!(err.aria2_exit_code(), 19);
            assert!(resolve("", 1, FamilyPref::Any).await.is_err());
            assert!(resolve("[]", 1, FamilyPref::Any).await.is_err());
        });
    }

    #[test]
    fn localhost_resolves_and_caches() {
        test_executor(|| async {
            clear_cache();
            let all = resolve("localhost", 8080, FamilyPref::Any).await.unwrap();
            assert!(!all.is_empty());
            assert!(all.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
            let v4 = resolve("LocalHost", 1, FamilyPref::V4Only).await.unwrap();
            assert!(v4.contains(&"127.0.0.1:1".parse().unwrap()));
            assert!(v4.iter().all(|a| a.is_ipv4()));
            // The second lookup came from the cache under the lowercased name.
            CACHE.with(|c| assert!(c.borrow().fresh.contains_key("localhost")));
        });
    }

    #[test]
    fn concurrent_lookups_coalesce() {
        test_executor(|| async {
            clear_cache();
            let tasks: Vec<_> = (0..8)
                .map(|_| glommio::spawn_local(resolve("localhost", 80, FamilyPref::Any)))
                .collect();
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.unwrap());
            }
            assert!(results.windows(2).all(|w| w[0] == w[1]));
            CACHE.with(|c| assert!(c.borrow().pending.is_empty()));
        });
    }

    #[test]
    fn scoped_ipv6_keeps_its_zone() {
        test_executor(|| async {
            // Not an IpAddr literal for std, so it goes through getaddrinfo,
            // which turns the zone into a scope id that must reach connect().
            // A libc without zone-id parsing is a property of the host, not
            // a peer program an install step provides: skip, even in CI.
            let Ok(addrs) = resolve("[fe80::1%lo]", 80, FamilyPref::Any).await else {
                eprintln!("resolver here does not support zone ids; skipped");
                return;
            };
            match addrs.first() {
                Some(SocketAddr::V6(a)) => {
                    assert_ne!(a.scope_id(), 0);
                    assert_eq!(a.port(), 80);
                }
                other => panic!("unexpected {other:?}"),
            }
        });
    }

    #[test]
    fn unknown_host_is_resolve_error() {
        test_executor(|| async {
            // RFC 6761 reserves .invalid: never resolves, and fails fast.
            let err = resolve("no-such-host.invalid", 80, FamilyPref::Any)
                .await
                .unwrap_err();
            assert!(matches!(err, NetError::Resolve { .. }), "{err}");
            assert_eq!(err.aria2_exit_code(), 19);
        });
    }

    #[test]
    fn cache_evicts_expired_then_oldest() {
        let mut c = Cache::default();
        let t0 = Instant::now();
        let ips: Rc<[SocketAddr]> = Rc::from(["127.0.0.1:0".parse::<SocketAddr>().unwrap()]);
        for i in 0..CACHE_CAPACITY {
            c.insert(
                format!("h{i}"),
                ips.clone(),
                t0 + Duration::from_millis(i as u64),
            );
        }
        c.insert("new".into(), ips.clone(), t0 + Duration::from_secs(1));
        assert_eq!(c.fresh.len(), CACHE_CAPACITY);
        assert!(!c.fresh.contains_key("h0"));
        assert!(c.get("new", t0 + Duration::from_secs(2)).is_some());
        assert!(c.get("new", t0 + Duration::from_secs(120)).is_none());
    }
}
