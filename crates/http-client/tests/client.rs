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

/// TLS options that trust `srv`'s test CA (kept in the returned folder).
fn trusting(srv: &TestServer) -> (tempfile::TempDir, TlsOptions) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, srv.ca_pem().unwrap()).unwrap();
    let tls = TlsOptions {
        ca_certificate: Some(ca),
        ..TlsOptions::default()
    };
    (dir, tls)
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
    let (_dir, tls) = trusting(&srv);
    let url = srv.url("/t");
    let body = run(move || async move {
        let client = HttpClient::new(ClientConfig {
            tls,
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

/// A CONNECT-only proxy on a thread: answers 200 to the first request head
/// and then relays bytes both ways to the host:port it names. Returns its
/// port and the request heads it saw.
fn connect_proxy() -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let target = head.split(' ').nth(1).unwrap_or("").to_owned();
            let _ = tx.send(head);
            let Ok(server) = TcpStream::connect(target) else {
                let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                continue;
            };
            let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                })
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    (port, rx)
}

#[test]
fn https_through_a_connect_tunnel() {
    let srv = TestServer::start_tls();
    srv.add_file("/t", b"tunnelled".to_vec());
    let (_dir, tls) = trusting(&srv);
    let (proxy_port, heads) = connect_proxy();
    let all = format!("http://u:pw@127.0.0.1:{proxy_port}");
    let proxies = arietta_http::ProxySettings::from_env_and_options(
        &|_| None,
        Some(&all),
        None,
        None,
        None,
        None,
        None,
    )
    .unwrap();
    let url = srv.url("/t");
    let body = run(move || async move {
        let client = HttpClient::new(ClientConfig {
            proxies,
            tls,
            ..ClientConfig::default()
        });
        client.get_bytes(&Url::parse(&url).unwrap(), 100).await
    })
    .unwrap();
    assert_eq!(body, b"tunnelled");
    let head = heads.recv().unwrap();
    let want = format!("CONNECT 127.0.0.1:{} HTTP/1.1\r\n", srv.port());
    assert!(head.starts_with(&want), "{head}");
    assert!(head.contains("Proxy-Authorization: Basic "), "{head}");
    // Inside the tunnel the request is origin-form, as to the server itself.
    assert_eq!(srv.requests("/t")[0].target, "/t");
}
