//! Berth as a user runs it: `berth start` returns once the engine answers, `berth status`
//! reports it, the stock `docker` CLI works through the `berth` context (import, run, run with
//! stdin), the default socket opt-in works (`docker.from_env()` with no DOCKER_HOST; another
//! engine's socket left alone), a `kill -9` of QEMU is reported and `berth start` recovers
//! with the image intact, and `berth stop` leaves no process or socket behind; as root, a start
//! is refused unless asked for.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_e2e::berth::{berth_binary, busybox_rootfs, Env, APPLETS};
use berth_e2e::image_dir;

/// Removes the default socket's link to `own` when dropped (a failed test leaves none).
struct DefaultLink<'a> {
    path: &'a Path,
    own: &'a Path,
}

impl Drop for DefaultLink<'_> {
    fn drop(&mut self) {
        if std::fs::read_link(self.path).is_ok_and(|target| target == self.own) {
            let _ = std::fs::remove_file(self.path);
        }
    }
}

/// `berth default-socket`: another engine's socket is refused and left alone; where the real
/// `/var/run/docker.sock` is free, `enable` links it to Berth's socket, the Python SDK's
/// `docker.from_env()` reaches Berth's engine with no DOCKER_HOST, and `disable` removes the
/// link.
fn default_socket(env: &Env, socket: &Path) {
    let berth = |args: &[&str], path: Option<&Path>| {
        let mut cmd = env.cmd(berth_binary());
        cmd.args(args);
        match path {
            Some(path) => cmd.env("BERTH_DEFAULT_SOCKET", path),
            None => cmd.env_remove("BERTH_DEFAULT_SOCKET"),
        };
        let out = cmd.output().expect("berth default-socket");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let foreign = dir.path().join("docker.sock");
    let _other_engine = std::os::unix::net::UnixListener::bind(&foreign).expect("other engine");
    let (ok, said) = berth(&["default-socket", "enable"], Some(&foreign));
    assert!(!ok, "another engine's socket was taken: {said}");
    assert!(
        said.contains(&format!(
            "{} is served by another engine",
            foreign.display()
        )) && said.contains("berth env"),
        "the refusal must name the socket and what to do: {said}"
    );
    let meta = std::fs::symlink_metadata(&foreign).expect("left there");
    assert!(
        meta.file_type().is_socket(),
        "the other engine's socket is left alone"
    );
    let (ok, said) = berth(&["default-socket", "disable"], Some(&foreign));
    assert!(
        !ok && foreign.exists(),
        "disable removed another engine's socket: {said}"
    );

    let real = Path::new("/var/run/docker.sock");
    if std::fs::symlink_metadata(real).is_ok() {
        eprintln!(
            "{} exists on this machine: its enable step is not tried",
            real.display()
        );
        return;
    }
    let _link = DefaultLink {
        path: real,
        own: socket,
    };
    let (ok, said) = berth(&["default-socket", "enable"], None);
    assert!(ok, "berth default-socket enable: {said}");
    assert_eq!(std::fs::read_link(real).expect("a link"), socket);
    let (ok, said) = berth(&["default-socket", "status"], None);
    assert!(ok && said.contains("a link to Berth's socket"), "{said}");
    let sdk = env
        .cmd("/usr/bin/python3")
        .arg("-c")
        .arg("import docker; print(docker.from_env().version()['Version'])")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .output()
        .expect("python3 with the docker SDK");
    assert!(
        sdk.status.success(),
        "docker.from_env() with the default socket: {}",
        String::from_utf8_lossy(&sdk.stderr)
    );
    assert!(
        String::from_utf8_lossy(&sdk.stdout).starts_with("26."),
        "the engine's version: {}",
        String::from_utf8_lossy(&sdk.stdout)
    );
    let (ok, said) = berth(&["default-socket", "disable"], None);
    assert!(ok, "berth default-socket disable: {said}");
    assert!(
        std::fs::symlink_metadata(real).is_err(),
        "the link is removed"
    );
}

#[test]
fn berth_lifecycle_with_the_docker_cli_a_qemu_crash_and_recovery() {
    let env = Env::new();
    // As root (CI), a start without BERTH_ALLOW_ROOT is refused with the reason and the fix.
    if nix::unistd::geteuid().is_root() {
        let image = image_dir();
        let out = env
            .cmd(berth_binary())
            .args(["start", "--image", image.to_str().expect("utf-8")])
            .env_remove("BERTH_ALLOW_ROOT")
            .stdin(Stdio::null())
            .output()
            .expect("berth");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success()
                && said.contains("as root")
                && said.contains("BERTH_ALLOW_ROOT=1"),
            "a start as root was not refused: {said}"
        );
    }
    env.start();

    let status = env.status();
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["guest"]["engine"]["type"], "ready", "{status}");
    let (ok, stdout, _) = env.berth(&["start", "--image", "/nonexistent"]);
    assert!(
        ok && stdout.contains("already running"),
        "a second start must not start another VM"
    );

    let (ok, stdout, _) = env.berth(&["logs", "console"]);
    assert!(
        ok && stdout.contains("berth-agent: ready"),
        "console log: {stdout}"
    );
    let (ok, stdout, _) = env.berth(&["logs", "engine", "-n", "5"]);
    assert!(ok && stdout.lines().count() == 5, "engine log: {stdout}");
    let (ok, stdout, stderr) = env.berth(&["doctor"]);
    assert!(ok, "doctor: {stdout}{stderr}");
    assert!(
        stdout.contains("ok    engine socket:") && stdout.contains("(0600, directory 0700)"),
        "{stdout}"
    );

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
        Some(&busybox_rootfs(APPLETS, &[])),
    );
    let hi = env.docker(&["run", "--rm", "berth-test/busybox:1", "echo", "hi"], None);
    assert_eq!(hi, "hi\n");
    // Attached with stdin: the input's EOF must reach the container and its output come back.
    let echoed = env.docker(
        &["run", "-i", "--rm", "berth-test/busybox:1", "cat"],
        Some(b"through stdin\n"),
    );
    assert_eq!(echoed, "through stdin\n");
    // `docker top` runs `ps` in the VM.
    let id = env.docker(&["run", "-d", "berth-test/busybox:1", "sleep", "300"], None);
    let top = env.docker(&["top", id.trim()], None);
    assert!(top.contains("sleep 300"), "docker top: {top}");
    env.docker(&["rm", "-f", id.trim()], None);
    // The Python SDK takes a container's output from its log, which only some drivers keep.
    // Debian's Python, which has Debian's `python3-docker` (another `python3` may come first
    // on PATH).
    let sdk = env
        .cmd("/usr/bin/python3")
        .arg("-c")
        .arg(
            "import docker, sys\n\
             c = docker.DockerClient(base_url='unix://' + sys.argv[1])\n\
             print(repr(c.containers.run('berth-test/busybox:1', ['echo', 'hi'], remove=True)))",
        )
        .arg(&socket)
        .output()
        .expect("python3 with the docker SDK");
    assert!(
        sdk.status.success(),
        "the Python SDK failed: {}",
        String::from_utf8_lossy(&sdk.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&sdk.stdout).trim(), r"b'hi\n'");
    // Tools that ignore contexts: DOCKER_HOST from `berth env`, as a shell reads it.
    let via_env = env
        .cmd("sh")
        .arg("-c")
        .arg(r#"eval "$("$0" env --shell sh)" && echo "$DOCKER_HOST" && docker version --format '{{.Server.Version}}'"#)
        .arg(berth_binary())
        .env_remove("DOCKER_CONTEXT")
        .output()
        .expect("sh");
    let said = String::from_utf8_lossy(&via_env.stdout);
    assert!(
        via_env.status.success(),
        "berth env: {said} {}",
        String::from_utf8_lossy(&via_env.stderr)
    );
    assert!(
        said.starts_with(&format!("unix://{}\n", socket.display())),
        "berth env: {said}"
    );
    assert_eq!(said.lines().nth(1), version.lines().next());

    default_socket(&env, &socket);

    // A root shell in the guest, scripted on stdin.
    let (ok, out) = env.berth_input(
        &["shell"],
        b"echo from-$(id -u)-in-$(hostname)\ncat /proc/1/comm\n",
    );
    assert!(ok, "berth shell failed: {out}");
    assert!(
        out.contains("from-0-in-berth") && out.contains("init"),
        "shell output: {out}"
    );

    // dockerd killed inside the guest: the agent restarts it and the engine comes back.
    let (ok, out) = env.berth_input(
        &["shell"],
        b"kill -9 \"$(cat /run/docker.pid)\" && echo killed\n",
    );
    assert!(ok && out.contains("killed"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, log, _) = env.berth(&["logs", "agent"]);
        let status = env.status();
        if log.contains("dockerd killed by signal 9")
            && status["guest"]["engine"]["type"] == "ready"
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the engine did not come back: {status}\n{log}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let version = env.docker(&["version", "--format", "{{.Server.Version}}"], None);
    assert!(
        version.trim().starts_with("26."),
        "engine after restart: {version:?}"
    );

    // QEMU killed underneath Berth: status reports the crash, start recovers, data intact.
    let qemu = env
        .leftovers()
        .lines()
        .find(|l| l.contains("qemu-system"))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_owned())
        .expect("QEMU runs");
    assert!(Command::new("kill")
        .args(["-9", &qemu])
        .status()
        .expect("kill")
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let crashed = loop {
        let status = env.status();
        if status["state"] == "error" {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the crash was not reported: {status}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        crashed["error"]
            .as_str()
            .unwrap_or_default()
            .contains("ended unexpectedly"),
        "{crashed}"
    );
    let left = env.leftovers();
    assert!(left.is_empty(), "after the crash, left behind: {left}");

    env.start();
    let images = env.docker(
        &["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        None,
    );
    assert!(
        images.lines().any(|l| l == "berth-test/busybox:1"),
        "image lost across the crash: {images}"
    );

    // `berth stop` stops running containers as `docker stop` would, with their stop timeout,
    // before the power-off: one that exits on SIGTERM runs its handler, one whose PID 1 ignores
    // it (busybox `sleep`) is killed after the default 10 s. Neither is left "exited (255)"
    // with a running count that still counts it.
    env.docker(
        &[
            "run",
            "-d",
            "--name",
            "graceful",
            "-v",
            "graceful:/v",
            "berth-test/busybox:1",
            "sh",
            "-c",
            "trap 'echo stopped > /v/marker; exit 0' TERM; while :; do sleep 1; done",
        ],
        None,
    );
    env.docker(
        &[
            "run",
            "-d",
            "--name",
            "stubborn",
            "--stop-timeout",
            "20",
            "berth-test/busybox:1",
            "sleep",
            "3600",
        ],
        None,
    );
    env.stop();
    env.start();
    let exits = env.docker(
        &[
            "inspect",
            "-f",
            "{{.Name}} {{.State.Status}} {{.State.ExitCode}}",
            "graceful",
            "stubborn",
        ],
        None,
    );
    assert_eq!(
        exits, "/graceful exited 0\n/stubborn exited 137\n",
        "after berth stop"
    );
    let marker = env.docker(
        &[
            "run",
            "--rm",
            "-v",
            "graceful:/v",
            "berth-test/busybox:1",
            "cat",
            "/v/marker",
        ],
        None,
    );
    assert_eq!(marker, "stopped\n", "the SIGTERM handler did not run");
    let running = env.docker(&["info", "-f", "{{.ContainersRunning}}"], None);
    assert_eq!(running.trim(), "0", "running count after berth stop");
    env.docker(&["rm", "graceful", "stubborn"], None);
    env.stop();
    let (ok, stdout, _) = env.berth(&["stop"]);
    assert!(ok && stdout.contains("not running"));

    let disk = env.home.join("data/berth/data.qcow2");
    assert!(disk.exists());
    let (ok, _, stderr) = env.berth(&["reset"]);
    assert!(
        !ok && stderr.contains("not confirmed"),
        "reset without confirmation: {stderr}"
    );
    assert!(disk.exists(), "an unconfirmed reset deleted the data disk");
    let (ok, stdout, _) = env.berth(&["reset", "--yes"]);
    assert!(ok && stdout.contains("reset to its defaults"), "{stdout}");
    assert!(!disk.exists());
}

#[test]
fn bad_settings_and_a_missing_qemu_fail_at_once_with_the_fix() {
    let env = Env::new();
    let image = image_dir();
    let image = image.to_str().expect("utf-8 image path");

    let settings = env.home.join("config/berth/settings.json");
    std::fs::create_dir_all(settings.parent().expect("dir")).expect("config dir");
    let broken = r#"{"cpus": 2, "memroy_mib": 2048}"#;
    std::fs::write(&settings, broken).expect("write settings");
    let (ok, _, stderr) = env.berth(&["start", "--image", image]);
    assert!(!ok, "a corrupt settings file must stop the start");
    assert!(
        stderr.contains("memroy_mib"),
        "the error names the field: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&settings).expect("read"),
        broken,
        "the file was overwritten"
    );
    let (ok, stdout, _) = env.berth(&["doctor"]);
    assert!(!ok && stdout.contains("FAIL  settings"), "{stdout}");
    std::fs::remove_file(&settings).expect("remove");

    let started = Instant::now();
    let mut cmd = env.cmd(berth_binary());
    let out = cmd
        .args(["start", "--image", image])
        .env("BERTH_QEMU", "/nonexistent/qemu-system-x86_64")
        .output()
        .expect("berth");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("apt-get install qemu-system-x86"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "must fail at once"
    );
    assert!(env.leftovers().is_empty());
}

#[test]
fn ctrl_c_in_the_foreground_powers_off_cleanly() {
    use std::os::unix::process::CommandExt;

    let env = Env::new();
    std::fs::create_dir_all(env.home.join("run")).expect("runtime dir");
    let mut child = env
        .cmd(berth_binary())
        .args(["start", "--foreground", "--disk", "8", "--image"])
        .arg(image_dir())
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("berth start --foreground");
    let deadline = Instant::now() + Duration::from_secs(300);
    while env.status()["state"] != "running" {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "berth exited early"
        );
        assert!(Instant::now() < deadline, "the engine did not become ready");
        std::thread::sleep(Duration::from_millis(500));
    }
    // A terminal's Ctrl-C signals the whole foreground process group.
    let group = format!("-{}", child.id());
    assert!(Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .expect("kill")
        .success());
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "berth did not stop after Ctrl-C");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "berth exited with {status}");
    let console = std::fs::read_to_string(env.home.join("run/berth/console.log")).expect("console");
    assert!(
        console.contains("engine stopped") && console.contains("reboot: Power down"),
        "not a clean power-off:\n{console}"
    );
    assert!(
        env.leftovers().is_empty(),
        "left behind: {}",
        env.leftovers()
    );
}
