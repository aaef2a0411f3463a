//! Like [`crate::berth::Env`], the real `berth` binary with its own HOME and XDG directories,
//! but also as another (non-root) user through `setpriv`, in a home the caller prepares, with
//! the `docker` CLI pointed at the engine socket directly (another user's docker context is
//! not the test's). Used by the shared-folder tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use crate::berth::berth_binary;

/// Builds the static inotify watcher used inside test containers
/// (`tests/e2e/fixtures/inotify-watch.c`, with musl-gcc from musl-tools) into `dir`.
pub fn inotify_watcher(dir: &Path) -> PathBuf {
    let source = crate::repo_root().join("tests/e2e/fixtures/inotify-watch.c");
    let out = dir.join("inotify-watch");
    let status = Command::new("musl-gcc")
        .args(["-static", "-Os", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("musl-gcc (apt-get install musl-tools)");
    assert!(status.success(), "cannot build {}", source.display());
    out
}

/// Another user to run Berth as.
#[derive(Debug, Clone)]
pub struct RunAs {
    /// The user and group id.
    pub id: u32,
    /// `PATH` for that user (the helpers must be reachable by it).
    pub path: String,
}

/// One Berth installation: a HOME and everything under it.
pub struct BerthEnv {
    /// The home directory (kept until the env is dropped).
    pub home: PathBuf,
    _guard: Option<tempfile::TempDir>,
    /// Run as this user instead of the test's.
    pub run_as: Option<RunAs>,
    /// The `berth` binary.
    pub binary: PathBuf,
}

impl BerthEnv {
    /// A fresh env in a temporary home.
    pub fn new() -> BerthEnv {
        let guard = tempfile::tempdir().expect("home");
        BerthEnv {
            home: guard.path().to_path_buf(),
            _guard: Some(guard),
            run_as: None,
            binary: berth_binary(),
        }
    }

    /// An env in `home` (which the caller owns and removes) run as `run_as`.
    pub fn in_home(home: PathBuf, binary: PathBuf, run_as: RunAs) -> BerthEnv {
        BerthEnv {
            home,
            _guard: None,
            run_as: Some(run_as),
            binary,
        }
    }

    /// A command with this env's HOME and XDG directories, as its user.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new("setpriv");
                let id = user.id.to_string();
                cmd.args(["--reuid", &id, "--regid", &id, "--clear-groups", "--"])
                    .arg(program)
                    .env("PATH", &user.path);
                cmd
            }
            None => Command::new(program),
        };
        let home = &self.home;
        cmd.env("HOME", home)
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("DOCKER_CONFIG", home.join("docker"));
        cmd
    }

    /// The engine socket.
    pub fn socket(&self) -> PathBuf {
        self.home.join("run/berth/docker.sock")
    }

    /// Writes `settings.json`.
    pub fn write_settings(&self, settings: &serde_json::Value) {
        let path = self.home.join("config/berth/settings.json");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("config dir");
        std::fs::write(&path, settings.to_string()).expect("settings");
    }

    /// Runs `berth ARGS`; returns (success, stdout, stderr).
    pub fn berth(&self, args: &[&str]) -> (bool, String, String) {
        let out = self
            .cmd(&self.binary)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("berth");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        eprint!("{stderr}");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        )
    }

    /// `berth start` with `image`, which returns once the engine answers; panics on failure.
    pub fn start(&self, image: &Path) {
        let run = self.home.join("run");
        std::fs::create_dir_all(&run).expect("runtime dir");
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(&run, Some(user.id), Some(user.id)).expect("chown run");
        }
        let image = image.to_str().expect("utf-8 image path");
        let (ok, _, stderr) = self.berth(&["start", "--disk", "8", "--image", image]);
        assert!(ok, "berth start failed:\n{stderr}");
    }

    /// `berth stop`, then checks that nothing it started is left.
    pub fn stop(&self) {
        let (ok, stdout, stderr) = self.berth(&["stop"]);
        assert!(
            ok && stdout.contains("Berth stopped"),
            "berth stop: {stdout}{stderr}"
        );
        let left = self.leftovers();
        assert!(left.is_empty(), "processes left behind: {left}");
    }

    /// Processes whose command line names this home (QEMU, helpers, the supervisor).
    pub fn leftovers(&self) -> String {
        let out = Command::new("pgrep")
            .arg("-af")
            .arg(&self.home)
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `docker ARGS` against this env's engine (as the test's user) and returns stdout;
    /// panics on failure.
    pub fn docker(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let (ok, stdout, stderr) = self.docker_status(args, stdin);
        assert!(ok, "docker {args:?}: {stderr}\n{stdout}");
        stdout
    }

    /// Runs `docker ARGS`; returns (success, stdout, stderr).
    pub fn docker_status(&self, args: &[&str], stdin: Option<&[u8]>) -> (bool, String, String) {
        let host = format!("unix://{}", self.socket().display());
        let mut child = Command::new("docker")
            .env("DOCKER_CONFIG", self.home.join("docker-cli"))
            .args(["-H", &host])
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker CLI");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input).expect("write stdin");
        }
        let out = child.wait_with_output().expect("docker");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Default for BerthEnv {
    fn default() -> Self {
        BerthEnv::new()
    }
}

impl Drop for BerthEnv {
    /// A failed test must not leave a VM running: kill, by pid, what names this home. A
    /// failing test also shows the supervisor's log.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.home.join("state/berth/berth.log");
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("--- {} (last lines) ---", log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        for line in self.leftovers().lines() {
            if let Some(pid) = line.split_whitespace().next() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
    }
}

/// A root filesystem tarball with Debian's static busybox and `applets` linked to it, plus the
/// static `binaries` in `/bin`.
pub fn busybox_rootfs(applets: &[&str], binaries: &[PathBuf]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static is installed on the host (apt-get install busybox-static)");
    std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    for applet in applets {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet");
    }
    for binary in binaries {
        let name = binary.file_name().expect("binary name");
        std::fs::copy(binary, bin.join(name)).expect("copy binary");
    }
    let out = Command::new("tar")
        .arg("-C")
        .arg(dir.path())
        .args(["-c", "."])
        .output()
        .expect("tar");
    assert!(out.status.success());
    out.stdout
}
