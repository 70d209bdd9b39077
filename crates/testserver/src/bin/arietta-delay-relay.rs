//! A TCP relay that delays every byte by a fixed time in each direction:
//! the perf scripts' stand-in for a network with a round-trip time, where
//! the kernel has no netem qdisc (`tc qdisc add dev lo root netem …`
//! answers "Specified qdisc kind is unknown" on our build machines).
//!
//! `arietta-delay-relay LISTEN_PORT TARGET_PORT DELAY_MS` listens on
//! 127.0.0.1:LISTEN_PORT, prints `ready` on stdout, and relays each
//! connection to 127.0.0.1:TARGET_PORT. Bytes read on one side are written
//! to the other DELAY_MS after they were read, in order, so a request and
//! its answer take 2 × DELAY_MS longer than on plain loopback. Bandwidth
//! stays loopback's: a far server on a fast path, where the number of
//! round trips a protocol needs is what shows. Bytes pass untouched (TLS
//! included). Threads, not an event loop: a relay's cost must stay well
//! below that of the clients it measures, and a perf run has tens of
//! connections, not thousands.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn usage() -> ExitCode {
    eprintln!("usage: arietta-delay-relay LISTEN_PORT TARGET_PORT DELAY_MS");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, target, delay] = args.as_slice() else {
        return usage();
    };
    let (Ok(listen), Ok(target), Ok(delay)) = (
        listen.parse::<u16>(),
        target.parse::<u16>(),
        delay.parse::<f64>(),
    ) else {
        return usage();
    };
    if !(0.0..=60_000.0).contains(&delay) {
        return usage();
    }
    let delay = Duration::from_secs_f64(delay / 1000.0);
    let server = match TcpListener::bind(("127.0.0.1", listen)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("arietta-delay-relay: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    for client in server.incoming().flatten() {
        thread::spawn(move || relay(client, target, delay));
    }
    ExitCode::SUCCESS
}

/// Relays `client` to the target both ways until both sides close.
fn relay(client: TcpStream, target: u16, delay: Duration) {
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    for s in [&client, &upstream] {
        let _ = s.set_nodelay(true);
    }
    let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let back = thread::spawn(move || pump(u2, c2, delay));
    pump(client, upstream, delay);
    let _ = back.join();
}

/// Copies `src` to `dst`, each read written `delay` after it was read; the
/// end of `src` reaches `dst` (as a FIN) just as late.
fn pump(mut src: TcpStream, dst: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = thread::spawn(move || {
        let mut dst = dst;
        for (due, data) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if data.is_empty() {
                break;
            }
            if dst.write_all(&data).is_err() {
                break;
            }
        }
        let _ = dst.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf).unwrap_or(0);
        let _ = tx.send((Instant::now() + delay, buf[..n].to_vec()));
        if n == 0 {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}
