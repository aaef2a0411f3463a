//! Driving the real `berth` binary and the stock `docker` CLI as a user does, each test in an
//! environment of its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::image_dir;

/// The `berth` binary, built beside this test (in the profile directory above `deps/`) by
/// `installer/berth-test`, or beside this benchmark binary.
pub fn berth_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("target dir");
    let bin = [dir.join("berth"), dir.parent().unwrap_or(dir).join("berth")]
        .into_iter()
        .find(|bin| bin.is_file())
        .unwrap_or_else(|| dir.join("berth"));
    assert!(
        bin.is_file(),
        "{} is missing: build it with cargo build -p berth-cli",
        bin.display()
    );
    bin
}

/// Another user to run Berth as (through `setpriv`), for tests of an unprivileged Berth.
#[derive(Debug, Clone)]
pub struct RunAs {
    /// The user and group id.
    pub id: u32,
    /// `PATH` for that user (the helpers must be reachable by it).
    pub path: String,
}

/// A user's environment of its own (home, runtime, data, config, state and docker config
/// directories), so tests never touch each other's or the machine's Berth.
pub struct Env {
    /// The home directory; everything else lives under it.
    pub home: PathBuf,
    /// Removes a home this environment created when it is dropped.
    _guard: Option<tempfile::TempDir>,
    /// Run `berth` and `docker` as this user instead of the test's.
    run_as: Option<RunAs>,
    /// The `berth` binary.
    binary: PathBuf,
}

impl Env {
    /// A fresh environment in a temporary home.
    pub fn new() -> Env {
        let guard = tempfile::tempdir().expect("home");
        Env {
            home: guard.path().to_path_buf(),
            _guard: Some(guard),
            run_as: None,
            binary: berth_binary(),
        }
    }

    /// An environment in `home` (which the caller prepares and removes) that runs `binary`
    /// and the `docker` CLI as another user.
    pub fn as_user(home: PathBuf, binary: PathBuf, run_as: RunAs) -> Env {
        Env {
            home,
            _guard: None,
            run_as: Some(run_as),
            binary,
        }
    }

    /// A command run in this environment, as its user.
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
            .env("DOCKER_CONFIG", home.join("docker"))
            // The tests run as root on CI machines; Berth refuses root unless told.
            .env("BERTH_ALLOW_ROOT", "1");
        cmd
    }

    /// The engine socket Berth serves for this environment.
    pub fn socket(&self) -> PathBuf {
        self.home.join("run/berth/docker.sock")
    }

    /// Writes `settings.json`.
    pub fn write_settings(&self, settings: &serde_json::Value) {
        let path = self.home.join("config/berth/settings.json");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("config dir");
        std::fs::write(&path, settings.to_string()).expect("settings");
    }

    /// Runs `berth ARGS` to completion; returns (success, stdout, stderr).
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

    /// Runs `berth ARGS` with `input` on stdin; returns (success, stdout).
    pub fn berth_input(&self, args: &[&str], input: &[u8]) -> (bool, String) {
        let mut child = self
            .cmd(&self.binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("berth");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write");
        let out = child.wait_with_output().expect("berth");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// `berth start` with the image under test, which returns once the engine answers.
    pub fn start(&self) -> String {
        self.start_image(&image_dir())
    }

    /// `berth start` with `image`.
    pub fn start_image(&self, image: &Path) -> String {
        let run = self.home.join("run");
        std::fs::create_dir_all(&run).expect("runtime dir");
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(&run, Some(user.id), Some(user.id)).expect("chown run");
        }
        let image = image.to_str().expect("utf-8 image path");
        let (ok, _, stderr) = self.berth(&["start", "--disk", "8", "--image", image]);
        assert!(ok, "berth start failed:\n{stderr}");
        assert!(stderr.contains("engine ready"), "{stderr}");
        stderr
    }

    /// `berth status --json`.
    pub fn status(&self) -> serde_json::Value {
        let (ok, stdout, _) = self.berth(&["status", "--json"]);
        assert!(ok, "berth status failed");
        serde_json::from_str(&stdout).expect("status JSON")
    }

    /// Processes started for this test's home (QEMU, vhost-device-vsock, the supervisor).
    pub fn leftovers(&self) -> String {
        let out = Command::new("pgrep")
            .arg("-af")
            .arg(&self.home)
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker --context berth ARGS`, with `stdin` if given; panics unless it succeeds.
    pub fn docker(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.docker_output(args, stdin);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "docker {args:?}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `docker --context berth ARGS`, with `stdin` if given, whatever its outcome.
    pub fn docker_output(&self, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
        let mut child = self
            .cmd("docker")
            .arg("--context")
            .arg("berth")
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
        child.wait_with_output().expect("docker")
    }

    /// `berth stop`, then checks nothing it started is left.
    pub fn stop(&self) {
        let (ok, stdout, stderr) = self.berth(&["stop"]);
        assert!(
            ok && stdout.contains("Berth stopped"),
            "berth stop: {stdout}{stderr}"
        );
        let left = self.leftovers();
        assert!(left.is_empty(), "processes left behind: {left}");
        assert!(!self.socket().exists(), "the engine socket was not removed");
        assert_eq!(self.status()["state"], "stopped");
    }
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Drop for Env {
    /// A failed test shows the supervisor's, the guest console's and the vsock device's logs,
    /// and must not leave a VM running.
    fn drop(&mut self) {
        if std::thread::panicking() {
            for log in [
                "state/berth/berth.log",
                "run/berth/console.log",
                "run/berth/vhost-device-vsock.log",
            ] {
                let log = self.home.join(log);
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                eprintln!("--- {} (last lines) ---", log.display());
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
        let _ = Command::new("pkill")
            .arg("-KILL")
            .arg("-f")
            .arg(&self.home)
            .status();
    }
}

/// The commands of [`busybox_rootfs`] most tests need.
pub const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "tty", "stty", "sleep", "ls", "dd", "true",
];

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

/// A root filesystem tarball with Debian's static busybox and `applets` linked to it, plus the
/// static `binaries` in `/bin`.
pub fn busybox_rootfs(applets: &[&str], binaries: &[PathBuf]) -> Vec<u8> {
    let dir = busybox_tree(applets);
    let bin = dir.path().join("bin");
    for binary in binaries {
        let name = binary.file_name().expect("binary name");
        std::fs::copy(binary, bin.join(name)).expect("copy binary");
    }
    tar_of(dir.path())
}

/// A directory holding a root filesystem: Debian's static busybox as `/bin/busybox` with
/// `applets` linked to it. Callers add files, then [`tar_of`] it.
pub fn busybox_tree(applets: &[&str]) -> tempfile::TempDir {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static is installed on the host (apt-get install busybox-static)");
    busybox_tree_with(Path::new(busybox), applets)
}

/// [`busybox_tree`] with another static `busybox` (another CPU's, say).
pub fn busybox_tree_with(busybox: &Path, applets: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    for applet in applets {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet");
    }
    dir
}

/// `root` as an uncompressed tarball, for `docker import`.
pub fn tar_of(root: &Path) -> Vec<u8> {
    let out = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .output()
        .expect("tar");
    assert!(out.status.success(), "tar of {} failed", root.display());
    out.stdout
}
