//! pyftpdlib on a free loopback port, for every test file that needs a
//! real FTP server (FTP itself, multi-source). Each data connection's
//! byte count is appended to a file, so a test can tell how much this
//! mirror served.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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
    /// A process this module did not start (vsftpd), killed on drop.
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
/// unlimited). `None` (with a message) when python3 cannot import
/// pyftpdlib.
pub fn pyftpd(root: &Path, rate: u64) -> Option<ServerProcess> {
    pyftpd_on(root, rate, "127.0.0.1")
}

/// Like [`pyftpd`], listening on `host` (`::1` for IPv6 tests).
pub fn pyftpd_on(root: &Path, rate: u64, host: &str) -> Option<ServerProcess> {
    let has = Command::new("python3")
        .args(["-c", "import pyftpdlib"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if !has {
        eprintln!("skipping: python3 cannot import pyftpdlib (pip install pyftpdlib)");
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
