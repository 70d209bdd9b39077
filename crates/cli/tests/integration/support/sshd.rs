//! A real OpenSSH server for SFTP tests: `/usr/sbin/sshd -D -e` on a free
//! loopback port with its own host key, config and authorized keys in a
//! temp dir, serving `internal-sftp`.
//!
//! sshd must run as root to switch to the login user, and the login user
//! must exist; `.ci/run` creates it ([`USER`] with password [`PASSWORD`]).
//! Where that cannot be had, [`SshServer::start`] says why and the test
//! skips through [`super::require_ok`], so a developer without root still
//! gets a green run; CI runs as root (or with password-less sudo), where
//! the same reason is a failure.

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The system user the tests log in as (created by `.ci/run`).
pub const USER: &str = "arietta-sftp";
/// Its password (set by `.ci/run` with chpasswd).
pub const PASSWORD: &str = "arietta-sftp-pw";

const SSHD: &str = "/usr/sbin/sshd";

pub struct SshServer {
    pub port: u16,
    child: Child,
    /// Holds the host key, config and log; served files go here too.
    pub dir: tempfile::TempDir,
    log: PathBuf,
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn sudo_works() -> bool {
    Command::new("sudo")
        .args(["-n", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .is_ok_and(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

/// Runs `ssh-keygen` to make an unencrypted ed25519 key pair at `path`.
pub fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "arietta-test", "-f"])
        .arg(path)
        .status()
        .expect("run ssh-keygen");
    assert!(st.success(), "ssh-keygen failed");
}

impl SshServer {
    /// Starts sshd, or returns why it cannot run here.
    pub fn start() -> Result<SshServer, String> {
        Self::start_with("")
    }

    /// Like [`SshServer::start`] with `extra` config lines, which win over
    /// the defaults (sshd takes the first value of each keyword).
    pub fn start_with(extra: &str) -> Result<SshServer, String> {
        if !Path::new(SSHD).exists() {
            return Err(format!(
                "{SSHD} is not installed (apt-get install openssh-server)"
            ));
        }
        if Command::new("ssh-keygen").arg("-?").output().is_err() {
            return Err("ssh-keygen is not installed".into());
        }
        if !user_exists(USER) {
            return Err(format!("user {USER} does not exist (.ci/run creates it)"));
        }
        let sudo = if is_root() {
            false
        } else if sudo_works() {
            true
        } else {
            return Err("sshd needs root (or password-less sudo) to switch users".into());
        };
        let dir = tempfile::Builder::new()
            .prefix("arietta-sshd")
            .tempdir()
            .expect("tempdir");
        // The login user reads the served files and the authorized keys.
        chmod(dir.path(), 0o755);
        let host_key = dir.path().join("host_ed25519");
        keygen(&host_key);
        let keys = dir.path().join("authorized_keys");
        std::fs::write(&keys, "").expect("authorized_keys");
        chmod(&keys, 0o644);
        let port = super::free_port();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "{extra}\n\
                 Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {hk}\n\
                 PidFile none\n\
                 UsePAM no\n\
                 PasswordAuthentication yes\n\
                 KbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\n\
                 AuthorizedKeysFile {keys}\n\
                 StrictModes no\n\
                 AllowUsers {USER}\n\
                 PermitRootLogin no\n\
                 MaxStartups 100\n\
                 MaxSessions 100\n\
                 LogLevel VERBOSE\n\
                 Subsystem sftp internal-sftp -l INFO\n",
                hk = host_key.display(),
                keys = keys.display(),
            ),
        )
        .expect("sshd_config");
        let log = dir.path().join("sshd.log");
        let log_file = std::fs::File::create(&log).expect("sshd log");
        let mut cmd = if sudo {
            let _ = Command::new("sudo")
                .args(["-n", "mkdir", "-p", "/run/sshd"])
                .status();
            let mut c = Command::new("sudo");
            c.args(["-n", SSHD]);
            c
        } else {
            let _ = std::fs::create_dir_all("/run/sshd");
            Command::new(SSHD)
        };
        let child = cmd
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start sshd: {e}"))?;
        let mut srv = SshServer {
            port,
            child,
            dir,
            log,
        };
        srv.wait_ready()?;
        Ok(srv)
    }

    /// Waits for the SSH banner (sshd listens a few ms after start).
    fn wait_ready(&mut self) -> Result<(), String> {
        let port = self.port;
        let mut exited = None;
        let ready = super::wait_until(Duration::from_secs(10), || {
            exited = exited.or(self.child.try_wait().ok().flatten());
            exited.is_some() || banner(port)
        });
        match exited {
            Some(st) => Err(format!("sshd exited ({st}):\n{}", self.log())),
            None if ready => Ok(()),
            None => Err(format!("sshd did not answer within 10 s:\n{}", self.log())),
        }
    }

    /// Lets the key pair at `private` (with `private.pub`) log in as [`USER`].
    pub fn authorize(&self, private: &Path) {
        let mut pub_path = private.as_os_str().to_owned();
        pub_path.push(".pub");
        let key = std::fs::read_to_string(PathBuf::from(pub_path)).expect("read public key");
        let keys = self.dir.path().join("authorized_keys");
        let mut all = std::fs::read_to_string(&keys).unwrap_or_default();
        all.push_str(&key);
        std::fs::write(&keys, all).expect("write authorized_keys");
    }

    /// Puts `data` at `name` in the served dir (readable by [`USER`]) and
    /// returns its absolute remote path.
    pub fn add_file(&self, name: &str, data: &[u8]) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, data).expect("write served file");
        chmod(&p, 0o644);
        p.to_str().expect("utf-8 path").to_owned()
    }

    /// The server's public host key blob (what the digests are taken of).
    pub fn host_key_blob(&self) -> Vec<u8> {
        let text = std::fs::read_to_string(self.dir.path().join("host_ed25519.pub"))
            .expect("host public key");
        let b64 = text.split_whitespace().nth(1).expect("key field");
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64 key")
    }

    /// `sftp://USER:PASSWORD@127.0.0.1:PORT` + `path`.
    pub fn url_with_password(&self, path: &str) -> String {
        format!("sftp://{USER}:{PASSWORD}@127.0.0.1:{}{path}", self.port)
    }

    /// sshd's log so far (auth decisions, sftp-server's per-file byte counts).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Whether an SSH server on `port` sends its version banner.
fn banner(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut b = [0u8; 8];
    s.read_exact(&mut b).is_ok() && b.starts_with(b"SSH-")
}

impl Drop for SshServer {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: under sudo only a catchable signal is
        // passed on to sshd.
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}
