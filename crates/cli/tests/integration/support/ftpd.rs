//! Real FTP servers on free loopback ports: pyftpdlib, for every test
//! module that needs one (FTP itself, multi-source, web seeds), with each
//! data connection's byte count appended to a file so a test can tell how
//! much this mirror served; and vsftpd.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The non-anonymous login pyftpdlib accepts.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "s3cret";

/// Kills the server process when the test ends, however it ends.
pub struct ServerProcess {
    pub child: Child,
    pub port: u16,
    /// One line per closed data connection: the bytes it sent.
    counts: Option<PathBuf>,
    /// Holds `counts`.
    _dir: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// A process this module did not start, killed on drop.
    pub fn new(child: Child, port: u16) -> ServerProcess {
        ServerProcess {
            child,
            port,
            counts: None,
            _dir: None,
        }
    }

    /// Bytes sent on data connections that have closed (RETR bodies and
    /// listings); 0 for servers without a count.
    pub fn bytes_sent(&self) -> u64 {
        let Some(p) = &self.counts else { return 0 };
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .sum()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The data channel handler records `tot_bytes_sent` once, when it closes
/// (whether the transfer completed or the client aborted it): what the
/// kernel accepted from pyftpdlib, so an aborted segment may count a
/// socket buffer more than the client read.
const PYFTPD_SCRIPT: &str = r#"
import logging, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, DTPHandler, ThrottledDTPHandler
from pyftpdlib.servers import FTPServer
logging.basicConfig(level=logging.WARNING)
root, user, password, rate, host, counts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
auth = DummyAuthorizer()
auth.add_anonymous(root)
auth.add_user(user, password, root, perm="elr")
base = ThrottledDTPHandler if rate > 0 else DTPHandler
class Counted(base):
    _counted = False
    def close(self):
        if not self._counted:
            self._counted = True
            with open(counts, "a") as f:
                f.write("%d\n" % self.tot_bytes_sent)
        super().close()
class Handler(FTPHandler):
    pass
Handler.authorizer = auth
Handler.dtp_handler = Counted
if rate > 0:
    Counted.write_limit = rate
    # sendfile would bypass the throttle (it counts its bytes too).
    Handler.use_sendfile = False
server = FTPServer((host, 0), Handler)
server.max_cons = 0
print(server.socket.getsockname()[1], flush=True)
server.serve_forever()
"#;

/// pyftpdlib serving `root` on 127.0.0.1: anonymous plus [`USER`] /
/// [`PASSWORD`], each data connection limited to `rate` bytes/s (0:
/// unlimited). `None` when python3 cannot import pyftpdlib and the test
/// may skip (see [`super::require`]).
pub fn pyftpd(root: &Path, rate: u64) -> Option<ServerProcess> {
    pyftpd_on(root, rate, "127.0.0.1")
}

/// Like [`pyftpd`], listening on `host` (`::1` for IPv6 tests).
pub fn pyftpd_on(root: &Path, rate: u64, host: &str) -> Option<ServerProcess> {
    if !super::require_python_module("python3", "pyftpdlib") {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("arietta-ftpd")
        .tempdir()
        .expect("tempdir");
    let counts = dir.path().join("bytes_sent");
    let mut child = Command::new("python3")
        .args(["-c", PYFTPD_SCRIPT])
        .arg(root)
        .args([USER, PASSWORD, &rate.to_string(), host])
        .arg(&counts)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pyftpdlib");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read pyftpdlib's port");
    let port = line.trim().parse().expect("pyftpdlib printed its port");
    Some(ServerProcess {
        child,
        port,
        counts: Some(counts),
        _dir: Some(dir),
    })
}

/// vsftpd serving `root` anonymously on a free port, passive and active
/// mode allowed. Works as root (the config then must be root-owned, which a
/// file we create is) and as an ordinary user (`run_as_launching_user`).
pub fn vsftpd(root: &Path, work: &Path) -> Option<ServerProcess> {
    if !super::require("vsftpd") {
        return None;
    }
    let bin = super::find_program("vsftpd").expect("vsftpd was found");
    let empty = work.join("empty");
    std::fs::create_dir_all(&empty).expect("secure_chroot_dir");
    // vsftpd cannot report a port it picked, so take one the OS just
    // handed out; another process grabbing it in between is retried.
    for _ in 0..5 {
        let port = super::free_port();
        let conf = work.join("vsftpd.conf");
        std::fs::write(
            &conf,
            format!(
                "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
                 background=NO\nanonymous_enable=YES\nanon_root={}\nno_anon_password=YES\n\
                 local_enable=NO\nwrite_enable=NO\nseccomp_sandbox=NO\npasv_enable=YES\n\
                 port_enable=YES\nconnect_from_port_20=NO\nrun_as_launching_user=YES\n\
                 secure_chroot_dir={}\nxferlog_enable=NO\nmax_clients=0\nmax_per_ip=0\n",
                root.display(),
                empty.display()
            ),
        )
        .expect("write vsftpd.conf");
        let child = Command::new(&bin)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vsftpd");
        let mut srv = ServerProcess::new(child, port);
        let mut exited = false;
        let greeted = super::wait_until(Duration::from_secs(2), || {
            exited = exited || srv.child.try_wait().ok().flatten().is_some();
            exited || greets(port)
        });
        if greeted && !exited {
            return Some(srv);
        }
        drop(srv);
    }
    panic!("vsftpd did not start");
}

/// Whether an FTP server on `port` sends its 220 greeting.
fn greets(port: u16) -> bool {
    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    let mut b = [0u8; 3];
    c.read_exact(&mut b).is_ok() && &b == b"220"
}
