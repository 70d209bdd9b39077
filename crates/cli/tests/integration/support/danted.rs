//! Dante's SOCKS5 server (Debian's dante-server, `danted`) on loopback:
//! unlike microsocks it speaks UDP ASSOCIATE, so the UDP tracker and DHT
//! tests go through it. Its log (`log: connect … iooperation`) names each
//! relayed UDP destination, which is how a test proves the datagrams went
//! through the proxy.
//!
//! danted cannot bind port 0 (its config wants a number), so a free port
//! is picked by binding port 0 and closing, and the start is retried on
//! the rare collision. With `login`, danted's `username` method checks the
//! system user and password that `.ci/run` creates for the SFTP tests
//! ([`super::sshd::USER`]), reading /etc/shadow: that needs root.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::sshd::{is_root, user_exists, USER};
use super::{free_port, require, wait_listening};

/// A running danted, stopped on drop.
pub struct Danted {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Danted {
    /// Starts danted on `127.0.0.1`, asking for a login when `login`.
    /// `Err` says why it cannot run here (not installed; a login proxy
    /// without root or without the SFTP tests' user).
    pub fn start(login: bool) -> Result<Danted, String> {
        if !require("danted") {
            return Err("danted (dante-server) is not installed".into());
        }
        if login && !is_root() {
            return Err("danted's username method needs root to read /etc/shadow".into());
        }
        if login && !user_exists(USER) {
            return Err(format!("user {USER} does not exist (.ci/run creates it)"));
        }
        let dir = tempfile::Builder::new()
            .prefix("arietta-danted")
            .tempdir()
            .expect("tempdir");
        let log = dir.path().join("danted.log");
        let conf = dir.path().join("danted.conf");
        // As root danted wants users to switch to; as anyone else it runs
        // as itself.
        let users = if is_root() {
            "user.privileged: root\nuser.unprivileged: nobody\n"
        } else {
            ""
        };
        let method = if login { "username" } else { "none" };
        for _ in 0..5 {
            let port = free_port();
            std::fs::write(
                &conf,
                format!(
                    "logoutput: {log}\n\
                     internal: 127.0.0.1 port = {port}\n\
                     external: 127.0.0.1\n\
                     clientmethod: none\n\
                     socksmethod: {method}\n\
                     {users}\
                     client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: error\n}}\n\
                     socks pass {{\n  from: 0.0.0.0/0 to: 0.0.0.0/0\n  \
                     command: bind connect udpassociate bindreply udpreply\n  \
                     log: connect disconnect error iooperation\n}}\n",
                    log = log.display()
                ),
            )
            .expect("write danted.conf");
            let mut child = Command::new(super::find_program("danted").expect("danted"))
                .arg("-f")
                .arg(&conf)
                .args(["-N", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start danted");
            if wait_listening(port, Duration::from_secs(10)) {
                return Ok(Danted {
                    child,
                    port,
                    log,
                    _dir: dir,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        Err(format!(
            "danted never listened: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        ))
    }

    /// Everything danted logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log lines of UDP datagrams the client sent through the relay
    /// to port `port` (danted writes `ADDR.PORT`, the destination last,
    /// then the byte count in parentheses).
    pub fn udp_sent_to(&self, port: u16) -> Vec<String> {
        self.udp_lines("udp/udpassociate -:", &format!(".{port} ("))
    }

    /// The log lines of UDP datagrams from port `port` the relay handed
    /// back to the client (the source first).
    pub fn udp_replies_from(&self, port: u16) -> Vec<String> {
        self.udp_lines("udp/udpreply -:", &format!(".{port} "))
    }

    fn udp_lines(&self, kind: &str, addr: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.split_once(kind))
            .filter(|(_, rest)| {
                if kind.contains("reply") {
                    rest.split_whitespace()
                        .next()
                        .is_some_and(|src| format!("{src} ").ends_with(addr))
                } else {
                    rest.contains(addr)
                }
            })
            .map(|(_, rest)| rest.trim().to_owned())
            .collect()
    }
}

impl Drop for Danted {
    fn drop(&mut self) {
        // SIGTERM lets the mother take its children down with it.
        // SAFETY: kill(2) on the pid of a child we spawned and still own.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}
