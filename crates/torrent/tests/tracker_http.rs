//! HTTP(S) announces through the download's HTTP client, against the
//! in-tree test server: an HTTPS tracker (trusted through
//! `--ca-certificate`), and a plain tracker reached through an HTTP proxy.

use std::net::SocketAddr;
use std::time::Duration;

use arietta_http::ProxySettings;
use arietta_http_client::{ClientConfig, HttpClient};
use arietta_net::TlsOptions;
use arietta_testserver::{Route, TestServer};
use arietta_torrent::{announce_one, AnnounceParams, AnnounceReply};

/// A tracker's answer: 1800 s interval, one compact peer 10.1.2.3:6881.
fn tracker_reply() -> Vec<u8> {
    let mut b = b"d8:completei3e10:incompletei4e8:intervali1800e5:peers6:".to_vec();
    b.extend_from_slice(&[10, 1, 2, 3, 0x1a, 0xe1]);
    b.push(b'e');
    b
}

fn params(http: HttpClient) -> AnnounceParams {
    AnnounceParams {
        info_hash: [7; 20],
        peer_id: *b"-AR0000-abcdefghijkl",
        port: 6881,
        uploaded: 0,
        downloaded: 0,
        left: 100,
        event: None,
        key: 1,
        ip: None,
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
        http,
        udp_proxy: None,
    }
}

/// Runs `announce_one(url, p)` on a glommio executor of its own.
fn announce(url: String, p: AnnounceParams) -> Result<AnnounceReply, String> {
    glommio::LocalExecutorBuilder::default()
        .spawn(move || async move { announce_one(&url, &p).await })
        .expect("executor")
        .join()
        .expect("join")
}

fn check_reply(r: &AnnounceReply) {
    assert_eq!(r.interval, Some(Duration::from_secs(1800)));
    assert_eq!(
        r.peers,
        vec!["10.1.2.3:6881".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!((r.seeders, r.leechers), (Some(3), Some(4)));
}

#[test]
fn https_tracker_announce() {
    let srv = TestServer::start_tls();
    srv.add_route("/announce", Route::new(tracker_reply()));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, srv.ca_pem().unwrap()).unwrap();
    let cfg = ClientConfig {
        user_agent: "tracker-test/1".into(),
        headers: vec![("X-Test".into(), "yes".into())],
        tls: TlsOptions {
            ca_certificate: Some(ca),
            ..TlsOptions::default()
        },
        ..ClientConfig::default()
    };
    let r = announce(srv.url("/announce"), params(HttpClient::new(cfg))).unwrap();
    check_reply(&r);
    let reqs = srv.requests("/announce");
    assert_eq!(reqs.len(), 1);
    let header = |n: &str| {
        reqs[0]
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("user-agent").as_deref(), Some("tracker-test/1"));
    assert_eq!(header("x-test").as_deref(), Some("yes"));
    assert!(
        reqs[0].target.contains("info_hash=%07%07"),
        "{}",
        reqs[0].target
    );
}

#[test]
fn https_tracker_with_an_untrusted_certificate_fails() {
    let srv = TestServer::start_tls();
    srv.add_route("/announce", Route::new(tracker_reply()));
    let e = announce(srv.url("/announce"), params(HttpClient::default())).unwrap_err();
    assert!(e.contains("TLS"), "{e}");
    assert!(srv.requests("/announce").is_empty());
}

#[test]
fn http_tracker_through_a_proxy() {
    // The test server answers absolute-form requests by their path, so it
    // stands in for the proxy: the tracker's own host never resolves.
    let proxy = TestServer::start();
    proxy.add_route("/announce", Route::new(tracker_reply()));
    let all = format!("http://user:pw@127.0.0.1:{}", proxy.port());
    let proxies =
        ProxySettings::from_env_and_options(&|_| None, Some(&all), None, None, None, None, None)
            .unwrap();
    let cfg = ClientConfig {
        proxies,
        ..ClientConfig::default()
    };
    let url = "http://tracker.invalid:6969/announce".to_string();
    let r = announce(url, params(HttpClient::new(cfg))).unwrap();
    check_reply(&r);
    let reqs = proxy.requests("/announce");
    assert_eq!(reqs.len(), 1);
    assert!(
        reqs[0]
            .target
            .starts_with("http://tracker.invalid:6969/announce?"),
        "{}",
        reqs[0].target
    );
    assert!(reqs[0]
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("proxy-authorization") && v.starts_with("Basic ")));
}
