//! Driving the real `berth` binary and the stock `docker` CLI as a user does, each test in an
//! environment of its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::image_dir;

/// The `berth` binary, built beside this test by `installer/berth-test`.
pub fn berth_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("berth");
    assert!(
        bin.is_file(),
        "{} is missing: build it with cargo build -p berth-cli",
        bin.display()
    );
    bin
}

/// A user's environment of its own (home, runtime, data, config, state and docker config
/// directories), so tests never touch each other's or the machine's Berth.
pub struct Env {
    /// The home directory; everything else lives under it.
    pub home: tempfile::TempDir,
}

impl Env {
    /// A fresh environment in a temporary home.
    pub fn new() -> Env {
        Env {
            home: tempfile::tempdir().expect("home"),
        }
    }

    /// A command run in this environment.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        let home = self.home.path();
        cmd.env("HOME", home)
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env("DOCKER_CONFIG", home.join("docker"));
        cmd
    }

    /// The engine socket Berth serves for this environment.
    pub fn socket(&self) -> PathBuf {
        self.home.path().join("run/berth/docker.sock")
    }

    /// Runs `berth ARGS` to completion; returns (success, stdout, stderr).
    pub fn berth(&self, args: &[&str]) -> (bool, String, String) {
        let out = self
            .cmd(berth_binary())
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
            .cmd(berth_binary())
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

    /// `berth start`, which returns once the engine answers.
    pub fn start(&self) -> String {
        std::fs::create_dir_all(self.home.path().join("run")).expect("runtime dir");
        let image = image_dir();
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
        let home = self.home.path().to_string_lossy().into_owned();
        let out = Command::new("pgrep")
            .arg("-af")
            .arg(&home)
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker --context berth ARGS`, with `stdin` if given; panics unless it succeeds.
    pub fn docker(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
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
        let out = child.wait_with_output().expect("docker");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "docker {args:?}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
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
    /// A failed test must not leave a VM running.
    fn drop(&mut self) {
        let home = self.home.path().to_string_lossy().into_owned();
        let _ = Command::new("pkill")
            .arg("-KILL")
            .arg("-f")
            .arg(&home)
            .status();
    }
}

/// A root filesystem tarball with Debian's static busybox as sh and a few other commands.
pub fn busybox_rootfs() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static is installed on the host (apt-get install busybox-static)");
    std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    for applet in ["sh", "echo", "cat", "tty", "stty", "sleep", "ls", "dd"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet");
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
