//! Serves a directory over HTTP for perf runs and manual poking.
//!
//! `arietta-testserver [--throttle BYTES_PER_SEC] [--tls] DIR` prints
//! `PORT=<n>` on stdout (and, with `--tls`, `CA=<path>` of the CA PEM)
//! then serves until killed.

use std::io::Write;
use std::process::ExitCode;

use arietta_testserver::TestServer;

fn usage() -> ExitCode {
    eprintln!("usage: arietta-testserver [--throttle BYTES_PER_SEC] [--tls] DIR");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut throttle = None;
    let mut tls = false;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--throttle" => match args.next().and_then(|v| v.parse::<u64>().ok()) {
                Some(v) => throttle = Some(v),
                None => return usage(),
            },
            "--tls" => tls = true,
            "-h" | "--help" => return usage(),
            _ if dir.is_none() && !a.starts_with("--") => dir = Some(a),
            _ => return usage(),
        }
    }
    let Some(dir) = dir else {
        return usage();
    };
    let server = if tls {
        TestServer::start_tls()
    } else {
        TestServer::start()
    };
    server.add_dir("/", &dir);
    server.set_throttle(throttle);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "PORT={}", server.port());
    if let Some(pem) = server.ca_pem() {
        let path =
            std::env::temp_dir().join(format!("arietta-testserver-ca-{}.pem", server.port()));
        if std::fs::write(&path, pem).is_ok() {
            let _ = writeln!(out, "CA={}", path.display());
        }
    }
    let _ = out.flush();
    drop(out);
    loop {
        std::thread::park();
    }
}
