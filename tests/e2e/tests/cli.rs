//! The narrow path end to end, as a user runs it: `berth start` boots the VM, the engine comes
//! up, the stock `docker` CLI works through the `berth` context (plain, attached with stdin,
//! image import), `berth` stops on SIGTERM leaving no process behind, and the image survives a
//! restart on the data disk.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_e2e::image_dir;

/// The `berth` binary, built beside this test by `installer/berth-test`.
fn berth_binary() -> PathBuf {
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

struct Env {
    home: tempfile::TempDir,
}

/// A running `berth start`, killed if the test fails before stopping it.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Env {
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
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

    fn socket(&self) -> PathBuf {
        self.home.path().join("run/berth/docker.sock")
    }

    /// Starts `berth start` and waits until it reports the engine ready.
    fn start(&self) -> Running {
        std::fs::create_dir_all(self.home.path().join("run")).expect("runtime dir");
        let mut child = self
            .cmd(berth_binary())
            .args(["start", "--disk", "8", "--image"])
            .arg(image_dir())
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("berth start");
        let stderr = child.stderr.take().expect("stderr");
        let child = Running(Some(child));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("engine ready; socket") => return child,
                Ok(_) => {}
                Err(e) => panic!("berth start did not report the engine ready: {e}"),
            }
        }
    }

    fn docker(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
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

    /// Stops `berth` with SIGTERM and checks nothing it started is left.
    fn stop(&self, mut running: Running) {
        let mut child = running.0.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "berth did not stop within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "berth exited with {status}");
        let home = self.home.path().to_string_lossy().into_owned();
        let left = Command::new("pgrep")
            .arg("-f")
            .arg(&home)
            .output()
            .expect("pgrep");
        assert!(
            left.stdout.is_empty(),
            "processes left behind: {}",
            String::from_utf8_lossy(&left.stdout)
        );
        assert!(!self.socket().exists(), "the engine socket was not removed");
    }
}

/// A root filesystem tarball with Debian's static busybox as sh, echo and cat.
fn busybox_rootfs() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox-static is installed on the host (apt-get install busybox-static)");
    std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    for applet in ["sh", "echo", "cat"] {
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

#[test]
fn docker_cli_works_through_berth_and_images_survive_a_restart() {
    let env = Env {
        home: tempfile::tempdir().expect("home"),
    };
    let berth = env.start();

    let socket = env.socket();
    assert_eq!(
        std::fs::metadata(&socket).expect("socket").mode() & 0o777,
        0o600
    );
    let dir = socket.parent().expect("dir");
    assert_eq!(std::fs::metadata(dir).expect("dir").mode() & 0o777, 0o700);

    let version = env.docker(&["version", "--format", "{{.Server.Version}}"], None);
    assert!(
        version.trim().starts_with("26."),
        "server version {version:?}"
    );

    env.docker(
        &["import", "-", "berth-test/busybox:1"],
        Some(&busybox_rootfs()),
    );
    let hi = env.docker(&["run", "--rm", "berth-test/busybox:1", "echo", "hi"], None);
    assert_eq!(hi, "hi\n");
    // Attached with stdin: the input's EOF must reach the container and its output come back.
    let echoed = env.docker(
        &["run", "-i", "--rm", "berth-test/busybox:1", "cat"],
        Some(b"through stdin\n"),
    );
    assert_eq!(echoed, "through stdin\n");
    env.stop(berth);

    let berth = env.start();
    let images = env.docker(
        &["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        None,
    );
    assert!(
        images.lines().any(|l| l == "berth-test/busybox:1"),
        "image lost across restart: {images}"
    );
    env.stop(berth);
}
