//! The resource saver on a real VM, with a quiet time of a few seconds: the VM pauses by
//! itself (QEMU's process stopped, `paused` in `berth status`), `docker ps` resumes it and
//! answers; an open `docker events` does not keep it awake and delivers the events of the
//! command that resumes it; an open `berth shell` keeps it awake;
//! a running container keeps it awake, also one started just as the pause could come, and is
//! never frozen; `berth pause` pauses it with the container, whose published port then answers
//! its first request; the guest clock is right after a pause; fifteen pauses in a row leave
//! vsock and a shared folder working; `berth stop` of a paused VM powers it off cleanly.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use berth_e2e::berth::{berth_binary, Env};
use berth_e2e::ports::{free_port, http_get, test_rootfs, wait_for_page};

const IMAGE: &str = "berth-test/saver:1";
/// The quiet time the test sets.
const QUIET: u64 = 3;
/// How long a pause or a resume may take to show (the saver looks every second).
const SHOW: Duration = Duration::from_secs(30);

/// QEMU's process state for this environment: `paused` when it is stopped (the resource
/// saver stops the process), else `running`.
fn qemu_status(env: &Env) -> String {
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("qemu-system.*{}", env.home.display())])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::trim)
        .map(str::to_owned)
        .expect("QEMU runs");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("QEMU's stat");
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_ascii_whitespace().next())
        .expect("state");
    if state == "T" { "paused" } else { "running" }.to_owned()
}

/// Waits until `berth status` says `state`; how long it took.
fn wait_state(env: &Env, state: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let now = env.status();
        if now["state"] == state {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not {state} within {limit:?}: {now}\n{}",
            env.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asserts the VM stays awake for `span` (more than the quiet time).
fn stays_awake(env: &Env, span: Duration, why: &str) {
    let started = Instant::now();
    while started.elapsed() < span {
        assert_eq!(env.status()["state"], "running", "paused although {why}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(qemu_status(env), "running", "{why}");
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_idle_vm_pauses_and_whatever_needs_it_resumes_it() {
    let env = Env::new();
    env.write_settings(&serde_json::json!({ "resource_saver_seconds": QUIET }));
    env.start();
    env.docker(&["import", "-", IMAGE], Some(&test_rootfs(&[])));

    // Quiet: it pauses by itself, and QEMU's vCPUs are stopped.
    let took = wait_state(&env, "paused", SHOW);
    eprintln!("paused {took:?} after the last use");
    assert_eq!(qemu_status(&env), "paused");
    let status = env.status();
    assert!(
        status["phase"]
            .as_str()
            .is_some_and(|p| p.contains("paused to save power")),
        "{status}"
    );

    // `docker ps` from another terminal: held, not refused, and answered.
    let asked = Instant::now();
    env.docker(&["ps"], None);
    eprintln!("docker ps on a paused VM answered in {:?}", asked.elapsed());
    assert_eq!(qemu_status(&env), "running");
    wait_state(&env, "running", SHOW);

    // An open `docker events` only watches: the VM pauses under it, and the stream, still
    // open, delivers the events of the command that resumes it.
    wait_state(&env, "paused", SHOW);
    let mut events = KillOnDrop(
        env.cmd("docker")
            .args([
                "--context",
                "berth",
                "events",
                "--format",
                "{{.Type}} {{.Action}}",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker events"),
    );
    let (seen_tx, seen) = std::sync::mpsc::channel::<String>();
    let stdout = events.0.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if seen_tx.send(line).is_err() {
                return;
            }
        }
    });
    // Its own `/_ping` woke the VM; the stream itself lets it pause again.
    wait_state(&env, "paused", SHOW);
    env.docker(&["volume", "create", "woken"], None);
    let event = seen
        .recv_timeout(SHOW)
        .expect("the open event stream delivered the volume's event");
    assert_eq!(event, "volume create");
    drop(events);

    // An open `berth shell` keeps it awake.
    let mut shell = KillOnDrop(
        env.cmd(berth_binary())
            .arg("shell")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("berth shell"),
    );
    let mut stdin = shell.0.stdin.take().expect("stdin");
    writeln!(stdin, "echo shell-is-open").expect("write");
    let mut out = BufReader::new(shell.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("shell output");
    assert_eq!(line.trim(), "shell-is-open");
    stays_awake(
        &env,
        Duration::from_secs(3 * QUIET),
        "`berth shell` is open",
    );
    writeln!(stdin, "exit").expect("exit");
    drop(stdin);
    assert!(shell.0.wait().expect("wait").success());

    // A container started just as the pause could come keeps the VM awake and runs: tried
    // at several points around the quiet time.
    for (n, offset_ms) in [0u64, 500, 900, 1200].into_iter().enumerate() {
        wait_state(&env, "paused", SHOW);
        env.docker(&["ps"], None);
        std::thread::sleep(Duration::from_millis(QUIET * 1000 - 1000 + offset_ms));
        let name = format!("racer{n}");
        env.docker(&["run", "-d", "--name", &name, IMAGE, "sleep", "600"], None);
        let state = env.docker(&["inspect", "-f", "{{.State.Status}}", &name], None);
        assert_eq!(state.trim(), "running");
        stays_awake(
            &env,
            Duration::from_secs(2 * QUIET),
            "a container runs (started near the pause)",
        );
        let answer = env.docker(&["exec", &name, "echo", "alive"], None);
        assert_eq!(answer.trim(), "alive", "the container is not frozen");
        env.docker(&["rm", "-f", &name], None);
    }

    // `berth pause` pauses with a container running; its published port's first request
    // resumes the VM and is answered.
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.docker(
        &[
            "run", "-d", "--name", "web", "-p", &publish, IMAGE, "httpd", "-f", "-p", "80", "-h",
            "/www",
        ],
        None,
    );
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_page(addr, SHOW);
    env.pause_now();
    assert_eq!(env.status()["state"], "paused");
    assert_eq!(qemu_status(&env), "paused");
    let asked = Instant::now();
    let page = http_get(addr).expect("the first request to a paused VM's port");
    eprintln!(
        "a published port of a paused VM answered in {:?}",
        asked.elapsed()
    );
    assert!(page.contains("hello from berth"), "{page}");
    wait_state(&env, "running", SHOW);
    env.docker(&["rm", "-f", "web"], None);

    // After a pause of a while, the guest's clock is the host's again.
    wait_state(&env, "paused", SHOW);
    std::thread::sleep(Duration::from_secs(8));
    let guest = env.docker(&["run", "--rm", IMAGE, "busybox", "date", "+%s"], None);
    let guest: u64 = guest.trim().parse().expect("seconds");
    let host = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        host.abs_diff(guest) <= 3,
        "the guest clock is {guest}, the host's {host}"
    );

    // Many pauses in a row leave vsock and the shared folders working (QMP's stop/cont broke
    // vhost-device-vsock after a few cycles; stopping the process does not).
    let shared = tempfile::tempdir_in("/tmp").expect("a folder in the shared /tmp");
    std::fs::write(shared.path().join("note"), "from the host\n").expect("write");
    for cycle in 0..15 {
        env.pause_now();
        let answer = env.docker(&["version", "--format", "{{.Server.Os}}"], None);
        assert_eq!(answer.trim(), "linux", "cycle {cycle}");
    }
    let bind = format!("{}:/w", shared.path().display());
    let read = env.docker(&["run", "--rm", "-v", &bind, IMAGE, "cat", "/w/note"], None);
    assert_eq!(read, "from the host\n");

    // `berth stop` of a paused VM: resumed, then powered off cleanly.
    wait_state(&env, "paused", SHOW);
    let asked = Instant::now();
    env.stop();
    assert!(
        asked.elapsed() < Duration::from_secs(50),
        "stopping a paused VM took {:?} (forced off?)",
        asked.elapsed()
    );
    assert!(
        env.log().contains("resuming the paused VM to power it off"),
        "{}",
        env.log()
    );
}
