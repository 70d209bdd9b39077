//! One-way loopback throughput through `MseStream` after a real handshake,
//! RC4 versus obfuscated-plain: what MSE costs a peer connection.
//!
//! `cargo run --release -p arietta-bt-net --example mse_throughput [MiB]`

use std::time::{Duration, Instant};

use arietta_bt::mse::CryptoLevel;
use arietta_bt_net::{accept, connect, CryptoPolicy};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    for level in [CryptoLevel::Plain, CryptoLevel::Arc4] {
        let secs = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .spawn(move || async move { transfer(level, mib).await })
            .unwrap()
            .join()
            .unwrap();
        println!(
            "{level:?}: {mib} MiB in {:.3} s = {:.0} MiB/s",
            secs.as_secs_f64(),
            mib as f64 / secs.as_secs_f64()
        );
    }
}

async fn transfer(level: CryptoLevel, mib: usize) -> Duration {
    let policy = CryptoPolicy {
        require_crypto: true,
        min_level: level,
        timeout: Duration::from_secs(10),
    };
    let ih = [9u8; 20];
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = glommio::spawn_local(async move {
        let sock = listener.accept().await.unwrap();
        let mut acc = accept(sock, vec![ih], &policy).await.unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0;
        while total < mib << 20 {
            let n = acc.stream.read(&mut buf).await.unwrap();
            assert!(n > 0);
            total += n;
        }
    });
    let sock = TcpStream::connect(addr).await.unwrap();
    let mut c = connect(sock, ih, &[], &policy).await.unwrap();
    let chunk = vec![0x5au8; 256 * 1024];
    let start = Instant::now();
    for _ in 0..(mib * 4) {
        c.stream.write_all(&chunk).await.unwrap();
    }
    c.stream.flush().await.unwrap();
    server.await;
    start.elapsed()
}
