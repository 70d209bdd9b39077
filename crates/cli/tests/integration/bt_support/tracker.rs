//! opentracker on a free port (HTTP and UDP announce), whitelisting the
//! test's info-hashes, killed when dropped.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{free_tcp_udp_port, Guard};
use crate::support::wait_listening;

/// An opentracker on a free port (TCP and UDP) with its own whitelist.
pub struct Tracker {
    pub port: u16,
    _dir: tempfile::TempDir,
    _child: Guard,
}

impl Tracker {
    pub fn start(info_hashes: &[String]) -> Tracker {
        let dir = tempfile::Builder::new()
            .prefix("arietta-ot")
            .tempdir()
            .unwrap();
        // Debian's opentracker drops privileges: its files must be readable.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let wl = dir.path().join("whitelist");
        std::fs::write(&wl, info_hashes.join("\n") + "\n").unwrap();
        std::fs::set_permissions(&wl, std::fs::Permissions::from_mode(0o644)).unwrap();
        for _ in 0..5 {
            let port = free_tcp_udp_port();
            let conf = dir.path().join("ot.conf");
            std::fs::write(
                &conf,
                format!(
                    "listen.tcp_udp 127.0.0.1:{port}\naccess.whitelist {}\n",
                    wl.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
            let child = Command::new("opentracker")
                .arg("-f")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start opentracker");
            let guard = Guard(child);
            if wait_listening(port, Duration::from_secs(5)) {
                return Tracker {
                    port,
                    _dir: dir,
                    _child: guard,
                };
            }
        }
        panic!("opentracker did not start");
    }

    pub fn http(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    pub fn udp(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }
}
