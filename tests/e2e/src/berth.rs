//! Berth as a user runs it, for end-to-end tests: the real `berth` binary with its own HOME and
//! XDG directories (so tests never collide), the stock `docker` CLI through the `berth`
//! context, and test images made from the host's static busybox.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::image_dir;

/// The `berth` binary, built beside the test executable by `installer/berth-test`.
pub fn berth_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    // Integration tests live in target/<profile>/deps, binaries in target/<profile>.
    let bin = [dir.join("berth"), dir.join("../berth")]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "berth is missing beside {}: build it with cargo build -p berth-cli",
                exe.display()
            )
        });
    bin
}

/// One user's Berth: a private home, stopped (and anything left killed) on drop.
pub struct Berth {
    /// The private home (HOME and the XDG directories live inside).
    pub home: tempfile::TempDir,
}

impl Default for Berth {
    fn default() -> Self {
        Self::new()
    }
}

impl Berth {
    /// A fresh home.
    pub fn new() -> Berth {
        Berth {
            home: tempfile::tempdir().expect("home"),
        }
    }

    /// `program` with this home's environment.
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

    /// The supervisor's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("state/berth/berth.log")).unwrap_or_default()
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

    /// Writes `settings.json` (before [`Berth::start`]).
    pub fn settings(&self, json: &str) {
        let path = self.home.path().join("config/berth/settings.json");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("config dir");
        std::fs::write(path, json).expect("settings");
    }

    /// `berth start`, which returns once the engine answers.
    pub fn start(&self) {
        std::fs::create_dir_all(self.home.path().join("run")).expect("runtime dir");
        let image = image_dir();
        let image = image.to_str().expect("utf-8 image path");
        let (ok, _, stderr) = self.berth(&["start", "--disk", "8", "--image", image]);
        assert!(ok, "berth start failed:\n{stderr}");
    }

    /// `berth stop`.
    pub fn stop(&self) {
        let (ok, stdout, stderr) = self.berth(&["stop"]);
        assert!(ok, "berth stop: {stdout}{stderr}");
    }

    /// Runs `berth shell` with `script` on stdin; returns its output.
    pub fn shell(&self, script: &str) -> String {
        let mut child = self
            .cmd(berth_binary())
            .arg("shell")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("berth shell");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("berth shell");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker --context berth ARGS` with optional stdin; returns (success, stdout, stderr).
    pub fn try_docker(&self, args: &[&str], stdin: Option<&[u8]>) -> (bool, String, String) {
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
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `docker --context berth ARGS`, which must succeed; returns its stdout.
    pub fn docker(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let (ok, stdout, stderr) = self.try_docker(args, stdin);
        assert!(ok, "docker {args:?}: {stderr}\n{stdout}");
        stdout
    }
}

impl Drop for Berth {
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

/// The size of `/www/big.bin` in [`test_rootfs`].
pub const BIG_FILE_LEN: usize = 1 << 20;

/// A root filesystem tarball for test images: Debian's static busybox with its applets, a page
/// and a [`BIG_FILE_LEN`]-byte file for `httpd` in `/www`, and each of `programs` at `/PROGRAM-NAME` with the shared libraries
/// `ldd` lists for it.
pub fn test_rootfs(programs: &[&Path]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static is installed on the host (apt-get install busybox-static)");
    std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    for applet in [
        "sh", "echo", "cat", "httpd", "nc", "nslookup", "wget", "sleep", "dd",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet");
    }
    std::fs::create_dir_all(root.join("www")).expect("www");
    std::fs::write(root.join("www/index.html"), "hello from berth\n").expect("page");
    // Larger than one vsock packet, to catch transfers that stall.
    let big: Vec<u8> = (0..BIG_FILE_LEN).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("www/big.bin"), big).expect("big file");
    for program in programs {
        let name = program.file_name().expect("file name");
        std::fs::copy(program, root.join(name)).expect("copy program");
        let out = Command::new("ldd").arg(program).output().expect("ldd");
        for lib in String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            let dest = root.join(lib.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().expect("dir")).expect("lib dir");
            std::fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copy {lib}: {e}"));
        }
    }
    let out = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .output()
        .expect("tar");
    assert!(out.status.success());
    out.stdout
}
