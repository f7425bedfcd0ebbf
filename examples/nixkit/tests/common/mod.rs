//! Helpers shared by the tests that need remote machines: a private OpenSSH server
//! (Debian's `sshd`) on a loopback port with host and user keys of its own, whose sessions
//! find nixkit as `nix-store` and `nix-daemon`.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn nixkit() -> &'static str {
    env!("CARGO_BIN_EXE_nixkit")
}

/// A private OpenSSH server whose sessions find nixkit as `nix-store` and `nix-daemon`.
pub struct Sshd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub user: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    /// An sshd whose sessions find nixkit as `nix-store` and `nix-daemon`, on a store of
    /// their own.
    pub fn start() -> Option<Self> {
        Self::start_with(|d| {
            format!(
                "PATH={d}/bin:/usr/bin:/bin NIXKIT_STORE={d}/remote",
                d = d.display()
            )
        })
    }

    /// An sshd whose sessions get the environment `setenv(dir)` (`NAME=VALUE ...`).
    pub fn start_with(setenv: impl FnOnce(&Path) -> String) -> Option<Self> {
        if !Path::new("/usr/sbin/sshd").exists() || !Path::new("/usr/bin/ssh-keygen").exists() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host_key", "id"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .unwrap()
                .success();
            assert!(ok);
        }
        std::fs::copy(d.join("id.pub"), d.join("authorized_keys")).unwrap();
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        for name in ["nix-store", "nix-daemon"] {
            std::os::unix::fs::symlink(nixkit(), bin.join(name)).unwrap();
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n\
             SetEnv {env}\n",
            d = d.display(),
            env = setenv(d),
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let s = Sshd {
            child,
            dir,
            port,
            user,
        };
        let start = Instant::now();
        loop {
            if s.ssh()
                .arg("true")
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|st| st.success())
            {
                return Some(s);
            }
            if start.elapsed() > Duration::from_secs(15) {
                eprintln!("skipped: the private sshd did not accept a login");
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn ssh_opts(&self) -> String {
        format!(
            "-p {} -i {}/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -o BatchMode=yes -o LogLevel=ERROR",
            self.port,
            self.dir.path().display()
        )
    }

    pub fn ssh(&self) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.ssh_opts().split_whitespace())
            .arg(format!("{}@127.0.0.1", self.user));
        c
    }

    pub fn remote_real(&self, logical: &str) -> PathBuf {
        self.dir
            .path()
            .join("remote")
            .join(logical.trim_start_matches('/'))
    }

    /// A CppNix command with its own store at `local` and NIX_SSHOPTS for this server.
    pub fn cpp(&self, bin: &str, local: &Path) -> Command {
        let mut c = Command::new(bin);
        c.env("NIX_SSHOPTS", self.ssh_opts())
            .env_remove("NIX_REMOTE")
            .env("NIX_STATE_DIR", local.join("state"))
            .env("NIX_CONF_DIR", local.join("conf"))
            .env("HOME", local.join("home"))
            .arg("--store")
            .arg(local.join("store"));
        c
    }
}
