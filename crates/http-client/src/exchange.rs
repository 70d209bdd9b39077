//! One request/response exchange: the request head out, the response head
//! back, the connection left open at the body for the caller.

use std::future::Future;
use std::time::Duration;

use arietta_http::{HttpError, ResponseHead};
use futures_lite::future;

use crate::{dial, ClientError, DialOptions, HttpConnection, Route};

/// Sends `req` and reads the response head, on `pooled` when given, else on
/// a new connection to `route`. `timeout` bounds the send and the wait for
/// the head (zero: no limit).
///
/// A pooled connection may have been closed by the server meanwhile: one
/// failure on it is not the server's fault, so the request is sent once
/// more on a new connection.
pub async fn exchange(
    route: &Route,
    o: &DialOptions<'_>,
    pooled: Option<HttpConnection>,
    req: &[u8],
    timeout: Duration,
) -> Result<(ResponseHead, HttpConnection), ClientError> {
    let mut pooled = pooled;
    loop {
        let reused = pooled.is_some();
        let mut conn = match pooled.take() {
            Some(c) => c,
            None => dial(route, o).await?,
        };
        if tracing::enabled!(tracing::Level::INFO) {
            tracing::info!("Requesting:\n{}", loggable_request(req));
        }
        let sent = with_timeout(timeout, async {
            conn.send(req).await?;
            conn.read_head().await
        })
        .await;
        match sent {
            Ok(head) => return Ok((head, conn)),
            Err(ClientError::Http(HttpError::ConnectionClosed | HttpError::Io(_))) if reused => {
                continue
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sends `req` behind the response still being read on `conn` (HTTP/1.1
/// pipelining); [`read_ahead`] reads its answer once that body is done.
pub async fn send_ahead(
    conn: &mut HttpConnection,
    req: &[u8],
    timeout: Duration,
) -> Result<(), ClientError> {
    if tracing::enabled!(tracing::Level::INFO) {
        tracing::info!("Requesting (pipelined):\n{}", loggable_request(req));
    }
    with_timeout(timeout, conn.send(req)).await
}

/// Reads the head answering a request sent with [`send_ahead`]. A server
/// that closed the connection instead (it does not pipeline) fails with
/// [`HttpError::ConnectionClosed`]: send the request again on a new one.
pub async fn read_ahead(
    conn: &mut HttpConnection,
    timeout: Duration,
) -> Result<ResponseHead, ClientError> {
    with_timeout(timeout, conn.read_head()).await
}

/// Runs `fut`, failing with [`ClientError::Timeout`] after `d` (zero: no
/// limit, as aria2's `--timeout=0`).
pub async fn with_timeout<T, E: Into<ClientError>>(
    d: Duration,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, ClientError> {
    if d.is_zero() {
        return fut.await.map_err(Into::into);
    }
    future::or(async { fut.await.map_err(Into::into) }, async {
        glommio::timer::sleep(d).await;
        Err(ClientError::Timeout(d.as_secs()))
    })
    .await
}

/// A request head as aria2 logs it: as sent, credentials starred out
/// (`Authorization: Basic ********`, aria2's `eraseConfidentialInfo`).
fn loggable_request(req: &[u8]) -> String {
    let text = String::from_utf8_lossy(req);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let lower = line.to_ascii_lowercase();
        let secret = ["authorization: ", "proxy-authorization: "]
            .iter()
            .find(|p| lower.starts_with(*p));
        match secret {
            Some(p) => {
                let (name, value) = line.split_at(p.len());
                let scheme = value.split(' ').next().unwrap_or("");
                out.push_str(name);
                out.push_str(scheme);
                out.push_str(" ********\r\n");
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_starred_out_of_the_logged_request() {
        let req = b"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dXNlcjpwYXNz\r\nproxy-authorization: Basic eA==\r\n\r\n";
        assert_eq!(
            loggable_request(req),
            "GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic ********\r\nproxy-authorization: Basic ********\r\n\r\n"
        );
    }
}
