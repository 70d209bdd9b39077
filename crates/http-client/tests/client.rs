//! The client against the in-tree test server: keep-alive reuse, status
//! and size failures, HTTPS.

use std::future::Future;

use arietta_http::HttpError;
use arietta_http_client::{ClientConfig, ClientError, HttpClient, Response};
use arietta_net::TlsOptions;
use arietta_testserver::{Route, TestServer};
use url::Url;

fn run<T: Send + 'static, F: Future<Output = T> + 'static>(
    f: impl FnOnce() -> F + Send + 'static,
) -> T {
    glommio::LocalExecutorBuilder::default()
        .spawn(f)
        .expect("executor")
        .join()
        .expect("join")
}

#[test]
fn ranged_gets_reuse_the_kept_connection() {
    let srv = TestServer::start();
    srv.add_file("/f", (0..=255u8).collect::<Vec<u8>>());
    let url = Url::parse(&srv.url("/f")).unwrap();
    let got = run(move || async move {
        let client = HttpClient::default();
        let route = client.route(&url);
        let mut kept = None;
        let mut got = Vec::new();
        for start in [0u64, 100] {
            let mut spec = client.request(&route, &url);
            spec.range = Some((start, Some(start + 9)));
            let Response { head, mut conn } = client.send(&route, &spec, kept.take()).await?;
            assert_eq!(head.status, 206);
            let mut body = Vec::new();
            conn.http.read_body_to_end(&mut body, 100).await?;
            got.push(body);
            kept = Some(conn);
        }
        Ok::<_, ClientError>(got)
    })
    .unwrap();
    assert_eq!(got[0], (0..10).collect::<Vec<u8>>());
    assert_eq!(got[1], (100..110).collect::<Vec<u8>>());
    let reqs = srv.requests("/f");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].connection, reqs[1].connection, "keep-alive");
}

#[test]
fn get_bytes_fails_on_status_and_size() {
    let srv = TestServer::start();
    srv.add_route("/gone", Route::new("nope").status(404));
    srv.add_file("/big", vec![1u8; 1000]);
    let (gone, big) = (srv.url("/gone"), srv.url("/big"));
    let (gone, big) = run(move || async move {
        let client = HttpClient::default();
        let gone = client.get_bytes(&Url::parse(&gone).unwrap(), 100).await;
        let big = client.get_bytes(&Url::parse(&big).unwrap(), 100).await;
        (gone, big)
    });
    assert!(matches!(
        gone,
        Err(ClientError::Http(HttpError::Status { status: 404 }))
    ));
    assert!(matches!(
        big,
        Err(ClientError::Http(HttpError::BodyTooLarge { .. }))
    ));
}

#[test]
fn https_get_with_the_test_ca() {
    let srv = TestServer::start_tls();
    srv.add_file("/t", b"hello".to_vec());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, srv.ca_pem().unwrap()).unwrap();
    let url = srv.url("/t");
    let body = run(move || async move {
        let client = HttpClient::new(ClientConfig {
            tls: TlsOptions {
                ca_certificate: Some(ca),
                ..TlsOptions::default()
            },
            ..ClientConfig::default()
        });
        client.get_bytes(&Url::parse(&url).unwrap(), 100).await
    })
    .unwrap();
    assert_eq!(body, b"hello");
}

#[test]
fn other_schemes_are_refused() {
    let r = run(|| async {
        let url = Url::parse("ftp://example.org/x").unwrap();
        HttpClient::default().get_bytes(&url, 10).await
    });
    assert!(matches!(r, Err(ClientError::Unsupported(_))));
}
